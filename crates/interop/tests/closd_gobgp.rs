//! closd (AS 65000) against GoBGP (AS 65001) on one veth, IPv4 and IPv6.
//! Needs `cargo build --workspace --bins` first.

clos_interop::closd_matrix!(
    Gobgp,
    "gobgp",
    refresh: #[ignore = "the gobgp CLI cannot send a ROUTE-REFRESH (softresetin replays its own Adj-RIB-In)"]
);
