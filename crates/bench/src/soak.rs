//! The `soak` scenario: after the ingest, feeder 0 churns C routes and
//! restores them, over and over at full speed, for a set time, while the
//! other feeders and the monitors stay established.
//!
//! Owns: the subcommand's own options, the plan a run follows (the restore
//! stream, how long, how often RSS is read), the record of one soak (phase
//! times, RSS samples), the RSS sampler thread, and the soak's report:
//! per run, phase times, prefix changes per second, RSS after the warm-up
//! and the verdict. The phases themselves run in `scenario` like the
//! churn phase does.
//!
//! Verdict (the three conditions): no session down and none silent
//! past the hold time (no hold-timer expiry on either side), RSS flat after
//! the warm-up (its maximum within [`FLAT_PERCENT`] of the value at the end
//! of the warm-up), and every monitor exactly on the initial table at the
//! end (the soak always ends on a restore).

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use clap::Args;
use serde_json::{json, Value};

use crate::dut;
use crate::report::Row;
use crate::stream::Stream;
use crate::util::median;

/// RSS growth after the warm-up still called flat, in percent.
pub const FLAT_PERCENT: f64 = 10.0;

/// Options of `clos-bench soak` besides the common ones.
#[derive(Args, Clone)]
pub struct SoakArgs {
    /// C: routes re-announced with new attributes per churn, and as many
    /// withdrawn; the restore announces all 2C again with their first path.
    #[arg(long, default_value_t = 100_000)]
    pub churn: usize,
    /// Seconds of churn and restore cycles (the last cycle is finished).
    #[arg(long, default_value_t = 600)]
    pub duration: u64,
    /// Seconds from the first churn after which RSS must stay flat.
    #[arg(long, default_value_t = 60)]
    pub warmup: u64,
    /// Milliseconds between RSS samples of the DUT.
    #[arg(long, default_value_t = 1000)]
    pub sample_ms: u64,
    /// Also write the JSON report to this file.
    #[arg(long)]
    pub out: Option<PathBuf>,
}

impl SoakArgs {
    pub fn check(&self) -> Result<()> {
        if self.churn == 0 || self.duration == 0 || self.sample_ms == 0 {
            bail!("--churn, --duration and --sample-ms must be at least 1");
        }
        if self.warmup >= self.duration {
            bail!("--warmup must be shorter than --duration");
        }
        Ok(())
    }

    pub fn plan(&self, restore: Arc<Stream>) -> SoakPlan {
        SoakPlan {
            restore,
            duration: Duration::from_secs(self.duration),
            sample: Duration::from_millis(self.sample_ms),
        }
    }
}

/// What a run's soak follows.
#[derive(Clone)]
pub struct SoakPlan {
    /// Feeder 0's stream that undoes the churn.
    pub restore: Arc<Stream>,
    pub duration: Duration,
    pub sample: Duration,
}

/// What one soak measured.
#[derive(Debug, Clone, Default)]
pub struct SoakRun {
    /// Seconds of each churn and each restore phase (first byte to last
    /// monitor).
    pub churn_s: Vec<f64>,
    pub restore_s: Vec<f64>,
    /// From the first churn byte to the end of the last restore.
    pub seconds: f64,
    pub cpu_s: f64,
    /// (seconds since the soak started, DUT VmRSS in KiB).
    pub samples: Vec<(f64, u64)>,
}

/// A thread reading the DUT's current RSS every `every`.
pub struct RssSampler {
    pid: u32,
    start: Instant,
    stop: Arc<AtomicBool>,
    handle: JoinHandle<Vec<(f64, u64)>>,
}

impl RssSampler {
    /// Samples are timed from `start`.
    pub fn start(pid: u32, every: Duration, start: Instant) -> RssSampler {
        let stop = Arc::new(AtomicBool::new(false));
        let stop2 = stop.clone();
        let handle = std::thread::spawn(move || {
            let mut samples = Vec::new();
            let mut next = start;
            while !stop2.load(Ordering::Relaxed) {
                if Instant::now() >= next {
                    samples.extend(rss_sample(pid, start));
                    next += every;
                }
                std::thread::sleep(every.min(Duration::from_millis(20)));
            }
            samples
        });
        RssSampler {
            pid,
            start,
            stop,
            handle,
        }
    }

    /// Stop, take a last sample, and return them all.
    pub fn finish(self) -> Vec<(f64, u64)> {
        self.stop.store(true, Ordering::Relaxed);
        let mut samples = self.handle.join().unwrap_or_default();
        samples.extend(rss_sample(self.pid, self.start));
        samples
    }
}

