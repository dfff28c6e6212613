//! A daemon started inside a namespace, its output in a log file, stopped on
//! drop.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};

use crate::util::{pid_alive, signal, Fatal};

/// A child process started with `ip netns exec` (which execs the program, so
/// the child's PID is the daemon's). Dropping it stops it: SIGCONT (in case
/// a test froze it), SIGTERM, then SIGKILL after 3 s.
pub struct Process {
    name: String,
    child: Child,
    log: PathBuf,
}

impl Process {
    /// Starts `program ARGS` in `netns`, stdout and stderr appended to `log`.
    pub fn spawn(
        netns: &str,
        name: &str,
        log: &Path,
        program: &str,
        args: &[String],
    ) -> Result<Process> {
        let out = File::options()
            .create(true)
            .append(true)
            .open(log)
            .with_context(|| format!("cannot open {}", log.display()))?;
        let err = out.try_clone()?;
        let child = Command::new("ip")
            .args(["netns", "exec", netns, program])
            .args(args)
            // Plain logs for humans reading a failed test's output.
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .with_context(|| format!("cannot start {program} in {netns}"))?;
        Ok(Process {
            name: name.to_string(),
            child,
            log: log.to_path_buf(),
        })
    }

    /// The process ID.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The log file.
    pub fn log(&self) -> &Path {
        &self.log
    }

    /// Fails (fatally, see [`crate::wait_until`]) when the process has
    /// exited, quoting the end of its log.
    pub fn check_alive(&self) -> Result<()> {
        if pid_alive(self.pid()) {
            return Ok(());
        }
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        let tail = lines[lines.len().saturating_sub(20)..].join("\n");
        Err(Fatal(format!(
            "{} (pid {}) has exited; end of {}:\n{tail}",
            self.name,
            self.pid(),
            self.log.display()
        ))
        .into())
    }

    /// SIGSTOP: the process stops answering, its sockets stay open.
    pub fn freeze(&self) -> Result<()> {
        signal(self.pid(), "STOP")
    }

    /// SIGCONT after [`Process::freeze`].
    pub fn thaw(&self) -> Result<()> {
        signal(self.pid(), "CONT")
    }

    /// Stops the process (TERM, KILL after 3 s) and reaps it.
    pub fn stop(mut self) {
        self.terminate();
    }

    fn terminate(&mut self) {
        if let Ok(Some(_)) = self.child.try_wait() {
            return;
        }
        let pid = self.pid();
        let _ = signal(pid, "CONT");
        let _ = signal(pid, "TERM");
        let deadline = Instant::now() + Duration::from_secs(3);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        self.terminate();
    }
}
