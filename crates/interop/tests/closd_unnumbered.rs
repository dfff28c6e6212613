//! BGP unnumbered between two closd over a veth pair that has nothing but
//! IPv6 link-local addresses: each finds the other by Router
//! Advertisements, IPv4 and IPv6 routes flow with link-local next hops
//! (RFC 8950), the kernel gets `via inet6 fe80::…` routes, loopbacks ping;
//! BFD at 50 ms × 3 tears the session down long before the hold timer when
//! the peer freezes. Needs root and `cargo build --workspace --bins`.

use std::time::{Duration, Instant};

use anyhow::{ensure, Context, Result};
use clos_interop::closd::ClosdOptions;
use clos_interop::{wait_until, Closd, Lab, Netns, Peer, RouterConfig};
use serde_json::Value;

const TIMEOUT: Duration = Duration::from_secs(60);

fn config(asn: u32, index: u8) -> String {
    format!(
        r#"[router]
asn = {asn}
router-id = "10.255.0.{index}"
listen = ["[::]:179"]
originate = ["10.255.0.{index}/32", "2001:db8:ff::{index}/128"]
connect-retry = 1

[api]
socket = "{{socket}}"

[fib]
kernel = true

[[neighbor]]
interface = "eth1"
remote-as = "external"
families = ["ipv4-unicast", "ipv6-unicast"]
import = "accept"
export = "accept"
hold-time = 90
bfd = true
bfd-interval = 50
bfd-multiplier = 3
"#
    )
}

fn node(lab: &Lab, tag: &str, index: u8) -> Result<Netns> {
    let ns = lab.netns(tag)?;
    for sysctl in [
        "net.ipv6.conf.all.accept_dad=0",
        "net.ipv6.conf.default.accept_dad=0",
        "net.ipv4.ip_forward=1",
        "net.ipv6.conf.all.forwarding=1",
    ] {
        ns.exec("sysctl", &["-qw", sysctl])?;
    }
    ns.ip(&["addr", "add", &format!("10.255.0.{index}/32"), "dev", "lo"])?;
    ns.ip(&[
        "addr",
        "add",
        &format!("2001:db8:ff::{index}/128"),
        "dev",
        "lo",
    ])?;
    Ok(ns)
}

fn start(lab: &Lab, ns: &Netns, tag: &str, asn: u32, index: u8) -> Result<Closd> {
    Closd::start_with(
        lab,
        ns,
        tag,
        RouterConfig {
            asn,
            router_id: format!("10.255.0.{index}").parse()?,
            neighbors: vec![],
            originate: vec![],
        },
        ClosdOptions {
            raw_config: Some(config(asn, index)),
            ..Default::default()
        },
    )
}

fn neighbor(closd: &Closd) -> Result<Value> {
    let summary = closd.summary()?;
    summary["neighbors"]
        .as_array()
        .and_then(|n| n.first())
        .cloned()
        .context("no neighbor in the summary")
}

fn wait_established(closd: &Closd) -> Result<()> {
    wait_until(
        "the unnumbered session on eth1 Established",
        TIMEOUT,
        || {
            let n = neighbor(closd)?;
            ensure!(n["address"] == "eth1", "neighbor named {}", n["address"]);
            Ok((n["state"] == "Established").then_some(()))
        },
    )
}

fn link_local(ns: &Netns, dev: &str) -> Result<String> {
    let out = ns.ip(&["-6", "-j", "addr", "show", "dev", dev, "scope", "link"])?;
    let v: Value = serde_json::from_str(&out)?;
    v[0]["addr_info"][0]["local"]
        .as_str()
        .map(str::to_string)
        .context("no link-local address")
}

