//! A monitor's table and the check against what it must hold.
//!
//! Owns: the expected state of a run ([`Target`]: per phase, the path
//! every prefix must have at the monitors, after the DUT's documented
//! normalisation), and each monitor's [`Table`]: prefix → (expected path
//! id, current path id), and which phase it expects. Owns no sockets.
//!
//! Phases: 0 is the initial table; with churn planned, the target holds
//! two more (the churn's changes, and the restore that undoes them), and a
//! run's phases 1, 2, 3, 4, … cycle through them: churn, restore, churn,
//! restore (`soak`). A table moves to the next phase only once its current
//! one was complete and the run has opened the next (the `wanted` phase,
//! set by the run before it sends that phase's stream).
//!
//! Path ids: every distinct expected [`PathSpec`] has an id; a received
//! attribute block is decoded once (cached by its bytes) and mapped to the
//! id of the equal expected spec, or to a fresh "unexpected" id. A prefix
//! matches when its current id equals its expected id, so "the monitor
//! holds exactly the expected set" is a counter check (`matching ==
//! slots && no extra prefixes`), kept up to date on every change: the
//! moment of completion is known without scanning the table.

use std::sync::Arc;

use clos_wire::SessionCodec;

use crate::parse::{
    decode_with_wire, fingerprint_spec, for_each_prefix, split_update, summarize, Fingerprinter,
};
use crate::prefix_table::PrefixTable;
use crate::routes::{path_spec, Expectation, PathSpec, RouteId, RouteSet};
use crate::util::{Family, FastMap, Prefix};

/// "No route": the prefix is absent (expected) or not held (current).
pub const NONE: u32 = u32::MAX;
/// Ids of received specs that match no expected one.
const UNEXPECTED: u32 = 1 << 31;

/// Which decoder monitors use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Decoder {
    /// Hand-rolled: frame, split, walk NLRI, decode attributes once per
    /// distinct attribute block.
    Light,
    /// `clos_wire::decode_message` for every UPDATE (for comparison).
    Wire,
}

/// What every monitor of a run must end each phase with.
pub struct Target {
    pub family: Family,
    pub specs: Vec<PathSpec>,
    /// Spec id by spec, and by fingerprint (`parse::fingerprint_spec`).
    pub by_spec: FastMap<PathSpec, u32>,
    pub by_fingerprint: FastMap<u64, u32>,
    /// Phase 0: every prefix and its spec id; later phases: changes only
    /// (`NONE` = must be absent). A run's phase p uses `phases[index(p)]`.
    pub phases: Vec<Vec<(Prefix, u32)>>,
}

impl Target {
    fn intern(&mut self, spec: PathSpec) -> u32 {
        if let Some(&id) = self.by_spec.get(&spec) {
            return id;
        }
        let id = self.specs.len() as u32;
        self.by_fingerprint.insert(fingerprint_spec(&spec), id);
        self.by_spec.insert(spec.clone(), id);
        self.specs.push(spec);
        id
    }

    /// Monitors behind a DUT: best paths with the DUT's AS prepended; MED
    /// kept only if the DUT passes it on (`keeps_med`).
    pub fn behind_dut(
        set: &RouteSet,
        expectation: &Expectation,
        feeders: usize,
        keeps_med: bool,
    ) -> Target {
        let mut t = Target {
            family: set.params.family,
            specs: Vec::new(),
            by_spec: FastMap::default(),
            by_fingerprint: FastMap::default(),
            phases: Vec::new(),
        };
        let route_spec: Vec<u32> = expectation
            .routes
            .iter()
            .map(|&id| t.intern(path_spec(set.params.seed, id, feeders).via_dut(keeps_med)))
            .collect();
        let phase0 = set
            .prefixes
            .iter()
            .zip(&expectation.initial)
            .map(|(&p, &r)| (p, route_spec[r as usize]))
            .collect();
        t.phases.push(phase0);
        let delta = |changes: &[(u32, u32)]| -> Vec<(Prefix, u32)> {
            changes
                .iter()
                .map(|&(i, r)| {
                    let id = if r == NONE {
                        NONE
                    } else {
                        route_spec[r as usize]
                    };
                    (set.prefixes[i as usize], id)
                })
                .collect()
        };
        if !expectation.churn.is_empty() {
            t.phases.push(delta(&expectation.churn));
            t.phases.push(delta(&expectation.restore));
        }
        t
    }

