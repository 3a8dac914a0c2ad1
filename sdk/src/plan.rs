//! Endorsement planning: which organisations' endorsers to ask so that the
//! endorsements satisfy a chaincode's [`SignaturePolicy`]. Pure: no IO.
//!
//! The policy's minimal ways of being satisfied come from
//! [`SignaturePolicy::minimal_requirements`]; a way is feasible when each of its
//! principals can be met by an endorser (endorsers are peers, so `.peer` and
//! `.member` principals only) and each organisation has as many distinct endorsers
//! as the way counts signatures of it. Of the feasible ways the plan takes the one
//! with the fewest organisations, then the fewest endorsements, then one that
//! includes the caller's own organisation, then the earliest organisations in
//! profile order.
//!
//! ## Key-level policies
//!
//! A transaction writing keys that have key-level endorsement policies must
//! satisfy those instead of (or besides) the chaincode's policy. The endorsers
//! report them ([`ProposalResponse::key_policies`]); [`required_policies`]
//! works out, from the read/write set and those reports, which policies the
//! committer will check (the same rule as the committer's: every key-level
//! policy of a written key, plus the chaincode's policy when a written key has
//! none, when nothing is written, or when private data is written), and
//! [`plan_all`] plans the fewest further endorsements satisfying all of them
//! together, counting the endorsements already obtained. Each policy is
//! evaluated on its own against all the endorsers, so one endorser can count
//! for several policies.
//!
//! [`ProposalResponse::key_policies`]: cellchain_core::protocol::ProposalResponse::key_policies

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use cellchain_core::identity::Role;
use cellchain_core::policy::{PolicyError, PrincipalRole, SignaturePolicy, SignerRef};
use cellchain_core::protocol::{KeyPolicy, NsRwSet};

/// Most minimal combinations enumerated before planning gives up.
pub const PLAN_LIMIT: usize = 1000;

/// An organisation that has endorsers in the connection profile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EndorsingOrg {
    pub msp_id: String,
    /// How many endorsers of it the profile lists.
    pub endorsers: usize,
}

impl EndorsingOrg {
    pub fn new(msp_id: impl Into<String>, endorsers: usize) -> Self {
        EndorsingOrg {
            msp_id: msp_id.into(),
            endorsers,
        }
    }
}

/// Which organisations to ask, and how many distinct endorsers of each.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    /// `(msp id, endorsers needed)`, the caller's organisation first, then in
    /// profile order.
    pub orgs: Vec<(String, usize)>,
}

impl Plan {
    /// One endorser of each of `orgs` (an explicit choice, no policy involved).
    pub fn of_orgs<S: AsRef<str>>(orgs: &[S]) -> Plan {
        let mut out: Vec<(String, usize)> = Vec::new();
        for o in orgs {
            if !out.iter().any(|(m, _)| m == o.as_ref()) {
                out.push((o.as_ref().to_string(), 1));
            }
        }
        Plan { orgs: out }
    }

    /// The organisations' MSP ids, in plan order.
    pub fn msp_ids(&self) -> Vec<&str> {
        self.orgs.iter().map(|(m, _)| m.as_str()).collect()
    }
}

/// Why no plan exists.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlanError {
    /// No combination of the available endorsers satisfies the policy.
    #[error(
        "policy {policy} cannot be satisfied by the endorsers in the connection profile ({}); \
         endorsers can only meet '.peer' and '.member' principals",
        available_text(available)
    )]
    Unsatisfiable {
        policy: String,
        available: Vec<EndorsingOrgText>,
    },
    /// The policy is too large to plan.
    #[error("policy {policy}: {source}")]
    Policy {
        policy: String,
        #[source]
        source: PolicyError,
    },
    /// The key-level endorsement policy of a key the transaction writes (in
    /// the invoked chaincode's namespace) cannot be satisfied by the endorsers
    /// in the connection profile.
    #[error(
        "key {key:?} has the endorsement policy {policy}, which cannot be \
         satisfied by the endorsers in the connection profile ({}); endorsers can only meet \
         '.peer' and '.member' principals",
        available_text(available)
    )]
    KeyUnsatisfiable {
        key: String,
        policy: String,
        available: Vec<EndorsingOrgText>,
    },
    /// The key-level endorsement policy of a key the transaction writes does
    /// not parse: no endorsements can satisfy it.
    #[error(
        "key {key:?} has the endorsement policy {policy:?}, which does not parse \
         ({reason}): no endorsements can satisfy it"
    )]
    KeyPolicyInvalid {
        key: String,
        policy: String,
        reason: String,
    },
}

