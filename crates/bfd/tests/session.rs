//! The session state machine (RFC 5880 §6.2, §6.5, §6.8) with virtual time:
//! two sessions wired back to back through a simulated link.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use clos_bfd::packet::{ControlPacket, Diagnostic, SessionState};
use clos_bfd::session::{Action, Event, Session, Timers, Transition, SLOW_TX_INTERVAL};

const MS: Duration = Duration::from_millis(1);

fn fast() -> Timers {
    Timers {
        desired_min_tx: 50 * MS,
        required_min_rx: 50 * MS,
        detect_mult: 3,
    }
}

/// Two sessions joined by a link with 1 ms latency that can be cut.
struct Pair {
    start: Instant,
    now: Instant,
    sessions: [Session; 2],
    /// In flight: (arrival, to, packet).
    wire: VecDeque<(Instant, usize, ControlPacket)>,
    link_up: bool,
    /// (time since start, which side, transition).
    log: Vec<(Duration, usize, Transition)>,
    /// Packets sent by each side, with their send time.
    sent: [Vec<(Instant, ControlPacket)>; 2],
}

impl Pair {
    fn new(a: Timers, b: Timers) -> Pair {
        let start = Instant::now();
        // Side b starts 300 ms later, so the two are out of phase.
        Pair {
            start,
            now: start,
            sessions: [
                Session::new(0x1111, a, 1, start),
                Session::new(0x2222, b, 2, start + 300 * MS),
            ],
            wire: VecDeque::new(),
            link_up: true,
            log: Vec::new(),
            sent: [Vec::new(), Vec::new()],
        }
    }

    fn apply(&mut self, side: usize, actions: Vec<Action>) {
        for action in actions {
            match action {
                Action::Send(packet) => {
                    self.sent[side].push((self.now, packet));
                    if self.link_up {
                        self.wire.push_back((self.now + MS, 1 - side, packet));
                    }
                }
                Action::StateChange(t) => self.log.push((self.now - self.start, side, t)),
            }
        }
    }

    fn event(&mut self, side: usize, event: Event) {
        let actions = self.sessions[side].step(event, self.now);
        self.apply(side, actions);
    }

    /// Runs the simulation for `duration` of virtual time.
    fn run(&mut self, duration: Duration) {
        let end = self.now + duration;
        loop {
            let mut next = end;
            let mut what = None;
            for side in 0..2 {
                if let Some(at) = self.sessions[side].next_deadline() {
                    if at < next {
                        next = at;
                        what = Some(side);
                    }
                }
            }
            let arrival = self.wire.front().map(|(at, _, _)| *at);
            if let Some(at) = arrival {
                if at <= next {
                    self.now = at;
                    let (_, to, packet) = self.wire.pop_front().expect("front");
                    self.event(to, Event::Received(packet));
                    continue;
                }
            }
            self.now = next.max(self.now);
            match what {
                Some(side) => self.event(side, Event::Timer),
                None => return,
            }
        }
    }

    fn state(&self, side: usize) -> SessionState {
        self.sessions[side].state()
    }

    fn transitions(&self, side: usize) -> Vec<(SessionState, SessionState, Diagnostic)> {
        self.log
            .iter()
            .filter(|(_, s, _)| *s == side)
            .map(|(_, _, t)| (t.from, t.to, t.diagnostic))
            .collect()
    }
}

use SessionState::{AdminDown, Down, Init, Up};

#[test]
fn three_way_handshake_brings_both_up() {
    let mut pair = Pair::new(fast(), fast());
    pair.run(2 * SLOW_TX_INTERVAL);
    assert_eq!((pair.state(0), pair.state(1)), (Up, Up));
    // b hears a's first Down: Down → Init → Up; a hears b's Init: Down → Up.
    let none = Diagnostic::NoDiagnostic;
    assert_eq!(pair.transitions(0), vec![(Down, Up, none)]);
    assert_eq!(
        pair.transitions(1),
        vec![(Down, Init, none), (Init, Up, none)]
    );
    // State changes are sent at once, not at the next slow packet: both
    // are Up three one-way delays after a's first packet.
    let up_at = pair
        .log
        .iter()
        .map(|(at, _, _)| *at)
        .max()
        .expect("transitions");
    assert_eq!(up_at, 3 * MS);
    // The Poll Sequences that announced the fast timers have ended, and the
    // negotiated values are in force.
    for side in 0..2 {
        let session = &pair.sessions[side];
        assert!(!session.polling());
        assert_eq!(session.tx_interval(), 50 * MS);
        assert_eq!(session.detection_time(), 150 * MS);
        assert_eq!(session.remote_discriminator(), [0x2222, 0x1111][side]);
    }
}

