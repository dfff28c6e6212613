//! Small helpers: running commands with useful errors, polling with a
//! deadline.

use std::io::Read;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

/// How often conditions are polled.
pub const POLL_INTERVAL: Duration = Duration::from_millis(150);

/// Marks an error that retrying cannot fix (a daemon exited): polling stops
/// at once instead of waiting for its deadline.
#[derive(Debug)]
pub(crate) struct Fatal(pub String);

impl std::fmt::Display for Fatal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Fatal {}

/// Polls `check` every [`POLL_INTERVAL`] until it returns `Ok(Some(_))`.
///
/// An `Err` from `check` is remembered and retried (daemons answer errors
/// while they start), unless it is fatal (a daemon exited). On timeout the
/// error names `what` and carries the last error or `Ok(None)` reason.
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
            Err(error) if error.downcast_ref::<Fatal>().is_some() => {
                return Err(error.context(format!("while waiting for {what}")));
            }
            Err(error) => Some(error),
        };
        if start.elapsed() >= timeout {
            return match last_error {
                Some(error) => {
                    Err(error.context(format!("timed out after {timeout:?} waiting for {what}")))
                }
                None => bail!("timed out after {timeout:?} waiting for {what}"),
            };
        }
        std::thread::sleep(POLL_INTERVAL);
    }
}

/// How long a query command (birdc, vtysh, gobgp, closctl) may take before
/// it is killed: a hung daemon must fail the test, not hang CI.
pub const COMMAND_TIMEOUT: Duration = Duration::from_secs(30);

/// Runs a command to completion; fails with its output unless it exits 0
/// within [`COMMAND_TIMEOUT`].
pub(crate) fn run(command: &mut Command) -> Result<String> {
    let shown = format!("{command:?}");
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
    let stdout = drain(
        child
            .stdout
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
    );
    let stderr = drain(
        child
            .stderr
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
    );
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
        std::thread::sleep(Duration::from_millis(10));
    };
    let stdout = stdout.join().unwrap_or_default();
    let stderr = stderr.join().unwrap_or_default();
    match status {
        Some(status) if status.success() => Ok(stdout),
        Some(status) => bail!("{shown} failed ({status}):\n{stdout}{stderr}"),
        None => bail!("{shown} did not finish within {COMMAND_TIMEOUT:?}:\n{stdout}{stderr}"),
    }
}

/// Shorthand for [`run`] on a program and its arguments.
pub(crate) fn cmd<S: AsRef<std::ffi::OsStr>>(program: &str, args: &[S]) -> Result<String> {
    run(Command::new(program).args(args))
}

/// Sends a signal (a name such as `STOP`, `CONT`, `TERM`, `KILL`) to a
/// process we started. Uses kill(1) so the crate needs no `unsafe`.
pub(crate) fn signal(pid: u32, signal: &str) -> Result<()> {
    cmd("kill", &["-s", signal, &pid.to_string()]).map(drop)
}

/// True when the process exists and is not a zombie.
pub(crate) fn pid_alive(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().next())
            .is_some_and(|state| state != "Z" && state != "X"),
        Err(_) => false,
    }
}