fn rss_sample(pid: u32, start: Instant) -> Option<(f64, u64)> {
    let (_, rss) = dut::memory_kib(pid)?;
    Some((start.elapsed().as_secs_f64(), rss))
}

/// RSS after the warm-up, in KiB.
#[derive(Debug, Clone, Copy, PartialEq)]
struct RssTrend {
    /// The first sample at or after the end of the warm-up.
    warmup: u64,
    /// The largest from there on.
    max: u64,
    /// The last.
    end: u64,
}

impl RssTrend {
    fn of(samples: &[(f64, u64)], warmup_s: f64) -> Option<RssTrend> {
        let after: Vec<u64> = samples
            .iter()
            .filter(|s| s.0 >= warmup_s)
            .map(|s| s.1)
            .collect();
        Some(RssTrend {
            warmup: *after.first()?,
            max: *after.iter().max()?,
            end: *after.last()?,
        })
    }

    fn growth_end(&self) -> f64 {
        growth_percent(self.warmup, self.end)
    }

    fn growth_max(&self) -> f64 {
        growth_percent(self.warmup, self.max)
    }

    fn flat(&self) -> bool {
        self.growth_max() <= FLAT_PERCENT
    }
}

fn growth_percent(base: u64, value: u64) -> f64 {
    (value as f64 - base as f64) / base as f64 * 100.0
}

/// Nearest-rank percentile (`q` in 0..=1) of `values`; NaN when empty.
fn percentile(values: &[f64], q: f64) -> f64 {
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    let rank = (q * v.len() as f64).ceil() as usize;
    v.get(rank.max(1) - 1).copied().unwrap_or(f64::NAN)
}

/// One run's soak report.
pub struct Report<'a> {
    row: &'a Row,
    soak: Option<&'a SoakRun>,
    /// C of the churn (the restore and the churn each change 2C prefixes).
    churn: usize,
    warmup_s: f64,
    hold_s: f64,
    rss: Option<RssTrend>,
}

