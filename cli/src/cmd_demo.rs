//! `cellchain demo`: the vein-to-vein story over the local network.
//!
//! Starts the network of DIR if any node is not running (the code path of
//! `cellchain network up`), maps the story's people to the network's users,
//! runs the story of examples/vein-to-vein through the client SDK with fresh
//! identifiers, and ends with the block height, the validation codes of the
//! transactions committed during the run and the throughput.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{bail, Context};
use cellchain_core::policy::SignaturePolicy;
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
    let profile = profile(dir, &channel)?;
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

/// DIR/connection.yaml, with the contracts' policies from DIR/definitions.yaml
/// when the profile lacks them.
fn profile(dir: &Path, channel: &str) -> anyhow::Result<ConnectionProfile> {
    let path = dir.join("connection.yaml");
    let mut profile = ConnectionProfile::from_file(&path)?;
    let defs_path = dir.join("definitions.yaml");
    let defs: serde_yaml::Value = serde_yaml::from_str(
        &fs::read_to_string(&defs_path)
            .with_context(|| format!("cannot read {}", defs_path.display()))?,
    )
    .with_context(|| format!("{} is not YAML", defs_path.display()))?;
    let Some(list) = defs["channels"][channel].as_sequence() else {
        bail!(
            "{} defines no contract on channel {channel}",
            defs_path.display()
        );
    };
    for d in list {
        let (Some(name), Some(policy)) = (
            d["name"].as_str(),
            d["endorsement_policy"]["signature"].as_str(),
        ) else {
            continue;
        };
        if !profile.policies.contains_key(name) {
            let p = SignaturePolicy::parse(policy)
                .with_context(|| format!("policy of {name} in {}", defs_path.display()))?;
            profile.policies.insert(name.to_string(), p);
        }
    }
    Ok(profile)
}
