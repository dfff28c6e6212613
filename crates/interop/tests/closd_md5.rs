//! TCP MD5 signatures (RFC 2385, `password = "..."`) between closd and
//! real peers: closd ↔ BIRD (`password "secret"`) and ↔ FRR (`neighbor X
//! password secret`) establish, with closd connecting and with closd
//! accepting (also on a dual-stack `[::]` listener); a wrong password, or a
//! password on one side only, never gets a session. Needs root and
//! `cargo build --workspace --bins`.

use std::time::Duration;

use anyhow::ensure;
use clos_interop::scenario::Daemon;
use clos_interop::secured::{SecuredOptions, SecuredPair};
use clos_interop::{Family, Lab, Peer, SessionSecurity};

/// How long a refused session is watched for not coming up.
const REFUSED_FOR: Duration = Duration::from_secs(20);

fn password(secret: &str) -> SessionSecurity {
    SessionSecurity {
        password: Some(secret.to_string()),
        ..Default::default()
    }
}

fn both(secret: &str) -> SecuredOptions {
    SecuredOptions {
        closd: password(secret),
        peer: password(secret),
        ..Default::default()
    }
}

#[test]
fn bird_v4_closd_connects() {
    Lab::run("md5_bird_v4_closd_connects", |lab| {
        let options = SecuredOptions {
            peer_passive: true,
            ..both("secret")
        };
        SecuredPair::new(lab, Family::Ipv4Unicast, Daemon::Bird, &options)?.wait_established()
    });
}

#[test]
fn bird_v4_dual_stack_listener_bird_connects() {
    Lab::run("md5_bird_v4_dual_stack", |lab| {
        let options = SecuredOptions {
            closd_passive: true,
            dual_stack: true,
            ..both("secret")
        };
        SecuredPair::new(lab, Family::Ipv4Unicast, Daemon::Bird, &options)?.wait_established()
    });
}

#[test]
fn bird_v6_bird_connects() {
    Lab::run("md5_bird_v6_bird_connects", |lab| {
        let options = SecuredOptions {
            closd_passive: true,
            ..both("secret")
        };
        SecuredPair::new(lab, Family::Ipv6Unicast, Daemon::Bird, &options)?.wait_established()
    });
}

#[test]
fn frr_v4() {
    Lab::run("md5_frr_v4", |lab| {
        SecuredPair::new(lab, Family::Ipv4Unicast, Daemon::Frr, &both("secret"))?.wait_established()
    });
}

#[test]
fn frr_v6_frr_connects() {
    Lab::run("md5_frr_v6_frr_connects", |lab| {
        let options = SecuredOptions {
            closd_passive: true,
            ..both("secret")
        };
        SecuredPair::new(lab, Family::Ipv6Unicast, Daemon::Frr, &options)?.wait_established()
    });
}

/// Both sides connect and listen; every segment fails the other side's
/// signature check, so no handshake completes and closd shows no session.
#[test]
fn a_wrong_password_never_establishes() {
    Lab::run("md5_wrong_password", |lab| {
        let options = SecuredOptions {
            closd: password("secret"),
            peer: password("not-the-secret"),
            ..Default::default()
        };
        let pair = SecuredPair::new(lab, Family::Ipv4Unicast, Daemon::Bird, &options)?;
        pair.never_established(REFUSED_FOR)?;
        let state = pair.closd.session_state(pair.peer_addr)?;
        ensure!(
            state != "OpenSent",
            "no BGP message can have crossed: closd is {state}"
        );
        Ok(())
    });
}

#[test]
fn closd_without_a_password_never_establishes_with_a_peer_that_has_one() {
    Lab::run("md5_closd_unsigned", |lab| {
        let options = SecuredOptions {
            peer: password("secret"),
            ..Default::default()
        };
        let pair = SecuredPair::new(lab, Family::Ipv4Unicast, Daemon::Frr, &options)?;
        pair.never_established(REFUSED_FOR)?;
        Ok(())
    });
}

/// The other way round, listener side included: BIRD connects unsigned and
/// closd's listener (dual-stack) drops its SYNs; closd's signed SYNs are
/// dropped by BIRD.
#[test]
fn a_peer_without_a_password_never_establishes_with_closd_that_has_one() {
    Lab::run("md5_peer_unsigned", |lab| {
        let options = SecuredOptions {
            closd: password("secret"),
            dual_stack: true,
            ..Default::default()
        };
        let pair = SecuredPair::new(lab, Family::Ipv4Unicast, Daemon::Bird, &options)?;
        pair.never_established(REFUSED_FOR)?;
        Ok(())
    });
}
