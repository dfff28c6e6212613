//! The harness validated against itself: BIRD, FRR and GoBGP against each
//! other, running the same scenarios the closd matrix runs (FRR or BIRD in
//! the device-under-test seat). If these fail, fix the harness before
//! blaming closd.

use clos_interop::scenario::{self, Daemon};
use clos_interop::{Family, Lab};

use Daemon::{Bird, Frr, Gobgp};
use Family::{Ipv4Unicast as V4, Ipv6Unicast as V6};

#[test]
fn frr_bird_v4_routes() {
    Lab::run("frr_bird_v4_routes", |lab| {
        scenario::routes_both_ways(lab, V4, Frr, Bird)
    });
}

#[test]
fn frr_bird_v6_withdraw() {
    Lab::run("frr_bird_v6_withdraw", |lab| {
        scenario::withdraw(lab, V6, Frr, Bird)
    });
}

#[test]
fn bird_gobgp_v4_routes() {
    Lab::run("bird_gobgp_v4_routes", |lab| {
        scenario::routes_both_ways(lab, V4, Bird, Gobgp)
    });
}

#[test]
fn bird_gobgp_v6_withdraw() {
    Lab::run("bird_gobgp_v6_withdraw", |lab| {
        scenario::withdraw(lab, V6, Bird, Gobgp)
    });
}

#[test]
fn frr_gobgp_v6_routes() {
    Lab::run("frr_gobgp_v6_routes", |lab| {
        scenario::routes_both_ways(lab, V6, Frr, Gobgp)
    });
}

#[test]
fn frr_bird_v4_peer_restart() {
    Lab::run("frr_bird_v4_peer_restart", |lab| {
        scenario::peer_restart(lab, V4, Frr, Bird)
    });
}

#[test]
fn bird_gobgp_v4_peer_restart() {
    Lab::run("bird_gobgp_v4_peer_restart", |lab| {
        scenario::peer_restart(lab, V4, Bird, Gobgp)
    });
}

#[test]
fn bird_frr_v6_peer_restart() {
    Lab::run("bird_frr_v6_peer_restart", |lab| {
        scenario::peer_restart(lab, V6, Bird, Frr)
    });
}

#[test]
fn frr_bird_v4_hold_timer() {
    Lab::run("frr_bird_v4_hold_timer", |lab| {
        scenario::hold_timer_expiry(lab, V4, Frr, Bird)
    });
}

#[test]
fn frr_gobgp_v4_hold_timer() {
    Lab::run("frr_gobgp_v4_hold_timer", |lab| {
        scenario::hold_timer_expiry(lab, V4, Frr, Gobgp)
    });
}

#[test]
fn frr_bird_v6_route_refresh() {
    Lab::run("frr_bird_v6_route_refresh", |lab| {
        scenario::route_refresh(lab, V6, Frr, Bird)
    });
}

#[test]
fn gobgp_bird_v4_route_refresh() {
    Lab::run("gobgp_bird_v4_route_refresh", |lab| {
        scenario::route_refresh(lab, V4, Gobgp, Bird)
    });
}

#[test]
fn bird_frr_v4_refused_open() {
    Lab::run("bird_frr_v4_refused_open", |lab| {
        scenario::refused_open(lab, V4, Bird, Frr)
    });
}

#[test]
fn frr_gobgp_v4_refused_open_by_peer() {
    Lab::run("frr_gobgp_v4_refused_open_by_peer", |lab| {
        scenario::refused_open_by_peer(lab, V4, Frr, Gobgp)
    });
}

#[test]
fn line_bird_frr_gobgp_v4() {
    Lab::run("line_bird_frr_gobgp_v4", |lab| {
        scenario::line_propagation(lab, V4, Bird, Frr, Gobgp)
    });
}

#[test]
fn line_gobgp_bird_frr_v6() {
    Lab::run("line_gobgp_bird_frr_v6", |lab| {
        scenario::line_propagation(lab, V6, Gobgp, Bird, Frr)
    });
}
