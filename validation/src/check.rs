//! Checks 1 to 16 of one transaction (see the crate docs): everything that does
//! not depend on the other transactions of the block, run in parallel.

use std::collections::{BTreeSet, HashSet};

use cellchain_core::config::ChannelConfig;
use cellchain_core::crypto::CryptoProvider;
use cellchain_core::identity::{MspSet, Role};
use cellchain_core::policy::SignaturePolicy;
use cellchain_core::protocol::{
    EndorserTransaction, Envelope, Header, PayloadData, ProtocolError, TxId, TxRwSet,
    TxValidationCode as Code, VALIDATION_PARAMETER,
};

use cellchain_core::lifecycle::{self, LifecycleKey, LIFECYCLE};
use cellchain_core::protocol::NsRwSet;

use crate::identity_cache::IdentityCache;
use crate::policy::PolicyInput;
use crate::{CommittedState, Definitions, StateError};

/// What the checks of one block share.
pub(crate) struct Ctx<'a> {
    pub channel: &'a ChannelConfig,
    pub msps: &'a MspSet,
    pub state: &'a (dyn CommittedState + Sync),
    pub defs: &'a (dyn Definitions + Sync),
    pub provider: &'a dyn CryptoProvider,
    pub cache: &'a IdentityCache,
}

/// The verdict of the independent checks on one envelope.
#[derive(Debug)]
pub(crate) struct Checked {
    /// Set once checks 1-5 passed: the tx id is the creator's own.
    pub tx_id: Option<TxId>,
    /// The first failed check, or `Valid`.
    pub code: Code,
    /// Set once checks 1-15 passed: what the block-order phase needs.
    pub tx: Option<CheckedTx>,
}

/// A transaction well formed enough to reach the policy check.
#[derive(Debug)]
pub(crate) struct CheckedTx {
    pub rwset: TxRwSet,
    pub policy: PolicyInput,
}

impl Checked {
    fn fail(code: Code) -> Checked {
        Checked {
            tx_id: None,
            code,
            tx: None,
        }
    }
}

/// Runs checks 1-16 on one envelope. Only a failure to read committed state is an error.
pub(crate) fn check(ctx: &Ctx<'_>, envelope: &Envelope) -> Result<Checked, StateError> {
    // 1-2. Envelope and payload.
    if envelope.payload.is_empty() {
        return Ok(Checked::fail(Code::NilEnvelope));
    }
    let Ok(payload) = envelope.parse_payload() else {
        return Ok(Checked::fail(Code::BadPayload));
    };
    let header = &payload.header;
    // 3. Channel.
    if header.channel_id != ctx.channel.channel_id {
        return Ok(Checked::fail(Code::TargetChainNotFound));
    }
    // 4. Tx id.
    if header.check_tx_id().is_err() {
        return Ok(Checked::fail(Code::BadProposalTxid));
    }
    // 5. Creator, judged at the transaction's time.
    let now = header.timestamp.seconds;
    let creator_role = match ctx.cache.validate(ctx.msps, &header.creator, now) {
        Ok(creator) => ctx
            .provider
            .verify(
                &creator.public_key,
                &envelope.signed_message(),
                &envelope.signature,
            )
            .ok()
            .map(|_| creator.role),
        Err(_) => None,
    };
    let Some(creator_role) = creator_role else {
        return Ok(Checked::fail(Code::BadCreatorSignature));
    };
    let mut out = Checked {
        tx_id: Some(header.tx_id),
        code: Code::Valid,
        tx: None,
    };
    // 6. Duplicate of a committed transaction (in-block duplicates: in block order).
    if ctx.state.is_committed(&header.tx_id)? {
        out.code = Code::DuplicateTxid;
        return Ok(out);
    }
    // 7. Only endorser transactions.
    let etx = match &payload.data {
        PayloadData::Endorser(etx) => etx,
        PayloadData::Config(_) => {
            out.code = Code::UnsupportedTxPayload;
            return Ok(out);
        }
    };
    match check_endorser_tx(ctx, header, creator_role, etx)? {
        Ok(tx) => {
            if !tx.policy.satisfied(ctx.channel, |_| None) {
                out.code = Code::EndorsementPolicyFailure;
            }
            out.tx = Some(tx);
        }
        Err(code) => out.code = code,
    }
    Ok(out)
}