/// An organisation and its endorser count, as shown in [`PlanError`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EndorsingOrgText(pub String, pub usize);

impl fmt::Display for EndorsingOrgText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = if self.1 == 1 { "" } else { "s" };
        write!(f, "{}: {} endorser{s}", self.0, self.1)
    }
}

fn available_text(a: &[EndorsingOrgText]) -> String {
    if a.is_empty() {
        return "no organisation has endorsers".into();
    }
    a.iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

/// How good a way is, smallest best: organisations, endorsements, whether the
/// caller's organisation is left out, profile positions of the organisations.
type Preference = (usize, usize, bool, Vec<usize>);

/// The smallest set of organisations among `orgs` whose endorsers satisfy `policy`
/// (see the module docs for the order of preference); `caller` is the client's
/// MSP id.
pub fn plan(
    policy: &SignaturePolicy,
    orgs: &[EndorsingOrg],
    caller: &str,
) -> Result<Plan, PlanError> {
    let requirements =
        policy
            .minimal_requirements(PLAN_LIMIT)
            .map_err(|source| PlanError::Policy {
                policy: policy.to_string(),
                source,
            })?;
    let position = |msp: &str| orgs.iter().position(|o| o.msp_id == msp && o.endorsers > 0);
    let mut best: Option<(Preference, BTreeMap<usize, usize>)> = None;
    'ways: for way in &requirements {
        let mut needs: BTreeMap<usize, usize> = BTreeMap::new();
        for (principal, count) in way {
            if !matches!(principal.role, PrincipalRole::Peer | PrincipalRole::Member) {
                continue 'ways;
            }
            let Some(i) = position(&principal.msp_id) else {
                continue 'ways;
            };
            *needs.entry(i).or_default() += count;
        }
        if needs.iter().any(|(i, n)| orgs[*i].endorsers < *n) {
            continue;
        }
        let positions: Vec<usize> = needs.keys().copied().collect();
        let key = (
            needs.len(),
            needs.values().sum(),
            !positions.iter().any(|i| orgs[*i].msp_id == caller),
            positions,
        );
        if best.as_ref().is_none_or(|(k, _)| key < *k) {
            best = Some((key, needs));
        }
    }
    let Some((_, needs)) = best else {
        return Err(PlanError::Unsatisfiable {
            policy: policy.to_string(),
            available: orgs
                .iter()
                .map(|o| EndorsingOrgText(o.msp_id.clone(), o.endorsers))
                .collect(),
        });
    };
    let mut chosen: Vec<(String, usize)> = needs
        .into_iter()
        .map(|(i, n)| (orgs[i].msp_id.clone(), n))
        .collect();
    // Stable: the caller's organisation first, the rest in profile order.
    chosen.sort_by_key(|(m, _)| m != caller);
    Ok(Plan { orgs: chosen })
}

/// What requires one of the policies a transaction must satisfy.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum PolicySource {
    /// The chaincode's endorsement policy.
    Chaincode,
    /// The key-level policy of a written key.
    Key { namespace: String, key: String },
}

/// One of the policies a transaction must satisfy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequiredPolicy {
    pub source: PolicySource,
    pub policy: SignaturePolicy,
}

