//! One BFD session as pure logic: `Session::step(event, now) -> actions`.
//!
//! This owns the state variables of RFC 5880 §6.8.1 and applies the rules
//! that change them: the state machine of §6.2 (Down, Init, Up, AdminDown)
//! driven by the reception rules of §6.8.6, the Poll Sequence of §6.5 that
//! confirms every change of our timer parameters, the transmission rules of
//! §6.8.7 (at most one packet per negotiated interval, jittered to 75–100 %,
//! or 75–90 % with a Detect Mult of 1; no periodic packets while the remote
//! runs Demand mode or asks for none), the slow one-second rate while not Up
//! (§6.8.3), and the Detection Time of §6.8.4.
//!
//! It owns no socket and no clock: the caller passes `now`, carries out the
//! returned [`Action`]s, and calls `step(Event::Timer, now)` at
//! [`Session::next_deadline`]. Tests drive it with virtual time.
//!
//! The session is always in the Active role (§6.1) and never asks for Demand
//! mode or the Echo function: Required Min Echo RX Interval is sent as zero.
//!
//! Packet checks that need no session (§6.8.6, first half) are in
//! `packet.rs`; finding the session a packet belongs to is the I/O layer's.

use std::time::{Duration, Instant};

use crate::packet::{ControlPacket, Diagnostic, SessionState};

/// §6.8.3: while not Up, bfd.DesiredMinTxInterval is at least one second.
pub const SLOW_TX_INTERVAL: Duration = Duration::from_secs(1);

/// §6.8.1: bfd.RemoteMinRxInterval starts at one microsecond.
const INITIAL_REMOTE_MIN_RX: Duration = Duration::from_micros(1);

/// The timer parameters an operator configures for a session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timers {
    /// Desired Min TX Interval once Up (raised to one second while not Up).
    pub desired_min_tx: Duration,
    /// Required Min RX Interval: the fastest we accept packets.
    pub required_min_rx: Duration,
    /// bfd.DetectMult.
    pub detect_mult: u8,
}

impl Default for Timers {
    /// 300 ms × 3, a common default (FRR's).
    fn default() -> Timers {
        Timers {
            desired_min_tx: Duration::from_millis(300),
            required_min_rx: Duration::from_millis(300),
            detect_mult: 3,
        }
    }
}

/// What happens to a session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    /// A Control packet that passed `ControlPacket::decode`, the TTL check
    /// and the demultiplexing of §6.3 (it is for this session).
    Received(ControlPacket),
    /// `now` has reached `next_deadline()` (spurious calls are harmless).
    Timer,
    /// The operator disables the session (§6.8.16).
    AdminDown,
    /// The operator enables it again.
    AdminUp,
    /// New timer parameters (§6.8.3: starts a Poll Sequence if the
    /// intervals change).
    SetTimers(Timers),
}

/// A change of `bfd.SessionState`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Transition {
    pub from: SessionState,
    pub to: SessionState,
    /// bfd.LocalDiag after the change: why it happened.
    pub diagnostic: Diagnostic,
    /// The remote's state as last received (AdminDown there is not a path
    /// failure, RFC 5882 §3.2).
    pub remote_state: SessionState,
}

/// What the caller must do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Send this packet to the peer now.
    Send(ControlPacket),
    /// The session changed state.
    StateChange(Transition),
}

/// State of the Poll Sequence we initiate (§6.5).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Poll {
    Idle,
    /// Packets carry P until one with F arrives.
    Active,
    /// Active, and the parameters changed again meanwhile: poll again after.
    ActiveThenAgain,
}

/// One BFD session (RFC 5880 §6.8.1 variables plus our timers).
#[derive(Debug, Clone)]
pub struct Session {
    // §6.8.1 variables.
    state: SessionState,
    remote_state: SessionState,
    local_discr: u32,
    remote_discr: u32,
    local_diag: Diagnostic,
    /// bfd.DesiredMinTxInterval: what we advertise.
    desired_min_tx: Duration,
    /// bfd.RequiredMinRxInterval: what we advertise.
    required_min_rx: Duration,
    remote_min_rx: Duration,
    remote_demand: bool,
    detect_mult: u8,
    // Values the RFC asks us to keep using until a Poll Sequence ends
    // (§6.8.3): a raised Desired Min TX must not slow us down before the
    // peer has lengthened its Detection Time, and a lowered Required Min RX
    // must not shorten our Detection Time before the peer sends faster.
    desired_min_tx_in_use: Duration,
    required_min_rx_in_use: Duration,
    // What we last heard from the peer.
    remote_desired_min_tx: Duration,
    remote_detect_mult: u8,
    remote_diag: Diagnostic,
    configured: Timers,
    poll: Poll,
    /// When the last packet counted for detection arrived; None disarms
    /// the detection timer (no peer known).
    last_received: Option<Instant>,
    next_tx: Option<Instant>,
    rng: Jitter,
}

