//! The lab's namespace machinery without routing daemons: `up
//! --no-daemons` builds namespaces, links and addresses; `down` leaves
//! nothing behind (no namespace, no veth, no process, no state), also
//! after an `up` that failed part-way or timed out, and also when the state
//! file is lost. Skips (with `SKIP:`) when not root or without `ip netns`.

mod common;

use std::os::unix::fs::PermissionsExt as _;
use std::process::Command;

use common::{skip, TestLab};

fn ip_in(ns: &str, args: &[&str]) -> String {
    let out = Command::new("ip")
        .args(["-n", ns])
        .args(args)
        .output()
        .expect("ip runs");
    assert!(out.status.success(), "ip -n {ns} {args:?} failed");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn up_without_daemons_builds_the_default_fabric_and_down_removes_it() {
    if skip("up_without_daemons_builds_the_default_fabric_and_down_removes_it") {
        return;
    }
    let lab = TestLab::new();
    let out = lab.run(&["up", "--no-daemons"]);
    assert!(out.status.success());
    let p = &lab.prefix;

    let mut names = lab.namespaces();
    names.sort();
    let mut expected: Vec<String> = [
        "spine1", "spine2", "leaf1", "leaf2", "leaf3", "leaf4", "host1-1", "host2-1", "host3-1",
        "host4-1",
    ]
    .iter()
    .map(|n| format!("{p}-{n}"))
    .collect();
    expected.sort();
    assert_eq!(names, expected);

    // Spines: eth1..eth4 to the leaves; leaves: eth1..eth2 to the spines
    // and host1 to their host; every one a veth that is up.
    let spine = ip_in(
        &format!("{p}-spine2"),
        &["-br", "link", "show", "type", "veth"],
    );
    for i in 1..=4 {
        assert!(spine.contains(&format!("eth{i}@")), "{spine}");
    }
    let leaf = ip_in(&format!("{p}-leaf3"), &["-br", "address", "show"]);
    assert!(leaf.contains("10.255.0.5/32"), "loopback: {leaf}");
    let host_port = leaf
        .lines()
        .find(|l| l.starts_with("host1@"))
        .expect("host1 port");
    assert!(host_port.contains("10.1.3.1/24"), "{host_port}");
    assert!(host_port.contains("2001:db8:1:3::1/64"), "{host_port}");
    // Fabric links: IPv6 link-local only (BGP unnumbered), no IPv4.
    for port in ["eth1@", "eth2@"] {
        let line = leaf
            .lines()
            .find(|l| l.starts_with(port))
            .expect("fabric port");
        assert!(line.contains(" UP "), "{line}");
        assert!(line.contains("fe80::"), "{line}");
        assert!(
            !line.contains('.'),
            "an IPv4 address on a fabric link: {line}"
        );
    }
    let host = ip_in(
        &format!("{p}-host3-1"),
        &["-br", "address", "show", "dev", "eth1"],
    );
    assert!(
        host.contains("10.1.3.2/24") && host.contains("2001:db8:1:3::2/64"),
        "{host}"
    );
    let routes = ip_in(&format!("{p}-host3-1"), &["route", "show", "default"]);
    assert!(routes.contains("via 10.1.3.1"), "{routes}");
    let routes = ip_in(&format!("{p}-host3-1"), &["-6", "route", "show", "default"]);
    assert!(routes.contains("via 2001:db8:1:3::1"), "{routes}");

    // Forwarding on, DAD off inside the switch namespaces.
    let ns = format!("{p}-leaf1");
    assert_eq!(
        clos_lab::sys::read_sysctl(&ns, "net.ipv4.ip_forward").unwrap(),
        "1"
    );
    assert_eq!(
        clos_lab::sys::read_sysctl(&ns, "net.ipv6.conf.all.forwarding").unwrap(),
        "1"
    );
    assert_eq!(
        clos_lab::sys::read_sysctl(&ns, "net.ipv6.conf.eth1.accept_dad").unwrap(),
        "0"
    );

    // status works on a daemon-less lab; fail/restore take both ends down.
    let out = lab.run(&["status", "--json"]);
    assert!(out.status.success());
    let status: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(status["daemons"], false);
    assert_eq!(status["nodes"].as_array().unwrap().len(), 10);
    assert!(lab.run(&["fail", "leaf2-spine1"]).status.success());
    let spine_end = ip_in(
        &format!("{p}-spine1"),
        &["-br", "link", "show", "dev", "eth2"],
    );
    let leaf_end = ip_in(
        &format!("{p}-leaf2"),
        &["-br", "link", "show", "dev", "eth1"],
    );
    assert!(
        spine_end.contains("DOWN") && leaf_end.contains("DOWN"),
        "{spine_end}{leaf_end}"
    );
    let out = lab.run(&["status", "--json"]);
    let status: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(status["links_down"], serde_json::json!(["spine1-leaf2"]));
    assert!(lab.run(&["restore", "spine1-leaf2"]).status.success());
    let spine_end = ip_in(
        &format!("{p}-spine1"),
        &["-br", "link", "show", "dev", "eth2"],
    );
    assert!(spine_end.contains(" UP "), "{spine_end}");
    assert!(!lab.run(&["fail", "spine1-leaf9"]).status.success());

    // A second up on the same prefix refuses.
    let again = lab.run(&["up", "--no-daemons"]);
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("down"));

    lab.down_and_check();
    // Idempotent.
    lab.down_and_check();
}

