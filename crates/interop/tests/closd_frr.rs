//! closd (AS 65000) against FRR bgpd (AS 65001) on one veth, IPv4 and IPv6.
//! Needs `cargo build --workspace --bins` first.

clos_interop::closd_matrix!(Frr, "frr");
