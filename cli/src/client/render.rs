//! Blocks, transactions and payloads as the client commands print them.

use base64::Engine;
use cellchain_core::protocol::{Block, PayloadData, TxValidationCode};
use serde::Serialize;
use serde_json::Value;

/// What `block show` and `tx show` tell about one transaction of a block.
#[derive(Debug, Clone, Serialize)]
pub struct TxSummary {
    /// Its position in the block.
    pub index: usize,
    /// `null` when the envelope's payload does not parse.
    pub tx_id: Option<String>,
    /// `endorser`, `config`, or `unreadable`.
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub creator_msp: Option<String>,
    pub chaincode: Option<String>,
    pub chaincode_version: Option<String>,
    pub function: Option<String>,
    pub args: Vec<Value>,
    /// The committer's code name, e.g. `VALID`, `MVCC_READ_CONFLICT`.
    pub validation_code: String,
    /// The MSP id of each endorsement's endorser.
    pub endorsers: Vec<String>,
    /// Public keys read and written, over all namespaces.
    pub reads: usize,
    pub writes: usize,
    pub range_queries: usize,
    /// Private data key hashes read and written.
    pub private_reads: usize,
    pub private_writes: usize,
    /// Names of the chaincode events it emitted.
    pub events: Vec<String>,
    /// Why its contents could not be decoded, if so.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub problem: Option<String>,
}

/// The validation code of transaction `i` (`NOT_VALIDATED` when the block has none).
pub fn code_of(block: &Block, i: usize) -> TxValidationCode {
    block
        .metadata
        .validation_codes
        .get(i)
        .copied()
        .unwrap_or(TxValidationCode::NotValidated)
}

/// Every transaction of a block, decoded as far as it goes.
pub fn summarize(block: &Block) -> Vec<TxSummary> {
    block
        .data
        .envelopes
        .iter()
        .enumerate()
        .map(|(i, envelope)| {
            let mut s = TxSummary {
                index: i,
                tx_id: None,
                kind: "unreadable",
                creator_msp: None,
                chaincode: None,
                chaincode_version: None,
                function: None,
                args: Vec::new(),
                validation_code: code_of(block, i).name(),
                endorsers: Vec::new(),
                reads: 0,
                writes: 0,
                range_queries: 0,
                private_reads: 0,
                private_writes: 0,
                events: Vec::new(),
                problem: None,
            };
            let payload = match envelope.parse_payload() {
                Ok(p) => p,
                Err(e) => {
                    s.problem = Some(e.to_string());
                    return s;
                }
            };
            s.tx_id = Some(payload.header.tx_id.to_string());
            s.creator_msp = Some(payload.header.creator.msp_id.clone());
            match &payload.data {
                PayloadData::Config(_) => s.kind = "config",
                PayloadData::Endorser(tx) => {
                    s.kind = "endorser";
                    s.endorsers = tx
                        .endorsements
                        .iter()
                        .map(|e| e.endorser.msp_id.clone())
                        .collect();
                    match tx.parse(&payload.header) {
                        Ok((proposal, response)) => {
                            s.chaincode = Some(proposal.chaincode);
                            s.function = Some(proposal.function);
                            s.args = proposal.args;
                            s.chaincode_version = Some(response.chaincode.version);
                            for ns in &response.rwset.ns_rwsets {
                                s.reads += ns.reads.len();
                                s.writes += ns.writes.len();
                                s.range_queries += ns.range_queries.len();
                                for c in &ns.collections {
                                    s.private_reads += c.hashed_reads.len();
                                    s.private_writes += c.hashed_writes.len();
                                }
                            }
                            s.events = response.events.into_iter().map(|e| e.name).collect();
                        }
                        Err(e) => s.problem = Some(e.to_string()),
                    }
                }
            }
            s
        })
        .collect()
}

/// The block as JSON: the stored block's fields unchanged (`header`, `data`,
/// `metadata`; envelope payloads stay base64), plus `transactions`, the
/// decoded [`TxSummary`] of each envelope.
pub fn block_json(block: &Block) -> Value {
    let mut v = serde_json::to_value(block).expect("blocks encode");
    v["transactions"] = serde_json::to_value(summarize(block)).expect("summaries encode");
    v
}

