//! Results of the `kernel` scenario: one row per run, medians per
//! installer, the ratios the issue asks for, printed as a table or JSON.
//!
//! Owns the column definitions (documented in bench/README.md); owns no
//! measurement.

use serde_json::{json, Value};

use crate::util::median;

/// What one run measured.
#[derive(Debug, Clone, Default)]
pub struct KernelResult {
    pub ok: bool,
    pub error: Option<String>,
    /// From the start (DUT: first UPDATE byte; ip-batch: spawn) until the
    /// watcher saw the whole table.
    pub seconds: f64,
    /// The completion lies in (`seconds` − `resolution_s`, `seconds`]
    /// (notify: since the notification read before the last one).
    pub resolution_s: f64,
    /// ip-batch: from spawn until the process exited.
    pub exit_s: Option<f64>,
    /// When the watcher first saw every prefix, with any number of next
    /// hops (same origin as `seconds`); below `seconds` with ECMP only.
    pub present_s: f64,
    /// How completion was seen: notify, dump, dump after overflow.
    pub watch: String,
    /// CPU seconds of the watcher thread during the run.
    pub watch_cpu_s: f64,
    /// Dumps made during the run (`--watch dump`).
    pub dumps: usize,
    /// Median duration of those dumps; with notify, of the verifying dump
    /// after the run (what one poll would cost).
    pub dump_s: f64,
    /// How the routes carry their next hops: nhid, multipath, gateway.
    pub form: String,
    /// Routes of the installer's protocol in the last dump.
    pub routes_seen: usize,
    pub feeder_send_s: f64,
    /// Sum over the DUT's processes (FRR: zebra + bgpd); 0 for ip-batch.
    pub idle_rss_kib: u64,
    pub peak_rss_kib: u64,
    /// utime + stime of the DUT's processes during the install.
    pub cpu_s: f64,
    /// closd only: `closctl fib kernel` `memory_bytes` and `installed`.
    pub fib_memory_bytes: Option<u64>,
    pub fib_installed: Option<u64>,
}

/// One finished run.
#[derive(Debug, Clone)]
pub struct KernelRow {
    pub installer: String,
    pub routes: usize,
    pub ecmp: usize,
    pub rep: usize,
    pub result: KernelResult,
}

const MIB: f64 = 1024.0;

fn round(x: f64, digits: i32) -> Value {
    if !x.is_finite() {
        return Value::Null;
    }
    let p = 10f64.powi(digits);
    json!((x * p).round() / p)
}

impl KernelRow {
    fn fields(&self) -> Vec<(&'static str, Value)> {
        let r = &self.result;
        let n = self.routes as f64;
        let is_dut = r.peak_rss_kib > 0;
        let mut v = vec![
            ("installer", json!(self.installer)),
            ("routes", json!(self.routes)),
            ("ecmp", json!(self.ecmp)),
            ("rep", json!(self.rep)),
            ("seconds", round(r.seconds, 3)),
            ("routes_per_s", round(n / r.seconds, 0)),
            ("resolution_s", round(r.resolution_s, 3)),
            ("present_s", round(r.present_s, 3)),
            ("watch", json!(r.watch)),
            ("watch_cpu_s", round(r.watch_cpu_s, 2)),
            ("dump_s", round(r.dump_s, 3)),
            ("dumps", json!(r.dumps)),
            ("form", json!(r.form)),
        ];
        if is_dut {
            v.extend([
                ("peak_rss_mib", round(r.peak_rss_kib as f64 / MIB, 1)),
                ("idle_rss_mib", round(r.idle_rss_kib as f64 / MIB, 1)),
                (
                    "rss_bytes_per_route",
                    round(
                        r.peak_rss_kib.saturating_sub(r.idle_rss_kib) as f64 * 1024.0 / n,
                        1,
                    ),
                ),
                ("cpu_s", round(r.cpu_s, 2)),
                ("feeder_send_s", round(r.feeder_send_s, 3)),
            ]);
        }
        if let Some(e) = r.exit_s {
            v.push(("exit_s", round(e, 3)));
        }
        if let Some(m) = r.fib_memory_bytes {
            v.push(("fib_memory_bytes", json!(m)));
            v.push(("fib_bytes_per_route", round(m as f64 / n, 1)));
        }
        if let Some(i) = r.fib_installed {
            v.push(("fib_installed", json!(i)));
        }
        v.push(("check", json!(if r.ok { "OK" } else { "FAIL" })));
        v.push(("error", json!(r.error.clone().unwrap_or_default())));
        v
    }

