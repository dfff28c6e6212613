//! Finding and starting the routing daemons of the switches: `closd`, or
//! FRR's `zebra`, `bgpd` and `bfdd` for switches named with `--frr`.
//!
//! Daemons are started with `ip netns exec NS PROGRAM ...` (which execs the
//! program, so the recorded PID is the daemon's), in their own process
//! group, output appended to a log in the node's directory, and are not
//! waited for: they outlive `clos-lab up` and are stopped by `down`.

use std::fs::File;
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use anyhow::{bail, Context, Result};

use crate::plan::{Fabric, Switch};
use crate::render;
use crate::state::{LabDir, ProcessRecord};
use crate::sys::{self, one_line, run, wait_until};

/// Where Debian's `frr` package puts the daemons.
pub const FRR_DIR: &str = "/usr/lib/frr";

/// `--closd PATH` if given (it must exist), else `closd` next to the
/// clos-lab binary, else `closd` in `PATH`.
pub fn find_closd(given: Option<&Path>) -> Result<PathBuf> {
    find_binary("closd", given, &[])
}

/// `--closctl PATH` if given, else `closctl` next to clos-lab, next to
/// closd, or in `PATH`.
pub fn find_closctl(given: Option<&Path>, closd: Option<&Path>) -> Result<PathBuf> {
    let near_closd: Vec<PathBuf> = closd
        .and_then(Path::parent)
        .map(|dir| dir.join("closctl"))
        .into_iter()
        .collect();
    find_binary("closctl", given, &near_closd)
}

fn find_binary(name: &str, given: Option<&Path>, extra: &[PathBuf]) -> Result<PathBuf> {
    if let Some(path) = given {
        if !path.is_file() {
            bail!("--{name} {}: no such file", path.display());
        }
        return absolute(path);
    }
    let beside_us = std::env::current_exe()
        .ok()
        .and_then(|exe| exe.parent().map(|dir| dir.join(name)));
    let mut candidates: Vec<PathBuf> = beside_us.into_iter().collect();
    candidates.extend(extra.iter().cloned());
    if let Some(path) = std::env::var_os("PATH") {
        candidates.extend(std::env::split_paths(&path).map(|dir| dir.join(name)));
    }
    match candidates.into_iter().find(|c| c.is_file()) {
        Some(path) => absolute(&path),
        None => bail!(
            "{name} not found next to clos-lab or in PATH: build it \
             (`cargo build --bins`) or pass --{name} PATH"
        ),
    }
}

fn absolute(path: &Path) -> Result<PathBuf> {
    std::path::absolute(path).with_context(|| format!("cannot resolve {}", path.display()))
}

/// `closd -c CONFIG --check`: the daemon's own verdict on a rendered file.
pub fn check_closd_config(closd: &Path, config: &Path, node: &str) -> Result<()> {
    run(Command::new(closd).arg("-c").arg(config).arg("--check"))
        .map(drop)
        .with_context(|| {
            format!(
                "{} refuses the rendered config of {node} ({})",
                closd.display(),
                config.display()
            )
        })
}

/// Starts `program args...` inside `ns`, output appended to `log`.
fn spawn(ns: &str, program: &Path, args: &[String], log: &Path) -> Result<u32> {
    let out = File::options()
        .create(true)
        .append(true)
        .open(log)
        .with_context(|| format!("cannot open {}", log.display()))?;
    let err = out.try_clone()?;
    let child = Command::new("ip")
        .args(["netns", "exec", ns])
        .arg(program)
        .args(args)
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        // Own process group: a Ctrl-C at the terminal that ran `up` must
        // not take the lab's daemons with it.
        .process_group(0)
        .spawn()
        .with_context(|| format!("cannot start {} in {ns}", program.display()))?;
    Ok(child.id())
}

/// Starts closd for `switch` with its rendered config.
pub fn start_closd(closd: &Path, ns: &str, dir: &LabDir, switch: &Switch) -> Result<ProcessRecord> {
    let log = dir.node_dir(&switch.name).join("closd.log");
    let config = dir.closd_config(&switch.name);
    let pid = spawn(
        ns,
        closd,
        &["-c".to_string(), config.display().to_string()],
        &log,
    )?;
    Ok(ProcessRecord {
        node: switch.name.clone(),
        program: "closd".to_string(),
        pid,
        log,
    })
}

