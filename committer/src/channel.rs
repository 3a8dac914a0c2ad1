//! What one channel shares between its puller (the single writer) and the HTTP
//! handlers: the block files, a state reader, the chaincode definitions cache, the
//! published height and the status and counters behind `/status` and `/metrics`.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};

use cellchain_core::config::ChannelConfig;
use cellchain_core::crypto::CryptoProvider;
use cellchain_core::identity::{Identity, MspSet, SerializedIdentity};
use cellchain_core::protocol::TxValidationCode;
use cellchain_core::Hash32;
use cellchain_storage::{FileBlockStore, StateReader};
use tokio::sync::watch;

use crate::definitions::DefinitionCache;
use crate::ledger::Committed;
use crate::private::Fetched;

/// Counters and the latest facts about a channel.
#[derive(Debug, Default)]
pub struct Status {
    pub commit_hash: Mutex<Option<Hash32>>,
    /// The orderer endpoint blocks are pulled from now.
    pub orderer: Mutex<Option<String>>,
    /// The last failure of pulling or a refused block, for operators.
    pub last_error: Mutex<Option<String>>,
    pub blocks_committed: AtomicU64,
    pub blocks_refused: AtomicU64,
    pub failovers: AtomicU64,
    pub tx_codes: Mutex<BTreeMap<TxValidationCode, u64>>,
    pub validation_us: AtomicU64,
    pub commit_us: AtomicU64,
    /// Private writes (values and deletes) fetched, checked against the block's
    /// hashes and stored.
    pub private_stored: AtomicU64,
    /// Private data needs (transaction, namespace, collection) committed
    /// without their values.
    pub private_missing: AtomicU64,
    /// Private data offered by a source that did not match the block's hashes.
    pub private_mismatches: AtomicU64,
}

/// One channel as the service sees it.
pub struct ChannelShared {
    pub channel: String,
    pub config: ChannelConfig,
    pub msps: MspSet,
    pub blocks: Arc<RwLock<FileBlockStore>>,
    pub state: StateReader,
    /// The chaincode definitions in force (the cache the puller validates with
    /// and refreshes): collection membership for private data queries.
    pub definitions: Arc<DefinitionCache>,
    /// Blocks committed (block files and state): the feed serves below it.
    pub height: watch::Sender<u64>,
    pub status: Status,
}

impl ChannelShared {
    pub fn block_height(&self) -> u64 {
        *self.height.borrow()
    }

    /// Records a committed block and publishes the new height.
    pub fn committed(&self, c: &Committed) {
        *self.status.commit_hash.lock().expect("status lock") = Some(c.commit_hash);
        let s = &self.status;
        s.blocks_committed.fetch_add(1, Ordering::Relaxed);
        s.validation_us
            .fetch_add(c.validation_time.as_micros() as u64, Ordering::Relaxed);
        s.commit_us
            .fetch_add(c.commit_time.as_micros() as u64, Ordering::Relaxed);
        {
            let mut codes = s.tx_codes.lock().expect("status lock");
            for code in &c.codes {
                *codes.entry(*code).or_default() += 1;
            }
        }
        self.height.send_replace(c.number + 1);
    }

    /// Records what fetching private data for a committed block found.
    pub fn private_fetched(&self, f: &Fetched) {
        let s = &self.status;
        s.private_stored
            .fetch_add(f.writes.len() as u64, Ordering::Relaxed);
        s.private_missing
            .fetch_add(f.missing as u64, Ordering::Relaxed);
        s.private_mismatches
            .fetch_add(f.mismatches, Ordering::Relaxed);
    }

    pub fn set_error(&self, reason: impl Into<String>) {
        *self.status.last_error.lock().expect("status lock") = Some(reason.into());
    }

    /// Validates a signed request's creator and checks an ACL resource for it.
    pub fn authorise(
        &self,
        creator: &SerializedIdentity,
        resource: &str,
        message: &[u8],
        signature: &[u8],
        provider: &dyn CryptoProvider,
        now_unix: i64,
    ) -> Result<Identity, AuthError> {
        let identity =
            self.msps
                .validate(creator, now_unix)
                .map_err(|e| AuthError::InvalidCreator {
                    channel: self.channel.clone(),
                    reason: e.to_string(),
                })?;
        provider
            .verify(&identity.public_key, message, signature)
            .map_err(|_| AuthError::BadSignature)?;
        let allowed = self
            .config
            .check_acl(resource, std::slice::from_ref(&identity))
            .map_err(|e| AuthError::InvalidCreator {
                channel: self.channel.clone(),
                reason: e.to_string(),
            })?;
        if !allowed {
            return Err(AuthError::Forbidden {
                who: format!("{}@{}", identity.common_name, identity.msp_id),
                resource: resource.to_string(),
                channel: self.channel.clone(),
            });
        }
        Ok(identity)
    }
}

/// Why a signed feed or query request was refused (403).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    #[error("the requester is not a valid identity of channel {channel}: {reason}")]
    InvalidCreator { channel: String, reason: String },
    #[error("the request signature does not verify for its creator")]
    BadSignature,
    #[error("{who} may not use {resource} on channel {channel}")]
    Forbidden {
        who: String,
        resource: String,
        channel: String,
    },
}
