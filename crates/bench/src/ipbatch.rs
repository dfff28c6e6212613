//! The `kernel` scenario's baseline: the same prefixes and gateways
//! installed by `ip -batch`, one netlink request per route, each waiting
//! for the kernel's answer (iproute2's `rtnl_talk`).
//!
//! Owns: rendering the batch file (pure, tested) in two styles. Running it
//! and timing it is `kernel.rs`'s.
//!
//! - [`Style::Via`]: `route add P via G dev D …`, and for ECMP `route add P
//!   … nexthop via G1 dev D nexthop via G2 dev D …` (`RTA_MULTIPATH`, as
//!   BIRD installs them).
//! - [`Style::Nhid`]: first `nexthop add id K via Gk dev D` per gateway and,
//!   for ECMP, one group `nexthop add id 1000 group 1/2/…`; then `route add
//!   P nhid N …` (kernel nexthop objects, as closd and FRR's zebra do).

use std::io::Write;
use std::net::Ipv4Addr;

use crate::rtnl::RTPROT_STATIC;
use crate::util::{Family, Prefix};

/// Nexthop id of the ECMP group in [`Style::Nhid`]; gateways are 1..=K.
pub const GROUP_ID: u32 = 1000;

/// How the batch gives each route its next hops.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Style {
    /// `via` / `nexthop via` on every route.
    Via,
    /// Kernel nexthop objects, routes by `nhid`.
    Nhid,
}

impl Style {
    /// The name in reports.
    pub fn name(self) -> &'static str {
        match self {
            Style::Via => "ip-batch",
            Style::Nhid => "ip-batch-nhid",
        }
    }
}

/// Write the batch: every prefix of `prefixes` via all of `gateways`
/// (one = a plain route, more = ECMP) on `dev`, protocol static (4), metric
/// `metric`, in table main.
pub fn write_batch(
    out: &mut impl Write,
    prefixes: &[Prefix],
    gateways: &[Ipv4Addr],
    dev: &str,
    metric: u32,
    style: Style,
) -> std::io::Result<()> {
    let tail = format!("proto {RTPROT_STATIC} metric {metric}");
    match style {
        Style::Via => {
            let hops = if let [g] = gateways {
                format!("via {g} dev {dev} {tail}")
            } else {
                let mut s = tail.clone();
                for g in gateways {
                    s.push_str(&format!(" nexthop via {g} dev {dev}"));
                }
                s
            };
            for p in prefixes {
                writeln!(out, "route add {} {hops}", p.display(Family::Ipv4))?;
            }
        }
        Style::Nhid => {
            for (k, g) in gateways.iter().enumerate() {
                writeln!(out, "nexthop add id {} via {g} dev {dev}", k + 1)?;
            }
            let id = if gateways.len() > 1 {
                let members: Vec<String> = (1..=gateways.len()).map(|k| k.to_string()).collect();
                writeln!(out, "nexthop add id {GROUP_ID} group {}", members.join("/"))?;
                GROUP_ID
            } else {
                1
            };
            for p in prefixes {
                writeln!(
                    out,
                    "route add {} nhid {id} {tail}",
                    p.display(Family::Ipv4)
                )?;
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn prefixes() -> Vec<Prefix> {
        ["1.2.3.0/24", "100.64.0.0/10"]
            .iter()
            .map(|s| Prefix::from_ipnet(&s.parse().unwrap()))
            .collect()
    }

    fn render(gateways: usize, style: Style) -> String {
        let gw: Vec<Ipv4Addr> = (0..gateways)
            .map(|k| Ipv4Addr::new(10, 99, 0, 2 + k as u8))
            .collect();
        let mut out = Vec::new();
        write_batch(&mut out, &prefixes(), &gw, "bench0", 20, style).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn via_single_and_multipath() {
        assert_eq!(
            render(1, Style::Via),
            "route add 1.2.3.0/24 via 10.99.0.2 dev bench0 proto 4 metric 20\n\
             route add 100.64.0.0/10 via 10.99.0.2 dev bench0 proto 4 metric 20\n"
        );
        assert_eq!(
            render(2, Style::Via),
            "route add 1.2.3.0/24 proto 4 metric 20 nexthop via 10.99.0.2 dev bench0 \
             nexthop via 10.99.0.3 dev bench0\n\
             route add 100.64.0.0/10 proto 4 metric 20 nexthop via 10.99.0.2 dev bench0 \
             nexthop via 10.99.0.3 dev bench0\n"
        );
    }

    #[test]
    fn nexthop_objects_then_routes() {
        assert_eq!(
            render(1, Style::Nhid),
            "nexthop add id 1 via 10.99.0.2 dev bench0\n\
             route add 1.2.3.0/24 nhid 1 proto 4 metric 20\n\
             route add 100.64.0.0/10 nhid 1 proto 4 metric 20\n"
        );
        let eight = render(8, Style::Nhid);
        let lines: Vec<&str> = eight.lines().collect();
        assert_eq!(lines.len(), 8 + 1 + 2);
        assert_eq!(lines[7], "nexthop add id 8 via 10.99.0.9 dev bench0");
        assert_eq!(lines[8], "nexthop add id 1000 group 1/2/3/4/5/6/7/8");
        assert_eq!(lines[9], "route add 1.2.3.0/24 nhid 1000 proto 4 metric 20");
    }
}
