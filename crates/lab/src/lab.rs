//! The commands of `clos-lab`, each one function that prints what it did:
//! loading the intent or the lab's state, and driving [`crate::fabric`],
//! [`crate::daemons`], [`crate::observe`] and [`crate::probe`].

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use serde::Serialize;

use crate::containerlab::{self, Images};
use crate::daemons;
use crate::fabric;
use crate::intent::{Intent, DEFAULT_INTENT};
use crate::observe::{self, LabStatus};
use crate::plan::{is_node_name, namespace, Fabric};
use crate::probe;
use crate::render;
use crate::state::{LabDir, State};
use crate::sys;
use crate::table::Table;

/// Longest path a Unix socket may have (`sun_path` less its NUL).
const MAX_SOCKET_PATH: usize = 107;

/// The global flags.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Namespace name prefix.
    pub prefix: String,
    /// `--state DIR`.
    pub state: Option<PathBuf>,
    /// `--closd PATH`.
    pub closd: Option<PathBuf>,
    /// `--closctl PATH`.
    pub closctl: Option<PathBuf>,
    /// Switches that run FRR.
    pub frr: Vec<String>,
}

impl Options {
    fn dir(&self) -> LabDir {
        LabDir::new(self.state.as_deref(), &self.prefix)
    }
}

/// A namespace prefix: 1..=24 ASCII letters, digits, `_` or `-`, so that
/// `<prefix>-host64-32` is a plain file name under `/run/netns`.
pub fn check_prefix(prefix: &str) -> Result<()> {
    let ok = !prefix.is_empty()
        && prefix.len() <= 24
        && prefix
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if !ok {
        bail!("--prefix {prefix:?}: use 1..=24 ASCII letters, digits, `_` or `-`");
    }
    Ok(())
}

/// The intent of `file`, or the built-in default; with its origin and text.
pub fn load_intent(file: Option<&Path>) -> Result<(Intent, String, String)> {
    match file {
        Some(path) => {
            let origin = path.display().to_string();
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("{origin}: cannot read the intent file"))?;
            let intent = Intent::from_str(&text, &origin)?;
            Ok((intent, origin, text))
        }
        None => {
            let origin = "<built-in default fabric>".to_string();
            let intent = Intent::from_str(DEFAULT_INTENT, &origin)?;
            Ok((intent, origin, DEFAULT_INTENT.to_string()))
        }
    }
}

/// A running lab: its plan, its record and its directory.
struct Lab {
    fabric: Fabric,
    state: State,
    dir: LabDir,
    prefix: String,
}

fn load_lab(options: &Options) -> Result<Lab> {
    check_prefix(&options.prefix)?;
    let dir = options.dir();
    let state = dir.load()?;
    let intent = Intent::from_str(&state.intent_text, &state.intent_origin)
        .context("the intent recorded in the lab's state no longer loads")?;
    Ok(Lab {
        fabric: Fabric::new(&intent),
        prefix: state.prefix.clone(),
        state,
        dir,
    })
}

/// `up` settings beyond the global flags.
#[derive(Debug, Clone)]
pub struct UpOptions {
    /// Convergence deadline.
    pub timeout: Duration,
    /// Only namespaces, links and addresses.
    pub no_daemons: bool,
    /// Print the final status as JSON.
    pub json: bool,
}

