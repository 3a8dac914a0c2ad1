//! Exact evaluation of signature policies against a set of verified signers.
//!
//! # Semantics
//!
//! As in Fabric: a policy is satisfied when its principals can be given signers
//! so that the tree of thresholds holds, with every signer standing for at most
//! one principal in the whole tree. `member` admits any identity of its
//! organisation; `admin`, `client`, `peer` and `orderer` only that node role.
//! Fabric looks for such an assignment greedily, left to right, and so can refuse
//! a set of signers that does satisfy the policy: `AND('A.member', 'A.peer')`
//! signed by an A peer then an A admin gives the peer to `member` and leaves
//! nothing for `peer`. CellChain's answer does not depend on order: it finds an
//! assignment whenever one exists.
//!
//! The signers are assumed to be distinct identities: callers dedupe them by
//! certificate (`Identity::cert_hash`) first, or one signer signing twice would
//! count twice.
//!
//! # Algorithm
//!
//! A principal of organisation X can only take a signer of X, so what a set of
//! chosen principals asks of the signers is a *demand*: for each organisation, a
//! count per principal role. Whether the signers can meet a demand is
//! closed-form, organisation by organisation (Hall's condition for this simple
//! bipartite graph): with `c_r` signers of role `r` and demand `d_r` for the
//! specific role `r`, and `d_member` for `member`,
//! `d_r <= c_r` for every specific role and `d_member + sum d_r <= sum c_r`.
//! Feasibility is monotone: less demand is never harder.
//!
//! Bottom-up, every node gets the set of Pareto-minimal feasible demands that
//! satisfy it: a principal, its unit demand if feasible; `OutOf(n, ..)`, a
//! dynamic programme over the children that keeps, for `j = 0..=n` children
//! satisfied so far, the minimal feasible sums. Infeasible sums are pruned (an
//! infeasible demand stays infeasible whatever is added), dominated ones dropped
//! (a smaller demand does everything a larger one does). The policy holds iff
//! the root's set is non-empty.
//!
//! Two reductions keep the sets small:
//! - an organisation named by a single satisfiable principal gets no coordinate:
//!   that principal is checked alone (it competes with nothing);
//! - once the dynamic programme of a node has passed the last principal of an
//!   organisation, and the node contains all of that organisation's principals,
//!   the organisation's coordinates are zeroed (its signers are spoken for
//!   nowhere else), which usually collapses the set.
//!
//! So a demand only carries the organisations shared between the part of the
//! tree already combined and the rest. Typical policies (`OutOf(k, ..)` over
//! distinct organisations, `AND`/`OR` of those) need no coordinates at all and
//! are then evaluated as the plain boolean formula they are: about 300 ns for
//! `OutOf(3, ..)` over five organisations (see `benches/policy.rs`).
//!
//! # Worst case
//!
//! Deciding such policies exactly is NP-hard in general (`OutOf(k, ..)` over
//! `AND`s of three organisations each is set packing), and the parse limits
//! (256 principals) do not make the state space small: many overlapping
//! alternatives over the same organisations can produce exponentially many
//! minimal demands. So the work is counted (one unit per demand combined or
//! compared) and evaluation stops at [`EVALUATION_BUDGET`] units, about a few
//! milliseconds: [`SignaturePolicy::try_evaluate`] returns
//! [`PolicyError::EvaluationTooComplex`] and [`SignaturePolicy::evaluate`]
//! returns `false`. The count depends only on the policy and the multiset of
//! signers, never on the machine or the order of signers, so every node reaches
//! the same verdict. Ordered containers throughout keep results deterministic.

use std::ops::Range;

use super::{PolicyError, Principal, PrincipalRole, SignaturePolicy};
use crate::identity::{Identity, Role};

/// Most units of work one evaluation may take before giving up; see the module
/// documentation.
pub const EVALUATION_BUDGET: u64 = 1 << 20;

/// A verified signer: an identity's organisation and node role.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SignerRef<'a> {
    pub msp_id: &'a str,
    pub role: Role,
}

impl<'a> SignerRef<'a> {
    pub fn new(msp_id: &'a str, role: Role) -> SignerRef<'a> {
        SignerRef { msp_id, role }
    }
}

impl<'a> From<&'a Identity> for SignerRef<'a> {
    fn from(identity: &'a Identity) -> Self {
        SignerRef {
            msp_id: &identity.msp_id,
            role: identity.role,
        }
    }
}