    /// Which of `phases` a run's phase uses: 0 for phase 0, then the
    /// deltas in turn (churn, restore, churn, …).
    pub fn index(&self, phase: usize) -> usize {
        if phase == 0 {
            0
        } else {
            1 + (phase - 1) % (self.phases.len() - 1)
        }
    }

    /// A sink paired with feeder `k`: that feeder's own paths, verbatim.
    pub fn feeder_direct(set: &RouteSet, feeder: usize, feeders: usize) -> Target {
        let mut t = Target {
            family: set.params.family,
            specs: Vec::new(),
            by_spec: FastMap::default(),
            by_fingerprint: FastMap::default(),
            phases: Vec::new(),
        };
        let mut phase0 = Vec::with_capacity(set.prefixes.len());
        for g in 0..set.groups() {
            let id = RouteId {
                generation: 0,
                group: g as u32,
                feeder: feeder as u16,
            };
            let sid = t.intern(path_spec(set.params.seed, id, feeders));
            phase0.extend(set.prefixes[set.group(g)].iter().map(|&p| (p, sid)));
        }
        t.phases.push(phase0);
        t
    }

    fn describe(&self, id: u32, unexpected: &[PathSpec]) -> String {
        if id == NONE {
            "absent".to_string()
        } else if id & UNEXPECTED != 0 {
            unexpected
                .get((id & !UNEXPECTED) as usize)
                .map_or_else(|| "?".into(), PathSpec::describe)
        } else {
            self.specs
                .get(id as usize)
                .map_or_else(|| "?".into(), PathSpec::describe)
        }
    }
}

/// One monitor's view of the DUT's Adj-RIB-Out towards it.
pub struct Table {
    target: Arc<Target>,
    decoder: Decoder,
    slots: PrefixTable,
    /// Prefixes held that no phase mentions.
    extra: FastMap<Prefix, u32>,
    /// Changes decoded but not yet applied (see [`Table::flush`]).
    batch: Vec<(Prefix, u32)>,
    fingerprinter: Fingerprinter,
    /// Unexpected specs already seen, by fingerprint.
    unexpected_ids: FastMap<u64, u32>,
    unexpected: Vec<PathSpec>,
    /// The phase being waited for (counts up; see [`Target::index`]).
    pub phase: usize,
    /// The last phase [`Table::completed_phase`] returned.
    reported: Option<usize>,
    /// Prefix announcements and withdrawals processed.
    pub prefix_events: u64,
    pub updates: u64,
}

impl Table {
    pub fn new(target: Arc<Target>, decoder: Decoder) -> Table {
        // Keys: every prefix any phase mentions, so later phases only
        // change expected ids.
        let slots = PrefixTable::new(&target.phases[0], NONE);
        Table {
            target,
            decoder,
            slots,
            extra: FastMap::default(),
            batch: Vec::with_capacity(1 << 16),
            fingerprinter: Fingerprinter::default(),
            unexpected_ids: FastMap::default(),
            unexpected: Vec::new(),
            phase: 0,
            reported: None,
            prefix_events: 0,
            updates: 0,
        }
    }

    /// Holds exactly what the current phase expects (after [`Table::flush`]).
    pub fn complete(&self) -> bool {
        self.batch.is_empty() && self.slots.all_match() && self.extra.is_empty()
    }

    /// The next phase found complete and not returned before, if any (call
    /// until `None`, after [`Table::flush`]). A phase returned is left for
    /// the next one while the run wants a later phase than the current.
    pub fn completed_phase(&mut self, wanted: usize) -> Option<usize> {
        loop {
            if self.reported != Some(self.phase) {
                if !self.complete() {
                    return None;
                }
                self.reported = Some(self.phase);
                return Some(self.phase);
            }
            if self.phase >= wanted {
                return None;
            }
            self.advance();
        }
    }

    /// Switch the expectation to the next phase. Current ids stay: changes
    /// of that phase that arrived early count at once.
    fn advance(&mut self) {
        self.flush();
        self.phase += 1;
        let target = self.target.clone();
        for &(p, id) in &target.phases[target.index(self.phase)] {
            if !self.slots.set_expected(p, id) {
                let current = self.extra.remove(&p).unwrap_or(NONE);
                self.slots.insert(p, id, current);
            }
        }
    }

