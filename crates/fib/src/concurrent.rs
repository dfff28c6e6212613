//! Incremental updates while other threads look up: a left-right pair of
//! tables published through `arc-swap`.
//!
//! Owns [`FibWriter`] (the single writer: the exact routes, and two
//! [`Table`]s) and [`FibReader`] (cheap, cloneable, `Send + Sync` handles).
//!
//! # Why left-right over RCU of immutable chunks
//! The lookup speed comes from one flat arena (chunks next to their
//! entries, 32-bit offsets, no pointer per chunk). Copy-on-write of that
//! layout would copy megabytes per update, and splitting it into `Arc`ed
//! pieces adds a dependent load to every lookup. Left-right keeps the flat
//! layout: the writer rebuilds only the touched subtrees, in place, on the
//! copy that no reader can see, then publishes it with one atomic pointer
//! swap. The other copy is brought up to date at the start of the next
//! batch, by replaying the same prefixes against the same routes (so both
//! copies stay identical). The price is twice the memory of one table.
//!
//! Guarantees:
//! - Readers never block and never wait: a lookup is `ArcSwap::load` (a
//!   few atomic operations) followed by plain loads.
//! - A reader sees a whole batch of changes or none of it: the copy it holds
//!   is never modified while it holds it ([`Arc::get_mut`] proves exclusive
//!   access before the writer touches a copy).
//! - The writer waits only while a reader still holds the previous copy; if
//!   that lasts (a reader descheduled mid-batch), it stops waiting and clones
//!   the published copy instead, so a stuck reader costs a copy, not a stall.

use std::sync::Arc;

use arc_swap::{ArcSwap, Guard};

use crate::prefix::{Address, Prefix, Route};
use crate::rib::Rib;
use crate::table::Table;
use crate::FibError;

/// One route change.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Change<A: Address> {
    /// Add a route or replace its next hop.
    Announce(Route<A>),
    /// Remove a route (no effect if absent).
    Withdraw(Prefix<A>),
}

/// How long the writer spins before it starts to yield.
const SPIN_TIME: std::time::Duration = std::time::Duration::from_micros(200);

/// How many times the writer yields waiting for readers to leave the spare
/// copy before it clones the published one instead.
const SPIN_LIMIT: usize = 64;

/// The single writer of a FIB. Create readers with [`FibWriter::reader`].
pub struct FibWriter<A: Address> {
    rib: Rib<A>,
    shared: Arc<ArcSwap<Table<A>>>,
    /// The copy readers do not see (once they have left it).
    spare: Arc<Table<A>>,
    /// Prefixes changed in the last published batch, not yet replayed on
    /// `spare`.
    spare_behind: Vec<Prefix<A>>,
    /// Times the writer cloned instead of waiting (diagnostics).
    clones: u64,
}

/// A lookup handle; clone one per thread (or share it: it is `Sync`).
#[derive(Clone)]
pub struct FibReader<A: Address> {
    shared: Arc<ArcSwap<Table<A>>>,
}

/// A consistent view of the FIB, held for a run of lookups. Holding it long
/// delays (never blocks) the writer; hold it for a batch, not forever.
pub type Snapshot<A> = Guard<Arc<Table<A>>>;

impl<A: Address> FibWriter<A> {
    /// Builds the FIB from routes (duplicates: last wins).
    pub fn new(routes: &[Route<A>]) -> Result<Self, FibError> {
        if let Some(r) = routes.iter().find(|r| r.nexthop > crate::MAX_NEXTHOP) {
            return Err(FibError::NextHopTooLarge(r.nexthop));
        }
        let rib = Rib::from_routes(routes);
        let table = Table::build_sorted(&rib.routes());
        Ok(FibWriter {
            rib,
            shared: Arc::new(ArcSwap::from_pointee(table.clone())),
            spare: Arc::new(table),
            spare_behind: Vec::new(),
            clones: 0,
        })
    }

    /// A new reader handle.
    pub fn reader(&self) -> FibReader<A> {
        FibReader {
            shared: Arc::clone(&self.shared),
        }
    }

    /// Number of routes.
    pub fn len(&self) -> usize {
        self.rib.len()
    }

    /// True if the FIB has no routes.
    pub fn is_empty(&self) -> bool {
        self.rib.len() == 0
    }

