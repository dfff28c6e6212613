//! Daemons under test, and the network namespace they run in.
//!
//! Owns: the per-run namespace (created, entered by the run's threads,
//! deleted on drop), the address plan, each DUT's configuration (the same
//! settings as the shared harness `bgp-ingest/ingest.sh`, generalised to K
//! feeders and M monitors), starting the DUT as a direct child and
//! stopping it by PID on drop, and reading its memory and CPU from /proc.
//!
//! Address plan (all on the namespace's `lo`):
//! - IPv4: DUT 127.0.0.1, feeder k 127.0.0.(2+k), monitor m 127.0.1.(1+m).
//! - IPv6: DUT fd00::1, feeder k fd00::(2+k), monitor m fd00::1:(1+m),
//!   added as fd00::/64 addresses with `nodad`.
//!
//! Router IDs: DUT 10.0.0.1, feeder k 10.0.1.(1+k), monitor m 10.0.2.(1+m).

use std::fmt::Write as _;
use std::fs::File;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

use crate::routes::{DUT_ASN, FEEDER_ASN, MONITOR_ASN};
use crate::util::Family;

/// The daemons this tool knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum DutKind {
    Bird,
    Frr,
    Gobgp,
    Closd,
}

impl DutKind {
    pub fn name(self) -> &'static str {
        match self {
            DutKind::Bird => "bird",
            DutKind::Frr => "frr",
            DutKind::Gobgp => "gobgp",
            DutKind::Closd => "closd",
        }
    }

    /// Whether the DUT passes a received MED on to another AS. RFC 4271
    /// §5.1.4 says it must not; measured (2026-11): BIRD 2.0.12, FRR 8.4.4,
    /// GoBGP 3.10 and closd all drop it. Kept as the one per-DUT
    /// normalisation point should a DUT differ.
    pub fn keeps_med(self) -> bool {
        false
    }
}

/// Who is where in a run.
#[derive(Debug, Clone)]
pub struct Layout {
    pub family: Family,
    pub dut: IpAddr,
    pub feeders: Vec<IpAddr>,
    pub monitors: Vec<IpAddr>,
}

impl Layout {
    pub fn new(family: Family, feeders: usize, monitors: usize) -> Result<Layout> {
        if feeders == 0 || feeders > 250 || monitors > 250 {
            bail!("between 1 and 250 feeders and at most 250 monitors");
        }
        let (dut, f, m): (IpAddr, Vec<IpAddr>, Vec<IpAddr>) = match family {
            Family::Ipv4 => (
                Ipv4Addr::new(127, 0, 0, 1).into(),
                (0..feeders)
                    .map(|k| Ipv4Addr::new(127, 0, 0, 2 + k as u8).into())
                    .collect(),
                (0..monitors)
                    .map(|k| Ipv4Addr::new(127, 0, 1, 1 + k as u8).into())
                    .collect(),
            ),
            Family::Ipv6 => (
                Ipv6Addr::new(0xfd00, 0, 0, 0, 0, 0, 0, 1).into(),
                (0..feeders)
                    .map(|k| Ipv6Addr::new(0xfd00, 0, 0, 0, 0, 0, 0, 2 + k as u16).into())
                    .collect(),
                (0..monitors)
                    .map(|k| Ipv6Addr::new(0xfd00, 0, 0, 0, 0, 0, 1, 1 + k as u16).into())
                    .collect(),
            ),
        };
        Ok(Layout {
            family,
            dut,
            feeders: f,
            monitors: m,
        })
    }

    pub fn feeder_id(k: usize) -> Ipv4Addr {
        Ipv4Addr::new(10, 0, 1, 1 + k as u8)
    }
    pub fn monitor_id(m: usize) -> Ipv4Addr {
        Ipv4Addr::new(10, 0, 2, 1 + m as u8)
    }
    fn all_addresses(&self) -> Vec<IpAddr> {
        let mut v = vec![self.dut];
        v.extend(&self.feeders);
        v.extend(&self.monitors);
        v
    }
}

