//! Rendering of API replies for people (tables, detail blocks) and for
//! scripts (`--json`).
//!
//! Pure functions from `clos_api::pb` messages to strings, so every layout
//! is tested with golden strings, without a daemon. The table layouts follow
//! the routers operators already read: FRR's `show bgp summary` and
//! `show bgp ipv4 unicast`, BIRD's `show protocols`.

use clos_api::pb;
use serde::Serialize;

/// A message as JSON: the proto field names as keys, every field present,
/// 64-bit integers as numbers. Ends with a newline.
pub fn json<T: Serialize>(message: &T) -> String {
    // Serializing plain generated structs cannot fail: no maps with
    // non-string keys, no custom serializers that error.
    let mut text = serde_json::to_string_pretty(message)
        .unwrap_or_else(|error| format!("{{\"error\": \"cannot encode JSON: {error}\"}}"));
    text.push('\n');
    text
}

/// `closctl bgp summary`: identity header, then one row per neighbor.
pub fn summary(summary: &pb::Summary) -> String {
    let mut out = format!(
        "BGP router identifier {}, local AS number {}\n\
         Loc-RIB: {} prefixes, {} paths\n\n",
        or_dash(&summary.router_id),
        summary.asn,
        summary.loc_rib_prefixes,
        summary.loc_rib_paths,
    );
    if summary.neighbors.is_empty() {
        out.push_str("No neighbors configured.\n");
        return out;
    }
    use Align::{Left, Right};
    let mut table = Table::new(&[
        ("Neighbor", Left),
        ("AS", Right),
        ("State", Left),
        ("Up/Down", Right),
        ("PfxRcd", Right),
        ("PfxAcc", Right),
        ("PfxSnt", Right),
        ("MsgRcvd", Right),
        ("MsgSent", Right),
        ("Description", Left),
    ]);
    for neighbor in &summary.neighbors {
        table.row(vec![
            neighbor.address.clone(),
            asn(neighbor.remote_as),
            neighbor.state.clone(),
            duration(neighbor.uptime_seconds),
            neighbor.prefixes_received.to_string(),
            neighbor.prefixes_accepted.to_string(),
            neighbor.prefixes_advertised.to_string(),
            neighbor.messages_received.to_string(),
            neighbor.messages_sent.to_string(),
            neighbor.description.clone(),
        ]);
    }
    out.push_str(&table.render());
    out.push_str(&format!(
        "\nTotal number of neighbors {}\n",
        summary.neighbors.len()
    ));
    out
}

/// `closctl bgp neighbor ADDR`: everything known about one session.
pub fn neighbor(detail: &pb::NeighborDetail) -> String {
    let default_summary = pb::NeighborSummary::default();
    let summary = detail.summary.as_ref().unwrap_or(&default_summary);
    let peer_type = if detail.peer_type.is_empty() {
        String::new()
    } else {
        format!(", {} link", detail.peer_type)
    };
    let mut out = format!(
        "BGP neighbor is {}, remote AS {}{peer_type}\n",
        or_dash(&summary.address),
        asn(summary.remote_as),
    );
    let mut line = |text: String| {
        out.push_str("  ");
        out.push_str(&text);
        out.push('\n');
    };
    if !summary.description.is_empty() {
        line(format!("Description: {}", summary.description));
    }
    line(format!(
        "BGP state = {}, for {}{}",
        or_dash(&summary.state),
        duration(summary.uptime_seconds),
        if detail.passive { ", passive" } else { "" },
    ));
    line(format!(
        "Remote router ID {}, established {} time(s)",
        or_dash(&detail.remote_router_id),
        detail.established_transitions,
    ));
    line(format!(
        "Local address {}, local port {}, remote port {}",
        or_dash(&detail.local_address),
        port(detail.local_port),
        port(detail.remote_port),
    ));
    if !detail.remote_address.is_empty() {
        line(format!("Remote address {}", detail.remote_address));
    }
    if !detail.bfd_state.is_empty() {
        line(format!(
            "BFD {}, detection time {} ms",
            detail.bfd_state, detail.bfd_detect_ms
        ));
    }
    line(format!(
        "Hold time {} s (configured {} s), keepalive interval {} s, \
         worst keepalive delay {} ms",
        detail.hold_time,
        detail.configured_hold_time,
        detail.keepalive_time,
        detail.max_keepalive_delay_ms,
    ));
    line(format!("Address families: {}", list(&detail.families)));
    line("Capabilities:".to_string());
    line(format!("  Local:  {}", list(&detail.local_capabilities)));
    line(format!("  Remote: {}", list(&detail.remote_capabilities)));
    line(format!(
        "Policy: import {}, export {}",
        or_dash(&detail.import_policy),
        or_dash(&detail.export_policy),
    ));
    line(format!(
        "Prefixes: received {}, accepted {}, advertised {}, maximum {}",
        summary.prefixes_received,
        summary.prefixes_accepted,
        summary.prefixes_advertised,
        if detail.max_prefix == 0 {
            "none".to_string()
        } else {
            detail.max_prefix.to_string()
        },
    ));
    line(format!(
        "RFC 7606: {} updates treated as withdraw, {} attributes discarded",
        detail.withdrawn_treated, detail.attributes_discarded,
    ));
    line("Messages:".to_string());
    let mut counters = Table::new(&[
        ("", Align::Left),
        ("Sent", Align::Right),
        ("Rcvd", Align::Right),
    ]);
    for (name, sent, received) in [
        ("Updates", detail.updates_sent, detail.updates_received),
        (
            "Notifications",
            detail.notifications_sent,
            detail.notifications_received,
        ),
        (
            "Keepalives",
            detail.keepalives_sent,
            detail.keepalives_received,
        ),
        (
            "Route refresh",
            detail.route_refresh_sent,
            detail.route_refresh_received,
        ),
        ("Total", summary.messages_sent, summary.messages_received),
    ] {
        counters.row(vec![
            format!("{name}:"),
            sent.to_string(),
            received.to_string(),
        ]);
    }
    for row in counters.render().lines() {
        line(format!("  {row}"));
    }
    line(format!(
        "Last notification sent: {}",
        or_none(&detail.last_notification_sent)
    ));
    line(format!(
        "Last notification received: {}",
        or_none(&detail.last_notification_received)
    ));
    line(format!("Last error: {}", or_none(&summary.last_error)));
    out
}

