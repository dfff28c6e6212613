//! The `kernel` scenario's network and daemons: two namespaces joined by a
//! veth pair, and each DUT configured to install what it learns into the
//! kernel's main table.
//!
//! Owns: the address plan, wiring the veth, the DUT configurations of this
//! scenario (same session settings as `dut.rs` for ingest, plus kernel
//! installation and ECMP), and starting them (FRR: zebra, then bgpd). Owns
//! no timing; stopping is `DutProcess`'s drop.
//!
//! Address plan: the DUT's namespace holds `bench0` with 10.99.0.1/24; the
//! feeders' namespace holds its peer `feed0` with 10.99.0.(2+k)/24 for
//! feeder k, who announces NEXT_HOP 10.99.0.(2+k). Every next hop is thus a
//! directly connected neighbour of the DUT, which BIRD and FRR require and
//! the kernel accepts as a gateway (installing needs no ARP).

use std::fmt::Write as _;
use std::net::{IpAddr, Ipv4Addr};
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{bail, Result};

use crate::dut::{bgpd_preamble, path, run, DutKind, DutProcess, Layout, Netns};
use crate::routes::{DUT_ASN, FEEDER_ASN};
use crate::util::Family;

/// The DUT's end of the veth.
pub const DUT_IF: &str = "bench0";
/// The feeders' end.
pub const FEEDER_IF: &str = "feed0";
/// Metric of every installer's routes (closd and FRR use 20 by default).
pub const METRIC: u32 = 20;
/// Netlink receive buffer of zebra, as Debian's /etc/frr/daemons sets it
/// (`zebra_options="-A 127.0.0.1 -s 90000000"`, the size FRR recommends
/// for full tables), and the same for BIRD's kernel protocol (`netlink rx
/// buffer`). BIRD still logs "Kernel dropped some netlink messages, will
/// resync on next scan" once or a few times at 1M routes: that is the
/// socket on which it hears of others' route changes, not its installs.
const NETLINK_RX_BUFFER: u32 = 90_000_000;

/// Who is where in a `kernel` run.
#[derive(Debug, Clone)]
pub struct KernelLayout {
    pub dut: Ipv4Addr,
    /// Feeder k's address, and the NEXT_HOP it announces.
    pub feeders: Vec<Ipv4Addr>,
}

impl KernelLayout {
    pub fn new(feeders: usize) -> Result<KernelLayout> {
        if feeders == 0 || feeders > 64 {
            bail!("between 1 and 64 feeders (--ecmp)");
        }
        Ok(KernelLayout {
            dut: Ipv4Addr::new(10, 99, 0, 1),
            feeders: (0..feeders)
                .map(|k| Ipv4Addr::new(10, 99, 0, 2 + k as u8))
                .collect(),
        })
    }

    /// The ingest scenario's layout type, for `Netns::create` (IPv4: only
    /// `lo` comes up) and the feeders' speakers.
    pub fn as_layout(&self) -> Layout {
        Layout {
            family: Family::Ipv4,
            dut: IpAddr::V4(self.dut),
            feeders: self.feeders.iter().map(|&a| IpAddr::V4(a)).collect(),
            monitors: Vec::new(),
        }
    }
}

/// Join `dut` and `peer` with a veth pair and give both ends their
/// addresses (see the module doc); both ends up.
pub fn wire(dut: &Netns, peer: &Netns, l: &KernelLayout) -> Result<()> {
    let ip = |ns: &Netns, args: &[&str]| {
        run(Command::new("ip").args(["-n", ns.name.as_str()]).args(args))
    };
    ip(
        dut,
        &[
            "link", "add", DUT_IF, "type", "veth", "peer", "name", FEEDER_IF, "netns", &peer.name,
        ],
    )?;
    ip(
        dut,
        &["addr", "add", &format!("{}/24", l.dut), "dev", DUT_IF],
    )?;
    for a in &l.feeders {
        ip(peer, &["addr", "add", &format!("{a}/24"), "dev", FEEDER_IF])?;
    }
    ip(dut, &["link", "set", DUT_IF, "up"])?;
    ip(peer, &["link", "set", FEEDER_IF, "up"])?;
    Ok(())
}

/// BIRD 2: one direct eBGP session per feeder (the next hops are on the
/// connected /24, `gateway direct` is the eBGP default), `import all;
/// export none`; the kernel protocol exports everything to table main with
/// metric 20, learns nothing, rescans the kernel table only hourly (so no
/// periodic scan falls into a run), has zebra's netlink receive buffer,
/// and with ECMP merges up to `ecmp`
/// equal paths into one multipath route (`merge paths`: BGP paths are
/// mergeable across neighbour ASes when equal through MED, which BIRD
/// compares only within one neighbour AS).
pub fn bird_config(l: &KernelLayout, work: &Path, ecmp: usize) -> String {
    let merge = if ecmp > 1 {
        format!(" merge paths on limit {ecmp};")
    } else {
        String::new()
    };
    let mut c = format!(
        "router id 10.0.0.1;\n\
         log \"{}\" {{ info, warning, error, fatal }};\n\
         protocol device {{ scan time 600; }}\n\
         protocol kernel {{ ipv4 {{ import none; export all; }}; learn off; \
         scan time 3600; metric {METRIC}; netlink rx buffer {NETLINK_RX_BUFFER};{merge} }}\n\
         template bgp feeders {{ local {} as {DUT_ASN}; passive on; \
         hold time 90; keepalive time 30; ipv4 {{ import all; export none; }}; }}\n",
        work.join("bird.log").display(),
        l.dut
    );
    for (k, a) in l.feeders.iter().enumerate() {
        let _ = writeln!(
            c,
            "protocol bgp feeder{k} from feeders {{ neighbor {a} as {}; }}",
            FEEDER_ASN + k as u32
        );
    }
    c
}