#[test]
fn transmits_at_one_second_while_down_and_fast_once_up() {
    let mut pair = Pair::new(fast(), fast());
    pair.link_up = false;
    pair.run(10 * SLOW_TX_INTERVAL);
    let sent = &pair.sent[0];
    assert!(sent
        .iter()
        .all(|(_, p)| p.state == Down && p.desired_min_tx_us == 1_000_000));
    for gap in sent.windows(2).map(|w| w[1].0 - w[0].0) {
        assert!(
            gap >= 750 * MS && gap <= SLOW_TX_INTERVAL,
            "slow gap {gap:?}"
        );
    }
    assert!(
        (10..=14).contains(&sent.len()),
        "{} packets in 10 s",
        sent.len()
    );

    pair.link_up = true;
    pair.run(2 * SLOW_TX_INTERVAL);
    assert_eq!(pair.state(0), Up);
    let from = pair.sent[0].len();
    pair.run(SLOW_TX_INTERVAL);
    let fast_packets = &pair.sent[0][from..];
    for gap in fast_packets.windows(2).map(|w| w[1].0 - w[0].0) {
        assert!(gap >= 37 * MS && gap <= 50 * MS, "fast gap {gap:?}");
    }
    assert!(fast_packets
        .iter()
        .all(|(_, p)| p.desired_min_tx_us == 50_000));
}

#[test]
fn jitter_is_75_to_100_percent_and_at_most_90_with_detect_mult_1() {
    for (mult, low, high) in [(3u8, 75.0, 100.0), (1u8, 75.0, 90.0)] {
        let timers = Timers {
            detect_mult: mult,
            ..fast()
        };
        let mut pair = Pair::new(timers, timers);
        pair.run(2 * SLOW_TX_INTERVAL);
        assert_eq!(pair.state(0), Up);
        let from = pair.sent[0].len();
        pair.run(30 * SLOW_TX_INTERVAL);
        let gaps: Vec<f64> = pair.sent[0][from..]
            .windows(2)
            .filter(|w| !w[1].1.final_)
            .map(|w| (w[1].0 - w[0].0).as_secs_f64() / 0.050 * 100.0)
            .collect();
        let min = gaps.iter().cloned().fold(f64::MAX, f64::min);
        let max = gaps.iter().cloned().fold(0.0, f64::max);
        assert!(
            min >= low - 0.01 && max <= high + 0.01,
            "mult {mult}: {min}..{max}"
        );
        // And it does vary over the whole range.
        assert!(
            min < low + 3.0 && max > high - 3.0,
            "mult {mult}: {min}..{max}"
        );
    }
}

#[test]
fn detection_timeout_goes_down_with_diagnostic_1() {
    let mut pair = Pair::new(fast(), fast());
    pair.run(2 * SLOW_TX_INTERVAL);
    assert_eq!(pair.state(0), Up);
    let cut = pair.now;
    pair.link_up = false;
    pair.wire.clear();
    pair.run(SLOW_TX_INTERVAL);
    for side in 0..2 {
        let (at, _, t) = pair
            .log
            .iter()
            .find(|(_, s, t)| *s == side && t.to == Down)
            .expect("went down");
        assert_eq!(t.diagnostic, Diagnostic::ControlDetectionTimeExpired);
        let detected = pair.start + *at - cut;
        // Last packet arrived at most 50 ms before the cut; detection is
        // 150 ms after it.
        assert!(detected > 100 * MS && detected <= 150 * MS, "{detected:?}");
        assert_eq!(pair.sessions[side].remote_discriminator(), 0);
        assert_eq!(
            pair.sessions[side].local_diagnostic(),
            Diagnostic::ControlDetectionTimeExpired
        );
    }
    // Down again sends slowly and with diag 1 and Your Discriminator 0.
    let (_, last) = pair.sent[0].last().expect("sent");
    assert_eq!(
        (last.state, last.diagnostic.code(), last.your_discriminator),
        (Down, 1, 0)
    );
    assert_eq!(last.desired_min_tx_us, 1_000_000);

    // Restoring the link brings both back Up.
    pair.link_up = true;
    pair.run(3 * SLOW_TX_INTERVAL);
    assert_eq!((pair.state(0), pair.state(1)), (Up, Up));
}

