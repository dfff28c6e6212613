//! The offline tools behind `closctl fib lookup` and `closctl fib bench`.
//!
//! Owns the lookup filter (addresses on a reader, `ADDRESS NEXTHOP_ID` on a
//! writer), the benchmark harness and its report (text and JSON), and the
//! workload generators (uniform random addresses, addresses drawn from the
//! table's prefixes, route-change streams, frame mixes). The CLI only
//! parses flags and calls in here.

use std::io::{BufRead, Write};
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use crate::concurrent::{Change, FibWriter};
use crate::ecmp::{NextHop, NextHopGroup, NextHopTable};
use crate::pipeline::{frames, Action, Pipeline, SlowPathQueue};
use crate::prefix::{Address, Family, Prefix, Route, RouteTable};
use crate::reference::{Dir24_8, ReferenceLpm};
use crate::table::{Table, NO_ROUTE};
use crate::FibError;

/// A small, fast, deterministic generator (SplitMix64) for workloads.
#[derive(Clone, Debug)]
pub struct SplitMix64(u64);

impl SplitMix64 {
    /// Seeded generator.
    pub fn new(seed: u64) -> Self {
        SplitMix64(seed)
    }
    /// Next 64 random bits.
    #[inline]
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    /// Uniform in `0..n` (n > 0).
    #[inline]
    pub fn below(&mut self, n: usize) -> usize {
        (((self.next_u64() >> 32) * n as u64) >> 32) as usize
    }
}

/// Uniformly random addresses.
pub fn random_addresses<A: Address>(n: usize, seed: u64) -> Vec<A> {
    let mut rng = SplitMix64::new(seed);
    (0..n)
        .map(|_| A::from_random(rng.next_u64(), rng.next_u64()))
        .collect()
}

/// Addresses inside prefixes of `routes`, each prefix equally likely, host
/// bits random.
pub fn table_addresses<A: Address>(routes: &[Route<A>], n: usize, seed: u64) -> Vec<A> {
    let mut rng = SplitMix64::new(seed);
    if routes.is_empty() {
        return random_addresses(n, seed);
    }
    (0..n)
        .map(|_| {
            let r = routes[rng.below(routes.len())].prefix;
            let host = A::from_random(rng.next_u64(), rng.next_u64());
            merge_host(r.addr(), r.addr().last(r.len()), host)
        })
        .collect()
}

fn merge_host<A: Address>(network: A, last: A, host: A) -> A {
    let (n, l, h) = (network.to_u128(), last.to_u128(), host.to_u128());
    A::from_u128(n | (h & (n ^ l)))
}

/// Reads addresses (one a line) from `input` and writes `ADDRESS NEXTHOP_ID`
/// (`-` for no route) to `output`, using the table file at `table`. With a
/// family, only that family's routes are loaded and other addresses are an
/// error. Returns the number of addresses looked up.
pub fn lookup(
    table: &Path,
    family: Option<Family>,
    input: impl BufRead,
    output: impl Write,
) -> Result<u64, FibError> {
    let routes = RouteTable::read(table)?;
    let v4 = Table::build(if family != Some(Family::Ipv6) {
        &routes.v4
    } else {
        &[]
    });
    let v6 = Table::build(if family != Some(Family::Ipv4) {
        &routes.v6
    } else {
        &[]
    });
    let mut out = std::io::BufWriter::new(output);
    let mut count = 0;
    let io = |source| FibError::Io {
        path: "stdin/stdout".into(),
        source,
    };
    for (n, line) in input.lines().enumerate() {
        let line = line.map_err(io)?;
        let text = line.trim();
        if text.is_empty() || text.starts_with('#') {
            continue;
        }
        let bad = |reason: String| FibError::Parse {
            origin: "stdin".into(),
            line: n + 1,
            reason,
        };
        let addr: IpAddr = text
            .parse()
            .map_err(|_| bad(format!("`{text}` is not an IP address")))?;
        let hop = match (addr, family) {
            (IpAddr::V4(a), None | Some(Family::Ipv4)) => v4.lookup(u32::from(a)),
            (IpAddr::V6(a), None | Some(Family::Ipv6)) => v6.lookup(u128::from(a)),
            (_, Some(f)) => return Err(bad(format!("`{text}` is not an {f} address"))),
        };
        match hop {
            Some(h) => writeln!(out, "{text} {h}"),
            None => writeln!(out, "{text} -"),
        }
        .map_err(io)?;
        count += 1;
    }
    out.flush().map_err(io)?;
    Ok(count)
}

