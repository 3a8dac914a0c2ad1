//! The endorser itself: checks a signed proposal ([`crate::checks`], then the
//! replay and chaincode checks against the replica), runs the chaincode against
//! one snapshot of the replica, and answers with a
//! [`ProposalResponse`]: signed when the contract succeeded, unsigned with the
//! contract's error status when it did not (a refusal of the contract, a trap,
//! fuel exhaustion: the request itself was fine, so this is not an HTTP error).
//!
//! Which code runs: for `_lifecycle`, the built-in lifecycle chaincode
//! ([`crate::lifecycle`], natively, under its built-in definition); for a
//! contract, its definition in force at the snapshot (the replica's cache of the
//! `_lifecycle` namespace, see [`crate::replica`]) names the module by its
//! SHA-256, and the installed package with that module ([`crate::install`]) runs
//! in the wasmtime runtime. Not defined: `chaincode_not_defined`; defined but
//! the module not installed here: `chaincode_not_installed`.
//!
//! After the simulation and before anything is answered, the collections the
//! chaincode's read/write set touches are checked against its definition
//! (check 13 of [`crate::checks`]): each must be defined; a creator whose
//! organisation is not a member may not write a `member_only_write` one
//! (endorse) nor read a `member_only_read` one (endorse and evaluate, also
//! when the contract answered an error). A refusal is
//! [`ProposalError::CollectionAccessDenied`] (403 `collection_access_denied`),
//! logged at warn with the tx id, chaincode and collection. The private writes
//! of an endorsed simulation are kept in [`PrivateStore`] for the member
//! committers ([`crate::private`]).
//!
//! An endorsed response also lists, outside the signed payload, the committed
//! key-level endorsement policies of the keys the transaction writes
//! ([`ProposalResponse::key_policies`], read by [`key_policies`] from the
//! snapshot the simulation used), so that the client can ask the further
//! endorsers those policies need.
//!
//! [`Endorser::handle`] is synchronous and CPU-bound; the service runs it on
//! tokio's blocking pool.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use cellchain_chaincode_runtime::{CallerInfo, Invocation, InvokeError};
use cellchain_core::bytes::sha256;
use cellchain_core::config::ChannelConfig;
use cellchain_core::crypto::{default_provider, Signer};
use cellchain_core::identity::SerializedIdentity;
use cellchain_core::lifecycle::{builtin_definition, functions, LIFECYCLE};
use cellchain_core::protocol::{
    encode, Block, ChaincodeRef, Endorsement, KeyPolicy, NsRwSet, ProposalResponse,
    ProposalResponsePayload, Timestamp, VALIDATION_PARAMETER,
};
use cellchain_storage::StateView;
use cellchain_validation::DefinitionSet;

use crate::checks::{
    check_collection_access, parse, ChannelTrust, Mode, ProposalError, VerifiedProposal,
};
use crate::install::PackageStore;
use crate::lifecycle::{self, LifecycleCall};
use crate::metrics::Metrics;
use crate::private::{PrivateEntry, PrivateStore};
use crate::replica::{Replica, SnapshotState};

/// How many transactions' private writes are kept for member committers.
pub const PRIVATE_STORE_CAPACITY: usize = 10_000;

/// One served channel.
pub struct Channel {
    pub trust: ChannelTrust,
    /// The state replica, with the channel's chaincode definitions cache.
    pub replica: Arc<Replica>,
}

impl Channel {
    /// The chaincode definitions in force (the replica's cache).
    pub fn definitions(&self) -> Arc<DefinitionSet> {
        self.replica.definitions()
    }
}

/// What one channel is made of, for [`Endorser::new`].
pub struct ChannelSetup {
    pub genesis: Block,
    pub config: ChannelConfig,
    /// The replica's state directory.
    pub state_dir: PathBuf,
}

/// Everything an endorser is made of (boot reads it from files; tests build it).
pub struct EndorserSetup {
    pub name: String,
    /// This peer's identity, which endorsements name.
    pub identity: SerializedIdentity,
    pub signer: Arc<dyn Signer>,
    pub proposal_skew: Duration,
    pub channels: Vec<ChannelSetup>,
    /// The installed chaincode packages (and the runtime that runs them).
    pub packages: Arc<PackageStore>,
}