impl Session {
    /// A new session in state Down. `local_discr` must be non-zero and
    /// unique on this system (§6.8.1); `seed` feeds the jitter. The first
    /// packet is due at `now`.
    pub fn new(local_discr: u32, timers: Timers, seed: u64, now: Instant) -> Session {
        let desired = timers.desired_min_tx.max(SLOW_TX_INTERVAL);
        Session {
            state: SessionState::Down,
            remote_state: SessionState::Down,
            local_discr,
            remote_discr: 0,
            local_diag: Diagnostic::NoDiagnostic,
            desired_min_tx: desired,
            required_min_rx: timers.required_min_rx,
            remote_min_rx: INITIAL_REMOTE_MIN_RX,
            remote_demand: false,
            detect_mult: timers.detect_mult.max(1),
            desired_min_tx_in_use: desired,
            required_min_rx_in_use: timers.required_min_rx,
            remote_desired_min_tx: Duration::ZERO,
            remote_detect_mult: 0,
            remote_diag: Diagnostic::NoDiagnostic,
            configured: timers,
            poll: Poll::Idle,
            last_received: None,
            next_tx: Some(now),
            rng: Jitter::new(seed ^ u64::from(local_discr)),
        }
    }

    /// Feeds one event; returns what to send and which state changes
    /// happened, in order.
    pub fn step(&mut self, event: Event, now: Instant) -> Vec<Action> {
        let mut step = Step::default();
        match event {
            Event::Received(packet) => self.receive(&packet, now, &mut step),
            Event::Timer => self.timer(now, &mut step),
            Event::AdminDown => {
                if self.state != SessionState::AdminDown {
                    self.change_state(
                        SessionState::AdminDown,
                        Diagnostic::AdministrativelyDown,
                        &mut step,
                    );
                }
            }
            Event::AdminUp => {
                if self.state == SessionState::AdminDown {
                    self.change_state(SessionState::Down, Diagnostic::NoDiagnostic, &mut step);
                }
            }
            Event::SetTimers(timers) => {
                self.configured = timers;
                self.detect_mult = timers.detect_mult.max(1);
                self.update_intervals(&mut step);
            }
        }
        self.finish(step, now)
    }

    /// §6.8.6, from "If the Your Discriminator field is nonzero..." on: the
    /// packet is known to be ours.
    fn receive(&mut self, packet: &ControlPacket, now: Instant, step: &mut Step) {
        let old_tx_interval = self.tx_interval();
        self.remote_discr = packet.my_discriminator;
        self.remote_state = packet.state;
        self.remote_diag = packet.diagnostic;
        self.remote_demand = packet.demand;
        self.remote_min_rx = Duration::from_micros(packet.required_min_rx_us.into());
        self.remote_desired_min_tx = Duration::from_micros(packet.desired_min_tx_us.into());
        self.remote_detect_mult = packet.detect_mult;
        if packet.final_ && self.poll != Poll::Idle {
            self.terminate_poll(step);
        }
        // §6.8.3: a lowered bfd.RemoteMinRxInterval is honoured at once.
        if self.tx_interval() < old_tx_interval {
            self.next_tx = Some(now + self.rng.jittered(self.tx_interval(), self.detect_mult));
        }
        if self.state == SessionState::AdminDown {
            return;
        }
        if packet.state == SessionState::AdminDown {
            if self.state != SessionState::Down {
                self.change_state(
                    SessionState::Down,
                    Diagnostic::NeighborSignaledSessionDown,
                    step,
                );
            }
        } else {
            match (self.state, packet.state) {
                (SessionState::Down, SessionState::Down) => {
                    self.change_state(SessionState::Init, Diagnostic::NoDiagnostic, step)
                }
                (SessionState::Down, SessionState::Init)
                | (SessionState::Init, SessionState::Init | SessionState::Up) => {
                    self.change_state(SessionState::Up, Diagnostic::NoDiagnostic, step)
                }
                (SessionState::Up, SessionState::Down) => self.change_state(
                    SessionState::Down,
                    Diagnostic::NeighborSignaledSessionDown,
                    step,
                ),
                _ => {}
            }
        }
        if packet.poll {
            step.send_final = true;
        }
        // §6.8.4: a packet not discarded restarts the Detection Time.
        self.last_received = Some(now);
    }

