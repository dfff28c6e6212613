//! `[fib] kernel = true`: the BGP RIB's forwarding changes go to the kernel
//! through `clos-rib` (next-hop tracking, nexthop groups, restart-safe).

use std::sync::Arc;
use std::time::Duration;

use clos_bgp::fib::{FibRoute, FibSink};
use clos_bgp::speaker::FibHandle;
use clos_rib::{Hop, KernelConfig, KernelRib};
use tracing::{info, warn};

/// Where `ip route` looks for protocol names.
const RT_PROTOS_DIR: &str = "/etc/iproute2/rt_protos.d";

/// BGP's forwarding sets into the kernel writer.
struct KernelSink {
    rib: KernelRib,
    /// `[fib] initial-hold`.
    initial_hold: Duration,
}

impl FibSink for KernelSink {
    fn routes(&self, batch: Vec<FibRoute>) {
        self.rib.submit(batch.into_iter().map(|r| {
            (
                r.prefix,
                r.next_hops
                    .into_iter()
                    .map(|h| Hop {
                        address: h.address,
                        ifindex: h.ifindex,
                    })
                    .collect(),
            )
        }));
    }

    fn converged(&self) {
        self.rib.converged();
    }

    fn initial_hold(&self) -> Duration {
        self.initial_hold
    }

    fn holding(&self, held: bool) {
        self.rib.set_holding(held);
    }
}

/// Opens the kernel table and starts the writer.
pub fn start(fib: &clos_config::Fib) -> anyhow::Result<(KernelRib, FibHandle)> {
    let mut config = KernelConfig::new(fib.table, fib.protocol);
    config.stale_time = Duration::from_secs(fib.stale_time as u64);
    let rib = KernelRib::start(config)
        .map_err(|e| anyhow::anyhow!("cannot open the kernel routing table {}: {e}", fib.table))?;
    info!(
        table = fib.table,
        protocol = fib.protocol,
        "installing routes into the kernel"
    );
    let sink = KernelSink {
        rib: rib.clone(),
        initial_hold: Duration::from_secs(fib.initial_hold as u64),
    };
    Ok((rib, FibHandle(Arc::new(sink))))
}

/// Names our protocol for `ip route` (`proto clos`), unless a file there
/// names it already. Best effort: without it `ip` prints the number.
pub fn name_protocol(protocol: u8) {
    let dir = std::path::Path::new(RT_PROTOS_DIR);
    let path = dir.join("clos.conf");
    if path.exists() {
        return;
    }
    let result = std::fs::create_dir_all(dir)
        .and_then(|()| std::fs::write(&path, clos_fib_kernel_hint(protocol)));
    match result {
        Ok(()) => {
            info!(path = %path.display(), protocol, "named our route protocol \"clos\" for ip(8)")
        }
        Err(e) => {
            warn!(path = %path.display(), error = %e, "cannot name our route protocol; `ip route` shows it as {protocol}")
        }
    }
}

fn clos_fib_kernel_hint(protocol: u8) -> String {
    format!("# Written by closd: `ip route show proto clos`.\n{protocol}\tclos\n")
}
