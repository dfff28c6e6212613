//! The task of one interface: advertise ourselves, learn the peer.
//!
//! Owns the interface's raw socket, its advertisement [`Schedule`], the
//! learned [`Neighbor`] and the [`InterfaceStatus`]. It is driven by the
//! [`LinkState`] the monitor publishes:
//!
//! - a usable state (up, with carrier, with a non-tentative link-local
//!   address) opens a socket bound to that address and starts the fast
//!   advertisements; any change of index or address re-opens it, so the
//!   source of our advertisements is always the address we report;
//! - an unusable state closes the socket and stops advertising. The
//!   learned neighbor is kept: BGP's hold timer, not us, decides whether
//!   the peer is gone. Only a different interface index (the interface
//!   was deleted, maybe re-created) forgets it, since a neighbor is only
//!   meaningful together with its index;
//! - an open that fails (the address turned tentative again, the
//!   interface vanished in between) is retried after `retry_interval`.
//!   Only a permission error ends the task: retrying cannot fix it.
//!
//! Each valid advertisement names the peer: a source different from the
//! current neighbor replaces it (its link-local address changed, or it was
//! replaced), and triggers an early advertisement of ours so that a
//! restarted peer learns us without waiting for our next interval.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::io;
use std::net::Ipv6Addr;
use std::time::Instant;

use tokio::sync::watch;

use crate::discovery::{InterfaceStatus, Neighbor, Options};
use crate::error::Error;
use crate::link::LinkState;
use crate::packet::{validate, RouterAdvertisement};
use crate::schedule::{Schedule, Timing};
use crate::socket::{self, RaSocket, Received};

/// The socket of an interface we advertise on, and what it is bound to.
struct Bound {
    ifindex: u32,
    link_local: Ipv6Addr,
    socket: RaSocket,
}

/// One interface's task; see the module docs.
pub(crate) struct InterfaceTask {
    name: String,
    options: Options,
    timing: Timing,
    link: watch::Receiver<Option<LinkState>>,
    neighbor: watch::Sender<Option<Neighbor>>,
    status: watch::Sender<InterfaceStatus>,
    schedule: Schedule,
    bound: Option<Bound>,
    retry: Option<Instant>,
    ifindex: Option<u32>,
    mac: Option<[u8; 6]>,
}

/// What woke the task.
enum Wake {
    Link { monitor_alive: bool },
    AdvertisementDue,
    Retry,
    Received(io::Result<Received>),
}

impl InterfaceTask {
    pub(crate) fn new(
        name: String,
        options: Options,
        link: watch::Receiver<Option<LinkState>>,
        neighbor: watch::Sender<Option<Neighbor>>,
        status: watch::Sender<InterfaceStatus>,
    ) -> InterfaceTask {
        InterfaceTask {
            name,
            timing: options.timing(),
            options,
            link,
            neighbor,
            status,
            schedule: Schedule::default(),
            bound: None,
            retry: None,
            ifindex: None,
            mac: None,
        }
    }

    /// Runs until the monitor stops (`Ok`) or sockets cannot be opened for
    /// lack of privileges (`Err`).
    pub(crate) async fn run(mut self) -> Result<(), Error> {
        let mut reconcile = true;
        loop {
            if reconcile {
                let link = self.link.borrow_and_update().clone();
                self.reconcile(link)?;
            }
            reconcile = false;
            let wake = tokio::select! {
                changed = self.link.changed() => Wake::Link { monitor_alive: changed.is_ok() },
                () = sleep_until(self.schedule.due()) => Wake::AdvertisementDue,
                () = sleep_until(self.retry) => Wake::Retry,
                received = receive(self.bound.as_mut()) => Wake::Received(received),
            };
            match wake {
                Wake::Link {
                    monitor_alive: true,
                } => reconcile = true,
                Wake::Link {
                    monitor_alive: false,
                } => return Ok(()),
                Wake::Retry => {
                    self.retry = None;
                    reconcile = true;
                }
                Wake::AdvertisementDue => self.advertise(),
                Wake::Received(Ok(received)) => self.received(received),
                Wake::Received(Err(error)) => {
                    // A socket in error could report it on every poll:
                    // close it and open a fresh one after a pause.
                    tracing::debug!(%error, "receive failed: reopening the socket");
                    self.status
                        .send_modify(|s| s.last_error = Some(format!("receive: {error}")));
                    self.bound = None;
                    self.schedule.stop();
                    self.retry = Some(Instant::now() + self.options.retry_interval);
                }
            }
        }
    }

