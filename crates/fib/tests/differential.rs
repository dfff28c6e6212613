//! Differential tests: the compressed table against the reference LPM, on
//! the real tier-1 tables (sampled) and on random tables (proptest), IPv4
//! and IPv6, including /0, host routes and overlapping prefixes.

mod common;

use clos_fib::reference::{Dir24_8, ReferenceLpm};
use clos_fib::tools::{random_addresses, table_addresses};
use clos_fib::{Address, Prefix, Route, Table, NO_ROUTE};
use proptest::prelude::*;

fn check<A: Address>(table: &Table<A>, reference: &ReferenceLpm<A>, addrs: &[A]) {
    let mut batch = vec![0u32; addrs.len()];
    table.lookup_batch(addrs, &mut batch);
    for (&a, &b) in addrs.iter().zip(&batch) {
        let want = reference.lookup(a);
        assert_eq!(table.lookup(a), want, "single lookup of {:?}", a.to_std());
        assert_eq!(
            (b != NO_ROUTE).then_some(b),
            want,
            "batched lookup of {:?}",
            a.to_std()
        );
    }
}

fn real<A: Address>(routes: &[Route<A>]) {
    let table = Table::build(routes);
    let reference = ReferenceLpm::new(routes);
    let mut addrs = random_addresses::<A>(100_000, 11);
    addrs.extend(table_addresses(routes, 100_000, 12));
    // Edges of a sample of prefixes (every 64th).
    let sample: Vec<Route<A>> = routes.iter().step_by(64).copied().collect();
    addrs.extend(common::edge_addresses(&sample));
    check(&table, &reference, &addrs);
}

#[test]
fn real_ipv4_table_matches_reference() {
    let Some(t) = common::real_table("rib_tier1_2024.v4.txt") else {
        return;
    };
    real(&t.v4);
    // The DIR-24-8 speed reference must agree too.
    let dir = Dir24_8::build(&t.v4);
    let reference = ReferenceLpm::new(&t.v4);
    for a in random_addresses::<u32>(50_000, 13) {
        assert_eq!(dir.lookup(a), reference.lookup(a));
    }
}

#[test]
fn real_ipv6_table_matches_reference() {
    let Some(t) = common::real_table("rib_tier1_2024.v6.txt") else {
        return;
    };
    real(&t.v6);
}

/// Routes clustered around a few base addresses so that they overlap.
fn routes_strategy<A: Address + 'static>(max: usize) -> impl Strategy<Value = Vec<Route<A>>> {
    let bits = A::BITS;
    (
        proptest::collection::vec(any::<u128>(), 1..4),
        proptest::collection::vec((0usize..4, any::<u128>(), 0u8..=bits, 0u32..20), 0..max),
    )
        .prop_map(move |(bases, specs)| {
            specs
                .into_iter()
                .map(|(b, noise, len, nexthop)| {
                    let base = bases[b % bases.len()];
                    // Keep the base's top bits, perturb a few low-ish bits.
                    let shift = (bits as u32).saturating_sub(len as u32 / 2 + 8);
                    let addr = if bits == 32 {
                        (base as u32 as u128) ^ ((noise & 0xff) << shift.min(31))
                    } else {
                        base ^ ((noise & 0xff) << shift.min(127))
                    };
                    // Favour the edge lengths: /0, full length, the stride
                    // boundaries.
                    let len = match nexthop % 7 {
                        0 => [0, 16, 24, bits - 8, bits][noise as usize % 5],
                        _ => len,
                    };
                    Route {
                        prefix: Prefix::new(A::from_u128(addr), len).unwrap(),
                        nexthop,
                    }
                })
                .collect()
        })
}

fn probe<A: Address>(routes: &[Route<A>], extra: &[u128]) -> Vec<A> {
    let mut addrs = common::edge_addresses(routes);
    addrs.extend(extra.iter().map(|&x| A::from_u128(x)));
    addrs.push(A::from_u128(0));
    addrs.push(A::from_u128(u128::MAX));
    addrs
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn random_ipv4_tables_match_reference(routes in routes_strategy::<u32>(300), extra in proptest::collection::vec(any::<u128>(), 64)) {
        let table = Table::build(&routes);
        let reference = ReferenceLpm::new(&routes);
        check(&table, &reference, &probe(&routes, &extra));
    }

    #[test]
    fn random_ipv6_tables_match_reference(routes in routes_strategy::<u128>(300), extra in proptest::collection::vec(any::<u128>(), 64)) {
        let table = Table::build(&routes);
        let reference = ReferenceLpm::new(&routes);
        check(&table, &reference, &probe(&routes, &extra));
    }
}

#[test]
fn default_route_and_host_routes() {
    let p = |s: &str, nh| Route {
        prefix: s.parse().unwrap(),
        nexthop: nh,
    };
    let routes = vec![
        p("0.0.0.0/0", 1),
        p("10.0.0.0/8", 2),
        p("10.1.2.3/32", 3),
        p("10.1.2.0/24", 4),
        p("255.255.255.255/32", 5),
        p("10.1.2.128/25", 6),
    ];
    let t = Table::build(&routes);
    let a = |s: &str| u32::from(s.parse::<std::net::Ipv4Addr>().unwrap());
    assert_eq!(t.lookup(a("1.2.3.4")), Some(1));
    assert_eq!(t.lookup(a("10.9.9.9")), Some(2));
    assert_eq!(t.lookup(a("10.1.2.3")), Some(3));
    assert_eq!(t.lookup(a("10.1.2.4")), Some(4));
    assert_eq!(t.lookup(a("10.1.2.200")), Some(6));
    assert_eq!(t.lookup(a("255.255.255.255")), Some(5));
    assert_eq!(t.lookup(a("255.255.255.254")), Some(1));
    let empty = Table::<u32>::build(&[]);
    assert_eq!(empty.lookup(0), None);

    let p6 = |s: &str, nh| Route::<u128> {
        prefix: s.parse().unwrap(),
        nexthop: nh,
    };
    let t6 = Table::build(&[
        p6("::/0", 9),
        p6("2001:db8::1/128", 8),
        p6("2001:db8::/32", 7),
    ]);
    let a6 = |s: &str| u128::from(s.parse::<std::net::Ipv6Addr>().unwrap());
    assert_eq!(t6.lookup(a6("2001:db8::1")), Some(8));
    assert_eq!(t6.lookup(a6("2001:db8::2")), Some(7));
    assert_eq!(t6.lookup(a6("::1")), Some(9));
}