#[test]
fn neighbor_signalling_down_gives_diagnostic_3() {
    let mut pair = Pair::new(fast(), fast());
    pair.run(2 * SLOW_TX_INTERVAL);
    // Side 1 goes AdminDown: side 0 is told AdminDown → Down, diag 3.
    pair.event(1, Event::AdminDown);
    pair.run(10 * MS);
    assert_eq!(pair.state(1), AdminDown);
    assert_eq!(
        pair.sessions[1].local_diagnostic(),
        Diagnostic::AdministrativelyDown
    );
    assert_eq!(pair.state(0), Down);
    let last = pair.log.last().expect("log").2;
    assert_eq!(last.diagnostic, Diagnostic::NeighborSignaledSessionDown);
    assert_eq!(last.remote_state, AdminDown);
    // A session in AdminDown ignores what it receives and never times out.
    pair.run(5 * SLOW_TX_INTERVAL);
    assert_eq!((pair.state(0), pair.state(1)), (Down, AdminDown));
    assert!(pair.sent[1]
        .iter()
        .rev()
        .take(3)
        .all(|(_, p)| p.state == AdminDown && p.diagnostic == Diagnostic::AdministrativelyDown));
    // Back up: AdminDown → Down → Up.
    pair.event(1, Event::AdminUp);
    pair.run(3 * SLOW_TX_INTERVAL);
    assert_eq!((pair.state(0), pair.state(1)), (Up, Up));
}

#[test]
fn up_session_receiving_down_goes_down_with_diagnostic_3() {
    let start = Instant::now();
    let mut session = Session::new(7, fast(), 3, start);
    let mut peer = ControlPacket {
        diagnostic: Diagnostic::NoDiagnostic,
        state: Init,
        poll: false,
        final_: false,
        control_plane_independent: false,
        demand: false,
        detect_mult: 3,
        my_discriminator: 9,
        your_discriminator: 7,
        desired_min_tx_us: 1_000_000,
        required_min_rx_us: 50_000,
        required_min_echo_rx_us: 0,
    };
    session.step(Event::Received(peer), start);
    assert_eq!(session.state(), Up);
    peer.state = Down;
    peer.diagnostic = Diagnostic::ControlDetectionTimeExpired;
    let actions = session.step(Event::Received(peer), start + MS);
    assert_eq!(session.state(), Down);
    assert!(actions.iter().any(|a| matches!(a, Action::StateChange(t)
        if t.to == Down && t.diagnostic == Diagnostic::NeighborSignaledSessionDown)));
    // The Down is told to the peer at once.
    assert!(actions
        .iter()
        .any(|a| matches!(a, Action::Send(p) if p.state == Down)));
    assert_eq!(
        session.remote_diagnostic(),
        Diagnostic::ControlDetectionTimeExpired
    );
}

#[test]
fn init_times_out_too_but_down_does_not_change_state() {
    let start = Instant::now();
    let mut session = Session::new(7, fast(), 3, start);
    let peer = ControlPacket {
        diagnostic: Diagnostic::NoDiagnostic,
        state: Down,
        poll: false,
        final_: false,
        control_plane_independent: false,
        demand: false,
        detect_mult: 3,
        my_discriminator: 9,
        your_discriminator: 0,
        desired_min_tx_us: 1_000_000,
        required_min_rx_us: 50_000,
        required_min_echo_rx_us: 0,
    };
    session.step(Event::Received(peer), start);
    assert_eq!(session.state(), Init);
    // Detection while Init: 3 × max(50 ms, 1 s).
    assert_eq!(
        session.detection_deadline(),
        Some(start + 3 * SLOW_TX_INTERVAL)
    );
    session.step(Event::Timer, start + 3 * SLOW_TX_INTERVAL);
    assert_eq!(session.state(), Down);
    assert_eq!(
        session.local_diagnostic(),
        Diagnostic::ControlDetectionTimeExpired
    );
    assert_eq!(session.detection_deadline(), None);
}