/// zebra: logging only; everything else is FRR's default (kernel nexthop
/// groups where the kernel has them).
pub fn zebra_config(work: &Path) -> String {
    format!(
        "hostname dut\nlog file {} informational\n",
        work.join("zebra.log").display()
    )
}

/// bgpd with zebra: the ingest settings (`frr defaults datacenter`, no
/// ebgp-requires-policy, hold 90 s, passive neighbours, deny-all out),
/// directly connected neighbours (no disable-connected-check), and
/// `maximum-paths` = `ecmp` with `bgp bestpath as-path multipath-relax`.
pub fn bgpd_config(l: &KernelLayout, work: &Path, ecmp: usize) -> String {
    let mut c = bgpd_preamble(work);
    if ecmp > 1 {
        c.push_str(" bgp bestpath as-path multipath-relax\n");
    }
    for (k, a) in l.feeders.iter().enumerate() {
        let _ = writeln!(c, " neighbor {a} remote-as {}", FEEDER_ASN + k as u32);
        let _ = writeln!(c, " neighbor {a} passive");
    }
    c.push_str(" address-family ipv4 unicast\n");
    let _ = writeln!(c, "  maximum-paths {ecmp}");
    for a in &l.feeders {
        let _ = writeln!(c, "  neighbor {a} activate");
        let _ = writeln!(c, "  neighbor {a} route-map NONE out");
    }
    c.push_str(" exit-address-family\n");
    c
}

/// closd: the ingest shape with `[fib] kernel = true` (table main,
/// protocol 201, metric 20) and, for ECMP, `multipath` = `ecmp` with
/// `multipath-relax`.
pub fn closd_config(l: &KernelLayout, work: &Path, ecmp: usize) -> String {
    let mut c = format!(
        "[router]\nasn = {DUT_ASN}\nrouter-id = \"10.0.0.1\"\nlisten = [\"{}:179\"]\n\
         hold-time = 90\n",
        l.dut
    );
    if ecmp > 1 {
        let _ = writeln!(c, "multipath = {ecmp}\nmultipath-relax = true");
    }
    let _ = write!(
        c,
        "\n[api]\nsocket = \"{}\"\n\n[fib]\nkernel = true\n",
        work.join("closd.sock").display()
    );
    for (k, a) in l.feeders.iter().enumerate() {
        let _ = write!(
            c,
            "\n[[neighbor]]\naddress = \"{a}\"\nremote-as = {}\npassive = true\n\
             families = [\"ipv4-unicast\"]\nimport = \"accept\"\nexport = \"reject\"\n",
            FEEDER_ASN + k as u32
        );
    }
    c
}

/// A started DUT: its processes (FRR: zebra and bgpd), each with a name.
pub struct Daemons {
    pub processes: Vec<(&'static str, DutProcess)>,
}

impl Daemons {
    /// The first process that is no longer running.
    pub fn exited(&mut self) -> Option<&'static str> {
        self.processes
            .iter_mut()
            .find_map(|(name, p)| (!p.alive()).then_some(*name))
    }

    pub fn pids(&self) -> Vec<u32> {
        self.processes.iter().map(|(_, p)| p.pid).collect()
    }

    /// Stop in reverse start order (bgpd before zebra).
    pub fn stop(&mut self) {
        for (_, p) in self.processes.iter_mut().rev() {
            p.stop();
        }
    }
}

