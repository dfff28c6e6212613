//! BGP unnumbered: finds each `interface =` neighbor's peer with IPv6
//! Router Advertisements (`clos-nd`) and hands its link-local address to
//! the session, which connects to it and accepts connections from it.
//! When such an interface loses its link the session is closed at once
//! (fast external failover, FRR's default) instead of waiting for BFD or
//! the hold timer: the kernel has already dropped the routes through it.

use clos_bgp::peer::LinkPeer;
use tracing::{info, warn};

use crate::convert::Links;

/// Starts discovery on every unnumbered neighbor's interface; the returned
/// handle keeps it running. Needs CAP_NET_RAW (raw ICMPv6 sockets).
pub fn start(links: Links) -> anyhow::Result<Option<clos_nd::Discovery>> {
    if links.is_empty() {
        return Ok(None);
    }
    let names: Vec<String> = links.iter().map(|(name, _)| name.clone()).collect();
    let (discovery, task) = clos_nd::Discovery::start(&names, clos_nd::Options::default())
        .map_err(|e| anyhow::anyhow!("neighbor discovery on {}: {e}", names.join(", ")))?;
    tokio::spawn(async move {
        if let Err(e) = task.run().await {
            warn!(error = %e, "neighbor discovery stopped: unnumbered sessions cannot find new peers");
        }
    });
    for (name, sender) in links {
        let Some(mut found) = discovery.neighbor(&name) else {
            continue;
        };
        tokio::spawn(async move {
            loop {
                let peer = found.borrow_and_update().map(|n| LinkPeer {
                    address: n.address,
                    ifindex: n.ifindex,
                });
                if sender.send_replace(peer) != peer {
                    if let Some(p) = peer {
                        info!(interface = %name, peer = %p.address, "unnumbered neighbor found");
                    }
                }
                if found.changed().await.is_err() {
                    return;
                }
            }
        });
    }
    Ok(Some(discovery))
}

/// Watches link state and closes the session of an unnumbered neighbor
/// whose interface goes down (administratively or loses carrier).
pub fn fast_failover(speaker: std::sync::Arc<clos_bgp::speaker::Speaker>) {
    let watched: Vec<(String, clos_bgp::peer::PeerId)> = speaker
        .peers()
        .iter()
        .filter_map(|p| p.config.interface.as_ref().map(|i| (i.name.clone(), p.id)))
        .collect();
    if watched.is_empty() {
        return;
    }
    let subscription = match clos_fib_kernel::Subscription::open(&[
        clos_fib_kernel::EventGroup::Link,
    ]) {
        Ok(s) => s,
        Err(e) => {
            warn!(error = %e, "no link notifications: unnumbered sessions wait for BFD or the hold timer when a link fails");
            return;
        }
    };
    let runtime = tokio::runtime::Handle::current();
    let spawned = std::thread::Builder::new()
        .name("link-watch".into())
        .spawn(move || {
            for event in subscription {
                let Ok(clos_fib_kernel::Event::LinkChanged {
                    name, up, lower_up, ..
                }) = event
                else {
                    continue;
                };
                if up && lower_up {
                    continue;
                }
                for (_, peer) in watched.iter().filter(|(n, _)| *n == name) {
                    let (speaker, peer) = (speaker.clone(), *peer);
                    runtime.spawn(async move {
                        let _ = speaker.link_down(peer).await;
                    });
                }
            }
        });
    if let Err(e) = spawned {
        warn!(error = %e, "cannot start the link watcher");
    }
}