    /// Brings socket, schedule and neighbor in line with the link state.
    fn reconcile(&mut self, link: Option<LinkState>) -> Result<(), Error> {
        let now = Instant::now();
        let ifindex = link.as_ref().map(|l| l.ifindex);
        if ifindex != self.ifindex {
            if let Some(old) = self.ifindex {
                tracing::info!(old, new = ?ifindex, "interface index changed: neighbor forgotten");
            }
            self.ifindex = ifindex;
            self.neighbor.send_if_modified(|n| n.take().is_some());
        }
        let mac = link.as_ref().and_then(|l| l.mac);
        let mac_changed = mac != self.mac;
        self.mac = mac;

        let wanted = link
            .as_ref()
            .filter(|l| l.up)
            .and_then(|l| Some((l.ifindex, l.link_local?)));
        let current = self.bound.as_ref().map(|b| (b.ifindex, b.link_local));
        match wanted {
            None => {
                if let Some((_, address)) = current {
                    tracing::info!(%address, "interface not usable: advertising stopped");
                }
                self.bound = None;
                self.schedule.stop();
                self.retry = None;
            }
            Some(wanted) if Some(wanted) == current => {
                if mac_changed {
                    // Peers cache our MAC from our advertisements.
                    self.schedule.start(now, &self.timing);
                }
            }
            Some((ifindex, address)) => {
                self.bound = None;
                match socket::open(&self.name, ifindex, address) {
                    Ok(socket) => {
                        tracing::info!(ifindex, %address, "advertising");
                        self.bound = Some(Bound {
                            ifindex,
                            link_local: address,
                            socket,
                        });
                        self.schedule.start(now, &self.timing);
                        self.retry = None;
                    }
                    Err(error) if error.kind() == io::ErrorKind::PermissionDenied => {
                        return Err(Error::Permission {
                            interface: self.name.clone(),
                            source: error,
                        });
                    }
                    Err(error) => {
                        tracing::debug!(ifindex, %address, %error, "cannot open socket yet");
                        self.status.send_modify(|s| {
                            s.last_error = Some(format!("open socket from {address}: {error}"));
                        });
                        self.schedule.stop();
                        self.retry = Some(now + self.options.retry_interval);
                    }
                }
            }
        }

        let neighbor = *self.neighbor.borrow();
        let advertising_from = self.bound.as_ref().map(|b| b.link_local);
        self.status.send_if_modified(|s| {
            let before = s.clone();
            s.ifindex = ifindex;
            s.up = link.as_ref().is_some_and(|l| l.up);
            s.mac = mac;
            s.link_local = advertising_from;
            s.neighbor = neighbor;
            *s != before
        });
        Ok(())
    }

    fn advertise(&mut self) {
        let now = Instant::now();
        let Some(bound) = &self.bound else {
            self.schedule.stop();
            return;
        };
        let advertisement = RouterAdvertisement {
            cur_hop_limit: self.options.cur_hop_limit,
            ..RouterAdvertisement::unnumbered(self.mac)
        };
        match bound.socket.send_all_nodes(&advertisement.encode()) {
            Ok(()) => {
                tracing::trace!(source = %bound.link_local, "router advertisement sent");
                self.status.send_modify(|s| s.advertisements_sent += 1);
            }
            Err(error) => {
                // The link may have just gone down: the monitor will say.
                tracing::debug!(%error, "router advertisement not sent");
                self.status.send_modify(|s| {
                    s.send_errors += 1;
                    s.last_error = Some(format!("send: {error}"));
                });
            }
        }
        self.schedule.sent(now, &self.timing, random_fraction());
    }

    fn received(&mut self, received: Received) {
        let Some(bound) = &self.bound else {
            return;
        };
        if received.source == bound.link_local {
            return; // our own, should the multicast loop be on anyway
        }
        let advertisement = match validate(&received.message, received.hop_limit, received.source) {
            Ok(advertisement) => advertisement,
            Err(rejection) => {
                tracing::debug!(source = %received.source, %rejection, "router advertisement rejected");
                self.status.send_modify(|s| {
                    s.advertisements_rejected += 1;
                    s.last_rejection = Some(format!("from {}: {rejection}", received.source));
                });
                return;
            }
        };
        let ifindex = bound.ifindex;
        let mut learned = None;
        self.neighbor.send_if_modified(|current| {
            let same_address = current.is_some_and(|n| n.address == received.source);
            let mac = match advertisement.source_link_layer_address {
                Some(mac) => Some(mac),
                // The option is optional: keep what an earlier one said.
                None if same_address => current.and_then(|n| n.mac),
                None => None,
            };
            let neighbor = Neighbor {
                address: received.source,
                ifindex,
                mac,
            };
            if *current == Some(neighbor) {
                return false;
            }
            if !same_address {
                learned = Some(neighbor);
            }
            *current = Some(neighbor);
            true
        });
        let neighbor = *self.neighbor.borrow();
        if let Some(neighbor) = learned {
            tracing::info!(neighbor = %neighbor.address, "neighbor learned");
            self.schedule.trigger(Instant::now(), &self.timing);
        }
        self.status.send_modify(|s| {
            s.advertisements_received += 1;
            s.last_received = Some(Instant::now());
            s.neighbor = neighbor;
        });
    }
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(deadline) => tokio::time::sleep_until(deadline.into()).await,
        None => std::future::pending().await,
    }
}

async fn receive(bound: Option<&mut Bound>) -> io::Result<Received> {
    match bound {
        Some(bound) => bound.socket.receive().await,
        None => std::future::pending().await,
    }
}

/// Uniform in `[0, 1)`, from the randomly keyed std hasher: jitter needs no
/// cryptographic quality and no extra dependency.
fn random_fraction() -> f64 {
    let bits = RandomState::new().build_hasher().finish();
    (bits >> 11) as f64 / (1u64 << 53) as f64
}
