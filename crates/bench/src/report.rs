//! Results: one row per run, medians per DUT, printed as a table and
//! optionally appended as TSV or printed as JSON.
//!
//! Owns the column definitions (documented in bench/README.md); owns no
//! measurement.

use std::io::Write as _;
use std::path::Path;

use anyhow::{Context, Result};
use serde_json::{json, Value};

use crate::scenario::RunResult;
use crate::util::median;

/// What was run, for every row.
#[derive(Debug, Clone)]
pub struct RunInfo {
    pub scenario: &'static str,
    pub dut: String,
    pub family: &'static str,
    pub feeders: usize,
    pub monitors: usize,
    pub routes: usize,
    /// Prefixes re-announced plus withdrawn in the churn phase.
    pub churn_routes: usize,
    pub rep: usize,
}

/// One finished run.
#[derive(Debug, Clone)]
pub struct Row {
    pub info: RunInfo,
    pub result: RunResult,
}

const MIB: f64 = 1024.0;

impl Row {
    fn fields(&self) -> Vec<(&'static str, Value)> {
        let i = &self.info;
        let r = &self.result;
        let n = i.routes as f64;
        let peers = (i.feeders + i.monitors).max(1) as f64;
        let per_route_peer =
            (r.peak_rss_kib.saturating_sub(r.idle_rss_kib) as f64 * 1024.0) / (n * peers).max(1.0);
        let mut v = vec![
            ("scenario", json!(i.scenario)),
            ("dut", json!(i.dut)),
            ("family", json!(i.family)),
            ("feeders", json!(i.feeders)),
            ("monitors", json!(i.monitors)),
            ("routes", json!(i.routes)),
            ("rep", json!(i.rep)),
            ("seconds", json!(round(r.seconds, 3))),
            ("routes_per_s", json!(round(n / r.seconds, 0))),
            (
                "paths_per_s",
                json!(round(n * i.feeders as f64 / r.seconds, 0)),
            ),
            ("peak_rss_mib", json!(round(r.peak_rss_kib as f64 / MIB, 1))),
            ("idle_rss_mib", json!(round(r.idle_rss_kib as f64 / MIB, 1))),
            ("end_rss_mib", json!(round(r.end_rss_kib as f64 / MIB, 1))),
            ("rss_bytes_per_route_peer", json!(round(per_route_peer, 1))),
            ("cpu_s", json!(round(r.cpu_s, 2))),
            ("feeder_send_s", json!(round(r.feeder_send_s, 3))),
            ("keepalive_gap_s", json!(round(r.worst_keepalive_gap_s, 1))),
            ("gap_session", json!(r.worst_gap_session)),
            ("silence_s", json!(round(r.worst_silence_s, 1))),
            ("sessions_down", json!(r.sessions_down.len())),
            ("monitor_updates", json!(r.monitor_updates)),
        ];
        if i.churn_routes > 0 {
            let cs = r.churn_seconds.unwrap_or(f64::NAN);
            v.push(("churn_routes", json!(i.churn_routes)));
            v.push(("churn_seconds", json!(round(cs, 3))));
            v.push((
                "churn_routes_per_s",
                json!(round(i.churn_routes as f64 / cs, 0)),
            ));
            v.push((
                "churn_cpu_s",
                json!(round(r.churn_cpu_s.unwrap_or(f64::NAN), 2)),
            ));
        }
        v.push(("mismatches", json!(r.mismatch_count)));
        v.push(("check", json!(if r.ok { "OK" } else { "FAIL" })));
        v.push(("error", json!(r.error.clone().unwrap_or_default())));
        v
    }

