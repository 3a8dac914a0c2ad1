//! [`Contract`]: evaluate (query one endorser) and submit (endorse as the policy
//! requires, order, wait for the commit).

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use cellchain_core::bytes::sha256;
use cellchain_core::crypto::random_nonce;
use cellchain_core::lifecycle::{
    builtin_definition, ChaincodeDefinition, EndorsementPolicy, LIFECYCLE,
};
use cellchain_core::policy::{PrincipalRole, SignaturePolicy};
use cellchain_core::protocol::{
    decode, ChaincodeRef, Endorsement, EndorserTransaction, Envelope, Header, KeyPolicy, Payload,
    PayloadData, Proposal, ProposalResponse, ProposalResponsePayload, SignedProposal, TxRwSet,
};
use cellchain_core::Bytes;
use futures_util::future::try_join_all;
use serde_json::Value;

use crate::error::{Attempt, SdkError};
use crate::gateway::{now, Network};
use crate::plan::{plan, plan_all, required_policies, satisfied, EndorsingOrg, Plan};
use crate::profile::Endpoint;
use crate::transaction::{Commit, SubmitResult, Transaction};

/// Most further rounds of endorsements asked for key-level policies (a round
/// can reveal policies only when endorsers are at different ledger heights).
const MAX_EXTRA_ROUNDS: usize = 2;

/// A chaincode on a channel. Cheap to clone; the `with_*` settings apply to the
/// copy they return.
#[derive(Clone)]
pub struct Contract {
    network: Network,
    name: String,
    endorsing_orgs: Option<Vec<String>>,
    mvcc_retries: u32,
}

