//! Incremental updates: after random change streams, lookups through a
//! reader equal the reference LPM and a fresh build; readers running during
//! updates see whole batches only.

mod common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use clos_fib::reference::ReferenceLpm;
use clos_fib::tools::{change_stream, random_addresses, table_addresses};
use clos_fib::{Address, Change, FibWriter, Prefix, Route, Table};
use proptest::prelude::*;

fn apply_reference<A: Address>(reference: &mut ReferenceLpm<A>, changes: &[Change<A>]) {
    for c in changes {
        match *c {
            Change::Announce(r) => reference.insert(r.prefix, r.nexthop),
            Change::Withdraw(p) => reference.remove(p),
        }
    }
}

fn verify<A: Address>(writer: &FibWriter<A>, reference: &ReferenceLpm<A>, addrs: &[A]) {
    let reader = writer.reader();
    let fresh = Table::build(&writer.routes());
    let snapshot = reader.snapshot();
    for &a in addrs {
        let want = reference.lookup(a);
        assert_eq!(
            snapshot.lookup(a),
            want,
            "updated table at {:?}",
            a.to_std()
        );
        assert_eq!(fresh.lookup(a), want, "fresh build at {:?}", a.to_std());
    }
}

fn stream_strategy<A: Address>() -> impl Strategy<Value = Vec<Vec<Change<A>>>> {
    let bits = A::BITS;
    let change =
        (any::<bool>(), 0u128..8, 0u8..=bits, 0u32..6).prop_map(move |(announce, k, len, nh)| {
            // Few distinct prefixes so announcements and withdrawals collide.
            let top = if bits == 32 {
                (k << 28) | 0x0a00_0000
            } else {
                (k << 120) | (0x2001 << 112)
            };
            let prefix = Prefix::new(A::from_u128(top), len).unwrap();
            if announce {
                Change::Announce(Route {
                    prefix,
                    nexthop: nh,
                })
            } else {
                Change::Withdraw(prefix)
            }
        });
    proptest::collection::vec(proptest::collection::vec(change, 1..6), 1..30)
}

fn run_stream<A: Address>(batches: Vec<Vec<Change<A>>>, probe: &[A]) {
    let mut writer = FibWriter::<A>::new(&[]).unwrap();
    let mut reference = ReferenceLpm::new(&[]);
    for batch in &batches {
        writer.apply(batch).unwrap();
        apply_reference(&mut reference, batch);
        let reader = writer.reader();
        for &a in probe {
            assert_eq!(reader.lookup(a), reference.lookup(a));
        }
    }
    let mut addrs = probe.to_vec();
    addrs.extend(common::edge_addresses(&writer.routes()));
    verify(&writer, &reference, &addrs);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn random_ipv4_update_streams(batches in stream_strategy::<u32>(), probe in proptest::collection::vec(any::<u32>(), 32)) {
        let mut probe = probe;
        probe.extend((0..8u32).map(|k| 0x0a00_0000 | k << 28));
        run_stream(batches, &probe);
    }

    #[test]
    fn random_ipv6_update_streams(batches in stream_strategy::<u128>(), probe in proptest::collection::vec(any::<u128>(), 32)) {
        let mut probe = probe;
        probe.extend((0..8u128).map(|k| (k << 120) | (0x2001 << 112)));
        run_stream(batches, &probe);
    }
}

fn real_stream<A: Address>(routes: &[Route<A>], n: usize) {
    let changes = change_stream(routes, n, 21);
    let mut writer = FibWriter::new(routes).unwrap();
    let mut reference = ReferenceLpm::new(routes);
    // Mix single-change publishes and batches.
    for (i, batch) in changes.chunks(50).enumerate() {
        if i % 2 == 0 {
            for c in batch {
                writer.apply(std::slice::from_ref(c)).unwrap();
            }
        } else {
            writer.apply(batch).unwrap();
        }
    }
    apply_reference(&mut reference, &changes);
    let touched: Vec<Route<A>> = changes
        .iter()
        .map(|c| match *c {
            Change::Announce(r) => r,
            Change::Withdraw(prefix) => Route { prefix, nexthop: 0 },
        })
        .collect();
    let mut addrs = common::edge_addresses(&touched);
    addrs.extend(random_addresses::<A>(20_000, 22));
    addrs.extend(table_addresses(routes, 20_000, 23));
    verify(&writer, &reference, &addrs);
}

#[test]
fn real_ipv4_table_after_update_stream() {
    let Some(t) = common::real_table("rib_tier1_2024.v4.txt") else {
        return;
    };
    real_stream(&t.v4, 3_000);
}

#[test]
fn real_ipv6_table_after_update_stream() {
    let Some(t) = common::real_table("rib_tier1_2024.v6.txt") else {
        return;
    };
    real_stream(&t.v6, 3_000);
}

/// Each batch moves two routes to the same new next hop; a reader that
/// looks both up in one snapshot must always see them equal.
#[test]
fn readers_never_see_half_a_batch() {
    let p = |s: &str| s.parse::<Prefix<u32>>().unwrap();
    let (a, b) = (p("10.0.0.0/8"), p("192.168.7.0/24"));
    let mut writer = FibWriter::new(&[
        Route {
            prefix: a,
            nexthop: 0,
        },
        Route {
            prefix: b,
            nexthop: 0,
        },
    ])
    .unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let readers: Vec<_> = (0..2)
        .map(|_| {
            let reader = writer.reader();
            let stop = Arc::clone(&stop);
            std::thread::spawn(move || {
                let mut seen = 0u64;
                let addrs = [0x0a01_0203u32, 0xc0a8_0742];
                let mut out = [0u32; 2];
                while !stop.load(Ordering::Relaxed) {
                    reader.lookup_batch(&addrs, &mut out);
                    assert_eq!(out[0], out[1], "half-applied batch seen");
                    seen += 1;
                }
                seen
            })
        })
        .collect();
    for k in 1..3000u32 {
        writer
            .apply(&[
                Change::Announce(Route {
                    prefix: a,
                    nexthop: k,
                }),
                Change::Announce(Route {
                    prefix: b,
                    nexthop: k,
                }),
            ])
            .unwrap();
    }
    stop.store(true, Ordering::Relaxed);
    for r in readers {
        assert!(r.join().expect("reader panicked") > 0);
    }
    assert_eq!(writer.reader().lookup(0x0a00_0001), Some(2999));
}

#[test]
fn rejects_oversized_nexthop_without_applying() {
    let mut writer = FibWriter::<u32>::new(&[]).unwrap();
    let prefix = "10.0.0.0/8".parse().unwrap();
    let err = writer
        .apply(&[
            Change::Announce(Route { prefix, nexthop: 1 }),
            Change::Announce(Route {
                prefix,
                nexthop: u32::MAX,
            }),
        ])
        .unwrap_err();
    assert!(err.to_string().contains("exceeds"));
    assert_eq!(writer.reader().lookup(0x0a00_0000), None);
}