/// One principal of the policy and the signer standing for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Assignment {
    /// The principal's place in the policy text (0 = first principal written).
    pub leaf: usize,
    pub principal: Principal,
    /// Index of the signer in the slice given.
    pub signer: usize,
}

impl SignaturePolicy {
    /// Whether the distinct, verified `signers` satisfy the policy. Exact and
    /// independent of the signers' order; `false` also when the policy is too
    /// complex to decide within [`EVALUATION_BUDGET`] (see the module
    /// documentation; use [`try_evaluate`](Self::try_evaluate) to tell apart).
    pub fn evaluate(&self, signers: &[SignerRef<'_>]) -> bool {
        self.try_evaluate(signers).unwrap_or(false)
    }

    /// As [`evaluate`](Self::evaluate), but says when the budget ran out.
    pub fn try_evaluate(&self, signers: &[SignerRef<'_>]) -> Result<bool, PolicyError> {
        Evaluator::run(self, signers, None)
    }

    /// [`evaluate`](Self::evaluate) over validated identities (already deduped by
    /// certificate).
    pub fn evaluate_identities(&self, identities: &[Identity]) -> bool {
        let signers: Vec<SignerRef<'_>> = identities.iter().map(SignerRef::from).collect();
        self.evaluate(&signers)
    }

    /// A witness: which signer stands for which principal, for a set of
    /// principals that satisfies the policy and that no principal can be taken
    /// from. `Ok(None)` when the policy is not satisfied.
    ///
    /// Costs one evaluation per principal: principals are dropped one by one as
    /// long as the policy stays satisfied, and the principals left, all of which
    /// are then needed, are matched to signers (augmenting paths).
    pub fn assignment(
        &self,
        signers: &[SignerRef<'_>],
    ) -> Result<Option<Vec<Assignment>>, PolicyError> {
        let leaves: Vec<&Principal> = self.principals().collect();
        let mut enabled = vec![true; leaves.len()];
        if !Evaluator::run(self, signers, Some(&enabled))? {
            return Ok(None);
        }
        for leaf in 0..leaves.len() {
            enabled[leaf] = false;
            if !Evaluator::run(self, signers, Some(&enabled))? {
                enabled[leaf] = true;
            }
        }
        // The enabled principals satisfy the policy, and any satisfying choice
        // among them uses all of them (else one could have been dropped), so
        // they have a perfect matching into the signers.
        let chosen: Vec<usize> = (0..leaves.len()).filter(|&l| enabled[l]).collect();
        let admits =
            |k: usize, s: usize| leaves[chosen[k]].admits(signers[s].msp_id, signers[s].role);
        let mut owner: Vec<Option<usize>> = vec![None; signers.len()];
        for k in 0..chosen.len() {
            let mut seen = vec![false; signers.len()];
            let matched = augment(k, &admits, &mut owner, &mut seen);
            assert!(
                matched,
                "a minimal satisfying set of principals always has a matching"
            );
        }
        let mut out: Vec<Assignment> = owner
            .iter()
            .enumerate()
            .filter_map(|(signer, k)| {
                k.map(|k| Assignment {
                    leaf: chosen[k],
                    principal: leaves[chosen[k]].clone(),
                    signer,
                })
            })
            .collect();
        out.sort_by_key(|a| a.leaf);
        Ok(Some(out))
    }
}

/// Kuhn's augmenting path from chosen principal `k`.
fn augment(
    k: usize,
    admits: &impl Fn(usize, usize) -> bool,
    owner: &mut [Option<usize>],
    seen: &mut [bool],
) -> bool {
    for s in 0..owner.len() {
        if !seen[s] && admits(k, s) {
            seen[s] = true;
            if owner[s].is_none_or(|other| augment(other, admits, owner, seen)) {
                owner[s] = Some(k);
                return true;
            }
        }
    }
    false
}

/// Slot 0 is `member` (any role); 1..=4 the node roles.
const SLOTS: usize = 5;

fn principal_slot(role: PrincipalRole) -> usize {
    match role {
        PrincipalRole::Member => 0,
        PrincipalRole::Client => 1,
        PrincipalRole::Peer => 2,
        PrincipalRole::Admin => 3,
        PrincipalRole::Orderer => 4,
    }
}

fn role_slot(role: Role) -> usize {
    match role {
        Role::Client => 1,
        Role::Peer => 2,
        Role::Admin => 3,
        Role::Orderer => 4,
    }
}

/// A set of demand vectors of `dims` coordinates each, stored flat.
#[derive(Debug, Clone, Default)]
struct Set {
    dims: usize,
    len: usize,
    data: Vec<u32>,
}

impl Set {
    fn empty(dims: usize) -> Set {
        Set {
            dims,
            len: 0,
            data: Vec::new(),
        }
    }

    fn zero(dims: usize) -> Set {
        Set {
            dims,
            len: 1,
            data: vec![0; dims],
        }
    }

    fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Whether the set is `{0}`: satisfied without using any shared signer.
    /// (A minimised set holding 0 holds nothing else.)
    fn is_zero(&self) -> bool {
        self.len == 1 && self.data.iter().all(|&x| x == 0)
    }

    fn row(&self, i: usize) -> &[u32] {
        &self.data[i * self.dims..(i + 1) * self.dims]
    }

    fn push(&mut self, v: &[u32]) {
        self.data.extend_from_slice(v);
        self.len += 1;
    }
}

/// Whether `a <= b` coordinate-wise.
fn le(a: &[u32], b: &[u32]) -> bool {
    a.iter().zip(b).all(|(x, y)| x <= y)
}

/// What an evaluation knows of one principal.
#[derive(Debug, Clone, Copy)]
struct Leaf {
    /// Enabled, and its organisation has a signer it admits.
    live: bool,
    /// Its coordinate, when its organisation has several live principals.
    dim: Option<usize>,
    /// `Some(org)` when it is the last live principal of an organisation with
    /// coordinates.
    closes: Option<usize>,
}

/// What an evaluation knows of one organisation named in the policy.
#[derive(Debug, Clone)]
struct Org {
    /// Signers per slot; slot 0 counts them all.
    counts: [u32; SLOTS],
    /// Live principals, the first and last of them, and a bit per slot used.
    live: usize,
    first: usize,
    last: usize,
    slots: u8,
    /// Its coordinates (empty when none), and the coordinate of each slot.
    dims: Range<usize>,
    slot_dim: [usize; SLOTS],
}

struct Evaluator {
    dims: usize,
    leaves: Vec<Leaf>,
    orgs: Vec<Org>,
    work: u64,
}

impl Evaluator {
    fn run(
        policy: &SignaturePolicy,
        signers: &[SignerRef<'_>],
        enabled: Option<&[bool]>,
    ) -> Result<bool, PolicyError> {
        let mut ev = Evaluator::new(policy, signers, enabled);
        let mut cursor = 0;
        if ev.dims == 0 {
            // No organisation is named by two live principals: nothing competes
            // for a signer, and the tree is a plain boolean formula.
            return Ok(ev.holds(policy, &mut cursor));
        }
        Ok(!ev.eval(policy, &mut cursor)?.is_empty())
    }

    fn new(policy: &SignaturePolicy, signers: &[SignerRef<'_>], enabled: Option<&[bool]>) -> Self {
        let principals: Vec<&Principal> = policy.principals().collect();
        let mut names: Vec<&str> = principals.iter().map(|p| p.msp_id.as_str()).collect();
        names.sort_unstable();
        names.dedup();
        let org_index = |id: &str| names.binary_search(&id).ok();

        let mut orgs = vec![
            Org {
                counts: [0; SLOTS],
                live: 0,
                first: usize::MAX,
                last: usize::MAX,
                slots: 0,
                dims: 0..0,
                slot_dim: [usize::MAX; SLOTS],
            };
            names.len()
        ];
        for s in signers {
            if let Some(o) = org_index(s.msp_id) {
                orgs[o].counts[0] += 1;
                orgs[o].counts[role_slot(s.role)] += 1;
            }
        }

        let mut leaves = Vec::with_capacity(principals.len());
        for (i, p) in principals.iter().enumerate() {
            let org = &mut orgs[org_index(&p.msp_id).expect("collected from the same principals")];
            let slot = principal_slot(p.role);
            let live = enabled.is_none_or(|e| e[i]) && org.counts[slot] > 0;
            if live {
                org.live += 1;
                org.first = org.first.min(i);
                org.last = i;
                org.slots |= 1 << slot;
            }
            leaves.push(Leaf {
                live,
                dim: None,
                closes: None,
            });
        }

        // Coordinates only for organisations whose signers several principals compete for.
        let mut dims = 0;
        for org in orgs.iter_mut().filter(|o| o.live >= 2) {
            let start = dims;
            for slot in 0..SLOTS {
                if org.slots & (1 << slot) != 0 {
                    org.slot_dim[slot] = dims;
                    dims += 1;
                }
            }
            org.dims = start..dims;
        }
        if dims > 0 {
            for (i, p) in principals.iter().enumerate() {
                let o = org_index(&p.msp_id).expect("collected from the same principals");
                if leaves[i].live && orgs[o].live >= 2 {
                    leaves[i].dim = Some(orgs[o].slot_dim[principal_slot(p.role)]);
                    if orgs[o].last == i {
                        leaves[i].closes = Some(o);
                    }
                }
            }
        }
        Evaluator {
            dims,
            leaves,
            orgs,
            work: 0,
        }
    }

    /// The boolean evaluation used when no coordinates are needed.
    fn holds(&self, node: &SignaturePolicy, cursor: &mut usize) -> bool {
        match node {
            SignaturePolicy::SignedBy(_) => {
                *cursor += 1;
                self.leaves[*cursor - 1].live
            }
            SignaturePolicy::NOutOf { n, rules } => {
                let mut held = 0;
                for rule in rules {
                    held += usize::from(self.holds(rule, cursor));
                }
                held >= *n
            }
        }
    }

    fn spend(&mut self, units: u64) -> Result<(), PolicyError> {
        self.work += units;
        if self.work > EVALUATION_BUDGET {
            return Err(PolicyError::EvaluationTooComplex {
                budget: EVALUATION_BUDGET,
            });
        }
        Ok(())
    }

    /// Whether the signers can meet demand `v` (Hall's condition per organisation).
    fn feasible(&self, v: &[u32]) -> bool {
        self.orgs.iter().filter(|o| !o.dims.is_empty()).all(|org| {
            let mut used = 0;
            for (slot, &d) in org.slot_dim.iter().enumerate() {
                if d == usize::MAX {
                    continue;
                }
                if slot != 0 && v[d] > org.counts[slot] {
                    return false;
                }
                used += v[d];
            }
            used <= org.counts[0]
        })
    }

    fn eval(&mut self, node: &SignaturePolicy, cursor: &mut usize) -> Result<Set, PolicyError> {
        match node {
            SignaturePolicy::SignedBy(_) => {
                let leaf = *cursor;
                *cursor += 1;
                Ok(if !self.leaves[leaf].live {
                    Set::empty(self.dims)
                } else if let Some(d) = self.leaves[leaf].dim {
                    let mut unit = Set::zero(self.dims);
                    unit.data[d] = 1;
                    unit
                } else {
                    Set::zero(self.dims)
                })
            }
            SignaturePolicy::NOutOf { n, rules } => self.gate(*n, rules, cursor),
        }
    }

    /// `OutOf(n, rules)`: `t[j]` holds the minimal demands satisfying `j` of the
    /// children seen so far.
    fn gate(
        &mut self,
        n: usize,
        rules: &[SignaturePolicy],
        cursor: &mut usize,
    ) -> Result<Set, PolicyError> {
        let lo = *cursor;
        let m = rules.len();
        // Only policies built by hand get here with n == 0 (always satisfied, as
        // in Fabric) or n > m (never).
        if n == 0 || n > m {
            skip(rules, cursor);
            return Ok(if n == 0 {
                Set::zero(self.dims)
            } else {
                Set::empty(self.dims)
            });
        }
        let mut t: Vec<Set> = (0..=n)
            .map(|j| {
                if j == 0 {
                    Set::zero(self.dims)
                } else {
                    Set::empty(self.dims)
                }
            })
            .collect();
        for (i, rule) in rules.iter().enumerate() {
            let child_lo = *cursor;
            let s = self.eval(rule, cursor)?;
            let child_hi = *cursor;
            let after = m - i - 1;
            if !s.is_empty() {
                // Downwards, so that t[j - 1] is still the value before this child.
                for j in (1..=n.min(i + 1)).rev() {
                    if j + after < n {
                        break;
                    }
                    if t[j - 1].is_empty() {
                        continue;
                    }
                    let grown = self.sum(&t[j - 1], &s)?;
                    let old = std::mem::take(&mut t[j]);
                    t[j] = self.union(old, grown)?;
                }
            }
            // Counts too low to reach n even if every remaining child holds.
            for set in t.iter_mut().take(n.saturating_sub(after)) {
                *set = Set::empty(self.dims);
            }
            // Organisations whose principals all lie in this node, the last of
            // them in this child: nothing else competes for their signers.
            for leaf in child_lo..child_hi {
                if let Some(org) = self.leaves[leaf].closes {
                    if self.orgs[org].first >= lo && self.orgs[org].first < child_lo {
                        for set in t.iter_mut().filter(|set| !set.is_empty()) {
                            *set = self.forget(std::mem::take(set), org)?;
                        }
                    }
                }
            }
            if t[n].is_zero() || t.iter().all(Set::is_empty) {
                skip(&rules[i + 1..], cursor);
                break;
            }
        }
        Ok(std::mem::take(&mut t[n]))
    }

    /// The feasible sums of a demand of `a` and one of `b` (not minimised).
    fn sum(&mut self, a: &Set, b: &Set) -> Result<Set, PolicyError> {
        self.spend((a.len * b.len) as u64)?;
        let mut out = Set::empty(self.dims);
        let mut z = vec![0u32; self.dims];
        for i in 0..a.len {
            for k in 0..b.len {
                for ((z, x), y) in z.iter_mut().zip(a.row(i)).zip(b.row(k)) {
                    *z = x + y;
                }
                if self.feasible(&z) {
                    out.push(&z);
                }
            }
        }
        Ok(out)
    }

    fn union(&mut self, mut a: Set, b: Set) -> Result<Set, PolicyError> {
        a.data.extend_from_slice(&b.data);
        a.len += b.len;
        self.minimize(a)
    }

    /// Zeroes organisation `org`'s coordinates.
    fn forget(&mut self, mut set: Set, org: usize) -> Result<Set, PolicyError> {
        let range = self.orgs[org].dims.clone();
        for i in 0..set.len {
            let row = i * set.dims;
            set.data[row + range.start..row + range.end].fill(0);
        }
        self.minimize(set)
    }

    /// Keeps the minimal demands, in lexicographic order. A demand dominated by
    /// another is lexicographically after it, so one pass against the kept
    /// demands suffices.
    fn minimize(&mut self, set: Set) -> Result<Set, PolicyError> {
        if set.len <= 1 {
            return Ok(set);
        }
        self.spend(set.len as u64)?;
        let mut order: Vec<usize> = (0..set.len).collect();
        order.sort_unstable_by(|&x, &y| set.row(x).cmp(set.row(y)));
        let mut out = Set::empty(set.dims);
        for i in order {
            self.spend(out.len as u64)?;
            let v = set.row(i);
            if !(0..out.len).any(|k| le(out.row(k), v)) {
                out.push(v);
            }
        }
        Ok(out)
    }
}

/// Moves the cursor past the principals of `rules`.
fn skip(rules: &[SignaturePolicy], cursor: &mut usize) {
    fn count(node: &SignaturePolicy) -> usize {
        match node {
            SignaturePolicy::SignedBy(_) => 1,
            SignaturePolicy::NOutOf { rules, .. } => rules.iter().map(count).sum(),
        }
    }
    *cursor += rules.iter().map(count).sum::<usize>();
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(text: &str) -> SignaturePolicy {
        SignaturePolicy::parse(text).unwrap_or_else(|e| panic!("{text}: {e}"))
    }

    /// `"A.peer, B.admin"` as owned signers.
    fn signers(spec: &str) -> Vec<(String, Role)> {
        spec.split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(|s| {
                let (org, role) = s.rsplit_once('.').unwrap();
                (org.to_string(), role.parse().unwrap())
            })
            .collect()
    }

    fn refs(owned: &[(String, Role)]) -> Vec<SignerRef<'_>> {
        owned.iter().map(|(o, r)| SignerRef::new(o, *r)).collect()
    }

    fn sat(text: &str, spec: &str) -> bool {
        let owned = signers(spec);
        let p = policy(text);
        let result = p.evaluate(&refs(&owned));
        // The witness agrees with the verdict.
        assert_eq!(
            p.assignment(&refs(&owned)).unwrap().is_some(),
            result,
            "{text} / {spec}"
        );
        result
    }

    /// Fabric's evaluation: greedy, left to right, each signer used once.
    fn fabric_greedy(p: &SignaturePolicy, s: &[SignerRef<'_>], used: &mut Vec<bool>) -> bool {
        match p {
            SignaturePolicy::SignedBy(pr) => {
                for (i, sig) in s.iter().enumerate() {
                    if !used[i] && pr.admits(sig.msp_id, sig.role) {
                        used[i] = true;
                        return true;
                    }
                }
                false
            }
            SignaturePolicy::NOutOf { n, rules } => {
                let mut count = 0;
                for r in rules {
                    let mut tentative = used.clone();
                    if fabric_greedy(r, s, &mut tentative) {
                        *used = tentative;
                        count += 1;
                    }
                }
                count >= *n
            }
        }
    }

    #[test]
    fn nested_policy_needs_every_branch() {
        let p = "AND(OR('A.peer', 'B.peer'), OutOf(2, 'C.peer', 'D.peer', 'E.peer'))";
        assert!(sat(p, "B.peer, C.peer, E.peer"));
        assert!(!sat(p, "C.peer, E.peer"));
        assert!(!sat(p, "A.peer, C.peer"));
        assert!(sat(p, "A.peer, B.peer, D.peer, E.peer, C.peer"));
    }

    #[test]
    fn outof_with_a_principal_listed_twice_needs_two_signers() {
        let p = "OutOf(2, 'A.peer', 'A.peer', 'B.peer')";
        assert!(!sat(p, "A.peer"));
        assert!(sat(p, "A.peer, A.peer"));
        assert!(sat(p, "A.peer, B.peer"));
        assert!(!sat("AND('A.peer', 'A.peer')", "A.peer"));
        assert!(sat("AND('A.peer', 'A.peer')", "A.peer, A.peer"));
    }

    #[test]
    fn one_signer_counts_for_one_principal_across_branches() {
        let p = "AND(OR('A.peer', 'B.peer'), OR('A.peer', 'C.peer'))";
        assert!(!sat(p, "A.peer"));
        assert!(sat(p, "A.peer, C.peer"));
        assert!(sat(p, "A.peer, A.peer"));
    }

    #[test]
    fn an_organisation_without_signers_satisfies_nothing() {
        assert!(!sat("'Z.member'", "A.peer, B.admin"));
        assert!(!sat("AND('A.peer', 'Z.peer')", "A.peer, B.peer"));
        assert!(sat("OR('Z.peer', 'A.peer')", "A.peer"));
    }

    #[test]
    fn signers_of_other_organisations_are_ignored() {
        assert!(!sat(
            "OutOf(2, 'A.member', 'B.member')",
            "A.peer, C.peer, D.admin"
        ));
    }

    #[test]
    fn no_signers_satisfy_nothing() {
        assert!(!sat("'A.member'", ""));
        assert!(!sat("OR('A.member', 'B.member')", ""));
    }

    #[test]
    fn admin_does_not_satisfy_peer() {
        assert!(!sat("'A.peer'", "A.admin"));
        assert!(!sat("'A.admin'", "A.peer"));
        assert!(!sat("'A.client'", "A.orderer"));
        assert!(sat("'A.admin'", "A.admin"));
    }

    #[test]
    fn every_role_satisfies_member() {
        for role in ["client", "peer", "admin", "orderer"] {
            assert!(sat("'A.member'", &format!("A.{role}")), "{role}");
        }
        assert!(!sat("'A.member'", "B.peer"));
    }

    #[test]
    fn member_and_peer_are_found_in_either_signer_order() {
        let p = "AND('A.member', 'A.peer')";
        assert!(sat(p, "A.peer, A.admin"));
        assert!(sat(p, "A.admin, A.peer"));
        // Fabric's greedy evaluation gives the peer to `member` and then fails.
        let owned = signers("A.peer, A.admin");
        assert!(!fabric_greedy(
            &policy(p),
            &refs(&owned),
            &mut vec![false; 2]
        ));
    }

    #[test]
    fn member_and_admin_with_a_single_admin_is_not_satisfied() {
        assert!(!sat("AND('A.member', 'A.admin')", "A.admin"));
        assert!(sat("AND('A.member', 'A.admin')", "A.admin, A.client"));
    }

    #[test]
    fn member_takes_whatever_the_specific_roles_leave() {
        let p = "AND('A.member', 'A.member', 'A.peer', 'A.admin')";
        assert!(!sat(p, "A.peer, A.admin, A.peer"));
        assert!(sat(p, "A.admin, A.peer, A.client, A.peer"));
        assert!(!sat(
            "AND('A.peer', 'A.peer', 'A.member')",
            "A.peer, A.peer, B.admin"
        ));
    }

    #[test]
    fn three_of_five_peers() {
        let p = "OutOf(3, 'A.peer', 'B.peer', 'C.peer', 'D.peer', 'E.peer')";
        assert!(sat(p, "A.peer, C.peer, E.peer"));
        assert!(sat(p, "A.peer, B.peer, C.peer, D.peer, E.peer"));
        assert!(!sat(p, "A.peer, E.peer"));
        assert!(!sat(p, "A.peer, E.peer, E.admin"));
    }

    #[test]
    fn verdict_does_not_depend_on_signer_order() {
        let p = policy("OutOf(2, AND('A.member', 'A.peer'), OR('A.admin', 'B.peer'), 'B.member')");
        let owned = signers("A.peer, A.admin, B.client, A.client");
        let mut reversed = owned.clone();
        reversed.reverse();
        assert!(p.evaluate(&refs(&owned)));
        assert!(p.evaluate(&refs(&reversed)));
    }

    #[test]
    fn evaluates_validated_identities() {
        let identity = |msp: &str, role: Role| Identity {
            msp_id: msp.into(),
            role,
            attributes: Default::default(),
            common_name: "x".into(),
            subject: "CN=x".into(),
            serial: "1".into(),
            not_before: 0,
            not_after: 1,
            public_key: crate::crypto::PublicKey([4; 65]),
            cert_hash: crate::bytes::Hash32([0; 32]),
        };
        let p = policy("AND('Org1MSP.peer', 'Org2MSP.member')");
        assert!(p.evaluate_identities(&[
            identity("Org2MSP", Role::Admin),
            identity("Org1MSP", Role::Peer)
        ]));
        assert!(!p.evaluate_identities(&[identity("Org1MSP", Role::Peer)]));
    }

    #[test]
    fn assignment_names_a_signer_for_each_needed_principal() {
        let p = policy("AND('A.member', 'A.peer')");
        let owned = signers("A.peer, A.admin");
        let a = p.assignment(&refs(&owned)).unwrap().unwrap();
        assert_eq!(
            a,
            vec![
                Assignment {
                    leaf: 0,
                    principal: "A.member".parse().unwrap(),
                    signer: 1
                },
                Assignment {
                    leaf: 1,
                    principal: "A.peer".parse().unwrap(),
                    signer: 0
                },
            ]
        );
        let p = policy("OR('B.peer', AND('A.peer', 'C.admin'), 'A.member')");
        let owned = signers("A.peer, C.admin");
        let a = p.assignment(&refs(&owned)).unwrap().unwrap();
        assert_eq!(a.len(), 1);
        assert_eq!(a[0].leaf, 3);
    }

    #[test]
    fn adversarial_policy_is_refused_within_the_budget() {
        // 8 disjoint pairs among 16 organisations (a perfect matching in K16):
        // every organisation is shared by 15 alternatives.
        let orgs: Vec<String> = (0..16).map(|i| format!("O{i}")).collect();
        let mut pairs = Vec::new();
        for i in 0..16 {
            for j in i + 1..16 {
                pairs.push(format!("AND('{}.peer', '{}.peer')", orgs[i], orgs[j]));
            }
        }
        let p = policy(&format!("OutOf(8, {})", pairs.join(", ")));
        let owned: Vec<(String, Role)> = orgs.iter().map(|o| (o.clone(), Role::Peer)).collect();
        let started = std::time::Instant::now();
        assert_eq!(
            p.try_evaluate(&refs(&owned)),
            Err(PolicyError::EvaluationTooComplex {
                budget: EVALUATION_BUDGET
            })
        );
        assert!(!p.evaluate(&refs(&owned)));
        assert!(started.elapsed() < std::time::Duration::from_secs(5));
    }

    /// A tiny deterministic PRNG (xorshift64*).
    struct Rng(u64);
    impl Rng {
        fn below(&mut self, n: usize) -> usize {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            (self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 33) as usize % n
        }
    }

    fn random_policy(rng: &mut Rng, depth: usize) -> SignaturePolicy {
        if depth == 0 || rng.below(3) == 0 {
            let org = ["A", "B", "C"][rng.below(3)];
            SignaturePolicy::signed_by(org, PrincipalRole::ALL[rng.below(5)])
        } else {
            let m = 1 + rng.below(3);
            let rules = (0..m).map(|_| random_policy(rng, depth - 1)).collect();
            SignaturePolicy::out_of(1 + rng.below(m), rules)
        }
    }

    /// Whether the tree holds when exactly the principals in `chosen` (bit per
    /// principal, text order) are signed.
    fn holds(p: &SignaturePolicy, chosen: u32, cursor: &mut usize) -> bool {
        match p {
            SignaturePolicy::SignedBy(_) => {
                *cursor += 1;
                chosen & (1 << (*cursor - 1)) != 0
            }
            SignaturePolicy::NOutOf { n, rules } => {
                rules.iter().filter(|r| holds(r, chosen, cursor)).count() >= *n
            }
        }
    }

    /// Tries every injective assignment of signers to the principals `todo`.
    fn injective(todo: &[&Principal], s: &[SignerRef<'_>], used: &mut [bool]) -> bool {
        let Some((first, rest)) = todo.split_first() else {
            return true;
        };
        for i in 0..s.len() {
            if !used[i] && first.admits(s[i].msp_id, s[i].role) {
                used[i] = true;
                let ok = injective(rest, s, used);
                used[i] = false;
                if ok {
                    return true;
                }
            }
        }
        false
    }

    /// Brute force: some set of principals makes the tree hold and can be given
    /// distinct signers.
    fn brute_force(p: &SignaturePolicy, s: &[SignerRef<'_>]) -> bool {
        let leaves: Vec<&Principal> = p.principals().collect();
        (0u32..1 << leaves.len()).any(|chosen| {
            holds(p, chosen, &mut 0) && {
                let todo: Vec<&Principal> = (0..leaves.len())
                    .filter(|&i| chosen & (1 << i) != 0)
                    .map(|i| leaves[i])
                    .collect();
                injective(&todo, s, &mut vec![false; s.len()])
            }
        })
    }

    #[test]
    fn evaluation_matches_brute_force_on_random_policies() {
        let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
        let (mut satisfied, mut greedy_wrong) = (0, 0);
        let cases = 4000;
        for case in 0..cases {
            let p = loop {
                let p = random_policy(&mut rng, 3);
                if p.principals().count() <= 8 {
                    break p;
                }
            };
            let owned: Vec<(String, Role)> = (0..rng.below(8))
                .map(|_| {
                    (
                        ["A", "B", "C", "A", "B", "D"][rng.below(6)].to_string(),
                        Role::ALL[rng.below(4)],
                    )
                })
                .collect();
            let s = refs(&owned);
            let expected = brute_force(&p, &s);
            assert_eq!(
                p.try_evaluate(&s),
                Ok(expected),
                "case {case}: {p} with {owned:?}"
            );

            let mut reversed = s.clone();
            reversed.reverse();
            assert_eq!(p.evaluate(&reversed), expected, "case {case} reversed: {p}");

            // The witness is a valid injective assignment that makes the tree hold.
            let witness = p.assignment(&s).unwrap();
            assert_eq!(witness.is_some(), expected, "case {case}: {p}");
            if let Some(w) = witness {
                let mut chosen = 0u32;
                let mut used = vec![false; s.len()];
                for a in &w {
                    assert!(a.principal.admits(s[a.signer].msp_id, s[a.signer].role));
                    assert!(
                        !std::mem::replace(&mut used[a.signer], true),
                        "signer used twice"
                    );
                    chosen |= 1 << a.leaf;
                }
                assert!(
                    holds(&p, chosen, &mut 0),
                    "case {case}: witness {w:?} for {p}"
                );
            }

            // The planner's requirements agree: one of them can be met.
            let plans = p.minimal_requirements(10_000).unwrap();
            let planned = plans.iter().any(|r| {
                let todo: Vec<&Principal> = r
                    .iter()
                    .flat_map(|(p, &k)| std::iter::repeat_n(p, k))
                    .collect();
                injective(&todo, &s, &mut vec![false; s.len()])
            });
            assert_eq!(planned, expected, "case {case}: plans {plans:?} for {p}");

            satisfied += usize::from(expected);
            greedy_wrong +=
                usize::from(expected && !fabric_greedy(&p, &s, &mut vec![false; s.len()]));
        }
        // The sample covers both verdicts and cases where greedy evaluation fails.
        eprintln!("{satisfied} of {cases} satisfied, {greedy_wrong} refused by greedy evaluation");
        assert!(
            satisfied > cases / 5 && satisfied < cases * 4 / 5,
            "{satisfied} satisfied"
        );
        assert!(
            greedy_wrong > 0,
            "no case where Fabric's greedy evaluation is wrong"
        );
    }
}
