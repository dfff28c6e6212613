//! Interop with FRR: zebra and bgpd with `neighbor eth1 interface` in one
//! namespace, our discovery in the other, on a veth pair.
//!
//! - we learn FRR's link-local address from zebra's advertisements;
//! - FRR learns ours from our advertisements: bgpd then opens its BGP
//!   connection to our link-local address, which a listener on port 179
//!   on our side accepts.
//!
//! Needs root, `ip netns` and FRR (`/usr/lib/frr/zebra`); prints `SKIP:`
//! and passes otherwise.

mod common;

use std::fs::File;
use std::net::{IpAddr, SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use clos_nd::Neighbor;
use common::{must, netns_usable, options, run, veth, Netns};

const ZEBRA: &str = "/usr/lib/frr/zebra";
const BGPD: &str = "/usr/lib/frr/bgpd";

/// A daemon started with `ip netns exec` (which execs it: the child's PID
/// is the daemon's), killed on drop.
struct Daemon {
    child: Child,
}

impl Daemon {
    fn spawn(netns: &Netns, program: &str, args: &[String], log: &Path) -> Daemon {
        let out = File::create(log).expect("log file");
        let err = out.try_clone().expect("log file");
        let child = Command::new("ip")
            .args(["netns", "exec", &netns.name, program])
            .args(args)
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {program}: {e}"));
        Daemon { child }
    }

    fn alive(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let pid = self.child.id().to_string();
        let _ = run("kill", &["-TERM", &pid]);
        let deadline = Instant::now() + Duration::from_secs(3);
        while Instant::now() < deadline {
            if !self.alive() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A scratch directory owned by user `frr` (its daemons drop privileges),
/// removed on drop.
struct Scratch(PathBuf);

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// zebra and bgpd with one unnumbered neighbor on eth1.
struct Frr {
    dir: PathBuf,
    // Held to be stopped on drop, in declaration order: bgpd first.
    _bgpd: Daemon,
    _zebra: Daemon,
}

impl Frr {
    fn start(netns: &Netns, dir: &Path) -> Frr {
        must("chown", &["frr:frr", dir.to_str().unwrap()]);
        let path = |name: &str| dir.join(name).display().to_string();
        std::fs::write(
            dir.join("zebra.conf"),
            format!(
                "hostname frr-nd\nlog file {} debugging\ndebug zebra events\n",
                path("zebra.log")
            ),
        )
        .unwrap();
        std::fs::write(
            dir.join("bgpd.conf"),
            format!(
                "frr defaults datacenter\n\
                 hostname frr-nd\n\
                 log file {} debugging\n\
                 debug bgp neighbor-events\n\
                 router bgp 65001\n \
                 bgp router-id 10.255.0.1\n \
                 no bgp ebgp-requires-policy\n \
                 neighbor eth1 interface remote-as external\n \
                 neighbor eth1 timers connect 1\n",
                path("bgpd.log")
            ),
        )
        .unwrap();
        let common = |daemon: &str| -> Vec<String> {
            vec![
                "-f".into(),
                path(&format!("{daemon}.conf")),
                "-i".into(),
                path(&format!("{daemon}.pid")),
                "--vty_socket".into(),
                dir.display().to_string(),
                "-z".into(),
                path("zserv.api"),
                "-P".into(),
                "0".into(),
            ]
        };
        let mut zebra = Daemon::spawn(netns, ZEBRA, &common("zebra"), &dir.join("zebra.out"));
        common::wait_until("zebra's zserv socket", Duration::from_secs(30), || {
            assert!(
                zebra.alive(),
                "zebra exited: {}",
                tail(&dir.join("zebra.out"))
            );
            dir.join("zserv.api").exists().then_some(())
        });
        let bgpd = Daemon::spawn(netns, BGPD, &common("bgpd"), &dir.join("bgpd.out"));
        let frr = Frr {
            dir: dir.to_path_buf(),
            _bgpd: bgpd,
            _zebra: zebra,
        };
        common::wait_until("bgpd's vty", Duration::from_secs(30), || {
            frr.vtysh("bgpd", "show bgp summary json").ok()
        });
        frr
    }

    fn vtysh(&self, daemon: &str, command: &str) -> Result<String, String> {
        run(
            "vtysh",
            &[
                "--vty_socket",
                self.dir.to_str().unwrap(),
                "-d",
                daemon,
                "-c",
                command,
            ],
        )
    }

    fn logs(&self) -> String {
        format!(
            "--- zebra.log\n{}\n--- bgpd.log\n{}",
            tail(&self.dir.join("zebra.log")),
            tail(&self.dir.join("bgpd.log"))
        )
    }
}

fn tail(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(30)..].join("\n")
}

/// Accepts one TCP connection on [::]:179 inside `netns`, within
/// `timeout`: (FRR's address, our address).
fn accept_bgp_connection(netns: &Netns, timeout: Duration) -> Option<(SocketAddr, SocketAddr)> {
    netns.run(|| {
        let listener = TcpListener::bind("[::]:179").expect("listen on port 179");
        listener.set_nonblocking(true).unwrap();
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            match listener.accept() {
                Ok((stream, from)) => return Some((from, stream.local_addr().unwrap())),
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                    std::thread::sleep(Duration::from_millis(100));
                }
                Err(e) => panic!("accept: {e}"),
            }
        }
        None
    })
}

#[test]
fn frr_and_we_learn_each_other() {
    let test = "frr_and_we_learn_each_other";
    if !Path::new(ZEBRA).exists() || !Path::new(BGPD).exists() {
        println!("SKIP: {test}: FRR is not installed ({ZEBRA})");
        return;
    }
    if !netns_usable(test) {
        return;
    }
    let frr_ns = Netns::create("nd-frr", false);
    let our_ns = Netns::create("nd-us", false);
    veth(&frr_ns, "eth1", &our_ns, "eth1");
    let frr_address = frr_ns.wait_link_local("eth1");
    let our_address = our_ns.wait_link_local("eth1");

    let scratch = Scratch(std::env::temp_dir().join(format!("clos-nd-frr-{}", std::process::id())));
    let _ = std::fs::remove_dir_all(&scratch.0);
    std::fs::create_dir_all(&scratch.0).unwrap();
    let frr = Frr::start(&frr_ns, &scratch.0);

    let us = our_ns.start_discovery(&["eth1"], options(Duration::from_secs(10)));

    // We learn FRR from zebra's advertisements.
    let neighbor = common::wait_until("us to learn FRR", Duration::from_secs(60), || {
        us.neighbor("eth1").filter(|n| n.address == frr_address)
    });
    assert_eq!(
        neighbor,
        Neighbor {
            address: frr_address,
            ifindex: our_ns.ifindex("eth1"),
            mac: Some(frr_ns.mac("eth1")),
        }
    );
    let status = us.status("eth1");
    assert_eq!(status.link_local, Some(our_address));
    assert_eq!(status.advertisements_rejected, 0, "{status:?}");

    // FRR learns us from ours: bgpd connects to our link-local address.
    let accepted = accept_bgp_connection(&our_ns, Duration::from_secs(90));
    let interface = frr
        .vtysh("zebra", "show interface eth1")
        .unwrap_or_default();
    let neighbors = frr
        .vtysh("bgpd", "show bgp neighbors eth1 json")
        .unwrap_or_default();
    let Some((from, to)) = accepted else {
        panic!(
            "FRR never connected to us\n--- show interface eth1\n{interface}\n\
             --- show bgp neighbors eth1 json\n{neighbors}\n{}",
            frr.logs()
        );
    };
    assert_eq!(
        from.ip(),
        IpAddr::V6(frr_address),
        "FRR connects from its link-local"
    );
    assert_eq!(
        to.ip(),
        IpAddr::V6(our_address),
        "to ours, learned from our RA"
    );
    // FRR's own view: zebra lists us as the interface's neighbor (learned
    // from a Router Advertisement it accepted), and bgpd's unnumbered
    // neighbor resolves to us.
    common::wait_until("zebra to list us", Duration::from_secs(30), || {
        let interface = frr.vtysh("zebra", "show interface eth1").ok()?;
        let neighbors = interface.split("Neighbor address(s):").nth(1)?;
        neighbors
            .contains(&format!("inet6 {our_address}/128"))
            .then_some(())
    });
    let received: u64 = common::wait_until("zebra's RA counter", Duration::from_secs(30), || {
        let interface = frr.vtysh("zebra", "show interface eth1").ok()?;
        let (_, rest) = interface.split_once("ND router advertisements sent:")?;
        let (_, rest) = rest.split_once("rcvd:")?;
        rest.split_whitespace().next()?.parse().ok()
    });
    assert!(
        received >= 1,
        "zebra counted {received} advertisements from us"
    );
    common::wait_until(
        "bgpd to resolve eth1 to us",
        Duration::from_secs(30),
        || {
            frr.vtysh("bgpd", "show bgp neighbors eth1 json")
                .ok()?
                .contains(&format!("\"bgpNeighborAddr\":\"{our_address}\""))
                .then_some(())
        },
    );
    // Still the same peer, and only valid advertisements.
    assert_eq!(us.neighbor("eth1"), Some(neighbor));
    assert_eq!(us.status("eth1").advertisements_rejected, 0);
    drop(us);
    drop(frr);
}