/// `clos-lab up [FILE]`.
pub fn up(options: &Options, file: Option<&Path>, up: &UpOptions) -> Result<()> {
    check_prefix(&options.prefix)?;
    if let Some(reason) = sys::netns_unusable() {
        bail!("cannot build a lab here: {reason}");
    }
    let (intent, origin, text) = load_intent(file)?;
    let fabric = Fabric::new(&intent);
    let prefix = options.prefix.as_str();
    for node in &options.frr {
        if fabric.switch(node).is_none() {
            bail!(
                "--frr {node}: fabric {} has no such switch (spine1..spine{}, leaf1..leaf{})",
                intent.name,
                intent.spines,
                intent.leaves
            );
        }
    }
    let dir = options.dir();
    if dir.exists() {
        bail!(
            "a lab is already recorded in {}: run `clos-lab down` (with the same \
             --prefix/--state) first",
            dir.root().display()
        );
    }
    let leftovers = fabric::namespaces_by_name(prefix)?;
    if !leftovers.is_empty() {
        bail!(
            "namespaces of a lab with prefix {prefix:?} exist already ({}): run \
             `clos-lab --prefix {prefix} down` first",
            leftovers.join(", ")
        );
    }
    for switch in fabric.switches() {
        let longest = if options.frr.contains(&switch.name) {
            dir.frr_dir(&switch.name).join("zserv.api")
        } else {
            dir.socket(&switch.name)
        };
        if longest.as_os_str().len() > MAX_SOCKET_PATH {
            bail!(
                "socket path {} is longer than {MAX_SOCKET_PATH} bytes: use a shorter --state",
                longest.display()
            );
        }
    }
    let daemons = !up.no_daemons;
    let any_closd = fabric.switches().any(|s| !options.frr.contains(&s.name));
    let (closd, closctl) = if daemons && any_closd {
        let closd = daemons::find_closd(options.closd.as_deref())?;
        let closctl = daemons::find_closctl(options.closctl.as_deref(), Some(&closd))?;
        (Some(closd), Some(closctl))
    } else {
        (None, None)
    };
    if daemons && !options.frr.is_empty() {
        daemons::check_frr_installed()?;
    }

    let mut state = State::new(prefix, &origin, &text);
    state.daemons = daemons;
    state.closd = closd.clone();
    state.closctl = closctl;
    state.frr = if daemons {
        options.frr.clone()
    } else {
        Vec::new()
    };
    dir.save(&state)?;

    // Configs first: a config closd refuses stops `up` before anything
    // else exists.
    for switch in fabric.switches() {
        let node_dir = dir.node_dir(&switch.name);
        std::fs::create_dir_all(&node_dir)
            .with_context(|| format!("cannot create {}", node_dir.display()))?;
        if state.frr.contains(&switch.name) {
            continue;
        }
        let path = dir.closd_config(&switch.name);
        let config = render::closd_config(&fabric, switch, &dir.socket(&switch.name));
        std::fs::write(&path, config)
            .with_context(|| format!("cannot write {}", path.display()))?;
        if let Some(closd) = &closd {
            daemons::check_closd_config(closd, &path, &switch.name)?;
        }
    }

    let started = Instant::now();
    eprintln!(
        "clos-lab: creating fabric {} ({} spines, {} leaves, {} hosts) in namespaces {prefix}-*",
        intent.name,
        intent.spines,
        intent.leaves,
        fabric.hosts.len()
    );
    fabric::create(&fabric, prefix, &dir, &mut state)?;
    dir.save(&state)?;
    if !daemons {
        eprintln!(
            "clos-lab: namespaces, links and addresses ready in {:.1} s (no daemons started)",
            started.elapsed().as_secs_f64()
        );
        return print_status(&observe::status(&fabric, prefix, &dir, &state), up.json);
    }

    for switch in fabric.switches() {
        let ns = namespace(prefix, &switch.name);
        if state.frr.contains(&switch.name) {
            let records = daemons::start_frr(&fabric, &ns, &dir, switch)?;
            state.processes.extend(records);
        } else {
            let closd = state.closd.clone().context("closd was resolved above")?;
            state
                .processes
                .push(daemons::start_closd(&closd, &ns, &dir, switch)?);
        }
        dir.save(&state)?;
    }
    eprintln!(
        "clos-lab: daemons started; waiting up to {:?} for convergence",
        up.timeout
    );

    let deadline = Instant::now() + up.timeout;
    loop {
        check_daemons(&state)?;
        let status = observe::status(&fabric, prefix, &dir, &state);
        if status.converged {
            eprintln!(
                "clos-lab: converged {:.1} s after start",
                started.elapsed().as_secs_f64()
            );
            return print_status(&status, up.json);
        }
        if Instant::now() >= deadline {
            print_status(&status, up.json)?;
            bail!(
                "the fabric did not converge within {:?} ({} problem(s), first: {}); the \
                 lab is left up for inspection: `clos-lab status`, logs in {}/<node>/; \
                 `clos-lab down` removes it",
                up.timeout,
                status.problems.len(),
                status.problems.first().map_or("none", String::as_str),
                dir.root().display()
            );
        }
        std::thread::sleep(sys::POLL_INTERVAL);
    }
}

/// Fails with the end of its log if a daemon `up` started has exited.
fn check_daemons(state: &State) -> Result<()> {
    for process in &state.processes {
        if !sys::pid_alive(process.pid) {
            bail!(
                "{} of {} (pid {}) has exited; {}; the lab is left up for \
                 inspection, `clos-lab down` removes it",
                process.program,
                process.node,
                process.pid,
                daemons::log_tail(&process.log, 8)
            );
        }
    }
    Ok(())
}

