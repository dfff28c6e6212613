//! Interop with FRR's bfdd (Debian package `frr`): FRR in one namespace,
//! a `BfdManager` in the other, 50 ms × 3 over IPv4, IPv6 and IPv6
//! link-local. Needs root and /usr/lib/frr/bfdd; skipped otherwise.
//!
//! FRR gets its own directory for its vty sockets, zserv socket, pid files
//! and bfdd control socket (`--vty_socket`, `-z`, `--bfdctl`) rather than a
//! `-N` pathspace, which would create directories under /etc/frr and
//! /var/run/frr. bfdd learns interfaces from zebra, so zebra runs too.

mod common;

use std::net::IpAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use clos_bfd::SessionState;
use common::*;

const ZEBRA: &str = "/usr/lib/frr/zebra";
const BFDD: &str = "/usr/lib/frr/bfdd";

struct Frr {
    dir: PathBuf,
    children: Vec<Child>,
}

impl Frr {
    fn start(netns: &Netns) -> Frr {
        let dir = std::env::temp_dir().join(&netns.name);
        std::fs::create_dir_all(&dir).expect("frr dir");
        run("chown", &["frr:frr", dir.to_str().expect("utf-8 path")]);
        let path = |name: &str| dir.join(name).display().to_string();
        let mut frr = Frr {
            dir: dir.clone(),
            children: Vec::new(),
        };
        let spawn = |program: &str, args: Vec<String>, log: &str| {
            let log = std::fs::File::create(dir.join(log)).expect("log");
            Command::new("ip")
                .args(["netns", "exec", &netns.name, program])
                .args(args)
                .stdin(Stdio::null())
                .stdout(log.try_clone().expect("log"))
                .stderr(log)
                .spawn()
                .expect("spawn FRR daemon")
        };
        let common = |name: &str| {
            vec![
                "-i".to_string(),
                path(&format!("{name}.pid")),
                "--vty_socket".into(),
                dir.display().to_string(),
                "-z".into(),
                path("zserv.api"),
                "-P".into(),
                "0".into(),
                "--log".into(),
                format!("file:{}", path(&format!("{name}.log"))),
                "--log-level".into(),
                "debug".into(),
            ]
        };
        frr.children
            .push(spawn(ZEBRA, common("zebra"), "zebra.out"));
        wait(
            Duration::from_secs(20),
            || dir.join("zserv.api").exists(),
            "zebra's socket",
        );
        let mut args = common("bfdd");
        args.extend(["--bfdctl".to_string(), path("bfdd.sock")]);
        frr.children.push(spawn(BFDD, args, "bfdd.out"));
        wait(
            Duration::from_secs(20),
            || frr.vtysh(&["show bfd peers"]).is_ok(),
            "bfdd's vty",
        );
        frr
    }

    fn vtysh(&self, commands: &[&str]) -> Result<String, String> {
        let mut command = Command::new("vtysh");
        command.args([
            "--vty_socket",
            &self.dir.display().to_string(),
            "-d",
            "bfdd",
        ]);
        for c in commands {
            command.args(["-c", c]);
        }
        let output = command.output().map_err(|e| e.to_string())?;
        let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
        if output.status.success() {
            Ok(stdout)
        } else {
            Err(format!(
                "{stdout}{}",
                String::from_utf8_lossy(&output.stderr)
            ))
        }
    }

    fn configure(&self, lines: &[String]) {
        let mut commands = vec!["configure terminal"];
        commands.extend(lines.iter().map(String::as_str));
        let out = self.vtysh(&commands).expect("vtysh configure");
        assert!(!out.contains('%'), "FRR refused the configuration: {out}");
    }

    /// `show bfd peers json`, as (peer, status, remote diagnostic).
    fn peers(&self) -> Vec<serde_json::Value> {
        let out = self
            .vtysh(&["show bfd peers json"])
            .expect("show bfd peers");
        serde_json::from_str(&out).unwrap_or_else(|e| panic!("bad JSON from FRR ({e}): {out}"))
    }

    fn peer(&self, peer: IpAddr) -> serde_json::Value {
        self.peers()
            .into_iter()
            .find(|p| p["peer"].as_str().and_then(|s| s.parse::<IpAddr>().ok()) == Some(peer))
            .unwrap_or_else(|| panic!("FRR has no peer {peer}"))
    }
}

