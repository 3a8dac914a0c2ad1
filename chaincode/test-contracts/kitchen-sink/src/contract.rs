//! One transaction per API call. Values are UTF-8 text so that tests and
//! benchmarks read easily.

use cellchain_contract::{contract, hex, Context, KeyValue, Page};
use serde_json::Value;

use crate::error::KitchenSinkError;
use crate::msg::{CallerInfo, Entry, EntryPage, Stats, Tagged, TransientInfo};
use crate::state::{rw10_key, tag_key, PRIVATE_VALUE, STATS_PREFIX, TAG_INDEX};

type Result<T> = std::result::Result<T, KitchenSinkError>;

pub struct KitchenSink;

#[contract]
impl KitchenSink {
    // ---- public state ------------------------------------------------------

    /// Writes a text value (the benchmark's simplest transaction).
    #[transaction]
    pub fn put(ctx: &mut Context, key: String, value: String) -> Result<()> {
        Ok(ctx.put_state(&key, value.as_bytes())?)
    }

    /// Reads a text value.
    #[transaction(evaluate)]
    pub fn get(ctx: &Context, key: String) -> Result<Option<String>> {
        ctx.get_state(&key)?.map(|v| text(&key, v)).transpose()
    }

    /// Writes a JSON value.
    #[transaction]
    pub fn put_json(ctx: &mut Context, key: String, value: Value) -> Result<()> {
        Ok(ctx.put_state_json(&key, &value)?)
    }

    /// Reads a JSON value.
    #[transaction(evaluate)]
    pub fn get_json(ctx: &Context, key: String) -> Result<Option<Value>> {
        Ok(ctx.get_state_json(&key)?)
    }

    /// Deletes a key.
    #[transaction]
    pub fn del(ctx: &mut Context, key: String) -> Result<()> {
        Ok(ctx.del_state(&key)?)
    }

    /// Writes `key`, then reads it: Fabric semantics return the committed value,
    /// not the write.
    #[transaction]
    pub fn read_own_write(ctx: &mut Context, key: String, value: String) -> Result<Option<String>> {
        ctx.put_state(&key, value.as_bytes())?;
        ctx.get_state(&key)?.map(|v| text(&key, v)).transpose()
    }

    /// Reads ten keys `prefix0..prefix9` and writes all ten (a benchmark
    /// transaction with a realistic read/write set). Returns how many existed.
    #[transaction]
    pub fn rw10(ctx: &mut Context, prefix: String, value: String) -> Result<u32> {
        let mut existed = 0;
        for i in 0..10 {
            if ctx.get_state(&rw10_key(&prefix, i))?.is_some() {
                existed += 1;
            }
        }
        for i in 0..10 {
            ctx.put_state(&rw10_key(&prefix, i), value.as_bytes())?;
        }
        Ok(existed)
    }

    /// Returns its argument (the cost of a call that touches no state).
    #[transaction(evaluate)]
    pub fn echo(_ctx: &Context, value: Value) -> Result<Value> {
        Ok(value)
    }

    // ---- ranges and composite keys -------------------------------------------

    /// Every simple key in `[start, end)`.
    #[transaction(evaluate)]
    pub fn range(ctx: &Context, start: String, end: String) -> Result<Vec<Entry>> {
        entries(ctx.get_state_by_range(&start, &end)?)
    }

    /// One page of `[start, end)`.
    #[transaction(evaluate)]
    pub fn range_page(
        ctx: &Context,
        start: String,
        end: String,
        page_size: u32,
        bookmark: Option<String>,
    ) -> Result<EntryPage> {
        page(ctx.get_state_by_range_page(&start, &end, page_size, bookmark.as_deref())?)
    }

    /// Writes `value` under the composite key `tag~id / tag / id`.
    #[transaction]
    pub fn tag(ctx: &mut Context, tag: String, id: String, value: String) -> Result<String> {
        let key = tag_key(&tag, &id)?;
        ctx.put_state(&key, value.as_bytes())?;
        Ok(key)
    }

    /// Every entry with `tag` (a partial composite key query), split back
    /// into its attributes.
    #[transaction(evaluate)]
    pub fn by_tag(ctx: &Context, tag: String) -> Result<Vec<Tagged>> {
        let mut out = Vec::new();
        for kv in ctx.get_state_by_partial_composite_key(TAG_INDEX, &[&tag])? {
            let (_, attrs) = ctx.split_composite_key(&kv.key)?;
            out.push(Tagged {
                tag: attrs[0].clone(),
                id: attrs[1].clone(),
                value: text(&kv.key, kv.value)?,
            });
        }
        Ok(out)
    }

