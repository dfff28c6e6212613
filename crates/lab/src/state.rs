//! The state directory of one lab: what `up` made, so that `status`,
//! `ping-all`, `fail`, `converge` and `down` find it again.
//!
//! Layout (default root `/run/clos-lab/<prefix>/`, or `--state DIR`):
//!
//! ```text
//! state.json            this file's [`State`]: the intent text, namespaces, processes
//! <node>/closd.toml     the rendered config of a closd switch
//! <node>/closd.sock     its API socket
//! <node>/closd.log      its stdout and stderr
//! <node>/frr/           zebra/bgpd/bfdd configs, sockets, logs of an FRR switch
//! ```
//!
//! `state.json` is rewritten after every step of `up` (namespaces made,
//! daemons started), so a failed or interrupted `up` still leaves a record
//! for `down`. `down` also cleans by namespace name, so a lost state file
//! does not leave namespaces behind.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

/// Where labs keep their state unless `--state` says otherwise.
pub const DEFAULT_STATE_ROOT: &str = "/run/clos-lab";

/// Format version of `state.json`.
const VERSION: u32 = 1;

/// A process `up` started.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProcessRecord {
    /// The node it runs for.
    pub node: String,
    /// `closd`, `zebra`, `bgpd`, `bfdd`.
    pub program: String,
    /// Its PID.
    pub pid: u32,
    /// Its stdout and stderr.
    pub log: PathBuf,
}

/// What a lab is made of, as recorded by `up`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct State {
    /// Format version.
    pub version: u32,
    /// Namespace prefix.
    pub prefix: String,
    /// Where the intent came from (a path, or the built-in default).
    pub intent_origin: String,
    /// The intent text itself, so later commands see the fabric `up` made
    /// even if the file has changed since.
    pub intent_text: String,
    /// Whether daemons were started (`up --no-daemons` starts none).
    pub daemons: bool,
    /// The closd binary used.
    pub closd: Option<PathBuf>,
    /// The closctl binary used for queries.
    pub closctl: Option<PathBuf>,
    /// Switches that run FRR instead of closd.
    pub frr: Vec<String>,
    /// Namespaces created so far.
    pub namespaces: Vec<String>,
    /// Processes started so far.
    pub processes: Vec<ProcessRecord>,
}

impl State {
    /// A fresh record for a lab about to be made.
    pub fn new(prefix: &str, intent_origin: &str, intent_text: &str) -> State {
        State {
            version: VERSION,
            prefix: prefix.to_string(),
            intent_origin: intent_origin.to_string(),
            intent_text: intent_text.to_string(),
            daemons: false,
            closd: None,
            closctl: None,
            frr: Vec::new(),
            namespaces: Vec::new(),
            processes: Vec::new(),
        }
    }
}

/// The state directory of one lab and the paths inside it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LabDir {
    root: PathBuf,
}

impl LabDir {
    /// `--state DIR` if given, else `/run/clos-lab/<prefix>`.
    pub fn new(state: Option<&Path>, prefix: &str) -> LabDir {
        LabDir {
            root: match state {
                Some(dir) => dir.to_path_buf(),
                None => Path::new(DEFAULT_STATE_ROOT).join(prefix),
            },
        }
    }

    /// The directory itself.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// `state.json`.
    pub fn state_file(&self) -> PathBuf {
        self.root.join("state.json")
    }

    /// A node's own directory.
    pub fn node_dir(&self, node: &str) -> PathBuf {
        self.root.join(node)
    }

    /// A closd switch's API socket.
    pub fn socket(&self, node: &str) -> PathBuf {
        self.node_dir(node).join("closd.sock")
    }

    /// A closd switch's config.
    pub fn closd_config(&self, node: &str) -> PathBuf {
        self.node_dir(node).join("closd.toml")
    }

    /// An FRR switch's directory (owned by the `frr` user).
    pub fn frr_dir(&self, node: &str) -> PathBuf {
        self.node_dir(node).join("frr")
    }

    /// Whether a state file exists.
    pub fn exists(&self) -> bool {
        self.state_file().exists()
    }

    /// Reads `state.json`.
    pub fn load(&self) -> Result<State> {
        let path = self.state_file();
        let text = std::fs::read_to_string(&path).with_context(|| {
            format!(
                "no lab here: cannot read {} (is the lab up? use the same --prefix/--state as for `up`)",
                path.display()
            )
        })?;
        let state: State = serde_json::from_str(&text)
            .with_context(|| format!("{} is not a clos-lab state file", path.display()))?;
        Ok(state)
    }

    /// Writes `state.json` atomically (write, then rename).
    pub fn save(&self, state: &State) -> Result<()> {
        std::fs::create_dir_all(&self.root)
            .with_context(|| format!("cannot create {}", self.root.display()))?;
        let path = self.state_file();
        let temporary = self.root.join("state.json.new");
        let text = serde_json::to_string_pretty(state).context("encoding the state")?;
        std::fs::write(&temporary, text + "\n")
            .with_context(|| format!("cannot write {}", temporary.display()))?;
        std::fs::rename(&temporary, &path)
            .with_context(|| format!("cannot write {}", path.display()))?;
        Ok(())
    }

    /// Removes the whole directory; a missing one is fine.
    pub fn remove(&self) -> Result<()> {
        match std::fs::remove_dir_all(&self.root) {
            Ok(()) => Ok(()),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(error) => {
                Err(error).with_context(|| format!("cannot remove {}", self.root.display()))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths() {
        let dir = LabDir::new(None, "clos");
        assert_eq!(dir.root(), Path::new("/run/clos-lab/clos"));
        assert_eq!(
            dir.socket("leaf1"),
            Path::new("/run/clos-lab/clos/leaf1/closd.sock")
        );
        let dir = LabDir::new(Some(Path::new("/tmp/x")), "clos");
        assert_eq!(dir.state_file(), Path::new("/tmp/x/state.json"));
    }

    #[test]
    fn round_trip() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = LabDir::new(Some(tmp.path()), "t");
        let mut state = State::new("t", "<built-in>", "[fabric]\n");
        state.namespaces.push("t-spine1".into());
        state.processes.push(ProcessRecord {
            node: "spine1".into(),
            program: "closd".into(),
            pid: 42,
            log: tmp.path().join("spine1/closd.log"),
        });
        dir.save(&state).unwrap();
        assert_eq!(dir.load().unwrap(), state);
        dir.remove().unwrap();
        assert!(!dir.exists());
        dir.remove().unwrap();
    }
}
