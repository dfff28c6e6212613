//! The BGP finite state machine of one transport connection (RFC 4271 §8),
//! as pure logic: `Connection::step(input) -> outputs`, no sockets, no clock.
//!
//! The session task (`session.rs`) owns the TCP connection, the timers and
//! the codec; it feeds this machine decoded messages and timer expiries and
//! carries out what comes back. The peer-level states before a connection
//! exists (Idle, Connect, Active, with connect-retry and idle hold-down) are
//! the session task's loop; this module starts at OpenSent, the state a
//! connection enters once our OPEN is on the wire (§8.2.2, event 16/17).
//!
//! Also here: the OPEN we send and the checks on the OPEN we receive
//! (§6.2, RFC 5492, RFC 6793, RFC 6286), which produce the `Negotiated`
//! parameters of the session or the NOTIFICATION that refuses it.

use std::net::Ipv4Addr;
use std::time::Duration;

use clos_wire::{
    notification as code, AddPathEntry, Asn, Capability, DecodeError, Decoded, Family, Message,
    Notification, Open, RouteRefresh, SessionCodec, Update, AS_TRANS,
};

/// RFC 4271 §8.2.2: the states. Idle, Connect and Active belong to the peer
/// loop; a `Connection` is only ever in the last three.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum State {
    Idle,
    Connect,
    Active,
    OpenSent,
    OpenConfirm,
    Established,
}

impl State {
    pub fn name(self) -> &'static str {
        match self {
            State::Idle => "Idle",
            State::Connect => "Connect",
            State::Active => "Active",
            State::OpenSent => "OpenSent",
            State::OpenConfirm => "OpenConfirm",
            State::Established => "Established",
        }
    }
}

/// Which remote AS the configuration accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RemoteAsRule {
    Exact(Asn),
    /// Any AS but ours (eBGP, typical for unnumbered fabrics).
    External,
    /// Our own AS (iBGP).
    Internal,
}

/// What we offer in our OPEN and require of the peer's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalParams {
    pub asn: Asn,
    pub router_id: Ipv4Addr,
    /// Proposed hold time in seconds (0 = no keepalives, RFC 4271 §4.2).
    pub hold_time: u16,
    pub remote_as: RemoteAsRule,
    /// Families configured for this neighbor; at least one must be shared.
    pub families: Vec<Family>,
    /// Offer RFC 8950 IPv4 NLRI with IPv6 next hops (unnumbered sessions).
    pub extended_next_hop: bool,
}

impl LocalParams {
    /// The OPEN we send (RFC 4271 §4.2 with capabilities per RFC 5492).
    pub fn open(&self) -> Open {
        let mut capabilities: Vec<Capability> = self
            .families
            .iter()
            .map(|f| {
                let (afi, safi) = f.afi_safi();
                Capability::Multiprotocol { afi, safi }
            })
            .collect();
        capabilities.push(Capability::RouteRefresh);
        capabilities.push(Capability::EnhancedRouteRefresh);
        capabilities.push(Capability::ExtendedMessage);
        capabilities.push(Capability::FourOctetAs(self.asn));
        // Graceful restart with no families (RFC 4724 §3): we preserve no
        // forwarding state for the peer to wait on, but we understand the
        // End-of-RIB marker, so peers send one after their initial table.
        // That is how the kernel FIB knows BGP has converged after a
        // restart (stale routes go then).
        capabilities.push(Capability::GracefulRestart(clos_wire::GracefulRestart {
            restart_state: false,
            notification: false,
            restart_time: 0,
            families: Vec::new(),
        }));
        if self.extended_next_hop && self.families.contains(&Family::Ipv4Unicast) {
            capabilities.push(Capability::ExtendedNextHop(vec![
                clos_wire::ExtendedNextHopEntry {
                    nlri_afi: clos_wire::AFI_IPV4,
                    nlri_safi: clos_wire::SAFI_UNICAST as u16,
                    next_hop_afi: clos_wire::AFI_IPV6,
                },
            ]));
        }
        Open {
            version: 4,
            my_as: u16::try_from(self.asn).unwrap_or(AS_TRANS),
            hold_time: self.hold_time,
            bgp_identifier: self.router_id,
            capabilities,
        }
    }
}

