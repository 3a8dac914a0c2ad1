//! Planning endorsements: which combinations of principals satisfy a policy.

use std::collections::BTreeMap;

use super::{PolicyError, Principal, SignaturePolicy};

/// How many signatures of each principal one way of satisfying a policy needs.
pub type Requirement = BTreeMap<Principal, usize>;

impl SignaturePolicy {
    /// Every minimal way of satisfying the policy: multisets of principals, each
    /// of which, given one distinct signer per principal, satisfies the policy,
    /// and none of which contains another. Sorted by number of signatures, then
    /// by principal; the SDK picks the first one it can meet with the peers it
    /// can reach.
    ///
    /// `OutOf(k, ..)` over `m` organisations has `C(m, k)` of them, so the count
    /// is bounded: more than `limit` at any step is
    /// [`PolicyError::TooManyCombinations`]. A step combines two lists of at most
    /// `limit` entries, so time is `O(limit^2)` per sub-policy.
    ///
    /// Minimality is by inclusion of multisets: `{A.peer}` and `{A.member}` are
    /// both listed for `OR('A.peer', 'A.member')`, although any A peer meets both.
    pub fn minimal_requirements(&self, limit: usize) -> Result<Vec<Requirement>, PolicyError> {
        let mut out = requirements(self, limit)?;
        out.sort_by(|a, b| (total(a), a).cmp(&(total(b), b)));
        Ok(out)
    }
}

fn total(r: &Requirement) -> usize {
    r.values().sum()
}

fn requirements(node: &SignaturePolicy, limit: usize) -> Result<Vec<Requirement>, PolicyError> {
    match node {
        SignaturePolicy::SignedBy(p) => Ok(vec![BTreeMap::from([(p.clone(), 1)])]),
        SignaturePolicy::NOutOf { n, rules } => {
            let (n, m) = (*n, rules.len());
            if n > m {
                return Ok(Vec::new());
            }
            // t[j]: minimal requirements satisfying j of the children seen so far.
            let mut t: Vec<Vec<Requirement>> = vec![Vec::new(); n + 1];
            t[0].push(Requirement::new());
            for (i, rule) in rules.iter().enumerate() {
                let s = requirements(rule, limit)?;
                let after = m - i - 1;
                for j in (1..=n.min(i + 1)).rev() {
                    if j + after < n {
                        break;
                    }
                    let mut grown: Vec<Requirement> = std::mem::take(&mut t[j]);
                    for a in &t[j - 1] {
                        for b in &s {
                            let mut sum = a.clone();
                            for (p, k) in b {
                                *sum.entry(p.clone()).or_default() += k;
                            }
                            grown.push(sum);
                        }
                    }
                    t[j] = minimal(grown);
                    if t[j].len() > limit {
                        return Err(PolicyError::TooManyCombinations { limit });
                    }
                }
            }
            Ok(std::mem::take(&mut t[n]))
        }
    }
}

/// Drops duplicates and requirements that contain another.
fn minimal(mut all: Vec<Requirement>) -> Vec<Requirement> {
    all.sort_by(|a, b| (total(a), a).cmp(&(total(b), b)));
    all.dedup();
    let mut kept: Vec<Requirement> = Vec::new();
    for r in all {
        // A requirement contained in `r` has no more signatures, so comes first.
        let contains = |small: &Requirement| {
            small
                .iter()
                .all(|(p, k)| r.get(p).is_some_and(|have| have >= k))
        };
        if !kept.iter().any(contains) {
            kept.push(r);
        }
    }
    kept
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plans(text: &str) -> Vec<String> {
        SignaturePolicy::parse(text)
            .unwrap()
            .minimal_requirements(100)
            .unwrap()
            .iter()
            .map(|r| {
                r.iter()
                    .map(|(p, k)| {
                        if *k == 1 {
                            p.to_string()
                        } else {
                            format!("{k}x{p}")
                        }
                    })
                    .collect::<Vec<_>>()
                    .join("+")
            })
            .collect()
    }

    #[test]
    fn outof_lists_every_combination() {
        assert_eq!(
            plans("OutOf(2, 'A.peer', 'B.peer', 'C.peer')"),
            ["A.peer+B.peer", "A.peer+C.peer", "B.peer+C.peer"]
        );
    }

    #[test]
    fn smaller_combinations_come_first_and_supersets_are_dropped() {
        assert_eq!(
            plans("OR(AND('A.peer', 'B.peer'), 'C.admin', AND('C.admin', 'D.peer'))"),
            ["C.admin", "A.peer+B.peer"]
        );
    }

    #[test]
    fn repeated_principals_are_counted() {
        assert_eq!(
            plans("AND('A.peer', OR('A.peer', 'B.peer'))"),
            ["A.peer+B.peer", "2xA.peer"]
        );
    }

    #[test]
    fn too_many_combinations_is_an_error() {
        let orgs: Vec<String> = (0..12).map(|i| format!("'O{i}.peer'")).collect();
        let p = SignaturePolicy::parse(&format!("OutOf(6, {})", orgs.join(", "))).unwrap();
        assert_eq!(
            p.minimal_requirements(500),
            Err(PolicyError::TooManyCombinations { limit: 500 })
        );
        assert_eq!(p.minimal_requirements(1000).unwrap().len(), 924);
    }
}
