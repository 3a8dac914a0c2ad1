//! Keys of the kitchen sink.

use cellchain_contract::{create_composite_key, Result};

/// Object type of tagged entries: `tag~id / tag / id`.
pub const TAG_INDEX: &str = "tag~id";
/// The transient input carrying the value of `put_private`.
pub const PRIVATE_VALUE: &str = "value";
/// Prefix of the keys `float_stats` writes its results under.
pub const STATS_PREFIX: &str = "stats/";
/// The key of `rw10`'s i-th entry.
pub fn rw10_key(prefix: &str, i: usize) -> String {
    format!("{prefix}{i}")
}

/// The key of a tagged entry.
pub fn tag_key(tag: &str, id: &str) -> Result<String> {
    create_composite_key(TAG_INDEX, &[tag, id])
}