/// The endorser's shared state: channels, identity, private writes, metrics.
pub struct Endorser {
    pub name: String,
    pub identity: SerializedIdentity,
    signer: Arc<dyn Signer>,
    pub proposal_skew: Duration,
    pub channels: BTreeMap<String, Channel>,
    pub packages: Arc<PackageStore>,
    pub private: PrivateStore,
    pub metrics: Metrics,
}

impl Endorser {
    /// Opens each channel's replica and builds its trust; fails on a channel
    /// configuration whose organisations do not load or a replica that cannot
    /// be opened.
    pub fn new(setup: EndorserSetup) -> anyhow::Result<Endorser> {
        let mut channels = BTreeMap::new();
        for ch in setup.channels {
            let id = ch.config.channel_id.clone();
            let trust = ChannelTrust::new(ch.config, default_provider())
                .map_err(|e| anyhow::anyhow!("channel {id}: {e}"))?;
            let replica = Replica::open(&ch.state_dir, &id, ch.genesis.hash())
                .map_err(|e| {
                    anyhow::anyhow!(
                        "channel {id}: cannot open the state replica in {}: {e}",
                        ch.state_dir.display()
                    )
                })?
                .with_membership(&setup.identity.msp_id);
            channels.insert(
                id,
                Channel {
                    trust,
                    replica: Arc::new(replica),
                },
            );
        }
        Ok(Endorser {
            name: setup.name,
            identity: setup.identity,
            signer: setup.signer,
            proposal_skew: setup.proposal_skew,
            channels,
            packages: setup.packages,
            private: PrivateStore::new(PRIVATE_STORE_CAPACITY),
            metrics: Metrics::default(),
        })
    }

    /// The signer of deliver requests to the committer (the endorser's own key).
    pub fn signer(&self) -> Arc<dyn Signer> {
        self.signer.clone()
    }

    /// Answers one request to `channel` (the path's) at `now`, counting the
    /// outcome in the metrics.
    pub fn handle(
        &self,
        channel: &str,
        body: &[u8],
        mode: Mode,
        now: Timestamp,
    ) -> Result<ProposalResponse, ProposalError> {
        let result = self.process(channel, body, mode, now);
        let outcome = match &result {
            Ok(r) if r.endorsement.is_some() => "endorsed",
            Ok(r) if r.response.is_success() => "evaluated",
            Ok(_) => "chaincode_error",
            Err(e) => e.kind(),
        };
        // Only served channels get their own label: a path is attacker-chosen.
        let label = if self.channels.contains_key(channel) {
            channel
        } else {
            "(unknown)"
        };
        self.metrics.count(label, mode, outcome);
        if let Err(e) = &result {
            tracing::debug!(%channel, mode = mode.as_str(), reason = %e, "proposal refused");
        }
        result
    }

    fn process(
        &self,
        channel: &str,
        body: &[u8],
        mode: Mode,
        now: Timestamp,
    ) -> Result<ProposalResponse, ProposalError> {
        let (signed, proposal) = parse(body)?;
        if proposal.header.channel_id != channel {
            return Err(ProposalError::WrongChannel {
                expected: channel.to_string(),
                found: proposal.header.channel_id.clone(),
            });
        }
        let Some(ch) = self.channels.get(channel) else {
            return Err(ProposalError::UnknownChannel {
                channel: channel.to_string(),
                served: self.channels.keys().cloned().collect::<Vec<_>>().join(", "),
            });
        };
        let verified = ch
            .trust
            .verify(signed, proposal, mode, now, self.proposal_skew)?;
        self.simulate(ch, verified, mode)
    }

