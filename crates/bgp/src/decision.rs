//! Best-path selection: phase 2 of the BGP decision process (RFC 4271 §9.1.2).
//!
//! Owns: the order of preference between paths to one prefix, the choice of
//! the best path, why each other path lost, and which paths may share
//! forwarding with the best (multipath). Pure logic over borrowed attributes:
//! no RIB, no I/O, no allocation on the common one- and two-path cases.
//!
//! Does not own: the Loc-RIB, next-hop resolution or AS-loop detection. RFC
//! 4271 §9.1.2 excludes unresolvable and looped routes *before* tie-breaking,
//! so the caller must not offer them as [`Candidate`]s. Nor phase 1 policy
//! (§9.1.1): the degree of preference is LOCAL_PREF as import policy left it.
//!
//! # RFC 4271 §9.1.2.2, "Breaking Ties (Phase 2)"
//!
//! When several routes to one destination share the highest degree of
//! preference, the speaker removes routes from consideration, rule by rule,
//! until one is left:
//!
//! a) every route not tied for the fewest AS numbers in its AS_PATH, an
//!    AS_SET counting as one however many members it has;
//! b) every route not tied for the lowest ORIGIN;
//! c) every route with a less preferred MULTI_EXIT_DISC. MED is comparable
//!    only between routes learned from the same neighbouring AS (the first AS
//!    of the AS_PATH), so a route is removed only if another route *from its
//!    own neighbour AS* has a lower MED. A route without MED is treated as
//!    having the lowest possible value, zero;
//! d) if at least one remaining route was learned over eBGP, every route
//!    learned over iBGP;
//! e) every route with a higher interior cost to its NEXT_HOP; skipped when
//!    the cost cannot be determined;
//! f) every route but the one from the speaker with the lowest BGP
//!    Identifier;
//! g) every route but the one from the lowest peer address.
//!
//! RFC 4456 §9 (route reflection) amends f): a route carrying ORIGINATOR_ID
//! uses it in place of the advertising speaker's BGP Identifier; and inserts
//! a rule between f) and g): prefer the shorter CLUSTER_LIST, a route
//! without one having length zero.
//!
//! # The steps as clos applies them
//!
//! Each step is a [`Reason`]; a path that loses at a step loses *because of*
//! it, and the CLI shows [`Reason::describe`].
//!
//! | # | [`Reason`]                      | prefer                  | source          |
//! |---|---------------------------------|-------------------------|-----------------|
//! | 0 | [`Reason::LocallyOriginated`]   | originated here         | common practice |
//! | 1 | [`Reason::LocalPref`]           | highest LOCAL_PREF      | §9.1.1          |
//! | 2 | [`Reason::AsPathLength`]        | shortest AS_PATH        | §9.1.2.2 a)     |
//! | 3 | [`Reason::Origin`]              | lowest ORIGIN           | §9.1.2.2 b)     |
//! | 4 | [`Reason::Med`]                 | lowest MED, same AS     | §9.1.2.2 c)     |
//! | 5 | [`Reason::EbgpOverIbgp`]        | eBGP-learned            | §9.1.2.2 d)     |
//! | 6 | —                               | lowest IGP cost         | §9.1.2.2 e)     |
//! | 7 | [`Reason::RouterId`]            | lowest ORIGINATOR_ID or BGP Identifier | §9.1.2.2 f), RFC 4456 §9 |
//! | 8 | [`Reason::ClusterListLength`]   | shortest CLUSTER_LIST   | RFC 4456 §9     |
//! | 9 | [`Reason::PeerAddress`]         | lowest peer address     | §9.1.2.2 g)     |
//!
//! Step 6 is skipped: clos runs no IGP, so the cost to a next hop cannot be
//! determined, which is exactly the case in which the RFC says to skip it.
//!
//! # MED is not transitive
//!
//! Because MED is compared only within a neighbour AS, the pairwise
//! [`compare`] is not a total order: A can beat B on MED, B beat C on router
//! ID and C beat A on router ID. Picking the best by pairwise comparison
//! would then depend on the order paths arrived in. [`select_best`]
//! therefore does not sort with [`compare`]; it applies the RFC's
//! elimination rules to the whole set, so that at step 4 each path is
//! measured only against the others from its own neighbour AS, and the
//! result depends on the set of paths, never on their order. For two paths
//! the two agree.

use std::cmp::Ordering;
use std::fmt;
use std::net::{IpAddr, Ipv4Addr};

use clos_wire::{AsPath, Asn, Origin, PathAttributes};

/// LOCAL_PREF assumed when a path has none (the customary default: RFC 4271
/// leaves it to configuration, and every major implementation uses 100).
pub const DEFAULT_LOCAL_PREF: u32 = 100;

/// Where a path came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PathSource {
    /// Originated by this router (configuration, redistribution).
    Local,
    /// Learned from a peer in another AS.
    Ebgp,
    /// Learned from a peer in our own AS.
    Ibgp,
}

/// What the decision process needs to know about one path.
#[derive(Debug, Clone, Copy)]
pub struct Candidate<'a> {
    pub attributes: &'a PathAttributes,
    pub source: PathSource,
    /// BGP Identifier of the peer the path came from (Ipv4Addr::UNSPECIFIED for Local).
    pub peer_router_id: Ipv4Addr,
    /// Transport address of the peer (None for Local).
    pub peer_address: Option<IpAddr>,
    /// The peer's AS (our own for Local/iBGP).
    pub peer_asn: Asn,
}

