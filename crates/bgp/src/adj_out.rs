//! The hand-off between the RIB task and one session's writer: a map of
//! pending prefixes, not a queue of messages (DESIGN.md).
//!
//! The RIB task records, per prefix, the latest thing the peer should hear
//! (`Some(attributes)` = announce, `None` = withdraw) and wakes the writer
//! once. A prefix that changes ten times before the writer gets to it costs
//! one entry and is sent once, with its latest attributes. The writer takes
//! the whole map when the socket can take more, groups announcements by
//! attribute set (pointer identity of the interned `Arc`) and packs them into
//! as few UPDATEs as fit (`clos_wire::encode_announcements`).
//!
//! The pending routes are a `PrefixMap` (the Loc-RIB's layout): for IPv4
//! 5 bytes per table bucket plus 13 per prefix, against 33 per bucket for
//! an `FxHashMap<IpNet, _>` (18-byte `IpNet` + 8-byte value, padded). A slow
//! peer with 1M prefixes queued holds 23.7 MB instead of 69.2 MB
//! (`bench_pending_1m_v4`, and for the former map the same benchmark as of
//! commit 952cc0a).

use std::sync::{Arc, Mutex};

use clos_wire::{Family, IpNet, PathAttributes};
use rustc_hash::FxHashMap;
use tokio::sync::Notify;

use crate::loc_rib::PrefixMap;

/// Per prefix, the latest state the peer should hear: `Some` announces,
/// `None` withdraws.
pub type Routes = PrefixMap<Option<Arc<PathAttributes>>>;

/// What one peer is waiting to be told.
#[derive(Debug, Default)]
pub struct Pending {
    pub routes: Routes,
    /// End-of-RIB markers (RFC 4724 §2) to send once `routes` is drained.
    pub end_of_rib: Vec<Family>,
    /// Enhanced route refresh (RFC 7313 §4): the routes of these families
    /// are a refresh response, sent between a BoRR and an EoRR.
    pub refresh: Vec<Family>,
}

impl Pending {
    pub fn is_empty(&self) -> bool {
        self.routes.is_empty() && self.end_of_rib.is_empty() && self.refresh.is_empty()
    }
}

/// Shared between the RIB task (producer) and the session writer (consumer).
#[derive(Debug, Default)]
pub struct AdjRibOutQueue {
    pending: Mutex<Pending>,
    wake: Notify,
}

impl AdjRibOutQueue {
    pub fn new() -> Arc<AdjRibOutQueue> {
        Arc::new(AdjRibOutQueue::default())
    }

    /// Run `f` on the pending set, then wake the writer.
    pub fn with(&self, f: impl FnOnce(&mut Pending)) {
        match self.pending.lock() {
            Ok(mut p) => f(&mut p),
            Err(poisoned) => f(&mut poisoned.into_inner()),
        }
        self.wake.notify_one();
    }

    /// Take everything pending.
    pub fn take(&self) -> Pending {
        match self.pending.lock() {
            Ok(mut p) => std::mem::take(&mut *p),
            Err(poisoned) => std::mem::take(&mut *poisoned.into_inner()),
        }
    }

    /// Wait until `with` was called since the last `take`.
    pub async fn woken(&self) {
        self.wake.notified().await
    }
}

/// Group announcements by attribute set and split out withdrawals, per
/// family. The order across groups is arbitrary: sorting a full table would
/// cost more than it is worth.
pub struct Batch {
    pub withdrawn: Vec<(Family, Vec<IpNet>)>,
    pub announced: Vec<(Arc<PathAttributes>, Vec<IpNet>)>,
}

