//! Throw-away network namespaces for tests, benchmarks and the lab.
//!
//! [`Netns::create`] runs `ip netns add`; dropping the value runs
//! `ip netns delete`, so a panicking test still cleans up. Code runs inside
//! the namespace with [`Netns::run`]: a **dedicated thread** that
//! `setns(2)`s into `/run/netns/NAME` and then runs the closure; a netlink
//! socket opened there belongs to that namespace for its whole life. The
//! caller's thread never changes namespace, so tests may run in parallel.
//! Shell-side checks use [`Netns::ip`] (`ip -n NAME ...`).

use std::fs::File;
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};

use nix::sched::{setns, CloneFlags};

use crate::error::{Error, Result};

/// A network namespace that is deleted when dropped.
pub struct Netns {
    name: String,
}

static COUNTER: AtomicU32 = AtomicU32::new(0);

impl Netns {
    /// Creates a namespace named `{prefix}-{pid}-{n}` with `lo` up.
    pub fn create(prefix: &str) -> Result<Netns> {
        let name = format!(
            "{prefix}-{}-{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        );
        run_ip(&name, &["netns", "add", &name])?;
        let netns = Netns { name };
        netns.ip(&["link", "set", "lo", "up"])?;
        Ok(netns)
    }

    /// The namespace's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Runs `ip -n NAME args...` and returns its standard output.
    pub fn ip(&self, args: &[&str]) -> Result<String> {
        let mut all = vec!["-n", self.name.as_str()];
        all.extend_from_slice(args);
        run_ip(&self.name, &all)
    }

    /// Runs `ip -n NAME -batch FILE`.
    pub fn ip_batch(&self, file: &std::path::Path) -> Result<String> {
        let file = file.to_string_lossy();
        self.ip(&["-batch", &file])
    }

    /// Runs `f` on a new thread inside the namespace and returns its value.
    /// A panic in `f` is resumed on the caller's thread.
    pub fn run<T, F>(&self, f: F) -> Result<T>
    where
        F: FnOnce() -> T + Send,
        T: Send,
    {
        let path = format!("/run/netns/{}", self.name);
        let file = File::open(&path).map_err(|e| self.error(format!("open {path}: {e}")))?;
        std::thread::scope(|scope| {
            let handle = scope.spawn(move || setns(&file, CloneFlags::CLONE_NEWNET).map(|()| f()));
            match handle.join() {
                Ok(Ok(value)) => Ok(value),
                Ok(Err(errno)) => Err(self.error(format!("setns: {errno}"))),
                Err(panic) => std::panic::resume_unwind(panic),
            }
        })
    }

    fn error(&self, reason: String) -> Error {
        Error::Netns {
            name: self.name.clone(),
            reason,
        }
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        if let Err(error) = run_ip(&self.name, &["netns", "delete", &self.name]) {
            tracing::warn!(%error, "namespace not deleted");
        }
    }
}

fn run_ip(name: &str, args: &[&str]) -> Result<String> {
    let output = Command::new("ip")
        .args(args)
        .output()
        .map_err(|e| Error::Netns {
            name: name.to_owned(),
            reason: format!("run ip: {e}"),
        })?;
    if !output.status.success() {
        return Err(Error::Netns {
            name: name.to_owned(),
            reason: format!(
                "`ip {}` failed: {}",
                args.join(" "),
                String::from_utf8_lossy(&output.stderr).trim()
            ),
        });
    }
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}