#[test]
fn answers_poll_with_final_at_once() {
    let start = Instant::now();
    let mut session = Session::new(7, fast(), 3, start);
    session.step(Event::Timer, start);
    let poll = ControlPacket {
        diagnostic: Diagnostic::AdministrativelyDown,
        state: AdminDown,
        poll: true,
        final_: false,
        control_plane_independent: false,
        demand: false,
        detect_mult: 3,
        my_discriminator: 9,
        your_discriminator: 0,
        desired_min_tx_us: 1_000_000,
        required_min_rx_us: 0,
        required_min_echo_rx_us: 0,
    };
    // Even though the peer asks for no periodic packets (Required Min RX 0).
    let actions = session.step(Event::Received(poll), start + MS);
    let finals: Vec<_> = actions
        .iter()
        .filter_map(|a| match a {
            Action::Send(p) => Some(p),
            _ => None,
        })
        .collect();
    assert_eq!(finals.len(), 1);
    assert!(finals[0].final_ && !finals[0].poll);
    assert_eq!(finals[0].your_discriminator, 9);
    // No periodic transmission while bfd.RemoteMinRxInterval is zero.
    assert_eq!(
        session
            .step(Event::Timer, start + 10 * SLOW_TX_INTERVAL)
            .len(),
        0
    );
}

#[test]
fn poll_sequence_on_interval_change() {
    let mut pair = Pair::new(fast(), fast());
    pair.run(2 * SLOW_TX_INTERVAL);
    assert_eq!(pair.state(0), Up);

    // Slow side 0 down to 200 ms: until the Final, side 0 keeps sending at
    // 50 ms (§6.8.3), and every packet in between carries P.
    let slower = Timers {
        desired_min_tx: 200 * MS,
        required_min_rx: 200 * MS,
        detect_mult: 3,
    };
    let from = pair.sent[0].len();
    pair.event(0, Event::SetTimers(slower));
    assert!(pair.sessions[0].polling());
    assert_eq!(pair.sessions[0].tx_interval(), 50 * MS);
    pair.run(SLOW_TX_INTERVAL);
    let first = pair.sent[0][from].1;
    assert!(first.poll && first.desired_min_tx_us == 200_000);
    assert!(pair.sent[1].iter().any(|(_, p)| p.final_));
    assert!(!pair.sessions[0].polling());
    assert_eq!(pair.sessions[0].tx_interval(), 200 * MS);
    assert_eq!(
        pair.sessions[1].tx_interval(),
        200 * MS,
        "peer honours our Required Min RX"
    );
    assert_eq!(pair.sessions[1].detection_time(), 600 * MS);
    assert_eq!(pair.sessions[0].detection_time(), 600 * MS);

    // Speeding up again: Required Min RX lowered; our detection time keeps
    // the old (slower) value until the Final.
    let from = pair.sent[0].len();
    pair.event(0, Event::SetTimers(fast()));
    assert!(pair.sessions[0].polling());
    assert_eq!(pair.sessions[0].detection_time(), 600 * MS);
    // A lowered Desired Min TX applies at once (the peer accepts 50 ms).
    assert_eq!(pair.sessions[0].tx_interval(), 50 * MS);
    pair.run(SLOW_TX_INTERVAL);
    assert!(pair.sent[0][from].1.poll);
    assert!(!pair.sessions[0].polling());
    assert_eq!(pair.sessions[0].detection_time(), 150 * MS);
    assert_eq!(pair.sessions[0].tx_interval(), 50 * MS);
    assert_eq!((pair.state(0), pair.state(1)), (Up, Up));
    assert_eq!(pair.log.len(), 3, "no flaps: {:?}", pair.log);
}

#[test]
fn stops_periodic_packets_for_a_remote_in_demand_mode() {
    let start = Instant::now();
    let mut session = Session::new(7, fast(), 3, start);
    let mut peer = ControlPacket {
        diagnostic: Diagnostic::NoDiagnostic,
        state: Init,
        poll: false,
        final_: false,
        control_plane_independent: false,
        demand: false,
        detect_mult: 3,
        my_discriminator: 9,
        your_discriminator: 7,
        desired_min_tx_us: 50_000,
        required_min_rx_us: 50_000,
        required_min_echo_rx_us: 0,
    };
    session.step(Event::Received(peer), start);
    assert_eq!(session.state(), Up);
    peer.state = Up;
    peer.demand = true;
    session.step(Event::Received(peer), start + MS);
    let later = session.step(Event::Timer, start + 100 * MS);
    assert!(!later.iter().any(|a| matches!(a, Action::Send(_))));
}