    /// One page of the entries with `tag`.
    #[transaction(evaluate)]
    pub fn by_tag_page(
        ctx: &Context,
        tag: String,
        page_size: u32,
        bookmark: Option<String>,
    ) -> Result<EntryPage> {
        page(ctx.get_state_by_partial_composite_key_page(
            TAG_INDEX,
            &[&tag],
            page_size,
            bookmark.as_deref(),
        )?)
    }

    /// The composite key of `object_type` and `attributes`.
    #[transaction(evaluate)]
    pub fn composite_key(
        ctx: &Context,
        object_type: String,
        attributes: Vec<String>,
    ) -> Result<String> {
        let attrs: Vec<&str> = attributes.iter().map(String::as_str).collect();
        Ok(ctx.create_composite_key(&object_type, &attrs)?)
    }

    /// A composite key split into object type and attributes.
    #[transaction(evaluate)]
    pub fn split_key(ctx: &Context, key: String) -> Result<(String, Vec<String>)> {
        Ok(ctx.split_composite_key(&key)?)
    }

    // ---- private data and transient inputs -------------------------------------

    /// Writes the transient input `value` as a private value: the value never
    /// appears in the proposal or the block.
    #[transaction(transient = "value")]
    pub fn put_private(ctx: &mut Context, collection: String, key: String) -> Result<()> {
        let value =
            ctx.transient(PRIVATE_VALUE)
                .ok_or_else(|| KitchenSinkError::MissingTransient {
                    name: PRIVATE_VALUE.into(),
                })?;
        Ok(ctx.put_private_data(&collection, &key, &value)?)
    }

    /// Reads a private value.
    #[transaction(evaluate)]
    pub fn get_private(ctx: &Context, collection: String, key: String) -> Result<Option<String>> {
        ctx.get_private_data(&collection, &key)?
            .map(|v| text(&key, v))
            .transpose()
    }

    /// The SHA-256 (hex) of a private value.
    #[transaction(evaluate)]
    pub fn private_hash(ctx: &Context, collection: String, key: String) -> Result<Option<String>> {
        Ok(ctx
            .get_private_data_hash(&collection, &key)?
            .map(hex::encode))
    }

    /// Deletes a private value.
    #[transaction]
    pub fn del_private(ctx: &mut Context, collection: String, key: String) -> Result<()> {
        Ok(ctx.del_private_data(&collection, &key)?)
    }

    /// A transient input and the names of all of them.
    #[transaction(evaluate)]
    pub fn transient(ctx: &Context, key: String) -> Result<TransientInfo> {
        Ok(TransientInfo {
            value: ctx.transient(&key).map(|v| text(&key, v)).transpose()?,
            keys: ctx.transient_keys().to_vec(),
        })
    }

    // ---- events, identity, policies ---------------------------------------------

    /// Emits one event with a JSON payload.
    #[transaction]
    pub fn emit(ctx: &mut Context, name: String, payload: Value) -> Result<()> {
        Ok(ctx.set_event_json(&name, &payload)?)
    }

    /// Emits `count` events `e0, e1, ..` with raw payloads (beyond the host's
    /// limit the invocation fails).
    #[transaction]
    pub fn emit_many(ctx: &mut Context, count: u32) -> Result<()> {
        for i in 0..count {
            ctx.set_event(&format!("e{i}"), i.to_string().as_bytes())?;
        }
        Ok(())
    }

    /// The caller and the proposal, as the contract sees them.
    #[transaction(evaluate)]
    pub fn whoami(ctx: &Context) -> Result<CallerInfo> {
        let c = ctx.caller();
        Ok(CallerInfo {
            msp_id: c.msp_id.clone(),
            role: c.role.clone(),
            attributes: c.attributes.clone(),
            common_name: c.common_name.clone(),
            subject: c.subject.clone(),
            cert_hash: c.cert_hash.clone(),
            tx_id: ctx.tx_id().to_string(),
            channel_id: ctx.channel_id().to_string(),
            timestamp: ctx.timestamp(),
            function: ctx.function().to_string(),
            transient_keys: ctx.transient_keys().to_vec(),
        })
    }