impl RequiredPolicy {
    pub fn chaincode(policy: SignaturePolicy) -> RequiredPolicy {
        RequiredPolicy {
            source: PolicySource::Chaincode,
            policy,
        }
    }

    pub fn key(
        namespace: impl Into<String>,
        key: impl Into<String>,
        policy: SignaturePolicy,
    ) -> RequiredPolicy {
        RequiredPolicy {
            source: PolicySource::Key {
                namespace: namespace.into(),
                key: key.into(),
            },
            policy,
        }
    }
}

/// The policies the committer will check for a transaction whose read/write set
/// of the invoked namespace is `rwset` (`None`: it touches no key of it), given
/// the key-level policies the endorsers reported (the union of their reports;
/// entries for keys not written are ignored) and the chaincode's policy, if
/// known. As the committer decides: each written key (value, delete or
/// metadata) with key-level policies needs them all; the chaincode's policy
/// is needed when a written key has none, when nothing is written, or when
/// private data is written (`None` leaves it out). A reported policy that does
/// not parse is [`PlanError::KeyPolicyInvalid`].
pub fn required_policies(
    chaincode_policy: Option<&SignaturePolicy>,
    rwset: Option<&NsRwSet>,
    reported: &[KeyPolicy],
) -> Result<Vec<RequiredPolicy>, PlanError> {
    let mut out = Vec::new();
    let mut chaincode_needed = true;
    if let Some(ns) = rwset {
        let written: BTreeSet<&str> = ns
            .writes
            .iter()
            .map(|w| w.key.as_str())
            .chain(ns.metadata_writes.iter().map(|m| m.key.as_str()))
            .collect();
        let writes_private = ns.collections.iter().any(|c| !c.hashed_writes.is_empty());
        chaincode_needed = written.is_empty() || writes_private;
        let reported: BTreeSet<&KeyPolicy> = reported.iter().collect();
        for key in written {
            let mut any = false;
            for kp in reported
                .iter()
                .filter(|kp| kp.namespace == ns.namespace && kp.key == key)
            {
                any = true;
                let policy = SignaturePolicy::parse(&kp.policy).map_err(|e| {
                    PlanError::KeyPolicyInvalid {
                        key: kp.key.clone(),
                        policy: kp.policy.clone(),
                        reason: e.to_string(),
                    }
                })?;
                out.push(RequiredPolicy::key(&kp.namespace, &kp.key, policy));
            }
            chaincode_needed |= !any;
        }
    }
    if chaincode_needed {
        if let Some(p) = chaincode_policy {
            out.insert(0, RequiredPolicy::chaincode(p.clone()));
        }
    }
    Ok(out)
}

/// Whether endorsements by peers of `endorsers` (MSP ids, one per distinct
/// endorser) satisfy every policy of `required`, each evaluated on its own.
pub fn satisfied<S: AsRef<str>>(required: &[RequiredPolicy], endorsers: &[S]) -> bool {
    let signers: Vec<SignerRef<'_>> = endorsers
        .iter()
        .map(|m| SignerRef::new(m.as_ref(), Role::Peer))
        .collect();
    required.iter().all(|r| r.policy.evaluate(&signers))
}

/// How good a combined way is, smallest best: organisations not endorsed yet,
/// further endorsements, whether the caller's organisation is left out of the
/// organisations asked, profile positions of the organisations asked.
type ExtraPreference = (usize, usize, bool, Vec<usize>);