    fn timer(&mut self, now: Instant, step: &mut Step) {
        if let Some(deadline) = self.detection_deadline() {
            if now >= deadline {
                // §6.8.1: bfd.RemoteDiscr is zeroed when a Detection Time
                // passes in silence; §6.8.4: Init or Up goes Down, diag 1.
                self.last_received = None;
                self.remote_discr = 0;
                self.remote_state = SessionState::Down;
                if matches!(self.state, SessionState::Init | SessionState::Up) {
                    self.change_state(
                        SessionState::Down,
                        Diagnostic::ControlDetectionTimeExpired,
                        step,
                    );
                }
            }
        }
        if let Some(due) = self.next_tx {
            if now >= due {
                step.send_periodic = true;
            }
        }
    }

    fn change_state(&mut self, to: SessionState, diagnostic: Diagnostic, step: &mut Step) {
        let from = self.state;
        self.state = to;
        self.local_diag = diagnostic;
        step.transitions.push(Transition {
            from,
            to,
            diagnostic,
            remote_state: self.remote_state,
        });
        // Tell the peer at once rather than at the next (possibly one
        // second away) periodic packet: this is what makes the three-way
        // handshake take round trips instead of seconds.
        step.send_now = true;
        self.update_intervals(step);
    }

    /// Recomputes the advertised intervals from the configuration and the
    /// state (§6.8.3) and starts a Poll Sequence if they changed.
    fn update_intervals(&mut self, step: &mut Step) {
        let desired = if self.state == SessionState::Up {
            self.configured.desired_min_tx
        } else {
            self.configured.desired_min_tx.max(SLOW_TX_INTERVAL)
        };
        let required = self.configured.required_min_rx;
        if desired == self.desired_min_tx && required == self.required_min_rx {
            return;
        }
        let up = self.state == SessionState::Up;
        if !(up && desired > self.desired_min_tx_in_use) {
            self.desired_min_tx_in_use = desired;
        }
        if !(up && required < self.required_min_rx_in_use) {
            self.required_min_rx_in_use = required;
        }
        self.desired_min_tx = desired;
        self.required_min_rx = required;
        self.poll = match self.poll {
            Poll::Idle => Poll::Active,
            Poll::Active | Poll::ActiveThenAgain => Poll::ActiveThenAgain,
        };
        step.send_now = true;
    }

    /// A Final arrived: the peer has seen our current parameters (§6.5).
    fn terminate_poll(&mut self, step: &mut Step) {
        self.desired_min_tx_in_use = self.desired_min_tx;
        self.required_min_rx_in_use = self.required_min_rx;
        if self.poll == Poll::ActiveThenAgain {
            self.poll = Poll::Active;
            step.send_now = true;
        } else {
            self.poll = Poll::Idle;
        }
    }

    /// Turns the accumulated decisions of one step into actions.
    fn finish(&mut self, step: Step, now: Instant) -> Vec<Action> {
        let mut actions: Vec<Action> = step
            .transitions
            .into_iter()
            .map(Action::StateChange)
            .collect();
        // §6.8.7: a Final goes out at once, regardless of the timer and of
        // bfd.RemoteMinRxInterval, and never carries P.
        if step.send_final {
            let mut packet = self.packet();
            packet.poll = false;
            packet.final_ = true;
            actions.push(Action::Send(packet));
        }
        let polling = self.poll != Poll::Idle;
        let urgent = step.send_now && (polling || !step.send_final);
        if self.periodic_allowed() && (urgent || step.send_periodic) {
            actions.push(Action::Send(self.packet()));
        }
        if step.send_now || step.send_periodic || step.send_final || self.next_tx.is_none() {
            self.next_tx = self
                .periodic_allowed()
                .then(|| now + self.rng.jittered(self.tx_interval(), self.detect_mult));
        }
        actions
    }

    /// §6.8.7: no periodic packets while bfd.RemoteMinRxInterval is zero or
    /// the remote runs Demand mode with both sides Up.
    fn periodic_allowed(&self) -> bool {
        let remote_demand = self.remote_demand
            && self.state == SessionState::Up
            && self.remote_state == SessionState::Up;
        !self.remote_min_rx.is_zero() && !remote_demand
    }