#[test]
fn unnumbered_sessions_carry_ipv4_over_link_local_next_hops() {
    Lab::run("unnumbered", |lab| {
        let a = node(lab, "a", 1)?;
        let b = node(lab, "b", 2)?;
        a.ip(&[
            "link",
            "add",
            "eth1",
            "type",
            "veth",
            "peer",
            "name",
            "eth1",
            "netns",
            b.name(),
        ])?;
        a.ip(&["link", "set", "eth1", "up"])?;
        b.ip(&["link", "set", "eth1", "up"])?;
        let closd_a = start(lab, &a, "a", 65001, 1)?;
        let closd_b = start(lab, &b, "b", 65002, 2)?;
        wait_established(&closd_a)?;
        wait_established(&closd_b)?;
        let b_ll = link_local(&b, "eth1")?;

        // The IPv4 loopback of b in a's kernel, via b's link-local address.
        let route = wait_until("10.255.0.2 via inet6 in a's kernel", TIMEOUT, || {
            let out = a.ip(&["-j", "route", "show", "10.255.0.2", "proto", "201"])?;
            let v: Value = serde_json::from_str(&out)?;
            Ok(v.as_array().and_then(|r| r.first()).cloned())
        })?;
        ensure!(
            route["via"]["family"] == "inet6" && route["via"]["host"] == b_ll.as_str(),
            "next hop is not b's link-local: {route}"
        );
        ensure!(route["dev"] == "eth1", "{route}");
        let text = a.ip(&["route", "show", "10.255.0.2"])?;
        ensure!(text.contains("via inet6"), "{text}");
        // And the IPv6 loopback.
        wait_until("2001:db8:ff::2 in a's kernel", TIMEOUT, || {
            let out = a.ip(&["-6", "route", "show", "2001:db8:ff::2", "proto", "201"])?;
            Ok(out.contains(&b_ll).then_some(()))
        })?;
        for (dst, src, flag) in [
            ("10.255.0.2", "10.255.0.1", "-4"),
            ("2001:db8:ff::2", "2001:db8:ff::1", "-6"),
        ] {
            wait_until(&format!("ping {dst} from a"), TIMEOUT, || {
                Ok(
                    a.exec("ping", &[flag, "-c", "1", "-W", "1", "-I", src, dst])
                        .is_ok()
                        .then_some(()),
                )
            })?;
        }
        // closctl names the neighbor by its interface.
        let detail = closd_a.closctl_json(&["bgp", "neighbor", "eth1"])?;
        let families = detail["families"].to_string();
        ensure!(
            families.contains("ipv4-unicast") && families.contains("ipv6-unicast"),
            "{detail}"
        );
        ensure!(detail["remote_address"] == b_ll.as_str(), "{detail}");
        let detail = wait_until("BFD Up with b", TIMEOUT, || {
            let d = closd_a.closctl_json(&["bgp", "neighbor", "eth1"])?;
            Ok((d["bfd_state"] == "Up").then_some(d))
        })?;
        let detect = detail["bfd_detect_ms"].as_u64().unwrap_or(0);
        ensure!(
            (100..=200).contains(&detect),
            "detection time {detect} ms, not 3 x 50 ms: {detail}"
        );

        // BFD: b freezes (no BFD, no keepalives). a must drop the session
        // within a few detection times, not after the 90 s hold time.
        closd_b.process()?.freeze()?;
        let frozen = Instant::now();
        wait_until(
            "a's session down after BFD detection",
            Duration::from_secs(20),
            || Ok((neighbor(&closd_a)?["state"] != "Established").then_some(())),
        )?;
        let took = frozen.elapsed();
        ensure!(
            took < Duration::from_secs(10),
            "took {took:?}: the hold timer, not BFD"
        );
        let n = neighbor(&closd_a)?;
        ensure!(
            n["last_error"].as_str().unwrap_or("").contains("BFD"),
            "last error does not name BFD: {n}"
        );
        wait_until("b's routes gone from a's kernel", TIMEOUT, || {
            Ok(a.ip(&["route", "show", "10.255.0.2", "proto", "201"])?
                .trim()
                .is_empty()
                .then_some(()))
        })?;
        closd_b.process()?.thaw()?;
        wait_established(&closd_a)?;
        Ok(())
    });
}
