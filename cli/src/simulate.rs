//! `cellchain chaincode simulate`: one invocation of a module, locally, through
//! the same wasmtime runtime and production limits the endorser uses, against a
//! state given in a file. Nothing is signed or ordered; this is the contract
//! developer's "what would my endorser answer?".

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use crate::clock::now;
use anyhow::{bail, Context};
use base64::Engine;
use cellchain_chaincode_runtime::{CallerInfo, Invocation, InvokeOutcome, Runtime, RuntimeConfig};
use cellchain_core::bytes::{sha256, Bytes, Hash32};
use cellchain_core::identity::{Msp, Revocation, Role};
use cellchain_core::protocol::{TxId, Version};
use cellchain_simulator::MemoryState;
use serde_json::{json, Value};

use crate::cmd_chaincode::SimulateArgs;

pub fn run(a: &SimulateArgs) -> anyhow::Result<ExitCode> {
    let wasm =
        std::fs::read(&a.wasm).with_context(|| format!("cannot read {}", a.wasm.display()))?;
    let args = parse_args(&a.args)?;
    let (now_secs, timestamp) = now();
    let caller = caller(a, now_secs)?;
    let state = match &a.state {
        Some(p) => load_state(p)?,
        None => MemoryState::new(),
    };
    let mut transient = BTreeMap::new();
    for t in &a.transient {
        let (k, v) = t
            .split_once('=')
            .with_context(|| format!("--transient {t:?}: expected KEY=VALUE"))?;
        transient.insert(k.to_string(), Bytes(v.as_bytes().to_vec()));
    }

    let mut config = RuntimeConfig::default();
    if let Some(f) = a.fuel {
        config.fuel = f;
    }
    let runtime = Runtime::new(config, None).context("cannot start the wasm runtime")?;
    let t0 = Instant::now();
    let installed = match runtime.install(&wasm) {
        Ok(i) => i,
        Err(e) => {
            // A module the endorser would refuse: say which rule, exit 1.
            report_failure(a.json, "install", &e.to_string());
            return Ok(ExitCode::from(1));
        }
    };
    let install_ms = t0.elapsed().as_secs_f64() * 1e3;
    let inv = Invocation {
        chaincode: a.name.clone(),
        function: a.function.clone(),
        args,
        tx_id: TxId(sha256(&timestamp.as_unix_nanos().to_be_bytes())),
        channel_id: a.channel.clone(),
        timestamp,
        caller,
        transient,
    };
    let t1 = Instant::now();
    let result = installed.invoke(&inv, &state);
    let invoke_us = t1.elapsed().as_secs_f64() * 1e6;
    match result {
        Ok(out) => Ok(report(a.json, &inv, &out, install_ms, invoke_us)),
        Err(e) => {
            report_failure(a.json, "invoke", &e.to_string());
            Ok(ExitCode::from(1))
        }
    }
}

/// `[..]` positional, `{..}` one named-argument object, anything else one value.
fn parse_args(text: &str) -> anyhow::Result<Vec<Value>> {
    let v: Value =
        serde_json::from_str(text).with_context(|| format!("--args is not JSON: {text}"))?;
    Ok(match v {
        Value::Array(a) => a,
        Value::Null => Vec::new(),
        other => vec![other],
    })
}

/// The caller: a certificate validated against its CA, or a local stand-in.
fn caller(a: &SimulateArgs, now: i64) -> anyhow::Result<CallerInfo> {
    let Some(cert_path) = &a.caller else {
        return Ok(CallerInfo {
            msp_id: "LocalMSP".into(),
            role: Role::Client,
            attributes: BTreeMap::new(),
            common_name: "local-simulator".into(),
            subject: "CN=local-simulator,OU=client,O=LocalMSP".into(),
            cert_hash: Hash32::ZERO,
        });
    };
    let cert = std::fs::read_to_string(cert_path)
        .with_context(|| format!("cannot read {}", cert_path.display()))?;
    // Crypto layout: DIR/<MSPID>/{users,nodes}/<name>/cert.pem.
    let layout_org = cert_path
        .canonicalize()
        .ok()
        .and_then(|p| p.ancestors().nth(3).map(Path::to_path_buf));
    let ca_path: PathBuf = match (&a.ca, &layout_org) {
        (Some(ca), _) => ca.clone(),
        (None, Some(org)) if org.join("ca/ca.pem").is_file() => org.join("ca/ca.pem"),
        _ => bail!("--caller {}: give its CA with --ca", cert_path.display()),
    };
    let msp_id = match (&a.msp_id, &layout_org) {
        (Some(m), _) => m.clone(),
        (None, Some(org)) => org
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default(),
        (None, None) => bail!(
            "--caller {}: give its organisation with --msp-id",
            cert_path.display()
        ),
    };
    let ca = std::fs::read_to_string(&ca_path)
        .with_context(|| format!("cannot read {}", ca_path.display()))?;
    let msp = Msp::new(&msp_id, &[ca], &Revocation::default())
        .with_context(|| format!("CA {}", ca_path.display()))?;
    let id = msp
        .validate(&cert, now)
        .with_context(|| format!("caller certificate {}", cert_path.display()))?;
    Ok(CallerInfo::from(&id))
}

