//! Pre-encoded UPDATE streams: built once with `clos-wire`, cached on disk,
//! written by feeders with large writes.
//!
//! Owns: the byte stream of each feeder (initial table, then the churn
//! stream of feeder 0) and its on-disk cache, keyed by every parameter
//! that changes its bytes. Owns no sockets.
//!
//! A stream is whole BGP messages back to back: one attribute set's
//! prefixes packed into as few UPDATEs of at most 4096 bytes as
//! `clos_wire::encode_announcements` makes, the UPDATE order shuffled (so
//! neighbouring prefixes do not arrive together), then End-of-RIB (initial
//! stream only).

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
    };
    let path: PathBuf = cache.join(name);
    if let Ok(bytes) = std::fs::read(&path) {
        let updates = count_messages(&bytes);
        return Ok(Stream { bytes, updates });
    }
    let t = Instant::now();
    let stream = match kind {
        StreamKind::Initial => build_initial(set, feeder, feeders)?,
        StreamKind::Churn => build_churn(set, feeders, churn)?,
    };
    std::fs::create_dir_all(cache).with_context(|| format!("creating {}", cache.display()))?;
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    std::fs::write(&tmp, &stream.bytes).with_context(|| format!("writing {}", tmp.display()))?;
    std::fs::rename(&tmp, &path).with_context(|| format!("renaming to {}", path.display()))?;
    eprintln!(
        "prepared {} ({} bytes, {} UPDATEs) in {:.2}s",
        path.display(),
        stream.bytes.len(),
        stream.updates,
        t.elapsed().as_secs_f64()
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

fn build_initial(set: &RouteSet, feeder: usize, feeders: usize) -> Result<Stream> {
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
        encode_announcements(&spec.attributes(family), &nets, &codec, &mut raw)
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

fn build_churn(set: &RouteSet, feeders: usize, churn: &Churn) -> Result<Stream> {
    let family = set.params.family;
    let codec = codec();
    let mut raw = Vec::new();
    let group_of = set.group_of();
    // Re-announcements: runs of the same group inside the churn range keep
    // their (new) shared attributes.
    let mut i = churn.reannounce.start;
    let mut nets: Vec<IpNet> = Vec::new();
    while i < churn.reannounce.end {
        let g = group_of[i];
        let mut j = i;
        while j < churn.reannounce.end && group_of[j] == g {
            j += 1;
        }
        let spec = path_spec(
            set.params.seed,
            RouteId {
                generation: 1,
                group: g,
                feeder: 0,
            },
            feeders,
        );
        nets.clear();
        nets.extend(set.prefixes[i..j].iter().map(|p| p.to_ipnet(family)));
        encode_announcements(&spec.attributes(family), &nets, &codec, &mut raw)
            .map_err(|e| anyhow!("encoding churn group {g}: {e}"))?;
        i = j;
    }
    let withdrawn: Vec<IpNet> = set.prefixes[churn.withdraw.clone()]
        .iter()
        .map(|p| p.to_ipnet(family))
        .collect();
    encode_withdrawals(&withdrawn, &codec, &mut raw)
        .map_err(|e| anyhow!("encoding withdrawals: {e}"))?;
    let mut rng = Rng::keyed(&[set.params.seed, 0x0063_6875_726e]);
    let (bytes, updates) = shuffle_messages(&raw, &mut rng);
    Ok(Stream { bytes, updates })
}
