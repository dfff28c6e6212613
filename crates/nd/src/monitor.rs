//! Watches the kernel's links and IPv6 addresses and publishes the state
//! of each interface we advertise on.
//!
//! Owns two `NETLINK_ROUTE` sockets, opened in the namespace of the thread
//! that runs the discovery task: one joined to the link and IPv6-address
//! notification groups, one for dump requests, so notifications never mix
//! with dump answers.
//!
//! Notifications are used as *triggers* and dumps as *truth*: any change
//! (or a lost notification, `ENOBUFS`) leads to a fresh dump of links and
//! addresses, from which [`Snapshot::link_state`] derives each interface's
//! [`LinkState`]. There is no incremental state to drift from the kernel's,
//! and a periodic dump covers anything missed. The cost, one dump per burst
//! of changes, is small next to the rate at which links change.

use std::io;
use std::os::fd::OwnedFd;
use std::time::Duration;

use tokio::io::unix::AsyncFd;
use tokio::sync::watch;

use crate::error::Error;
use crate::link::{
    absorb, dump_request, messages, open_socket, receive, send_request, DumpProgress, LinkState,
    Snapshot, GROUPS_LINK_AND_IPV6_ADDRESS, RECV_BUFFER, RTM_DELADDR, RTM_DELLINK, RTM_GETADDR,
    RTM_GETLINK, RTM_NEWADDR, RTM_NEWLINK,
};

/// The netlink side of the discovery task; see the module docs.
pub(crate) struct Monitor {
    events: AsyncFd<OwnedFd>,
    requests: AsyncFd<OwnedFd>,
    seq: u32,
    buf: Vec<u8>,
}

impl Monitor {
    /// Opens the sockets in the calling thread's network namespace.
    pub(crate) fn open() -> Result<Monitor, Error> {
        // Subscribe before the first dump, so that no change falls between.
        let events = open_socket(GROUPS_LINK_AND_IPV6_ADDRESS, true)?;
        let requests = open_socket(0, true)?;
        let register =
            |fd| crate::fd::register(fd).map_err(|e| Error::netlink("register socket", e));
        Ok(Monitor {
            events: register(events)?,
            requests: register(requests)?,
            seq: 0,
            buf: vec![0; RECV_BUFFER],
        })
    }

    /// Publishes the state of every `watched` interface now and after
    /// every change, until an unrecoverable netlink error.
    pub(crate) async fn run(
        mut self,
        watched: Vec<(String, watch::Sender<Option<LinkState>>)>,
        resync: Duration,
    ) -> Result<(), Error> {
        loop {
            let snapshot = self.snapshot().await?;
            for (name, sender) in &watched {
                let previous = sender.borrow().as_ref().and_then(|s| s.link_local);
                let state = snapshot.link_state(name, previous);
                sender.send_if_modified(|current| {
                    if *current == state {
                        return false;
                    }
                    tracing::debug!(interface = %name, ?state, "link state");
                    *current = state;
                    true
                });
            }
            tokio::select! {
                changed = self.changed() => changed?,
                () = tokio::time::sleep(resync) => {}
            }
        }
    }

    /// Dumps links and IPv6 addresses, again if the kernel reports that
    /// its tables changed during the dump.
    async fn snapshot(&mut self) -> Result<Snapshot, Error> {
        'again: loop {
            let mut snapshot = Snapshot::default();
            for kind in [RTM_GETLINK, RTM_GETADDR] {
                self.seq = self.seq.wrapping_add(1);
                let seq = self.seq;
                send_request(self.requests.get_ref(), &dump_request(kind, seq))
                    .map_err(|e| Error::netlink("send dump request", e))?;
                loop {
                    let length = receive_async(&self.requests, &mut self.buf)
                        .await
                        .map_err(|e| Error::netlink("receive dump", e))?;
                    match absorb(&self.buf[..length], seq, &mut snapshot)
                        .map_err(|e| Error::netlink("dump", e))?
                    {
                        DumpProgress::More => {}
                        DumpProgress::Done => break,
                        DumpProgress::Interrupted => continue 'again,
                    }
                }
            }
            return Ok(snapshot);
        }
    }

    /// Waits for a notification about a link or an IPv6 address, or for
    /// the kernel to report lost notifications. Cancel-safe.
    async fn changed(&mut self) -> Result<(), Error> {
        loop {
            let mut guard = self
                .events
                .readable()
                .await
                .map_err(|e| Error::netlink("wait for notification", e))?;
            let mut relevant = false;
            loop {
                let buf = &mut self.buf;
                match guard.try_io(|fd| receive(fd.get_ref(), buf).map_err(io::Error::from)) {
                    Ok(Ok(length)) => {
                        relevant |= messages(&buf[..length]).any(|m| {
                            matches!(
                                m.kind,
                                RTM_NEWLINK | RTM_DELLINK | RTM_NEWADDR | RTM_DELADDR
                            )
                        });
                    }
                    Ok(Err(e)) if e.raw_os_error() == Some(nix::errno::Errno::ENOBUFS as i32) => {
                        tracing::debug!("netlink notifications lost: dumping again");
                        relevant = true;
                    }
                    Ok(Err(e)) if e.kind() == io::ErrorKind::Interrupted => {}
                    Ok(Err(e)) => return Err(Error::netlink("receive notification", e)),
                    // Drained: the readiness is cleared.
                    Err(_would_block) => break,
                }
            }
            if relevant {
                return Ok(());
            }
        }
    }
}

async fn receive_async(fd: &AsyncFd<OwnedFd>, buf: &mut [u8]) -> io::Result<usize> {
    loop {
        let mut guard = fd.readable().await?;
        match guard.try_io(|fd| receive(fd.get_ref(), buf).map_err(io::Error::from)) {
            Ok(Err(e)) if e.kind() == io::ErrorKind::Interrupted => {}
            Ok(result) => return result,
            Err(_would_block) => {}
        }
    }
}
