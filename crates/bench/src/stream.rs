//! Pre-encoded UPDATE streams: built once with `clos-wire`, cached on disk,
//! written by feeders with large writes.
//!
//! Owns: the byte stream of each feeder (initial table, then the churn
//! and restore streams of feeder 0; for the `kernel` scenario, the table with the
//! feeder's own NEXT_HOP and equal AS-path lengths across feeders) and its
//! on-disk cache, keyed by every parameter that changes its bytes. Owns no
//! sockets.
//!
//! A stream is whole BGP messages back to back: one attribute set's
//! prefixes packed into as few UPDATEs of at most 4096 bytes as
//! `clos_wire::encode_announcements` makes, the UPDATE order shuffled (so
//! neighbouring prefixes do not arrive together), then End-of-RIB (initial
//! stream only).

use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{anyhow, Context, Result};
use clos_wire::{
    encode_announcements, encode_end_of_rib, encode_withdrawals, IpNet, SessionCodec, HEADER_LEN,
};

use crate::routes::{path_spec, Churn, RouteId, RouteSet};
use crate::util::Rng;

/// Bump when the stream layout or the route generator changes.
const FORMAT: u32 = 2;

/// The codec our speakers negotiate: 4-octet ASNs, no extended messages.
pub fn codec() -> SessionCodec {
    SessionCodec {
        four_octet_as: true,
        extended_message: false,
        extended_next_hop_ipv4: false,
    }
}

/// One feeder's encoded messages.
pub struct Stream {
    pub bytes: Vec<u8>,
    pub updates: usize,
}

impl Stream {
    /// Split points at message boundaries, about `chunk` bytes apart, so a
    /// writer can interleave KEEPALIVEs between writes.
    pub fn chunks(&self, chunk: usize) -> Vec<std::ops::Range<usize>> {
        let mut out = Vec::new();
        let (mut start, mut pos) = (0, 0);
        while pos + HEADER_LEN <= self.bytes.len() {
            let len = usize::from(u16::from_be_bytes([
                self.bytes[pos + 16],
                self.bytes[pos + 17],
            ]));
            pos += len.max(HEADER_LEN);
            if pos - start >= chunk {
                out.push(start..pos);
                start = pos;
            }
        }
        if start < self.bytes.len() {
            out.push(start..self.bytes.len());
        }
        out
    }
}

/// What a stream holds.
#[derive(Debug, Clone, Copy)]
pub enum StreamKind {
    /// The full table of feeder k, then End-of-RIB.
    Initial,
    /// Feeder 0's churn: re-announcements (generation 1) and withdrawals.
    Churn,
    /// Feeder 0 undoes the churn: every prefix it re-announced or withdrew,
    /// announced again with its initial (generation 0) path.
    Restore,
}

/// Load the stream from `cache` or build and store it.
pub fn load(
    set: &RouteSet,
    feeder: usize,
    feeders: usize,
    kind: StreamKind,
    churn: &Churn,
    cache: &Path,
) -> Result<Stream> {
    let p = &set.params;
    let name = match kind {
        StreamKind::Initial => format!(
            "clos-bench-v{FORMAT}-{}-f{feeder}of{feeders}.bin",
            p.cache_key()
        ),
        StreamKind::Churn => format!(
            "clos-bench-v{FORMAT}-{}-f{feeder}of{feeders}-churn{}.bin",
            p.cache_key(),
            churn.reannounce.len()
        ),
        StreamKind::Restore => format!(
            "clos-bench-v{FORMAT}-{}-f{feeder}of{feeders}-restore{}.bin",
            p.cache_key(),
            churn.reannounce.len()
        ),
    };
    let path: PathBuf = cache.join(name);
    if let Ok(bytes) = std::fs::read(&path) {
        let updates = count_messages(&bytes);
        return Ok(Stream { bytes, updates });
    }
    let t = Instant::now();
    let stream = match kind {
        StreamKind::Initial => build_initial(set, feeder, feeders, None)?,
        StreamKind::Churn => build_churn(set, feeders, churn)?,
        StreamKind::Restore => build_restore(set, feeders, churn)?,
    };
    store(&path, stream, t)
}