fn value_bytes(v: &Value) -> anyhow::Result<Vec<u8>> {
    if let Some(b64) = v.as_str().and_then(|s| s.strip_prefix("base64:")) {
        return base64::engine::general_purpose::STANDARD
            .decode(b64)
            .context("invalid base64 value in the state file");
    }
    Ok(serde_json::to_vec(v)?)
}

fn load_state(path: &Path) -> anyhow::Result<MemoryState> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let doc: Value =
        serde_json::from_str(&text).with_context(|| format!("{} is not JSON", path.display()))?;
    let Some(top) = doc.as_object() else {
        bail!(
            "{}: expected an object with \"public\" and/or \"private\"",
            path.display()
        )
    };
    let mut state = MemoryState::new();
    let mut tx = 0u32;
    let mut version = || {
        tx += 1;
        Version { block: 1, tx }
    };
    for (section, body) in top {
        let Some(namespaces) = body.as_object() else {
            bail!("{}: \"{section}\" must be an object", path.display())
        };
        for (ns, entries) in namespaces {
            let Some(entries) = entries.as_object() else {
                bail!("{}: {section}.{ns} must be an object", path.display())
            };
            match section.as_str() {
                "public" => {
                    for (k, v) in entries {
                        state.put(ns, k, &value_bytes(v)?, version());
                    }
                }
                "private" => {
                    for (coll, kv) in entries {
                        let Some(kv) = kv.as_object() else {
                            bail!("{}: private.{ns}.{coll} must be an object", path.display())
                        };
                        for (k, v) in kv {
                            state.put_private(ns, coll, k, &value_bytes(v)?, version());
                        }
                    }
                }
                other => bail!(
                    "{}: unknown section {other:?}; use \"public\" and \"private\"",
                    path.display()
                ),
            }
        }
    }
    Ok(state)
}

/// The payload as JSON when it is JSON, else as base64.
fn payload_value(p: &[u8]) -> Value {
    serde_json::from_slice(p).unwrap_or_else(
        |_| json!({ "base64": base64::engine::general_purpose::STANDARD.encode(p) }),
    )
}

fn report(
    as_json: bool,
    inv: &Invocation,
    out: &InvokeOutcome,
    install_ms: f64,
    invoke_us: f64,
) -> ExitCode {
    let ok = out.response.is_success();
    let private: BTreeMap<&String, Vec<&String>> = out
        .output
        .private_writes
        .iter()
        .map(|(c, kv)| (c, kv.keys().collect()))
        .collect();
    if as_json {
        let doc = json!({
            "function": inv.function,
            "status": out.response.status,
            "message": out.response.message,
            "payload": payload_value(&out.response.payload),
            "rwset": out.output.tx_rwset(),
            "events": out.output.events,
            "private_write_keys": private,
            "fuel_used": out.fuel_used,
            "logs": out.logs.iter().map(|l| json!({"level": l.level, "message": l.message})).collect::<Vec<_>>(),
            "install_ms": install_ms,
            "invoke_us": invoke_us,
        });
        println!(
            "{}",
            serde_json::to_string_pretty(&doc).expect("serialisable")
        );
    } else {
        println!(
            "status     {}{}",
            out.response.status,
            if ok { " (ok)" } else { " (contract error)" }
        );
        if !out.response.message.is_empty() {
            println!("message    {}", out.response.message);
        }
        if !out.response.payload.is_empty() {
            println!("payload    {}", payload_value(&out.response.payload));
        }
        println!("fuel used  {}", out.fuel_used);
        println!("time       install {install_ms:.1} ms, invoke {invoke_us:.0} us");
        println!(
            "rwset      {}",
            serde_json::to_string_pretty(&out.output.tx_rwset()).expect("serialisable")
        );
        for e in &out.output.events {
            println!("event      {} {}", e.name, payload_value(&e.payload));
        }
        for (c, keys) in &private {
            println!(
                "private    {c}: {} key(s) written (values stay with the endorser)",
                keys.len()
            );
        }
        for l in &out.logs {
            println!("log[{}]     {}", l.level, l.message);
        }
    }
    if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

fn report_failure(as_json: bool, stage: &str, reason: &str) {
    if as_json {
        println!(
            "{}",
            json!({ "status": 500, "failed": stage, "message": reason })
        );
    } else {
        println!("failed ({stage}): {reason}");
    }
}
