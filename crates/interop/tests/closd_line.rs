//! Three nodes in a line, BIRD (AS 65001) — closd (AS 65000) — FRR
//! (AS 65002): a route from BIRD reaches FRR through closd with AS path
//! [65000, 65001] and next hop closd; the other way round too; withdrawals
//! propagate. Needs `cargo build --workspace --bins` first.

use clos_interop::scenario::{self, Daemon};
use clos_interop::{Family, Lab};

#[test]
fn bird_closd_frr_v4() {
    Lab::run("closd_line_v4", |lab| {
        scenario::line_propagation(
            lab,
            Family::Ipv4Unicast,
            Daemon::Bird,
            Daemon::Closd,
            Daemon::Frr,
        )
    });
}

#[test]
fn bird_closd_frr_v6() {
    Lab::run("closd_line_v6", |lab| {
        scenario::line_propagation(
            lab,
            Family::Ipv6Unicast,
            Daemon::Bird,
            Daemon::Closd,
            Daemon::Frr,
        )
    });
}