    /// Apply the decoded changes, in order.
    pub fn flush(&mut self) {
        self.prefix_events += self.batch.len() as u64;
        let extra = &mut self.extra;
        self.slots.apply_batch(&self.batch, |p, id| {
            if id == NONE {
                extra.remove(&p);
            } else {
                extra.insert(p, id);
            }
        });
        self.batch.clear();
    }

    #[inline]
    fn set(&mut self, p: Prefix, id: u32) {
        self.batch.push((p, id));
    }

    fn spec_id(&mut self, spec: PathSpec) -> u32 {
        match self.target.by_spec.get(&spec) {
            Some(&id) => id,
            None => {
                self.unexpected.push(spec);
                UNEXPECTED | (self.unexpected.len() - 1) as u32
            }
        }
    }

    /// Apply one UPDATE (whole message, header included).
    pub fn apply(&mut self, msg: &[u8], codec: &SessionCodec) -> Result<(), String> {
        self.updates += 1;
        match self.decoder {
            Decoder::Light => self.apply_light(msg),
            Decoder::Wire => self.apply_wire(msg, codec),
        }
    }

    fn apply_light(&mut self, msg: &[u8]) -> Result<(), String> {
        let f = split_update(&msg[clos_wire::HEADER_LEN..])?;
        let mut withdrawn = Vec::new();
        for_each_prefix(f.withdrawn, Family::Ipv4, |p| withdrawn.push(p))?;
        if let Some((afi, _, field)) = f.mp_unreach {
            for_each_prefix(field, afi_family(afi)?, |p| withdrawn.push(p))?;
        }
        for p in withdrawn {
            self.set(p, NONE);
        }
        let announces = !f.nlri.is_empty() || f.mp_reach.is_some_and(|r| !r.2.is_empty());
        if !announces {
            return Ok(());
        }
        let fp = self.fingerprinter.of_attributes(f.attributes)?;
        let id = match self.target.by_fingerprint.get(&fp) {
            Some(&id) => id,
            None => match self.unexpected_ids.get(&fp) {
                Some(&id) => id,
                None => {
                    let id = self.spec_id(summarize(f.attributes)?);
                    self.unexpected_ids.insert(fp, id);
                    id
                }
            },
        };
        // Walk the prefix fields in place; `set` needs &mut self, so the
        // fields are re-borrowed from `msg`, not from self.
        let mut err = None;
        let mut walk = |field: &[u8], family: Family, table: &mut Table| {
            if let Err(e) = for_each_prefix(field, family, |p| table.set(p, id)) {
                err = Some(e);
            }
        };
        walk(f.nlri, Family::Ipv4, self);
        if let Some((afi, _, field)) = f.mp_reach {
            walk(field, afi_family(afi)?, self);
        }
        err.map_or(Ok(()), Err)
    }

    fn apply_wire(&mut self, msg: &[u8], codec: &SessionCodec) -> Result<(), String> {
        let Some(u) = decode_with_wire(msg, codec)? else {
            return Ok(());
        };
        for p in u.withdrawn {
            self.set(p, NONE);
        }
        if let Some(spec) = u.spec {
            let id = self.spec_id(spec);
            for p in u.announced {
                self.set(p, id);
            }
        }
        Ok(())
    }

    /// How many prefixes differ from the expectation, and the first
    /// `limit` of them described.
    pub fn mismatches(&self, limit: usize) -> (usize, Vec<String>) {
        let family = self.target.family;
        let mut count = 0;
        let mut first = Vec::new();
        let mut bad: Vec<(Prefix, u32, u32)> = self.slots.mismatching().collect();
        bad.extend(self.extra.iter().map(|(p, &id)| (*p, NONE, id)));
        bad.sort_unstable_by_key(|b| b.0);
        for (p, want, got) in bad {
            count += 1;
            if first.len() < limit {
                first.push(format!(
                    "{}: expected {}; got {}",
                    p.display(family),
                    self.target.describe(want, &[]),
                    self.target.describe(got, &self.unexpected)
                ));
            }
        }
        (count, first)
    }
}

