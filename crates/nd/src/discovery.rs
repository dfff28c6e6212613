//! The public face: [`Discovery`] (what the daemon reads) and
//! [`DiscoveryTask`] (what runs), started together by [`Discovery::start`].
//!
//! The split lets the caller choose where the task runs, which matters
//! because every socket it opens belongs to the network namespace of the
//! thread that opens it: a daemon simply spawns it; a test runs it on a
//! thread that has entered another namespace.

use std::net::{Ipv6Addr, SocketAddrV6};
use std::time::{Duration, Instant};

use tokio::sync::{oneshot, watch};
use tokio::task::JoinSet;
use tracing::Instrument;

use crate::error::Error;
use crate::interface::InterfaceTask;
use crate::monitor::Monitor;
use crate::packet::DEFAULT_CUR_HOP_LIMIT;
use crate::schedule::Timing;

/// Tuning of advertisements. The defaults are FRR's for BGP unnumbered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Options {
    /// Time between periodic advertisements, shortened by up to 10 % at
    /// random (RFC 4861 §6.2.4). Default 10 s, as FRR uses for unnumbered
    /// BGP interfaces.
    pub interval: Duration,
    /// Advertisements sent at `fast_interval` when advertising (re)starts:
    /// at start, and whenever the interface comes up or gets its
    /// link-local address. Default 3.
    pub fast_count: u32,
    /// Spacing of the fast advertisements, and the least spacing of any
    /// two. Default 1 s.
    pub fast_interval: Duration,
    /// Wait before trying again to open an interface's socket (its address
    /// may be tentative). Default 1 s.
    pub retry_interval: Duration,
    /// Interfaces and addresses are re-read from the kernel at least this
    /// often, in case a notification was missed. Default 30 s.
    pub resync_interval: Duration,
    /// Cur Hop Limit advertised. Default 64.
    pub cur_hop_limit: u8,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            interval: Duration::from_secs(10),
            fast_count: 3,
            fast_interval: Duration::from_secs(1),
            retry_interval: Duration::from_secs(1),
            resync_interval: Duration::from_secs(30),
            cur_hop_limit: DEFAULT_CUR_HOP_LIMIT,
        }
    }
}

impl Options {
    pub(crate) fn timing(&self) -> Timing {
        Timing {
            interval: self.interval,
            fast_count: self.fast_count,
            fast_interval: self.fast_interval,
        }
    }

    fn check(&self) -> Result<(), Error> {
        let durations = [
            ("interval", self.interval),
            ("fast_interval", self.fast_interval),
            ("retry_interval", self.retry_interval),
            ("resync_interval", self.resync_interval),
        ];
        for (option, value) in durations {
            if value < Duration::from_millis(10) {
                return Err(Error::InvalidOption {
                    option,
                    reason: "must be at least 10 ms",
                });
            }
        }
        Ok(())
    }
}

/// The peer learned on an interface: the source of its Router
/// Advertisements.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Neighbor {
    /// Its link-local address.
    pub address: Ipv6Addr,
    /// The interface it was learned on, the scope of `address`.
    pub ifindex: u32,
    /// Its MAC, from the Source Link-Layer Address option, if it sent one.
    pub mac: Option<[u8; 6]>,
}

impl Neighbor {
    /// The socket address to connect to, scope included (for BGP, port
    /// 179).
    pub fn socket_addr(&self, port: u16) -> SocketAddrV6 {
        SocketAddrV6::new(self.address, port, 0, self.ifindex)
    }
}

/// The state of one interface, for status display.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InterfaceStatus {
    /// Interface name, as configured.
    pub name: String,
    /// Its index; `None` while it does not exist.
    pub ifindex: Option<u32>,
    /// Up with carrier.
    pub up: bool,
    /// Our MAC.
    pub mac: Option<[u8; 6]>,
    /// Our link-local address, the source of our advertisements; `None`
    /// while we are not advertising (interface down, no usable address).
    pub link_local: Option<Ipv6Addr>,
    /// The peer, once learned. Kept while the interface is down.
    pub neighbor: Option<Neighbor>,
    /// Advertisements sent since start.
    pub advertisements_sent: u64,
    /// Failed sends since start.
    pub send_errors: u64,
    /// Valid advertisements received since start.
    pub advertisements_received: u64,
    /// Invalid advertisements received since start.
    pub advertisements_rejected: u64,
    /// When the last valid advertisement arrived.
    pub last_received: Option<Instant>,
    /// Why the last invalid advertisement was rejected, and its source.
    pub last_rejection: Option<String>,
    /// The last socket error (open, send, receive).
    pub last_error: Option<String>,
}

