//! Helpers shared by the integration tests (included with `mod common`).
#![allow(dead_code)]

use std::path::PathBuf;

use clos_fib::{Address, Route, RouteTable};

/// The real table, or None with a printed note when the data is absent.
pub fn real_table(name: &str) -> Option<RouteTable> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/data")
        .join(name);
    if !path.exists() {
        eprintln!("note: {} absent; skipping real-table test", path.display());
        return None;
    }
    Some(RouteTable::read(&path).expect("real table parses"))
}

/// Addresses that probe every edge of every prefix: first, last, one past
/// the last and one before the first.
pub fn edge_addresses<A: Address>(routes: &[Route<A>]) -> Vec<A> {
    let mut v = Vec::new();
    for r in routes {
        let first = r.prefix.addr().to_u128();
        let last = r.prefix.addr().last(r.prefix.len()).to_u128();
        v.push(A::from_u128(first));
        v.push(A::from_u128(last));
        v.push(A::from_u128(last.wrapping_add(1)));
        v.push(A::from_u128(first.wrapping_sub(1)));
    }
    v
}