/// The further endorsements to ask so that every policy of `required` is
/// satisfied, each on its own, by the endorsements already obtained
/// (`endorsed`: `(msp id, distinct endorsers)`) and the new ones together: of
/// every combination of one minimal way per policy (an organisation's need is
/// the largest of the ways', since one endorser counts for every policy),
/// the one adding the fewest organisations not endorsed yet, then the fewest
/// endorsements, then one asking the caller's organisation, then the earliest
/// in profile order. The plan lists only what is still missing: empty when
/// the endorsements already satisfy everything. A policy that no endorsers of
/// the profile can satisfy is [`PlanError::Unsatisfiable`] (the chaincode's)
/// or [`PlanError::KeyUnsatisfiable`] naming the key.
pub fn plan_all(
    required: &[RequiredPolicy],
    orgs: &[EndorsingOrg],
    caller: &str,
    endorsed: &[(String, usize)],
) -> Result<Plan, PlanError> {
    let position = |msp: &str| orgs.iter().position(|o| o.msp_id == msp && o.endorsers > 0);
    let available = || {
        orgs.iter()
            .map(|o| EndorsingOrgText(o.msp_id.clone(), o.endorsers))
            .collect::<Vec<_>>()
    };
    // Each policy's feasible ways, as needs per organisation (profile position).
    let mut candidates: Vec<BTreeMap<usize, usize>> = vec![BTreeMap::new()];
    for r in required {
        let ways = r
            .policy
            .minimal_requirements(PLAN_LIMIT)
            .map_err(|source| PlanError::Policy {
                policy: r.policy.to_string(),
                source,
            })?;
        let mut feasible: Vec<BTreeMap<usize, usize>> = Vec::new();
        'ways: for way in &ways {
            let mut needs: BTreeMap<usize, usize> = BTreeMap::new();
            for (principal, count) in way {
                if !matches!(principal.role, PrincipalRole::Peer | PrincipalRole::Member) {
                    continue 'ways;
                }
                let Some(i) = position(&principal.msp_id) else {
                    continue 'ways;
                };
                *needs.entry(i).or_default() += count;
            }
            if needs.iter().all(|(i, n)| orgs[*i].endorsers >= *n) {
                feasible.push(needs);
            }
        }
        if feasible.is_empty() {
            return Err(match &r.source {
                PolicySource::Chaincode => PlanError::Unsatisfiable {
                    policy: r.policy.to_string(),
                    available: available(),
                },
                PolicySource::Key { key, .. } => PlanError::KeyUnsatisfiable {
                    key: key.clone(),
                    policy: r.policy.to_string(),
                    available: available(),
                },
            });
        }
        let mut combined: Vec<BTreeMap<usize, usize>> = Vec::new();
        for c in &candidates {
            for w in &feasible {
                let mut m = c.clone();
                for (i, n) in w {
                    let e = m.entry(*i).or_default();
                    *e = (*e).max(*n);
                }
                combined.push(m);
            }
        }
        candidates = undominated(combined);
        if candidates.len() > PLAN_LIMIT {
            return Err(PlanError::Policy {
                policy: required
                    .iter()
                    .map(|r| r.policy.to_string())
                    .collect::<Vec<_>>()
                    .join(" and "),
                source: PolicyError::TooManyCombinations { limit: PLAN_LIMIT },
            });
        }
    }
    let have = |msp: &str| -> usize {
        endorsed
            .iter()
            .filter(|(m, _)| m == msp)
            .map(|(_, n)| *n)
            .sum()
    };
    let mut best: Option<(ExtraPreference, BTreeMap<usize, usize>)> = None;
    for needs in candidates {
        let extra: BTreeMap<usize, usize> = needs
            .into_iter()
            .filter_map(|(i, n)| {
                let missing = n.saturating_sub(have(&orgs[i].msp_id));
                (missing > 0).then_some((i, missing))
            })
            .collect();
        let positions: Vec<usize> = extra.keys().copied().collect();
        let key = (
            positions
                .iter()
                .filter(|i| have(&orgs[**i].msp_id) == 0)
                .count(),
            extra.values().sum(),
            !positions.iter().any(|i| orgs[*i].msp_id == caller),
            positions,
        );
        if best.as_ref().is_none_or(|(k, _)| key < *k) {
            best = Some((key, extra));
        }
    }
    let extra = best.map(|(_, e)| e).unwrap_or_default();
    let mut chosen: Vec<(String, usize)> = extra
        .into_iter()
        .map(|(i, n)| (orgs[i].msp_id.clone(), n))
        .collect();
    chosen.sort_by_key(|(m, _)| m != caller);
    Ok(Plan { orgs: chosen })
}

