//! Validating a block: the independent checks in parallel, then block order.

use std::collections::HashSet;
use std::sync::atomic::{AtomicUsize, Ordering};

use cellchain_core::config::{ChannelConfig, ConfigError};
use cellchain_core::crypto::CryptoProvider;
use cellchain_core::identity::MspSet;
use cellchain_core::protocol::{Block, TxValidationCode as Code, Version};

use crate::check::{check, Checked, Ctx};
use crate::identity_cache::IdentityCache;
use crate::mvcc::BlockOverlay;
use crate::{
    CommittedState, Definitions, HashedWrite, MetadataWrite, StateError, StateWrite, TxOutcome,
    UpdateBatch, ValidatedBlock, ValidationError,
};

/// Validates one block with a cache of identities for this block only; see the
/// crate docs for the checks and [`Validator`] to keep the cache across blocks.
///
/// `workers` threads (scoped, joined before returning) run the independent
/// checks; 1 or 0 runs them on the calling thread. The result does not depend
/// on `workers`.
pub fn validate_block(
    block: &Block,
    channel: &ChannelConfig,
    msps: &MspSet,
    state: &(dyn CommittedState + Sync),
    defs: &(dyn Definitions + Sync),
    provider: &dyn CryptoProvider,
    workers: usize,
) -> Result<ValidatedBlock, ValidationError> {
    let cache = IdentityCache::default();
    let ctx = Ctx {
        channel,
        msps,
        state,
        defs,
        provider,
        cache: &cache,
    };
    run(&ctx, block, workers)
}

/// A channel's validator: its configuration, organisations and a cache of
/// validated certificates kept from block to block (validity dates are still
/// judged at each transaction's time). Make a new one when the channel
/// configuration changes.
pub struct Validator {
    channel: ChannelConfig,
    msps: MspSet,
    cache: IdentityCache,
}

impl Validator {
    /// A validator for `channel`, its organisations built from the configuration.
    pub fn new(channel: ChannelConfig) -> Result<Validator, ConfigError> {
        let msps = channel.msp_set()?;
        Ok(Validator::with_msps(channel, msps))
    }

    /// A validator for `channel` with its organisations already built.
    pub fn with_msps(channel: ChannelConfig, msps: MspSet) -> Validator {
        Validator {
            channel,
            msps,
            cache: IdentityCache::default(),
        }
    }

    pub fn channel(&self) -> &ChannelConfig {
        &self.channel
    }

    /// How many certificates the cache holds.
    pub fn cached_identities(&self) -> usize {
        self.cache.len()
    }

    /// As [`validate_block`], through this validator's cache.
    pub fn validate_block(
        &self,
        block: &Block,
        state: &(dyn CommittedState + Sync),
        defs: &(dyn Definitions + Sync),
        provider: &dyn CryptoProvider,
        workers: usize,
    ) -> Result<ValidatedBlock, ValidationError> {
        let ctx = Ctx {
            channel: &self.channel,
            msps: &self.msps,
            state,
            defs,
            provider,
            cache: &self.cache,
        };
        run(&ctx, block, workers)
    }
}

fn run(ctx: &Ctx<'_>, block: &Block, workers: usize) -> Result<ValidatedBlock, ValidationError> {
    let checked = check_all(ctx, block, workers)?;
    Ok(in_block_order(ctx, block.header.number, checked)?)
}

/// Checks 1-16 of every envelope, on `workers` threads taking envelopes one at
/// a time (costs vary with the number of endorsements), results by position.
fn check_all(ctx: &Ctx<'_>, block: &Block, workers: usize) -> Result<Vec<Checked>, StateError> {
    let envelopes = &block.data.envelopes;
    let workers = workers.clamp(1, envelopes.len().max(1));
    if workers == 1 {
        return envelopes.iter().map(|e| check(ctx, e)).collect();
    }
    let next = AtomicUsize::new(0);
    let parts: Vec<Result<Vec<(usize, Checked)>, StateError>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..workers)
            .map(|_| {
                s.spawn(|| {
                    let mut done = Vec::new();
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        let Some(e) = envelopes.get(i) else {
                            return Ok(done);
                        };
                        done.push((i, check(ctx, e)?));
                    }
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
            .collect()
    });
    let mut slots: Vec<Option<Checked>> = envelopes.iter().map(|_| None).collect();
    for part in parts {
        for (i, c) in part? {
            slots[i] = Some(c);
        }
    }
    Ok(slots
        .into_iter()
        .map(|c| c.expect("every envelope is checked by some worker"))
        .collect())
}

/// In-block duplicates, key-level policies changed earlier in the block, MVCC
/// and phantom reads; then the update batch of the valid transactions.
fn in_block_order(
    ctx: &Ctx<'_>,
    number: u64,
    checked: Vec<Checked>,
) -> Result<ValidatedBlock, StateError> {
    let mut overlay = BlockOverlay::default();
    let mut seen = HashSet::new();
    let mut codes = Vec::with_capacity(checked.len());
    let mut updates = UpdateBatch {
        block: number,
        ..UpdateBatch::default()
    };
    for (i, c) in checked.into_iter().enumerate() {
        let index = i as u32;
        let version = Version {
            block: number,
            tx: index,
        };
        let Some(tx_id) = c.tx_id else {
            codes.push(c.code);
            continue;
        };
        if !seen.insert(tx_id) {
            codes.push(Code::DuplicateTxid);
            continue;
        }
        let mut code = c.code;
        if let Some(tx) = &c.tx {
            let p = &tx.policy;
            let ns = p.namespace.as_str();
            let touched = overlay.touches_policy(ns, p.written.iter().map(|(k, _)| k.as_str()));
            if touched {
                code = if p.satisfied(ctx.channel, |k| overlay.policy(ns, k)) {
                    Code::Valid
                } else {
                    Code::EndorsementPolicyFailure
                };
            }
            if code == Code::Valid {
                code = overlay.check_reads(ctx.state, &tx.rwset)?;
            }
            if code == Code::Valid {
                overlay.apply(&tx.rwset, version);
                collect_updates(&mut updates, &tx.rwset, version);
            }
        }
        if code != Code::DuplicateTxid {
            updates.transactions.push(TxOutcome { tx_id, index, code });
        }
        codes.push(code);
    }
    Ok(ValidatedBlock { codes, updates })
}

pub(crate) fn collect_updates(
    updates: &mut UpdateBatch,
    rwset: &cellchain_core::protocol::TxRwSet,
    version: Version,
) {
    for ns in &rwset.ns_rwsets {
        for w in &ns.writes {
            updates.writes.push(StateWrite {
                namespace: ns.namespace.clone(),
                key: w.key.clone(),
                value: (!w.is_delete).then(|| w.value.0.clone()),
                version,
            });
        }
        for m in &ns.metadata_writes {
            updates.metadata.push(MetadataWrite {
                namespace: ns.namespace.clone(),
                key: m.key.clone(),
                entries: m
                    .entries
                    .iter()
                    .map(|(k, v)| (k.clone(), v.0.clone()))
                    .collect(),
                version,
            });
        }
        for c in &ns.collections {
            for w in &c.hashed_writes {
                updates.hashed_writes.push(HashedWrite {
                    namespace: ns.namespace.clone(),
                    collection: c.collection.clone(),
                    key_hash: w.key_hash,
                    value_hash: if w.is_delete { None } else { w.value_hash },
                    version,
                });
            }
        }
    }
}
