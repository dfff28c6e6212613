//! `clos-lab converge`: how long traffic is lost when a fabric link fails.
//!
//! For each failure: wait for full ECMP, start a UDP stream (one packet a
//! millisecond, sequence-numbered and time-stamped on the sender's clock)
//! from a host behind the first leaf to a host behind the last leaf, find
//! the spine that carries it (the source leaf's uplink whose transmit
//! counter grows), fail that spine's link to the destination leaf (by
//! default: the far side, where recovery needs a BGP withdrawal to reach
//! the source leaf) or to the source leaf (`--side source`: the leaf sees
//! its own link go down), or the `--link` given, then wait until packets
//! flow steadily again. The loss window is measured from the received
//! sequence: the sender-clock time between the last packet before a gap
//! and the first after it, less one interval ([`probe::loss`]). Then the
//! link is restored, and the next failure waits for full ECMP again.

use std::net::IpAddr;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use serde::Serialize;
use serde_json::Value;

use crate::fabric;
use crate::observe;
use crate::plan::{namespace, Fabric, FabricLink, Host};
use crate::probe::{self, Probe};
use crate::state::{LabDir, State};
use crate::sys::{ip_in, wait_until};
use crate::table::Table;

/// The UDP port of the probe stream (source and destination).
const PROBE_PORT: u16 = 47_474;
/// How long traffic must flow without a gap to count as recovered.
const SETTLE: Duration = Duration::from_millis(500);
/// How long full ECMP may take to come back after a restore.
const ECMP_TIMEOUT: Duration = Duration::from_secs(90);

/// Which link of the carrying spine to fail.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Side {
    /// The spine's link to the source leaf.
    Source,
    /// The spine's link to the destination leaf.
    Destination,
}

/// `converge` settings.
#[derive(Debug, Clone)]
pub struct Settings {
    /// How many failures to measure.
    pub failures: u32,
    /// Always fail this link (or all links of this switch).
    pub link: Option<String>,
    /// Otherwise, which link of the carrying spine.
    pub side: Side,
    /// Source host (default: the first host of leaf1).
    pub from: Option<String>,
    /// Destination host (default: the first host of the last leaf).
    pub to: Option<String>,
    /// Probe interval.
    pub interval: Duration,
    /// Print JSON.
    pub json: bool,
}

/// One measured failure.
#[derive(Debug, Clone, Serialize)]
pub struct FailureResult {
    /// 1-based.
    pub index: u32,
    /// The failed link(s), comma-separated.
    pub link: String,
    /// Time without traffic, milliseconds.
    pub loss_ms: f64,
    /// Packets lost.
    pub lost_packets: u64,
    /// Separate gaps.
    pub gaps: usize,
    /// Packets sent during the measurement.
    pub sent: u64,
    /// Whether traffic flowed steadily again before the deadline.
    pub recovered: bool,
}

/// The whole measurement (`converge --json` prints this).
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub source: String,
    pub source_address: IpAddr,
    pub destination: String,
    pub destination_address: IpAddr,
    pub interval_ms: f64,
    pub side: Option<Side>,
    pub loss_ms_median: f64,
    pub loss_ms_max: f64,
    pub failures: Vec<FailureResult>,
}

fn pick_host<'a>(fabric: &'a Fabric, given: Option<&str>, leaf: u32) -> Result<&'a Host> {
    match given {
        Some(name) => fabric
            .host(name)
            .with_context(|| format!("no host {name} in this fabric")),
        None => fabric
            .hosts
            .iter()
            .find(|h| h.leaf == leaf)
            .context("the fabric has no hosts"),
    }
}