/// The parameters of a session, agreed from both OPENs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Negotiated {
    pub remote_asn: Asn,
    pub remote_id: Ipv4Addr,
    /// min(ours, theirs), RFC 4271 §4.2; 0 = no hold timer.
    pub hold_time: u16,
    /// One third of the hold time (§10), 0 when the hold time is 0.
    pub keepalive: u16,
    pub families: Vec<Family>,
    pub codec: SessionCodec,
    pub route_refresh: bool,
    pub enhanced_route_refresh: bool,
    /// The peer accepts IPv4 NLRI with an IPv6 next hop (RFC 8950).
    pub extended_next_hop_ipv4: bool,
    pub internal: bool,
    pub remote_capabilities: Vec<Capability>,
    pub add_path: Vec<AddPathEntry>,
}

impl Negotiated {
    pub fn hold_duration(&self) -> Option<Duration> {
        (self.hold_time > 0).then(|| Duration::from_secs(self.hold_time as u64))
    }
}

fn open_error(subcode: u8, data: Vec<u8>) -> Notification {
    Notification {
        code: code::OPEN_MESSAGE_ERROR,
        subcode,
        data,
    }
}

/// Check a received OPEN against our parameters (RFC 4271 §6.2).
pub fn check_open(local: &LocalParams, open: &Open) -> Result<Negotiated, Notification> {
    if open.version != 4 {
        return Err(open_error(code::UNSUPPORTED_VERSION_NUMBER, vec![0, 4]));
    }
    let remote_asn = open.asn();
    let four_octet = open
        .capabilities
        .iter()
        .any(|c| matches!(c, Capability::FourOctetAs(_)));
    // RFC 6793 §4.1: a peer that announces a 4-octet ASN must put AS_TRANS
    // (or the same 2-octet value) in My Autonomous System.
    if four_octet && remote_asn > u16::MAX as Asn && open.my_as != AS_TRANS {
        return Err(open_error(
            code::BAD_PEER_AS,
            open.my_as.to_be_bytes().to_vec(),
        ));
    }
    let acceptable = match local.remote_as {
        RemoteAsRule::Exact(asn) => remote_asn == asn,
        RemoteAsRule::External => remote_asn != local.asn,
        RemoteAsRule::Internal => remote_asn == local.asn,
    };
    if !acceptable || remote_asn == 0 {
        return Err(open_error(
            code::BAD_PEER_AS,
            open.my_as.to_be_bytes().to_vec(),
        ));
    }
    if open.hold_time == 1 || open.hold_time == 2 {
        return Err(open_error(code::UNACCEPTABLE_HOLD_TIME, vec![]));
    }
    let internal = remote_asn == local.asn;
    // RFC 6286 §2.2: the identifier must be non-zero, and differ from ours
    // within one AS.
    if open.bgp_identifier == Ipv4Addr::UNSPECIFIED
        || (internal && open.bgp_identifier == local.router_id)
    {
        return Err(open_error(
            code::BAD_BGP_IDENTIFIER,
            open.bgp_identifier.octets().to_vec(),
        ));
    }

    let mut offered: Vec<Family> = Vec::new();
    let mut any_mp = false;
    let mut route_refresh = false;
    let mut enhanced = false;
    let mut extended_message = false;
    let mut ext_nh = false;
    let mut add_path = Vec::new();
    for c in &open.capabilities {
        match c {
            Capability::Multiprotocol { afi, safi } => {
                any_mp = true;
                if let Some(f) = Family::from_afi_safi(*afi, *safi) {
                    offered.push(f);
                }
            }
            Capability::RouteRefresh => route_refresh = true,
            Capability::EnhancedRouteRefresh => enhanced = true,
            Capability::ExtendedMessage => extended_message = true,
            Capability::ExtendedNextHop(entries) => {
                ext_nh |= entries.iter().any(|e| {
                    e.nlri_afi == clos_wire::AFI_IPV4
                        && e.nlri_safi == clos_wire::SAFI_UNICAST as u16
                        && e.next_hop_afi == clos_wire::AFI_IPV6
                })
            }
            Capability::AddPath(entries) => add_path.extend(entries.iter().copied()),
            _ => {}
        }
    }
    // RFC 4760 §8: a speaker without the MP capability carries IPv4 unicast.
    if !any_mp {
        offered.push(Family::Ipv4Unicast);
    }
    let families: Vec<Family> = local
        .families
        .iter()
        .copied()
        .filter(|f| offered.contains(f))
        .collect();
    if families.is_empty() {
        // RFC 5492 §3: Unsupported Capability, data = the capabilities we need.
        let mut data = Vec::new();
        for f in &local.families {
            let (afi, safi) = f.afi_safi();
            data.extend_from_slice(&[1, 4]);
            data.extend_from_slice(&afi.to_be_bytes());
            data.extend_from_slice(&[0, safi]);
        }
        return Err(open_error(code::UNSUPPORTED_CAPABILITY, data));
    }
    let hold_time = local.hold_time.min(open.hold_time);
    Ok(Negotiated {
        remote_asn,
        remote_id: open.bgp_identifier,
        hold_time,
        keepalive: hold_time / 3,
        families,
        codec: SessionCodec {
            four_octet_as: four_octet,
            extended_message,
            extended_next_hop_ipv4: ext_nh && local.extended_next_hop,
        },
        route_refresh: route_refresh || enhanced,
        enhanced_route_refresh: enhanced,
        extended_next_hop_ipv4: ext_nh && local.extended_next_hop,
        internal,
        remote_capabilities: open.capabilities.clone(),
        add_path,
    })
}