impl InterfaceStatus {
    fn new(name: &str) -> InterfaceStatus {
        InterfaceStatus {
            name: name.to_string(),
            ifindex: None,
            up: false,
            mac: None,
            link_local: None,
            neighbor: None,
            advertisements_sent: 0,
            send_errors: 0,
            advertisements_received: 0,
            advertisements_rejected: 0,
            last_received: None,
            last_rejection: None,
            last_error: None,
        }
    }
}

struct Watched {
    name: String,
    neighbor: watch::Receiver<Option<Neighbor>>,
    status: watch::Receiver<InterfaceStatus>,
}

/// The daemon's handle: the learned neighbors and the status of each
/// interface. Dropping it stops the [`DiscoveryTask`].
pub struct Discovery {
    interfaces: Vec<Watched>,
    _stop: oneshot::Sender<()>,
}

/// Runs discovery; see [`DiscoveryTask::run`].
#[must_use = "nothing is discovered until the task runs"]
pub struct DiscoveryTask {
    interfaces: Vec<Senders>,
    options: Options,
    stop: oneshot::Receiver<()>,
}

struct Senders {
    name: String,
    neighbor: watch::Sender<Option<Neighbor>>,
    status: watch::Sender<InterfaceStatus>,
}

impl Discovery {
    /// Prepares discovery on `interfaces`. Nothing is opened yet: run the
    /// returned task, e.g. `tokio::spawn(task.run())`.
    ///
    /// Fails on a name the kernel cannot have (empty, longer than 15
    /// bytes, containing `/`, `:`, whitespace or NUL), a duplicate, or an
    /// option below 10 ms. Interfaces that do not exist yet are fine:
    /// they are waited for.
    pub fn start(
        interfaces: &[String],
        options: Options,
    ) -> Result<(Discovery, DiscoveryTask), Error> {
        options.check()?;
        let mut handles = Vec::with_capacity(interfaces.len());
        let mut senders = Vec::with_capacity(interfaces.len());
        for (i, name) in interfaces.iter().enumerate() {
            check_name(name)?;
            if interfaces[..i].contains(name) {
                return Err(Error::InvalidInterface {
                    name: name.clone(),
                    reason: "listed twice",
                });
            }
            let (neighbor_sender, neighbor) = watch::channel(None);
            let (status_sender, status) = watch::channel(InterfaceStatus::new(name));
            handles.push(Watched {
                name: name.clone(),
                neighbor,
                status,
            });
            senders.push(Senders {
                name: name.clone(),
                neighbor: neighbor_sender,
                status: status_sender,
            });
        }
        let (stop_sender, stop) = oneshot::channel();
        Ok((
            Discovery {
                interfaces: handles,
                _stop: stop_sender,
            },
            DiscoveryTask {
                interfaces: senders,
                options,
                stop,
            },
        ))
    }

    /// The interfaces, in the order given.
    pub fn interfaces(&self) -> impl Iterator<Item = &str> {
        self.interfaces.iter().map(|w| w.name.as_str())
    }

    /// The neighbor learned on `interface` (`None` until one is), to
    /// `borrow()` now or await `changed()` on. `None` if the interface
    /// was not given to [`Discovery::start`].
    pub fn neighbor(&self, interface: &str) -> Option<watch::Receiver<Option<Neighbor>>> {
        self.find(interface).map(|w| w.neighbor.clone())
    }

    /// The status of `interface`, or `None` if it was not given to
    /// [`Discovery::start`].
    pub fn interface_status(&self, interface: &str) -> Option<InterfaceStatus> {
        self.find(interface).map(|w| w.status.borrow().clone())
    }

    /// The status of every interface, in the order given.
    pub fn status(&self) -> Vec<InterfaceStatus> {
        self.interfaces
            .iter()
            .map(|w| w.status.borrow().clone())
            .collect()
    }

    fn find(&self, interface: &str) -> Option<&Watched> {
        self.interfaces.iter().find(|w| w.name == interface)
    }
}