/// Drops duplicates and need maps that need at least as much as another
/// everywhere.
fn undominated(mut all: Vec<BTreeMap<usize, usize>>) -> Vec<BTreeMap<usize, usize>> {
    let total = |m: &BTreeMap<usize, usize>| m.values().sum::<usize>();
    all.sort_by(|a, b| (total(a), a).cmp(&(total(b), b)));
    all.dedup();
    let mut kept: Vec<BTreeMap<usize, usize>> = Vec::new();
    for m in all {
        // One that `m` dominates has no more endorsements, so it comes first.
        let dominated = kept
            .iter()
            .any(|k| k.iter().all(|(i, n)| m.get(i).is_some_and(|x| x >= n)));
        if !dominated {
            kept.push(m);
        }
    }
    kept
}

#[cfg(test)]
mod tests {
    use super::*;

    fn orgs(spec: &[(&str, usize)]) -> Vec<EndorsingOrg> {
        spec.iter()
            .map(|(m, n)| EndorsingOrg::new(*m, *n))
            .collect()
    }

    fn planned(policy: &str, available: &[(&str, usize)], caller: &str) -> Vec<(String, usize)> {
        let p = SignaturePolicy::parse(policy).unwrap();
        plan(&p, &orgs(available), caller).unwrap().orgs
    }

    fn names(v: Vec<(String, usize)>) -> Vec<String> {
        v.into_iter()
            .map(|(m, n)| if n == 1 { m } else { format!("{n}x{m}") })
            .collect()
    }

    const THREE: &[(&str, usize)] = &[("Org1MSP", 2), ("Org2MSP", 1), ("Org3MSP", 1)];

    #[test]
    fn and_needs_every_organisation_caller_first() {
        assert_eq!(
            names(planned(
                "AND('Org1MSP.peer', 'Org2MSP.peer')",
                THREE,
                "Org2MSP"
            )),
            ["Org2MSP", "Org1MSP"]
        );
    }

    #[test]
    fn or_prefers_the_callers_own_organisation_then_profile_order() {
        let policy = "OR('Org3MSP.peer', 'Org2MSP.peer', 'Org1MSP.peer')";
        assert_eq!(names(planned(policy, THREE, "Org2MSP")), ["Org2MSP"]);
        // A caller whose organisation has no endorser: the first in the profile.
        assert_eq!(names(planned(policy, THREE, "Org9MSP")), ["Org1MSP"]);
        // The caller's organisation is not named by the policy.
        assert_eq!(
            names(planned(
                "OR('Org3MSP.peer', 'Org2MSP.peer')",
                THREE,
                "Org1MSP"
            )),
            ["Org2MSP"]
        );
    }

    #[test]
    fn out_of_two_of_three_takes_the_caller_and_the_next_in_profile_order() {
        let policy = "OutOf(2, 'Org1MSP.peer', 'Org2MSP.peer', 'Org3MSP.peer')";
        assert_eq!(
            names(planned(policy, THREE, "Org3MSP")),
            ["Org3MSP", "Org1MSP"]
        );
        assert_eq!(
            names(planned(policy, THREE, "Org1MSP")),
            ["Org1MSP", "Org2MSP"]
        );
        // Org2 has no endorser: the other two.
        let available = [("Org1MSP", 1), ("Org2MSP", 0), ("Org3MSP", 1)];
        assert_eq!(
            names(planned(policy, &available, "Org2MSP")),
            ["Org1MSP", "Org3MSP"]
        );
    }