/// Feeder `feeder`'s table for the `kernel` scenario, from `cache` or built
/// and stored: NEXT_HOP is the feeder's own address (on the DUT's
/// connected subnet, so a kernel accepts it as a gateway), and every
/// feeder's AS_PATH for a set has the same length (`routes::path_spec`
/// ranks each path among one feeder: rank 0), so with several feeders the
/// DUT forms one ECMP set of all of them per prefix (across neighbour ASes:
/// multipath relax).
pub fn load_kernel_feed(
    set: &RouteSet,
    feeder: usize,
    feeders: usize,
    next_hop: Ipv4Addr,
    cache: &Path,
) -> Result<Stream> {
    let name = format!(
        "clos-bench-v{FORMAT}-{}-f{feeder}of{feeders}-equal-nh{next_hop}.bin",
        set.params.cache_key()
    );
    let path = cache.join(name);
    if let Ok(bytes) = std::fs::read(&path) {
        let updates = count_messages(&bytes);
        return Ok(Stream { bytes, updates });
    }
    let t = Instant::now();
    let stream = build_initial(set, feeder, 1, Some(next_hop))?;
    store(&path, stream, t)
}

/// Write `stream` to `path` (atomically, by rename) and return it.
fn store(path: &Path, stream: Stream, started: Instant) -> Result<Stream> {
    if let Some(cache) = path.parent() {
        std::fs::create_dir_all(cache).with_context(|| format!("creating {}", cache.display()))?;
    }
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    std::fs::write(&tmp, &stream.bytes).with_context(|| format!("writing {}", tmp.display()))?;
    std::fs::rename(&tmp, path).with_context(|| format!("renaming to {}", path.display()))?;
    eprintln!(
        "prepared {} ({} bytes, {} UPDATEs) in {:.2}s",
        path.display(),
        stream.bytes.len(),
        stream.updates,
        started.elapsed().as_secs_f64()
    );
    Ok(stream)
}

fn count_messages(bytes: &[u8]) -> usize {
    let mut pos = 0;
    let mut n = 0;
    while pos + HEADER_LEN <= bytes.len() {
        pos += usize::from(u16::from_be_bytes([bytes[pos + 16], bytes[pos + 17]])).max(HEADER_LEN);
        n += 1;
    }
    n
}

/// Shuffle whole messages of `raw` (deterministically) into a new buffer.
fn shuffle_messages(raw: &[u8], rng: &mut Rng) -> (Vec<u8>, usize) {
    let mut spans = Vec::new();
    let mut pos = 0;
    while pos + HEADER_LEN <= raw.len() {
        let len = usize::from(u16::from_be_bytes([raw[pos + 16], raw[pos + 17]])).max(HEADER_LEN);
        spans.push(pos..pos + len);
        pos += len;
    }
    rng.shuffle(&mut spans);
    let mut out = Vec::with_capacity(raw.len() + 64);
    for s in &spans {
        out.extend_from_slice(&raw[s.clone()]);
    }
    (out, spans.len())
}

/// Feeder `feeder`'s full table: its path per set ranked among `feeders`
/// (see `routes::path_spec`), NEXT_HOP `next_hop` or the default.
fn build_initial(
    set: &RouteSet,
    feeder: usize,
    feeders: usize,
    next_hop: Option<Ipv4Addr>,
) -> Result<Stream> {
    let family = set.params.family;
    let codec = codec();
    let mut raw = Vec::with_capacity(set.prefixes.len() * 36);
    let mut nets: Vec<IpNet> = Vec::new();
    for g in 0..set.groups() {
        let spec = path_spec(
            set.params.seed,
            RouteId {
                generation: 0,
                group: g as u32,
                feeder: feeder as u16,
            },
            feeders,
        );
        nets.clear();
        nets.extend(
            set.prefixes[set.group(g)]
                .iter()
                .map(|p| p.to_ipnet(family)),
        );
        let mut attributes = spec.attributes(family);
        if next_hop.is_some() {
            attributes.next_hop = next_hop;
        }
        encode_announcements(&attributes, &nets, &codec, &mut raw)
            .map_err(|e| anyhow!("encoding group {g}: {e}"))?;
    }
    let mut rng = Rng::keyed(&[set.params.seed, 0x006f_7264_6572, feeder as u64]);
    let (mut bytes, updates) = shuffle_messages(&raw, &mut rng);
    encode_end_of_rib(family.wire(), &codec, &mut bytes)
        .map_err(|e| anyhow!("encoding End-of-RIB: {e}"))?;
    Ok(Stream {
        bytes,
        updates: updates + 1,
    })
}