    /// The packet we would send now (§6.8.7 field rules).
    pub fn packet(&self) -> ControlPacket {
        ControlPacket {
            diagnostic: self.local_diag,
            state: self.state,
            poll: self.poll != Poll::Idle,
            final_: false,
            control_plane_independent: false,
            demand: false,
            detect_mult: self.detect_mult,
            my_discriminator: self.local_discr,
            your_discriminator: self.remote_discr,
            desired_min_tx_us: micros(self.desired_min_tx),
            required_min_rx_us: micros(self.required_min_rx),
            required_min_echo_rx_us: 0,
        }
    }

    /// When `step(Event::Timer, _)` is next due: the earlier of the next
    /// transmission and the detection deadline.
    pub fn next_deadline(&self) -> Option<Instant> {
        match (self.next_tx, self.detection_deadline()) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// When the session times out if nothing more arrives.
    pub fn detection_deadline(&self) -> Option<Instant> {
        if self.state == SessionState::AdminDown {
            return None;
        }
        self.last_received.map(|at| at + self.detection_time())
    }

    /// §6.8.4 (Asynchronous mode): the remote's Detect Mult times the
    /// greater of our Required Min RX and the remote's Desired Min TX.
    pub fn detection_time(&self) -> Duration {
        self.rx_interval() * u32::from(self.remote_detect_mult)
    }

    /// The negotiated interval at which we expect the peer's packets.
    pub fn rx_interval(&self) -> Duration {
        self.required_min_rx_in_use.max(self.remote_desired_min_tx)
    }

    /// §6.8.7: the negotiated transmission interval before jitter.
    pub fn tx_interval(&self) -> Duration {
        self.desired_min_tx_in_use.max(self.remote_min_rx)
    }

    pub fn state(&self) -> SessionState {
        self.state
    }
    pub fn remote_state(&self) -> SessionState {
        self.remote_state
    }
    pub fn local_discriminator(&self) -> u32 {
        self.local_discr
    }
    pub fn remote_discriminator(&self) -> u32 {
        self.remote_discr
    }
    pub fn local_diagnostic(&self) -> Diagnostic {
        self.local_diag
    }
    pub fn remote_diagnostic(&self) -> Diagnostic {
        self.remote_diag
    }
    pub fn remote_detect_mult(&self) -> u8 {
        self.remote_detect_mult
    }
    /// bfd.DesiredMinTxInterval as advertised now.
    pub fn desired_min_tx(&self) -> Duration {
        self.desired_min_tx
    }
    /// bfd.RequiredMinRxInterval as advertised now.
    pub fn required_min_rx(&self) -> Duration {
        self.required_min_rx
    }
    /// bfd.RemoteMinRxInterval.
    pub fn remote_min_rx(&self) -> Duration {
        self.remote_min_rx
    }
    /// Whether a Poll Sequence of ours is waiting for its Final.
    pub fn polling(&self) -> bool {
        self.poll != Poll::Idle
    }
    pub fn timers(&self) -> Timers {
        self.configured
    }
}

/// Decisions gathered during one step, turned into actions at its end so
/// that a step sends at most one Final and one other packet.
#[derive(Default)]
struct Step {
    transitions: Vec<Transition>,
    send_now: bool,
    send_periodic: bool,
    send_final: bool,
}

fn micros(duration: Duration) -> u32 {
    u32::try_from(duration.as_micros()).unwrap_or(u32::MAX)
}

/// A small xorshift64* generator for transmission jitter: no need for
/// cryptographic quality, and it keeps the state machine deterministic for
/// a given seed.
#[derive(Debug, Clone)]
pub(crate) struct Jitter(u64);

impl Jitter {
    pub(crate) fn new(seed: u64) -> Jitter {
        Jitter(seed | 1)
    }

    pub(crate) fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// §6.8.7: the interval reduced by a random 0–25 %, or 10–25 % when
    /// bfd.DetectMult is 1 (so the result is 75–90 % of it).
    pub(crate) fn jittered(&mut self, interval: Duration, detect_mult: u8) -> Duration {
        let max_percent_off_top: u64 = if detect_mult == 1 { 15 } else { 25 };
        let min_reduction: u64 = if detect_mult == 1 { 10 } else { 0 };
        // Parts per ten thousand kept: 7500..=10000 (or 7500..=9000).
        let span = max_percent_off_top * 100 + 1;
        let kept = 10_000 - min_reduction * 100 - self.next_u64() % span;
        let nanos = interval.as_nanos().saturating_mul(u128::from(kept)) / 10_000;
        Duration::from_nanos(u64::try_from(nanos).unwrap_or(u64::MAX))
    }
}
