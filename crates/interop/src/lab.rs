//! The per-test [`Lab`]: a scratch directory and unique names, and the
//! decision to skip when the machine cannot run namespaced tests.
//!
//! Every test runs through [`Lab::run`]: it skips (with an explicit `SKIP:`
//! line) only when not root or when `ip netns` is unusable, runs the test
//! body, and on failure prints every log the test's daemons wrote and keeps
//! the directory. Fixtures created inside the body are dropped (daemons
//! killed, namespaces deleted) before the logs are printed, so the logs are
//! complete.

use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};

use anyhow::{Context, Result};

use crate::netns::Netns;

static COUNTER: AtomicU32 = AtomicU32::new(0);

/// Scratch space and naming for one test.
pub struct Lab {
    name: String,
    /// `<pid>x<counter>`, unique among tests running on this machine.
    id: String,
    dir: PathBuf,
}

impl Lab {
    /// Runs one interop test: skip check, body, logs on failure.
    ///
    /// Panics (fails the test) when the body returns an error or panics.
    pub fn run(name: &str, body: impl FnOnce(&Lab) -> Result<()>) {
        if let Some(reason) = skip_reason() {
            eprintln!("SKIP: {name}: {reason}");
            return;
        }
        let lab = match Lab::new(name) {
            Ok(lab) => lab,
            Err(error) => panic!("{name}: cannot create the lab: {error:#}"),
        };
        let outcome = catch_unwind(AssertUnwindSafe(|| body(&lab)));
        match outcome {
            Ok(Ok(())) => {
                let _ = std::fs::remove_dir_all(&lab.dir);
            }
            Ok(Err(error)) => {
                lab.dump_logs();
                panic!("{name}: {error:#}");
            }
            Err(panic) => {
                lab.dump_logs();
                resume_unwind(panic);
            }
        }
    }

    /// A lab without the skip check and failure handling of [`Lab::run`].
    pub fn new(name: &str) -> Result<Lab> {
        static SWEEP: std::sync::Once = std::sync::Once::new();
        SWEEP.call_once(sweep_stale_namespaces);
        let id = format!(
            "{}x{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        );
        let dir = std::env::temp_dir().join(format!("clos-interop-{id}-{name}"));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir)
            .with_context(|| format!("cannot create {}", dir.display()))?;
        Ok(Lab {
            name: name.to_string(),
            id,
            dir,
        })
    }

    /// The test's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The test's scratch directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// A fresh subdirectory of the scratch directory.
    pub fn subdir(&self, name: &str) -> Result<PathBuf> {
        let dir = self.dir.join(name);
        std::fs::create_dir_all(&dir)
            .with_context(|| format!("cannot create {}", dir.display()))?;
        Ok(dir)
    }

    /// Creates a namespace named after this test (`ci<id><tag>`).
    pub fn netns(&self, tag: &str) -> Result<Netns> {
        Netns::create(&format!("ci{}{}", self.id, tag))
    }

    /// Prints every log file under the scratch directory to stderr.
    pub fn dump_logs(&self) {
        eprintln!(
            "==== {}: logs kept in {} ====",
            self.name,
            self.dir.display()
        );
        let mut files = Vec::new();
        collect_logs(&self.dir, &mut files);
        files.sort();
        for file in files {
            let text = std::fs::read_to_string(&file).unwrap_or_default();
            let lines: Vec<&str> = text.lines().collect();
            let skip = lines.len().saturating_sub(300);
            eprintln!(
                "---- {} ({} lines{}) ----",
                file.display(),
                lines.len(),
                if skip > 0 { ", last 300 shown" } else { "" }
            );
            for line in &lines[skip..] {
                eprintln!("{line}");
            }
        }
        eprintln!("==== end of logs of {} ====", self.name);
    }
}

/// Deletes namespaces left by earlier test processes that died without
/// cleaning up (SIGKILL, abort): names `ci<pid>x...` whose pid is gone.
fn sweep_stale_namespaces() {
    let Ok(list) = crate::util::cmd("ip", &["netns", "list"]) else {
        return;
    };
    for name in list
        .lines()
        .filter_map(|line| line.split_whitespace().next())
    {
        let Some(pid) = name
            .strip_prefix("ci")
            .and_then(|rest| rest.split_once('x'))
            .and_then(|(pid, _)| pid.parse::<u32>().ok())
        else {
            continue;
        };
        if pid != std::process::id() && !Path::new(&format!("/proc/{pid}")).exists() {
            eprintln!("deleting stale namespace {name} of dead test process {pid}");
            drop(Netns::adopt(name));
        }
    }
}

fn collect_logs(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            collect_logs(&path, out);
        } else if path
            .extension()
            .is_some_and(|ext| ext == "log" || ext == "out")
        {
            out.push(path);
        }
    }
}

/// Why namespaced tests cannot run here, if they cannot: not root, or
/// `ip netns` unusable. Missing BGP daemons are not a reason to skip.
pub fn skip_reason() -> Option<String> {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let euid = status
        .lines()
        .find_map(|line| line.strip_prefix("Uid:"))
        .and_then(|ids| ids.split_whitespace().nth(1))
        .and_then(|euid| euid.parse::<u32>().ok());
    if euid != Some(0) {
        return Some("not root (network namespaces need root)".into());
    }
    match std::process::Command::new("ip")
        .args(["netns", "list"])
        .output()
    {
        Ok(output) if output.status.success() => None,
        Ok(output) => Some(format!(
            "ip netns unavailable: {}",
            String::from_utf8_lossy(&output.stderr).trim()
        )),
        Err(error) => Some(format!("ip netns unavailable: {error}")),
    }
}