/// Feeder 0's paths of `generation` for the prefixes in `range`: runs of
/// the same group share one attribute set, as in the initial stream.
fn encode_feeder0_runs(
    set: &RouteSet,
    feeders: usize,
    range: std::ops::Range<usize>,
    generation: u8,
    group_of: &[u32],
    raw: &mut Vec<u8>,
) -> Result<()> {
    let family = set.params.family;
    let codec = codec();
    let mut nets: Vec<IpNet> = Vec::new();
    let mut i = range.start;
    while i < range.end {
        let g = group_of[i];
        let mut j = i;
        while j < range.end && group_of[j] == g {
            j += 1;
        }
        let spec = path_spec(
            set.params.seed,
            RouteId {
                generation,
                group: g,
                feeder: 0,
            },
            feeders,
        );
        nets.clear();
        nets.extend(set.prefixes[i..j].iter().map(|p| p.to_ipnet(family)));
        encode_announcements(&spec.attributes(family), &nets, &codec, raw)
            .map_err(|e| anyhow!("encoding generation {generation} of group {g}: {e}"))?;
        i = j;
    }
    Ok(())
}

fn build_churn(set: &RouteSet, feeders: usize, churn: &Churn) -> Result<Stream> {
    let family = set.params.family;
    let mut raw = Vec::new();
    let group_of = set.group_of();
    encode_feeder0_runs(
        set,
        feeders,
        churn.reannounce.clone(),
        1,
        &group_of,
        &mut raw,
    )?;
    let withdrawn: Vec<IpNet> = set.prefixes[churn.withdraw.clone()]
        .iter()
        .map(|p| p.to_ipnet(family))
        .collect();
    encode_withdrawals(&withdrawn, &codec(), &mut raw)
        .map_err(|e| anyhow!("encoding withdrawals: {e}"))?;
    let mut rng = Rng::keyed(&[set.params.seed, 0x0063_6875_726e]);
    let (bytes, updates) = shuffle_messages(&raw, &mut rng);
    Ok(Stream { bytes, updates })
}

