//! The operating system, as the lab uses it: running `ip` and friends with
//! a deadline, entering a network namespace from a thread (`setns(2)`),
//! sysctls, signals, and polling with a deadline.
//!
//! `setns(2)` with `CLONE_NEWNET` moves only the calling thread, so
//! [`in_netns`] runs its closure on a fresh scoped thread: the rest of the
//! process never changes namespace. A socket keeps the namespace it was
//! created in, so a socket made inside [`in_netns`] can be used from any
//! thread afterwards.

use std::fs::File;
use std::io::Read;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};
use nix::sched::{setns, CloneFlags};
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

/// How long one command (`ip`, `closctl`, `vtysh`) may run before it is
/// killed: a hung daemon must fail the command, not hang it.
pub const COMMAND_TIMEOUT: Duration = Duration::from_secs(30);

/// How often conditions are polled.
pub const POLL_INTERVAL: Duration = Duration::from_millis(200);

/// Runs a command to completion; its stdout, or an error with its output
/// unless it exits 0 within [`COMMAND_TIMEOUT`].
pub fn run(command: &mut Command) -> Result<String> {
    let shown = format!("{command:?}").replace('"', "");
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .with_context(|| format!("cannot run {shown}"))?;
    // Drain both pipes on threads so a chatty command cannot block on a
    // full pipe while we wait for it.
    let drain = |pipe: Option<Box<dyn Read + Send>>| {
        std::thread::spawn(move || {
            let mut text = Vec::new();
            if let Some(mut pipe) = pipe {
                let _ = pipe.read_to_end(&mut text);
            }
            String::from_utf8_lossy(&text).into_owned()
        })
    };
    let stdout = drain(child.stdout.take().map(|p| Box::new(p) as _));
    let stderr = drain(child.stderr.take().map(|p| Box::new(p) as _));
    let deadline = Instant::now() + COMMAND_TIMEOUT;
    let status = loop {
        if let Some(status) = child.try_wait()? {
            break Some(status);
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    let stdout = stdout.join().unwrap_or_default();
    let stderr = stderr.join().unwrap_or_default();
    match status {
        Some(status) if status.success() => Ok(stdout),
        Some(_) => bail!("{shown} failed: {}", one_line(&format!("{stderr}{stdout}"))),
        None => bail!("{shown} did not finish within {COMMAND_TIMEOUT:?}"),
    }
}

/// Output squeezed onto one line, for error messages.
pub fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// `ip ARGS...`.
pub fn ip(args: &[&str]) -> Result<String> {
    run(Command::new("ip").args(args))
}

/// `ip -n NS ARGS...`.
pub fn ip_in(ns: &str, args: &[&str]) -> Result<String> {
    let mut full = vec!["-n", ns];
    full.extend_from_slice(args);
    ip(&full)
}

/// `ip -n NS -batch -` with `commands` on stdin: many changes, one process.
pub fn ip_batch(ns: &str, commands: &[String]) -> Result<()> {
    if commands.is_empty() {
        return Ok(());
    }
    static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let script = std::env::temp_dir().join(format!(
        "clos-lab-{}-{}.ip",
        std::process::id(),
        COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    ));
    std::fs::write(&script, commands.join("\n") + "\n")
        .with_context(|| format!("cannot write {}", script.display()))?;
    let result = run(Command::new("ip").args(["-n", ns, "-batch"]).arg(&script));
    let _ = std::fs::remove_file(&script);
    result.map(drop)
}

/// The names in `ip netns list`.
pub fn list_netns() -> Result<Vec<String>> {
    Ok(ip(&["netns", "list"])?
        .lines()
        .filter_map(|line| line.split_whitespace().next())
        .map(str::to_string)
        .collect())
}

/// Processes whose network namespace is `ns` (`ip netns pids`).
pub fn netns_pids(ns: &str) -> Vec<u32> {
    ip(&["netns", "pids", ns])
        .map(|out| {
            out.split_whitespace()
                .filter_map(|pid| pid.parse().ok())
                .collect()
        })
        .unwrap_or_default()
}

/// Runs `f` on a thread that has entered the network namespace `ns`
/// (`/run/netns/NS`), and returns its result.
pub fn in_netns<T: Send>(ns: &str, f: impl FnOnce() -> Result<T> + Send) -> Result<T> {
    let path = format!("/run/netns/{ns}");
    let file = File::open(&path).with_context(|| format!("cannot open {path}"))?;
    std::thread::scope(|scope| {
        scope
            .spawn(|| {
                setns(&file, CloneFlags::CLONE_NEWNET)
                    .with_context(|| format!("setns into {ns}"))?;
                f()
            })
            .join()
            .map_err(|_| anyhow!("the thread inside namespace {ns} panicked"))?
    })
}

/// Writes sysctls inside `ns`. Keys use dots (`net.ipv4.ip_forward`); the
/// `/proc/sys/net` a thread sees is that of its own network namespace.
pub fn sysctls(ns: &str, entries: &[(&str, &str)]) -> Result<()> {
    in_netns(ns, || {
        for (key, value) in entries {
            let path = format!("/proc/sys/{}", key.replace('.', "/"));
            std::fs::write(&path, value)
                .with_context(|| format!("cannot set {key} = {value} in {ns}"))?;
        }
        Ok(())
    })
}

/// Reads one sysctl inside `ns`.
pub fn read_sysctl(ns: &str, key: &str) -> Result<String> {
    in_netns(ns, || {
        let path = format!("/proc/sys/{}", key.replace('.', "/"));
        Ok(std::fs::read_to_string(&path)
            .with_context(|| format!("cannot read {key} in {ns}"))?
            .trim()
            .to_string())
    })
}

/// True when the process exists and is not a zombie.
pub fn pid_alive(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().next())
            .is_some_and(|state| state != "Z" && state != "X"),
        Err(_) => false,
    }
}

