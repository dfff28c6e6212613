//! `clos-lab`: the fabric intent file and the lab that brings a whole RFC
//! 7938 leaf–spine fabric up in Linux network namespaces, with `closd` (or
//! FRR) on every switch, and measures it.
//!
//! The library is the binary's implementation, split so that everything
//! that can be judged without root and namespaces is pure and unit-tested:
//!
//! | file | owns | I/O |
//! | --- | --- | --- |
//! | `intent/` | the intent TOML and its validation (file:line:key errors) | none |
//! | `plan.rs` | nodes, links, interface names, AS numbers, addresses | none |
//! | `render.rs` | per-switch closd and FRR configs | none |
//! | `containerlab.rs` | the containerlab topology export | none |
//! | `state.rs` | the lab's state directory and `state.json` | files |
//! | `sys.rs` | commands with deadlines, `setns(2)`, sysctls, signals | OS |
//! | `fabric.rs` | namespaces, veth pairs, addresses; link down/up; teardown | `ip` |
//! | `daemons.rs` | finding and starting closd / FRR | processes |
//! | `observe.rs` | sessions, routes, convergence verdict, status tables | `closctl`, `vtysh`, `ip` |
//! | `probe.rs` | ICMP echo and the UDP loss probe, loss arithmetic | sockets |
//! | `converge.rs` | the link-failure loss measurement | all of the above |
//! | `lab.rs` | one function per command | all of the above |
//!
//! Commands (see `README.md` in this crate for the details):
//! `up [FILE]`, `status`, `ping-all`, `fail LINK`, `restore LINK`,
//! `converge`, `down`, `render [FILE] --out DIR`,
//! `export --containerlab OUT [FILE]`.

#![forbid(unsafe_code)]

pub mod containerlab;
pub mod converge;
pub mod daemons;
pub mod fabric;
pub mod intent;
pub mod lab;
pub mod observe;
pub mod plan;
pub mod probe;
pub mod render;
pub mod state;
pub mod sys;
pub mod table;