    #[test]
    fn nested_policies_pick_the_fewest_organisations() {
        // Either Org1 alone twice, or Org2 and Org3: one organisation wins.
        let policy =
            "OR(AND('Org2MSP.peer', 'Org3MSP.peer'), AND('Org1MSP.peer', 'Org1MSP.member'))";
        assert_eq!(names(planned(policy, THREE, "Org2MSP")), ["2xOrg1MSP"]);
        // With one Org1 endorser only, two distinct signers cannot be found there.
        let available = [("Org1MSP", 1), ("Org2MSP", 1), ("Org3MSP", 1)];
        assert_eq!(
            names(planned(policy, &available, "Org3MSP")),
            ["Org3MSP", "Org2MSP"]
        );
        let policy =
            "AND('Org1MSP.peer', OR('Org2MSP.peer', OutOf(2, 'Org3MSP.peer', 'Org1MSP.peer')))";
        assert_eq!(
            names(planned(policy, THREE, "Org3MSP")),
            ["Org1MSP", "Org2MSP"]
        );
    }

    #[test]
    fn unsatisfiable_is_a_typed_error_naming_the_policy() {
        let p = SignaturePolicy::parse("AND('Org1MSP.peer', 'Org4MSP.peer')").unwrap();
        let e = plan(&p, &orgs(THREE), "Org1MSP").unwrap_err();
        assert!(matches!(e, PlanError::Unsatisfiable { .. }));
        assert_eq!(
            e.to_string(),
            "policy AND('Org1MSP.peer', 'Org4MSP.peer') cannot be satisfied by the endorsers in the \
             connection profile (Org1MSP: 2 endorsers, Org2MSP: 1 endorser, Org3MSP: 1 endorser); \
             endorsers can only meet '.peer' and '.member' principals"
        );
        // Admin signatures cannot come from endorsers.
        let p = SignaturePolicy::parse("'Org1MSP.admin'").unwrap();
        assert!(matches!(
            plan(&p, &orgs(THREE), "Org1MSP"),
            Err(PlanError::Unsatisfiable { .. })
        ));
        let e = plan(&p, &[], "Org1MSP").unwrap_err();
        assert!(
            e.to_string().contains("no organisation has endorsers"),
            "{e}"
        );
    }

    fn sp(text: &str) -> SignaturePolicy {
        SignaturePolicy::parse(text).unwrap()
    }

    fn key(k: &str, policy: &str) -> RequiredPolicy {
        RequiredPolicy::key("cc", k, sp(policy))
    }

    fn extra(required: &[RequiredPolicy], caller: &str, endorsed: &[(&str, usize)]) -> Vec<String> {
        let endorsed: Vec<(String, usize)> =
            endorsed.iter().map(|(m, n)| (m.to_string(), *n)).collect();
        names(
            plan_all(required, &orgs(THREE), caller, &endorsed)
                .unwrap()
                .orgs,
        )
    }

    #[test]
    fn a_conjunction_of_policies_shares_endorsers_between_them() {
        let required = [
            RequiredPolicy::chaincode(sp("OR('Org1MSP.peer', 'Org2MSP.peer')")),
            key("guarded", "AND('Org1MSP.peer', 'Org3MSP.peer')"),
        ];
        // Org1 meets the chaincode policy and half the key's: two organisations,
        // not three, although the caller's Org2 could meet the chaincode's alone.
        assert_eq!(extra(&required, "Org2MSP", &[]), ["Org1MSP", "Org3MSP"]);
        // Two keys each wanting two signatures of Org1 from distinct endorsers:
        // the same two endorsers serve both.
        let required = [
            key("a", "AND('Org1MSP.peer', 'Org1MSP.member')"),
            key("b", "OutOf(2, 'Org1MSP.peer', 'Org1MSP.peer')"),
        ];
        assert_eq!(extra(&required, "Org1MSP", &[]), ["2xOrg1MSP"]);
        // With no endorsement yet and one policy, the same plan as `plan`.
        let p = "OutOf(2, 'Org1MSP.peer', 'Org2MSP.peer', 'Org3MSP.peer')";
        assert_eq!(
            extra(&[RequiredPolicy::chaincode(sp(p))], "Org3MSP", &[]),
            names(planned(p, THREE, "Org3MSP"))
        );
    }