/// Options of `closctl fib bench`.
#[derive(Clone, Debug)]
pub struct BenchOptions {
    /// Table file.
    pub table: PathBuf,
    /// Family to measure; default: the one with more routes.
    pub family: Option<Family>,
    /// Lookups per measurement.
    pub lookups: usize,
    /// Measurements per figure (the median is reported).
    pub runs: usize,
    /// Route changes in the update measurement (0: skip).
    pub updates: usize,
    /// Packets per pipeline measurement (0: skip).
    pub packets: usize,
}

impl BenchOptions {
    /// Defaults: 2^24 lookups, 3 runs, 100k updates, 2^22 packets.
    pub fn new(table: PathBuf) -> Self {
        BenchOptions {
            table,
            family: None,
            lookups: 1 << 24,
            runs: 3,
            updates: 100_000,
            packets: 1 << 22,
        }
    }
}

/// Median, minimum and maximum of repeated measurements.
#[derive(Clone, Copy, Debug, Default, serde::Serialize)]
pub struct Spread {
    /// Median.
    pub median: f64,
    /// Smallest.
    pub min: f64,
    /// Largest.
    pub max: f64,
}

impl Spread {
    fn of(mut v: Vec<f64>) -> Self {
        v.sort_by(f64::total_cmp);
        Spread {
            median: v[v.len() / 2],
            min: v[0],
            max: v[v.len() - 1],
        }
    }
}

/// The result of a benchmark run. Rates are single-core, millions per second.
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct BenchReport {
    /// Family measured.
    pub family: Option<Family>,
    /// Routes in the table.
    pub routes: usize,
    /// Lookups per measurement.
    pub lookups: usize,
    /// Measurements per figure.
    pub runs: usize,
    /// Median build time of the FIB from parsed routes, seconds.
    pub build_s: f64,
    /// Bytes of the lookup structure (one copy).
    pub memory_bytes: usize,
    /// Batched lookups of uniformly random addresses (median).
    pub random_mlps: f64,
    /// Batched lookups of addresses drawn from the table's prefixes (median).
    pub table_mlps: f64,
    /// One-at-a-time lookups, random addresses (median).
    pub random_single_mlps: f64,
    /// One-at-a-time lookups, table-drawn addresses (median).
    pub table_single_mlps: f64,
    /// The reference, batched, random addresses (median).
    pub reference_random_mlps: f64,
    /// The reference, batched, table-drawn addresses (median).
    pub reference_table_mlps: f64,
    /// Which reference: `dir-24-8` (IPv4) or `hash-per-length` (IPv6).
    pub reference: String,
    /// Reference build time, seconds.
    pub reference_build_s: f64,
    /// Reference memory, bytes.
    pub reference_memory_bytes: usize,
    /// Spreads of the figures above, keyed like them.
    pub spread: std::collections::BTreeMap<String, Spread>,
    /// Route changes applied (one publish each) per second while a reader
    /// thread looks up.
    pub updates_per_s: f64,
    /// Route changes per second applied in batches of 1000.
    pub updates_batched_per_s: f64,
    /// Lookups per second the concurrent reader achieved during updates.
    pub reader_mlps_during_updates: f64,
    /// Memory of the concurrent FIB (both left-right copies).
    pub concurrent_memory_bytes: usize,
    /// Times the writer cloned the table instead of waiting for the reader.
    pub update_clone_fallbacks: u64,
    /// Pipeline: 64-byte IPv4 (or 78-byte IPv6) UDP frames to table-drawn
    /// destinations, millions of packets per second (median).
    pub pipeline_mpps: f64,
    /// Pipeline on a mix: 90% table-drawn, 8% random destinations, 1% TTL
    /// expiring, 1% bad checksum (median).
    pub pipeline_mix_mpps: f64,
}

/// Runs `f` `runs` times; returns the rates `units / seconds / 1e6`.
fn rates(runs: usize, units: usize, mut f: impl FnMut()) -> Spread {
    let v = (0..runs.max(1))
        .map(|_| {
            let t = Instant::now();
            f();
            units as f64 / t.elapsed().as_secs_f64() / 1e6
        })
        .collect();
    Spread::of(v)
}

