//! Dropping privileges after start-up.
//!
//! closd needs root (or the capabilities) only to bind port 179 and, later,
//! to change routing tables. Once the listeners are bound it keeps just the
//! capabilities its configuration needs and drops every other one from the
//! effective, permitted, inheritable, ambient and bounding sets, and sets
//! `no_new_privs`, so a compromised daemon cannot regain them (not even by
//! executing a set-uid program). It stays uid 0: files it owns remain
//! writable, but CAP_DAC_OVERRIDE, CAP_SYS_ADMIN, CAP_SYS_PTRACE and the rest
//! are gone.

use caps::{CapSet, Capability, CapsHashSet};
use tracing::{debug, info, warn};

/// The capabilities a configuration needs after start-up.
pub fn needed(config: &clos_config::Config) -> CapsHashSet {
    let mut keep = CapsHashSet::new();
    if config.fib.kernel {
        // Routes, nexthop objects and link state over netlink.
        keep.insert(Capability::CAP_NET_ADMIN);
    }
    let unnumbered = config
        .neighbors
        .iter()
        .any(|n| matches!(n.peer, clos_config::PeerAddress::Interface(_)));
    let bfd = config.neighbors.iter().any(|n| n.bfd.is_some());
    if unnumbered || bfd {
        // Raw ICMPv6 sockets for Router Advertisements; SO_BINDTODEVICE
        // for link-local BFD sessions.
        keep.insert(Capability::CAP_NET_RAW);
    }
    if bfd {
        // BFD listens on UDP port 3784 (RFC 5881).
        keep.insert(Capability::CAP_NET_BIND_SERVICE);
    }
    keep
}

/// Drop everything but `keep`. Errors are logged, not fatal: a daemon
/// started without privileges has nothing to drop.
pub fn drop_all_but(keep: &CapsHashSet) {
    if let Err(e) = nix::sys::prctl::set_no_new_privs() {
        warn!(error = %e, "cannot set no_new_privs");
    }
    let had_setpcap =
        caps::has_cap(None, CapSet::Effective, Capability::CAP_SETPCAP).unwrap_or(false);
    // The bounding set first: removing from it needs CAP_SETPCAP, which the
    // next step drops.
    if had_setpcap {
        for cap in caps::all() {
            if !keep.contains(&cap) {
                if let Err(e) = caps::drop(None, CapSet::Bounding, cap) {
                    debug!(?cap, error = %e, "cannot drop from the bounding set");
                }
            }
        }
    }
    for set in [CapSet::Ambient, CapSet::Inheritable] {
        if let Err(e) = caps::clear(None, set) {
            debug!(?set, error = %e, "cannot clear capability set");
        }
    }
    for set in [CapSet::Effective, CapSet::Permitted] {
        let current = caps::read(None, set).unwrap_or_default();
        let target: CapsHashSet = current.intersection(keep).copied().collect();
        if let Err(e) = caps::set(None, set, &target) {
            warn!(?set, error = %e, "cannot drop capabilities");
        }
    }
    let left = caps::read(None, CapSet::Effective).unwrap_or_default();
    info!(kept = ?left, "dropped privileges");
}