/// What happens to a connection (§8.1 events, after the TCP handshake).
// Messages are moved, not boxed: one allocation fewer per UPDATE.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    /// A message decoded from the wire, with any RFC 7606 issues.
    Message(Decoded),
    /// The codec refused a message: header, OPEN or UPDATE error (events 21,
    /// 22, 28) that ends the session.
    DecodeError(DecodeError),
    /// Event 10.
    HoldTimerExpires,
    /// Event 18: the transport closed or failed.
    TcpConnectionFails,
    /// Event 2, or a stop the daemon decided (max-prefix, collision): sends
    /// the given NOTIFICATION (Cease) and closes.
    Stop(Notification),
}

/// Why a connection ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DownReason {
    NotificationSent(Notification),
    NotificationReceived(Notification),
    ConnectionClosed,
}

impl std::fmt::Display for DownReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DownReason::NotificationSent(n) => write!(f, "sent {}", describe_notification(n)),
            DownReason::NotificationReceived(n) => {
                write!(f, "received {}", describe_notification(n))
            }
            DownReason::ConnectionClosed => f.write_str("connection closed by peer"),
        }
    }
}

/// Human text of a NOTIFICATION: `NOTIFICATION 4/0 (hold timer expired)`.
pub fn describe_notification(n: &Notification) -> String {
    let what = clos_wire::notification_name(n.code, n.subcode);
    format!("NOTIFICATION {}/{} ({what})", n.code, n.subcode)
}

/// What the session task must do.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output {
    Send(Message),
    /// (Re)start the hold timer with this duration; None stops it.
    HoldTimer(Option<Duration>),
    /// OpenConfirm → Established: start keepalives, announce routes.
    Established(Box<Negotiated>),
    /// A received UPDATE to process (Established only); `treat_as_withdraw`
    /// per RFC 7606.
    Update(Box<Update>, Vec<clos_wire::UpdateIssue>),
    RouteRefresh(RouteRefresh),
    /// The connection is finished: close the socket, go to Idle.
    Close(DownReason),
}

/// RFC 4271 §8.2.2 suggests a large hold timer in OpenSent: 4 minutes.
pub const OPEN_SENT_HOLD: Duration = Duration::from_secs(240);

/// One connection's state machine from OpenSent onwards.
#[derive(Debug, Clone)]
pub struct Connection {
    local: LocalParams,
    state: State,
    negotiated: Option<Negotiated>,
}

impl Connection {
    /// A connection whose OPEN we have just sent (§8.2.2 Connect/Active,
    /// event 16/17: send OPEN, set the hold timer large, go to OpenSent).
    pub fn new(local: LocalParams) -> (Connection, Vec<Output>) {
        let open = local.open();
        (
            Connection {
                local,
                state: State::OpenSent,
                negotiated: None,
            },
            vec![
                Output::Send(Message::Open(open)),
                Output::HoldTimer(Some(OPEN_SENT_HOLD)),
            ],
        )
    }

    pub fn state(&self) -> State {
        self.state
    }

    /// The peer's parameters once its OPEN was accepted.
    pub fn negotiated(&self) -> Option<&Negotiated> {
        self.negotiated.as_ref()
    }

    fn close_with(&mut self, n: Notification) -> Vec<Output> {
        self.state = State::Idle;
        vec![
            Output::Send(Message::Notification(n.clone())),
            Output::HoldTimer(None),
            Output::Close(DownReason::NotificationSent(n)),
        ]
    }