/// Whether FRR's daemons are installed.
pub fn check_frr_installed() -> Result<()> {
    for daemon in ["zebra", "bgpd", "bfdd"] {
        let path = Path::new(FRR_DIR).join(daemon);
        if !path.is_file() {
            bail!(
                "{} not found: --frr needs FRR (the Debian package frr)",
                path.display()
            );
        }
    }
    Ok(())
}

/// Writes FRR's configs for `switch` into its directory and starts zebra,
/// then bgpd and bfdd, each with vty and zserv sockets in that directory
/// (so instances in several namespaces do not collide) and no vty TCP
/// port. The daemons drop privileges to the `frr` user, which therefore
/// owns the directory.
pub fn start_frr(
    fabric: &Fabric,
    ns: &str,
    dir: &LabDir,
    switch: &Switch,
) -> Result<Vec<ProcessRecord>> {
    let frr_dir = dir.frr_dir(&switch.name);
    std::fs::create_dir_all(&frr_dir)
        .with_context(|| format!("cannot create {}", frr_dir.display()))?;
    check_searchable(&frr_dir)?;
    let config = render::frr_config(fabric, switch, &frr_dir);
    for (file, text) in [
        ("zebra.conf", &config.zebra),
        ("bgpd.conf", &config.bgpd),
        ("bfdd.conf", &config.bfdd),
    ] {
        let path = frr_dir.join(file);
        std::fs::write(&path, text).with_context(|| format!("cannot write {}", path.display()))?;
    }
    run(Command::new("chown").arg("-R").arg("frr:frr").arg(&frr_dir))
        .context("FRR's daemons run as the user frr")?;
    let sockets = frr_dir.display().to_string();
    let zserv = frr_dir.join("zserv.api").display().to_string();
    let common = |daemon: &str| -> Vec<String> {
        vec![
            "-f".into(),
            frr_dir.join(format!("{daemon}.conf")).display().to_string(),
            "-i".into(),
            frr_dir.join(format!("{daemon}.pid")).display().to_string(),
            "--vty_socket".into(),
            sockets.clone(),
            "-z".into(),
            zserv.clone(),
            "-P".into(),
            "0".into(),
        ]
    };
    let mut records = Vec::new();
    let start = |daemon: &str, extra: &[String]| -> Result<ProcessRecord> {
        let mut args = common(daemon);
        args.extend_from_slice(extra);
        let log = frr_dir.join(format!("{daemon}.out"));
        let pid = spawn(ns, &Path::new(FRR_DIR).join(daemon), &args, &log)?;
        Ok(ProcessRecord {
            node: switch.name.clone(),
            program: daemon.to_string(),
            pid,
            log,
        })
    };
    let zebra = start("zebra", &[])?;
    let zebra_pid = zebra.pid;
    records.push(zebra);
    wait_until("zebra's zserv socket", Duration::from_secs(30), || {
        if !sys::pid_alive(zebra_pid) {
            bail!(
                "zebra of {} exited: {}",
                switch.name,
                log_tail(&records[0].log, 10)
            );
        }
        Ok(frr_dir.join("zserv.api").exists().then_some(()))
    })?;
    records.push(start("bgpd", &[])?);
    records.push(start(
        "bfdd",
        &[
            "--bfdctl".to_string(),
            frr_dir.join("bfdd.sock").display().to_string(),
        ],
    )?);
    Ok(records)
}

/// FRR's daemons run as the user `frr`, which must be able to traverse
/// every directory above `dir` (a `--state` made by `mktemp -d` is 0700).
fn check_searchable(dir: &Path) -> Result<()> {
    use std::os::unix::fs::PermissionsExt as _;
    for ancestor in dir.ancestors().skip(1) {
        let Ok(metadata) = std::fs::metadata(ancestor) else {
            continue;
        };
        if metadata.permissions().mode() & 0o001 == 0 {
            bail!(
                "FRR runs as the user frr, which cannot enter {}: make it searchable \
                 (chmod o+x) or use another --state",
                ancestor.display()
            );
        }
    }
    Ok(())
}

/// The last `lines` lines of a log, on one line, for error messages.
pub fn log_tail(path: &Path, lines: usize) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let all: Vec<&str> = text.lines().collect();
    let tail = all[all.len().saturating_sub(lines)..].join(" | ");
    if tail.is_empty() {
        format!("{} is empty", path.display())
    } else {
        format!("end of {}: {}", path.display(), one_line(&tail))
    }
}