    pub fn to_json(&self) -> Value {
        Value::Object(
            self.fields()
                .into_iter()
                .map(|(k, v)| (k.to_string(), v))
                .collect(),
        )
    }

    /// A one-line progress report.
    pub fn line(&self) -> String {
        self.fields()
            .into_iter()
            .filter(|(k, v)| !(*k == "error" && v.as_str() == Some("")))
            .map(|(k, v)| match v {
                Value::String(s) => format!("{k}={s}"),
                other => format!("{k}={other}"),
            })
            .collect::<Vec<_>>()
            .join(" ")
    }
}

/// Medians per installer over the runs that passed.
#[derive(Debug, Clone)]
pub struct Summary {
    pub installer: String,
    pub reps: usize,
    pub failed: usize,
    pub form: String,
    pub cols: Vec<(&'static str, f64)>,
}

const NUMERIC: [&str; 12] = [
    "watch_cpu_s",
    "seconds",
    "routes_per_s",
    "resolution_s",
    "exit_s",
    "present_s",
    "dump_s",
    "peak_rss_mib",
    "idle_rss_mib",
    "rss_bytes_per_route",
    "cpu_s",
    "fib_bytes_per_route",
];

impl Summary {
    pub fn get(&self, name: &str) -> f64 {
        self.cols
            .iter()
            .find(|(k, _)| *k == name)
            .map_or(f64::NAN, |c| c.1)
    }