    #[test]
    fn policies_already_satisfied_need_nothing_more() {
        let required = [
            RequiredPolicy::chaincode(sp("OR('Org1MSP.peer', 'Org2MSP.peer')")),
            key("guarded", "AND('Org1MSP.peer', 'Org2MSP.peer')"),
        ];
        assert!(satisfied(&required, &["Org1MSP", "Org2MSP"]));
        assert!(extra(&required, "Org1MSP", &[("Org1MSP", 1), ("Org2MSP", 1)]).is_empty());
        // Already-endorsing organisations are preferred to fewer organisations.
        let required = [key(
            "k",
            "OR('Org2MSP.peer', AND('Org1MSP.peer', 'Org3MSP.peer'))",
        )];
        assert!(satisfied(&required, &["Org1MSP", "Org3MSP"]));
        assert!(extra(&required, "Org2MSP", &[("Org1MSP", 1), ("Org3MSP", 1)]).is_empty());
        assert!(satisfied(&[], &["Org1MSP"]));
    }

    #[test]
    fn a_key_policy_needing_one_more_organisation_asks_only_it() {
        let required = [
            RequiredPolicy::chaincode(sp("OR('Org1MSP.peer', 'Org2MSP.peer')")),
            key("guarded", "AND('Org1MSP.peer', 'Org2MSP.peer')"),
        ];
        assert!(!satisfied(&required, &["Org1MSP"]));
        assert_eq!(extra(&required, "Org1MSP", &[("Org1MSP", 1)]), ["Org2MSP"]);
        // Two of three with Org1 endorsed: one more, the caller's organisation.
        let required = [key(
            "k",
            "OutOf(2, 'Org1MSP.peer', 'Org2MSP.peer', 'Org3MSP.peer')",
        )];
        assert_eq!(extra(&required, "Org3MSP", &[("Org1MSP", 1)]), ["Org3MSP"]);
        // A second distinct endorser of an organisation already endorsing.
        let required = [key("k", "AND('Org1MSP.peer', 'Org1MSP.member')")];
        assert_eq!(extra(&required, "Org1MSP", &[("Org1MSP", 1)]), ["Org1MSP"]);
    }

    #[test]
    fn an_unsatisfiable_key_policy_names_the_key_and_its_policy() {
        let required = [
            RequiredPolicy::chaincode(sp("OR('Org1MSP.peer', 'Org2MSP.peer')")),
            key("guarded", "AND('Org1MSP.peer', 'Org4MSP.peer')"),
        ];
        let e = plan_all(&required, &orgs(THREE), "Org1MSP", &[]).unwrap_err();
        match &e {
            PlanError::KeyUnsatisfiable { key, policy, .. } => {
                assert_eq!(key, "guarded");
                assert_eq!(policy, "AND('Org1MSP.peer', 'Org4MSP.peer')");
            }
            other => panic!("{other}"),
        }
        assert_eq!(
            e.to_string(),
            "key \"guarded\" has the endorsement policy AND('Org1MSP.peer', 'Org4MSP.peer'), \
             which cannot be satisfied by the endorsers in the connection profile (Org1MSP: 2 \
             endorsers, Org2MSP: 1 endorser, Org3MSP: 1 endorser); endorsers can only meet \
             '.peer' and '.member' principals"
        );
        // An unsatisfiable chaincode policy keeps its own error.
        let required = [RequiredPolicy::chaincode(sp("'Org1MSP.admin'"))];
        assert!(matches!(
            plan_all(&required, &orgs(THREE), "Org1MSP", &[]),
            Err(PlanError::Unsatisfiable { .. })
        ));
    }