    /// RFC 6608 FSM error subcodes: the state the unexpected message came in.
    fn fsm_error(&mut self) -> Vec<Output> {
        let subcode = match self.state {
            State::OpenSent => 1,
            State::OpenConfirm => 2,
            State::Established => 3,
            _ => 0,
        };
        self.close_with(Notification {
            code: code::FSM_ERROR,
            subcode,
            data: vec![],
        })
    }

    /// Feed one event; returns what to do, in order.
    pub fn step(&mut self, input: Input) -> Vec<Output> {
        if self.state == State::Idle {
            return vec![];
        }
        match input {
            Input::TcpConnectionFails => {
                self.state = State::Idle;
                vec![
                    Output::HoldTimer(None),
                    Output::Close(DownReason::ConnectionClosed),
                ]
            }
            Input::HoldTimerExpires => self.close_with(Notification {
                code: code::HOLD_TIMER_EXPIRED,
                subcode: 0,
                data: vec![],
            }),
            Input::DecodeError(e) => self.close_with(e.to_notification()),
            Input::Stop(n) => self.close_with(n),
            Input::Message(decoded) => self.on_message(decoded),
        }
    }

    fn on_message(&mut self, decoded: Decoded) -> Vec<Output> {
        let Decoded { message, issues } = decoded;
        match (self.state, message) {
            (_, Message::Notification(n)) => {
                // §8.2.2: NotifMsg in any state → Idle, nothing sent. A
                // version error in OpenSent is the same (no downgrade to try).
                self.state = State::Idle;
                vec![
                    Output::HoldTimer(None),
                    Output::Close(DownReason::NotificationReceived(n)),
                ]
            }
            (State::OpenSent, Message::Open(open)) => match check_open(&self.local, &open) {
                Ok(neg) => {
                    self.state = State::OpenConfirm;
                    let hold = neg.hold_duration();
                    self.negotiated = Some(neg);
                    vec![Output::Send(Message::Keepalive), Output::HoldTimer(hold)]
                }
                Err(n) => self.close_with(n),
            },
            (State::OpenConfirm, Message::Keepalive) => {
                self.state = State::Established;
                match &self.negotiated {
                    Some(neg) => vec![
                        Output::HoldTimer(neg.hold_duration()),
                        Output::Established(Box::new(neg.clone())),
                    ],
                    None => self.fsm_error(),
                }
            }
            (State::Established, Message::Keepalive) => self.restart_hold(vec![]),
            (State::Established, Message::Update(u)) => {
                self.restart_hold(vec![Output::Update(Box::new(u), issues)])
            }
            (State::Established, Message::RouteRefresh(rr)) => {
                // RFC 2918 §4: ignore a refresh for a family we did not
                // negotiate; RFC 7313 BoRR/EoRR are markers for the receiver.
                let negotiated_family = Family::from_afi_safi(rr.afi, rr.safi).is_some_and(|f| {
                    self.negotiated
                        .as_ref()
                        .is_some_and(|n| n.families.contains(&f))
                });
                if negotiated_family {
                    self.restart_hold(vec![Output::RouteRefresh(rr)])
                } else {
                    self.restart_hold(vec![])
                }
            }
            _ => self.fsm_error(),
        }
    }

