//! A cache of validated certificates, so that a block whose transactions share
//! a few creators and endorsers parses and chains each certificate a few times,
//! not once per signature.
//!
//! Whether a certificate is valid depends on the time asked (its own dates and
//! those of its CA path) and on nothing else that changes for a fixed
//! [`MspSet`] (revocation is part of the set). The times at which it is valid
//! are therefore one interval: the intersection of the validity periods. So
//! once it has been found valid at `t1` and `t2`, it is valid at every time in
//! between, and the cache can answer for that whole span without knowing the
//! CA path's dates. On a miss the certificate is also tried at its own
//! `not_before` and `not_after`: when its CAs outlive it (the usual case) those
//! succeed and the cached span is the certificate's whole life.
//!
//! A cache belongs to one [`MspSet`]: the owner drops it when the channel's
//! organisations change.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use cellchain_core::bytes::{sha256, Hash32};
use cellchain_core::identity::{Identity, IdentityError, MspSet, SerializedIdentity};
use cellchain_core::protocol::signing::identity_bytes;

/// How many certificates are remembered before the cache starts over.
const LIMIT: usize = 4096;

struct Entry {
    identity: Arc<Identity>,
    /// Known valid at every time in `[lo, hi]` (Unix seconds).
    lo: i64,
    hi: i64,
}

#[derive(Default)]
pub(crate) struct IdentityCache {
    entries: Mutex<HashMap<Hash32, Entry>>,
}

impl IdentityCache {
    /// [`MspSet::validate`] through the cache.
    pub(crate) fn validate(
        &self,
        msps: &MspSet,
        id: &SerializedIdentity,
        now: i64,
    ) -> Result<Arc<Identity>, IdentityError> {
        // Keyed by MSP id and certificate: the same certificate claimed for
        // another organisation is another question.
        let key = sha256(&identity_bytes(id));
        if let Some(e) = self.lock().get(&key) {
            if e.lo <= now && now <= e.hi {
                return Ok(e.identity.clone());
            }
            // Outside its own dates nothing else needs checking.
            if now < e.identity.not_before {
                return Err(IdentityError::NotYetValid {
                    not_before: e.identity.not_before,
                    now,
                });
            }
            if now > e.identity.not_after {
                return Err(IdentityError::Expired {
                    not_after: e.identity.not_after,
                    now,
                });
            }
        }
        let identity = msps.validate(id, now)?;
        let (mut lo, mut hi) = (now, now);
        if identity.not_before < now && msps.validate(id, identity.not_before).is_ok() {
            lo = identity.not_before;
        }
        if identity.not_after > now && msps.validate(id, identity.not_after).is_ok() {
            hi = identity.not_after;
        }
        let identity = Arc::new(identity);
        let mut entries = self.lock();
        if let Some(e) = entries.get(&key) {
            // Both spans lie in the one interval of validity, so their hull does.
            lo = lo.min(e.lo);
            hi = hi.max(e.hi);
        } else if entries.len() >= LIMIT {
            entries.clear();
        }
        entries.insert(
            key,
            Entry {
                identity: identity.clone(),
                lo,
                hi,
            },
        );
        Ok(identity)
    }

    pub(crate) fn len(&self) -> usize {
        self.lock().len()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Hash32, Entry>> {
        // A panic while holding the lock cannot leave a map half updated in a
        // way that matters (entries are only inserted whole).
        self.entries.lock().unwrap_or_else(|p| p.into_inner())
    }
}