/// Run a command to completion; its stderr in the error when it fails.
pub fn run(cmd: &mut Command) -> Result<()> {
    let out = cmd
        .stdin(Stdio::null())
        .output()
        .with_context(|| format!("running {cmd:?}"))?;
    if !out.status.success() {
        bail!(
            "{cmd:?} failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(())
}

/// A private network namespace with only `lo` up; deleted on drop.
pub struct Netns {
    pub name: String,
}

impl Netns {
    pub fn create(name: &str, layout: &Layout) -> Result<Netns> {
        run(Command::new("ip").args(["netns", "add", name]))?;
        let ns = Netns {
            name: name.to_string(),
        };
        run(Command::new("ip").args(["-n", name, "link", "set", "lo", "up"]))?;
        if layout.family == Family::Ipv6 {
            for a in layout.all_addresses() {
                run(Command::new("ip").args([
                    "-n",
                    name,
                    "addr",
                    "add",
                    &format!("{a}/64"),
                    "dev",
                    "lo",
                    "nodad",
                ]))?;
            }
        }
        Ok(ns)
    }

    /// Move the calling thread (and the threads it spawns later) into the
    /// namespace.
    pub fn enter(&self) -> Result<()> {
        enter_namespace(&self.name)
    }
}

/// Move the calling thread (and the threads it spawns later) into the
/// named namespace (`ip netns` name).
pub fn enter_namespace(name: &str) -> Result<()> {
    let f = File::open(format!("/run/netns/{name}"))
        .with_context(|| format!("opening namespace {name}"))?;
    // SAFETY: setns(2) only reads the descriptor, which `f` keeps open for
    // the duration of the call; it changes the network namespace of the
    // calling thread alone and touches no memory of ours.
    #[allow(unsafe_code)]
    let rc = unsafe { libc::setns(f.as_raw_fd(), libc::CLONE_NEWNET) };
    if rc != 0 {
        bail!("setns into {name}: {}", std::io::Error::last_os_error());
    }
    Ok(())
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .stderr(Stdio::null())
            .status();
    }
}

/// A running DUT; stopped (TERM, then KILL after 2 s) on drop.
pub struct DutProcess {
    pub kind: DutKind,
    pub pid: u32,
    child: Child,
}

impl DutProcess {
    pub fn alive(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    pub fn stop(&mut self) {
        if !self.alive() {
            return;
        }
        let _ = Command::new("kill")
            .args(["-TERM", &self.pid.to_string()])
            .stderr(Stdio::null())
            .status();
        let deadline = Instant::now() + Duration::from_secs(2);
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

impl Drop for DutProcess {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Write the DUT's config into `work` and start it in `ns`.
pub fn start(
    kind: DutKind,
    layout: &Layout,
    ns: &Netns,
    work: &Path,
    closd: &Path,
) -> Result<DutProcess> {
    let (program, args): (String, Vec<String>) = match kind {
        DutKind::Bird => {
            let conf = work.join("bird.conf");
            std::fs::write(&conf, bird_config(layout, work))?;
            (
                "bird".into(),
                vec![
                    "-f".into(),
                    "-c".into(),
                    path(&conf),
                    "-s".into(),
                    path(&work.join("bird.ctl")),
                    "-P".into(),
                    path(&work.join("bird.pid")),
                ],
            )
        }
        DutKind::Frr => {
            let conf = work.join("bgpd.conf");
            std::fs::write(&conf, frr_config(layout, work))?;
            (
                "/usr/lib/frr/bgpd".into(),
                vec![
                    // -Z: no zebra (no FIB, no next-hop tracking); -S: no user switch.
                    "-Z".into(),
                    "-S".into(),
                    "-f".into(),
                    path(&conf),
                    "-i".into(),
                    path(&work.join("bgpd.pid")),
                    "--vty_socket".into(),
                    path(work),
                    "-P".into(),
                    "0".into(),
                    "-l".into(),
                    layout.dut.to_string(),
                ],
            )
        }
        DutKind::Gobgp => {
            let conf = work.join("gobgpd.toml");
            std::fs::write(&conf, gobgp_config(layout))?;
            (
                "gobgpd".into(),
                vec![
                    "-f".into(),
                    path(&conf),
                    "-t".into(),
                    "toml".into(),
                    "--api-hosts".into(),
                    "127.0.0.1:50051".into(),
                    "-l".into(),
                    "warn".into(),
                ],
            )
        }
        DutKind::Closd => {
            let conf = work.join("closd.toml");
            std::fs::write(&conf, closd_config(layout, work))?;
            (path(closd), vec!["-c".into(), path(&conf)])
        }
    };
    DutProcess::spawn(kind, ns, &program, &args, &work.join("dut.log"))
}

impl DutProcess {
    /// Start `program` in `ns` as a direct child (`ip netns exec` execs
    /// it, so the PID is the daemon's), stdout and stderr to `log`.
    pub fn spawn(
        kind: DutKind,
        ns: &Netns,
        program: &str,
        args: &[String],
        log: &Path,
    ) -> Result<DutProcess> {
        let log = File::create(log).with_context(|| format!("creating {}", log.display()))?;
        let child = Command::new("ip")
            .args(["netns", "exec", &ns.name, program])
            .args(args)
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()
            .with_context(|| format!("starting {program}"))?;
        Ok(DutProcess {
            kind,
            pid: child.id(),
            child,
        })
    }
}

pub fn path(p: &Path) -> String {
    p.to_string_lossy().into_owned()
}

/// BIRD 2: 127/8 is refused as a direct neighbour, so every session is
/// `multihop` (for IPv6 too, for the same shape); no kernel protocol;
/// feeders `import all; export none`, monitors `import none; export all;
/// next hop self`. Hold 90 s, keepalive 30 s.
pub fn bird_config(l: &Layout, work: &Path) -> String {
    let ch = match l.family {
        Family::Ipv4 => "ipv4",
        Family::Ipv6 => "ipv6",
    };
    let mut c = format!(
        "router id 10.0.0.1;\n\
         log \"{}\" {{ info, warning, error, fatal }};\n\
         protocol device {{ scan time 600; }}\n\
         template bgp fabric {{ local {} as {DUT_ASN}; passive on; multihop; \
         hold time 90; keepalive time 30; }}\n",
        work.join("bird.log").display(),
        l.dut
    );
    for (k, a) in l.feeders.iter().enumerate() {
        let _ = writeln!(
            c,
            "protocol bgp feeder{k} from fabric {{ neighbor {a} as {}; \
             {ch} {{ import all; export none; }}; }}",
            FEEDER_ASN + k as u32
        );
    }
    for (m, a) in l.monitors.iter().enumerate() {
        let _ = writeln!(
            c,
            "protocol bgp monitor{m} from fabric {{ neighbor {a} as {}; \
             {ch} {{ import none; export all; next hop self; }}; }}",
            MONITOR_ASN + m as u32
        );
    }
    c
}

/// The start of every bgpd config of the benchmarks: `frr defaults
/// datacenter`, a log file in `work`, the deny-all route-map `NONE`, and
/// `router bgp` with no ebgp-requires-policy, no network import-check and
/// `timers bgp 30 90` (the datacenter default is 3/9 s; every DUT runs the
/// same 90 s hold time).
pub fn bgpd_preamble(work: &Path) -> String {
    format!(
        "frr defaults datacenter\n\
         hostname dut\n\
         log file {} informational\n\
         route-map NONE deny 10\n\
         router bgp {DUT_ASN}\n \
         bgp router-id 10.0.0.1\n \
         no bgp ebgp-requires-policy\n \
         no bgp network import-check\n \
         timers bgp 30 90\n",
        work.join("bgpd.log").display()
    )
}

/// FRR: bgpd alone, `frr defaults datacenter`, no ebgp-requires-policy,
/// disable-connected-check, advertisement-interval 0 to monitors, deny-all
/// route-map out to feeders. `timers bgp 30 90` overrides the datacenter
/// default of 3/9 s so every DUT runs the same 90 s hold time.
pub fn frr_config(l: &Layout, work: &Path) -> String {
    let af = match l.family {
        Family::Ipv4 => "ipv4",
        Family::Ipv6 => "ipv6",
    };
    let mut c = bgpd_preamble(work);
    let peers = l
        .feeders
        .iter()
        .enumerate()
        .map(|(k, a)| (a, FEEDER_ASN + k as u32, false))
        .chain(
            l.monitors
                .iter()
                .enumerate()
                .map(|(m, a)| (a, MONITOR_ASN + m as u32, true)),
        );
    for (a, asn, monitor) in peers.clone() {
        let _ = writeln!(c, " neighbor {a} remote-as {asn}");
        let _ = writeln!(c, " neighbor {a} passive");
        let _ = writeln!(c, " neighbor {a} disable-connected-check");
        if monitor {
            let _ = writeln!(c, " neighbor {a} advertisement-interval 0");
        }
    }
    let _ = writeln!(c, " address-family {af} unicast");
    for (a, _, monitor) in peers {
        let _ = writeln!(c, "  neighbor {a} activate");
        if !monitor {
            let _ = writeln!(c, "  neighbor {a} route-map NONE out");
        }
    }
    c.push_str(" exit-address-family\n");
    c
}

/// GoBGP: passive neighbours, no zebra; hold 90/keepalive 30 (its
/// defaults, written out); a global export policy that accepts towards the
/// monitors only (the analogue of the deny-all towards feeders elsewhere).
pub fn gobgp_config(l: &Layout) -> String {
    let afi = match l.family {
        Family::Ipv4 => "ipv4-unicast",
        Family::Ipv6 => "ipv6-unicast",
    };
    let mut c = format!(
        "[global.config]\n  as = {DUT_ASN}\n  router-id = \"10.0.0.1\"\n  \
         local-address-list = [\"{}\"]\n\
         [global.apply-policy.config]\n  export-policy-list = [\"to-monitors\"]\n  \
         default-export-policy = \"reject-route\"\n",
        l.dut
    );
    let peers = l
        .feeders
        .iter()
        .enumerate()
        .map(|(k, a)| (a, FEEDER_ASN + k as u32))
        .chain(
            l.monitors
                .iter()
                .enumerate()
                .map(|(m, a)| (a, MONITOR_ASN + m as u32)),
        );
    for (a, asn) in peers {
        let _ = write!(
            c,
            "[[neighbors]]\n  [neighbors.config]\n    neighbor-address = \"{a}\"\n    \
             peer-as = {asn}\n  [neighbors.timers.config]\n    hold-time = 90\n    \
             keepalive-interval = 30\n  [neighbors.transport.config]\n    \
             passive-mode = true\n  [[neighbors.afi-safis]]\n    \
             [neighbors.afi-safis.config]\n      afi-safi-name = \"{afi}\"\n"
        );
    }
    let monitors: Vec<String> = l.monitors.iter().map(|a| format!("\"{a}\"")).collect();
    let _ = write!(
        c,
        "[[defined-sets.neighbor-sets]]\n  neighbor-set-name = \"monitors\"\n  \
         neighbor-info-list = [{}]\n\
         [[policy-definitions]]\n  name = \"to-monitors\"\n  \
         [[policy-definitions.statements]]\n    name = \"monitors\"\n    \
         [policy-definitions.statements.conditions.match-neighbor-set]\n      \
         neighbor-set = \"monitors\"\n    [policy-definitions.statements.actions]\n      \
         route-disposition = \"accept-route\"\n",
        monitors.join(", ")
    );
    c
}

/// closd (shape of bench/closd-ingest.toml): passive neighbours; feeders
/// import accept/export reject, monitors import reject/export accept; no
/// kernel FIB; hold 90 s.
pub fn closd_config(l: &Layout, work: &Path) -> String {
    let fam = match l.family {
        Family::Ipv4 => "ipv4-unicast",
        Family::Ipv6 => "ipv6-unicast",
    };
    let listen = match l.dut {
        IpAddr::V4(a) => format!("{a}:179"),
        IpAddr::V6(a) => format!("[{a}]:179"),
    };
    let mut c = format!(
        "[router]\nasn = {DUT_ASN}\nrouter-id = \"10.0.0.1\"\nlisten = [\"{listen}\"]\n\
         hold-time = 90\n\n[api]\nsocket = \"{}\"\n\n[fib]\nkernel = false\n",
        work.join("closd.sock").display()
    );
    for (k, a) in l.feeders.iter().enumerate() {
        let _ = write!(
            c,
            "\n[[neighbor]]\naddress = \"{a}\"\nremote-as = {}\npassive = true\n\
             families = [\"{fam}\"]\nimport = \"accept\"\nexport = \"reject\"\n",
            FEEDER_ASN + k as u32
        );
    }
    for (m, a) in l.monitors.iter().enumerate() {
        let _ = write!(
            c,
            "\n[[neighbor]]\naddress = \"{a}\"\nremote-as = {}\npassive = true\n\
             families = [\"{fam}\"]\nimport = \"reject\"\nexport = \"accept\"\n",
            MONITOR_ASN + m as u32
        );
    }
    c
}

/// Memory of a process: (VmHWM, VmRSS) in KiB.
pub fn memory_kib(pid: u32) -> Option<(u64, u64)> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let field = |name: &str| -> Option<u64> {
        s.lines()
            .find(|l| l.starts_with(name))?
            .split_whitespace()
            .nth(1)?
            .parse()
            .ok()
    };
    Some((field("VmHWM:")?, field("VmRSS:")?))
}

/// utime + stime of a process (all threads), in seconds.
pub fn cpu_seconds(pid: u32, ticks: f64) -> Option<f64> {
    stat_cpu_seconds(&format!("/proc/{pid}/stat"), ticks)
}

/// utime + stime of the calling thread, in seconds.
pub fn thread_cpu_seconds(ticks: f64) -> Option<f64> {
    stat_cpu_seconds("/proc/thread-self/stat", ticks)
}

fn stat_cpu_seconds(path: &str, ticks: f64) -> Option<f64> {
    let s = std::fs::read_to_string(path).ok()?;
    let rest = s.rsplit_once(')')?.1;
    let f: Vec<&str> = rest.split_whitespace().collect();
    let u: f64 = f.get(11)?.parse().ok()?;
    let st: f64 = f.get(12)?.parse().ok()?;
    Some((u + st) / ticks)
}

/// Clock ticks per second (`getconf CLK_TCK`; 100 on Linux if that fails).
pub fn clock_ticks() -> f64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(100.0)
}

/// Copy the closd binary so a rebuild during the run does not change it.
pub fn snapshot_binary(src: &Path, dir: &Path) -> Result<PathBuf> {
    let dst = dir.join("closd");
    std::fs::copy(src, &dst).with_context(|| format!("copying {}", src.display()))?;
    Ok(dst)
}