impl Batch {
    /// Takes `Pending::routes` (any map of prefix to latest state will do).
    pub fn from_routes(
        routes: impl IntoIterator<Item = (IpNet, Option<Arc<PathAttributes>>)>,
    ) -> Batch {
        let mut withdrawn: FxHashMap<Family, Vec<IpNet>> = FxHashMap::default();
        let mut groups: FxHashMap<usize, (Arc<PathAttributes>, Vec<IpNet>)> = FxHashMap::default();
        for (prefix, attrs) in routes {
            match attrs {
                None => withdrawn
                    .entry(Family::of(&prefix))
                    .or_default()
                    .push(prefix),
                Some(a) => {
                    // Pointer identity: the RIB interns attribute sets, so
                    // equal sets share one allocation. Group by family too,
                    // since the next hop encoding differs.
                    let key = Arc::as_ptr(&a) as usize ^ matches!(prefix, IpNet::V6(_)) as usize;
                    groups
                        .entry(key)
                        .or_insert_with(|| (a, Vec::new()))
                        .1
                        .push(prefix)
                }
            }
        }
        let mut withdrawn: Vec<(Family, Vec<IpNet>)> = withdrawn.into_iter().collect();
        withdrawn.sort_by_key(|(f, _)| *f);
        for (_, v) in withdrawn.iter_mut() {
            v.sort();
        }
        let mut announced: Vec<(Arc<PathAttributes>, Vec<IpNet>)> = groups.into_values().collect();
        for (_, v) in announced.iter_mut() {
            v.sort();
        }
        announced.sort_by(|a, b| a.1.first().cmp(&b.1.first()));
        Batch {
            withdrawn,
            announced,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::loc_rib::tests::{random_v4, rss_bytes, xorshift};

    fn p(s: &str) -> IpNet {
        s.parse().unwrap()
    }

    #[test]
    fn latest_state_per_prefix_wins() {
        let q = AdjRibOutQueue::new();
        let a = Arc::new(PathAttributes {
            med: Some(1),
            ..Default::default()
        });
        q.with(|pend| {
            pend.routes.insert(p("10.0.0.0/8"), Some(a.clone()));
        });
        q.with(|pend| {
            pend.routes.insert(p("10.0.0.0/8"), None);
        });
        let taken = q.take();
        assert_eq!(taken.routes.len(), 1);
        assert_eq!(taken.routes.get(&p("10.0.0.0/8")), Some(&None));
        assert!(q.take().is_empty());
    }

    #[test]
    fn batch_groups_by_attribute_set() {
        let a = Arc::new(PathAttributes {
            med: Some(1),
            ..Default::default()
        });
        let b = Arc::new(PathAttributes {
            med: Some(2),
            ..Default::default()
        });
        let mut routes = Routes::default();
        routes.insert(p("10.0.1.0/24"), Some(a.clone()));
        routes.insert(p("10.0.2.0/24"), Some(a.clone()));
        routes.insert(p("10.0.3.0/24"), Some(b.clone()));
        routes.insert(p("10.0.4.0/24"), None);
        routes.insert(p("2001:db8::/32"), None);
        let mut batch = Batch::from_routes(routes);
        assert_eq!(batch.announced.len(), 2);
        batch.announced.sort_by_key(|(_, v)| v.len());
        let (attrs, mut group) = batch.announced.pop().unwrap();
        group.sort();
        assert_eq!(group, vec![p("10.0.1.0/24"), p("10.0.2.0/24")]);
        assert!(Arc::ptr_eq(&attrs, &a));
        assert_eq!(batch.withdrawn.len(), 2);
        assert_eq!(batch.withdrawn[0].0, Family::Ipv4Unicast);
    }

    #[tokio::test]
    async fn with_wakes_a_waiting_writer() {
        let q = AdjRibOutQueue::new();
        let q2 = q.clone();
        let waiter = tokio::spawn(async move {
            q2.woken().await;
            q2.take().routes.len()
        });
        tokio::task::yield_now().await;
        q.with(|pend| {
            pend.routes.insert(p("10.0.0.0/8"), None);
        });
        assert_eq!(waiter.await.unwrap(), 1);
    }

    /// 1M random IPv4 prefixes /16–/24, a third withdrawn, the rest sharing
    /// 64 attribute sets.
    fn pending_1m_v4() -> (Vec<IpNet>, Vec<Option<Arc<PathAttributes>>>) {
        let sets: Vec<Arc<PathAttributes>> = (0..64)
            .map(|med| {
                Arc::new(PathAttributes {
                    med: Some(med),
                    ..Default::default()
                })
            })
            .collect();
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        let prefixes = random_v4(&mut seed, 1_000_000);
        let attrs = prefixes
            .iter()
            .map(|_| {
                let r = xorshift(&mut seed);
                match r % 3 {
                    0 => None,
                    _ => Some(sets[(r >> 56) as usize % 64].clone()),
                }
            })
            .collect();
        (prefixes, attrs)
    }

    /// Memory (by capacity, and RSS delta while filling) and time of the
    /// pending map with 1M IPv4 prefixes, then of `Batch::from_routes`:
    /// `cargo test --release -p clos-bgp --lib
    /// adj_out::tests::bench_pending_1m_v4 -- --ignored --nocapture --exact`.
    /// (The former `FxHashMap<IpNet, _>` was measured the same way by
    /// `bench_pending_1m_v4_hash_map` as of commit 952cc0a.)
    #[test]
    #[ignore]
    fn bench_pending_1m_v4() {
        let (prefixes, attrs) = pending_1m_v4();
        let before = rss_bytes();
        let t = std::time::Instant::now();
        let mut pending = Pending::default();
        for (p, a) in prefixes.iter().zip(&attrs) {
            pending.routes.insert(*p, a.clone());
        }
        let insert = t.elapsed();
        let rss = rss_bytes() - before;
        let heap = pending.routes.heap_bytes();
        let t = std::time::Instant::now();
        let batch = Batch::from_routes(std::mem::take(&mut pending.routes));
        let from_routes = t.elapsed();
        assert_eq!(
            batch.withdrawn.iter().map(|(_, v)| v.len()).sum::<usize>()
                + batch.announced.iter().map(|(_, v)| v.len()).sum::<usize>(),
            prefixes.len()
        );
        eprintln!(
            "PrefixMap: heap {:.1} MB, rss delta {:.1} MB, insert {insert:?}, \
             from_routes {from_routes:?}",
            heap as f64 / 1e6,
            rss as f64 / 1e6
        );
    }
}
