//! The built-in `_lifecycle` chaincode, run natively (no wasm) by the endorser.
//!
//! Its reads and writes go through the same simulator as contracts
//! ([`TxSimulator`] on the namespace `_lifecycle`), so the read/write set the
//! endorser signs is real and MVCC protects it: a commit reads the approval
//! keys it counted, and a changed approval makes the commit an MVCC conflict.
//! The rules themselves are `cellchain_core::lifecycle`'s.
//!
//! | function | who | reads | writes | answer |
//! |---|---|---|---|---|
//! | `approve(definition)` | an admin of the endorser's organisation ORG | `definition/CC` | `approval/CC/ORG` | the definition |
//! | `commit(definition)` | an admin of a member organisation | `definition/CC`, `approval/CC/X` of each writing member X | `definition/CC` | the definition |
//! | `check_commit_readiness(definition)` | any reader | as commit | nothing | a `Readiness` (200 even when not ready) |
//! | `query_committed()` / `query_committed(name)` | any reader | `definition/*` / `definition/NAME` | nothing | every definition (name order) / one (404 if none) |
//! | `query_approved(name)` | any reader | `approval/NAME/*` | nothing | MSP id -> approved definition |
//!
//! Refusals are chaincode errors (an unsigned response with the status): 403
//! for the wrong creator, 400 for a definition that `check_definition`
//! refuses (its `LifecycleError` text) or a commit that is not ready (the
//! `Readiness` text), 404 for an unknown chaincode, 400 for bad arguments.
//! A commit also needs this endorser's own organisation to have approved
//! exactly the definition: each endorser vouches only for what its
//! organisation agreed to.

use std::collections::BTreeMap;

use cellchain_chaincode_runtime::{InvokeError, InvokeOutcome, Limits, StateView};
use cellchain_core::bytes::Bytes;
use cellchain_core::config::ChannelConfig;
use cellchain_core::identity::{Identity, Role};
use cellchain_core::lifecycle::{
    approval_key, check_definition, check_name, decode_definition, definition_key,
    encode_definition, functions, readiness, ChaincodeDefinition, LifecycleKey, DEFINITION_PREFIX,
    LIFECYCLE,
};
use cellchain_core::protocol::ChaincodeResponse;
use cellchain_simulator::{SimError, TxSimulator};
use serde::Serialize;
use serde_json::Value;

/// One call of `_lifecycle`.
pub struct LifecycleCall<'a> {
    pub channel: &'a ChannelConfig,
    /// The endorser's own organisation.
    pub own_msp: &'a str,
    pub creator: &'a Identity,
    pub function: &'a str,
    pub args: &'a [Value],
}

/// Why a call ends without a success.
enum Fail {
    /// A chaincode error response: status and message.
    Refused(u16, String),
    /// A state access failed or hit a limit: an invocation error.
    Sim(SimError),
}

impl From<SimError> for Fail {
    fn from(e: SimError) -> Self {
        Fail::Sim(e)
    }
}

fn refused(status: u16, message: impl Into<String>) -> Fail {
    Fail::Refused(status, message.into())
}

type Sim<'s> = TxSimulator<'s, dyn StateView + 's>;

/// Runs `call` against `state`: the response (success or chaincode error)
/// with the simulation's read/write set, or the invocation error of a failed
/// state access.
pub fn invoke(
    call: &LifecycleCall<'_>,
    state: &dyn StateView,
    limits: Limits,
) -> Result<InvokeOutcome, InvokeError> {
    let mut sim: Sim<'_> = TxSimulator::new(state, LIFECYCLE, limits);
    let response = match run(call, &mut sim) {
        Ok(payload) => ChaincodeResponse {
            status: 200,
            message: String::new(),
            payload: Bytes(payload),
        },
        Err(Fail::Refused(status, message)) => ChaincodeResponse {
            status,
            message,
            payload: Bytes::default(),
        },
        Err(Fail::Sim(e)) => return Err(e.into()),
    };
    Ok(InvokeOutcome {
        response,
        output: sim.finish(),
        fuel_used: 0,
        logs: Vec::new(),
        logs_dropped: 0,
    })
}

