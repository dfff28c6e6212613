//! Helpers shared by the lab's namespace tests: the skip decision, a lab
//! with a unique prefix and state directory that is torn down on drop, and
//! running the `clos-lab` binary.
#![allow(dead_code)] // each test file uses its own subset

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

static COUNTER: AtomicU32 = AtomicU32::new(0);

/// Why namespace tests cannot run here, if they cannot.
pub fn skip_reason() -> Option<String> {
    clos_lab::sys::netns_unusable()
}

/// Prints the `SKIP:` line and returns true when the test must skip.
pub fn skip(test: &str) -> bool {
    match skip_reason() {
        Some(reason) => {
            eprintln!("SKIP: {test}: {reason}");
            true
        }
        None => false,
    }
}

/// The `clos-lab` binary under test.
pub fn binary() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_clos-lab"))
}

/// A `clos-lab` command line, not yet run.
pub fn command(args: &[&str]) -> Command {
    let mut command = Command::new(binary());
    command.args(args);
    command
}

/// Runs and returns the output, printing it for the test log.
pub fn run(args: &[&str]) -> Output {
    let output = command(args).output().expect("clos-lab runs");
    eprintln!(
        "$ clos-lab {}\n{}{}-> {}",
        args.join(" "),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr),
        output.status
    );
    output
}

/// The namespaces whose names start with `prefix-`.
pub fn namespaces(prefix: &str) -> Vec<String> {
    let out = Command::new("ip")
        .args(["netns", "list"])
        .output()
        .expect("ip netns list");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .filter(|n| n.starts_with(&format!("{prefix}-")))
        .map(str::to_string)
        .collect()
}

/// Deletes namespaces left by earlier test processes that died without
/// cleaning up: names `lt<pid>x...` whose pid is gone.
fn sweep_stale() {
    for name in all_namespaces() {
        let Some(pid) = name
            .strip_prefix("lt")
            .and_then(|rest| rest.split_once('x'))
            .and_then(|(pid, _)| pid.parse::<u32>().ok())
        else {
            continue;
        };
        if pid != std::process::id() && !Path::new(&format!("/proc/{pid}")).exists() {
            if let Ok(out) = Command::new("ip").args(["netns", "pids", &name]).output() {
                for p in String::from_utf8_lossy(&out.stdout).split_whitespace() {
                    let _ = Command::new("kill").args(["-9", p]).status();
                }
            }
            let _ = Command::new("ip").args(["netns", "delete", &name]).status();
        }
    }
}

fn all_namespaces() -> Vec<String> {
    let out = Command::new("ip")
        .args(["netns", "list"])
        .output()
        .expect("ip netns list");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .map(str::to_string)
        .collect()
}

/// One lab under test: a unique prefix (`lt<pid>x<n>`) and a private
/// state directory. Dropping it runs `down`.
pub struct TestLab {
    pub prefix: String,
    pub state: tempfile::TempDir,
}

impl TestLab {
    pub fn new() -> TestLab {
        static SWEEP: std::sync::Once = std::sync::Once::new();
        SWEEP.call_once(sweep_stale);
        let state = tempfile::tempdir().expect("temporary directory");
        // FRR's daemons drop privileges to the user frr, which must be able
        // to reach its directory inside the state directory.
        std::fs::set_permissions(
            state.path(),
            std::os::unix::fs::PermissionsExt::from_mode(0o755),
        )
        .expect("chmod the state directory");
        TestLab {
            prefix: format!(
                "lt{}x{}",
                std::process::id(),
                COUNTER.fetch_add(1, Ordering::Relaxed)
            ),
            state,
        }
    }

    pub fn state_dir(&self) -> &Path {
        self.state.path()
    }

    /// The global flags of this lab followed by `args`.
    pub fn args<'a>(&'a self, args: &[&'a str]) -> Vec<&'a str> {
        let mut all = vec![
            "--prefix",
            &self.prefix,
            "--state",
            self.state.path().to_str().expect("utf-8 temp path"),
        ];
        all.extend_from_slice(args);
        all
    }

    /// Runs `clos-lab --prefix P --state S ARGS...`.
    pub fn run(&self, args: &[&str]) -> Output {
        run(&self.args(args))
    }

    pub fn namespaces(&self) -> Vec<String> {
        namespaces(&self.prefix)
    }

    /// PIDs of processes in any of this lab's namespaces.
    pub fn pids(&self) -> Vec<u32> {
        self.namespaces()
            .iter()
            .flat_map(|ns| {
                let out = Command::new("ip")
                    .args(["netns", "pids", ns])
                    .output()
                    .expect("ip netns pids");
                String::from_utf8_lossy(&out.stdout)
                    .split_whitespace()
                    .filter_map(|p| p.parse().ok())
                    .collect::<Vec<u32>>()
            })
            .collect()
    }

    /// `down`, then checks that nothing is left: no namespace, no process
    /// that was in one, no state file.
    pub fn down_and_check(&self) {
        let pids = self.pids();
        let out = self.run(&["down"]);
        assert!(out.status.success(), "down failed");
        assert_eq!(self.namespaces(), Vec::<String>::new(), "namespaces left");
        for pid in pids {
            assert!(
                !clos_lab::sys::pid_alive(pid),
                "process {pid} survived down"
            );
        }
        assert!(
            !self.state.path().join("state.json").exists(),
            "state file left"
        );
    }
}

impl Drop for TestLab {
    fn drop(&mut self) {
        if skip_reason().is_none() {
            let _ = command(&self.args(&["down"])).output();
        }
    }
}

/// Polls `check` until it returns true, for at most `timeout`.
pub fn eventually(what: &str, timeout: Duration, mut check: impl FnMut() -> bool) {
    let start = Instant::now();
    while start.elapsed() < timeout {
        if check() {
            return;
        }
        std::thread::sleep(Duration::from_millis(500));
    }
    panic!("timed out after {timeout:?} waiting for {what}");
}

/// Where the closd and closctl under test are: `$CLOS_BIN_DIR`, else the
/// directory of the clos-lab binary (same target directory), else the
/// workspace's `target/debug`.
pub fn clos_bin_dir() -> Option<PathBuf> {
    let mut candidates = Vec::new();
    if let Some(dir) = std::env::var_os("CLOS_BIN_DIR") {
        candidates.push(PathBuf::from(dir));
    }
    if let Some(dir) = binary().parent() {
        candidates.push(dir.to_path_buf());
    }
    candidates.push(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/debug"));
    candidates
        .into_iter()
        .find(|dir| dir.join("closd").is_file() && dir.join("closctl").is_file())
}
