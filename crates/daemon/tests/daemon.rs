//! closd as a process: a bad config refuses to start with file, line and
//! key; a good one starts, drops its privileges, answers on its socket and
//! exits cleanly on SIGTERM.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn closd() -> Command {
    Command::new(env!("CARGO_BIN_EXE_closd"))
}

fn write(dir: &Path, name: &str, text: &str) -> std::path::PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn bad_config_exits_non_zero_naming_file_line_and_key() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(
        dir.path(),
        "closd.toml",
        "[router]\nasn = 65000\nrouter-id = \"10.0.0.1\"\n\n[[neighbor]]\naddress = \"10.0.0.2\"\nremote-as = \"foo\"\n",
    );
    let out = closd().arg("-c").arg(&path).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("closd.toml:7"), "{err}");
    assert!(err.contains("neighbor[0].remote-as"), "{err}");
}

#[test]
fn fabric_features_pass_the_check() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(
        dir.path(),
        "closd.toml",
        "[router]\nasn = 65000\nrouter-id = \"10.0.0.1\"\n\n[[neighbor]]\ninterface = \"eth1\"\nremote-as = \"external\"\nbfd = true\nbfd-interval = 50\n\n[fib]\nkernel = true\n",
    );
    let out = closd()
        .arg("-c")
        .arg(&path)
        .arg("--check")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("configuration OK"));
}

fn status_field(pid: u32, field: &str) -> Option<String> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix(&format!("{field}:")))
        .map(|v| v.trim().to_string())
}

/// Every thread of the daemon, not just the main one: capabilities are per
/// thread.
fn thread_caps(pid: u32) -> Vec<(String, String, String)> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(format!("/proc/{pid}/task"))
        .unwrap()
        .flatten()
    {
        let tid = entry.file_name().to_string_lossy().to_string();
        let status = std::fs::read_to_string(entry.path().join("status")).unwrap_or_default();
        let get = |f: &str| {
            status
                .lines()
                .find_map(|l| l.strip_prefix(&format!("{f}:")))
                .unwrap_or("")
                .trim()
                .to_string()
        };
        out.push((tid, get("CapEff"), get("CapBnd")));
    }
    out
}

#[test]
fn drops_privileges_and_serves_the_api() {
    if !nix_is_root() {
        eprintln!("SKIP: not root, nothing to drop");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("closd.sock");
    let path = write(
        dir.path(),
        "closd.toml",
        &format!(
            "[router]\nasn = 65000\nrouter-id = \"10.0.0.1\"\nlisten = [\"127.0.0.1:0\"]\n\n[api]\nsocket = \"{}\"\n",
            socket.display()
        ),
    );
    let mut child = closd()
        .arg("-c")
        .arg(&path)
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    let deadline = Instant::now() + Duration::from_secs(20);
    while !socket.exists() {
        assert!(Instant::now() < deadline, "closd never created its socket");
        assert!(child.try_wait().unwrap().is_none(), "closd exited");
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(status_field(pid, "NoNewPrivs").as_deref(), Some("1"));
    let threads = thread_caps(pid);
    assert!(threads.len() > 1, "expected runtime threads: {threads:?}");
    for (tid, eff, bnd) in &threads {
        assert_eq!(eff, "0000000000000000", "thread {tid} kept capabilities");
        assert_eq!(bnd, "0000000000000000", "thread {tid} kept a bounding set");
    }
    // Still serving after the drop.
    let summary = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(async {
            let mut client = clos_api::connect(&socket).await.unwrap();
            client
                .get_summary(clos_api::pb::SummaryRequest {})
                .await
                .unwrap()
                .into_inner()
        });
    assert_eq!(summary.asn, 65000);
    assert_eq!(summary.router_id, "10.0.0.1");
    nix_kill_term(pid);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            assert!(status.success(), "closd exited with {status}");
            break;
        }
        assert!(Instant::now() < deadline, "closd did not stop on SIGTERM");
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(!socket.exists(), "closd left its socket behind");
}

fn nix_is_root() -> bool {
    status_field(std::process::id(), "Uid")
        .and_then(|u| u.split_whitespace().nth(1).map(|e| e == "0"))
        .unwrap_or(false)
}

fn nix_kill_term(pid: u32) {
    let ok = Command::new("kill")
        .arg("-TERM")
        .arg(pid.to_string())
        .status()
        .unwrap()
        .success();
    assert!(ok);
}
