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

use std::collections::BTreeMap;
use std::fmt;

use cellchain_core::policy::{PolicyError, PrincipalRole, SignaturePolicy};

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

    #[test]
    fn explicit_organisations_are_deduplicated_in_order() {
        let p = Plan::of_orgs(&["Org2MSP", "Org1MSP", "Org2MSP"]);
        assert_eq!(p.msp_ids(), ["Org2MSP", "Org1MSP"]);
    }
}