fn run(call: &LifecycleCall<'_>, sim: &mut Sim<'_>) -> Result<Vec<u8>, Fail> {
    match call.function {
        functions::APPROVE => approve(call, sim),
        functions::COMMIT => commit(call, sim),
        functions::CHECK_COMMIT_READINESS => check_commit_readiness(call, sim),
        functions::QUERY_COMMITTED => query_committed(call, sim),
        functions::QUERY_APPROVED => query_approved(call, sim),
        other => Err(refused(
            400,
            format!(
                "_lifecycle has no function {other:?}; its functions are {}, {}, {}, {} and {}",
                functions::APPROVE,
                functions::COMMIT,
                functions::CHECK_COMMIT_READINESS,
                functions::QUERY_COMMITTED,
                functions::QUERY_APPROVED
            ),
        )),
    }
}

fn json<T: Serialize + ?Sized>(v: &T) -> Vec<u8> {
    serde_json::to_vec(v).expect("lifecycle answers always serialise")
}

/// The single definition argument (a JSON object, or a string holding one).
fn definition_arg(call: &LifecycleCall<'_>) -> Result<ChaincodeDefinition, Fail> {
    let [arg] = call.args else {
        return Err(refused(
            400,
            format!(
                "_lifecycle {} takes one argument, the chaincode definition; got {}",
                call.function,
                call.args.len()
            ),
        ));
    };
    let parsed = match arg {
        Value::String(s) => serde_json::from_str(s),
        v => serde_json::from_value(v.clone()),
    };
    let def: ChaincodeDefinition = parsed.map_err(|e| {
        refused(
            400,
            format!(
                "_lifecycle {}: the argument is not a chaincode definition: {e}",
                call.function
            ),
        )
    })?;
    check_name(&def.name).map_err(|e| refused(400, e))?;
    Ok(def)
}

/// The single name argument.
fn name_arg<'a>(call: &'a LifecycleCall<'_>) -> Result<&'a str, Fail> {
    match call.args {
        [Value::String(name)] => Ok(name),
        _ => Err(refused(
            400,
            format!(
                "_lifecycle {} takes one argument, the chaincode name as a string",
                call.function
            ),
        )),
    }
}

fn decode(key: &str, bytes: &[u8]) -> Result<ChaincodeDefinition, Fail> {
    decode_definition(bytes).map_err(|e| {
        refused(
            500,
            format!("the stored _lifecycle entry {key} does not decode: {e}"),
        )
    })
}

fn committed(sim: &mut Sim<'_>, name: &str) -> Result<Option<ChaincodeDefinition>, Fail> {
    let key = definition_key(name);
    match sim.get_state(&key)? {
        Some(bytes) => Ok(Some(decode(&key, &bytes)?)),
        None => Ok(None),
    }
}

/// The current approval of `name` by each writing member of the channel
/// (each key read, present or not, so that the read set covers them all).
fn approvals(
    call: &LifecycleCall<'_>,
    sim: &mut Sim<'_>,
    name: &str,
) -> Result<BTreeMap<String, ChaincodeDefinition>, Fail> {
    let mut out = BTreeMap::new();
    for org in call.channel.organizations.iter().filter(|o| !o.read_only) {
        let key = approval_key(name, &org.msp_id);
        if let Some(bytes) = sim.get_state(&key)? {
            out.insert(org.msp_id.clone(), decode(&key, &bytes)?);
        }
    }
    Ok(out)
}

fn checked(
    call: &LifecycleCall<'_>,
    sim: &mut Sim<'_>,
    def: &ChaincodeDefinition,
) -> Result<(), Fail> {
    let current = committed(sim, &def.name)?;
    check_definition(call.channel, current.as_ref(), def).map_err(|e| refused(400, e.to_string()))
}