/// Prints a block for people.
pub fn print_block(block: &Block, channel: &str) {
    let h = &block.header;
    println!("block {} of channel {channel}", h.number);
    println!("  hash           {}", block.hash());
    println!("  previous hash  {}", h.previous_hash);
    println!("  data hash      {}", h.data_hash);
    println!(
        "  commit hash    {}",
        block
            .metadata
            .commit_hash
            .map_or("- (not validated)".to_string(), |c| c.to_string())
    );
    println!("  last config    {}", block.metadata.last_config);
    let signers: Vec<&str> = block
        .metadata
        .signatures
        .iter()
        .map(|s| s.signer.msp_id.as_str())
        .collect();
    println!(
        "  signed by      {}",
        if signers.is_empty() {
            "-".to_string()
        } else {
            signers.join(", ")
        }
    );
    let txs = summarize(block);
    println!("  transactions   {}", txs.len());
    for t in &txs {
        println!();
        print_tx(t, "  ");
    }
}

/// Prints one transaction summary, each line prefixed with `indent`.
pub fn print_tx(t: &TxSummary, indent: &str) {
    println!(
        "{indent}tx #{} {}",
        t.index,
        t.tx_id.as_deref().unwrap_or("(unreadable)")
    );
    let line = |label: &str, value: String| println!("{indent}  {label:<12} {value}");
    line("validation", t.validation_code.clone());
    line("type", t.kind.to_string());
    if let Some(c) = &t.creator_msp {
        line("creator", c.clone());
    }
    if let Some(cc) = &t.chaincode {
        let version = t
            .chaincode_version
            .as_deref()
            .map(|v| format!(" (version {v})"))
            .unwrap_or_default();
        line("chaincode", format!("{cc}{version}"));
    }
    if let Some(f) = &t.function {
        line("function", f.clone());
        let args: Vec<String> = t.args.iter().map(Value::to_string).collect();
        line("args", shorten(&args.join(" "), 200));
    }
    if t.kind == "endorser" {
        line(
            "endorsers",
            if t.endorsers.is_empty() {
                "-".into()
            } else {
                t.endorsers.join(", ")
            },
        );
        let mut rw = format!("{} read(s), {} write(s)", t.reads, t.writes);
        if t.range_queries > 0 {
            rw += &format!(", {} range query(ies)", t.range_queries);
        }
        if t.private_reads + t.private_writes > 0 {
            rw += &format!(
                "; private: {} read(s), {} write(s)",
                t.private_reads, t.private_writes
            );
        }
        line("rwset", rw);
        if !t.events.is_empty() {
            line("events", t.events.join(", "));
        }
    }
    if let Some(p) = &t.problem {
        line("problem", p.clone());
    }
}

fn shorten(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_string();
    }
    let cut: String = s.chars().take(max).collect();
    format!("{cut}...")
}

/// A payload for people: pretty JSON when it parses, else its text, else base64.
pub fn payload_text(bytes: &[u8]) -> String {
    if bytes.is_empty() {
        return "(empty)".into();
    }
    if let Ok(v) = serde_json::from_slice::<Value>(bytes) {
        return serde_json::to_string_pretty(&v).expect("JSON values encode");
    }
    match std::str::from_utf8(bytes) {
        Ok(t) => t.to_string(),
        Err(_) => format!(
            "base64:{}",
            base64::engine::general_purpose::STANDARD.encode(bytes)
        ),
    }
}

/// A payload as a JSON value: the JSON itself when it parses, else a string
/// (its text, or `base64:...`), `null` when empty.
pub fn payload_json(bytes: &[u8]) -> Value {
    if bytes.is_empty() {
        return Value::Null;
    }
    if let Ok(v) = serde_json::from_slice::<Value>(bytes) {
        return v;
    }
    match std::str::from_utf8(bytes) {
        Ok(t) => Value::String(t.to_string()),
        Err(_) => Value::String(format!(
            "base64:{}",
            base64::engine::general_purpose::STANDARD.encode(bytes)
        )),
    }
}

/// A payload on one line (events): compact JSON, else text, else base64.
pub fn payload_line(bytes: &[u8]) -> String {
    match payload_json(bytes) {
        Value::Null => "(empty)".into(),
        Value::String(s) if serde_json::from_slice::<Value>(bytes).is_err() => s,
        v => v.to_string(),
    }
}
