//! Installs the same N single-path IPv4 routes (one gateway) with each
//! candidate, inside a fresh network namespace, and prints routes/second.
//!
//! Candidates: rtnetlink 0.24 (one request at a time, and 64 in flight),
//! nlink 0.33 (`Connection::batch`), and clos-fib-kernel (netlink-sys +
//! hand-encoded, pipelined; inline and nexthop-object modes).

use std::net::Ipv4Addr;
use std::time::Instant;

use clos_fib_kernel::netns::Netns;
use clos_fib_kernel::{Change, Config, KernelFib, NextHop, Route, SinglePath};
use futures::stream::{self, StreamExt};
use ipnet::{IpNet, Ipv4Net};

const TABLE: u32 = 100;
const PROTO: u8 = 201;
const GW: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 2);

fn prefixes(n: usize) -> Vec<Ipv4Net> {
    // Distinct /24s in 11.0.0.0/8 upward.
    (0..n as u32)
        .map(|i| Ipv4Net::new(Ipv4Addr::from((11u32 << 24) + (i << 8)), 24).unwrap())
        .collect()
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

fn rtnetlink_run(prefixes: &[Ipv4Net], v0: u32, in_flight: usize) -> Result<f64, String> {
    runtime().block_on(async {
        let (connection, handle, _) = rtnetlink::new_connection().map_err(|e| e.to_string())?;
        tokio::spawn(connection);
        let start = Instant::now();
        let results: Vec<_> = stream::iter(prefixes.iter().map(|p| {
            let message = rtnetlink::RouteMessageBuilder::<Ipv4Addr>::new()
                .destination_prefix(p.network(), p.prefix_len())
                .gateway(GW)
                .output_interface(v0)
                .table_id(TABLE)
                .protocol(rtnetlink::packet_route::route::RouteProtocol::Other(PROTO))
                .build();
            handle.route().add(message).execute()
        }))
        .buffer_unordered(in_flight)
        .collect()
        .await;
        let elapsed = start.elapsed().as_secs_f64();
        let failed = results.iter().filter(|r| r.is_err()).count();
        if failed > 0 {
            return Err(format!(
                "{failed} failed: {:?}",
                results.iter().find(|r| r.is_err())
            ));
        }
        Ok(elapsed)
    })
}

fn nlink_run(prefixes: &[Ipv4Net], v0: u32) -> Result<f64, String> {
    nlink_chunked(prefixes, v0, usize::MAX)
}

/// nlink's batch in slices of `chunk` routes (one `execute` each).
fn nlink_chunked(prefixes: &[Ipv4Net], v0: u32, chunk: usize) -> Result<f64, String> {
    use nlink::netlink::route::Ipv4Route;
    use nlink::netlink::types::route::RouteProtocol;
    runtime().block_on(async {
        let conn = nlink::netlink::Connection::<nlink::netlink::Route>::new()
            .map_err(|e| e.to_string())?;
        let start = Instant::now();
        let (mut ok, mut failed) = (0, 0);
        for slice in prefixes.chunks(chunk) {
            let mut batch = conn.batch();
            for p in slice {
                batch = batch.add_route(
                    Ipv4Route::new(p.network(), p.prefix_len())
                        .gateway(GW)
                        .dev_index(v0)
                        .table(TABLE)
                        .protocol(RouteProtocol::Other(PROTO)),
                );
            }
            let results = batch.execute().await.map_err(|e| e.to_string())?;
            ok += results.success_count();
            failed += results.error_count();
        }
        let elapsed = start.elapsed().as_secs_f64();
        if failed > 0 || ok != prefixes.len() {
            return Err(format!("{ok} ok, {failed} failed of {}", prefixes.len()));
        }
        Ok(elapsed)
    })
}

fn clos_run(prefixes: &[Ipv4Net], v0: u32, mode: SinglePath) -> Result<f64, String> {
    let mut config = Config::new(TABLE, PROTO);
    config.single_path = mode;
    let mut fib = KernelFib::open_with(config).map_err(|e| e.to_string())?;
    let hop = NextHop::new(GW.into(), Some(v0));
    let changes: Vec<Change> = prefixes
        .iter()
        .map(|p| Change::Upsert(Route::new(IpNet::V4(*p), vec![hop])))
        .collect();
    let start = Instant::now();
    let failed = fib.apply(&changes).map_err(|e| e.to_string())?;
    let elapsed = start.elapsed().as_secs_f64();
    if !failed.is_empty() {
        return Err(format!("{} failed", failed.len()));
    }
    Ok(elapsed)
}

fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .map(|a| a.parse().unwrap())
        .unwrap_or(100_000);
    let runs = 3;
    let prefixes = prefixes(n);
    type Candidate = (&'static str, fn(&[Ipv4Net], u32) -> Result<f64, String>);
    let candidates: [Candidate; 6] = [
        ("rtnetlink 0.24, sequential", |p, v| rtnetlink_run(p, v, 1)),
        ("rtnetlink 0.24, 64 in flight", |p, v| {
            rtnetlink_run(p, v, 64)
        }),
        ("nlink 0.33, one batch", nlink_run),
        ("nlink 0.33, batches of 200", |p, v| {
            nlink_chunked(p, v, 200)
        }),
        ("clos-fib-kernel, inline", |p, v| {
            clos_run(p, v, SinglePath::Inline)
        }),
        ("clos-fib-kernel, nexthop object", |p, v| {
            clos_run(p, v, SinglePath::NexthopObject)
        }),
    ];
    println!("| candidate | routes | median s | routes/s |");
    println!("|---|---|---|---|");
    for (name, run) in candidates {
        let mut times = Vec::new();
        let mut error = None;
        for _ in 0..runs {
            // A fresh namespace per run: every candidate starts from an empty table.
            let ns = Netns::create("clos-fk-spike").unwrap();
            ns.ip(&["link", "add", "v0", "type", "veth", "peer", "name", "v1"])
                .unwrap();
            ns.ip(&["link", "set", "v0", "up"]).unwrap();
            ns.ip(&["link", "set", "v1", "up"]).unwrap();
            ns.ip(&["addr", "add", "10.0.0.1/24", "dev", "v0"]).unwrap();
            let out = ns.ip(&["-o", "link", "show", "v0"]).unwrap();
            let v0: u32 = out.split(':').next().unwrap().trim().parse().unwrap();
            match ns.run(|| run(&prefixes, v0)).unwrap() {
                Ok(t) => times.push(t),
                Err(e) => {
                    error = Some(e);
                    break;
                }
            }
        }
        match error {
            Some(e) => println!("| {name} | {n} | failed: {e} | |"),
            None => {
                times.sort_by(f64::total_cmp);
                let t = times[times.len() / 2];
                println!("| {name} | {n} | {t:.3} | {:.0} |", n as f64 / t);
            }
        }
    }
}
