//! Network namespaces, veth pairs and BFD managers running inside them, for
//! the tests that use real sockets. Everything lives in namespaces the test
//! creates and deletes (on drop, so also when a test panics); the only
//! addresses used are the documentation prefixes and link-local addresses
//! configured inside them.

#![allow(dead_code)]

use std::net::IpAddr;
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{mpsc as std_mpsc, Arc};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use clos_bfd::{BfdManager, Diagnostic, SessionConfig, SessionId, SessionState, StateChange};

/// A Down that is a detected failure: our detection timer fired, or (on a
/// loaded machine) the peer's fired first and its Down packet crossed just
/// before the link went.
pub fn assert_detected_failure(change: &StateChange) {
    assert!(
        matches!(
            change.diagnostic,
            Diagnostic::ControlDetectionTimeExpired | Diagnostic::NeighborSignaledSessionDown
        ),
        "{change:?}"
    );
}

/// Whether this process may create namespaces (root with `ip`).
pub fn can_run() -> bool {
    let root = nix::unistd::geteuid().is_root();
    let ip = Command::new("ip").arg("-V").output().is_ok();
    if !(root && ip) {
        eprintln!("skipped: needs root and iproute2 to create network namespaces");
    }
    root && ip
}

/// Runs a command, panicking with its stderr if it fails.
pub fn run(program: &str, args: &[&str]) -> String {
    let output = Command::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {program}: {e}"));
    assert!(
        output.status.success(),
        "{program} {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// A network namespace, deleted (after killing what runs in it) on drop.
pub struct Netns {
    pub name: String,
}

impl Netns {
    pub fn create(tag: &str) -> Netns {
        static COUNTER: AtomicU32 = AtomicU32::new(0);
        let name = format!(
            "bfdt-{}-{}-{tag}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        );
        run("ip", &["netns", "add", &name]);
        let netns = Netns { name };
        netns.ip(&["link", "set", "lo", "up"]);
        netns
    }

    pub fn ip(&self, args: &[&str]) -> String {
        let mut full = vec!["-n", &self.name];
        full.extend_from_slice(args);
        run("ip", &full)
    }

    pub fn exec(&self, program: &str, args: &[&str]) -> String {
        let mut full = vec!["netns", "exec", &self.name, program];
        full.extend_from_slice(args);
        run("ip", &full)
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        if let Ok(out) = Command::new("ip")
            .args(["netns", "pids", &self.name])
            .output()
        {
            for pid in String::from_utf8_lossy(&out.stdout).split_whitespace() {
                let _ = Command::new("kill").args(["-s", "KILL", pid]).status();
            }
        }
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .status();
    }
}

/// Two namespaces joined by a veth pair `bfda` (in a) – `bfdb` (in b):
/// 192.0.2.1/24, 2001:db8::1/64 and link-local A_LL on a; .2, ::2, B_LL on b.
pub struct Link {
    pub a: Netns,
    pub b: Netns,
}

pub const A_V4: &str = "192.0.2.1";
pub const B_V4: &str = "192.0.2.2";
pub const A_V6: &str = "2001:db8::1";
pub const B_V6: &str = "2001:db8::2";
pub const A_LL: &str = "fe80::ff:fe00:a";
pub const B_LL: &str = "fe80::ff:fe00:b";

impl Link {
    pub fn create() -> Link {
        let a = Netns::create("a");
        let b = Netns::create("b");
        for ns in [&a, &b] {
            // Static IPv6 addresses survive `ip link set down` only with
            // keep_addr_on_down; kernel link-local addresses come back at
            // once on `up` without duplicate address detection.
            for setting in [
                "net.ipv6.conf.all.keep_addr_on_down=1",
                "net.ipv6.conf.default.keep_addr_on_down=1",
                "net.ipv6.conf.all.accept_dad=0",
                "net.ipv6.conf.default.accept_dad=0",
            ] {
                ns.exec("sysctl", &["-qw", setting]);
            }
        }
        // Fixed MACs give fixed EUI-64 link-local addresses (A_LL, B_LL).
        a.ip(&[
            "link",
            "add",
            "bfda",
            "address",
            "02:00:00:00:00:0a",
            "type",
            "veth",
            "peer",
            "name",
            "bfdb",
            "address",
            "02:00:00:00:00:0b",
            "netns",
            &b.name,
        ]);
        for (ns, dev, v4, v6) in [(&a, "bfda", A_V4, A_V6), (&b, "bfdb", B_V4, B_V6)] {
            ns.ip(&["addr", "add", &format!("{v4}/24"), "dev", dev]);
            ns.ip(&["addr", "add", &format!("{v6}/64"), "dev", dev, "nodad"]);
            ns.ip(&["link", "set", dev, "up"]);
        }
        // Packets sent before the kernel's linkwatch activates the qdisc
        // are dropped: wait until both ends are operationally up.
        let deadline = Instant::now() + Duration::from_secs(5);
        for (ns, dev) in [(&a, "bfda"), (&b, "bfdb")] {
            while !ns
                .ip(&["-o", "link", "show", "dev", dev])
                .contains("state UP")
            {
                assert!(Instant::now() < deadline, "{dev} did not come up");
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        Link { a, b }
    }
}

/// A `BfdManager` running on its own thread inside a namespace (network
/// namespaces are per thread: sockets made there stay there).
pub struct Node {
    pub manager: Arc<BfdManager>,
    pub changes: std_mpsc::Receiver<StateChange>,
    pub ids: Vec<SessionId>,
    /// Changes received but not yet asked for.
    backlog: std::cell::RefCell<Vec<StateChange>>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Node {
    pub fn start(netns: &Netns, sessions: Vec<SessionConfig>) -> Node {
        let path = format!("/run/netns/{}", netns.name);
        let (ready_tx, ready_rx) = std_mpsc::channel();
        let (changes_tx, changes_rx) = std_mpsc::channel();
        let (stop_tx, mut stop_rx) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::spawn(move || {
            let file = std::fs::File::open(&path).expect("open netns");
            nix::sched::setns(file, nix::sched::CloneFlags::CLONE_NEWNET).expect("setns");
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            runtime.block_on(async move {
                let (manager, mut changes) = BfdManager::start().await.expect("start BFD");
                let ids: Vec<SessionId> = sessions
                    .into_iter()
                    .map(|config| manager.add(config).expect("add session"))
                    .collect();
                let manager = Arc::new(manager);
                ready_tx.send((manager.clone(), ids)).expect("ready");
                loop {
                    tokio::select! {
                        change = changes.recv() => match change {
                            Some(change) => { let _ = changes_tx.send(change); }
                            None => return,
                        },
                        _ = &mut stop_rx => return,
                    }
                }
            });
        });
        let (manager, ids) = ready_rx
            .recv_timeout(Duration::from_secs(10))
            .expect("BFD manager did not start");
        Node {
            manager,
            changes: changes_rx,
            ids,
            backlog: Default::default(),
            stop: Some(stop_tx),
            thread: Some(thread),
        }
    }

    /// Waits for `peer` to reach `state`; returns the change.
    pub fn wait_for(&self, peer: IpAddr, state: SessionState, timeout: Duration) -> StateChange {
        let matches = |change: &StateChange| change.peer == peer && change.state == state;
        let mut backlog = self.backlog.borrow_mut();
        if let Some(at) = backlog.iter().position(matches) {
            return backlog.remove(at);
        }
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.changes.recv_timeout(left) {
                Ok(change) if matches(&change) => return change,
                Ok(change) => backlog.push(change),
                Err(_) => panic!(
                    "{peer} did not reach {state} within {timeout:?}: {:#?}",
                    self.manager.sessions()
                ),
            }
        }
    }

    /// Drains pending changes.
    pub fn drain(&self) {
        while self.changes.try_recv().is_ok() {}
        self.backlog.borrow_mut().clear();
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

pub fn fast(peer: &str, interface: Option<&str>) -> SessionConfig {
    let mut config = SessionConfig::new(peer.parse().expect("address"))
        .with_timers(Duration::from_millis(50), 3);
    config.interface = interface.map(str::to_string);
    config
}

/// The median of some durations.
pub fn median(mut values: Vec<Duration>) -> Duration {
    values.sort();
    values[values.len() / 2]
}