/// The step of the decision process at which one path lost to another,
/// named after the rule that decided it (see the module documentation).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    /// Step 0: the other path was originated by this router.
    LocallyOriginated,
    /// Step 1: lower LOCAL_PREF.
    LocalPref,
    /// Step 2 (RFC 4271 §9.1.2.2 a): longer AS_PATH.
    AsPathLength,
    /// Step 3 (§9.1.2.2 b): higher ORIGIN.
    Origin,
    /// Step 4 (§9.1.2.2 c): higher MED than a path from the same neighbour AS.
    Med,
    /// Step 5 (§9.1.2.2 d): learned over iBGP while an eBGP path exists.
    EbgpOverIbgp,
    /// Step 7 (§9.1.2.2 f, RFC 4456 §9): higher ORIGINATOR_ID or BGP Identifier.
    RouterId,
    /// Step 8 (RFC 4456 §9): longer CLUSTER_LIST.
    ClusterListLength,
    /// Step 9 (§9.1.2.2 g): higher peer address.
    PeerAddress,
    /// No step tells the paths apart.
    Equal,
}

impl Reason {
    /// Why the losing path lost, for the CLI: "lower local preference", ...
    pub fn describe(&self) -> &'static str {
        match self {
            Reason::LocallyOriginated => "not locally originated",
            Reason::LocalPref => "lower local preference",
            Reason::AsPathLength => "longer AS path",
            Reason::Origin => "higher origin",
            Reason::Med => "higher MED from the same neighbour AS",
            Reason::EbgpOverIbgp => "learned over iBGP, eBGP preferred",
            Reason::RouterId => "higher router ID",
            Reason::ClusterListLength => "longer cluster list",
            Reason::PeerAddress => "higher peer address",
            Reason::Equal => "equal to the best path",
        }
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.describe())
    }
}

/// Knobs that change the decision process.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct DecisionOptions {
    /// Compare MED between paths from different neighbour ASes too
    /// (`bgp always-compare-med`). Makes the MED step transitive.
    pub always_compare_med: bool,
    /// Let paths from different neighbour ASes with equal AS path lengths
    /// share an ECMP set (`bgp bestpath as-path multipath-relax`).
    pub multipath_relax: bool,
}

/// The steps in the order they are applied. Step 6 (IGP cost) has no entry:
/// see the module documentation.
const STEPS: [Reason; 9] = [
    Reason::LocallyOriginated,
    Reason::LocalPref,
    Reason::AsPathLength,
    Reason::Origin,
    Reason::Med,
    Reason::EbgpOverIbgp,
    Reason::RouterId,
    Reason::ClusterListLength,
    Reason::PeerAddress,
];

/// Compare two paths to the same prefix; Ordering::Less means `a` is BETTER
/// (sorts first). Reason names the deciding step.
///
/// This is the pairwise view (for display and for two paths). Because MED is
/// compared only within a neighbour AS it is not transitive; to choose among
/// more paths use [`select_best`].
pub fn compare(a: &Candidate<'_>, b: &Candidate<'_>, opts: &DecisionOptions) -> (Ordering, Reason) {
    STEPS
        .iter()
        .map(|&step| (compare_at(step, a, b, opts), step))
        .find(|(ordering, _)| ordering.is_ne())
        .unwrap_or((Ordering::Equal, Reason::Equal))
}

/// Index of the best candidate, `None` when there are none. The result
/// depends only on the set of candidates, not on their order, except among
/// candidates no step tells apart, where the first wins.
pub fn select_best(candidates: &[Candidate<'_>], opts: &DecisionOptions) -> Option<usize> {
    eliminate(candidates, opts, |_, _| {})
}

/// The outcome of [`select`]: the best path and why each other path lost.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Selection {
    /// Index of the best candidate.
    pub best: usize,
    /// For each candidate, the step at which it was removed from
    /// consideration; `None` for the best. A path removed at step 4 lost to
    /// a path from its own neighbour AS, which need not be the best.
    pub lost: Vec<Option<Reason>>,
}