    /// Succeeds only for a caller whose `role` attribute is `role`.
    #[transaction(evaluate)]
    pub fn require_role(ctx: &Context, role: String) -> Result<String> {
        let caller = ctx.caller();
        if !caller.has_role(&role) {
            return Err(KitchenSinkError::WrongRole {
                required: role,
                actual: caller.attribute("role").map(str::to_string),
            });
        }
        Ok(caller.common_name.clone())
    }

    /// Sets (or, with "", removes) the endorsement policy of `key`.
    #[transaction]
    pub fn set_key_policy(ctx: &mut Context, key: String, policy: String) -> Result<()> {
        Ok(ctx.set_key_endorsement_policy(&key, &policy)?)
    }

    // ---- crypto, cross-contract reads, errors, floats, logs -------------------------

    /// SHA-256 (hex) of the text, computed by the host.
    #[transaction(evaluate)]
    pub fn sha256(ctx: &Context, data: String) -> Result<String> {
        Ok(hex::encode(ctx.sha256(data.as_bytes())))
    }

    /// Checks a P-256 signature (key SEC1 hex, signature DER hex) over `message`.
    #[transaction(evaluate)]
    pub fn verify_p256(
        ctx: &Context,
        public_key: String,
        message: String,
        signature: String,
    ) -> Result<bool> {
        Ok(ctx.verify_p256_signature(
            &hex::decode(&public_key)?,
            message.as_bytes(),
            &hex::decode(&signature)?,
        ))
    }

    /// A text value of another contract on the channel.
    #[transaction(evaluate)]
    pub fn read_other(ctx: &Context, namespace: String, key: String) -> Result<Option<String>> {
        ctx.get_state_of(&namespace, &key)?
            .map(|v| text(&key, v))
            .transpose()
    }

    /// A JSON value of another contract on the channel.
    #[transaction(evaluate)]
    pub fn read_other_json(ctx: &Context, namespace: String, key: String) -> Result<Option<Value>> {
        Ok(ctx.get_state_of_json(&namespace, &key)?)
    }

    /// Always refuses: a domain error with the given reason.
    #[transaction]
    pub fn fail(_ctx: &mut Context, reason: String) -> Result<()> {
        Err(KitchenSinkError::Refused { reason })
    }

    /// Summarises readings with floating point, NaN included, and stores the
    /// summary under `stats/<name>`.
    #[transaction]
    pub fn float_stats(ctx: &mut Context, name: String, readings: Vec<f64>) -> Result<Stats> {
        let count = readings.len();
        // 0/0 is NaN for no readings: deliberately computed, not special-cased.
        let mean = readings.iter().sum::<f64>() / count as f64;
        // f64::min/max leave the sign of a zero result unspecified, and x86 and
        // wasm pick differently: `+ 0.0` turns -0.0 into 0.0, so a native test
        // predicts the exact bytes the endorser writes.
        let min = readings.iter().copied().fold(f64::NAN, f64::min) + 0.0;
        let max = readings.iter().copied().fold(f64::NAN, f64::max) + 0.0;
        let sqrt_mean = mean.sqrt();
        let nan_fields = [
            ("mean", mean),
            ("min", min),
            ("max", max),
            ("sqrt_mean", sqrt_mean),
        ]
        .iter()
        .filter(|(_, v)| v.is_nan())
        .map(|(n, _)| n.to_string())
        .collect();
        let stats = Stats {
            count,
            mean,
            min,
            max,
            sqrt_mean,
            nan_fields,
        };
        ctx.put_state_json(&format!("{STATS_PREFIX}{name}"), &stats)?;
        Ok(stats)
    }

    /// Logs `message` at every level.
    #[transaction(evaluate)]
    pub fn log(ctx: &Context, message: String) -> Result<()> {
        ctx.log_error(&message);
        ctx.log_warn(&message);
        ctx.log_info(&message);
        ctx.log_debug(&message);
        ctx.log_trace(&message);
        Ok(())
    }
}

fn text(key: &str, value: Vec<u8>) -> Result<String> {
    String::from_utf8(value).map_err(|_| KitchenSinkError::NotText {
        key: key.to_string(),
    })
}

fn entries(kvs: Vec<KeyValue>) -> Result<Vec<Entry>> {
    kvs.into_iter()
        .map(|kv| {
            Ok(Entry {
                value: text(&kv.key, kv.value)?,
                key: kv.key,
            })
        })
        .collect()
}

fn page(p: Page) -> Result<EntryPage> {
    Ok(EntryPage {
        entries: entries(p.entries)?,
        bookmark: p.bookmark,
    })
}