fn approve(call: &LifecycleCall<'_>, sim: &mut Sim<'_>) -> Result<Vec<u8>, Fail> {
    let own = call.own_msp;
    if call.creator.role != Role::Admin || call.creator.msp_id != own {
        return Err(refused(
            403,
            format!("approve must be sent by an admin of {own} and endorsed by {own}'s peer"),
        ));
    }
    let def = definition_arg(call)?;
    checked(call, sim, &def)?;
    sim.put_state(&approval_key(&def.name, own), &encode_definition(&def))?;
    Ok(json(&def))
}

fn commit(call: &LifecycleCall<'_>, sim: &mut Sim<'_>) -> Result<Vec<u8>, Fail> {
    if call.creator.role != Role::Admin || !call.channel.is_member(&call.creator.msp_id) {
        return Err(refused(
            403,
            format!(
                "commit must be sent by an admin of a member organisation of channel {}",
                call.channel.channel_id
            ),
        ));
    }
    let def = definition_arg(call)?;
    checked(call, sim, &def)?;
    let approvals = approvals(call, sim, &def.name)?;
    let r = readiness(call.channel, &def, &approvals);
    let own_approved = approvals.get(call.own_msp) == Some(&def);
    if !r.ready {
        return Err(refused(400, r.to_string()));
    }
    if !own_approved {
        return Err(refused(
            400,
            format!(
                "{r}; this endorser's organisation {} has not approved this exact definition, so it does not endorse the commit: ask an endorser of an organisation that approved it",
                call.own_msp
            ),
        ));
    }
    sim.put_state(&definition_key(&def.name), &encode_definition(&def))?;
    Ok(json(&def))
}

fn check_commit_readiness(call: &LifecycleCall<'_>, sim: &mut Sim<'_>) -> Result<Vec<u8>, Fail> {
    let def = definition_arg(call)?;
    checked(call, sim, &def)?;
    let approvals = approvals(call, sim, &def.name)?;
    Ok(json(&readiness(call.channel, &def, &approvals)))
}

/// Every `(key, value)` of the `_lifecycle` keys starting with `prefix`, in
/// key order, page by page.
fn scan(sim: &mut Sim<'_>, prefix: &str) -> Result<Vec<(String, Vec<u8>)>, Fail> {
    // Keys are `a/b/c` names: `0` sorts just after `/`, so this ends the prefix.
    let end = format!("{}0", prefix.trim_end_matches('/'));
    let mut start = prefix.to_string();
    let mut out = Vec::new();
    loop {
        let (rows, more) = sim.get_state_range(&start, &end, 0)?;
        let last = rows.last().map(|(k, _)| k.clone());
        out.extend(rows);
        match (more, last) {
            (true, Some(last)) => start = format!("{last}\0"),
            _ => return Ok(out),
        }
    }
}

fn query_committed(call: &LifecycleCall<'_>, sim: &mut Sim<'_>) -> Result<Vec<u8>, Fail> {
    if call.args.is_empty() {
        let mut all = Vec::new();
        for (key, bytes) in scan(sim, DEFINITION_PREFIX)? {
            if let Some(LifecycleKey::Definition { .. }) = LifecycleKey::parse(&key) {
                all.push(decode(&key, &bytes)?);
            }
        }
        return Ok(json(&all));
    }
    let name = name_arg(call)?;
    let not_defined = || {
        refused(
            404,
            format!(
                "chaincode {name} is not defined on channel {}",
                call.channel.channel_id
            ),
        )
    };
    if check_name(name).is_err() {
        return Err(not_defined());
    }
    match committed(sim, name)? {
        Some(def) => Ok(json(&def)),
        None => Err(not_defined()),
    }
}

fn query_approved(call: &LifecycleCall<'_>, sim: &mut Sim<'_>) -> Result<Vec<u8>, Fail> {
    let name = name_arg(call)?;
    check_name(name).map_err(|e| refused(400, e))?;
    let mut out = BTreeMap::new();
    for (key, bytes) in scan(sim, &format!("approval/{name}/"))? {
        if let Some(LifecycleKey::Approval { org, .. }) = LifecycleKey::parse(&key) {
            out.insert(org.to_string(), decode(&key, &bytes)?);
        }
    }
    Ok(json(&out))
}