    /// The next hop of an exact prefix, if routed.
    pub fn get(&self, prefix: Prefix<A>) -> Option<u32> {
        self.rib.get(prefix)
    }

    /// All routes, sorted by (address, length).
    pub fn routes(&self) -> Vec<Route<A>> {
        self.rib.routes()
    }

    /// Times the writer cloned the table rather than wait for a reader.
    pub fn clone_fallbacks(&self) -> u64 {
        self.clones
    }

    /// Heap bytes of both table copies.
    pub fn memory_bytes(&self) -> usize {
        self.shared.load().memory_bytes() + self.spare.memory_bytes()
    }

    /// Adds or replaces one route and publishes it.
    pub fn insert(&mut self, route: Route<A>) -> Result<bool, FibError> {
        Ok(self.apply(&[Change::Announce(route)])? > 0)
    }

    /// Removes one route and publishes the removal.
    pub fn remove(&mut self, prefix: Prefix<A>) -> Result<bool, FibError> {
        Ok(self.apply(&[Change::Withdraw(prefix)])? > 0)
    }

    /// Applies a batch of changes and publishes them atomically: a reader
    /// sees all of them or none. Returns how many changed the table. On an
    /// error nothing is applied.
    pub fn apply(&mut self, changes: &[Change<A>]) -> Result<usize, FibError> {
        if let Some(Change::Announce(r)) = changes
            .iter()
            .find(|c| matches!(c, Change::Announce(r) if r.nexthop > crate::MAX_NEXTHOP))
        {
            return Err(FibError::NextHopTooLarge(r.nexthop));
        }
        let mut changed = Vec::with_capacity(changes.len());
        for c in changes {
            let (prefix, effective) = match *c {
                Change::Announce(r) => (r.prefix, self.rib.insert(r.prefix, r.nexthop)),
                Change::Withdraw(p) => (p, self.rib.remove(p)),
            };
            if effective {
                changed.push(prefix);
            }
        }
        if changed.is_empty() {
            return Ok(0);
        }
        changed.sort_unstable();
        changed.dedup();
        self.catch_up_spare();
        let spare = Arc::get_mut(&mut self.spare).expect("catch_up_spare made it exclusive");
        for &p in &changed {
            spare.refresh(&self.rib, p);
        }
        if spare.fragmented() {
            *spare = Table::build_sorted(&self.rib.routes());
        }
        let published = Arc::clone(&self.spare);
        self.spare = self.shared.swap(published);
        self.spare_behind = changed;
        Ok(self.spare_behind.len())
    }

    /// Waits until no reader holds the spare copy, then replays the
    /// previous batch on it.
    fn catch_up_spare(&mut self) {
        let mut spins = 0;
        let started = std::time::Instant::now();
        while Arc::get_mut(&mut self.spare).is_none() {
            // Readers hold a snapshot for one batch (microseconds): spin on
            // the core first; yielding hands the core to other processes
            // for a whole time slice.
            if started.elapsed() < SPIN_TIME {
                std::hint::spin_loop();
                continue;
            }
            if spins == SPIN_LIMIT {
                // A reader is slow to let go: start from a private clone of
                // the published copy, which already has every change.
                self.spare = Arc::new(Table::clone(&self.shared.load()));
                self.spare_behind.clear();
                self.clones += 1;
                break;
            }
            spins += 1;
            std::thread::yield_now();
        }
        let spare = Arc::get_mut(&mut self.spare).expect("no reader holds the spare copy");
        for p in self.spare_behind.drain(..) {
            spare.refresh(&self.rib, p);
        }
        if spare.fragmented() {
            *spare = Table::build_sorted(&self.rib.routes());
        }
    }
}

impl<A: Address> FibReader<A> {
    /// A consistent view for a run of lookups.
    #[inline]
    pub fn snapshot(&self) -> Snapshot<A> {
        self.shared.load()
    }

    /// One lookup against the current table.
    pub fn lookup(&self, addr: A) -> Option<u32> {
        self.shared.load().lookup(addr)
    }

    /// A batch of lookups against one consistent table (see
    /// [`Table::lookup_batch`]).
    pub fn lookup_batch(&self, addrs: &[A], out: &mut [u32]) {
        self.shared.load().lookup_batch(addrs, out)
    }
}
