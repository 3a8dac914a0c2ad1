//! `cellchain bench --workload FILE`: the benchmark harness.
//!
//! Uses the network in `--dir` when every node of it runs; otherwise starts it
//! as `cellchain network up --dir DIR --topology T --contracts C --channel CH`
//! would (the same code path) with the workload's `network` section, and stops
//! it again at the end unless `--keep-running`. The default DIR is
//! `.cellchain-bench/<topology file stem>` (so workloads of one topology share a
//! network), or `.cellchain` when the workload has no `network` section.
//!
//! The chaincode's explicit policy (`chaincode.policy`) is recorded in
//! `DIR/chaincode/policies.json` and deployed through the lifecycle (an
//! upgrade with the next sequence when the committed definition has another
//! policy). Then each round runs (see [`crate::bench::runner`]) and its
//! results are printed; `--json` and `--html` write the reports.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{bail, Context};
use cellchain_core::config::NetworkConfig;
use clap::Parser;

use crate::bench::env::Env;
use crate::bench::report::{self, RoundReport};
use crate::bench::runner;
use crate::bench::workload::Workload;
use crate::cmd_network::{self, NetworkCommand};
use crate::network::process::{absolute, running_pid};
use crate::network::state::State;
use crate::network::{contracts, deploy};

#[derive(clap::Args)]
pub struct BenchArgs {
    /// The workload file (YAML): network, channel, chaincode and rounds (see
    /// examples/bench/README.md).
    #[arg(long, value_name = "FILE")]
    workload: PathBuf,
    /// The network directory. A running network there is used as it is; else
    /// it is started from the workload's `network` section. Default:
    /// .cellchain-bench/<topology file stem> (.cellchain without a `network`
    /// section).
    #[arg(long, value_name = "DIR")]
    dir: Option<PathBuf>,
    /// Write the rounds' results as a JSON array to FILE.
    #[arg(long, value_name = "FILE")]
    json: Option<PathBuf>,
    /// Write a self-contained HTML report (inline SVG charts) to FILE.
    #[arg(long, value_name = "FILE")]
    html: Option<PathBuf>,
    /// Leave a network this command started running at the end (by default it
    /// is stopped; a network that was already running is always left running).
    #[arg(long)]
    keep_running: bool,
}

/// To run `cellchain network up|down` through their own code path (the
/// arguments start at `up`/`down`).
#[derive(Parser)]
#[command(name = "cellchain")]
struct NetworkCli {
    #[command(subcommand)]
    command: NetworkCommand,
}

fn network(args: &[&str]) -> anyhow::Result<ExitCode> {
    let cli = NetworkCli::try_parse_from(std::iter::once("cellchain").chain(args.iter().copied()))
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    cmd_network::run(cli.command)
}

pub fn run(a: BenchArgs) -> anyhow::Result<ExitCode> {
    let workload = match Workload::load(&a.workload) {
        Ok(w) => w,
        Err(e) => {
            eprintln!("error: {e:#}");
            return Ok(ExitCode::from(1));
        }
    };
    let dir = a.dir.clone().unwrap_or_else(|| default_dir(&workload));
    let mut started = false;
    let result = bench(&a, &workload, &dir, &mut started);
    if started && !a.keep_running {
        println!("\nstopping the network this run started (--keep-running leaves it up)");
        if let Err(e) = network(&["down", "--dir", &dir.display().to_string()]) {
            eprintln!("warning: stopping the network in {}: {e:#}", dir.display());
        }
    } else if started {
        println!(
            "\nthe network is left running: `cellchain network down --dir {}` stops it",
            dir.display()
        );
    }
    match result {
        Ok(()) => Ok(ExitCode::SUCCESS),
        Err(e) => {
            eprintln!("error: {e:#}");
            Ok(ExitCode::from(1))
        }
    }
}

fn default_dir(w: &Workload) -> PathBuf {
    match w.topology() {
        Some(t) => {
            let stem = t
                .file_stem()
                .map_or("network".into(), |s| s.to_string_lossy().into_owned());
            PathBuf::from(".cellchain-bench").join(stem)
        }
        None => PathBuf::from(".cellchain"),
    }
}

fn all_running(dir: &Path) -> bool {
    let abs = absolute(dir);
    State::load(&abs)
        .ok()
        .flatten()
        .is_some_and(|st| st.nodes.iter().all(|n| running_pid(n, &abs).is_some()))
}