/// `closctl bgp routes`: one row per path, the prefix shown on its first
/// path only (the daemon sends the best path of a prefix first).
pub fn routes(list: &pb::RouteList) -> String {
    if list.routes.is_empty() {
        return "No BGP routes.\n".to_string();
    }
    let mut out = String::from(
        "Status codes: * valid, > best, = multipath\n\
         Origin codes: i - IGP, e - EGP, ? - incomplete\n\n",
    );
    use Align::{Left, Right};
    let mut table = Table::new(&[
        ("", Left),
        ("Network", Left),
        ("Next Hop", Left),
        ("MED", Right),
        ("LocPrf", Right),
        ("Path", Left),
        ("Peer", Left),
    ]);
    let mut prefixes = 0;
    let mut previous: Option<&str> = None;
    for route in &list.routes {
        let first_of_prefix = previous != Some(route.prefix.as_str());
        if first_of_prefix {
            prefixes += 1;
        }
        previous = Some(&route.prefix);
        table.row(vec![
            status(route).to_string(),
            if first_of_prefix {
                route.prefix.clone()
            } else {
                String::new()
            },
            or_dash(&route.next_hop).to_string(),
            optional(route.has_med, route.med),
            optional(route.has_local_pref, route.local_pref),
            path(route),
            or_dash(&route.peer).to_string(),
        ]);
    }
    out.push_str(&table.render());
    out.push_str(&format!(
        "\nDisplayed {prefixes} prefixes, {} paths\n",
        list.routes.len()
    ));
    out
}

/// Time in a state, the way FRR prints it: `00:03:12` under a day,
/// `2d03h` under a week, `3w2d03h` beyond.
pub fn duration(seconds: u64) -> String {
    const MINUTE: u64 = 60;
    const HOUR: u64 = 60 * MINUTE;
    const DAY: u64 = 24 * HOUR;
    const WEEK: u64 = 7 * DAY;
    if seconds < DAY {
        format!(
            "{:02}:{:02}:{:02}",
            seconds / HOUR,
            seconds % HOUR / MINUTE,
            seconds % MINUTE
        )
    } else if seconds < WEEK {
        format!("{}d{:02}h", seconds / DAY, seconds % DAY / HOUR)
    } else {
        format!(
            "{}w{}d{:02}h",
            seconds / WEEK,
            seconds % WEEK / DAY,
            seconds % DAY / HOUR
        )
    }
}

/// The two status characters of a path: valid, then best or multipath.
fn status(route: &pb::Route) -> &'static str {
    if route.best {
        "*>"
    } else if route.multipath {
        "*="
    } else {
        "*"
    }
}

/// AS path followed by the origin code, e.g. `65001 65002 i`.
fn path(route: &pb::Route) -> String {
    let origin = match route.origin.as_str() {
        "igp" => "i",
        "egp" => "e",
        _ => "?",
    };
    if route.as_path.is_empty() {
        origin.to_string()
    } else {
        format!("{} {origin}", route.as_path)
    }
}

fn optional(present: bool, value: u32) -> String {
    if present {
        value.to_string()
    } else {
        String::new()
    }
}

/// An AS number; 0 means "not learned yet" (unnumbered peers before OPEN).
fn asn(number: u32) -> String {
    if number == 0 {
        "-".to_string()
    } else {
        number.to_string()
    }
}

fn port(number: u32) -> String {
    if number == 0 {
        "-".to_string()
    } else {
        number.to_string()
    }
}

fn or_dash(text: &str) -> &str {
    if text.is_empty() {
        "-"
    } else {
        text
    }
}