impl Contract {
    pub(crate) fn new(network: Network, name: &str) -> Contract {
        Contract {
            network,
            name: name.to_string(),
            endorsing_orgs: None,
            mvcc_retries: 0,
        }
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn network(&self) -> &Network {
        &self.network
    }

    /// Endorse with one endorser of each of these organisations instead of
    /// planning from the chaincode's policy.
    pub fn with_endorsing_orgs<S: AsRef<str>>(mut self, orgs: impl IntoIterator<Item = S>) -> Self {
        self.endorsing_orgs = Some(orgs.into_iter().map(|s| s.as_ref().to_string()).collect());
        self
    }

    /// Re-runs a whole transaction (new proposal, endorsements, ordering) up to `n`
    /// times when it commits as `MVCC_READ_CONFLICT` or `PHANTOM_READ_CONFLICT`
    /// (another transaction changed what it read). Off (0) by default: only safe
    /// when the transaction's effect is meant to be computed from fresh state.
    pub fn retry_on_mvcc(mut self, n: u32) -> Self {
        self.mvcc_retries = n;
        self
    }

    /// Runs `function` read-only on one endorser and returns the chaincode's
    /// payload. Nothing is ordered. The caller's organisation's endorsers are
    /// asked first, highest ledger first; the next is tried when one cannot be
    /// reached or is overloaded. An endorser whose ledger lacks a block in which
    /// this gateway saw one of its transactions committed is passed over for up to
    /// [`GatewayOptions::consistency_wait`](crate::GatewayOptions), so a submit
    /// followed by an evaluate reads its own write.
    pub async fn evaluate(&self, function: &str, args: Vec<Value>) -> Result<Vec<u8>, SdkError> {
        self.evaluate_with(BTreeMap::new(), function, args).await
    }

    /// As [`Contract::evaluate`], with transient (private) inputs.
    pub async fn evaluate_with(
        &self,
        transient: BTreeMap<String, Bytes>,
        function: &str,
        args: Vec<Value>,
    ) -> Result<Vec<u8>, SdkError> {
        let (_, signed) = self.proposal(function, args, transient)?;
        let (mine, others) = self.network.all_endorsers_caller_first();
        if mine.is_empty() && others.is_empty() {
            return Err(SdkError::Config {
                reason: "the connection profile lists no endorser".into(),
            });
        }
        let mut candidates = self.network.rank_by_height(mine).await;
        candidates.extend(self.network.rank_by_height(others).await);
        let path = format!("/v1/channels/{}/evaluate", self.network.channel);
        // Read-your-writes: an answer from a ledger without this gateway's
        // committed transactions is kept only as a last resort.
        let needed = self.network.min_height();
        let deadline = Instant::now() + self.network.options().consistency_wait;
        let mut stale: Option<ProposalResponse> = None;
        loop {
            let mut attempts = Vec::new();
            for node in &candidates {
                match self.ask(node, &path, &signed, "evaluation").await {
                    Ok(r) if r.ledger_height >= needed => return Ok(r.response.payload.0),
                    Ok(r) => {
                        if stale
                            .as_ref()
                            .is_none_or(|s| r.ledger_height > s.ledger_height)
                        {
                            stale = Some(r);
                        }
                    }
                    Err(Asked::Failed(e)) => return Err(e),
                    Err(Asked::TryNext(a)) => attempts.push(a),
                }
            }
            match stale.take() {
                None => {
                    return Err(SdkError::Unavailable {
                        role: "endorser",
                        scope: format!("channel {}", self.network.channel),
                        request: "evaluation",
                        attempts,
                    })
                }
                Some(s) if Instant::now() >= deadline => {
                    tracing::debug!(
                        needed,
                        height = s.ledger_height,
                        "no endorser caught up; answering from the freshest"
                    );
                    return Ok(s.response.payload.0);
                }
                Some(s) => {
                    stale = Some(s);
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            }
        }
    }

    /// Submits `function`: endorsed as planned, ordered, and committed. Returns once
    /// the caller's organisation's committer reports the transaction valid;
    /// `Err(SdkError::Invalid { .. })` when it was committed as invalid.
    pub async fn submit(&self, function: &str, args: Vec<Value>) -> Result<SubmitResult, SdkError> {
        self.submit_with(BTreeMap::new(), function, args).await
    }

    /// As [`Contract::submit`], with transient (private) inputs: they reach the
    /// endorsers only, never the orderers or the ledger.
    pub async fn submit_with(
        &self,
        transient: BTreeMap<String, Bytes>,
        function: &str,
        args: Vec<Value>,
    ) -> Result<SubmitResult, SdkError> {
        let mut retries = 0;
        loop {
            let commit = self
                .submit_async_with(transient.clone(), function, args.clone())
                .await?;
            match commit.status().await {
                Err(e) if e.is_read_conflict() && retries < self.mvcc_retries => {
                    retries += 1;
                    tracing::info!(chaincode = %self.name, function, error = %e, retries, "retrying after a read conflict");
                }
                other => return other,
            }
        }
    }

    /// Endorses and orders `function`, without waiting for the commit: the
    /// [`Commit`] has the tx id and waits for the status on demand.
    pub async fn submit_async(&self, function: &str, args: Vec<Value>) -> Result<Commit, SdkError> {
        self.submit_async_with(BTreeMap::new(), function, args)
            .await
    }

    /// As [`Contract::submit_async`], with transient inputs.
    pub async fn submit_async_with(
        &self,
        transient: BTreeMap<String, Bytes>,
        function: &str,
        args: Vec<Value>,
    ) -> Result<Commit, SdkError> {
        self.endorse_with(transient, function, args)
            .await?
            .submit()
            .await
    }

    /// Only the first step of a submit: the endorsed, signed [`Transaction`], ready
    /// to be ordered with [`Transaction::submit`].
    pub async fn endorse(&self, function: &str, args: Vec<Value>) -> Result<Transaction, SdkError> {
        self.endorse_with(BTreeMap::new(), function, args).await
    }

    /// As [`Contract::endorse`], with transient inputs.
    ///
    /// Endorsements are first asked as [planned](Contract::plan) from the
    /// policy of the chaincode's committed definition. When the endorsers ran
    /// another definition than the one planned from (an upgrade this network
    /// had not seen), the definition is read from the ledger again, once, and
    /// the endorsements its policy still needs are asked. A transaction that
    /// commits as `CHAINCODE_VERSION_CONFLICT` or `ENDORSEMENT_POLICY_FAILURE`
    /// drops the cached definition, so the next plan reads it again. The
    /// endorsers report the key-level endorsement
    /// policies of the keys the transaction writes; when the endorsements
    /// obtained do not satisfy every policy the committer will check
    /// ([`required_policies`]), the fewest further organisations satisfying
    /// them all are asked ([`plan_all`]) and every response must agree. A
    /// key-level policy that the profile's endorsers cannot satisfy is
    /// [`SdkError::Plan`] naming the key. With
    /// [`Contract::with_endorsing_orgs`] exactly the organisations named are
    /// asked, whatever the policies.
    pub async fn endorse_with(
        &self,
        transient: BTreeMap<String, Bytes>,
        function: &str,
        args: Vec<Value>,
    ) -> Result<Transaction, SdkError> {
        let (plan, mut planned) = self.plan_and_policy().await?;
        let (header, signed) = self.proposal(function, args, transient)?;
        let path = format!("/v1/channels/{}/endorse", self.network.channel);
        let mut used: BTreeSet<String> = BTreeSet::new();
        let mut responses = self.endorse_round(&plan, &signed, &path, &used).await?;
        let mut agreed = agree(&signed.proposal, responses.clone())?;
        let mut replanned = false;
        if let Some(p) = planned.as_mut() {
            if agreed.chaincode.sequence != p.sequence {
                replanned = true;
                // The endorsers ran another definition than the one planned
                // from (an upgrade since it was cached): ask the ledger again,
                // once, and plan the rest from the current policy.
                tracing::info!(
                    chaincode = %self.name,
                    planned = p.sequence,
                    endorsed = agreed.chaincode.sequence,
                    "the chaincode definition changed; reading it again"
                );
                self.network.forget_definition(&self.name);
                *p = self.planned(self.definition().await?)?;
            }
        }
        if let Some(planned) = &planned {
            for _ in 0..MAX_EXTRA_ROUNDS {
                let Some(extra) =
                    self.extra_plan(&planned.policy, replanned, &agreed, &responses)?
                else {
                    break;
                };
                tracing::info!(
                    chaincode = %self.name,
                    tx_id = %header.tx_id,
                    orgs = ?extra.orgs,
                    "key-level endorsement policies need further endorsements"
                );
                used.extend(responses.iter().map(|(n, _)| n.clone()));
                responses.extend(self.endorse_round(&extra, &signed, &path, &used).await?);
                agreed = agree(&signed.proposal, responses.clone())?;
            }
        }
        let envelope = Envelope::sign(
            &Payload {
                header: header.clone(),
                data: PayloadData::Endorser(EndorserTransaction {
                    proposal: signed.proposal.clone(),
                    response_payload: agreed.payload_bytes,
                    endorsements: agreed.endorsements,
                }),
            },
            self.network.identity().signer(),
        )
        .map_err(|source| SdkError::Sign {
            what: "transaction envelope",
            source,
        })?;
        Ok(Transaction::new(
            self.network.clone(),
            self.name.clone(),
            header.tx_id,
            envelope,
            agreed.payload,
            agreed.endorsers,
        ))
    }

    /// Asks `needed` distinct endorsers of each organisation of `plan`, none of
    /// `exclude` (by profile name), highest ledger first.
    async fn endorse_round(
        &self,
        plan: &Plan,
        signed: &SignedProposal,
        path: &str,
        exclude: &BTreeSet<String>,
    ) -> Result<Vec<(String, ProposalResponse)>, SdkError> {
        let per_org = plan.orgs.iter().map(|(org, needed)| async move {
            let candidates: Vec<Endpoint> = self
                .network
                .rank_by_height(self.network.org_endorsers(org))
                .await
                .into_iter()
                .filter(|n| !exclude.contains(&n.name))
                .collect();
            let mut got = Vec::new();
            let mut attempts = Vec::new();
            for node in &candidates {
                match self.ask(node, path, signed, "proposal").await {
                    Ok(r) => got.push((node.name.clone(), r)),
                    Err(Asked::Failed(e)) => return Err(e),
                    Err(Asked::TryNext(a)) => attempts.push(a),
                }
                if got.len() == *needed {
                    return Ok(got);
                }
            }
            Err(SdkError::Unavailable {
                role: "endorser",
                scope: format!(
                    "organisation {org} ({needed} needed, {} in the profile{})",
                    candidates.len(),
                    if exclude.is_empty() {
                        ""
                    } else {
                        " besides those already endorsing"
                    }
                ),
                request: "proposal",
                attempts,
            })
        });
        Ok(try_join_all(per_org).await?.into_iter().flatten().collect())
    }

    /// The further endorsements the key-level policies reported by the
    /// endorsers need (their union), and the chaincode's `policy` when it is
    /// not the one the first endorsements were planned from (`replanned`);
    /// `None` when those obtained satisfy every policy the committer will check.
    fn extra_plan(
        &self,
        policy: &SignaturePolicy,
        replanned: bool,
        agreed: &Agreed,
        responses: &[(String, ProposalResponse)],
    ) -> Result<Option<Plan>, SdkError> {
        let reported: BTreeSet<&KeyPolicy> = responses
            .iter()
            .flat_map(|(_, r)| r.key_policies.iter())
            .collect();
        if reported.is_empty() && !replanned {
            // Planned from the policy: it is satisfied.
            return Ok(None);
        }
        let reported: Vec<KeyPolicy> = reported.into_iter().cloned().collect();
        let plan_error = |source| SdkError::Plan {
            chaincode: self.name.clone(),
            source,
        };
        let rwset = agreed
            .rwset
            .ns_rwsets
            .iter()
            .find(|ns| ns.namespace == self.name);
        let required = required_policies(Some(policy), rwset, &reported).map_err(plan_error)?;
        let endorsers: Vec<&str> = agreed
            .endorsements
            .iter()
            .map(|e| e.endorser.msp_id.as_str())
            .collect();
        if satisfied(&required, &endorsers) {
            return Ok(None);
        }
        let mut endorsed: Vec<(String, usize)> = Vec::new();
        for msp in endorsers {
            match endorsed.iter_mut().find(|(m, _)| m == msp) {
                Some((_, n)) => *n += 1,
                None => endorsed.push((msp.to_string(), 1)),
            }
        }
        let extra = plan_all(
            &required,
            &self.endorsing_orgs_of_profile(),
            self.network.identity().msp_id(),
            &endorsed,
        )
        .map_err(plan_error)?;
        // Nothing more can be planned (the committer has the last word).
        Ok((!extra.orgs.is_empty()).then_some(extra))
    }

    fn endorsing_orgs_of_profile(&self) -> Vec<EndorsingOrg> {
        self.network
            .profile()
            .organizations
            .iter()
            .map(|o| EndorsingOrg::new(&o.msp_id, o.endorsers.len()))
            .collect()
    }

    /// The organisations to ask: the explicit override, else planned from the
    /// endorsement policy of the chaincode's committed definition (asked of the
    /// ledger with [`Lifecycle::query_committed`](crate::Lifecycle::query_committed)
    /// and cached by the [`Network`]). A channel policy (e.g. `MAJORITY
    /// Endorsement`) is planned as every organisation of the profile that has
    /// endorsers. No committed definition is [`SdkError::NoPolicy`].
    pub async fn plan(&self) -> Result<Plan, SdkError> {
        Ok(self.plan_and_policy().await?.0)
    }

    /// The plan, and (unless the organisations are named) the definition's
    /// sequence and the policy it was planned from.
    async fn plan_and_policy(&self) -> Result<(Plan, Option<Planned>), SdkError> {
        let profile = self.network.profile();
        if let Some(orgs) = &self.endorsing_orgs {
            for org in orgs {
                if profile.org(org).is_none_or(|o| o.endorsers.is_empty()) {
                    return Err(SdkError::Config {
                        reason: format!(
                            "organisation {org}, named to endorse chaincode {}, has no endorser in the connection profile",
                            self.name
                        ),
                    });
                }
            }
            return Ok((Plan::of_orgs(orgs), None));
        }
        let planned = self.planned(self.definition().await?)?;
        let orgs = self.endorsing_orgs_of_profile();
        let plan =
            plan(&planned.policy, &orgs, self.network.identity().msp_id()).map_err(|source| {
                SdkError::Plan {
                    chaincode: self.name.clone(),
                    source,
                }
            })?;
        Ok((plan, Some(planned)))
    }

    /// The committed definition: the built-in one for `_lifecycle`, else the
    /// network's cached copy, else asked of the ledger.
    async fn definition(&self) -> Result<ChaincodeDefinition, SdkError> {
        if self.name == LIFECYCLE {
            return Ok(builtin_definition());
        }
        if let Some(def) = self.network.cached_definition(&self.name) {
            return Ok(def);
        }
        self.network
            .lifecycle()
            .query_committed(&self.name)
            .await?
            .ok_or_else(|| SdkError::NoPolicy {
                chaincode: self.name.clone(),
                channel: self.network.channel.clone(),
            })
    }

    /// The signature policy to plan a definition's endorsements with.
    fn planned(&self, def: ChaincodeDefinition) -> Result<Planned, SdkError> {
        let policy = match def.endorsement_policy {
            EndorsementPolicy::Signature(p) => p,
            // Which organisations a channel policy counts is in the channel's
            // configuration, which the SDK does not read: every organisation
            // with endorsers satisfies any of the channel's endorsement policies.
            EndorsementPolicy::Channel(_) => {
                let orgs: Vec<SignaturePolicy> = self
                    .network
                    .profile()
                    .organizations
                    .iter()
                    .filter(|o| !o.endorsers.is_empty())
                    .map(|o| SignaturePolicy::signed_by(&o.msp_id, PrincipalRole::Peer))
                    .collect();
                if orgs.is_empty() {
                    return Err(SdkError::Config {
                        reason: "the connection profile lists no endorser".into(),
                    });
                }
                SignaturePolicy::and(orgs)
            }
        };
        Ok(Planned {
            sequence: def.sequence,
            policy,
        })
    }

    fn proposal(
        &self,
        function: &str,
        args: Vec<Value>,
        transient: BTreeMap<String, Bytes>,
    ) -> Result<(Header, SignedProposal), SdkError> {
        let identity = self.network.identity();
        let header = Header::new(
            &self.network.channel,
            identity.serialized().clone(),
            random_nonce(),
            now(),
        );
        let proposal = Proposal {
            header: header.clone(),
            chaincode: self.name.clone(),
            function: function.to_string(),
            args,
            transient_digest: None,
        };
        let signed =
            SignedProposal::sign(proposal, transient, identity.signer()).map_err(|source| {
                SdkError::Sign {
                    what: "proposal",
                    source,
                }
            })?;
        Ok((header, signed))
    }

    /// One proposal to one endorser: the response when the chaincode succeeded.
    async fn ask(
        &self,
        node: &Endpoint,
        path: &str,
        signed: &SignedProposal,
        request: &'static str,
    ) -> Result<ProposalResponse, Asked> {
        let timeout = self.network.options().request_timeout;
        match self
            .network
            .transport()
            .post::<ProposalResponse>(node, path, signed, timeout)
            .await
        {
            Ok(r) => {
                self.network.saw_height(node, r.ledger_height);
                if !r.response.is_success() {
                    return Err(Asked::Failed(SdkError::Chaincode {
                        endorser: node.name.clone(),
                        status: r.response.status,
                        message: r.response.message,
                    }));
                }
                Ok(r)
            }
            // Retryable, or this endorser lacks the chaincode another may have.
            Err(e) if e.is_retryable() || e.kind() == Some("chaincode_not_installed") => {
                tracing::debug!(endorser = %node, error = %e, "endorser unavailable, trying the next");
                Err(Asked::TryNext(e.attempt(node)))
            }
            Err(e) => Err(Asked::Failed(e.into_sdk("endorser", node, request))),
        }
    }
}

/// What a plan was made from: the definition's sequence and its policy.
struct Planned {
    sequence: u64,
    policy: SignaturePolicy,
}

/// Why one endorser did not give a usable response.
enum Asked {
    /// Final: the chaincode failed, or the endorser refused the proposal itself.
    Failed(SdkError),
    /// The endorser could not serve now; another may.
    TryNext(Attempt),
}

/// The endorsements of one agreed result.
#[derive(Debug)]
pub(crate) struct Agreed {
    pub payload_bytes: Bytes,
    /// The chaincode's response payload (the transaction's result).
    pub payload: Vec<u8>,
    pub endorsements: Vec<Endorsement>,
    pub endorsers: Vec<String>,
    /// The agreed read/write set.
    pub rwset: TxRwSet,
    /// The chaincode (and definition) the endorsers ran.
    pub chaincode: ChaincodeRef,
}

/// Checks that every endorser signed byte-identical response payloads for this
/// proposal, and collects the endorsements.
pub(crate) fn agree(
    proposal: &[u8],
    responses: Vec<(String, ProposalResponse)>,
) -> Result<Agreed, SdkError> {
    let bad = |node: &str, reason: String| SdkError::BadAnswer {
        role: "endorser",
        node: node.to_string(),
        request: "proposal",
        reason,
    };
    let Some((first_node, first)) = responses.first() else {
        return Err(SdkError::Config {
            reason: "no endorsement was asked for (empty plan)".into(),
        });
    };
    let payload_bytes = first
        .payload
        .clone()
        .ok_or_else(|| bad(first_node, "a successful response without a payload".into()))?;
    if responses
        .iter()
        .any(|(_, r)| r.payload.as_ref() != Some(&payload_bytes))
    {
        return Err(SdkError::NonDeterministic {
            endorsers: responses
                .iter()
                .map(|(n, r)| {
                    (
                        n.clone(),
                        sha256(r.payload.as_ref().map(|p| p.as_slice()).unwrap_or(&[])),
                    )
                })
                .collect(),
        });
    }
    let decoded: ProposalResponsePayload = decode("proposal response payload", &payload_bytes)
        .map_err(|e| bad(first_node, e.to_string()))?;
    if decoded.proposal_hash != sha256(proposal) {
        return Err(bad(
            first_node,
            "the response payload answers another proposal (proposal hash mismatch)".into(),
        ));
    }
    let mut endorsements = Vec::new();
    let mut endorsers = Vec::new();
    for (node, r) in responses {
        let e = r
            .endorsement
            .ok_or_else(|| bad(&node, "a successful response without an endorsement".into()))?;
        endorsements.push(e);
        endorsers.push(node);
    }
    Ok(Agreed {
        payload_bytes,
        payload: decoded.response.payload.0,
        endorsements,
        endorsers,
        rwset: decoded.rwset,
        chaincode: decoded.chaincode,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use cellchain_core::identity::SerializedIdentity;
    use cellchain_core::protocol::{encode, ChaincodeRef, ChaincodeResponse, TxRwSet};

    fn response(proposal: &[u8], result: &str) -> ProposalResponse {
        let ok = ChaincodeResponse {
            status: 200,
            message: String::new(),
            payload: Bytes(result.as_bytes().to_vec()),
        };
        let payload = encode(&ProposalResponsePayload {
            proposal_hash: sha256(proposal),
            chaincode: ChaincodeRef {
                name: "cc".into(),
                version: "1".into(),
                sequence: 1,
            },
            rwset: TxRwSet::default(),
            events: vec![],
            response: ok.clone(),
        });
        ProposalResponse {
            response: ok,
            payload: Some(payload),
            endorsement: Some(Endorsement {
                endorser: SerializedIdentity {
                    msp_id: "Org1MSP".into(),
                    cert: "pem".into(),
                },
                signature: Bytes(vec![1, 2, 3]),
            }),
            ledger_height: 3,
            key_policies: vec![],
        }
    }

    #[test]
    fn identical_payloads_agree_and_yield_the_result() {
        let p = b"proposal";
        let agreed = agree(
            p,
            vec![
                ("e1".into(), response(p, "7")),
                ("e2".into(), response(p, "7")),
            ],
        )
        .unwrap();
        assert_eq!(agreed.payload, b"7");
        assert_eq!(agreed.endorsements.len(), 2);
        assert_eq!(agreed.endorsers, ["e1", "e2"]);
    }

    #[test]
    fn differing_payloads_are_non_deterministic_naming_each_endorser() {
        let p = b"proposal";
        let (a, b) = (response(p, "7"), response(p, "8"));
        let (ha, hb) = (
            sha256(a.payload.as_ref().unwrap()),
            sha256(b.payload.as_ref().unwrap()),
        );
        let e = agree(p, vec![("e1".into(), a), ("e2".into(), b)]).unwrap_err();
        match e {
            SdkError::NonDeterministic { endorsers } => {
                assert_eq!(endorsers, vec![("e1".into(), ha), ("e2".into(), hb)]);
            }
            other => panic!("{other}"),
        }
    }

    #[test]
    fn a_payload_for_another_proposal_or_without_endorsement_is_refused() {
        let e = agree(b"mine", vec![("e1".into(), response(b"other", "7"))]).unwrap_err();
        assert!(e.to_string().contains("proposal hash mismatch"), "{e}");
        let mut r = response(b"mine", "7");
        r.endorsement = None;
        let e = agree(b"mine", vec![("e1".into(), r)]).unwrap_err();
        assert_eq!(
            e.to_string(),
            "endorser e1 sent a bad answer to the proposal: a successful response without an endorsement"
        );
    }
}