/// Runs the benchmark described by `opts`.
pub fn bench(opts: &BenchOptions) -> Result<BenchReport, FibError> {
    let routes = RouteTable::read(&opts.table)?;
    match opts.family.unwrap_or_else(|| routes.main_family()) {
        Family::Ipv4 => {
            let reference = |r: &[Route<u32>]| {
                let t = Instant::now();
                let d = Dir24_8::build(r);
                let built = t.elapsed().as_secs_f64();
                let memory = d.memory_bytes();
                (
                    move |a: &[u32], o: &mut [u32]| d.lookup_batch(a, o),
                    built,
                    memory,
                )
            };
            bench_family(&routes.v4, opts, "dir-24-8", reference)
        }
        Family::Ipv6 => {
            let reference = |r: &[Route<u128>]| {
                let t = Instant::now();
                let d = ReferenceLpm::new(r);
                let built = t.elapsed().as_secs_f64();
                (
                    move |a: &[u128], o: &mut [u32]| {
                        for (o, &a) in o.iter_mut().zip(a) {
                            *o = d.lookup(a).unwrap_or(NO_ROUTE);
                        }
                    },
                    built,
                    0,
                )
            };
            bench_family(&routes.v6, opts, "hash-per-length", reference)
        }
    }
}

fn bench_family<A: Address, R: Fn(&[A], &mut [u32])>(
    routes: &[Route<A>],
    opts: &BenchOptions,
    reference_name: &str,
    reference: impl FnOnce(&[Route<A>]) -> (R, f64, usize),
) -> Result<BenchReport, FibError> {
    let n = opts.lookups.max(1024);
    let runs = opts.runs.max(1);
    let mut report = BenchReport {
        family: Some(A::FAMILY),
        routes: routes.len(),
        lookups: n,
        runs,
        reference: reference_name.to_string(),
        ..Default::default()
    };
    let build = Spread::of(
        (0..runs)
            .map(|_| {
                let t = Instant::now();
                std::hint::black_box(Table::build(routes));
                t.elapsed().as_secs_f64()
            })
            .collect(),
    );
    report.build_s = build.median;
    report.spread.insert("build_s".into(), build);
    let table = Table::build(routes);
    report.memory_bytes = table.memory_bytes();

    let random = random_addresses::<A>(n, 1);
    let drawn = table_addresses(routes, n, 2);
    let mut out = vec![0u32; n];
    let mut record = |name: &str, s: Spread| {
        report.spread.insert(name.to_string(), s);
        s.median
    };
    report.random_mlps = record(
        "random_mlps",
        rates(runs, n, || table.lookup_batch(&random, &mut out)),
    );
    report.table_mlps = record(
        "table_mlps",
        rates(runs, n, || table.lookup_batch(&drawn, &mut out)),
    );
    report.random_single_mlps = record(
        "random_single_mlps",
        rates(runs, n, || {
            for (o, &a) in out.iter_mut().zip(&random) {
                *o = table.lookup_raw(a);
            }
        }),
    );
    report.table_single_mlps = record(
        "table_single_mlps",
        rates(runs, n, || {
            for (o, &a) in out.iter_mut().zip(&drawn) {
                *o = table.lookup_raw(a);
            }
        }),
    );
    let (reference, built, memory) = reference(routes);
    report.reference_build_s = built;
    report.reference_memory_bytes = memory;
    // The IPv6 reference (a hash probe per length) runs at about 1 M/s:
    // measure it on a slice so the command still takes seconds.
    let m = if A::BITS == 32 { n } else { n.min(1 << 18) };
    report.reference_random_mlps = record(
        "reference_random_mlps",
        rates(runs, m, || reference(&random[..m], &mut out[..m])),
    );
    report.reference_table_mlps = record(
        "reference_table_mlps",
        rates(runs, m, || reference(&drawn[..m], &mut out[..m])),
    );
    std::hint::black_box(&out);
    drop(reference);
    if opts.updates > 0 {
        bench_updates(routes, opts.updates, &mut report)?;
    }
    if opts.packets > 0 {
        let (pure, mix) = bench_pipeline(&table, routes, opts.packets, runs);
        report.pipeline_mpps = pure.median;
        report.pipeline_mix_mpps = mix.median;
        report.spread.insert("pipeline_mpps".into(), pure);
        report.spread.insert("pipeline_mix_mpps".into(), mix);
    }
    Ok(report)
}

/// A stream of route changes: next-hop changes, withdrawals and
/// re-announcements of table prefixes, and new more-specific prefixes.
pub fn change_stream<A: Address>(routes: &[Route<A>], n: usize, seed: u64) -> Vec<Change<A>> {
    let mut rng = SplitMix64::new(seed);
    let mut withdrawn = Vec::new();
    (0..n)
        .map(|_| {
            let roll = rng.below(100);
            if roll < 30 && !withdrawn.is_empty() {
                let r: Route<A> = withdrawn.swap_remove(rng.below(withdrawn.len()));
                Change::Announce(r)
            } else if roll < 60 && !routes.is_empty() {
                let r = routes[rng.below(routes.len())];
                withdrawn.push(r);
                Change::Withdraw(r.prefix)
            } else if roll < 90 && !routes.is_empty() {
                let mut r = routes[rng.below(routes.len())];
                r.nexthop = rng.below(16) as u32;
                Change::Announce(r)
            } else {
                let len = if A::BITS == 32 { 24 } else { 48 };
                let addr = A::from_random(rng.next_u64(), rng.next_u64());
                Change::Announce(Route {
                    prefix: Prefix::new(addr, len).expect("valid length"),
                    nexthop: rng.below(16) as u32,
                })
            }
        })
        .collect()
}

