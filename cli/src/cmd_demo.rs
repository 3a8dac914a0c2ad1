//! `cellchain demo`: the vein-to-vein story over the local network.
//!
//! Starts the network of DIR if any node is not running (the code path of
//! `cellchain network up`), maps the story's people to the network's users,
//! runs the story of examples/vein-to-vein through the client SDK with fresh
//! identifiers, and ends with the block height, the validation codes of the
//! transactions committed during the run and the throughput.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use anyhow::Context;
use cellchain_sdk::ConnectionProfile;
use vein_to_vein_example::{RunIds, PEOPLE};

use crate::cmd_network;
use crate::demo::ledger::NetLedger;
use crate::demo::people;
use crate::network::process::running_pid;
use crate::network::state::State;
use crate::{clock, cmd_crypto};

#[derive(clap::Args)]
pub struct DemoArgs {
    /// The network directory (started with `cellchain network up --dir DIR`;
    /// started here, as `network up` would, when a node is not running).
    #[arg(long, value_name = "DIR", default_value = ".cellchain")]
    dir: PathBuf,
}

pub fn run(a: DemoArgs) -> anyhow::Result<ExitCode> {
    let dir = &a.dir;
    let running = State::load(dir)?.is_some_and(|st| {
        st.nodes
            .iter()
            .all(|n| running_pid(n, &crate::network::process::absolute(dir)).is_some())
    });
    if !running {
        println!(
            "==> the network in {} is not running: starting it",
            dir.display()
        );
        let code = cmd_network::up_in(dir)?;
        if code != ExitCode::SUCCESS {
            return Ok(code);
        }
        println!();
    }
    let st = State::require(dir)?;
    let channel = st
        .contract_channels
        .first()
        .context("the network runs no contracts (network.json has no contract channel)")?
        .clone();
    let profile = profile(dir)?;
    let spec = cmd_crypto::spec_from_config(&st.topology)?;
    let cast = people::cast(&PEOPLE, &spec, &dir.join("crypto"))?;
    people::print(&cast);

    let mut ledger = NetLedger::connect(&profile, &channel, &cast)?;
    let (now, _) = clock::now();
    let ids = RunIds::fresh(now);
    println!(
        "\nChannel {channel} at height {}; this run's cases: {} and {}",
        ledger.start_height, ids.patients[0].coi, ids.patients[1].coi
    );
    let started = Instant::now();
    let result = vein_to_vein_example::run(&mut ledger, &ids);
    let elapsed = started.elapsed().as_secs_f64();
    let height = ledger.height_now(&profile);

    println!("\n== Summary ==");
    println!(
        "block height of channel {channel}: {height} ({} blocks during the run, from height {})",
        height.saturating_sub(ledger.start_height),
        ledger.start_height
    );
    let total: u64 = ledger.codes.values().sum();
    let codes: Vec<String> = ledger
        .codes
        .iter()
        .map(|(c, n)| format!("{c} {n}"))
        .collect();
    println!(
        "validation codes of the {total} transactions in those blocks: {}",
        if codes.is_empty() {
            "none".to_string()
        } else {
            codes.join(", ")
        }
    );
    let valid = ledger.codes.get("VALID").copied().unwrap_or(0);
    println!(
        "throughput: {valid} valid transactions committed in {elapsed:.1} s = {:.2} tx/s \
         ({} submitted by the demo, one at a time: each step waits for its commit)",
        valid as f64 / elapsed.max(0.001),
        ledger.submitted
    );
    match result {
        Ok(()) => {
            println!("\nThe story ran as expected on the network.");
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            eprintln!("\ndemo stopped: unexpected answer at {e}");
            Ok(ExitCode::from(1))
        }
    }
}

/// DIR/connection.yaml (the contracts' endorsement policies come from the
/// ledger: the SDK reads the committed definitions).
fn profile(dir: &Path) -> anyhow::Result<ConnectionProfile> {
    Ok(ConnectionProfile::from_file(dir.join("connection.yaml"))?)
}