    /// Checks 10-12 and the simulation, all on one snapshot of the replica.
    fn simulate(
        &self,
        ch: &Channel,
        v: VerifiedProposal,
        mode: Mode,
    ) -> Result<ProposalResponse, ProposalError> {
        let channel = ch.trust.channel_id();
        let unavailable = |e: cellchain_storage::StateStoreError| ProposalError::StateUnavailable {
            reason: e.to_string(),
        };
        let view = ch.replica.reader().view();
        let (height, _) = view.savepoint().map_err(unavailable)?;
        if let Some(status) = view.tx_status(&v.tx_id).map_err(unavailable)? {
            return Err(ProposalError::DuplicateTxId {
                tx_id: v.tx_id.to_string(),
                block: status.block,
                index: status.index,
            });
        }
        let name = &v.proposal.chaincode;
        let definitions = ch.replica.definitions_at(&view, height).map_err(|e| {
            ProposalError::StateUnavailable {
                reason: e.to_string(),
            }
        })?;
        let builtin;
        let (definition, code) = if name == LIFECYCLE {
            builtin = builtin_definition();
            (&builtin, None)
        } else {
            let Some(definition) = definitions.0.get(name) else {
                return Err(ProposalError::UndefinedChaincode {
                    chaincode: name.clone(),
                    channel: channel.to_string(),
                });
            };
            let Some(package) = self.packages.get(&definition.wasm_hash) else {
                return Err(ProposalError::NotInstalled {
                    chaincode: name.clone(),
                    sequence: definition.sequence,
                    wasm_hash: definition.wasm_hash.to_hex(),
                });
            };
            (definition, Some(package))
        };
        let invocation = Invocation {
            chaincode: name.clone(),
            function: v.proposal.function.clone(),
            args: v.proposal.args.clone(),
            tx_id: v.tx_id,
            channel_id: channel.to_string(),
            timestamp: v.proposal.header.timestamp,
            caller: CallerInfo::from(&v.creator),
            transient: v.transient.clone(),
        };
        let started = Instant::now();
        let state = SnapshotState { view: &view };
        let result = match &code {
            Some(package) => package.module.invoke(&invocation, &state),
            None => lifecycle::invoke(
                &LifecycleCall {
                    channel: &ch.trust.config,
                    own_msp: &self.identity.msp_id,
                    creator: &v.creator,
                    function: &invocation.function,
                    args: &invocation.args,
                },
                &state,
                self.packages.runtime().config().limits,
            ),
        };
        // The key-level policies of the written keys, from the same snapshot.
        let key_policies = match &result {
            Ok(o) if mode == Mode::Propose && o.response.is_success() => {
                key_policies(&view, &o.output.rwset).map_err(unavailable)?
            }
            _ => Vec::new(),
        };
        // Release the snapshot before signing: the writer may go on.
        drop(view);
        self.metrics.observe_simulation(started.elapsed());

        let outcome = match result {
            Ok(o) => o,
            Err(e) => {
                tracing::warn!(
                    %channel,
                    tx_id = %v.tx_id,
                    chaincode = %name,
                    function = %invocation.function,
                    error = %e,
                    "chaincode execution failed"
                );
                return match e {
                    InvokeError::State(s) => Err(ProposalError::StateUnavailable {
                        reason: s.to_string(),
                    }),
                    InvokeError::Instantiate { reason } => {
                        Err(ProposalError::Overloaded { reason })
                    }
                    e => Ok(ProposalResponse {
                        response: e.to_response(),
                        payload: None,
                        endorsement: None,
                        ledger_height: height,
                        key_policies: Vec::new(),
                    }),
                };
            }
        };
        // Check 13: the collections touched, and the creator's right to them.
        // Reads are checked whatever the mode or the outcome (a contract's
        // error message may carry what it read); writes when endorsing.
        let check_writes = mode == Mode::Propose && outcome.response.is_success();
        if let Err(e) = check_collection_access(
            definition,
            &outcome.output.rwset,
            &v.creator.msp_id,
            check_writes,
        ) {
            if let ProposalError::CollectionAccessDenied {
                collection, reason, ..
            } = &e
            {
                tracing::warn!(
                    %channel,
                    tx_id = %v.tx_id,
                    chaincode = %name,
                    %collection,
                    creator = %format!("{}@{}", v.creator.common_name, v.creator.msp_id),
                    mode = mode.as_str(),
                    %reason,
                    "collection access denied"
                );
            }
            return Err(e);
        }
        if !outcome.response.is_success() {
            tracing::debug!(
                %channel,
                tx_id = %v.tx_id,
                chaincode = %name,
                status = outcome.response.status,
                "the chaincode refused the proposal"
            );
            return Ok(ProposalResponse {
                response: outcome.response,
                payload: None,
                endorsement: None,
                ledger_height: height,
                key_policies: Vec::new(),
            });
        }
        if mode == Mode::Evaluate {
            return Ok(ProposalResponse {
                response: outcome.response,
                payload: None,
                endorsement: None,
                ledger_height: height,
                key_policies: Vec::new(),
            });
        }
        let payload = ProposalResponsePayload {
            proposal_hash: sha256(&v.bytes),
            chaincode: ChaincodeRef {
                name: definition.name.clone(),
                version: definition.version.clone(),
                sequence: definition.sequence,
            },
            rwset: outcome.output.tx_rwset(),
            events: outcome.output.events,
            response: outcome.response.clone(),
        };
        let bytes = encode(&payload);
        let endorsement = Endorsement::sign(&bytes, self.identity.clone(), self.signer.as_ref())
            .map_err(|e| {
                tracing::error!(error = %e, "cannot sign an endorsement");
                ProposalError::SigningFailed {
                    reason: e.to_string(),
                }
            })?;
        if code.is_none() {
            self.log_lifecycle(channel, &v, &outcome.response.payload);
        }
        if !outcome.output.private_writes.is_empty() {
            self.private.insert(
                v.tx_id,
                PrivateEntry {
                    channel: channel.to_string(),
                    chaincode: name.clone(),
                    height,
                    writes: outcome.output.private_writes,
                },
            );
        }
        Ok(ProposalResponse {
            response: outcome.response,
            payload: Some(bytes),
            endorsement: Some(endorsement),
            ledger_height: height,
            key_policies,
        })
    }
}