fn print_status(status: &LabStatus, json: bool) -> Result<()> {
    if json {
        println!("{}", serde_json::to_string_pretty(status)?);
    } else {
        print!("{}", observe::render(status));
    }
    Ok(())
}

/// `clos-lab status`.
pub fn status(options: &Options, json: bool) -> Result<()> {
    let lab = load_lab(options)?;
    print_status(
        &observe::status(&lab.fabric, &lab.prefix, &lab.dir, &lab.state),
        json,
    )
}

/// `clos-lab down`: everything `up` made, by record and by name.
pub fn down(options: &Options) -> Result<()> {
    check_prefix(&options.prefix)?;
    if let Some(reason) = sys::netns_unusable() {
        bail!("cannot remove a lab here: {reason}");
    }
    let dir = options.dir();
    let state = if dir.exists() { dir.load().ok() } else { None };
    let prefix = state
        .as_ref()
        .map_or(options.prefix.clone(), |s| s.prefix.clone());
    let mut namespaces = fabric::namespaces_by_name(&prefix)?;
    let mut recorded = Vec::new();
    if let Some(state) = &state {
        namespaces.extend(state.namespaces.iter().cloned());
        recorded.extend(state.processes.iter().map(|p| (p.pid, p.program.clone())));
    }
    let removed = fabric::destroy(&namespaces, &recorded)?;
    remove_lab_dir(&dir)?;
    println!(
        "lab {prefix}: removed {} namespace(s), stopped {} process(es)",
        removed.namespaces.len(),
        removed.processes
    );
    Ok(())
}

/// Removes what `up` wrote into the state directory (the state file and
/// the node directories), then the directory itself if that left it
/// empty: a `--state` pointing at a directory with other files in it
/// keeps them.
fn remove_lab_dir(dir: &LabDir) -> Result<()> {
    let root = dir.root();
    let Ok(entries) = std::fs::read_dir(root) else {
        return Ok(());
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let path = entry.path();
        if name == "state.json" || name == "state.json.new" {
            std::fs::remove_file(&path)
                .with_context(|| format!("cannot remove {}", path.display()))?;
        } else if is_node_name(&name) && path.is_dir() {
            std::fs::remove_dir_all(&path)
                .with_context(|| format!("cannot remove {}", path.display()))?;
        }
    }
    let _ = std::fs::remove_dir(root);
    Ok(())
}

/// `clos-lab fail LINK` / `restore LINK`.
pub fn set_link(options: &Options, link: &str, up: bool) -> Result<()> {
    let lab = load_lab(options)?;
    let links = lab.fabric.resolve_links(link).map_err(anyhow::Error::msg)?;
    fabric::set_links(&lab.fabric, &lab.prefix, &links, up)?;
    for link in links {
        println!("{}: {}", link.name(), if up { "up" } else { "down" });
    }
    Ok(())
}

/// One ping of `ping-all`.
#[derive(Debug, Clone, Serialize)]
struct PingResult {
    from: String,
    to: String,
    address: IpAddr,
    ok: bool,
    rtt_ms: Option<f64>,
}