/// Sends `signal` to `pid`, ignoring a process that is already gone.
pub fn signal(pid: u32, signal: Signal) {
    if let Ok(pid) = i32::try_from(pid) {
        let _ = kill(Pid::from_raw(pid), signal);
    }
}

/// Stops processes: SIGCONT (a frozen one must see the TERM), SIGTERM,
/// then SIGKILL for those still alive after `grace`.
pub fn stop_processes(pids: &[u32], grace: Duration) {
    for &pid in pids {
        signal(pid, Signal::SIGCONT);
        signal(pid, Signal::SIGTERM);
    }
    let deadline = Instant::now() + grace;
    while Instant::now() < deadline && pids.iter().any(|&pid| pid_alive(pid)) {
        std::thread::sleep(Duration::from_millis(20));
    }
    for &pid in pids {
        if pid_alive(pid) {
            signal(pid, Signal::SIGKILL);
        }
    }
}

/// Polls `check` every [`POLL_INTERVAL`] until it returns `Ok(Some(_))`.
/// Errors are remembered and retried; on timeout the error names `what`
/// and carries the last error.
pub fn wait_until<T>(
    what: &str,
    timeout: Duration,
    mut check: impl FnMut() -> Result<Option<T>>,
) -> Result<T> {
    let start = Instant::now();
    loop {
        let last_error = match check() {
            Ok(Some(value)) => return Ok(value),
            Ok(None) => None,
            Err(error) => Some(error),
        };
        if start.elapsed() >= timeout {
            return Err(match last_error {
                Some(error) => {
                    error.context(format!("timed out after {timeout:?} waiting for {what}"))
                }
                None => anyhow!("timed out after {timeout:?} waiting for {what}"),
            });
        }
        std::thread::sleep(POLL_INTERVAL);
    }
}

/// Why namespace work cannot run here, if it cannot: not root, or `ip
/// netns` unusable. Used by the tests to skip and by `up` for its message.
pub fn netns_unusable() -> Option<String> {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let euid = status
        .lines()
        .find_map(|line| line.strip_prefix("Uid:"))
        .and_then(|ids| ids.split_whitespace().nth(1))
        .and_then(|euid| euid.parse::<u32>().ok());
    if euid != Some(0) {
        return Some("not root (network namespaces need root)".into());
    }
    match Command::new("ip").args(["netns", "list"]).output() {
        Ok(output) if output.status.success() => None,
        Ok(output) => Some(format!(
            "ip netns unavailable: {}",
            String::from_utf8_lossy(&output.stderr).trim()
        )),
        Err(error) => Some(format!("ip netns unavailable: {error}")),
    }
}