    pub fn to_json(&self) -> Value {
        let mut m = serde_json::Map::new();
        m.insert("installer".into(), json!(self.installer));
        m.insert("reps".into(), json!(self.reps));
        m.insert("failed".into(), json!(self.failed));
        m.insert("form".into(), json!(self.form));
        for (k, v) in &self.cols {
            m.insert(k.to_string(), round(*v, 3));
        }
        m.insert(
            "check".into(),
            json!(if self.failed == 0 { "OK" } else { "FAIL" }),
        );
        Value::Object(m)
    }
}

pub fn summarize(rows: &[KernelRow]) -> Vec<Summary> {
    let mut names: Vec<&str> = Vec::new();
    for r in rows {
        if !names.contains(&r.installer.as_str()) {
            names.push(&r.installer);
        }
    }
    names
        .into_iter()
        .map(|name| {
            let mine: Vec<&KernelRow> = rows.iter().filter(|r| r.installer == name).collect();
            let good: Vec<&KernelRow> = mine.iter().copied().filter(|r| r.result.ok).collect();
            let fields: Vec<Vec<(&'static str, Value)>> = good.iter().map(|r| r.fields()).collect();
            let cols = NUMERIC
                .iter()
                .map(|&col| {
                    let vals: Vec<f64> = fields
                        .iter()
                        .filter_map(|f| f.iter().find(|(k, _)| *k == col)?.1.as_f64())
                        .collect();
                    (col, median(&vals))
                })
                .collect();
            Summary {
                installer: name.to_string(),
                reps: mine.len(),
                failed: mine.len() - good.len(),
                form: good.first().map_or("-".into(), |r| r.result.form.clone()),
                cols,
            }
        })
        .collect()
}

/// closd's install rate over another installer's (median routes/s),
/// against the target for it.
#[derive(Debug, Clone)]
pub struct Ratio {
    pub name: String,
    pub value: f64,
    /// closd must reach this (0.8 of ip-batch; 1.0: faster than BIRD, FRR).
    pub target: f64,
}

impl Ratio {
    pub fn met(&self) -> bool {
        self.value >= self.target
    }

    pub fn to_json(&self) -> Value {
        json!({
            "ratio": self.name,
            "value": round(self.value, 3),
            "target": self.target,
            "met": self.met(),
        })
    }
}

/// closd ÷ every other installer, by median routes/s. Empty without closd.
pub fn ratios(summaries: &[Summary]) -> Vec<Ratio> {
    let Some(closd) = summaries.iter().find(|s| s.installer == "closd") else {
        return Vec::new();
    };
    summaries
        .iter()
        .filter(|s| s.installer != "closd")
        .map(|s| Ratio {
            name: format!("closd/{}", s.installer),
            value: closd.get("routes_per_s") / s.get("routes_per_s"),
            target: if s.installer.starts_with("ip-batch") {
                0.8
            } else {
                1.0
            },
        })
        .collect()
}

fn cell(v: f64, digits: usize) -> String {
    if v.is_finite() {
        format!("{v:.digits$}")
    } else {
        "-".into()
    }
}

/// Thousands separators for routes/s.
fn grouped(v: f64) -> String {
    if !v.is_finite() {
        return "-".into();
    }
    let s = format!("{:.0}", v);
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// The medians as a Markdown table, then the ratios.
pub fn table(summaries: &[Summary], ratios: &[Ratio]) -> String {
    let mut out = String::from(
        "| installer | reps | median s | routes/s | ± s | prefixes s | exit s | form | peak MiB | \
         B/route RSS | CPU s | FIB B/route | check |\n\
         |---|---|---|---|---|---|---|---|---|---|---|---|---|\n",
    );
    for s in summaries {
        out.push_str(&format!(
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |\n",
            s.installer,
            s.reps,
            cell(s.get("seconds"), 3),
            grouped(s.get("routes_per_s")),
            cell(s.get("resolution_s"), 2),
            cell(s.get("present_s"), 3),
            cell(s.get("exit_s"), 3),
            s.form,
            cell(s.get("peak_rss_mib"), 1),
            cell(s.get("rss_bytes_per_route"), 0),
            cell(s.get("cpu_s"), 2),
            cell(s.get("fib_bytes_per_route"), 1),
            if s.failed == 0 {
                "OK".to_string()
            } else {
                format!("FAIL {}/{}", s.failed, s.reps)
            },
        ));
    }
    if !ratios.is_empty() {
        out.push_str("\nclosd's routes/s over each (target in brackets):");
        for r in ratios {
            out.push_str(&format!(
                " {} {} [≥ {}{}]",
                r.name,
                cell(r.value, 2),
                r.target,
                if r.met() { ", met" } else { ", NOT met" }
            ));
        }
        out.push('\n');
    }
    out
}

/// A JSON integer, or a decimal string (proto3 JSON writes 64-bit
/// integers as strings).
pub fn json_u64(v: Option<&Value>) -> Option<u64> {
    match v? {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.parse().ok(),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(installer: &str, rep: usize, seconds: f64, ok: bool) -> KernelRow {
        KernelRow {
            installer: installer.into(),
            routes: 1000,
            ecmp: 1,
            rep,
            result: KernelResult {
                ok,
                seconds,
                form: "nhid".into(),
                peak_rss_kib: if installer.starts_with("ip") { 0 } else { 2048 },
                idle_rss_kib: 1024,
                fib_memory_bytes: (installer == "closd").then_some(64_000),
                ..Default::default()
            },
        }
    }

    #[test]
    fn medians_skip_failed_runs_and_ratios_compare_rates() {
        let rows = vec![
            row("ip-batch", 1, 1.0, true),
            row("closd", 1, 1.0, true),
            row("bird", 1, 4.0, true),
            row("ip-batch", 2, 2.0, true),
            row("closd", 2, 99.0, false),
            row("bird", 2, 4.0, true),
            row("ip-batch", 3, 3.0, true),
            row("closd", 3, 2.0, true),
            row("bird", 3, 4.0, true),
        ];
        let s = summarize(&rows);
        assert_eq!(s.len(), 3);
        assert_eq!(s[0].installer, "ip-batch");
        assert_eq!(s[0].get("seconds"), 2.0);
        assert!(s[0].get("peak_rss_mib").is_nan());
        let closd = &s[1];
        assert_eq!((closd.reps, closd.failed), (3, 1));
        assert_eq!(closd.get("seconds"), 1.5);
        assert_eq!(closd.get("fib_bytes_per_route"), 64.0);
        assert_eq!(closd.get("rss_bytes_per_route"), 1048.6);
        let r = ratios(&s);
        assert_eq!(r[0].name, "closd/ip-batch");
        assert_eq!(r[0].target, 0.8);
        // medians of rates: ip-batch 500/s, closd (1000 + 500)/2 = 750/s
        assert_eq!(r[0].value, 1.5);
        assert!(r[0].met());
        assert_eq!(r[1].name, "closd/bird");
        assert_eq!(r[1].value, 3.0);
        let t = table(&s, &r);
        assert!(t.contains("| closd | 3 | 1.500 | 750 |"), "{t}");
        assert!(t.contains("FAIL 1/3"));
        assert!(t.contains("closd/bird 3.00 [≥ 1, met]"));
    }

    #[test]
    fn no_ratios_without_closd_and_numbers_from_strings() {
        let s = summarize(&[row("bird", 1, 1.0, true)]);
        assert!(ratios(&s).is_empty());
        assert_eq!(json_u64(Some(&json!("123"))), Some(123));
        assert_eq!(json_u64(Some(&json!(7))), Some(7));
        assert_eq!(json_u64(None), None);
        assert_eq!(grouped(1234567.0), "1,234,567");
        assert_eq!(grouped(999.0), "999");
    }
}