impl DiscoveryTask {
    /// Watches the interfaces, advertises on them and learns their peers
    /// until the [`Discovery`] is dropped (`Ok`) or a fatal error: no
    /// privilege to open raw sockets ([`Error::Permission`]: the process
    /// needs `CAP_NET_RAW`), or a failed netlink socket.
    ///
    /// Every socket is opened from this task and the per-interface tasks
    /// it spawns, so all threads of the runtime must be in the network
    /// namespace of the interfaces (in a daemon they are; a test that
    /// enters a namespace uses a current-thread runtime on that thread).
    pub async fn run(self) -> Result<(), Error> {
        let DiscoveryTask {
            interfaces,
            options,
            mut stop,
        } = self;
        let monitor = Monitor::open()?;
        let mut tasks = JoinSet::new();
        let mut watched = Vec::with_capacity(interfaces.len());
        for Senders {
            name,
            neighbor,
            status,
        } in interfaces
        {
            let (link_sender, link) = watch::channel(None);
            watched.push((name.clone(), link_sender));
            let span = tracing::info_span!("nd", interface = %name);
            let task = InterfaceTask::new(name, options, link, neighbor, status);
            tasks.spawn(task.run().instrument(span));
        }
        let monitor = monitor.run(watched, options.resync_interval);
        tokio::pin!(monitor);
        loop {
            tokio::select! {
                _ = &mut stop => return Ok(()),
                result = &mut monitor => return result,
                Some(joined) = tasks.join_next() => match joined {
                    Ok(Ok(())) => {}
                    Ok(Err(error)) => return Err(error),
                    Err(error) if error.is_panic() => std::panic::resume_unwind(error.into_panic()),
                    Err(_cancelled) => {}
                },
            }
        }
    }
}

fn check_name(name: &str) -> Result<(), Error> {
    let reason = if name.is_empty() {
        "empty"
    } else if name.len() > 15 {
        "longer than 15 bytes"
    } else if name == "." || name == ".." {
        "reserved"
    } else if name
        .chars()
        .any(|c| c == '/' || c == ':' || c == '\0' || c.is_whitespace())
    {
        "contains '/', ':', whitespace or NUL"
    } else {
        return Ok(());
    };
    Err(Error::InvalidInterface {
        name: name.to_string(),
        reason,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn rejects_bad_names_and_duplicates() {
        for bad in ["", "a/b", "eth0:1", "a b", "abcdefghijklmnop", ".."] {
            let result = Discovery::start(&names(&[bad]), Options::default());
            assert!(
                matches!(result, Err(Error::InvalidInterface { .. })),
                "{bad:?}"
            );
        }
        let result = Discovery::start(&names(&["eth1", "eth2", "eth1"]), Options::default());
        assert!(matches!(
            result,
            Err(Error::InvalidInterface {
                reason: "listed twice",
                ..
            })
        ));
    }

    #[test]
    fn rejects_zero_intervals() {
        let options = Options {
            interval: Duration::ZERO,
            ..Options::default()
        };
        assert!(matches!(
            Discovery::start(&names(&["eth1"]), options),
            Err(Error::InvalidOption {
                option: "interval",
                ..
            })
        ));
    }

    #[test]
    fn handle_before_running() {
        let (discovery, _task) =
            Discovery::start(&names(&["eth1", "eth2"]), Options::default()).unwrap();
        assert_eq!(discovery.interfaces().collect::<Vec<_>>(), ["eth1", "eth2"]);
        assert_eq!(*discovery.neighbor("eth1").unwrap().borrow(), None);
        assert!(discovery.neighbor("eth3").is_none());
        let status = discovery.status();
        assert_eq!(status.len(), 2);
        assert_eq!(status[1].name, "eth2");
        assert_eq!(status[1].link_local, None);
    }

    #[tokio::test]
    async fn task_ends_when_handle_dropped() {
        let (discovery, task) =
            Discovery::start(&names(&["nd-test-none0"]), Options::default()).unwrap();
        drop(discovery);
        // Needs only a netlink socket: works unprivileged.
        tokio::time::timeout(Duration::from_secs(10), task.run())
            .await
            .expect("task stops")
            .expect("no error");
    }

    #[test]
    fn neighbor_socket_addr_has_scope() {
        let neighbor = Neighbor {
            address: "fe80::1".parse().unwrap(),
            ifindex: 7,
            mac: None,
        };
        assert_eq!(neighbor.socket_addr(179).to_string(), "[fe80::1%7]:179");
    }
}