    pub fn to_json(&self) -> Value {
        let mut m = serde_json::Map::new();
        for (k, v) in self.fields() {
            m.insert(k.to_string(), v);
        }
        m.insert("down_detail".into(), json!(self.result.sessions_down));
        m.insert("mismatch_detail".into(), json!(self.result.mismatches));
        Value::Object(m)
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

fn round(x: f64, digits: i32) -> f64 {
    if !x.is_finite() {
        return f64::NAN;
    }
    let p = 10f64.powi(digits);
    (x * p).round() / p
}

/// Median row per DUT over its repetitions (failed runs excluded from the
/// medians but counted: `check` is OK only if every repetition passed).
pub struct Summary {
    pub dut: String,
    pub info: RunInfo,
    pub reps: usize,
    pub failed: usize,
    pub cols: Vec<(&'static str, f64)>,
}

const NUMERIC: [&str; 14] = [
    "seconds",
    "silence_s",
    "routes_per_s",
    "paths_per_s",
    "peak_rss_mib",
    "idle_rss_mib",
    "rss_bytes_per_route_peer",
    "cpu_s",
    "keepalive_gap_s",
    "sessions_down",
    "churn_seconds",
    "churn_routes_per_s",
    "churn_cpu_s",
    "feeder_send_s",
];

pub fn summarize(rows: &[Row]) -> Vec<Summary> {
    let mut duts: Vec<String> = Vec::new();
    for r in rows {
        if !duts.contains(&r.info.dut) {
            duts.push(r.info.dut.clone());
        }
    }
    duts.into_iter()
        .map(|dut| {
            let mine: Vec<&Row> = rows.iter().filter(|r| r.info.dut == dut).collect();
            let good: Vec<&Row> = mine.iter().copied().filter(|r| r.result.ok).collect();
            let use_rows = if good.is_empty() { &mine } else { &good };
            let cols = NUMERIC
                .iter()
                .map(|&name| {
                    let vals: Vec<f64> = use_rows
                        .iter()
                        .filter_map(|r| {
                            r.fields()
                                .into_iter()
                                .find(|(k, _)| *k == name)
                                .and_then(|(_, v)| v.as_f64())
                        })
                        .collect();
                    (name, median(&vals))
                })
                .collect();
            // The worst keepalive gap is a maximum, not a median.
            let mut cols: Vec<(&'static str, f64)> = cols;
            let worst = mine
                .iter()
                .map(|r| r.result.worst_keepalive_gap_s)
                .fold(0.0, f64::max);
            for c in cols.iter_mut() {
                if c.0 == "keepalive_gap_s" {
                    c.1 = worst;
                }
                if c.0 == "silence_s" {
                    c.1 = mine
                        .iter()
                        .map(|r| r.result.worst_silence_s)
                        .fold(0.0, f64::max);
                }
                if c.0 == "sessions_down" {
                    c.1 = mine
                        .iter()
                        .map(|r| r.result.sessions_down.len() as f64)
                        .sum();
                }
            }
            Summary {
                dut,
                info: mine[0].info.clone(),
                reps: mine.len(),
                failed: mine.len() - good.len(),
                cols,
            }
        })
        .collect()
}

impl Summary {
    pub fn get(&self, name: &str) -> f64 {
        self.cols
            .iter()
            .find(|c| c.0 == name)
            .map_or(f64::NAN, |c| c.1)
    }

    pub fn to_json(&self) -> Value {
        let mut m = serde_json::Map::new();
        m.insert("scenario".into(), json!(self.info.scenario));
        m.insert("dut".into(), json!(self.dut));
        m.insert("family".into(), json!(self.info.family));
        m.insert("feeders".into(), json!(self.info.feeders));
        m.insert("monitors".into(), json!(self.info.monitors));
        m.insert("routes".into(), json!(self.info.routes));
        m.insert("reps".into(), json!(self.reps));
        m.insert("failed".into(), json!(self.failed));
        for (k, v) in &self.cols {
            if v.is_finite() {
                m.insert((*k).into(), json!(v));
            }
        }
        m.insert(
            "check".into(),
            json!(if self.failed == 0 { "OK" } else { "FAIL" }),
        );
        Value::Object(m)
    }
}

fn fmt(x: f64, digits: usize) -> String {
    if x.is_finite() {
        format!("{x:.digits$}")
    } else {
        "-".into()
    }
}

/// The human table (medians).
pub fn table(summaries: &[Summary], churn: bool) -> String {
    let mut head = vec![
        "dut",
        "fam",
        "K",
        "M",
        "N",
        "reps",
        "median_s",
        "routes/s",
        "paths/s",
        "peak_MiB",
        "idle_MiB",
        "B/route/peer",
        "cpu_s",
        "ka_gap_s",
        "silence_s",
        "down",
    ];
    if churn {
        head.extend(["churn_s", "churn_rt/s", "churn_cpu"]);
    }
    head.push("check");
    let mut rows: Vec<Vec<String>> = vec![head.iter().map(|s| s.to_string()).collect()];
    for s in summaries {
        let mut r = vec![
            s.dut.clone(),
            s.info.family.to_string(),
            s.info.feeders.to_string(),
            s.info.monitors.to_string(),
            s.info.routes.to_string(),
            s.reps.to_string(),
            fmt(s.get("seconds"), 2),
            fmt(s.get("routes_per_s"), 0),
            fmt(s.get("paths_per_s"), 0),
            fmt(s.get("peak_rss_mib"), 1),
            fmt(s.get("idle_rss_mib"), 1),
            fmt(s.get("rss_bytes_per_route_peer"), 0),
            fmt(s.get("cpu_s"), 2),
            fmt(s.get("keepalive_gap_s"), 1),
            fmt(s.get("silence_s"), 1),
            fmt(s.get("sessions_down"), 0),
        ];
        if churn {
            r.push(fmt(s.get("churn_seconds"), 2));
            r.push(fmt(s.get("churn_routes_per_s"), 0));
            r.push(fmt(s.get("churn_cpu_s"), 2));
        }
        r.push(if s.failed == 0 {
            "OK".into()
        } else {
            format!("FAIL({}/{})", s.failed, s.reps)
        });
        rows.push(r);
    }
    let widths: Vec<usize> = (0..rows[0].len())
        .map(|c| rows.iter().map(|r| r[c].len()).max().unwrap_or(0))
        .collect();
    let mut out = String::new();
    for r in rows {
        let cells: Vec<String> = r
            .iter()
            .enumerate()
            .map(|(c, v)| format!("{v:>w$}", w = widths[c]))
            .collect();
        out.push_str(cells.join("  ").trim_end());
        out.push('\n');
    }
    out
}

/// Append rows (per repetition) and medians to a TSV file; header when new.
pub fn append_tsv(path: &Path, rows: &[Row], summaries: &[Summary], date: &str) -> Result<()> {
    let new = !path.exists();
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .with_context(|| format!("opening {}", path.display()))?;
    // One fixed column set for every scenario, so files concatenate.
    let cols = [
        "date",
        "scenario",
        "dut",
        "family",
        "feeders",
        "monitors",
        "routes",
        "rep",
        "seconds",
        "routes_per_s",
        "paths_per_s",
        "peak_rss_mib",
        "idle_rss_mib",
        "rss_bytes_per_route_peer",
        "cpu_s",
        "keepalive_gap_s",
        "silence_s",
        "sessions_down",
        "churn_seconds",
        "churn_routes_per_s",
        "churn_cpu_s",
        "check",
    ];
    if new {
        writeln!(f, "{}", cols.join("\t"))?;
    }
    let cell = |v: Option<&Value>| match v {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Null) | None => String::new(),
        Some(v) => v.to_string(),
    };
    for r in rows {
        let j = r.to_json();
        let line: Vec<String> = cols
            .iter()
            .map(|&c| {
                if c == "date" {
                    date.to_string()
                } else {
                    cell(j.get(c))
                }
            })
            .collect();
        writeln!(f, "{}", line.join("\t"))?;
    }
    for s in summaries {
        let j = s.to_json();
        let line: Vec<String> = cols
            .iter()
            .map(|&c| match c {
                "date" => date.to_string(),
                "rep" => "median".to_string(),
                _ => cell(j.get(c)),
            })
            .collect();
        writeln!(f, "{}", line.join("\t"))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_rows_match_header() {
        for churn in [false, true] {
            let row = Row {
                info: RunInfo {
                    scenario: "churn",
                    dut: "bird".into(),
                    family: "ipv4",
                    feeders: 1,
                    monitors: 1,
                    routes: 10,
                    churn_routes: if churn { 4 } else { 0 },
                    rep: 1,
                },
                result: RunResult {
                    ok: true,
                    seconds: 1.0,
                    churn_seconds: Some(0.5),
                    ..Default::default()
                },
            };
            let t = table(&summarize(&[row]), churn);
            let lines: Vec<&str> = t.lines().collect();
            assert_eq!(lines.len(), 2);
            assert_eq!(
                lines[0].split_whitespace().count(),
                lines[1].split_whitespace().count()
            );
        }
    }
}