impl Report<'_> {
    pub fn new(row: &Row, churn: usize, warmup_s: u64, hold_s: u16) -> Report<'_> {
        let soak = row.result.soak.as_ref();
        let warmup_s = warmup_s as f64;
        Report {
            row,
            soak,
            churn,
            warmup_s,
            hold_s: f64::from(hold_s),
            rss: soak.and_then(|s| RssTrend::of(&s.samples, warmup_s)),
        }
    }

    fn cycles(&self) -> usize {
        self.soak.map_or(0, |s| s.restore_s.len())
    }

    /// Prefixes fed to the DUT per second of the phases, churn and restore
    /// alike (2C each).
    fn prefixes_per_s(&self) -> f64 {
        let Some(s) = self.soak else {
            return f64::NAN;
        };
        let phases = (s.churn_s.len() + s.restore_s.len()) as f64;
        let busy: f64 = s.churn_s.iter().chain(&s.restore_s).sum();
        phases * 2.0 * self.churn as f64 / busy
    }

    /// No session went down, and none was silent longer than the hold
    /// time (which our side would have had to call an expiry).
    fn no_expiry(&self) -> bool {
        let r = &self.row.result;
        let silent = self.hold_s > 0.0 && r.worst_silence_s > self.hold_s;
        r.sessions_down.is_empty() && !silent
    }

    /// The monitors' tables at the end against the expected (initial) one.
    fn final_check(&self) -> String {
        let r = &self.row.result;
        if r.error.is_some() {
            "not reached (see error)".into()
        } else if r.mismatch_count > 0 {
            format!("{} mismatches", r.mismatch_count)
        } else if !r.ok {
            "incomplete (a monitor behind or gone)".into()
        } else {
            "exact".into()
        }
    }

    fn rss_verdict(&self) -> String {
        match self.rss {
            Some(t) if t.flat() => "RSS flat".into(),
            Some(t) => format!("RSS grew {:.1}% after warm-up", t.growth_max()),
            None => "no RSS sample after warm-up".into(),
        }
    }

    /// Every condition of the soak met.
    pub fn passed(&self) -> bool {
        self.row.result.ok && self.no_expiry() && self.rss.is_some_and(|t| t.flat())
    }

    fn phase_stats(values: &[f64]) -> Value {
        json!({
            "median": round(median(values), 3),
            "p95": round(percentile(values, 0.95), 3),
            "max": round(percentile(values, 1.0), 3),
            "count": values.len(),
        })
    }

    pub fn to_json(&self) -> Value {
        let r = &self.row.result;
        let i = &self.row.info;
        let empty = SoakRun::default();
        let s = self.soak.unwrap_or(&empty);
        let rss = self.rss;
        let samples: Vec<Value> = s
            .samples
            .iter()
            .map(|&(t, kib)| json!([round(t, 2), kib]))
            .collect();
        json!({
            "dut": i.dut,
            "rep": i.rep,
            "family": i.family,
            "feeders": i.feeders,
            "monitors": i.monitors,
            "routes": i.routes,
            "churn": self.churn,
            "ingest_s": round(r.seconds, 3),
            "duration_s": round(s.seconds, 1),
            "cycles": self.cycles(),
            "churn_phase_s": Self::phase_stats(&s.churn_s),
            "restore_phase_s": Self::phase_stats(&s.restore_s),
            "prefixes_per_s": round(self.prefixes_per_s(), 0),
            "warmup_s": self.warmup_s,
            "rss_warmup_kib": rss.map(|t| t.warmup),
            "rss_max_after_warmup_kib": rss.map(|t| t.max),
            "rss_end_kib": rss.map(|t| t.end),
            "rss_growth_end_pct": rss.map(|t| round(t.growth_end(), 2)),
            "rss_growth_max_pct": rss.map(|t| round(t.growth_max(), 2)),
            "rss_verdict": self.rss_verdict(),
            "keepalive_gap_s": round(r.worst_keepalive_gap_s, 1),
            "gap_session": r.worst_gap_session,
            "silence_s": round(r.worst_silence_s, 1),
            "hold_s": self.hold_s,
            "sessions_down": r.sessions_down,
            "final_check": self.final_check(),
            "mismatch_detail": r.mismatches,
            "cpu_s": round(s.cpu_s, 1),
            "error": r.error,
            "verdict": if self.passed() { "PASS" } else { "FAIL" },
            "rss_samples": samples,
        })
    }

    /// (label, value) lines of the human table.
    fn lines(&self) -> Vec<(&'static str, String)> {
        let r = &self.row.result;
        let empty = SoakRun::default();
        let s = self.soak.unwrap_or(&empty);
        let phase = |v: &[f64]| {
            format!(
                "{} / {} / {}",
                fmt(median(v), 2),
                fmt(percentile(v, 0.95), 2),
                fmt(percentile(v, 1.0), 2)
            )
        };
        let mib = |f: fn(&RssTrend) -> u64| {
            self.rss
                .map_or("-".into(), |t| fmt(f(&t) as f64 / 1024.0, 1))
        };
        let pct = |f: fn(&RssTrend) -> f64| self.rss.map_or("-".into(), |t| fmt(f(&t), 1));
        let down = if r.sessions_down.is_empty() {
            "none".to_string()
        } else {
            r.sessions_down.join("; ")
        };
        vec![
            ("ingest s", fmt(r.seconds, 2)),
            ("soak s", fmt(s.seconds, 1)),
            ("cycles (churn+restore)", self.cycles().to_string()),
            ("churn s med/p95/max", phase(&s.churn_s)),
            ("restore s med/p95/max", phase(&s.restore_s)),
            ("prefixes/s", fmt(self.prefixes_per_s(), 0)),
            ("RSS MiB end of warm-up", mib(|t| t.warmup)),
            ("RSS MiB max after", mib(|t| t.max)),
            ("RSS MiB end", mib(|t| t.end)),
            (
                "growth % end / max",
                format!(
                    "{} / {}",
                    pct(RssTrend::growth_end),
                    pct(RssTrend::growth_max)
                ),
            ),
            ("RSS", self.rss_verdict()),
            (
                "ka gap s (session)",
                format!(
                    "{} ({})",
                    fmt(r.worst_keepalive_gap_s, 1),
                    r.worst_gap_session
                ),
            ),
            (
                "silence s / hold",
                format!("{} / {}", fmt(r.worst_silence_s, 1), self.hold_s),
            ),
            ("sessions down", down),
            ("final check", self.final_check()),
            ("DUT CPU s (soak)", fmt(s.cpu_s, 1)),
            ("error", r.error.clone().unwrap_or_else(|| "none".into())),
            (
                "verdict",
                (if self.passed() { "PASS" } else { "FAIL" }).into(),
            ),
        ]
    }
}

fn round(x: f64, digits: i32) -> Value {
    if !x.is_finite() {
        return Value::Null;
    }
    let p = 10f64.powi(digits);
    json!((x * p).round() / p)
}

fn fmt(x: f64, digits: usize) -> String {
    if x.is_finite() {
        format!("{x:.digits$}")
    } else {
        "-".into()
    }
}

