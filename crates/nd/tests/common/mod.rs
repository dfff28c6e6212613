//! Helpers for the namespace tests: throw-away namespaces and veth pairs,
//! a discovery task running inside a namespace, shell-side checks, and
//! polling with a deadline.
//!
//! Everything that creates something removes it on drop, so a failing
//! test leaves no namespace behind.

#![allow(dead_code)] // each test file uses a different part

use std::fs::File;
use std::net::Ipv6Addr;
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use clos_nd::{Discovery, InterfaceStatus, Neighbor, Options};
use nix::sched::{setns, CloneFlags};

/// Runs a command; `Err` carries its output.
pub fn run(program: &str, args: &[&str]) -> Result<String, String> {
    let output = Command::new(program)
        .args(args)
        .output()
        .map_err(|e| format!("cannot run {program}: {e}"))?;
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    if output.status.success() {
        Ok(stdout)
    } else {
        Err(format!(
            "`{program} {}` failed: {}{}",
            args.join(" "),
            stdout,
            String::from_utf8_lossy(&output.stderr)
        ))
    }
}

/// Runs a command that must succeed.
pub fn must(program: &str, args: &[&str]) -> String {
    run(program, args).unwrap_or_else(|e| panic!("{e}"))
}

/// True when namespaces can be made here (root, `ip netns` works);
/// otherwise prints the `SKIP:` line.
pub fn netns_usable(test: &str) -> bool {
    let uid = run("id", &["-u"]).unwrap_or_default();
    if uid.trim() != "0" {
        println!("SKIP: {test}: needs root");
        return false;
    }
    let probe = format!(
        "nd-probe-{}-{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    );
    match run("ip", &["netns", "add", &probe]) {
        Ok(_) => {
            let _ = run("ip", &["netns", "delete", &probe]);
            true
        }
        Err(e) => {
            println!("SKIP: {test}: `ip netns` unusable: {e}");
            false
        }
    }
}

static COUNTER: AtomicU32 = AtomicU32::new(0);

/// A network namespace, deleted on drop.
pub struct Netns {
    pub name: String,
}

impl Netns {
    /// A namespace with `lo` up, IPv6 forwarding off (so the kernel acts
    /// as a host and processes Router Advertisements: `accept_ra=1`), and
    /// Duplicate Address Detection off when `dad` is false.
    pub fn create(prefix: &str, dad: bool) -> Netns {
        let name = format!(
            "{prefix}-{}-{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        );
        must("ip", &["netns", "add", &name]);
        let netns = Netns { name };
        netns.ip(&["link", "set", "lo", "up"]);
        let dad = if dad { "1" } else { "0" };
        for (key, value) in [
            ("net.ipv6.conf.all.forwarding", "0"),
            ("net.ipv6.conf.all.accept_dad", dad),
            ("net.ipv6.conf.default.accept_dad", dad),
            ("net.ipv6.conf.default.accept_ra", "1"),
        ] {
            netns.exec(&["sysctl", "-qw", &format!("{key}={value}")]);
        }
        netns
    }

    /// `ip -n NAME args...`.
    pub fn ip(&self, args: &[&str]) -> String {
        let mut all = vec!["-n", self.name.as_str()];
        all.extend_from_slice(args);
        must("ip", &all)
    }

    /// `ip netns exec NAME args...`.
    pub fn exec(&self, args: &[&str]) -> String {
        let mut all = vec!["netns", "exec", self.name.as_str()];
        all.extend_from_slice(args);
        must("ip", &all)
    }

    /// The usable (not tentative) link-local address of `dev`, per `ip`.
    pub fn link_local(&self, dev: &str) -> Option<Ipv6Addr> {
        let out = self.ip(&["-6", "addr", "show", "dev", dev, "scope", "link"]);
        let mut found = None;
        for line in out.lines() {
            let mut words = line.split_whitespace();
            if words.next() != Some("inet6") {
                continue;
            }
            let address = words.next()?.split('/').next()?.parse().ok()?;
            if line.contains("tentative") || line.contains("dadfailed") {
                continue;
            }
            if found.is_some() {
                panic!(
                    "{dev} in {} has two link-local addresses:\n{out}",
                    self.name
                );
            }
            found = Some(address);
        }
        found
    }

    /// Waits for `dev`'s link-local address to be usable.
    pub fn wait_link_local(&self, dev: &str) -> Ipv6Addr {
        wait_until(
            &format!("a link-local address on {dev} in {}", self.name),
            Duration::from_secs(30),
            || self.link_local(dev),
        )
    }

    /// The interface index of `dev`.
    pub fn ifindex(&self, dev: &str) -> u32 {
        let out = self.ip(&["-o", "link", "show", "dev", dev]);
        out.split(':')
            .next()
            .and_then(|n| n.trim().parse().ok())
            .unwrap_or_else(|| panic!("no index in {out}"))
    }

    /// The MAC of `dev`.
    pub fn mac(&self, dev: &str) -> [u8; 6] {
        let out = self.ip(&["-o", "link", "show", "dev", dev]);
        let text = out
            .split_whitespace()
            .skip_while(|w| *w != "link/ether")
            .nth(1)
            .unwrap_or_else(|| panic!("no MAC in {out}"));
        parse_mac(text)
    }

    /// Runs `f` on a thread inside the namespace.
    pub fn run<T: Send>(&self, f: impl FnOnce() -> T + Send) -> T {
        let file = self.file();
        std::thread::scope(|scope| {
            scope
                .spawn(move || {
                    setns(&file, CloneFlags::CLONE_NEWNET).expect("setns");
                    f()
                })
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
        })
    }

    fn file(&self) -> File {
        let path = format!("/run/netns/{}", self.name);
        File::open(&path).unwrap_or_else(|e| panic!("open {path}: {e}"))
    }

    /// Starts discovery on `interfaces` inside the namespace: a thread that
    /// enters it and runs the task on a current-thread runtime.
    pub fn start_discovery(&self, interfaces: &[&str], options: Options) -> Running {
        let names: Vec<String> = interfaces.iter().map(|s| s.to_string()).collect();
        let (discovery, task) = Discovery::start(&names, options).expect("valid arguments");
        let file = self.file();
        let ended = Arc::new(Mutex::new(None));
        let ended_in_thread = Arc::clone(&ended);
        let thread = std::thread::spawn(move || {
            setns(&file, CloneFlags::CLONE_NEWNET).expect("setns");
            let result = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime")
                .block_on(task.run());
            *ended_in_thread.lock().unwrap() = Some(format!("{result:?}"));
            result
        });
        Running {
            discovery: Some(discovery),
            thread: Some(thread),
            netns: self.name.clone(),
            ended,
        }
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        if let Err(e) = run("ip", &["netns", "delete", &self.name]) {
            eprintln!("namespace {} not deleted: {e}", self.name);
        }
    }
}

/// Creates a veth pair `a_dev` in `a`, `b_dev` in `b`, both up.
pub fn veth(a: &Netns, a_dev: &str, b: &Netns, b_dev: &str) {
    a.ip(&[
        "link", "add", a_dev, "type", "veth", "peer", "name", b_dev, "netns", &b.name,
    ]);
    a.ip(&["link", "set", a_dev, "up"]);
    b.ip(&["link", "set", b_dev, "up"]);
}

pub fn parse_mac(text: &str) -> [u8; 6] {
    let bytes: Vec<u8> = text
        .split(':')
        .map(|b| u8::from_str_radix(b, 16).expect("hex"))
        .collect();
    bytes.try_into().expect("6 bytes")
}

/// A discovery task running in a namespace; stopped and joined on drop.
pub struct Running {
    discovery: Option<Discovery>,
    thread: Option<JoinHandle<Result<(), clos_nd::Error>>>,
    netns: String,
    /// How the task ended, once it has.
    ended: Arc<Mutex<Option<String>>>,
}

impl Running {
    pub fn discovery(&self) -> &Discovery {
        self.discovery.as_ref().expect("running")
    }

    /// Panics with the task's error if it has ended.
    pub fn check(&self) {
        if let Some(result) = self.ended.lock().unwrap().as_ref() {
            panic!("discovery in {} ended early: {result}", self.netns);
        }
    }

    pub fn neighbor(&self, interface: &str) -> Option<Neighbor> {
        self.check();
        let receiver = self.discovery().neighbor(interface).expect("configured");
        let neighbor = *receiver.borrow();
        neighbor
    }

    pub fn status(&self, interface: &str) -> InterfaceStatus {
        self.check();
        self.discovery()
            .interface_status(interface)
            .expect("configured")
    }

    /// Waits until the neighbor on `interface` satisfies `f`.
    pub fn wait_neighbor(
        &self,
        what: &str,
        interface: &str,
        mut f: impl FnMut(Option<Neighbor>) -> bool,
    ) -> Option<Neighbor> {
        wait_until(what, Duration::from_secs(60), || {
            let neighbor = self.neighbor(interface);
            f(neighbor).then_some(neighbor)
        })
    }

    /// Waits until the status of `interface` satisfies `f`.
    pub fn wait_status(
        &self,
        what: &str,
        interface: &str,
        mut f: impl FnMut(&InterfaceStatus) -> bool,
    ) -> InterfaceStatus {
        wait_until(what, Duration::from_secs(60), || {
            let status = self.status(interface);
            f(&status).then_some(status)
        })
    }

    /// Stops the task and returns how it ended.
    pub fn stop(mut self) -> Result<(), clos_nd::Error> {
        self.discovery = None;
        let thread = self.thread.take().expect("running");
        thread
            .join()
            .unwrap_or_else(|p| std::panic::resume_unwind(p))
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.discovery = None;
        if let Some(thread) = self.thread.take() {
            let result = thread.join();
            if !std::thread::panicking() {
                match result {
                    Ok(Ok(())) => {}
                    Ok(Err(e)) => panic!("discovery in {} failed: {e}", self.netns),
                    Err(p) => std::panic::resume_unwind(p),
                }
            }
        }
    }
}

/// Polls `check` every 100 ms until it returns `Some`; panics after
/// `timeout` naming `what`.
pub fn wait_until<T>(what: &str, timeout: Duration, mut check: impl FnMut() -> Option<T>) -> T {
    let start = Instant::now();
    loop {
        if let Some(value) = check() {
            return value;
        }
        if start.elapsed() > timeout {
            panic!("timed out after {timeout:?} waiting for {what}");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Options that make tests quick: fast advertisements as usual, then
/// every `interval`.
pub fn options(interval: Duration) -> Options {
    Options {
        interval,
        ..Options::default()
    }
}