fn bench_updates<A: Address>(
    routes: &[Route<A>],
    n: usize,
    report: &mut BenchReport,
) -> Result<(), FibError> {
    let changes = change_stream(routes, n, 3);
    let mut writer = FibWriter::new(routes)?;
    let reader = writer.reader();
    let stop = Arc::new(AtomicBool::new(false));
    let looked_up = Arc::new(AtomicU64::new(0));
    let addrs = table_addresses(routes, 1 << 16, 4);
    let thread = {
        let (stop, looked_up) = (Arc::clone(&stop), Arc::clone(&looked_up));
        std::thread::spawn(move || {
            let mut out = vec![0u32; 1024];
            let mut count = 0u64;
            while !stop.load(Ordering::Relaxed) {
                for chunk in addrs.chunks(1024) {
                    reader.lookup_batch(chunk, &mut out);
                    count += chunk.len() as u64;
                }
            }
            looked_up.store(count, Ordering::Relaxed);
        })
    };
    let t = Instant::now();
    for c in &changes {
        writer.apply(std::slice::from_ref(c))?;
    }
    let single = t.elapsed().as_secs_f64();
    stop.store(true, Ordering::Relaxed);
    thread.join().expect("reader thread");
    report.updates_per_s = n as f64 / single;
    report.reader_mlps_during_updates = looked_up.load(Ordering::Relaxed) as f64 / single / 1e6;
    report.concurrent_memory_bytes = writer.memory_bytes();
    report.update_clone_fallbacks = writer.clone_fallbacks();

    let mut writer = FibWriter::new(routes)?;
    let t = Instant::now();
    for batch in changes.chunks(1000) {
        writer.apply(batch)?;
    }
    report.updates_batched_per_s = n as f64 / t.elapsed().as_secs_f64();
    Ok(())
}

/// Next-hop groups for ids 0..16: every fourth id is a 4-way ECMP group.
pub fn demo_nexthops() -> NextHopTable {
    let mut table = NextHopTable::new();
    let hop = |i: u16| NextHop {
        dst_mac: [0x02, 0xaa, 0, 0, (i >> 8) as u8, i as u8],
        src_mac: [0x02, 0xbb, 0, 0, 0, (i % 8) as u8],
        port: i % 8,
    };
    for id in 0..16u16 {
        let group = if id % 4 == 0 {
            NextHopGroup::new((0..4).map(|m| hop(id * 4 + m)).collect()).expect("4 members")
        } else {
            NextHopGroup::single(hop(id))
        };
        table.set(id as u32, group);
    }
    table
}

/// Builds `count` frames to the given destinations (`mix`: the documented
/// share of random destinations, expiring TTLs and bad checksums).
fn make_frames<A: Address>(dsts: &[A], random: &[A], mix: bool) -> Vec<Vec<u8>> {
    let mut rng = SplitMix64::new(5);
    dsts.iter()
        .zip(random)
        .map(|(&d, &r)| {
            let roll = if mix { rng.below(100) } else { 99 };
            let dst = if roll < 8 { r } else { d };
            let ttl = if roll == 8 { 1 } else { 64 };
            let (sp, dp) = (rng.below(65536) as u16, 443);
            let mut f = if A::BITS == 32 {
                frames::ipv4_udp(0x0a00_0001, dst.to_u128() as u32, ttl, sp, dp)
            } else {
                frames::ipv6_udp(0x2001_0db8 << 96, dst.to_u128(), ttl, sp, dp)
            };
            if roll == 9 && A::BITS == 32 {
                f[24] ^= 0xff; // corrupt the checksum
            }
            f
        })
        .collect()
}