impl Endorser {
    /// Logs an endorsed `_lifecycle` approve or commit (info): the chaincode,
    /// its sequence and version, and the package installed here for its module.
    fn log_lifecycle(&self, channel: &str, v: &VerifiedProposal, payload: &[u8]) {
        let function = v.proposal.function.as_str();
        if function != functions::APPROVE && function != functions::COMMIT {
            return;
        }
        let Ok(def) = serde_json::from_slice::<cellchain_validation::ChaincodeDefinition>(payload)
        else {
            return;
        };
        let package_id = self
            .packages
            .get(&def.wasm_hash)
            .map(|p| p.info.package_id.clone())
            .unwrap_or_else(|| format!("(not installed here: SHA-256 {})", def.wasm_hash));
        tracing::info!(
            %channel,
            tx_id = %v.tx_id,
            function,
            chaincode = %def.name,
            version = %def.version,
            sequence = def.sequence,
            %package_id,
            creator = %format!("{}@{}", v.creator.common_name, v.creator.msp_id),
            "lifecycle {function} endorsed"
        );
    }
}

/// The committed key-level policies (`VALIDATION_PARAMETER` metadata) of the
/// keys `rwset` writes (values, deletes, metadata), in key order, as the
/// committer's policy check sees them: the policy in force before the
/// transaction. A policy the transaction sets on a key without one is not
/// listed (the chaincode policy governs that write); one replacing an existing
/// policy lists the existing one. Bytes that are not UTF-8 are converted
/// lossily, as the committer does.
pub fn key_policies(
    view: &StateView<'_>,
    rwset: &NsRwSet,
) -> Result<Vec<KeyPolicy>, cellchain_storage::StateStoreError> {
    let written: BTreeSet<&str> = rwset
        .writes
        .iter()
        .map(|w| w.key.as_str())
        .chain(rwset.metadata_writes.iter().map(|m| m.key.as_str()))
        .collect();
    let mut out = Vec::new();
    for key in written {
        let policy = view
            .key_metadata(&rwset.namespace, key)?
            .and_then(|mut m| m.remove(VALIDATION_PARAMETER));
        if let Some(p) = policy {
            out.push(KeyPolicy {
                namespace: rwset.namespace.clone(),
                key: key.to_string(),
                policy: String::from_utf8_lossy(&p).into_owned(),
            });
        }
    }
    Ok(out)
}

/// The wall clock as a protocol timestamp.
pub fn now() -> Timestamp {
    let d = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    Timestamp::from_unix_nanos(d.as_nanos() as i128)
}