fn or_none(text: &str) -> &str {
    if text.is_empty() {
        "none"
    } else {
        text
    }
}

fn list(items: &[String]) -> String {
    if items.is_empty() {
        "none".to_string()
    } else {
        items.join(", ")
    }
}

/// Horizontal alignment of a column.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Align {
    Left,
    Right,
}

/// A column-aligned text table: two spaces between columns, no trailing
/// spaces.
struct Table {
    headers: Vec<(String, Align)>,
    rows: Vec<Vec<String>>,
}

impl Table {
    fn new(headers: &[(&str, Align)]) -> Table {
        Table {
            headers: headers
                .iter()
                .map(|(name, align)| (name.to_string(), *align))
                .collect(),
            rows: Vec::new(),
        }
    }

    fn row(&mut self, cells: Vec<String>) {
        self.rows.push(cells);
    }

    fn render(&self) -> String {
        let widths: Vec<usize> = self
            .headers
            .iter()
            .enumerate()
            .map(|(column, (header, _))| {
                self.rows
                    .iter()
                    .filter_map(|row| row.get(column))
                    .map(|cell| cell.chars().count())
                    .chain(std::iter::once(header.chars().count()))
                    .max()
                    .unwrap_or(0)
            })
            .collect();
        let header: Vec<String> = self.headers.iter().map(|(h, _)| h.clone()).collect();
        let mut out = String::new();
        for cells in std::iter::once(&header).chain(&self.rows) {
            let mut line = String::new();
            for (column, ((_, align), width)) in self.headers.iter().zip(&widths).enumerate() {
                if column > 0 {
                    line.push_str("  ");
                }
                let cell = cells.get(column).map(String::as_str).unwrap_or("");
                match align {
                    Align::Left => line.push_str(&format!("{cell:<width$}")),
                    Align::Right => line.push_str(&format!("{cell:>width$}")),
                }
            }
            out.push_str(line.trim_end());
            out.push('\n');
        }
        out
    }
}

#[cfg(test)]
mod tests;

/// `closctl fib kernel`: what closd installed in the kernel, how each BGP
/// next hop resolves, and every route the kernel refused with its error.
pub fn kernel_fib(fib: &pb::KernelFib) -> String {
    if !fib.enabled {
        return "Kernel FIB: off ([fib] kernel = false in closd's config)\n".to_string();
    }
    let protocol = if fib.protocol == 201 {
        "201 (clos)".to_string()
    } else {
        fib.protocol.to_string()
    };
    let mut out = format!(
        "Kernel FIB: table {}, protocol {}\n\
         Routes: {} installed, {} wanted, {} unresolved, {} refused by the kernel\n\
         Nexthop objects: {}, groups: {}; memory {} bytes\n",
        fib.table,
        protocol,
        fib.installed,
        fib.wanted,
        fib.unresolved,
        fib.failed,
        fib.nexthop_objects,
        fib.nexthop_groups,
        fib.memory_bytes,
    );
    out.push_str(&format!(
        "Start-up: {} routes adopted from an earlier run; {}\n",
        fib.adopted,
        if fib.stale_pending {
            "stale routes kept until BGP converges".to_string()
        } else {
            format!("{} stale routes removed", fib.stale_removed)
        }
    ));
    if fib.holding {
        out.push_str(
            "Start-up hold: BGP writes its routes once every neighbor has sent End-of-RIB \
             ([fib] initial-hold)\n",
        );
    }
    use Align::{Left, Right};
    if !fib.next_hops.is_empty() {
        out.push_str("\nNext hops\n");
        let mut table = Table::new(&[
            ("BGP next hop", Left),
            ("Resolved via", Left),
            ("Routes", Right),
        ]);
        for hop in &fib.next_hops {
            table.row(vec![
                with_interface(&hop.address, &hop.interface),
                if hop.resolved {
                    with_interface(&hop.via, &hop.via_interface)
                } else {
                    "unreachable".to_string()
                },
                hop.routes.to_string(),
            ]);
        }
        out.push_str(&table.render());
    }
    if !fib.failures.is_empty() {
        out.push_str("\nRefused by the kernel\n");
        let mut table = Table::new(&[("Prefix", Left), ("Error", Left)]);
        for failure in &fib.failures {
            table.row(vec![failure.prefix.clone(), failure.error.clone()]);
        }
        out.push_str(&table.render());
    }
    if !fib.routes.is_empty() {
        out.push_str("\nInstalled routes\n");
        let mut table = Table::new(&[("Prefix", Left), ("Next hops", Left)]);
        for route in &fib.routes {
            let paths: Vec<String> = route
                .paths
                .iter()
                .map(|p| with_interface(&p.gateway, &p.interface))
                .collect();
            table.row(vec![route.prefix.clone(), paths.join(", ")]);
        }
        out.push_str(&table.render());
    }
    out
}

fn with_interface(address: &str, interface: &str) -> String {
    if interface.is_empty() {
        address.to_string()
    } else {
        format!("{address} dev {interface}")
    }
}