fn bench_pipeline<A: Address>(
    table: &Table<A>,
    routes: &[Route<A>],
    packets: usize,
    runs: usize,
) -> (Spread, Spread) {
    const POOL: usize = 8192;
    let nexthops = demo_nexthops();
    let dsts = table_addresses(routes, POOL, 6);
    let random = random_addresses::<A>(POOL, 7);
    let empty4 = Table::<u32>::new();
    let empty6 = Table::<u128>::new();
    let measure = |templates: Vec<Vec<u8>>| {
        let mut pipeline = Pipeline::new();
        let mut slow = SlowPathQueue::new(1024);
        let mut actions = Vec::with_capacity(256);
        let mut pool = templates.clone();
        let per_run = packets.max(POOL);
        let v = (0..runs)
            .map(|_| {
                let mut seconds = 0.0;
                let mut done = 0;
                while done < per_run {
                    for (f, t) in pool.iter_mut().zip(&templates) {
                        f.copy_from_slice(t);
                    }
                    for batch in pool.chunks_mut(256) {
                        let mut frames: Vec<&mut [u8]> =
                            batch.iter_mut().map(|f| f.as_mut_slice()).collect();
                        let t = Instant::now();
                        with_tables(table, &empty4, &empty6, |v4, v6| {
                            pipeline.process(
                                v4,
                                v6,
                                &nexthops,
                                &mut frames,
                                &mut actions,
                                &mut slow,
                            )
                        });
                        seconds += t.elapsed().as_secs_f64();
                        while slow.pop().is_some() {}
                    }
                    done += POOL;
                }
                std::hint::black_box(
                    actions
                        .iter()
                        .filter(|a| matches!(a, Action::Forward { .. }))
                        .count(),
                );
                done as f64 / seconds / 1e6
            })
            .collect();
        Spread::of(v)
    };
    let pure = measure(make_frames(&dsts, &random, false));
    let mix = measure(make_frames(&dsts, &random, true));
    (pure, mix)
}

/// Calls `f` with the measured table in the slot of its family.
fn with_tables<A: Address, T>(
    table: &Table<A>,
    empty4: &Table<u32>,
    empty6: &Table<u128>,
    f: impl FnOnce(&Table<u32>, &Table<u128>) -> T,
) -> T {
    let any: &dyn std::any::Any = table;
    if let Some(v4) = any.downcast_ref::<Table<u32>>() {
        f(v4, empty6)
    } else if let Some(v6) = any.downcast_ref::<Table<u128>>() {
        f(empty4, v6)
    } else {
        unreachable!("Address is implemented for u32 and u128 only")
    }
}

impl BenchReport {
    /// Human-readable report.
    pub fn to_text(&self) -> String {
        let s = |k: &str| {
            self.spread
                .get(k)
                .map(|s| format!("(min {:.1}, max {:.1})", s.min, s.max))
                .unwrap_or_default()
        };
        let mut t = String::new();
        let family = self.family.map(|f| f.to_string()).unwrap_or_default();
        t += &format!(
            "{family}: {} routes, {} lookups per run, median of {} runs, one core\n",
            self.routes, self.lookups, self.runs
        );
        t += &format!(
            "build            {:.3} s   memory {:.2} MiB\n",
            self.build_s,
            self.memory_bytes as f64 / (1 << 20) as f64
        );
        t += &format!(
            "random  batched  {:7.1} M/s {}\n",
            self.random_mlps,
            s("random_mlps")
        );
        t += &format!(
            "table   batched  {:7.1} M/s {}\n",
            self.table_mlps,
            s("table_mlps")
        );
        t += &format!(
            "random  single   {:7.1} M/s {}\n",
            self.random_single_mlps,
            s("random_single_mlps")
        );
        t += &format!(
            "table   single   {:7.1} M/s {}\n",
            self.table_single_mlps,
            s("table_single_mlps")
        );
        t += &format!(
            "reference ({}, {:.1} MiB, built in {:.3} s):\n",
            self.reference,
            self.reference_memory_bytes as f64 / (1 << 20) as f64,
            self.reference_build_s
        );
        t += &format!(
            "random  batched  {:7.1} M/s {}\n",
            self.reference_random_mlps,
            s("reference_random_mlps")
        );
        t += &format!(
            "table   batched  {:7.1} M/s {}\n",
            self.reference_table_mlps,
            s("reference_table_mlps")
        );
        if self.updates_per_s > 0.0 {
            t += &format!(
                "updates          {:.0}/s one publish each ({:.1} M lookups/s on a reader thread meanwhile), {:.0}/s in batches of 1000; both copies {:.2} MiB\n",
                self.updates_per_s,
                self.reader_mlps_during_updates,
                self.updates_batched_per_s,
                self.concurrent_memory_bytes as f64 / (1 << 20) as f64
            );
        }
        if self.pipeline_mpps > 0.0 {
            t += &format!(
                "pipeline         {:7.1} Mpps {}  mix {:.1} Mpps {}\n",
                self.pipeline_mpps,
                s("pipeline_mpps"),
                self.pipeline_mix_mpps,
                s("pipeline_mix_mpps")
            );
        }
        t
    }

    /// One JSON object.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("report serialises")
    }
}
