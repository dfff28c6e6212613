//! BGP unnumbered: finds each `interface =` neighbor's peer with IPv6
//! Router Advertisements (`clos-nd`) and hands its link-local address to
//! the session, which connects to it and accepts connections from it.

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
