//! The whole default fabric with routing daemons: `up` converges,
//! `ping-all` reaches every host, a failed link and a failed spine keep
//! every host reachable, restoring returns to full ECMP, and `converge`
//! measures loss windows.
//!
//! - `closd_fabric` and `closd_fabric_with_an_frr_leaf` need a closd that
//!   runs BGP unnumbered with a kernel FIB: they skip with `SKIP: closd
//!   lacks unnumbered support` while `closd -c RENDERED --check` refuses
//!   the rendered config, and start running by themselves once it does.
//! - `frr_fabric` runs FRR on every switch: it tests the lab itself (and
//!   is the reference closd is measured against); it skips when FRR is not
//!   installed.
//!
//! All skip when not root or without `ip netns`. Every wait is a poll with
//! a generous deadline, for slow, noisy CI machines.

mod common;

use std::path::{Path, PathBuf};
use std::time::Duration;

use common::{clos_bin_dir, eventually, skip, TestLab};

const SWITCHES: [&str; 6] = ["spine1", "spine2", "leaf1", "leaf2", "leaf3", "leaf4"];

/// The closd under test, or why the closd tests cannot run.
fn closd_or_skip(test: &str) -> Option<(PathBuf, PathBuf)> {
    let Some(dir) = clos_bin_dir() else {
        eprintln!("SKIP: {test}: closd/closctl not built (build them, or set CLOS_BIN_DIR)");
        return None;
    };
    let closd = dir.join("closd");
    // The daemon's own verdict on what the lab renders.
    let configs = tempfile::tempdir().unwrap();
    let out = common::run(&["render", "--out", configs.path().to_str().unwrap()]);
    assert!(out.status.success());
    let check = std::process::Command::new(&closd)
        .arg("-c")
        .arg(configs.path().join("leaf1.toml"))
        .arg("--check")
        .output()
        .unwrap();
    if !check.status.success() {
        eprintln!(
            "SKIP: {test}: closd lacks unnumbered support: {}",
            String::from_utf8_lossy(&check.stderr).trim()
        );
        return None;
    }
    Some((closd, dir.join("closctl")))
}

fn frr_installed() -> bool {
    ["zebra", "bgpd", "bfdd"]
        .iter()
        .all(|d| Path::new("/usr/lib/frr").join(d).is_file())
}

fn status(lab: &TestLab) -> serde_json::Value {
    let out = lab.run(&["status", "--json"]);
    assert!(out.status.success());
    serde_json::from_slice(&out.stdout).expect("status --json is JSON")
}

fn pings_ok(lab: &TestLab) -> bool {
    lab.run(&["ping-all"]).status.success()
}

/// The scenario every variant runs, after a successful `up`.
fn exercise(lab: &TestLab) {
    // `up` returned only once converged; full ECMP (which implies it) may
    // take a moment longer on a loaded machine.
    eventually("full ECMP after up", Duration::from_secs(90), || {
        status(lab)["full_ecmp"] == true
    });
    let out = lab.run(&["ping-all", "--json"]);
    assert!(out.status.success(), "ping-all fails on a converged fabric");
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["pings"], 24);

    // One link down: hosts still reach each other (over the other spine).
    assert!(lab.run(&["fail", "spine1-leaf1"]).status.success());
    eventually(
        "reachability with spine1-leaf1 down",
        Duration::from_secs(60),
        || pings_ok(lab),
    );
    assert_eq!(
        status(lab)["links_down"],
        serde_json::json!(["spine1-leaf1"])
    );
    assert!(lab.run(&["restore", "leaf1-spine1"]).status.success());
    eventually(
        "full ECMP after restoring spine1-leaf1",
        Duration::from_secs(90),
        || status(lab)["full_ecmp"] == true,
    );

    // A whole spine down.
    assert!(lab.run(&["fail", "spine2"]).status.success());
    eventually(
        "reachability with spine2 down",
        Duration::from_secs(60),
        || pings_ok(lab),
    );
    assert!(lab.run(&["restore", "spine2"]).status.success());
    eventually(
        "full ECMP after restoring spine2",
        Duration::from_secs(90),
        || status(lab)["full_ecmp"] == true,
    );

    // Loss windows are measured and traffic always recovers.
    let out = lab.run(&["converge", "--failures", "2", "--json"]);
    assert!(
        out.status.success(),
        "converge failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let failures = report["failures"].as_array().unwrap();
    assert_eq!(failures.len(), 2);
    for failure in failures {
        assert_eq!(failure["recovered"], true);
        assert!(failure["link"].as_str().unwrap().starts_with("spine"));
        assert!(failure["loss_ms"].as_f64().unwrap() >= 0.0);
    }
    assert!(report["loss_ms_median"].as_f64().is_some());
    assert!(report["loss_ms_max"].as_f64().is_some());
}

#[test]
fn closd_fabric() {
    const TEST: &str = "closd_fabric";
    if skip(TEST) {
        return;
    }
    let Some((closd, closctl)) = closd_or_skip(TEST) else {
        return;
    };
    let lab = TestLab::new();
    let out = lab.run(&[
        "--closd",
        closd.to_str().unwrap(),
        "--closctl",
        closctl.to_str().unwrap(),
        "up",
        "--timeout",
        "180s",
    ]);
    if !out.status.success() {
        dump_logs(&lab);
        panic!("up did not converge");
    }
    exercise(&lab);
    lab.down_and_check();
}

#[test]
fn closd_fabric_with_an_frr_leaf() {
    const TEST: &str = "closd_fabric_with_an_frr_leaf";
    if skip(TEST) {
        return;
    }
    if !frr_installed() {
        eprintln!("SKIP: {TEST}: FRR is not installed (Debian package frr)");
        return;
    }
    let Some((closd, closctl)) = closd_or_skip(TEST) else {
        return;
    };
    let lab = TestLab::new();
    let out = lab.run(&[
        "--closd",
        closd.to_str().unwrap(),
        "--closctl",
        closctl.to_str().unwrap(),
        "--frr",
        "leaf1",
        "up",
        "--timeout",
        "180s",
    ]);
    if !out.status.success() {
        dump_logs(&lab);
        panic!("up did not converge");
    }
    exercise(&lab);
    lab.down_and_check();
}

#[test]
fn frr_fabric() {
    const TEST: &str = "frr_fabric";
    if skip(TEST) {
        return;
    }
    if !frr_installed() {
        eprintln!("SKIP: {TEST}: FRR is not installed (Debian package frr)");
        return;
    }
    let lab = TestLab::new();
    let mut args = Vec::new();
    for switch in SWITCHES {
        args.extend(["--frr", switch]);
    }
    args.extend(["up", "--timeout", "180s"]);
    let out = lab.run(&args);
    if !out.status.success() {
        dump_logs(&lab);
        panic!("up did not converge");
    }
    exercise(&lab);
    lab.down_and_check();
}

/// Prints the end of every daemon log of the lab.
fn dump_logs(lab: &TestLab) {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                walk(&path, out);
            } else if path.extension().is_some_and(|e| e == "log" || e == "out") {
                out.push(path);
            }
        }
    }
    let mut logs = Vec::new();
    walk(lab.state_dir(), &mut logs);
    logs.sort();
    for log in logs {
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        eprintln!("---- {} ----", log.display());
        for line in &lines[lines.len().saturating_sub(60)..] {
            eprintln!("{line}");
        }
    }
}