impl Drop for Frr {
    fn drop(&mut self) {
        for child in self.children.iter_mut().rev() {
            let _ = child.kill();
            let _ = child.wait();
        }
        if std::thread::panicking() {
            for log in ["bfdd.log", "bfdd.out", "zebra.out"] {
                if let Ok(text) = std::fs::read_to_string(self.dir.join(log)) {
                    eprintln!("--- {log} ---\n{text}");
                }
            }
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn wait(timeout: Duration, mut ready: impl FnMut() -> bool, what: &str) {
    let deadline = Instant::now() + timeout;
    while !ready() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn addr(text: &str) -> IpAddr {
    text.parse().expect("address")
}

#[test]
fn comes_up_against_frr_bfdd() {
    if !can_run() {
        return;
    }
    if !std::path::Path::new(BFDD).exists() {
        eprintln!("skipped: {BFDD} not found (install the Debian package frr)");
        return;
    }
    let link = Link::create();
    let frr = Frr::start(&link.a);
    let mut lines = vec!["bfd".to_string()];
    for (peer, local) in [(B_V4, Some(A_V4)), (B_V6, Some(A_V6)), (B_LL, None)] {
        let local = local
            .map(|l| format!(" local-address {l}"))
            .unwrap_or_default();
        lines.push(format!("peer {peer}{local} interface bfda"));
        lines.extend(
            [
                "receive-interval 50",
                "transmit-interval 50",
                "detect-multiplier 3",
                "exit",
            ]
            .map(String::from),
        );
    }
    frr.configure(&lines);

    let ours = Node::start(
        &link.b,
        vec![fast(A_V4, None), fast(A_V6, None), fast(A_LL, Some("bfdb"))],
    );
    for peer in [A_V4, A_V6, A_LL] {
        ours.wait_for(addr(peer), SessionState::Up, Duration::from_secs(10));
    }
    // FRR sees every session Up, with our discriminators and timers.
    wait(
        Duration::from_secs(5),
        || frr.peers().iter().all(|p| p["status"] == "up"),
        "FRR to show all peers up",
    );
    std::thread::sleep(Duration::from_millis(500));
    let infos = ours.manager.sessions();
    for peer in [B_V4, B_V6, B_LL] {
        let seen = frr.peer(addr(peer));
        eprintln!("FRR: {seen}");
        assert_eq!(seen["status"], "up");
        assert_eq!(seen["remote-receive-interval"], 50, "{seen}");
        assert_eq!(seen["remote-transmit-interval"], 50, "{seen}");
        assert_eq!(seen["remote-detect-multiplier"], 3, "{seen}");
        let ours_id = seen["remote-id"].as_u64().expect("remote-id");
        assert!(
            infos
                .iter()
                .any(|i| u64::from(i.local_discriminator) == ours_id),
            "{seen}"
        );
    }
    for info in &infos {
        assert_eq!(info.state, SessionState::Up, "{info:#?}");
        assert_eq!(info.detection_time, Duration::from_millis(150), "{info:#?}");
    }

    // A link failure is detected on both sides and both recover.
    let mut detected = Vec::new();
    for _ in 0..3 {
        let started = Instant::now();
        link.b.ip(&["link", "set", "bfdb", "down"]);
        for peer in [A_V4, A_V6, A_LL] {
            let change = ours.wait_for(addr(peer), SessionState::Down, Duration::from_secs(2));
            assert_detected_failure(&change);
            detected.push(change.at - started);
        }
        wait(
            Duration::from_secs(2),
            || frr.peers().iter().all(|p| p["status"] != "up"),
            "FRR to see the peers down",
        );
        link.b.ip(&["link", "set", "bfdb", "up"]);
        for peer in [A_V4, A_V6, A_LL] {
            ours.wait_for(addr(peer), SessionState::Up, Duration::from_secs(10));
        }
        wait(
            Duration::from_secs(5),
            || frr.peers().iter().all(|p| p["status"] == "up"),
            "FRR to show all peers up again",
        );
        std::thread::sleep(Duration::from_millis(300));
    }
    eprintln!(
        "against FRR, link cut detected after {detected:?}, median {:?}",
        median(detected.clone())
    );

    // Removing our session tells FRR: AdminDown, not a failure.
    let v4 = infos
        .iter()
        .find(|i| i.peer == addr(A_V4))
        .expect("v4 session");
    ours.manager.remove(v4.id);
    wait(
        Duration::from_secs(2),
        || frr.peer(addr(B_V4))["remote-diagnostic"] == "administratively down",
        "FRR to see AdminDown",
    );
    assert_eq!(frr.peer(addr(B_V4))["status"], "down");
}
