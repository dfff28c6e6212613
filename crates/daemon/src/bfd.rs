//! BFD tied to BGP sessions (RFC 5882): every neighbor with `bfd = true`
//! has a BFD session to its address (an unnumbered one, to the link-local
//! address discovery found, on its interface); when BFD sees the path fail
//! (Up → Down, and not because the peer set AdminDown, §3.2), the BGP
//! session is closed at once with Cease "BFD Down" and its routes are
//! withdrawn, instead of waiting for the hold timer.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use clos_bfd::{BfdManager, SessionConfig, SessionId, SessionState};
use clos_bgp::peer::PeerId;
use clos_bgp::speaker::Speaker;
use tracing::{info, warn};

/// Which BGP peer each BFD session belongs to.
type Owners = Arc<Mutex<HashMap<SessionId, PeerId>>>;

/// Starts BFD for every neighbor that asks for it; the manager is
/// returned so the caller keeps it alive (dropping it stops every session).
pub async fn start(
    speaker: Arc<Speaker>,
    config: &clos_config::Config,
) -> anyhow::Result<Option<Arc<BfdManager>>> {
    let wanted: Vec<_> = config
        .neighbors
        .iter()
        .filter_map(|n| n.bfd.map(|b| (n, b)))
        .collect();
    if wanted.is_empty() {
        return Ok(None);
    }
    let (bfd, mut changes) = BfdManager::start()
        .await
        .map_err(|e| anyhow::anyhow!("BFD: {e}"))?;
    let bfd = Arc::new(bfd);
    let owners: Owners = Arc::default();
    for (neighbor, timers) in wanted {
        let Some(peer) = speaker.peer_named(&neighbor.key()) else {
            continue;
        };
        let interval = Duration::from_millis(timers.interval_ms as u64);
        let id = peer.id;
        match &peer.config.interface {
            None => {
                let mut session = SessionConfig::new(peer.config.address)
                    .with_timers(interval, timers.multiplier);
                session.local = peer.config.local_address;
                let sid = bfd
                    .add(session)
                    .map_err(|e| anyhow::anyhow!("BFD session to {}: {e}", neighbor.key()))?;
                lock(&owners).insert(sid, id);
            }
            Some(interface) => {
                // Follow discovery: a session to whichever link-local
                // address is on the interface.
                let (bfd, owners) = (bfd.clone(), owners.clone());
                let mut found = interface.peer.clone();
                let name = interface.name.clone();
                let multiplier = timers.multiplier;
                tokio::spawn(async move {
                    let mut current: Option<SessionId> = None;
                    loop {
                        let peer_address = *found.borrow_and_update();
                        if let Some(old) = current.take() {
                            bfd.remove(old);
                            lock(&owners).remove(&old);
                        }
                        if let Some(p) = peer_address {
                            let mut session = SessionConfig::new(p.address.into())
                                .with_timers(interval, multiplier);
                            session.interface = Some(name.clone());
                            match bfd.add(session) {
                                Ok(sid) => {
                                    lock(&owners).insert(sid, id);
                                    current = Some(sid);
                                }
                                Err(e) => warn!(interface = %name, error = %e, "cannot start BFD"),
                            }
                        }
                        if found.changed().await.is_err() {
                            return;
                        }
                    }
                });
            }
        }
    }
    tokio::spawn(async move {
        while let Some(change) = changes.recv().await {
            let owner = lock(&owners).get(&change.session).copied();
            let Some(peer) = owner else {
                continue;
            };
            info!(peer = %change.peer, from = ?change.previous, to = ?change.state, diagnostic = ?change.diagnostic, "BFD state change");
            let failed = change.previous == SessionState::Up
                && change.state == SessionState::Down
                && change.remote_state != SessionState::AdminDown;
            if failed {
                if let Err(e) = speaker.bfd_down(peer).await {
                    warn!(error = %e, "cannot close the BGP session after BFD down");
                }
            }
        }
    });
    Ok(Some(bfd))
}

fn lock(owners: &Owners) -> std::sync::MutexGuard<'_, HashMap<SessionId, PeerId>> {
    owners.lock().unwrap_or_else(|e| e.into_inner())
}