impl Drop for Daemons {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Write `kind`'s configuration into `work` and start it in `ns`.
pub fn start(
    kind: DutKind,
    l: &KernelLayout,
    ns: &Netns,
    work: &Path,
    closd: &Path,
    ecmp: usize,
) -> Result<Daemons> {
    let mut d = Daemons {
        processes: Vec::new(),
    };
    let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
    match kind {
        DutKind::Bird => {
            let conf = work.join("bird.conf");
            std::fs::write(&conf, bird_config(l, work, ecmp))?;
            let args = s(&[
                "-f",
                "-c",
                &path(&conf),
                "-s",
                &path(&work.join("bird.ctl")),
                "-P",
                &path(&work.join("bird.pid")),
            ]);
            let p = DutProcess::spawn(kind, ns, "bird", &args, &work.join("bird.out"))?;
            d.processes.push(("bird", p));
        }
        DutKind::Frr => {
            let zserv = work.join("zserv.api");
            let zconf = work.join("zebra.conf");
            std::fs::write(&zconf, zebra_config(work))?;
            let args = s(&[
                "-f",
                &path(&zconf),
                "-i",
                &path(&work.join("zebra.pid")),
                "-z",
                &path(&zserv),
                "--vty_socket",
                &path(work),
                "-P",
                "0",
                "-s",
                &NETLINK_RX_BUFFER.to_string(),
            ]);
            // zebra has no -S: it drops to the frr user (keeping the
            // capabilities it needs), as in production, and then writes its
            // log, pid file and sockets here.
            run(Command::new("chown").args(["frr:frr", &path(work)]))?;
            let p = DutProcess::spawn(
                kind,
                ns,
                "/usr/lib/frr/zebra",
                &args,
                &work.join("zebra.out"),
            )?;
            d.processes.push(("zebra", p));
            // bgpd retries a missing zebra only after seconds: wait for it.
            let deadline = Instant::now() + Duration::from_secs(15);
            while !zserv.exists() {
                if let Some(name) = d.exited() {
                    bail!("{name} exited at start-up (see {})", work.display());
                }
                if Instant::now() > deadline {
                    bail!("zebra did not open {} in 15 s", zserv.display());
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            let conf = work.join("bgpd.conf");
            std::fs::write(&conf, bgpd_config(l, work, ecmp))?;
            // No -Z (zebra installs the routes) and no -l: bgpd's -l
            // implies -n, "do not install routes to the kernel".
            let args = s(&[
                "-S",
                "-f",
                &path(&conf),
                "-i",
                &path(&work.join("bgpd.pid")),
                "-z",
                &path(&zserv),
                "--vty_socket",
                &path(work),
                "-P",
                "0",
            ]);
            let p =
                DutProcess::spawn(kind, ns, "/usr/lib/frr/bgpd", &args, &work.join("bgpd.out"))?;
            d.processes.push(("bgpd", p));
        }
        DutKind::Closd => {
            let conf = work.join("closd.toml");
            std::fs::write(&conf, closd_config(l, work, ecmp))?;
            let args = s(&["-c", &path(&conf)]);
            let p = DutProcess::spawn(kind, ns, &path(closd), &args, &work.join("closd.out"))?;
            d.processes.push(("closd", p));
        }
        DutKind::Gobgp => {
            bail!("gobgp has no kernel installation here (no zebra); use bird, frr, closd")
        }
    }
    Ok(d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_is_one_connected_subnet() {
        let l = KernelLayout::new(8).unwrap();
        assert_eq!(l.dut, Ipv4Addr::new(10, 99, 0, 1));
        assert_eq!(l.feeders[7], Ipv4Addr::new(10, 99, 0, 9));
        assert!(KernelLayout::new(0).is_err());
        assert_eq!(l.as_layout().feeders.len(), 8);
    }

    #[test]
    fn bird_merges_paths_only_for_ecmp() {
        let w = Path::new("/w");
        let one = bird_config(&KernelLayout::new(1).unwrap(), w, 1);
        assert!(one.contains("protocol kernel { ipv4 { import none; export all; }; learn off;"));
        assert!(one.contains("netlink rx buffer 90000000;"));
        assert!(!one.contains("merge paths"));
        assert!(one.contains("local 10.99.0.1 as 65000"));
        assert!(!one.contains("multihop"));
        assert!(one.contains("protocol bgp feeder0 from feeders { neighbor 10.99.0.2 as 65001; }"));
        let eight = bird_config(&KernelLayout::new(8).unwrap(), w, 8);
        assert!(eight.contains("merge paths on limit 8;"));
        assert!(
            eight.contains("protocol bgp feeder7 from feeders { neighbor 10.99.0.9 as 65008; }")
        );
    }

    #[test]
    fn frr_multipath_relax_and_no_connected_check_override() {
        let w = Path::new("/w");
        let c = bgpd_config(&KernelLayout::new(8).unwrap(), w, 8);
        assert!(c.contains(" bgp bestpath as-path multipath-relax\n"));
        assert!(c.contains("  maximum-paths 8\n"));
        assert!(c.contains(" neighbor 10.99.0.9 remote-as 65008\n"));
        assert!(c.contains("  neighbor 10.99.0.9 route-map NONE out\n"));
        assert!(!c.contains("disable-connected-check"));
        let c1 = bgpd_config(&KernelLayout::new(1).unwrap(), w, 1);
        assert!(!c1.contains("multipath-relax"));
        assert!(c1.contains("  maximum-paths 1\n"));
        assert!(zebra_config(w).contains("log file /w/zebra.log"));
    }

    #[test]
    fn closd_installs_into_the_kernel() {
        let w = Path::new("/w");
        let c = closd_config(&KernelLayout::new(8).unwrap(), w, 8);
        assert!(c.contains("listen = [\"10.99.0.1:179\"]"));
        assert!(c.contains("multipath = 8\nmultipath-relax = true\n"));
        assert!(c.contains("[fib]\nkernel = true\n"));
        assert_eq!(c.matches("[[neighbor]]").count(), 8);
        let c1 = closd_config(&KernelLayout::new(1).unwrap(), w, 1);
        assert!(!c1.contains("multipath"));
    }
}