/// [`select_best`] with the reason each other candidate lost, for
/// `closctl bgp routes` and friends. Chooses the same best path.
pub fn select(candidates: &[Candidate<'_>], opts: &DecisionOptions) -> Option<Selection> {
    let mut lost = vec![None; candidates.len()];
    let best = eliminate(candidates, opts, |index, reason| lost[index] = Some(reason))?;
    Some(Selection { best, lost })
}

/// Whether `b` may join `best` in an ECMP set.
///
/// RFC 4271 leaves multipath to implementations; this follows FRR and
/// Cisco: the paths must be equal through step 5 (LOCAL_PREF, AS path
/// length, ORIGIN, MED where comparable, and the same kind of session:
/// both eBGP or both iBGP), and come from the same neighbour AS unless
/// [`DecisionOptions::multipath_relax`]. Locally originated paths never
/// share: they have no next hop to balance over. Note that FRR, for iBGP
/// without relax, requires identical AS paths rather than the same
/// neighbour AS; clos uses the neighbour AS for both.
pub fn multipath_eligible(best: &Candidate<'_>, b: &Candidate<'_>, opts: &DecisionOptions) -> bool {
    if best.source == PathSource::Local || b.source != best.source {
        return false;
    }
    let equal_through_med = [
        Reason::LocalPref,
        Reason::AsPathLength,
        Reason::Origin,
        Reason::Med,
    ]
    .iter()
    .all(|&step| compare_at(step, best, b, opts).is_eq());
    equal_through_med && (opts.multipath_relax || neighbour_as(best) == neighbour_as(b))
}

/// One step of the decision process; `Less` means `a` is better at it.
fn compare_at(
    step: Reason,
    a: &Candidate<'_>,
    b: &Candidate<'_>,
    opts: &DecisionOptions,
) -> Ordering {
    match step {
        // 0. A path this router originates beats any learned one, as
        //    "weight" or a static route does in FRR: what we were told to
        //    announce is what we use.
        Reason::LocallyOriginated => is_local(b).cmp(&is_local(a)),
        // 1. Degree of preference (§9.1.1): highest LOCAL_PREF.
        Reason::LocalPref => local_pref(b).cmp(&local_pref(a)),
        // 2. a) Fewest ASes in AS_PATH.
        Reason::AsPathLength => as_path_length(a).cmp(&as_path_length(b)),
        // 3. b) Lowest ORIGIN: IGP < EGP < INCOMPLETE.
        Reason::Origin => origin(a).cmp(&origin(b)),
        // 4. c) Lowest MED, only between paths from the same neighbour AS.
        Reason::Med => {
            if opts.always_compare_med || neighbour_as(a) == neighbour_as(b) {
                med(a).cmp(&med(b))
            } else {
                Ordering::Equal
            }
        }
        // 5. d) eBGP over iBGP.
        Reason::EbgpOverIbgp => is_ebgp(b).cmp(&is_ebgp(a)),
        // 6. e) IGP cost to the next hop: skipped, no IGP (cost unknown).
        // 7. f) Lowest BGP Identifier, ORIGINATOR_ID standing in for it.
        Reason::RouterId => router_id(a).cmp(&router_id(b)),
        // 8. RFC 4456 §9: shortest CLUSTER_LIST.
        Reason::ClusterListLength => a
            .attributes
            .rare
            .cluster_list
            .len()
            .cmp(&b.attributes.rare.cluster_list.len()),
        // 9. g) Lowest peer address (IPv4 before IPv6; Local has none).
        Reason::PeerAddress => a.peer_address.cmp(&b.peer_address),
        Reason::Equal => Ordering::Equal,
    }
}

/// RFC 4271 §9.1.2.2 as written: remove from consideration, step by step,
/// every path another remaining path beats at that step, until one is left.
/// `lost` hears of every removal. Order-independent because each step keeps
/// a subset defined by the set alone.
fn eliminate(
    candidates: &[Candidate<'_>],
    opts: &DecisionOptions,
    mut lost: impl FnMut(usize, Reason),
) -> Option<usize> {
    match candidates {
        [] => return None,
        [_] => return Some(0),
        // Two paths: elimination and pairwise comparison agree; skip the
        // allocation on this, the most common multi-path case.
        [a, b] => {
            let (ordering, reason) = compare(a, b, opts);
            let (best, loser) = if ordering.is_gt() { (1, 0) } else { (0, 1) };
            lost(loser, reason);
            return Some(best);
        }
        _ => {}
    }

    let mut survivors: Vec<usize> = (0..candidates.len()).collect();
    for step in STEPS {
        if survivors.len() == 1 {
            break;
        }
        if step == Reason::Med && !opts.always_compare_med {
            // Within each neighbour-AS group keep the lowest MED; groups do
            // not compete with each other at this step.
            let mut lowest: Vec<(Asn, u32)> = Vec::new();
            for &i in &survivors {
                let (asn, m) = (neighbour_as(&candidates[i]), med(&candidates[i]));
                match lowest.iter_mut().find(|(group, _)| *group == asn) {
                    Some((_, low)) => *low = (*low).min(m),
                    None => lowest.push((asn, m)),
                }
            }
            survivors.retain(|&i| {
                let c = &candidates[i];
                let keep = lowest.contains(&(neighbour_as(c), med(c)));
                if !keep {
                    lost(i, step);
                }
                keep
            });
        } else {
            // The other steps order all paths: keep those tied for the best.
            let first = survivors[0];
            let best = survivors[1..].iter().fold(first, |best, &i| {
                if compare_at(step, &candidates[i], &candidates[best], opts).is_lt() {
                    i
                } else {
                    best
                }
            });
            survivors.retain(|&i| {
                let keep = compare_at(step, &candidates[i], &candidates[best], opts).is_eq();
                if !keep {
                    lost(i, step);
                }
                keep
            });
        }
    }
    let best = survivors[0];
    for &i in &survivors[1..] {
        lost(i, Reason::Equal);
    }
    Some(best)
}

fn is_local(c: &Candidate<'_>) -> bool {
    c.source == PathSource::Local
}

fn is_ebgp(c: &Candidate<'_>) -> bool {
    c.source == PathSource::Ebgp
}

/// LOCAL_PREF for comparison. A missing one counts as the default. On
/// eBGP-learned paths the attribute is ignored and the default used: RFC
/// 4271 §5.1.5 says a speaker MUST ignore LOCAL_PREF received over an
/// external link, and a neighbour must not steer our choice with it.
fn local_pref(c: &Candidate<'_>) -> u32 {
    match c.source {
        PathSource::Ebgp => DEFAULT_LOCAL_PREF,
        PathSource::Local | PathSource::Ibgp => {
            c.attributes.local_pref.unwrap_or(DEFAULT_LOCAL_PREF)
        }
    }
}

/// AS path length (an AS_SET counts 1, confederation segments 0); a path
/// without AS_PATH (originated here) has length 0.
fn as_path_length(c: &Candidate<'_>) -> usize {
    c.attributes
        .as_path
        .as_ref()
        .map_or(0, AsPath::selection_length)
}

/// ORIGIN; a path without one is treated as the least preferred,
/// INCOMPLETE (we know nothing of how it entered BGP).
fn origin(c: &Candidate<'_>) -> Origin {
    c.attributes.origin.unwrap_or(Origin::Incomplete)
}

/// MED; a missing one is the lowest possible value (§9.1.2.2 c).
fn med(c: &Candidate<'_>) -> u32 {
    c.attributes.med.unwrap_or(0)
}

/// The neighbour AS for MED comparison: the first AS of the AS_PATH, or the
/// peer's AS when the path starts with none (originated in our own AS, or
/// inside a confederation).
fn neighbour_as(c: &Candidate<'_>) -> Asn {
    c.attributes
        .as_path
        .as_ref()
        .and_then(AsPath::first_asn)
        .unwrap_or(c.peer_asn)
}

/// The BGP Identifier of the path's originator within our AS: ORIGINATOR_ID
/// when a route reflector set one (RFC 4456 §9), else the peer's.
fn router_id(c: &Candidate<'_>) -> Ipv4Addr {
    c.attributes.rare.originator_id.unwrap_or(c.peer_router_id)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clos_wire::{AsPathSegment, SegmentType};
    use proptest::prelude::*;

    const LOCAL_AS: Asn = 65000;

    /// Attributes every test path starts from: eBGP-style, IGP origin,
    /// one-AS path through 65001, no MED, no LOCAL_PREF.
    fn attrs() -> PathAttributes {
        PathAttributes {
            origin: Some(Origin::Igp),
            as_path: Some(AsPath::sequence([65001])),
            next_hop: Some(Ipv4Addr::new(192, 0, 2, 1)),
            ..Default::default()
        }
    }

    fn ebgp(attributes: &PathAttributes, n: u8) -> Candidate<'_> {
        Candidate {
            attributes,
            source: PathSource::Ebgp,
            peer_router_id: Ipv4Addr::new(10, 0, 0, n),
            peer_address: Some(IpAddr::V4(Ipv4Addr::new(192, 0, 2, n))),
            peer_asn: attributes
                .as_path
                .as_ref()
                .and_then(AsPath::first_asn)
                .unwrap_or(65001),
        }
    }

    fn ibgp(attributes: &PathAttributes, n: u8) -> Candidate<'_> {
        Candidate {
            attributes,
            source: PathSource::Ibgp,
            peer_router_id: Ipv4Addr::new(10, 0, 0, n),
            peer_address: Some(IpAddr::V4(Ipv4Addr::new(192, 0, 2, n))),
            peer_asn: LOCAL_AS,
        }
    }

    fn local(attributes: &PathAttributes) -> Candidate<'_> {
        Candidate {
            attributes,
            source: PathSource::Local,
            peer_router_id: Ipv4Addr::UNSPECIFIED,
            peer_address: None,
            peer_asn: LOCAL_AS,
        }
    }

    const DEFAULT: DecisionOptions = DecisionOptions {
        always_compare_med: false,
        multipath_relax: false,
    };

    /// Asserts that `better` wins against `worse` at `reason`, in both
    /// argument orders and through `select`.
    #[track_caller]
    fn assert_wins(better: &Candidate<'_>, worse: &Candidate<'_>, reason: Reason) {
        assert_wins_with(better, worse, reason, &DEFAULT);
    }

    #[track_caller]
    fn assert_wins_with(
        better: &Candidate<'_>,
        worse: &Candidate<'_>,
        reason: Reason,
        opts: &DecisionOptions,
    ) {
        assert_eq!(compare(better, worse, opts), (Ordering::Less, reason));
        assert_eq!(compare(worse, better, opts), (Ordering::Greater, reason));
        let selection = select(&[*worse, *better], opts).expect("two candidates");
        assert_eq!(selection.best, 1);
        assert_eq!(selection.lost, vec![Some(reason), None]);
    }

    // Step 0.

    #[test]
    fn locally_originated_beats_learned() {
        let mine = PathAttributes {
            origin: Some(Origin::Incomplete),
            as_path: Some(AsPath::default()),
            ..Default::default()
        };
        // Better on every later step, still loses.
        let learned = PathAttributes {
            local_pref: Some(1000),
            ..attrs()
        };
        assert_wins(&local(&mine), &ibgp(&learned, 1), Reason::LocallyOriginated);
        assert_wins(&local(&mine), &ebgp(&learned, 1), Reason::LocallyOriginated);
    }

    // Step 1.

    #[test]
    fn higher_local_pref_wins() {
        let high = PathAttributes {
            local_pref: Some(200),
            as_path: Some(AsPath::sequence([65001, 65002, 65003])),
            ..attrs()
        };
        let low = PathAttributes {
            local_pref: Some(150),
            ..attrs()
        };
        assert_wins(&ibgp(&high, 2), &ibgp(&low, 1), Reason::LocalPref);
    }

    #[test]
    fn missing_local_pref_counts_as_100() {
        let missing = attrs();
        let below = PathAttributes {
            local_pref: Some(99),
            ..attrs()
        };
        let above = PathAttributes {
            local_pref: Some(101),
            ..attrs()
        };
        assert_wins(&ibgp(&missing, 2), &ibgp(&below, 1), Reason::LocalPref);
        assert_wins(&ibgp(&above, 2), &ibgp(&missing, 1), Reason::LocalPref);
        let exactly = PathAttributes {
            local_pref: Some(100),
            ..attrs()
        };
        assert_wins(&ibgp(&missing, 1), &ibgp(&exactly, 2), Reason::RouterId);
    }

    #[test]
    fn local_pref_on_ebgp_path_is_ignored() {
        let from_neighbour = PathAttributes {
            local_pref: Some(500),
            ..attrs()
        };
        let internal = PathAttributes {
            local_pref: Some(150),
            ..attrs()
        };
        assert_wins(
            &ibgp(&internal, 2),
            &ebgp(&from_neighbour, 1),
            Reason::LocalPref,
        );
        // Against an iBGP path at 100 the eBGP one ties on LOCAL_PREF and
        // wins later, on session type.
        let internal_default = attrs();
        assert_wins(
            &ebgp(&from_neighbour, 2),
            &ibgp(&internal_default, 1),
            Reason::EbgpOverIbgp,
        );
    }

    // Step 2.

    #[test]
    fn shorter_as_path_wins() {
        let short = PathAttributes {
            origin: Some(Origin::Incomplete),
            ..attrs()
        };
        let long = PathAttributes {
            as_path: Some(AsPath::sequence([65001, 65010])),
            ..attrs()
        };
        assert_wins(&ebgp(&short, 2), &ebgp(&long, 1), Reason::AsPathLength);
    }

    #[test]
    fn as_set_counts_as_one() {
        let with_set = PathAttributes {
            as_path: Some(AsPath {
                segments: vec![
                    AsPathSegment {
                        kind: SegmentType::AsSequence,
                        asns: vec![65001],
                    },
                    AsPathSegment {
                        kind: SegmentType::AsSet,
                        asns: vec![65010, 65011, 65012],
                    },
                ],
            }),
            ..attrs()
        };
        let sequence = PathAttributes {
            as_path: Some(AsPath::sequence([65001, 65010, 65011])),
            ..attrs()
        };
        assert_wins(
            &ebgp(&with_set, 2),
            &ebgp(&sequence, 1),
            Reason::AsPathLength,
        );
    }

    #[test]
    fn missing_as_path_has_length_zero() {
        let missing = PathAttributes {
            as_path: None,
            ..attrs()
        };
        let one = attrs();
        assert_wins(&ibgp(&missing, 2), &ibgp(&one, 1), Reason::AsPathLength);
    }

    // Step 3.

    #[test]
    fn lower_origin_wins() {
        let igp = attrs();
        let egp = PathAttributes {
            origin: Some(Origin::Egp),
            ..attrs()
        };
        let incomplete = PathAttributes {
            origin: Some(Origin::Incomplete),
            ..attrs()
        };
        assert_wins(&ebgp(&igp, 2), &ebgp(&egp, 1), Reason::Origin);
        assert_wins(&ebgp(&egp, 2), &ebgp(&incomplete, 1), Reason::Origin);
    }

    #[test]
    fn missing_origin_counts_as_incomplete() {
        let missing = PathAttributes {
            origin: None,
            ..attrs()
        };
        let egp = PathAttributes {
            origin: Some(Origin::Egp),
            ..attrs()
        };
        let incomplete = PathAttributes {
            origin: Some(Origin::Incomplete),
            ..attrs()
        };
        assert_wins(&ebgp(&egp, 2), &ebgp(&missing, 1), Reason::Origin);
        assert_wins(&ebgp(&missing, 1), &ebgp(&incomplete, 2), Reason::RouterId);
    }

    // Step 4.

    #[test]
    fn lower_med_wins_within_same_neighbour_as() {
        let low = PathAttributes {
            med: Some(10),
            ..attrs()
        };
        let high = PathAttributes {
            med: Some(20),
            ..attrs()
        };
        assert_wins(&ebgp(&low, 2), &ebgp(&high, 1), Reason::Med);
    }

    #[test]
    fn med_ignored_between_different_neighbour_ases() {
        let low = PathAttributes {
            med: Some(10),
            as_path: Some(AsPath::sequence([65002])),
            ..attrs()
        };
        let high = PathAttributes {
            med: Some(20),
            ..attrs()
        };
        // Different first AS: MED is not compared, router ID decides.
        assert_wins(&ebgp(&high, 1), &ebgp(&low, 2), Reason::RouterId);
        // Unless told to compare it always.
        let always = DecisionOptions {
            always_compare_med: true,
            ..DEFAULT
        };
        assert_wins_with(&ebgp(&low, 2), &ebgp(&high, 1), Reason::Med, &always);
    }

    #[test]
    fn missing_med_counts_as_zero() {
        let missing = attrs();
        let one = PathAttributes {
            med: Some(1),
            ..attrs()
        };
        assert_wins(&ebgp(&missing, 2), &ebgp(&one, 1), Reason::Med);
        let zero = PathAttributes {
            med: Some(0),
            ..attrs()
        };
        assert_wins(&ebgp(&zero, 1), &ebgp(&missing, 2), Reason::RouterId);
    }

    #[test]
    fn med_neighbour_as_falls_back_to_peer_as_for_empty_paths() {
        // Two internally originated routes (empty AS_PATH) from iBGP peers:
        // both have neighbour AS = our own, so MED is compared.
        let low = PathAttributes {
            med: Some(5),
            as_path: Some(AsPath::default()),
            ..attrs()
        };
        let high = PathAttributes {
            med: Some(50),
            as_path: Some(AsPath::default()),
            ..attrs()
        };
        assert_wins(&ibgp(&low, 2), &ibgp(&high, 1), Reason::Med);
    }

    // Step 5.

    #[test]
    fn ebgp_beats_ibgp() {
        let a = attrs();
        assert_wins(&ebgp(&a, 2), &ibgp(&a, 1), Reason::EbgpOverIbgp);
    }

    // Step 7.

    #[test]
    fn lower_router_id_wins() {
        let a = attrs();
        assert_wins(&ibgp(&a, 1), &ibgp(&a, 2), Reason::RouterId);
        assert_wins(&ebgp(&a, 1), &ebgp(&a, 2), Reason::RouterId);
    }

    #[test]
    fn originator_id_replaces_router_id() {
        // Reflected by peer 10.0.0.1, originated by 10.0.0.9.
        let reflected = PathAttributes {
            rare: clos_wire::RareAttributes {
                originator_id: Some(Ipv4Addr::new(10, 0, 0, 9)),
                cluster_list: vec![Ipv4Addr::new(10, 255, 0, 1)],
                ..Default::default()
            }
            .into(),
            ..attrs()
        };
        let direct = attrs();
        assert_wins(&ibgp(&direct, 2), &ibgp(&reflected, 1), Reason::RouterId);
    }

    // Step 8.

    #[test]
    fn shorter_cluster_list_wins() {
        let originator = Some(Ipv4Addr::new(10, 0, 0, 9));
        let short = PathAttributes {
            rare: clos_wire::RareAttributes {
                originator_id: originator,
                cluster_list: vec![Ipv4Addr::new(10, 255, 0, 1)],
                ..Default::default()
            }
            .into(),
            ..attrs()
        };
        let long = PathAttributes {
            rare: clos_wire::RareAttributes {
                originator_id: originator,
                cluster_list: vec![Ipv4Addr::new(10, 255, 0, 2), Ipv4Addr::new(10, 255, 0, 1)],
                ..Default::default()
            }
            .into(),
            ..attrs()
        };
        assert_wins(&ibgp(&short, 2), &ibgp(&long, 1), Reason::ClusterListLength);
    }

    // Step 9.

    #[test]
    fn lower_peer_address_wins() {
        let a = attrs();
        let low = ebgp(&a, 1);
        let high = Candidate {
            peer_address: Some(IpAddr::V4(Ipv4Addr::new(192, 0, 2, 200))),
            ..low
        };
        assert_wins(&low, &high, Reason::PeerAddress);
        let v6 = Candidate {
            peer_address: Some("2001:db8::1".parse().expect("literal")),
            ..low
        };
        assert_wins(&low, &v6, Reason::PeerAddress);
    }

    #[test]
    fn identical_paths_are_equal() {
        let a = attrs();
        let c = ebgp(&a, 1);
        assert_eq!(compare(&c, &c, &DEFAULT), (Ordering::Equal, Reason::Equal));
        let selection = select(&[c, c, c], &DEFAULT).expect("three candidates");
        assert_eq!(selection.best, 0);
        assert_eq!(
            selection.lost,
            vec![None, Some(Reason::Equal), Some(Reason::Equal)]
        );
    }

    #[test]
    fn empty_and_single() {
        assert_eq!(select_best(&[], &DEFAULT), None);
        assert_eq!(select(&[], &DEFAULT), None);
        let a = attrs();
        assert_eq!(select_best(&[ebgp(&a, 1)], &DEFAULT), Some(0));
    }

    #[test]
    fn describe_is_distinct_per_reason() {
        let all = [STEPS.as_slice(), &[Reason::Equal]].concat();
        for (i, a) in all.iter().enumerate() {
            assert!(!a.describe().is_empty());
            for b in &all[i + 1..] {
                assert_ne!(a.describe(), b.describe());
            }
        }
        assert_eq!(Reason::LocalPref.to_string(), "lower local preference");
    }

    // Order independence.

    /// Every permutation of `0..n`.
    fn permutations(n: usize) -> Vec<Vec<usize>> {
        if n == 0 {
            return vec![vec![]];
        }
        let mut out = Vec::new();
        for rest in permutations(n - 1) {
            for at in 0..=rest.len() {
                let mut p = rest.clone();
                p.insert(at, n - 1);
                out.push(p);
            }
        }
        out
    }

    /// Asserts that every ordering of `candidates` selects candidate
    /// `expected`, with the same loss reasons.
    #[track_caller]
    fn assert_order_independent(candidates: &[Candidate<'_>], expected: usize) {
        let reference = select(candidates, &DEFAULT).expect("candidates");
        assert_eq!(reference.best, expected);
        for order in permutations(candidates.len()) {
            let shuffled: Vec<Candidate<'_>> = order.iter().map(|&i| candidates[i]).collect();
            let selection = select(&shuffled, &DEFAULT).expect("candidates");
            assert_eq!(order[selection.best], expected, "order {order:?}");
            for (position, &original) in order.iter().enumerate() {
                assert_eq!(selection.lost[position], reference.lost[original]);
            }
        }
    }

    #[test]
    fn med_cycle_resolved_independently_of_order() {
        // Pairwise: B beats A (MED, both via 65001), C beats B (router ID,
        // different ASes), A beats C (router ID). A cycle; RFC elimination
        // first drops A within AS 65001, then C beats B.
        let a_attrs = PathAttributes {
            med: Some(100),
            ..attrs()
        };
        let b_attrs = PathAttributes {
            med: Some(50),
            ..attrs()
        };
        let c_attrs = PathAttributes {
            med: Some(0),
            as_path: Some(AsPath::sequence([65002])),
            ..attrs()
        };
        let (a, b, c) = (ebgp(&a_attrs, 1), ebgp(&b_attrs, 3), ebgp(&c_attrs, 2));
        assert_eq!(compare(&b, &a, &DEFAULT), (Ordering::Less, Reason::Med));
        assert_eq!(
            compare(&c, &b, &DEFAULT),
            (Ordering::Less, Reason::RouterId)
        );
        assert_eq!(
            compare(&a, &c, &DEFAULT),
            (Ordering::Less, Reason::RouterId)
        );

        let candidates = [a, b, c];
        assert_order_independent(&candidates, 2);
        let selection = select(&candidates, &DEFAULT).expect("candidates");
        assert_eq!(
            selection.lost,
            vec![Some(Reason::Med), Some(Reason::RouterId), None]
        );
    }

    #[test]
    fn mixed_sources_order_independent() {
        let a_attrs = PathAttributes {
            med: Some(30),
            ..attrs()
        };
        let b_attrs = PathAttributes {
            med: Some(20),
            ..attrs()
        };
        let c_attrs = PathAttributes {
            med: Some(10),
            as_path: Some(AsPath::sequence([65002])),
            ..attrs()
        };
        let d_attrs = PathAttributes {
            med: Some(0),
            as_path: Some(AsPath::sequence([65002])),
            ..attrs()
        };
        // a (eBGP 65001, MED 30, id 1), b (iBGP via 65001, MED 20, id 2),
        // c (eBGP 65002, MED 10, id 4), d (iBGP via 65002, MED 0, id 3).
        // MED within 65001 drops a; within 65002 drops c; then eBGP over
        // iBGP has nothing to choose from (b, d both iBGP); router ID: b.
        let candidates = [
            ebgp(&a_attrs, 1),
            ibgp(&b_attrs, 2),
            ebgp(&c_attrs, 4),
            ibgp(&d_attrs, 3),
        ];
        assert_order_independent(&candidates, 1);
        let selection = select(&candidates, &DEFAULT).expect("candidates");
        assert_eq!(
            selection.lost,
            vec![
                Some(Reason::Med),
                None,
                Some(Reason::Med),
                Some(Reason::RouterId)
            ]
        );
    }

    // Multipath.

    #[test]
    fn multipath_same_neighbour_as() {
        let a = attrs();
        let b = PathAttributes {
            next_hop: Some(Ipv4Addr::new(192, 0, 2, 2)),
            ..attrs()
        };
        // Differ only in router ID, peer address and next hop.
        assert!(multipath_eligible(&ebgp(&a, 1), &ebgp(&b, 2), &DEFAULT));
        assert!(multipath_eligible(&ibgp(&a, 1), &ibgp(&b, 2), &DEFAULT));
    }

    #[test]
    fn multipath_different_neighbour_as_needs_relax() {
        let a = attrs();
        let b = PathAttributes {
            as_path: Some(AsPath::sequence([65002])),
            med: Some(10),
            ..attrs()
        };
        let relax = DecisionOptions {
            multipath_relax: true,
            ..DEFAULT
        };
        assert!(!multipath_eligible(&ebgp(&a, 1), &ebgp(&b, 2), &DEFAULT));
        // MED is not comparable across ASes, so it does not stand in the way.
        assert!(multipath_eligible(&ebgp(&a, 1), &ebgp(&b, 2), &relax));
        // Unless it is always compared.
        let relax_always = DecisionOptions {
            multipath_relax: true,
            always_compare_med: true,
        };
        assert!(!multipath_eligible(
            &ebgp(&a, 1),
            &ebgp(&b, 2),
            &relax_always
        ));
        // Relax still requires equal AS path lengths.
        let longer = PathAttributes {
            as_path: Some(AsPath::sequence([65002, 65003])),
            ..attrs()
        };
        assert!(!multipath_eligible(&ebgp(&a, 1), &ebgp(&longer, 2), &relax));
    }

    #[test]
    fn multipath_never_mixes_ebgp_and_ibgp() {
        let a = attrs();
        let relax = DecisionOptions {
            multipath_relax: true,
            ..DEFAULT
        };
        assert!(!multipath_eligible(&ebgp(&a, 1), &ibgp(&a, 2), &relax));
        assert!(!multipath_eligible(&ibgp(&a, 1), &ebgp(&a, 2), &relax));
    }

    #[test]
    fn multipath_never_local() {
        let a = attrs();
        assert!(!multipath_eligible(&local(&a), &local(&a), &DEFAULT));
        assert!(!multipath_eligible(&local(&a), &ebgp(&a, 1), &DEFAULT));
        assert!(!multipath_eligible(&ebgp(&a, 1), &local(&a), &DEFAULT));
    }

    #[test]
    fn multipath_requires_equal_attributes_through_med() {
        let best = attrs();
        let lp = PathAttributes {
            local_pref: Some(200),
            ..attrs()
        };
        let origin = PathAttributes {
            origin: Some(Origin::Egp),
            ..attrs()
        };
        let med = PathAttributes {
            med: Some(1),
            ..attrs()
        };
        let path = PathAttributes {
            as_path: Some(AsPath::sequence([65001, 65001])),
            ..attrs()
        };
        for other in [&lp, &origin, &med, &path] {
            assert!(!multipath_eligible(
                &ibgp(&best, 1),
                &ibgp(other, 2),
                &DEFAULT
            ));
        }
    }

    // Properties.

    fn arb_attributes() -> impl Strategy<Value = PathAttributes> {
        (
            prop::option::of(prop::sample::select(vec![
                Origin::Igp,
                Origin::Egp,
                Origin::Incomplete,
            ])),
            prop::option::of(prop::collection::vec(65001u32..65004, 0..3)),
            prop::option::of(0u32..3),
            prop::option::of(99u32..102),
            prop::option::of(1u8..4),
            0usize..3,
        )
            .prop_map(|(origin, path, med, local_pref, originator, clusters)| {
                PathAttributes {
                    origin,
                    as_path: path.map(AsPath::sequence),
                    med,
                    local_pref,
                    rare: clos_wire::RareAttributes {
                        originator_id: originator.map(|n| Ipv4Addr::new(10, 0, 0, n)),
                        cluster_list: vec![Ipv4Addr::new(10, 255, 0, 1); clusters],
                        ..Default::default()
                    }
                    .into(),
                    ..Default::default()
                }
            })
    }

    /// A candidate description: attributes plus (source, router id, asn).
    /// Peer addresses are assigned by position so no two tie completely.
    fn arb_paths(max: usize) -> impl Strategy<Value = Vec<(PathAttributes, PathSource, u8, Asn)>> {
        prop::collection::vec(
            (
                arb_attributes(),
                prop::sample::select(vec![PathSource::Local, PathSource::Ebgp, PathSource::Ibgp]),
                1u8..4,
                65000u32..65003,
            ),
            2..=max,
        )
    }

    /// Paths that tie up to MED and differ in neighbour AS, MED, session
    /// type and router ID: where pairwise comparison forms cycles.
    fn arb_med_contest(
        max: usize,
    ) -> impl Strategy<Value = Vec<(PathAttributes, PathSource, u8, Asn)>> {
        prop::collection::vec(
            (
                65001u32..65003,
                prop::option::of(0u32..3),
                prop::sample::select(vec![PathSource::Ebgp, PathSource::Ibgp]),
                1u8..5,
            )
                .prop_map(|(neighbour, med, source, id)| {
                    let attributes = PathAttributes {
                        as_path: Some(AsPath::sequence([neighbour])),
                        med,
                        ..attrs()
                    };
                    (attributes, source, id, neighbour)
                }),
            2..=max,
        )
    }

    fn candidates(paths: &[(PathAttributes, PathSource, u8, Asn)]) -> Vec<Candidate<'_>> {
        paths
            .iter()
            .enumerate()
            .map(|(i, (attributes, source, id, asn))| Candidate {
                attributes,
                source: *source,
                peer_router_id: Ipv4Addr::new(10, 0, 0, *id),
                peer_address: Some(IpAddr::V4(Ipv4Addr::new(192, 0, 2, i as u8))),
                peer_asn: *asn,
            })
            .collect()
    }

    proptest! {
        #[test]
        fn compare_is_antisymmetric(paths in arb_paths(2), always in any::<bool>()) {
            let opts = DecisionOptions { always_compare_med: always, ..DEFAULT };
            let c = candidates(&paths);
            let (ab, why_ab) = compare(&c[0], &c[1], &opts);
            let (ba, why_ba) = compare(&c[1], &c[0], &opts);
            prop_assert_eq!(ab, ba.reverse());
            prop_assert_eq!(why_ab, why_ba);
        }

        #[test]
        fn select_best_is_order_independent(
            (paths, order) in prop_oneof![arb_paths(6), arb_med_contest(6)].prop_flat_map(|paths| {
                let order = Just((0..paths.len()).collect::<Vec<_>>()).prop_shuffle();
                (Just(paths), order)
            }),
            always in any::<bool>(),
        ) {
            let opts = DecisionOptions { always_compare_med: always, ..DEFAULT };
            let c = candidates(&paths);
            let shuffled: Vec<Candidate<'_>> = order.iter().map(|&i| c[i]).collect();
            let best = select_best(&c, &opts).expect("candidates");
            let best_shuffled = select_best(&shuffled, &opts).expect("candidates");
            prop_assert_eq!(order[best_shuffled], best);
        }

        #[test]
        fn select_agrees_with_select_best(paths in arb_paths(6), always in any::<bool>()) {
            let opts = DecisionOptions { always_compare_med: always, ..DEFAULT };
            let c = candidates(&paths);
            let selection = select(&c, &opts).expect("candidates");
            prop_assert_eq!(Some(selection.best), select_best(&c, &opts));
            for (i, reason) in selection.lost.iter().enumerate() {
                prop_assert_eq!(reason.is_none(), i == selection.best);
            }
        }

        /// With MED made transitive, elimination is the minimum of the
        /// pairwise order: the best beats or ties every other path.
        #[test]
        fn best_beats_all_when_med_always_compared(paths in arb_paths(6)) {
            let opts = DecisionOptions { always_compare_med: true, ..DEFAULT };
            let c = candidates(&paths);
            let best = select_best(&c, &opts).expect("candidates");
            for other in &c {
                prop_assert!(compare(&c[best], other, &opts).0.is_le());
            }
        }
    }
}
