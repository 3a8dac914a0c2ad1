//! The wall clock, read in one place: the core crates take time as a parameter.

use std::time::{SystemTime, UNIX_EPOCH};

use cellchain_core::protocol::Timestamp;

/// Now, as Unix seconds (for certificate validity) and as a protocol timestamp.
pub fn now() -> (i64, Timestamp) {
    let d = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970");
    (
        d.as_secs() as i64,
        Timestamp::from_unix_nanos(d.as_nanos() as i128),
    )
}