#[test]
fn a_custom_intent_file_shapes_the_fabric() {
    if skip("a_custom_intent_file_shapes_the_fabric") {
        return;
    }
    let lab = TestLab::new();
    let intent = lab.state_dir().join("small.toml");
    std::fs::write(
        &intent,
        "[fabric]\nspines = 1\nleaves = 2\nhosts-per-leaf = 2\n[addressing]\nhosts = \"10.9.0.0/20\"\n",
    )
    .unwrap();
    let out = lab.run(&["up", "--no-daemons", intent.to_str().unwrap()]);
    assert!(out.status.success());
    assert_eq!(lab.namespaces().len(), 1 + 2 + 4);
    let host = ip_in(
        &format!("{}-host2-2", lab.prefix),
        &["-br", "address", "show", "dev", "eth1"],
    );
    assert!(host.contains("10.9.2.3/24"), "{host}");
    assert!(!host.contains("2001:"), "no IPv6 configured: {host}");
    lab.down_and_check();
}

#[test]
fn down_cleans_up_after_an_up_that_failed_early() {
    if skip("down_cleans_up_after_an_up_that_failed_early") {
        return;
    }
    let lab = TestLab::new();
    let out = lab.run(&["up", "--closd", "/nonexistent/closd"]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("/nonexistent/closd"), "{stderr}");
    lab.down_and_check();
}

/// A stand-in closd: passes `--check`, then runs forever without ever
/// opening its API socket, so `up` times out with every namespace and a
/// process per switch left behind for `down`.
fn fake_closd(dir: &std::path::Path, body: &str) -> std::path::PathBuf {
    let path = dir.join("fake-closd");
    std::fs::write(
        &path,
        format!("#!/bin/sh\nfor a in \"$@\"; do [ \"$a\" = --check ] && exit 0; done\n{body}\n"),
    )
    .unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path
}

#[test]
fn down_stops_daemons_after_an_up_that_timed_out() {
    if skip("down_stops_daemons_after_an_up_that_timed_out") {
        return;
    }
    let lab = TestLab::new();
    let bin = tempfile::tempdir().unwrap();
    let closd = fake_closd(bin.path(), "exec sleep 600");
    let out = lab.run(&[
        "up",
        "--closd",
        closd.to_str().unwrap(),
        "--closctl",
        "/bin/false",
        "--timeout",
        "3s",
    ]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("did not converge within"), "{stderr}");
    assert!(stderr.contains("clos-lab down"), "{stderr}");
    // Left up for inspection: namespaces and one daemon per switch.
    assert_eq!(lab.namespaces().len(), 10);
    assert_eq!(lab.pids().len(), 6, "one stand-in daemon per switch");
    lab.down_and_check();
}

#[test]
fn up_fails_fast_when_a_daemon_exits_and_down_cleans_up() {
    if skip("up_fails_fast_when_a_daemon_exits_and_down_cleans_up") {
        return;
    }
    let lab = TestLab::new();
    let bin = tempfile::tempdir().unwrap();
    let closd = fake_closd(bin.path(), "echo 'fake closd: giving up' >&2; exit 3");
    let started = std::time::Instant::now();
    let out = lab.run(&[
        "up",
        "--closd",
        closd.to_str().unwrap(),
        "--closctl",
        "/bin/false",
        "--timeout",
        "120s",
    ]);
    assert!(!out.status.success());
    assert!(started.elapsed() < std::time::Duration::from_secs(60));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("has exited"), "{stderr}");
    assert!(stderr.contains("fake closd: giving up"), "{stderr}");
    lab.down_and_check();
}

#[test]
fn down_cleans_by_name_when_the_state_file_is_lost() {
    if skip("down_cleans_by_name_when_the_state_file_is_lost") {
        return;
    }
    let lab = TestLab::new();
    assert!(lab.run(&["up", "--no-daemons"]).status.success());
    std::fs::remove_file(lab.state_dir().join("state.json")).unwrap();
    assert_eq!(lab.namespaces().len(), 10);
    lab.down_and_check();
}

#[test]
fn down_keeps_foreign_files_in_a_given_state_directory() {
    if skip("down_keeps_foreign_files_in_a_given_state_directory") {
        return;
    }
    let lab = TestLab::new();
    let keep = lab.state_dir().join("notes.txt");
    std::fs::write(&keep, "mine").unwrap();
    assert!(lab.run(&["up", "--no-daemons"]).status.success());
    assert!(lab.state_dir().join("leaf1").is_dir());
    lab.down_and_check();
    assert!(keep.exists());
    assert!(!lab.state_dir().join("leaf1").exists());
}

#[test]
fn ping_all_reports_a_matrix_and_fails_without_routing() {
    if skip("ping_all_reports_a_matrix_and_fails_without_routing") {
        return;
    }
    // Without daemons only a host and its own leaf talk, so every
    // host-to-host ping fails: ping-all must say so and exit non-zero.
    let lab = TestLab::new();
    assert!(lab.run(&["up", "--no-daemons"]).status.success());
    let out = lab.run(&["ping-all", "--json"]);
    assert!(!out.status.success());
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["ok"], false);
    // 4 hosts, 3 peers each, IPv4 and IPv6.
    assert_eq!(report["pings"], 24);
    assert_eq!(report["failed"], 24);
    lab.down_and_check();
}
