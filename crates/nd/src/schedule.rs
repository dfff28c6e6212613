//! When to send the next Router Advertisement on one interface.
//!
//! Pure state: the interface task asks [`Schedule::due`], sleeps until
//! then, sends, and reports [`Schedule::sent`]. Time and randomness are
//! passed in, so the rules are tested without clocks.
//!
//! The rules, after RFC 4861 §6.2.4 and FRR's zebra:
//! - when advertising (re)starts — the interface came up or got a usable
//!   link-local address — send at once, then `fast_count - 1` more at
//!   `fast_interval`, so a peer learns us within seconds;
//! - then every `interval`, shortened by up to 10 % at random so that
//!   advertisements of many interfaces do not synchronise;
//! - a newly learned peer gets one advertisement soon ([`Schedule::trigger`])
//!   so a restarted peer does not wait a whole interval for us, but never
//!   two closer than `fast_interval` (two of us cannot ping-pong).

use std::time::{Duration, Instant};

/// Timing of advertisements; see the module docs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Timing {
    pub(crate) interval: Duration,
    pub(crate) fast_count: u32,
    pub(crate) fast_interval: Duration,
}

/// The advertisement schedule of one interface.
#[derive(Debug, Clone, Default)]
pub(crate) struct Schedule {
    next: Option<Instant>,
    fast_left: u32,
    last_sent: Option<Instant>,
}

impl Schedule {
    /// Starts (or restarts) advertising: one now, then the fast ones.
    pub(crate) fn start(&mut self, now: Instant, timing: &Timing) {
        self.fast_left = timing.fast_count.max(1);
        self.next = Some(now);
    }

    /// Stops advertising (no usable interface or address).
    pub(crate) fn stop(&mut self) {
        self.next = None;
        self.fast_left = 0;
    }

    /// When the next advertisement is due; `None` while stopped.
    pub(crate) fn due(&self) -> Option<Instant> {
        self.next
    }

    /// Records an advertisement sent at `now` (or attempted: a failed send
    /// is not retried sooner, the next one follows the same rules).
    /// `random` is uniform in `[0, 1)`: it picks the jitter.
    pub(crate) fn sent(&mut self, now: Instant, timing: &Timing, random: f64) {
        self.last_sent = Some(now);
        self.fast_left = self.fast_left.saturating_sub(1);
        if self.next.is_none() {
            return;
        }
        let wait = if self.fast_left > 0 {
            timing.fast_interval
        } else {
            timing.interval.mul_f64(1.0 - 0.1 * random.clamp(0.0, 1.0))
        };
        self.next = Some(now + wait);
    }

    /// Asks for one advertisement soon: now, or `fast_interval` after the
    /// last one if that was more recent. No effect while stopped.
    pub(crate) fn trigger(&mut self, now: Instant, timing: &Timing) {
        let Some(next) = self.next else {
            return;
        };
        let earliest = match self.last_sent {
            Some(last) => (last + timing.fast_interval).max(now),
            None => now,
        };
        self.next = Some(next.min(earliest));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TIMING: Timing = Timing {
        interval: Duration::from_secs(10),
        fast_count: 3,
        fast_interval: Duration::from_secs(1),
    };

    fn secs(s: u64) -> Duration {
        Duration::from_secs(s)
    }

    /// Sends whenever due, `n` times, returning the send times relative to
    /// `t0`.
    fn run(schedule: &mut Schedule, t0: Instant, n: usize, random: f64) -> Vec<Duration> {
        let mut times = Vec::new();
        for _ in 0..n {
            let due = schedule.due().expect("running");
            schedule.sent(due, &TIMING, random);
            times.push(due - t0);
        }
        times
    }

    #[test]
    fn stopped_until_started() {
        assert_eq!(Schedule::default().due(), None);
    }

    #[test]
    fn fast_burst_then_interval() {
        let t0 = Instant::now();
        let mut schedule = Schedule::default();
        schedule.start(t0, &TIMING);
        assert_eq!(
            run(&mut schedule, t0, 5, 0.0),
            vec![secs(0), secs(1), secs(2), secs(12), secs(22)]
        );
    }

    #[test]
    fn jitter_shortens_by_at_most_a_tenth() {
        let t0 = Instant::now();
        let mut schedule = Schedule::default();
        schedule.start(t0, &TIMING);
        let times = run(&mut schedule, t0, 4, 0.999_999);
        let gap = times[3] - times[2];
        assert!(gap > secs(9) && gap <= secs(10), "{gap:?}");
    }

    #[test]
    fn restart_sends_fast_again() {
        let t0 = Instant::now();
        let mut schedule = Schedule::default();
        schedule.start(t0, &TIMING);
        run(&mut schedule, t0, 4, 0.0);
        let t1 = t0 + secs(15);
        schedule.start(t1, &TIMING);
        assert_eq!(
            run(&mut schedule, t1, 4, 0.0),
            vec![secs(0), secs(1), secs(2), secs(12)]
        );
    }

    #[test]
    fn zero_fast_count_still_sends_at_once() {
        let timing = Timing {
            fast_count: 0,
            ..TIMING
        };
        let t0 = Instant::now();
        let mut schedule = Schedule::default();
        schedule.start(t0, &timing);
        assert_eq!(schedule.due(), Some(t0));
        schedule.sent(t0, &timing, 0.0);
        assert_eq!(schedule.due(), Some(t0 + secs(10)));
    }

    #[test]
    fn stop_cancels() {
        let t0 = Instant::now();
        let mut schedule = Schedule::default();
        schedule.start(t0, &TIMING);
        schedule.stop();
        assert_eq!(schedule.due(), None);
        schedule.trigger(t0, &TIMING);
        assert_eq!(
            schedule.due(),
            None,
            "trigger does not start a stopped schedule"
        );
    }

    #[test]
    fn trigger_is_rate_limited() {
        let t0 = Instant::now();
        let mut schedule = Schedule::default();
        schedule.start(t0, &TIMING);
        run(&mut schedule, t0, 3, 0.0); // next at 12 s
                                        // Long after the last send: at once.
        let t1 = t0 + secs(5);
        schedule.trigger(t1, &TIMING);
        assert_eq!(schedule.due(), Some(t1));
        schedule.sent(t1, &TIMING, 0.0);
        assert_eq!(schedule.due(), Some(t1 + secs(10)));
        // Right after a send: one fast interval later, not sooner.
        let t2 = t1 + Duration::from_millis(100);
        schedule.trigger(t2, &TIMING);
        assert_eq!(schedule.due(), Some(t1 + secs(1)));
    }

    #[test]
    fn trigger_never_delays() {
        let t0 = Instant::now();
        let mut schedule = Schedule::default();
        schedule.start(t0, &TIMING);
        schedule.trigger(t0 + secs(3), &TIMING);
        assert_eq!(schedule.due(), Some(t0));
    }
}
