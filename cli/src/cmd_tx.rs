//! `cellchain invoke`, `cellchain query` and `cellchain tx show`: transactions
//! through the SDK against the network of `cellchain network up`.

use std::process::ExitCode;

use cellchain_core::protocol::Query;
use cellchain_sdk::SdkError;
use serde_json::json;

use crate::client::render::{payload_json, payload_text, print_tx, summarize};
use crate::client::{
    block_on, fail, parse_args, parse_transient, parse_tx_id, sdk, ClientArgs, Session, TxStatus,
};

const INVOKE_EXAMPLES: &str = "\
Examples:
  cellchain invoke test-kitchen-sink put '\"k\"' '\"v\"'
  cellchain invoke patient-batch confirm_slot '{\"coi\":\"COI-1\"}' --user HospitalAMSP/clinician
  cellchain invoke test-kitchen-sink put_private '\"coll\"' '\"k\"' --transient value=secret
  cellchain invoke test-kitchen-sink put '\"k\"' '\"v\"' --endorsing-orgs Org1MSP,Org2MSP --json";

const QUERY_EXAMPLES: &str = "\
Examples:
  cellchain query test-kitchen-sink get '\"k\"'
  cellchain query test-kitchen-sink echo '{\"a\": [1, 2]}' --channel testchannel
  cellchain query test-kitchen-sink whoami --user Org2MSP/app1
  cellchain query patient-batch get_case '\"COI-1\"' --user CdmoMSP/manufacturing";

const TX_EXAMPLES: &str = "\
Examples:
  cellchain tx show 3f9c0e...e1 (the 64 hex digits `cellchain invoke` printed)
  cellchain tx show 3f9c0e...e1 --json --dir /tmp/net";

/// `cellchain invoke`.
#[derive(clap::Args)]
#[command(after_help = INVOKE_EXAMPLES)]
pub struct InvokeArgs {
    /// The chaincode name (the contract crate's package name, e.g. test-kitchen-sink).
    chaincode: String,
    /// The contract function.
    function: String,
    /// The function's arguments, each a JSON value (quote strings: '"k"').
    #[arg(value_name = "ARGS_JSON")]
    args: Vec<String>,
    /// A transient (private) input NAME=VALUE, given to the endorsers only, never
    /// ordered nor stored (repeatable).
    #[arg(long, value_name = "NAME=VALUE")]
    transient: Vec<String>,
    /// Endorse with one endorser of each of these organisations, comma-separated.
    /// Default: as the chaincode's committed definition requires (its endorsement
    /// policy, read from the channel's `_lifecycle`); for a chaincode under a
    /// channel policy, every writing organisation of the channel.
    #[arg(long, value_name = "A,B", value_delimiter = ',')]
    endorsing_orgs: Option<Vec<String>>,
    /// Print {tx_id, channel, block, index, validation_code, payload} as JSON.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    client: ClientArgs,
}

/// `cellchain query`.
#[derive(clap::Args)]
#[command(after_help = QUERY_EXAMPLES)]
pub struct QueryArgs {
    /// The chaincode name.
    chaincode: String,
    /// The contract function (read-only: nothing is ordered).
    function: String,
    /// The function's arguments, each a JSON value (quote strings: '"k"').
    #[arg(value_name = "ARGS_JSON")]
    args: Vec<String>,
    /// A transient input NAME=VALUE (repeatable).
    #[arg(long, value_name = "NAME=VALUE")]
    transient: Vec<String>,
    /// Print the payload as compact JSON (a string when it is not JSON).
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    client: ClientArgs,
}

#[derive(clap::Subcommand)]
pub enum TxCommand {
    /// Show a committed transaction: its commit status (block, position,
    /// validation code) from a committer, then its details from its block
    /// (creator, chaincode and function, endorsers, reads and writes).
    ///
    /// With --json: {tx_id, channel, block, index, validation_code,
    /// transaction}, where transaction has the fields of `block show --json`'s
    /// transactions. Exit 1 when it is not committed (yet) on the channel.
    #[command(after_help = TX_EXAMPLES)]
    Show(TxShowArgs),
}

#[derive(clap::Args)]
pub struct TxShowArgs {
    /// The transaction id (64 hex digits).
    txid: String,
    /// Print JSON (fields above).
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    client: ClientArgs,
}

pub fn run_invoke(a: InvokeArgs) -> anyhow::Result<ExitCode> {
    block_on(invoke(a))
}