/// `clos-lab ping-all`: every host to every other host, IPv4 and (when
/// the fabric has it) IPv6. Fails if any pair fails.
pub fn ping_all(options: &Options, json: bool) -> Result<()> {
    let lab = load_lab(options)?;
    let hosts = &lab.fabric.hosts;
    let mut results: Vec<PingResult> = Vec::new();
    // A bounded number of hosts ping at once: each pings all the others.
    for chunk in hosts.chunks(16) {
        let replies: Vec<Result<BTreeMap<IpAddr, Duration>>> = std::thread::scope(|scope| {
            let handles: Vec<_> = chunk
                .iter()
                .map(|host| {
                    let targets: Vec<IpAddr> = hosts
                        .iter()
                        .filter(|h| h.name != host.name)
                        .flat_map(|h| h.addresses())
                        .collect();
                    let ns = namespace(&lab.prefix, &host.name);
                    scope.spawn(move || probe::ping_from(&ns, &targets, 3))
                })
                .collect();
            handles
                .into_iter()
                .map(|h| {
                    h.join()
                        .unwrap_or_else(|_| Err(anyhow::anyhow!("ping thread panicked")))
                })
                .collect()
        });
        for (host, replies) in chunk.iter().zip(replies) {
            let replies = replies?;
            for other in hosts.iter().filter(|h| h.name != host.name) {
                for address in other.addresses() {
                    let rtt = replies.get(&address);
                    results.push(PingResult {
                        from: host.name.clone(),
                        to: other.name.clone(),
                        address,
                        ok: rtt.is_some(),
                        rtt_ms: rtt.map(|d| d.as_secs_f64() * 1000.0),
                    });
                }
            }
        }
    }
    let failed = results.iter().filter(|r| !r.ok).count();
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(&serde_json::json!({
                "ok": failed == 0,
                "pings": results.len(),
                "failed": failed,
                "results": results,
            }))?
        );
    } else {
        for v6 in [false, true] {
            if v6 && lab.fabric.intent.hosts_v6.is_none() {
                continue;
            }
            let mut headers = vec![if v6 { "IPv6" } else { "IPv4" }];
            headers.extend(hosts.iter().map(|h| h.name.as_str()));
            let mut table = Table::new(&headers);
            for from in hosts {
                let mut row = vec![from.name.clone()];
                for to in hosts {
                    let cell = results
                        .iter()
                        .find(|r| {
                            r.from == from.name && r.to == to.name && r.address.is_ipv6() == v6
                        })
                        .map_or_else(
                            || "-".to_string(),
                            |r| match r.rtt_ms {
                                Some(ms) => format!("{ms:.2}ms"),
                                None => "FAIL".to_string(),
                            },
                        );
                    row.push(cell);
                }
                table.row(row);
            }
            print!("{}", table.render());
            println!();
        }
        println!(
            "{} of {} pings answered",
            results.len() - failed,
            results.len()
        );
    }
    if failed > 0 {
        let first: Vec<String> = results
            .iter()
            .filter(|r| !r.ok)
            .take(5)
            .map(|r| format!("{} -> {} ({})", r.from, r.to, r.address))
            .collect();
        bail!("{failed} ping(s) unanswered, e.g. {}", first.join(", "));
    }
    Ok(())
}

/// `clos-lab render [FILE] --out DIR`: one closd config per switch, with
/// the API sockets the lab (same `--prefix`/`--state`) would use.
pub fn render_configs(options: &Options, file: Option<&Path>, out: &Path) -> Result<()> {
    check_prefix(&options.prefix)?;
    let (intent, _, _) = load_intent(file)?;
    let fabric = Fabric::new(&intent);
    let dir = options.dir();
    std::fs::create_dir_all(out).with_context(|| format!("cannot create {}", out.display()))?;
    for switch in fabric.switches() {
        let path = out.join(format!("{}.toml", switch.name));
        let text = render::closd_config(&fabric, switch, &dir.socket(&switch.name));
        std::fs::write(&path, text).with_context(|| format!("cannot write {}", path.display()))?;
        println!("{}", path.display());
    }
    Ok(())
}

/// `clos-lab export --containerlab OUT [FILE]`: the topology at OUT and
/// the switch configs in `<fabric name>-configs/` beside it.
pub fn export_containerlab(file: Option<&Path>, out: &Path, images: &Images) -> Result<()> {
    let (intent, _, _) = load_intent(file)?;
    let fabric = Fabric::new(&intent);
    let parent = match out.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let config_dir_name = format!("{}-configs", intent.name);
    let config_dir = parent.join(&config_dir_name);
    std::fs::create_dir_all(&config_dir)
        .with_context(|| format!("cannot create {}", config_dir.display()))?;
    for switch in fabric.switches() {
        let path = config_dir.join(format!("{}.toml", switch.name));
        let text = render::closd_config(&fabric, switch, Path::new(containerlab::SOCKET_PATH));
        std::fs::write(&path, text).with_context(|| format!("cannot write {}", path.display()))?;
    }
    std::fs::write(
        out,
        containerlab::topology(&fabric, images, &config_dir_name),
    )
    .with_context(|| format!("cannot write {}", out.display()))?;
    println!("{}", out.display());
    println!(
        "{}/ ({} configs)",
        config_dir.display(),
        fabric.switches().count()
    );
    Ok(())
}

/// `clos-lab converge`.
pub fn converge(options: &Options, settings: &crate::converge::Settings) -> Result<()> {
    let lab = load_lab(options)?;
    if !lab.state.daemons {
        bail!("this lab runs no daemons (it was made with `up --no-daemons`)");
    }
    let report = crate::converge::run(&lab.fabric, &lab.prefix, &lab.dir, &lab.state, settings)?;
    if settings.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{}", crate::converge::render(&report));
    }
    let unrecovered: Vec<&str> = report
        .failures
        .iter()
        .filter(|f| !f.recovered)
        .map(|f| f.link.as_str())
        .collect();
    if !unrecovered.is_empty() {
        bail!(
            "traffic did not recover after failing {}",
            unrecovered.join(", ")
        );
    }
    Ok(())
}