/// Runs the measurement.
pub fn run(
    fabric: &Fabric,
    prefix: &str,
    dir: &LabDir,
    state: &State,
    settings: &Settings,
) -> Result<Report> {
    let source = pick_host(fabric, settings.from.as_deref(), 1)?;
    let destination = pick_host(fabric, settings.to.as_deref(), fabric.intent.leaves)?;
    if source.leaf == destination.leaf {
        bail!(
            "{} and {} are behind the same leaf: their traffic crosses no spine \
             (converge needs at least two leaves)",
            source.name,
            destination.name
        );
    }
    let fixed = match &settings.link {
        Some(text) => Some(fabric.resolve_links(text).map_err(anyhow::Error::msg)?),
        None => None,
    };
    let source_ns = namespace(prefix, &source.name);
    let destination_ns = namespace(prefix, &destination.name);
    let (from, to) = (
        IpAddr::V4(source.address.addr()),
        IpAddr::V4(destination.address.addr()),
    );
    let recovery_timeout = Duration::from_secs(u64::from(fabric.intent.hold_time) * 3 + 20);

    let mut failures = Vec::new();
    for index in 1..=settings.failures {
        wait_full_ecmp(fabric, prefix, dir, state)?;
        let probe = Probe::start(
            &source_ns,
            from,
            &destination_ns,
            to,
            PROBE_PORT,
            settings.interval,
        )?;
        wait_until(
            &format!(
                "probe traffic from {} to {} before failing a link",
                source.name, destination.name
            ),
            Duration::from_secs(10),
            || Ok((probe::distinct(&probe.arrivals()) >= 200).then_some(())),
        )?;
        let links = match &fixed {
            Some(links) => links.clone(),
            None => {
                let spine = carrying_spine(fabric, prefix, source.leaf)?;
                let leaf = match settings.side {
                    Side::Source => source.leaf,
                    Side::Destination => destination.leaf,
                };
                vec![FabricLink { spine, leaf }]
            }
        };
        let names: Vec<String> = links.iter().map(FabricLink::name).collect();
        let failed_at = probe.now_ns();
        fabric::set_links(fabric, prefix, &links, false)?;
        let deadline = Instant::now() + recovery_timeout;
        let mut recovered = false;
        while Instant::now() < deadline {
            if probe::recovered(&probe.arrivals(), failed_at, SETTLE) {
                recovered = true;
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let (sent, arrivals) = probe.finish(Duration::from_millis(200));
        let loss = probe::loss(&arrivals, failed_at, settings.interval);
        fabric::set_links(fabric, prefix, &links, true)?;
        let result = FailureResult {
            index,
            link: names.join(","),
            loss_ms: round(loss.loss_ms),
            lost_packets: loss.lost,
            gaps: loss.gaps,
            sent,
            recovered,
        };
        eprintln!(
            "clos-lab: failure {index}/{}: {} down, {} ms of loss ({} packets){}",
            settings.failures,
            result.link,
            result.loss_ms,
            result.lost_packets,
            if recovered { "" } else { ", NOT recovered" }
        );
        failures.push(result);
    }
    wait_full_ecmp(fabric, prefix, dir, state)?;
    let losses: Vec<f64> = failures.iter().map(|f| f.loss_ms).collect();
    Ok(Report {
        source: source.name.clone(),
        source_address: from,
        destination: destination.name.clone(),
        destination_address: to,
        interval_ms: settings.interval.as_secs_f64() * 1000.0,
        side: fixed.is_none().then_some(settings.side),
        loss_ms_median: round(median(&losses)),
        loss_ms_max: round(losses.iter().copied().fold(0.0, f64::max)),
        failures,
    })
}

fn round(ms: f64) -> f64 {
    (ms * 1000.0).round() / 1000.0
}

/// The median (mean of the middle two for an even count); 0 when empty.
pub fn median(values: &[f64]) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    match sorted.len() {
        0 => 0.0,
        n if n % 2 == 1 => sorted[n / 2],
        n => (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0,
    }
}

/// Waits until every switch has every route with all its paths.
pub fn wait_full_ecmp(fabric: &Fabric, prefix: &str, dir: &LabDir, state: &State) -> Result<()> {
    wait_until("full ECMP on every switch", ECMP_TIMEOUT, || {
        let status = observe::status(fabric, prefix, dir, state);
        if status.full_ecmp {
            Ok(Some(()))
        } else {
            bail!(
                "{}",
                status
                    .problems
                    .first()
                    .map_or("links are down", String::as_str)
            )
        }
    })
}

/// Transmitted packets per spine uplink of a leaf (`ip -s -j link`).
fn uplink_tx(prefix: &str, fabric: &Fabric, leaf: u32) -> Result<Vec<(u32, u64)>> {
    let switch = fabric
        .leaves
        .get(leaf as usize - 1)
        .context("no such leaf")?;
    let out = ip_in(
        &namespace(prefix, &switch.name),
        &["-s", "-j", "link", "show"],
    )?;
    let links: Value = serde_json::from_str(&out).context("ip -s -j link printed bad JSON")?;
    Ok(switch
        .ports
        .iter()
        .map(|port| {
            let packets = links
                .as_array()
                .into_iter()
                .flatten()
                .find(|l| l["ifname"].as_str() == Some(&port.interface))
                .and_then(|l| l["stats64"]["tx"]["packets"].as_u64())
                .unwrap_or(0);
            (port.link.spine, packets)
        })
        .collect())
}

/// The spine whose uplink from `leaf` carries the probe: the one whose
/// transmit counter grows the most over half a second.
fn carrying_spine(fabric: &Fabric, prefix: &str, leaf: u32) -> Result<u32> {
    let before = uplink_tx(prefix, fabric, leaf)?;
    std::thread::sleep(Duration::from_millis(500));
    let after = uplink_tx(prefix, fabric, leaf)?;
    let (spine, grown) = before
        .iter()
        .zip(&after)
        .map(|((spine, a), (_, b))| (*spine, b.saturating_sub(*a)))
        .max_by_key(|(_, grown)| *grown)
        .context("the leaf has no uplinks")?;
    // At one packet a millisecond, the carrying uplink sends hundreds.
    if grown < 100 {
        bail!(
            "cannot tell which spine carries the probe: leaf{leaf}'s busiest uplink sent \
             only {grown} packets in 0.5 s"
        );
    }
    Ok(spine)
}

/// The report as a table.
pub fn render(report: &Report) -> String {
    let mut out = format!(
        "probe {} ({}) -> {} ({}), UDP every {} ms\n\n",
        report.source,
        report.source_address,
        report.destination,
        report.destination_address,
        report.interval_ms
    );
    let mut table = Table::new(&["#", "LINK", "LOSS-MS", "LOST", "GAPS", "SENT", "RECOVERED"]);
    for f in &report.failures {
        table.row(vec![
            f.index.to_string(),
            f.link.clone(),
            format!("{:.1}", f.loss_ms),
            f.lost_packets.to_string(),
            f.gaps.to_string(),
            f.sent.to_string(),
            if f.recovered { "yes" } else { "NO" }.to_string(),
        ]);
    }
    out.push_str(&table.render());
    out.push_str(&format!(
        "\nloss over {} failure(s): median {:.1} ms, max {:.1} ms\n",
        report.failures.len(),
        report.loss_ms_median,
        report.loss_ms_max
    ));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn medians() {
        assert_eq!(median(&[]), 0.0);
        assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&[4.0, 1.0, 2.0, 3.0]), 2.5);
    }
}