/// Feeder 0's initial paths for every prefix the churn touched: after the
/// churn stream and then this one, the DUT holds the initial table again.
fn build_restore(set: &RouteSet, feeders: usize, churn: &Churn) -> Result<Stream> {
    let mut raw = Vec::new();
    let group_of = set.group_of();
    for range in [churn.reannounce.clone(), churn.withdraw.clone()] {
        encode_feeder0_runs(set, feeders, range, 0, &group_of, &mut raw)?;
    }
    let mut rng = Rng::keyed(&[set.params.seed, 0x0072_6573_746f_7265]);
    let (bytes, updates) = shuffle_messages(&raw, &mut rng);
    Ok(Stream { bytes, updates })
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use clos_wire::{decode_message, Message, PathAttributes};

    use super::*;
    use crate::routes::{RouteParams, FEEDER_ASN};
    use crate::util::Family;

    /// Every UPDATE of a stream, decoded; the stream must be whole messages.
    fn updates(stream: &Stream) -> Vec<clos_wire::Update> {
        let mut out = Vec::new();
        let mut rest = &stream.bytes[..];
        while let Some(len) = clos_wire::frame(rest, &codec()).unwrap() {
            let msg = decode_message(&rest[..len], &codec()).unwrap();
            if let Message::Update(u) = msg.message {
                out.push(u);
            }
            rest = &rest[len..];
        }
        assert!(
            rest.is_empty(),
            "{} bytes after the last message",
            rest.len()
        );
        out
    }

    /// Per prefix: (NEXT_HOP, AS_PATH length, neighbour AS) of one stream.
    fn announced(stream: &Stream) -> HashMap<String, (Ipv4Addr, usize, u32)> {
        let mut out = HashMap::new();
        for u in updates(stream) {
            let a = &u.attributes;
            for n in &u.nlri {
                let path = a.as_path.as_ref().unwrap();
                let v = (
                    a.next_hop.unwrap(),
                    path.selection_length(),
                    path.first_asn().unwrap(),
                );
                out.insert(n.to_string(), v);
            }
        }
        out
    }

    /// Per announced prefix its attributes, and every withdrawn prefix.
    fn decoded(stream: &Stream) -> (HashMap<String, PathAttributes>, Vec<String>) {
        let (mut announced, mut withdrawn) = (HashMap::new(), Vec::new());
        for u in updates(stream) {
            withdrawn.extend(u.withdrawn.iter().map(ToString::to_string));
            for n in &u.nlri {
                announced.insert(n.to_string(), u.attributes.clone());
            }
        }
        (announced, withdrawn)
    }

    #[test]
    fn restore_reannounces_every_churned_prefix_with_its_initial_path() {
        let set = RouteSet::build(&RouteParams {
            family: Family::Ipv4,
            count: 400,
            seed: 7,
            per_set: 3.0,
            table: None,
        })
        .unwrap();
        let feeders = 3;
        let churn = Churn::new(set.prefixes.len(), 60);
        let (restored, withdrawn) = decoded(&build_restore(&set, feeders, &churn).unwrap());
        let (initial, _) = decoded(&build_initial(&set, 0, feeders, None).unwrap());
        assert!(withdrawn.is_empty());
        assert_eq!(restored.len(), 120);
        let group_of = set.group_of();
        for i in churn.reannounce.clone().chain(churn.withdraw.clone()) {
            let prefix = set.prefixes[i].to_ipnet(Family::Ipv4).to_string();
            let id = RouteId {
                generation: 0,
                group: group_of[i],
                feeder: 0,
            };
            let want = path_spec(7, id, feeders).attributes(Family::Ipv4);
            assert_eq!(restored[&prefix], want, "{prefix}");
            assert_eq!(restored[&prefix], initial[&prefix], "{prefix}");
        }
        // The churn changed exactly what the restore puts back.
        let (churned, gone) = decoded(&build_churn(&set, feeders, &churn).unwrap());
        assert_eq!(churned.len() + gone.len(), restored.len());
        assert!(churned.iter().all(|(p, a)| restored[p] != *a));
        assert!(gone.iter().all(|p| restored.contains_key(p)));
    }

    #[test]
    fn kernel_feeds_have_own_next_hop_and_equal_path_lengths() {
        let set = RouteSet::build(&RouteParams {
            family: Family::Ipv4,
            count: 300,
            seed: 3,
            per_set: 3.0,
            table: None,
        })
        .unwrap();
        let feeds: Vec<_> = (0..3u8)
            .map(|k| {
                let nh = Ipv4Addr::new(10, 99, 0, 2 + k);
                let s = build_initial(&set, usize::from(k), 1, Some(nh)).unwrap();
                (nh, announced(&s))
            })
            .collect();
        for (k, (nh, table)) in feeds.iter().enumerate() {
            assert_eq!(table.len(), 300);
            for (prefix, (hop, length, first)) in table {
                assert_eq!(hop, nh);
                assert_eq!(*first, FEEDER_ASN + k as u32);
                assert_eq!(*length, feeds[0].1[prefix].1, "{prefix} feeder {k}");
            }
        }
        // Ranked among 3 (the ingest shape), lengths differ per feeder.
        let ranked: Vec<_> = (0..3)
            .map(|k| announced(&build_initial(&set, k, 3, None).unwrap()))
            .collect();
        let differ = ranked[0]
            .iter()
            .filter(|(p, v)| ranked[1][*p].1 != v.1)
            .count();
        assert_eq!(differ, 300);
        assert_eq!(
            ranked[0].values().next().unwrap().0,
            crate::routes::NEXT_HOP_V4
        );
    }
}