pub fn run_query(a: QueryArgs) -> anyhow::Result<ExitCode> {
    block_on(query(a))
}

pub fn run_tx(cmd: TxCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        TxCommand::Show(a) => block_on(tx_show(a)),
    }
}

async fn invoke(a: InvokeArgs) -> anyhow::Result<ExitCode> {
    let args = parse_args(&a.args)?;
    let transient = parse_transient(&a.transient)?;
    let s = Session::open(&a.client)?;
    let mut contract = s.network().contract(&a.chaincode);
    if let Some(orgs) = a.endorsing_orgs {
        let can = s.writer_orgs();
        if let Some(bad) = orgs.iter().find(|o| !can.contains(o)) {
            return Err(fail(
                format!(
                    "--endorsing-orgs: {bad} has no endorser on channel {} in {}",
                    s.channel,
                    s.dir.join("connection.yaml").display()
                ),
                format!("the organisations that can endorse are: {}", can.join(", ")),
            ));
        }
        contract = contract.with_endorsing_orgs(orgs);
    }
    let what = format!(
        "invoking {}.{} on channel {} as {}",
        a.chaincode, a.function, s.channel, s.user
    );
    let done = match contract.submit_with(transient, &a.function, args).await {
        Ok(d) => d,
        Err(e @ SdkError::Invalid { .. }) => {
            if let SdkError::Invalid { tx_id, code, block } = &e {
                if a.json {
                    println!(
                        "{}",
                        serde_json::to_string_pretty(&json!({
                            "tx_id": tx_id.to_string(), "channel": s.channel,
                            "block": block, "validation_code": code.name(),
                        }))?
                    );
                } else {
                    println!("tx id       {tx_id}");
                    println!("block       {block}");
                    println!("validation  {code}");
                }
            }
            return Err(sdk(&what, e, &s.dir));
        }
        Err(e) => return Err(sdk(&what, e, &s.dir)),
    };
    if a.json {
        let v = json!({
            "tx_id": done.tx_id.to_string(),
            "channel": s.channel,
            "block": done.block,
            "index": done.index,
            "validation_code": "VALID",
            "payload": payload_json(&done.payload),
        });
        println!("{}", serde_json::to_string_pretty(&v)?);
    } else {
        println!("tx id       {}", done.tx_id);
        println!("block       {} (transaction #{})", done.block, done.index);
        println!("validation  VALID");
        let payload = payload_text(&done.payload);
        if payload.contains('\n') {
            println!("result:\n{payload}");
        } else {
            println!("result      {payload}");
        }
    }
    Ok(ExitCode::SUCCESS)
}

async fn query(a: QueryArgs) -> anyhow::Result<ExitCode> {
    let args = parse_args(&a.args)?;
    let transient = parse_transient(&a.transient)?;
    let s = Session::open(&a.client)?;
    let contract = s.network().contract(&a.chaincode);
    let payload = contract
        .evaluate_with(transient, &a.function, args)
        .await
        .map_err(|e| {
            let what = format!(
                "querying {}.{} on channel {} as {}",
                a.chaincode, a.function, s.channel, s.user
            );
            sdk(&what, e, &s.dir)
        })?;
    if a.json {
        println!("{}", payload_json(&payload));
    } else {
        println!("{}", payload_text(&payload));
    }
    Ok(ExitCode::SUCCESS)
}

async fn tx_show(a: TxShowArgs) -> anyhow::Result<ExitCode> {
    let tx_id = parse_tx_id(&a.txid)?;
    let s = Session::open(&a.client)?;
    let status: TxStatus = s
        .query(Query::TxStatus { tx_id }, "tx status query")
        .await?;
    let block = s.block(status.block).await?;
    let summary = summarize(&block).into_iter().nth(status.index as usize);
    if a.json {
        let v = json!({
            "tx_id": tx_id.to_string(),
            "channel": s.channel,
            "block": status.block,
            "index": status.index,
            "validation_code": status.code.name,
            "transaction": summary,
        });
        println!("{}", serde_json::to_string_pretty(&v)?);
        return Ok(ExitCode::SUCCESS);
    }
    println!("transaction {tx_id} on channel {}", s.channel);
    println!(
        "  committed in block {} as transaction #{}: {}",
        status.block, status.index, status.code.name
    );
    match summary {
        Some(t) => {
            println!();
            print_tx(&t, "  ");
        }
        None => println!(
            "  (block {} has no transaction #{})",
            status.block, status.index
        ),
    }
    Ok(ExitCode::SUCCESS)
}