/// Checks 8-15, and the endorsements that check 16 evaluates.
fn check_endorser_tx(
    ctx: &Ctx<'_>,
    header: &Header,
    creator_role: Role,
    etx: &EndorserTransaction,
) -> Result<Result<CheckedTx, Code>, StateError> {
    // 8-9. The proposal belongs to this header, the response to this proposal
    // (the rules of `EndorserTransaction::parse`, shared with the SDK).
    let (proposal, response) = match etx.parse(header) {
        Ok(parsed) => parsed,
        Err(ProtocolError::Malformed {
            what: "proposal", ..
        })
        | Err(ProtocolError::HeaderMismatch { .. }) => {
            return Ok(Err(Code::InvalidEndorserTransaction))
        }
        Err(_) => return Ok(Err(Code::BadResponsePayload)),
    };
    if response.chaincode.name != proposal.chaincode {
        return Ok(Err(Code::BadResponsePayload));
    }
    // 10. A failed simulation is never endorsed; refuse one that claims to be.
    if !response.response.is_success() {
        return Ok(Err(Code::InvalidEndorserTransaction));
    }
    // 11-12. Chaincode definition (`_lifecycle` is built in).
    let def = if proposal.chaincode == LIFECYCLE {
        Some(lifecycle::builtin_definition())
    } else {
        ctx.defs.definition(&proposal.chaincode)
    };
    let Some(def) = def else {
        return Ok(Err(Code::InvalidChaincode));
    };
    if def.version != response.chaincode.version || def.sequence != response.chaincode.sequence {
        return Ok(Err(Code::ChaincodeVersionConflict));
    }
    // 13-15. The read/write set.
    let namespace = proposal.chaincode;
    let rwset = response.rwset;
    let mut namespaces = HashSet::new();
    if !rwset
        .ns_rwsets
        .iter()
        .all(|ns| namespaces.insert(ns.namespace.as_str()))
    {
        return Ok(Err(Code::BadRwset));
    }
    let mut written = BTreeSet::new();
    let mut writes_private = false;
    for ns in &rwset.ns_rwsets {
        let writes_here = !ns.writes.is_empty()
            || !ns.metadata_writes.is_empty()
            || ns.collections.iter().any(|c| !c.hashed_writes.is_empty());
        if !writes_here {
            continue;
        }
        if ns.namespace != namespace {
            return Ok(Err(Code::IllegalWriteset));
        }
        if namespace == LIFECYCLE
            && !lifecycle_writes_allowed(ns, &header.creator.msp_id, creator_role)
        {
            return Ok(Err(Code::IllegalWriteset));
        }
        for c in ns
            .collections
            .iter()
            .filter(|c| !c.hashed_writes.is_empty())
        {
            let Some(config) = def.collections.iter().find(|d| d.name == c.collection) else {
                return Ok(Err(Code::IllegalWriteset));
            };
            // A member-only-write collection is written by its members' clients only.
            if config.member_only_write && !config.member_orgs.contains(&header.creator.msp_id) {
                return Ok(Err(Code::IllegalWriteset));
            }
            let mut keys = HashSet::new();
            for w in &c.hashed_writes {
                if !keys.insert(w.key_hash) || w.is_delete == w.value_hash.is_some() {
                    return Ok(Err(Code::InvalidWriteset));
                }
            }
            writes_private = true;
        }
        let mut keys = HashSet::new();
        for w in &ns.writes {
            if !keys.insert(w.key.as_str()) || (w.is_delete && !w.value.is_empty()) {
                return Ok(Err(Code::InvalidWriteset));
            }
            written.insert(w.key.clone());
        }
        let mut keys = HashSet::new();
        for m in &ns.metadata_writes {
            if !keys.insert(m.key.as_str()) {
                return Ok(Err(Code::InvalidWriteset));
            }
            if let Some(p) = m.entries.get(VALIDATION_PARAMETER) {
                let parses =
                    std::str::from_utf8(p).is_ok_and(|t| SignaturePolicy::parse(t).is_ok());
                if !parses {
                    return Ok(Err(Code::InvalidWriteset));
                }
            }
            written.insert(m.key.clone());
        }
    }
    // 16, first half: the endorsers. A bad one counts as missing.
    let now = header.timestamp.seconds;
    let mut endorsers = Vec::with_capacity(etx.endorsements.len());
    let mut seen = HashSet::new();
    for e in &etx.endorsements {
        let Ok(id) = ctx.cache.validate(ctx.msps, &e.endorser, now) else {
            continue;
        };
        if id.role != Role::Peer || seen.contains(&id.cert_hash) {
            continue;
        }
        let message = e.signed_message(&etx.response_payload);
        if ctx
            .provider
            .verify(&id.public_key, &message, &e.signature)
            .is_ok()
        {
            seen.insert(id.cert_hash);
            endorsers.push((*id).clone());
        }
    }
    let mut written_policies = Vec::with_capacity(written.len());
    for key in written {
        // `_lifecycle` keys carry no metadata: an approval needs its
        // organisation's peer, a definition the channel's LifecycleEndorsement.
        let policy = if namespace == LIFECYCLE {
            lifecycle::key_policy(&key)
        } else {
            ctx.state.key_policy(&namespace, &key)?
        };
        written_policies.push((key, policy));
    }
    Ok(Ok(CheckedTx {
        rwset,
        policy: PolicyInput {
            namespace,
            chaincode_policy: def.endorsement_policy,
            endorsers,
            written: written_policies,
            writes_private,
        },
    }))
}

/// Rule 14 for the `_lifecycle` namespace: written by an organisation's admin
/// only; plain value writes of well-formed keys only (no deletes, metadata or
/// private data); each value a definition of the key's chaincode; an approval
/// only for the admin's own organisation.
fn lifecycle_writes_allowed(ns: &NsRwSet, creator_org: &str, creator_role: Role) -> bool {
    if creator_role != Role::Admin || !ns.metadata_writes.is_empty() {
        return false;
    }
    if ns.collections.iter().any(|c| !c.hashed_writes.is_empty()) {
        return false;
    }
    ns.writes.iter().all(|w| {
        let Some(key) = LifecycleKey::parse(&w.key) else {
            return false;
        };
        if w.is_delete {
            return false;
        }
        if let LifecycleKey::Approval { org, .. } = key {
            if org != creator_org {
                return false;
            }
        }
        lifecycle::decode_definition(&w.value).is_ok_and(|d| d.name == key.chaincode())
    })
}
