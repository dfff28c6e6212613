//! GTSM (RFC 5082, `ttl-security = true`) between closd and real peers:
//! closd ↔ BIRD (`ttl security yes`) and ↔ FRR (`ttl-security hops 1`)
//! establish, with closd connecting and with closd accepting; a peer that
//! sends with TTL 1 or 64 (BIRD without GTSM), or with TTL 255 from one
//! router away, never gets a session, and closd says why. Needs root and
//! `cargo build --workspace --bins`.

use std::time::Duration;

use anyhow::ensure;
use clos_interop::scenario::Daemon;
use clos_interop::secured::{SecuredOptions, SecuredPair};
use clos_interop::{Family, Lab, SessionSecurity};

/// How long a refused session is watched for not coming up.
const REFUSED_FOR: Duration = Duration::from_secs(20);

fn gtsm() -> SessionSecurity {
    SessionSecurity {
        ttl_security: true,
        ..Default::default()
    }
}

fn both_gtsm() -> SecuredOptions {
    SecuredOptions {
        closd: gtsm(),
        peer: gtsm(),
        ..Default::default()
    }
}

#[test]
fn bird_v4_closd_connects() {
    Lab::run("gtsm_bird_v4_closd_connects", |lab| {
        let options = SecuredOptions {
            peer_passive: true,
            ..both_gtsm()
        };
        SecuredPair::new(lab, Family::Ipv4Unicast, Daemon::Bird, &options)?.wait_established()
    });
}

#[test]
fn bird_v4_dual_stack_listener_bird_connects() {
    Lab::run("gtsm_bird_v4_dual_stack", |lab| {
        let options = SecuredOptions {
            closd_passive: true,
            dual_stack: true,
            ..both_gtsm()
        };
        SecuredPair::new(lab, Family::Ipv4Unicast, Daemon::Bird, &options)?.wait_established()
    });
}

#[test]
fn bird_v6_bird_connects() {
    Lab::run("gtsm_bird_v6_bird_connects", |lab| {
        let options = SecuredOptions {
            closd_passive: true,
            ..both_gtsm()
        };
        SecuredPair::new(lab, Family::Ipv6Unicast, Daemon::Bird, &options)?.wait_established()
    });
}

#[test]
fn frr_v4() {
    Lab::run("gtsm_frr_v4", |lab| {
        SecuredPair::new(lab, Family::Ipv4Unicast, Daemon::Frr, &both_gtsm())?.wait_established()
    });
}

#[test]
fn frr_v6_frr_connects() {
    Lab::run("gtsm_frr_v6_frr_connects", |lab| {
        let options = SecuredOptions {
            closd_passive: true,
            ..both_gtsm()
        };
        SecuredPair::new(lab, Family::Ipv6Unicast, Daemon::Frr, &options)?.wait_established()
    });
}

/// BIRD without GTSM sends its SYNs with TTL 1 (a directly connected eBGP
/// session), or 64 with `multihop`: closd refuses each connection before
/// reading a byte, and says why.
#[test]
fn a_peer_sending_with_ttl_1_or_64_is_refused() {
    for (ttl, multihop) in [(1, None), (64, Some(64))] {
        Lab::run(&format!("gtsm_refuses_ttl_{ttl}"), |lab| {
            let options = SecuredOptions {
                closd: gtsm(),
                peer: SessionSecurity {
                    multihop,
                    ..Default::default()
                },
                closd_passive: true,
                ..Default::default()
            };
            let pair = SecuredPair::new(lab, Family::Ipv4Unicast, Daemon::Bird, &options)?;
            let error = pair.never_established(REFUSED_FOR)?;
            let expected =
                format!("refused: ttl-security: its SYN arrived with TTL {ttl}, not 255");
            ensure!(
                error.contains(&expected),
                "closd should say why it refused the connection ({expected:?}), says {error:?}"
            );
            Ok(())
        });
    }
}

/// The attack GTSM is for: a peer (BIRD with `ttl security yes;
/// multihop 2`) that sends with TTL 255 but from one router away, so its
/// packets arrive with 254. BIRD accepts closd's packets (it expects 254),
/// so only closd's check keeps the session down.
#[test]
fn a_ttl_255_peer_one_router_away_is_refused() {
    for family in [Family::Ipv4Unicast, Family::Ipv6Unicast] {
        Lab::run(
            &format!("gtsm_refuses_one_hop_away_{}", family.short_name()),
            |lab| {
                let options = SecuredOptions {
                    closd: gtsm(),
                    peer: SessionSecurity {
                        ttl_security: true,
                        multihop: Some(2),
                        ..Default::default()
                    },
                    closd_passive: true,
                    via_router: true,
                    ..Default::default()
                };
                let pair = SecuredPair::new(lab, family, Daemon::Bird, &options)?;
                let error = pair.never_established(REFUSED_FOR)?;
                ensure!(
                    error.contains("refused: ttl-security: its SYN arrived with TTL 254, not 255"),
                    "closd should refuse the SYN that arrived with 254, says {error:?}"
                );
                Ok(())
            },
        );
    }
}

/// Control for the test above: the same topology without GTSM on closd
/// establishes, so the refusal is GTSM's doing. closd sends with TTL 255
/// (`ebgp-multihop = 255`): BIRD's GTSM for 2 hops wants 254 on arrival.
#[test]
fn the_same_peer_one_router_away_establishes_without_gtsm() {
    Lab::run("gtsm_control_one_hop_away", |lab| {
        let options = SecuredOptions {
            closd: SessionSecurity {
                multihop: Some(255),
                ..Default::default()
            },
            peer: SessionSecurity {
                ttl_security: true,
                multihop: Some(2),
                ..Default::default()
            },
            closd_passive: true,
            via_router: true,
            ..Default::default()
        };
        SecuredPair::new(lab, Family::Ipv4Unicast, Daemon::Bird, &options)?.wait_established()
    });
}