    fn ns(writes: &[&str], metadata: &[&str], private: bool) -> NsRwSet {
        use cellchain_core::protocol::{
            CollectionHashedRwSet, KvMetadataWrite, KvWrite, KvWriteHash,
        };
        use cellchain_core::Hash32;
        NsRwSet {
            namespace: "cc".into(),
            writes: writes
                .iter()
                .map(|k| KvWrite {
                    key: k.to_string(),
                    is_delete: false,
                    value: Default::default(),
                })
                .collect(),
            metadata_writes: metadata
                .iter()
                .map(|k| KvMetadataWrite {
                    key: k.to_string(),
                    entries: Default::default(),
                })
                .collect(),
            collections: if private {
                vec![CollectionHashedRwSet {
                    collection: "c".into(),
                    hashed_reads: vec![],
                    hashed_writes: vec![KvWriteHash {
                        key_hash: Hash32::default(),
                        is_delete: true,
                        value_hash: None,
                    }],
                    pvt_rwset_hash: Hash32::default(),
                }]
            } else {
                vec![]
            },
            ..NsRwSet::default()
        }
    }

    fn reported(key: &str, policy: &str) -> KeyPolicy {
        KeyPolicy {
            namespace: "cc".into(),
            key: key.into(),
            policy: policy.into(),
        }
    }

    fn sources(r: Result<Vec<RequiredPolicy>, PlanError>) -> Vec<String> {
        r.unwrap()
            .into_iter()
            .map(|r| match r.source {
                PolicySource::Chaincode => format!("cc:{}", r.policy),
                PolicySource::Key { key, .. } => format!("{key}:{}", r.policy),
            })
            .collect()
    }

    #[test]
    fn required_policies_mirror_the_committers_rule() {
        let cc = sp("OR('Org1MSP.peer', 'Org2MSP.peer')");
        let and = "AND('Org1MSP.peer', 'Org2MSP.peer')";
        let guarded = [
            reported("guarded", and),
            reported("unwritten", "'Org3MSP.peer'"),
        ];
        // Every written key has a policy: only the key policies.
        let all_keyed = ns(&["guarded"], &["guarded"], false);
        assert_eq!(
            sources(required_policies(Some(&cc), Some(&all_keyed), &guarded)),
            [format!("guarded:{and}")]
        );
        // A written key without one: the chaincode policy too.
        let mixed = ns(&["guarded", "plain"], &[], false);
        assert_eq!(
            sources(required_policies(Some(&cc), Some(&mixed), &guarded)),
            [format!("cc:{cc}"), format!("guarded:{and}")]
        );
        // Private writes, or nothing written: the chaincode policy.
        let private = ns(&["guarded"], &[], true);
        assert_eq!(
            sources(required_policies(Some(&cc), Some(&private), &guarded)).len(),
            2
        );
        assert_eq!(
            sources(required_policies(
                Some(&cc),
                Some(&ns(&[], &[], false)),
                &guarded
            )),
            [format!("cc:{cc}")]
        );
        assert_eq!(
            sources(required_policies(Some(&cc), None, &guarded)),
            [format!("cc:{cc}")]
        );
        // Without a known chaincode policy: the key policies only.
        assert_eq!(
            sources(required_policies(None, Some(&mixed), &guarded)),
            [format!("guarded:{and}")]
        );
        // A garbled policy is a typed error naming the key.
        let e = required_policies(Some(&cc), Some(&all_keyed), &[reported("guarded", "AND(")])
            .unwrap_err();
        assert!(
            matches!(&e, PlanError::KeyPolicyInvalid { key, .. } if key == "guarded"),
            "{e}"
        );
    }

    #[test]
    fn explicit_organisations_are_deduplicated_in_order() {
        let p = Plan::of_orgs(&["Org2MSP", "Org1MSP", "Org2MSP"]);
        assert_eq!(p.msp_ids(), ["Org2MSP", "Org1MSP"]);
    }
}