/// The human table: one column per run, left-aligned (some values are
/// sentences).
pub fn table(reports: &[Report]) -> String {
    let Some(first) = reports.first() else {
        return String::new();
    };
    let labels: Vec<&str> = first.lines().iter().map(|l| l.0).collect();
    let mut cols: Vec<Vec<String>> = vec![std::iter::once(String::new())
        .chain(labels.iter().map(|l| l.to_string()))
        .collect()];
    for r in reports {
        let name = format!("{}-{}", r.row.info.dut, r.row.info.rep);
        cols.push(
            std::iter::once(name)
                .chain(r.lines().into_iter().map(|l| l.1))
                .collect(),
        );
    }
    let widths: Vec<usize> = cols
        .iter()
        .map(|c| c.iter().map(String::len).max().unwrap_or(0))
        .collect();
    let mut out = String::new();
    for line in 0..cols[0].len() {
        let cells: Vec<String> = cols
            .iter()
            .zip(&widths)
            .map(|(col, &w)| format!("{:<w$}", col[line]))
            .collect();
        out.push_str(cells.join("  ").trim_end());
        out.push('\n');
    }
    out
}

/// Write `text` to `path`, creating its directory.
pub fn write_out(path: &Path, text: &str) -> Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    std::fs::write(path, text).with_context(|| format!("writing {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::RunInfo;
    use crate::scenario::RunResult;

    #[test]
    fn rss_trend_starts_at_the_end_of_the_warmup() {
        let samples = [
            (0.0, 50),
            (5.0, 900),
            (10.0, 1000),
            (20.0, 1080),
            (30.0, 1020),
        ];
        let t = RssTrend::of(&samples, 10.0).unwrap();
        assert_eq!(
            t,
            RssTrend {
                warmup: 1000,
                max: 1080,
                end: 1020
            }
        );
        assert!((t.growth_max() - 8.0).abs() < 1e-9);
        assert!((t.growth_end() - 2.0).abs() < 1e-9);
        assert!(t.flat());
        let grown = RssTrend::of(&[(10.0, 1000), (20.0, 1101)], 10.0).unwrap();
        assert!(!grown.flat());
        assert_eq!(RssTrend::of(&samples, 31.0), None);
    }

    #[test]
    fn percentiles_by_nearest_rank() {
        let v: Vec<f64> = (1..=20).map(f64::from).rev().collect();
        assert_eq!(percentile(&v, 0.95), 19.0);
        assert_eq!(percentile(&v, 1.0), 20.0);
        assert_eq!(percentile(&[3.0], 0.95), 3.0);
        assert!(percentile(&[], 0.95).is_nan());
    }

    fn row(ok: bool, soak: SoakRun) -> Row {
        Row {
            info: RunInfo {
                scenario: "soak",
                dut: "closd".into(),
                family: "ipv4",
                feeders: 3,
                monitors: 1,
                routes: 1000,
                churn_routes: 0,
                rep: 1,
            },
            result: RunResult {
                ok,
                soak: Some(soak),
                ..Default::default()
            },
        }
    }

    #[test]
    fn report_verdict_and_table() {
        let soak = SoakRun {
            churn_s: vec![0.5, 0.7],
            restore_s: vec![0.5, 0.3],
            seconds: 2.1,
            cpu_s: 1.0,
            samples: vec![(0.0, 100), (1.0, 200), (2.0, 210)],
        };
        let good = row(true, soak.clone());
        let r = Report::new(&good, 100, 1, 90);
        assert!(r.passed());
        assert_eq!(r.cycles(), 2);
        // 4 phases of 200 prefixes in 2 s.
        assert_eq!(r.prefixes_per_s(), 400.0);
        assert_eq!(r.final_check(), "exact");
        assert_eq!(r.to_json()["rss_samples"].as_array().unwrap().len(), 3);

        let mut late = row(true, soak.clone());
        late.result.worst_silence_s = 91.0;
        assert!(!Report::new(&late, 100, 1, 90).passed());
        let mut broken = row(false, soak);
        broken.result.mismatch_count = 3;
        let b = Report::new(&broken, 100, 1, 90);
        assert!(!b.passed());
        assert_eq!(b.final_check(), "3 mismatches");

        let t = table(&[r, b]);
        let lines: Vec<&str> = t.lines().collect();
        assert_eq!(
            lines.len(),
            1 + Report::new(&good, 100, 1, 90).lines().len()
        );
        assert!(lines.last().unwrap().contains("PASS"));
        assert!(lines.last().unwrap().contains("FAIL"));
    }
}