fn afi_family(afi: u16) -> Result<Family, String> {
    match afi {
        clos_wire::AFI_IPV4 => Ok(Family::Ipv4),
        clos_wire::AFI_IPV6 => Ok(Family::Ipv6),
        _ => Err(format!("MP attribute of AFI {afi}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::routes::{Churn, RouteParams};
    use crate::stream::codec;

    fn set_and_expectation() -> (RouteSet, Expectation) {
        let set = RouteSet::build(&RouteParams {
            family: Family::Ipv4,
            count: 300,
            seed: 5,
            per_set: 3.0,
            table: None,
        })
        .unwrap();
        let churn = Churn::new(set.prefixes.len(), 50);
        let exp = Expectation::build(&set, 2, Some(&churn));
        (set, exp)
    }

    /// Feed `table` what the DUT would send for `changes` (prefix index,
    /// route index or `NONE`).
    fn dut_sends(table: &mut Table, set: &RouteSet, exp: &Expectation, changes: &[(u32, u32)]) {
        for &(i, r) in changes {
            let net = set.prefixes[i as usize].to_ipnet(Family::Ipv4);
            let mut out = Vec::new();
            if r == NONE {
                clos_wire::encode_withdrawals(&[net], &codec(), &mut out).unwrap();
            } else {
                let spec = path_spec(5, exp.routes[r as usize], 2).via_dut(false);
                clos_wire::encode_announcements(
                    &spec.attributes(Family::Ipv4),
                    &[net],
                    &codec(),
                    &mut out,
                )
                .unwrap();
            }
            table.apply(&out, &codec()).unwrap();
        }
        table.flush();
    }

    fn initial(exp: &Expectation) -> Vec<(u32, u32)> {
        (0..).zip(exp.initial.iter().copied()).collect()
    }

    /// Encode what the DUT would send and check the table converges.
    #[test]
    fn table_reaches_complete_and_detects_mismatch() {
        let (set, exp) = set_and_expectation();
        for decoder in [Decoder::Light, Decoder::Wire] {
            let target = Arc::new(Target::behind_dut(&set, &exp, 2, false));
            let mut table = Table::new(target.clone(), decoder);
            assert!(!table.complete());
            dut_sends(&mut table, &set, &exp, &initial(&exp));
            assert!(table.complete(), "{:?}", table.mismatches(3));
            assert_eq!(table.completed_phase(1), Some(0));
            assert_eq!(table.completed_phase(1), None);
            assert_eq!(table.phase, 1);
            assert!(!table.complete());
            let (n, _) = table.mismatches(0);
            assert!(n > 0 && n <= 100);
        }
    }

    #[test]
    fn phases_cycle_through_churn_and_restore() {
        let (set, exp) = set_and_expectation();
        let target = Target::behind_dut(&set, &exp, 2, false);
        assert_eq!(target.phases.len(), 3);
        let cycle: Vec<usize> = (0..7).map(|p| target.index(p)).collect();
        assert_eq!(cycle, [0, 1, 2, 1, 2, 1, 2]);
    }

    /// A table leaves a phase only once it was complete and the run wants
    /// a later one; changes that arrive early count after the move.
    #[test]
    fn table_advances_only_through_the_gate() {
        let (set, exp) = set_and_expectation();
        let target = Arc::new(Target::behind_dut(&set, &exp, 2, false));
        let mut table = Table::new(target, Decoder::Light);
        // Wanted ahead, but phase 0 is not complete: no move.
        assert_eq!(table.completed_phase(2), None);
        assert_eq!(table.phase, 0);
        dut_sends(&mut table, &set, &exp, &initial(&exp));
        assert_eq!(table.completed_phase(0), Some(0));
        assert_eq!(table.completed_phase(0), None);
        assert_eq!(table.phase, 0);
        // The churn arrives before the run opens phase 1.
        dut_sends(&mut table, &set, &exp, &exp.churn);
        assert_eq!(table.completed_phase(0), None);
        assert_eq!(table.completed_phase(1), Some(1));
        assert_eq!(table.completed_phase(1), None);
        for phase in [2, 4] {
            assert_eq!(table.completed_phase(phase), None, "phase {phase}");
            assert_eq!(table.phase, phase);
            dut_sends(&mut table, &set, &exp, &exp.restore);
            assert_eq!(table.completed_phase(phase), Some(phase));
            if phase == 2 {
                assert_eq!(table.completed_phase(3), None);
                dut_sends(&mut table, &set, &exp, &exp.churn);
                assert_eq!(table.completed_phase(3), Some(3));
            }
        }
        assert_eq!(table.phase, 4);
        assert_eq!(table.completed_phase(4), None);
        assert!(table.complete());
    }
}
