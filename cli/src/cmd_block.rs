//! `cellchain block show` and `cellchain events`: the validated blocks of a
//! channel, one at a time or followed, from the committers of the network of
//! `cellchain network up`.

use std::path::PathBuf;
use std::process::ExitCode;

use cellchain_sdk::ChaincodeEventRecord;
use serde_json::json;

use crate::client::render::{block_json, code_of, payload_json, payload_line, print_block};
use crate::client::{block_on, sdk, ClientArgs, Session};

const BLOCK_EXAMPLES: &str = "\
Examples:
  cellchain block show 0                 the genesis block
  cellchain block show 5 --channel atmp
  cellchain block show 5 --json | jq '.transactions[].tx_id'";

const EVENTS_EXAMPLES: &str = "\
Examples:
  cellchain events                                  new blocks, until interrupted
  cellchain events --from 0 --count 3               blocks 0, 1 and 2, then exit
  cellchain events --chaincode test-kitchen-sink    that chaincode's events
  cellchain events --checkpoint listener.json       resume where the last run stopped";

#[derive(clap::Subcommand)]
pub enum BlockCommand {
    /// Show block N of a channel, as validated by a committer of the user's
    /// organisation (another one if it cannot be reached): its number, hash,
    /// previous hash, data hash, commit hash, and per transaction its id,
    /// creator's MSP, chaincode and function, validation code, endorsers' MSPs
    /// and number of reads and writes.
    ///
    /// With --json: the block as stored (header, data with base64 envelopes,
    /// metadata with the validation codes and commit hash), plus a
    /// `transactions` array decoding each envelope: index, tx_id, type
    /// (endorser|config), creator_msp, chaincode, chaincode_version, function,
    /// args, validation_code, endorsers, reads, writes, range_queries,
    /// private_reads, private_writes, events. Exit 1 when the channel has no
    /// block N yet.
    #[command(after_help = BLOCK_EXAMPLES)]
    Show(BlockShowArgs),
}

#[derive(clap::Args)]
pub struct BlockShowArgs {
    /// The block number (0: the genesis block).
    number: u64,
    /// Print the block as JSON (fields above).
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    client: ClientArgs,
}

/// `cellchain events`.
#[derive(clap::Args)]
#[command(after_help = EVENTS_EXAMPLES)]
pub struct EventsArgs {
    /// Follow this chaincode's events (those of valid transactions) instead of
    /// blocks.
    #[arg(long, value_name = "CC")]
    chaincode: Option<String>,
    /// The first block to read. Default: the channel's current height (only new
    /// blocks). Ignored when the checkpoint file exists.
    #[arg(long, value_name = "N")]
    from: Option<u64>,
    /// Keep the position in FILE: when it exists, reading resumes right after
    /// the last block (or event) a previous run printed; it is updated after each.
    #[arg(long, value_name = "FILE")]
    checkpoint: Option<PathBuf>,
    /// Stop after K blocks (block events) or K events (--chaincode). Default:
    /// follow until interrupted.
    #[arg(long, value_name = "K")]
    count: Option<u64>,
    /// One JSON object per line: block events {block, tx_index, tx_id,
    /// validation_code, chaincode, function}, chaincode events {block,
    /// tx_index, event_index, tx_id, chaincode, name, payload}.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    client: ClientArgs,
}

pub fn run_block(cmd: BlockCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        BlockCommand::Show(a) => block_on(show(a)),
    }
}

pub fn run_events(a: EventsArgs) -> anyhow::Result<ExitCode> {
    block_on(events(a))
}

async fn show(a: BlockShowArgs) -> anyhow::Result<ExitCode> {
    let s = Session::open(&a.client)?;
    let block = s.block(a.number).await?;
    if a.json {
        println!("{}", serde_json::to_string_pretty(&block_json(&block))?);
    } else {
        print_block(&block, &s.channel);
    }
    Ok(ExitCode::SUCCESS)
}

async fn events(a: EventsArgs) -> anyhow::Result<ExitCode> {
    let s = Session::open(&a.client)?;
    let exists = a.checkpoint.as_ref().is_some_and(|c| c.exists());
    let from = match a.from {
        Some(n) => n,
        // The checkpoint decides; no need to ask the height.
        None if exists => 0,
        None => s.height().await?,
    };
    if a.count == Some(0) {
        return Ok(ExitCode::SUCCESS);
    }
    let net = s.network();
    let what = format!("following channel {}", s.channel);
    let mut seen = 0u64;
    match &a.chaincode {
        None => {
            let mut feed = net.block_events(from);
            if let Some(c) = &a.checkpoint {
                feed = feed
                    .with_checkpoint_file(c)
                    .map_err(|e| sdk(&what, e, &s.dir))?;
            }
            while let Some(next) = feed.next().await {
                let block = next.map_err(|e| sdk(&what, e, &s.dir))?;
                print_block_event(&block, a.json);
                feed.commit().map_err(|e| sdk(&what, e, &s.dir))?;
                seen += 1;
                if a.count.is_some_and(|k| seen >= k) {
                    break;
                }
            }
        }
        Some(cc) => {
            let mut feed = net.chaincode_events(cc, from);
            if let Some(c) = &a.checkpoint {
                feed = feed
                    .with_checkpoint_file(c)
                    .map_err(|e| sdk(&what, e, &s.dir))?;
            }
            while let Some(next) = feed.next().await {
                let record = next.map_err(|e| sdk(&what, e, &s.dir))?;
                print_chaincode_event(&record, a.json);
                feed.commit().map_err(|e| sdk(&what, e, &s.dir))?;
                seen += 1;
                if a.count.is_some_and(|k| seen >= k) {
                    break;
                }
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// One line per transaction of the block (a block without one gets a line too).
fn print_block_event(block: &cellchain_sdk::Block, as_json: bool) {
    let n = block.header.number;
    let txs = crate::client::render::summarize(block);
    if txs.is_empty() {
        if as_json {
            println!("{}", json!({"block": n, "tx_index": null}));
        } else {
            println!("block {n}  (no transactions)");
        }
        return;
    }
    for t in txs {
        let code = code_of(block, t.index);
        if as_json {
            println!(
                "{}",
                json!({
                    "block": n, "tx_index": t.index, "tx_id": t.tx_id,
                    "validation_code": code.name(), "chaincode": t.chaincode,
                    "function": t.function,
                })
            );
        } else {
            let call = match (&t.chaincode, &t.function) {
                (Some(cc), Some(f)) => format!("  {cc}.{f}"),
                _ => format!("  ({})", t.kind),
            };
            println!(
                "block {n}  tx {}  {code}{call}",
                t.tx_id.as_deref().unwrap_or("(unreadable)")
            );
        }
    }
}

fn print_chaincode_event(r: &ChaincodeEventRecord, as_json: bool) {
    if as_json {
        println!(
            "{}",
            json!({
                "block": r.block, "tx_index": r.tx_index, "event_index": r.event_index,
                "tx_id": r.tx_id.to_string(), "chaincode": r.event.chaincode,
                "name": r.event.name, "payload": payload_json(&r.event.payload),
            })
        );
    } else {
        println!(
            "block {}  tx {}  {}  {}",
            r.block,
            r.tx_id,
            r.event.name,
            payload_line(&r.event.payload)
        );
    }
}