fn bench(a: &BenchArgs, w: &Workload, dir: &Path, started: &mut bool) -> anyhow::Result<()> {
    println!("== cellchain bench: {} ==", w.name);
    if !w.description.trim().is_empty() {
        println!("{}", w.description.trim());
    }
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    if let Some(cc) = &w.chaincode {
        if let Some(p) = &cc.policy {
            contracts::set_policy_override(dir, &cc.name, p)?;
        }
    }
    let running = all_running(dir);
    if running {
        println!("using the running network in {}", dir.display());
    } else {
        let Some(spec) = &w.network else {
            bail!(
                "no network runs in {} and the workload has no `network` section: start one \
                 with `cellchain network up --dir {}` or add `network: {{ topology: FILE }}`",
                dir.display(),
                dir.display()
            );
        };
        let topology = w.topology().expect("network section");
        println!(
            "starting the network of {} in {} (as `cellchain network up`)",
            topology.display(),
            dir.display()
        );
        let dir_s = dir.display().to_string();
        let topo_s = topology.display().to_string();
        let contracts_s = spec.contracts.join(",");
        let mut args = vec![
            "up",
            "--dir",
            &dir_s,
            "--topology",
            &topo_s,
            "--contracts",
            &contracts_s,
        ];
        if let Some(ch) = &w.channel {
            args.extend(["--channel", ch.as_str()]);
        }
        *started = true;
        let code = network(&args)?;
        if code != ExitCode::SUCCESS {
            bail!("`cellchain network up --dir {}` failed", dir.display());
        }
    }
    let dir = absolute(dir);
    let st = State::require(&dir)?;
    let channel = match &w.channel {
        Some(c) => c.clone(),
        None => st
            .contract_channels
            .first()
            .cloned()
            .context("channel: the workload names none and the network runs no contracts")?,
    };
    // A running network: deploy (or re-define) the workload's contracts on
    // the channel, as `up` would have.
    if running {
        if let Some(spec) = w.network.as_ref().filter(|s| !s.contracts.is_empty()) {
            let text = std::fs::read_to_string(&st.topology)?;
            let net = NetworkConfig::from_yaml(&text)?;
            let workspace = st
                .topology
                .parent()
                .and_then(contracts::workspace_root)
                .or_else(|| contracts::workspace_root(Path::new(".")));
            let built = contracts::build(&spec.contracts, workspace.as_deref(), &dir)?;
            println!("deploying the workload's contracts on {channel}");
            deploy::deploy(
                &dir,
                &net,
                &st.nodes,
                std::slice::from_ref(&channel),
                &built,
                Duration::from_secs(120),
            )?;
        }
    }

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let reports = runtime.block_on(async {
        let env = Env::open(
            &dir,
            &channel,
            w.chaincode.as_ref().map(|c| c.name.as_str()),
        )?;
        let users: Vec<&str> = env.kv.iter().map(|(u, _)| u.as_str()).collect();
        println!(
            "\nchannel {channel}; key-value workers sign as {} (in turn)",
            users.join(", ")
        );
        let mut reports: Vec<RoundReport> = Vec::new();
        for (i, r) in w.rounds.iter().enumerate() {
            let amount = match (r.tx_count, &r.duration) {
                (Some(n), _) => format!("{n} tx"),
                (_, Some(d)) => d.clone(),
                _ => String::new(),
            };
            println!(
                "\n-- round {} of {}: {} ({}, {} workers, {}, {amount}) --",
                i + 1,
                w.rounds.len(),
                r.name,
                r.workload.kind(),
                r.workers,
                r.rate.describe()
            );
            let rep = runner::run_round(&env, i, r)
                .await
                .with_context(|| format!("round {}", r.name))?;
            println!(
                "  {}: {} committed of {} submitted, {} failed, {} timed out; {:.1} tx/s; \
                 p50 {:.1} ms, p99 {:.1} ms",
                rep.name,
                rep.committed,
                rep.submitted,
                rep.failed_total(),
                rep.timed_out,
                rep.tps,
                rep.p50_ms,
                rep.p99_ms
            );
            reports.push(rep);
        }
        anyhow::Ok(reports)
    });
    runtime.shutdown_timeout(Duration::from_secs(1));
    let reports = reports?;
    print!("{}", report::text(&w.name, &reports));
    if let Some(path) = &a.json {
        std::fs::write(path, serde_json::to_string_pretty(&reports)? + "\n")
            .with_context(|| format!("cannot write {}", path.display()))?;
        println!("\nJSON report: {}", path.display());
    }
    if let Some(path) = &a.html {
        std::fs::write(path, report::html(&w.name, &w.description, &reports))
            .with_context(|| format!("cannot write {}", path.display()))?;
        println!("HTML report: {}", path.display());
    }
    Ok(())
}