    fn restart_hold(&self, mut out: Vec<Output>) -> Vec<Output> {
        if let Some(neg) = &self.negotiated {
            out.insert(0, Output::HoldTimer(neg.hold_duration()));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn local() -> LocalParams {
        LocalParams {
            asn: 65000,
            router_id: Ipv4Addr::new(10, 0, 0, 1),
            hold_time: 90,
            remote_as: RemoteAsRule::Exact(65001),
            families: vec![Family::Ipv4Unicast],
            extended_next_hop: false,
        }
    }

    fn peer_open(asn: Asn, hold: u16) -> Open {
        Open {
            version: 4,
            my_as: u16::try_from(asn).unwrap_or(AS_TRANS),
            hold_time: hold,
            bgp_identifier: Ipv4Addr::new(10, 0, 0, 2),
            capabilities: vec![
                Capability::Multiprotocol { afi: 1, safi: 1 },
                Capability::RouteRefresh,
                Capability::FourOctetAs(asn),
            ],
        }
    }

    fn msg(m: Message) -> Input {
        Input::Message(Decoded {
            message: m,
            issues: vec![],
        })
    }

    fn sent_notification(out: &[Output]) -> Option<(u8, u8)> {
        out.iter().find_map(|o| match o {
            Output::Send(Message::Notification(n)) => Some((n.code, n.subcode)),
            _ => None,
        })
    }

    #[test]
    fn our_open_carries_capabilities() {
        let mut l = local();
        l.asn = 4_200_000_000;
        let open = l.open();
        assert_eq!(open.my_as, AS_TRANS);
        assert_eq!(open.asn(), 4_200_000_000);
        assert!(open
            .capabilities
            .contains(&Capability::Multiprotocol { afi: 1, safi: 1 }));
        assert!(open.capabilities.contains(&Capability::RouteRefresh));
        // Graceful restart without families: End-of-RIB support only.
        assert!(open.capabilities.iter().any(|c| matches!(
            c,
            Capability::GracefulRestart(gr) if gr.families.is_empty() && !gr.restart_state
        )));
    }

    #[test]
    fn open_with_wrong_as_is_bad_peer_as() {
        let err = check_open(&local(), &peer_open(65002, 90)).unwrap_err();
        assert_eq!((err.code, err.subcode), (2, 2));
    }

    #[test]
    fn external_rule_refuses_our_own_as() {
        let mut l = local();
        l.remote_as = RemoteAsRule::External;
        assert!(check_open(&l, &peer_open(65007, 90)).is_ok());
        let err = check_open(&l, &peer_open(65000, 90)).unwrap_err();
        assert_eq!((err.code, err.subcode), (2, 2));
    }

    #[test]
    fn internal_rule_requires_our_as_and_distinct_id() {
        let mut l = local();
        l.remote_as = RemoteAsRule::Internal;
        assert!(check_open(&l, &peer_open(65000, 90)).unwrap().internal);
        let mut same_id = peer_open(65000, 90);
        same_id.bgp_identifier = l.router_id;
        assert_eq!(check_open(&l, &same_id).unwrap_err().subcode, 3);
    }

    #[test]
    fn hold_time_one_or_two_is_unacceptable() {
        for hold in [1, 2] {
            let err = check_open(&local(), &peer_open(65001, hold)).unwrap_err();
            assert_eq!((err.code, err.subcode), (2, 6));
        }
    }

    #[test]
    fn hold_time_is_the_minimum_and_keepalive_a_third() {
        let neg = check_open(&local(), &peer_open(65001, 9)).unwrap();
        assert_eq!((neg.hold_time, neg.keepalive), (9, 3));
        let neg = check_open(&local(), &peer_open(65001, 0)).unwrap();
        assert_eq!((neg.hold_time, neg.keepalive), (0, 0));
        assert_eq!(neg.hold_duration(), None);
    }

    #[test]
    fn zero_identifier_is_bad_bgp_identifier() {
        let mut open = peer_open(65001, 90);
        open.bgp_identifier = Ipv4Addr::UNSPECIFIED;
        assert_eq!(check_open(&local(), &open).unwrap_err().subcode, 3);
    }

    #[test]
    fn no_shared_family_is_unsupported_capability() {
        let mut l = local();
        l.families = vec![Family::Ipv6Unicast];
        let err = check_open(&l, &peer_open(65001, 90)).unwrap_err();
        assert_eq!((err.code, err.subcode), (2, 7));
        assert_eq!(err.data, vec![1, 4, 0, 2, 0, 1]);
    }

    #[test]
    fn peer_without_mp_capability_carries_ipv4() {
        let mut open = peer_open(65001, 90);
        open.capabilities.clear();
        let neg = check_open(&local(), &open).unwrap();
        assert_eq!(neg.families, vec![Family::Ipv4Unicast]);
        assert!(!neg.codec.four_octet_as);
    }

    #[test]
    fn four_octet_as_with_wrong_my_as_is_refused() {
        let mut open = peer_open(4_200_000_000, 90);
        open.my_as = 100;
        let mut l = local();
        l.remote_as = RemoteAsRule::Exact(4_200_000_000);
        assert_eq!(check_open(&l, &open).unwrap_err().subcode, 2);
    }

    #[test]
    fn happy_path_reaches_established() {
        let (mut c, out) = Connection::new(local());
        assert_eq!(c.state(), State::OpenSent);
        assert!(matches!(out[0], Output::Send(Message::Open(_))));
        assert_eq!(out[1], Output::HoldTimer(Some(OPEN_SENT_HOLD)));
        let out = c.step(msg(Message::Open(peer_open(65001, 30))));
        assert_eq!(c.state(), State::OpenConfirm);
        assert_eq!(out[0], Output::Send(Message::Keepalive));
        assert_eq!(out[1], Output::HoldTimer(Some(Duration::from_secs(30))));
        let out = c.step(msg(Message::Keepalive));
        assert_eq!(c.state(), State::Established);
        assert!(out.iter().any(|o| matches!(o, Output::Established(_))));
    }

    fn established() -> Connection {
        let (mut c, _) = Connection::new(local());
        c.step(msg(Message::Open(peer_open(65001, 30))));
        c.step(msg(Message::Keepalive));
        assert_eq!(c.state(), State::Established);
        c
    }

    #[test]
    fn bad_open_sends_notification_and_closes() {
        let (mut c, _) = Connection::new(local());
        let out = c.step(msg(Message::Open(peer_open(65009, 30))));
        assert_eq!(sent_notification(&out), Some((2, 2)));
        assert!(matches!(out.last(), Some(Output::Close(_))));
        assert_eq!(c.state(), State::Idle);
        // Nothing more happens on a closed connection.
        assert!(c.step(msg(Message::Keepalive)).is_empty());
    }

    #[test]
    fn update_in_open_sent_is_fsm_error_1() {
        let (mut c, _) = Connection::new(local());
        let out = c.step(msg(Message::Update(Update::default())));
        assert_eq!(sent_notification(&out), Some((5, 1)));
    }

    #[test]
    fn open_in_open_confirm_is_fsm_error_2() {
        let (mut c, _) = Connection::new(local());
        c.step(msg(Message::Open(peer_open(65001, 30))));
        let out = c.step(msg(Message::Open(peer_open(65001, 30))));
        assert_eq!(sent_notification(&out), Some((5, 2)));
    }

    #[test]
    fn open_in_established_is_fsm_error_3() {
        let mut c = established();
        let out = c.step(msg(Message::Open(peer_open(65001, 30))));
        assert_eq!(sent_notification(&out), Some((5, 3)));
    }

    #[test]
    fn hold_timer_expiry_sends_4_0() {
        let mut c = established();
        let out = c.step(Input::HoldTimerExpires);
        assert_eq!(sent_notification(&out), Some((4, 0)));
        assert_eq!(c.state(), State::Idle);
    }

    #[test]
    fn hold_timer_expiry_in_open_sent_sends_4_0() {
        let (mut c, _) = Connection::new(local());
        assert_eq!(
            sent_notification(&c.step(Input::HoldTimerExpires)),
            Some((4, 0))
        );
    }

    #[test]
    fn keepalive_and_update_restart_the_hold_timer() {
        let mut c = established();
        let out = c.step(msg(Message::Keepalive));
        assert_eq!(out, vec![Output::HoldTimer(Some(Duration::from_secs(30)))]);
        let out = c.step(msg(Message::Update(Update::default())));
        assert_eq!(out[0], Output::HoldTimer(Some(Duration::from_secs(30))));
        assert!(matches!(out[1], Output::Update(..)));
    }

    #[test]
    fn notification_received_closes_without_reply() {
        let mut c = established();
        let n = Notification {
            code: 6,
            subcode: 2,
            data: vec![],
        };
        let out = c.step(msg(Message::Notification(n.clone())));
        assert_eq!(sent_notification(&out), None);
        assert_eq!(
            out.last(),
            Some(&Output::Close(DownReason::NotificationReceived(n)))
        );
    }

    #[test]
    fn route_refresh_for_unnegotiated_family_is_ignored() {
        let mut c = established();
        let v6 = RouteRefresh {
            afi: 2,
            subtype: 0,
            safi: 1,
        };
        let out = c.step(msg(Message::RouteRefresh(v6)));
        assert!(!out.iter().any(|o| matches!(o, Output::RouteRefresh(_))));
        let v4 = RouteRefresh { afi: 1, ..v6 };
        let out = c.step(msg(Message::RouteRefresh(v4)));
        assert!(out.contains(&Output::RouteRefresh(v4)));
    }

    #[test]
    fn tcp_failure_closes_quietly() {
        let mut c = established();
        let out = c.step(Input::TcpConnectionFails);
        assert_eq!(
            out.last(),
            Some(&Output::Close(DownReason::ConnectionClosed))
        );
        assert_eq!(sent_notification(&out), None);
    }

    #[test]
    fn stop_sends_the_given_cease() {
        let mut c = established();
        let out = c.step(Input::Stop(Notification {
            code: 6,
            subcode: 1,
            data: vec![],
        }));
        assert_eq!(sent_notification(&out), Some((6, 1)));
    }
}
