//! closd (AS 65000) against BIRD 2 (AS 65001) on one veth, IPv4 and IPv6.
//! Needs `cargo build --workspace --bins` first.

clos_interop::closd_matrix!(Bird, "bird");
