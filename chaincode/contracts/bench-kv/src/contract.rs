//! The transactions of `bench-kv`.

use cellchain_contract::{contract, Context};

use crate::error::BenchError;

type Result<T> = std::result::Result<T, BenchError>;

/// Most keys `seed` writes in one transaction.
pub const MAX_SEED: u64 = 1000;
/// Largest value `seed` makes, in bytes.
pub const MAX_VALUE: u64 = 64 * 1024;

pub struct BenchKv;

#[contract]
impl BenchKv {
    /// Blind write: stores `value` under `key` without reading it (the
    /// Caliper "blind write" transaction). Returns the value's size.
    #[transaction]
    pub fn put(ctx: &mut Context, key: String, value: String) -> Result<u64> {
        check_key(&key)?;
        ctx.put_state(&key, value.as_bytes())?;
        Ok(value.len() as u64)
    }

    /// Writes keys `<prefix><start>` .. `<prefix><start + count - 1>` (the
    /// index zero-padded to 8 digits, so keys sort by index), each
    /// with a value of `value_size` bytes: prepares a round's keys in a few
    /// transactions. Returns how many keys were written.
    #[transaction]
    pub fn seed(
        ctx: &mut Context,
        prefix: String,
        start: u64,
        count: u64,
        value_size: u64,
    ) -> Result<u64> {
        if count > MAX_SEED {
            return Err(BenchError::TooMany {
                count,
                max: MAX_SEED,
            });
        }
        if value_size > MAX_VALUE {
            return Err(BenchError::TooLarge {
                size: value_size,
                max: MAX_VALUE,
            });
        }
        let value = filler(value_size as usize);
        for i in start..start + count {
            let key = seed_key(&prefix, i);
            check_key(&key)?;
            ctx.put_state(&key, value.as_bytes())?;
        }
        Ok(count)
    }

    /// Read-modify-write: reads `key` (which must exist, so the read set
    /// carries its version and a concurrent update of it fails MVCC), then
    /// writes `value`. Returns the previous value's size.
    #[transaction]
    pub fn update(ctx: &mut Context, key: String, value: String) -> Result<u64> {
        check_key(&key)?;
        let old = ctx
            .get_state(&key)?
            .ok_or_else(|| BenchError::NotFound { key: key.clone() })?;
        ctx.put_state(&key, value.as_bytes())?;
        Ok(old.len() as u64)
    }

    /// The value of `key`, if any.
    #[transaction(evaluate)]
    pub fn get(ctx: &Context, key: String) -> Result<Option<String>> {
        check_key(&key)?;
        Ok(ctx
            .get_state(&key)?
            .map(|v| String::from_utf8_lossy(&v).into_owned()))
    }

    /// How many keys lie in `[start, end)`, and their total value size.
    #[transaction(evaluate)]
    pub fn range(ctx: &Context, start: String, end: String) -> Result<(u64, u64)> {
        let entries = ctx.get_state_by_range(&start, &end)?;
        let bytes = entries.iter().map(|e| e.value.len() as u64).sum();
        Ok((entries.len() as u64, bytes))
    }
}

/// The key `seed` writes for index `i`: `<prefix><i, 8 digits>`.
pub fn seed_key(prefix: &str, i: u64) -> String {
    format!("{prefix}{i:08}")
}

fn check_key(key: &str) -> Result<()> {
    let invalid = |reason| {
        Err(BenchError::InvalidKey {
            key: key.to_string(),
            reason,
        })
    };
    if key.is_empty() {
        return invalid("it is empty");
    }
    if key.starts_with('\0') {
        return invalid("keys starting with \\0 are composite keys");
    }
    Ok(())
}

/// `size` bytes of printable ASCII.
fn filler(size: usize) -> String {
    (0..size)
        .map(|i| char::from(b'a' + (i % 26) as u8))
        .collect()
}

#[cfg(test)]
mod tests {
    use cellchain_chaincode_harness::{caller, NativeHarness};
    use serde_json::json;

    use super::*;

    const NS: &str = "bench-kv";

    fn native() -> NativeHarness {
        let mut h = NativeHarness::new();
        h.deploy::<BenchKv>(NS);
        h.set_caller(caller("Org1MSP"));
        h
    }

    #[test]
    fn put_is_a_blind_write_and_get_reads_it() {
        let mut h = native();
        let out = h.submit(NS, "put", json!(["k1", "hello"]));
        out.assert_ok();
        let rw = out.ns(NS).unwrap();
        assert!(rw.reads.is_empty(), "a blind write reads nothing");
        assert_eq!(rw.writes.len(), 1);
        let v: Option<String> = h.submit(NS, "get", json!(["k1"])).json();
        assert_eq!(v.as_deref(), Some("hello"));
    }

    #[test]
    fn seed_then_update_reads_the_key_and_range_counts() {
        let mut h = native();
        let n: u64 = h.submit(NS, "seed", json!(["s-", 0, 10, 100])).json();
        assert_eq!(n, 10);
        let out = h.submit(NS, "update", json!(["s-00000003", "new"]));
        let old: u64 = out.json();
        assert_eq!(old, 100);
        let rw = out.ns(NS).unwrap();
        assert_eq!(rw.reads.len(), 1);
        assert!(rw.reads[0].version.is_some());
        h.submit(NS, "update", json!(["missing", "x"]))
            .assert_error(400, "does not exist");
        let (count, bytes): (u64, u64) = h.submit(NS, "range", json!(["s-", "s.",])).json();
        assert_eq!(count, 10);
        assert_eq!(bytes, 9 * 100 + 3);
        h.submit(NS, "seed", json!(["x", 0, 1001, 1]))
            .assert_error(400, "at most 1000");
    }
}
