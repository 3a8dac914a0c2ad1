//! `cellchain network up|down|status`: the one-command local network.
//!
//! `up` generates what is missing (crypto material, genesis blocks), builds the
//! contracts, writes every node's config, starts the nodes that are not running
//! as detached processes and waits until all are healthy; `down` stops them
//! (data stays); `status` reports each node. The layout of the network
//! directory and the status JSON are documented in [`crate::network`] and
//! [`crate::network::probe`].

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, ExitCode};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use cellchain_core::config::NetworkConfig;
use time::OffsetDateTime;

use crate::network::configs;
use crate::network::contracts::{self, DEFAULT_CONTRACTS};
use crate::network::deploy;
use crate::network::probe::{probe, ready, NodeStatus};
use crate::network::process::{self, absolute, running_pid, Stopped};
use crate::network::state::{self, Kind, Node, State};
use crate::{cmd_channel, cmd_crypto, cryptogen};

const DEFAULT_TOPOLOGY: &str = "channel-configs/atmp-network.yaml";
const DEFAULT_DIR: &str = ".cellchain";
/// How long `down` waits for a node to exit after SIGTERM.
const STOP_GRACE: Duration = Duration::from_secs(20);

#[derive(clap::Subcommand)]
pub enum NetworkCommand {
    /// Start the local network of a topology and wait until every node is healthy.
    ///
    /// Generates what is missing under DIR (crypto material, the genesis block of
    /// every channel), builds and packages the contracts, writes one config per
    /// node, then starts every node that is not already running as a detached
    /// process: orderers on their topology ports, committers and endorsers on
    /// loopback ports chosen once and kept in DIR/network.json. Waits until each
    /// node answers GET /healthz, each orderer sees a Raft leader on each
    /// channel and each committer and endorser has the genesis block.
    ///
    /// Then deploys the contracts through the chaincode lifecycle, as the
    /// organisations' admins (the first user with role admin of each): installs
    /// each package on every endorser, approves its definition with every
    /// writing organisation, commits it, and waits until every endorser reports
    /// it. A contract already committed with the same module is left alone; one
    /// whose built module differs is upgraded with the next sequence. Finally
    /// prints every node (name, kind, organisation, URL, pid, log). Running it
    /// again starts only missing nodes.
    ///
    /// Layout: DIR/crypto, DIR/<channel>.block,
    /// DIR/chaincode/<name>.package.json, DIR/connection.yaml (for the SDK), and a home
    /// per node, DIR/<orderer>/ or DIR/<MSPID>/<node>/, holding its
    /// <kind>.yaml, data/, <kind>.log and <kind>.pid. A DIR belongs to one
    /// topology file (its genesis blocks carry the orderers' endpoints).
    Up(UpArgs),
    /// Stop every node of the network (SIGTERM; SIGKILL after 20 s). Data stays:
    /// `up` resumes the same ledgers on the same ports.
    Down(DownArgs),
    /// Show every node: pid, URL, health, height per channel, Raft leader
    /// (orderers) and commit hash (committers).
    ///
    /// With --json, prints an array of objects with the fields name, kind
    /// (orderer|committer|endorser), org, pid (null if not running), url,
    /// healthy, height ({channel: n}), raft_leader ({channel: leader name or
    /// null} for orderers, else null) and commit_hash ({channel: hex or null}
    /// for committers, else null). Always exits 0 when the state file is read.
    Status(StatusArgs),
}

#[derive(clap::Args)]
pub struct UpArgs {
    /// The topology (network file). Default: the one the network in DIR was
    /// started with, else channel-configs/atmp-network.yaml.
    #[arg(long, value_name = "FILE")]
    topology: Option<PathBuf>,
    /// The network directory: crypto, genesis blocks, configs, data, logs.
    #[arg(long, value_name = "DIR", default_value = DEFAULT_DIR)]
    dir: PathBuf,
    /// Where the orderer, committer and endorser binaries are. Default: the
    /// directory of this cellchain executable.
    #[arg(long, value_name = "DIR")]
    bin_dir: Option<PathBuf>,
    /// Contract crates to build and run, comma-separated, absolute or relative to
    /// the workspace root; '' for none. Default: the ones the network in DIR was
    /// started with, else chaincode/contracts/{patient-batch,release,data-sharing}.
    #[arg(long, value_name = "CRATES", value_delimiter = ',')]
    contracts: Option<Vec<String>>,
    /// Channel to define and run the contracts on (repeatable). Default: as the
    /// network in DIR was started, else the first channel of the topology.
    #[arg(long = "channel", value_name = "NAME")]
    channels: Option<Vec<String>>,
    /// Seconds to wait for each group of nodes (orderers, committers, endorsers)
    /// to become healthy.
    #[arg(long, value_name = "SECS", default_value_t = 120)]
    timeout: u64,
}

#[derive(clap::Args)]
pub struct DownArgs {
    /// The network directory.
    #[arg(long, value_name = "DIR", default_value = DEFAULT_DIR)]
    dir: PathBuf,
}

#[derive(clap::Args)]
pub struct StatusArgs {
    /// The network directory.
    #[arg(long, value_name = "DIR", default_value = DEFAULT_DIR)]
    dir: PathBuf,
    /// Print the status as a JSON array (fields documented above).
    #[arg(long)]
    json: bool,
}

pub fn run(cmd: NetworkCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        NetworkCommand::Up(a) => up(a),
        NetworkCommand::Down(a) => down(&a.dir),
        NetworkCommand::Status(a) => status(&a.dir, a.json),
    }
}

/// `network up --dir DIR` with every other option at its default: the code
/// path `cellchain demo` uses to start the network when it is not running.
pub(crate) fn up_in(dir: &Path) -> anyhow::Result<ExitCode> {
    up(UpArgs {
        topology: None,
        dir: dir.to_path_buf(),
        bin_dir: None,
        contracts: None,
        channels: None,
        timeout: 120,
    })
}

fn up(a: UpArgs) -> anyhow::Result<ExitCode> {
    fs::create_dir_all(&a.dir).with_context(|| format!("cannot create {}", a.dir.display()))?;
    let dir = absolute(&a.dir);
    let previous = State::load(&dir)?;
    let topology = a
        .topology
        .clone()
        .or_else(|| previous.as_ref().map(|p| p.topology.clone()))
        .unwrap_or_else(|| PathBuf::from(DEFAULT_TOPOLOGY));
    if !topology.is_file() {
        bail!(
            "topology file {} not found: give one with --topology FILE (e.g. {DEFAULT_TOPOLOGY} \
             from the repository root)",
            topology.display()
        );
    }
    let topology = absolute(&topology);
    if let Some(p) = previous.as_ref().filter(|p| p.topology != topology) {
        bail!(
            "the network in {} was made from {}, not {}: use a new --dir for another \
             topology (its genesis blocks carry the old one's orderers)",
            dir.display(),
            p.topology.display(),
            topology.display()
        );
    }
    let text = fs::read_to_string(&topology)
        .with_context(|| format!("cannot read {}", topology.display()))?;
    let net =
        NetworkConfig::from_yaml(&text).with_context(|| format!("in {}", topology.display()))?;
    let bin_dir = process::find_bins(a.bin_dir.as_deref())?;

    // Crypto material and genesis blocks: only what is missing.
    let crypto = dir.join("crypto");
    let spec = cmd_crypto::spec_from_config(&topology)?;
    let report = cryptogen::generate(
        &spec,
        &crypto,
        &cryptogen::Options {
            leaf_days: 730,
            now: OffsetDateTime::now_utc(),
        },
    )?;
    let created = report
        .iter()
        .filter(|g| g.outcome == cryptogen::Outcome::Created)
        .count();
    println!(
        "crypto material in {}: {created} created, {} kept",
        crypto.display(),
        report.len() - created
    );
    for ch in &net.channels {
        let block = dir.join(format!("{}.block", ch.name));
        if !block.exists() {
            cmd_channel::genesis(&topology, &crypto, &block, Some(&ch.name))?;
        }
    }

    // Contracts and their definitions.
    let crates: Vec<String> = a
        .contracts
        .clone()
        .or_else(|| previous.as_ref().map(|p| p.contracts.clone()))
        .unwrap_or_else(|| DEFAULT_CONTRACTS.map(String::from).to_vec())
        .into_iter()
        .map(|c| c.trim().to_string())
        .filter(|c| !c.is_empty())
        .collect();
    let contract_channels = a
        .channels
        .clone()
        .or_else(|| previous.as_ref().map(|p| p.contract_channels.clone()))
        .unwrap_or_else(|| vec![net.channels[0].name.clone()]);
    for ch in &contract_channels {
        if net.channel(ch).is_none() {
            let known: Vec<&str> = net.channels.iter().map(|c| c.name.as_str()).collect();
            bail!(
                "--channel {ch}: no such channel in {} (it has: {})",
                topology.display(),
                known.join(", ")
            );
        }
    }
    let workspace = topology
        .parent()
        .and_then(contracts::workspace_root)
        .or_else(|| contracts::workspace_root(Path::new(".")));
    let built = contracts::build(&crates, workspace.as_deref(), &dir)?;
    // Left by versions that took definitions from a file: nothing reads it now.
    let _ = fs::remove_file(dir.join("definitions.yaml"));

    // Nodes, their ports and configs.
    let nodes = state::plan(&net, previous.as_ref().map(|p| &p.nodes[..]).unwrap_or(&[]))?;
    let st = State {
        topology: topology.clone(),
        contracts: crates,
        contract_channels: contract_channels.clone(),
        nodes: nodes.clone(),
    };
    st.save(&dir)?;
    configs::write_all(&dir, &nodes)?;
    write_if_changed(
        &dir.join("connection.yaml"),
        &configs::connection_profile(&net.name, &nodes),
    )?;

    // Every port must be free before anything starts: no half-started network.
    for n in nodes.iter().filter(|n| running_pid(n, &dir).is_none()) {
        check_port(n, &dir, &topology)?;
    }

    // Start and wait, a group at a time: orderers, committers, endorsers.
    let timeout = Duration::from_secs(a.timeout);
    for kind in [Kind::Orderer, Kind::Committer, Kind::Endorser] {
        let group: Vec<&Node> = nodes.iter().filter(|n| n.kind == kind).collect();
        let mut children: BTreeMap<String, Child> = BTreeMap::new();
        for n in &group {
            if let Some(pid) = running_pid(n, &dir) {
                println!("  running  {} (pid {pid})", n.name);
                continue;
            }
            let _ = fs::remove_file(n.pid_file(&dir));
            check_port(n, &dir, &topology)?;
            let child = process::spawn(n, &dir, &bin_dir)?;
            println!("  started  {} (pid {})", n.name, child.id());
            children.insert(n.name.clone(), child);
        }
        wait_ready(&group, &mut children, &dir, timeout)?;
    }

    // The contracts, through the lifecycle: install, approve, commit.
    if !built.is_empty() {
        println!(
            "deploying {} contract(s) on {} through the chaincode lifecycle",
            built.len(),
            contract_channels.join(", ")
        );
        deploy::deploy(&dir, &net, &nodes, &contract_channels, &built, timeout)?;
    }

    let statuses: Vec<NodeStatus> = nodes
        .iter()
        .map(|n| probe(n, running_pid(n, &dir)))
        .collect();
    println!();
    print_up_table(&nodes, &statuses, &dir);
    println!();
    println!(
        "network {} is up: {} nodes; state in {}, connection profile {}",
        net.name,
        nodes.len(),
        dir.join(state::STATE_FILE).display(),
        dir.join("connection.yaml").display()
    );
    println!(
        "stop it with `cellchain network down --dir {}`",
        a.dir.display()
    );
    Ok(ExitCode::SUCCESS)
}

fn write_if_changed(path: &Path, text: &str) -> anyhow::Result<()> {
    if fs::read_to_string(path).ok().as_deref() != Some(text) {
        fs::write(path, text).with_context(|| format!("cannot write {}", path.display()))?;
    }
    Ok(())
}

/// Refuses to start a node whose port another process holds.
fn check_port(n: &Node, dir: &Path, topology: &Path) -> anyhow::Result<()> {
    match TcpListener::bind(n.address()) {
        Err(e) if e.kind() == std::io::ErrorKind::AddrInUse => {
            if n.kind == Kind::Orderer {
                bail!(
                    "port {} is in use by another process: stop it or change the topology's \
                     orderer port ({} in {}; the genesis blocks carry the endpoints, so start \
                     afresh in a new --dir)",
                    n.port,
                    n.name,
                    topology.display()
                );
            }
            bail!(
                "port {} ({}) is in use by another process: stop it, or remove {} from \
                 {} so that `up` picks a new port for it",
                n.port,
                n.name,
                n.name,
                dir.join(state::STATE_FILE).display()
            );
        }
        _ => Ok(()),
    }
}

/// Waits until every node of `group` is ready, printing a line as each becomes
/// so; fails naming the node (with its log's tail) when one exits or the
/// timeout passes.
fn wait_ready(
    group: &[&Node],
    children: &mut BTreeMap<String, Child>,
    dir: &Path,
    timeout: Duration,
) -> anyhow::Result<()> {
    let deadline = Instant::now() + timeout;
    let mut pending: BTreeSet<&str> = group.iter().map(|n| n.name.as_str()).collect();
    let mut reasons: BTreeMap<&str, String> = BTreeMap::new();
    while !pending.is_empty() {
        let waiting: Vec<&Node> = group
            .iter()
            .copied()
            .filter(|n| pending.contains(n.name.as_str()))
            .collect();
        for n in waiting {
            if let Some(child) = children.get_mut(&n.name) {
                if let Ok(Some(exit)) = child.try_wait() {
                    let _ = fs::remove_file(n.pid_file(dir));
                    bail!(
                        "{} exited during start-up ({exit}); last lines of {}:\n{}\n\
                         hint: fix the cause and run `cellchain network up` again (running nodes \
                         are kept; `cellchain network down` stops them)",
                        n.name,
                        n.log(dir).display(),
                        process::tail(&n.log(dir), 15)
                    );
                }
            }
            // A node this run started is judged by its child handle (checked just
            // above): the pid file and /proc check is for nodes found running.
            let pid = match children.get(&n.name) {
                Some(child) => child.id(),
                None => match running_pid(n, dir) {
                    Some(pid) => pid,
                    None => bail!(
                        "{} is not running any more; last lines of {}:\n{}",
                        n.name,
                        n.log(dir).display(),
                        process::tail(&n.log(dir), 15)
                    ),
                },
            };
            let s = probe(n, Some(pid));
            match ready(n, &s) {
                Ok(()) => {
                    println!(
                        "  ready    {:<28} {:<9} {}{}",
                        n.name,
                        n.kind.bin(),
                        n.url(),
                        heights(&s)
                    );
                    pending.remove(n.name.as_str());
                }
                Err(why) => {
                    reasons.insert(&n.name, why);
                }
            }
        }
        if pending.is_empty() {
            break;
        }
        if Instant::now() > deadline {
            let name = *pending.iter().next().expect("pending");
            let n = group.iter().find(|n| n.name == name).expect("in group");
            bail!(
                "{name} did not become healthy within {}s ({}); last lines of {}:\n{}\n\
                 hint: raise --timeout on a slow machine, or fix the cause and run `up` again",
                timeout.as_secs(),
                reasons.get(name).map_or("no answer", String::as_str),
                n.log(dir).display(),
                process::tail(&n.log(dir), 15)
            );
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    Ok(())
}

fn heights(s: &NodeStatus) -> String {
    if s.height.is_empty() {
        return String::new();
    }
    let hs: Vec<String> = s.height.iter().map(|(c, h)| format!("{c}={h}")).collect();
    format!("  height {}", hs.join(" "))
}

/// Prints rows as a table with a header, columns padded to their widths.
fn print_table(header: &[&str], rows: &[Vec<String>]) {
    let mut widths: Vec<usize> = header.iter().map(|h| h.len()).collect();
    for r in rows {
        for (w, c) in widths.iter_mut().zip(r) {
            *w = (*w).max(c.len());
        }
    }
    let line = |cells: Vec<&str>| {
        let s: Vec<String> = cells
            .iter()
            .zip(&widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect();
        println!("{}", s.join("  ").trim_end());
    };
    line(header.to_vec());
    for r in rows {
        line(r.iter().map(String::as_str).collect());
    }
}

fn pid_text(pid: Option<u32>) -> String {
    pid.map_or("-".into(), |p| p.to_string())
}

fn print_up_table(nodes: &[Node], statuses: &[NodeStatus], dir: &Path) {
    let rows: Vec<Vec<String>> = nodes
        .iter()
        .zip(statuses)
        .map(|(n, s)| {
            vec![
                n.name.clone(),
                n.kind.bin().into(),
                n.org.clone(),
                n.url(),
                pid_text(s.pid),
                n.log(dir).display().to_string(),
            ]
        })
        .collect();
    print_table(&["NAME", "KIND", "ORG", "URL", "PID", "LOG"], &rows);
}

fn down(dir: &Path) -> anyhow::Result<ExitCode> {
    let st = State::require(dir)?;
    let mut stopped = 0;
    // Endorsers first (they follow committers), orderers last.
    for kind in [Kind::Endorser, Kind::Committer, Kind::Orderer] {
        let group: Vec<&Node> = st.nodes.iter().filter(|n| n.kind == kind).collect();
        let running: Vec<(&Node, u32)> = group
            .iter()
            .filter_map(|n| running_pid(n, dir).map(|p| (*n, p)))
            .collect();
        let pids: Vec<u32> = running.iter().map(|r| r.1).collect();
        let outcomes = process::stop_all(&pids, STOP_GRACE);
        for ((n, pid), how) in running.iter().zip(outcomes) {
            match how {
                Stopped::Clean => println!("  stopped  {} (pid {pid})", n.name),
                Stopped::Killed => println!(
                    "  killed   {} (pid {pid}): it did not exit within {}s of SIGTERM; \
                     sent SIGKILL",
                    n.name,
                    STOP_GRACE.as_secs()
                ),
            }
            stopped += 1;
        }
        for n in &group {
            if !running.iter().any(|(r, _)| r.name == n.name) {
                println!("  -        {} was not running", n.name);
            }
            let _ = fs::remove_file(n.pid_file(dir));
        }
    }
    println!(
        "{stopped} node(s) stopped; data kept in {} (`cellchain network up --dir {}` resumes)",
        dir.display(),
        dir.display()
    );
    Ok(ExitCode::SUCCESS)
}

fn status(dir: &Path, json: bool) -> anyhow::Result<ExitCode> {
    let st = State::require(dir)?;
    let statuses: Vec<NodeStatus> = st
        .nodes
        .iter()
        .map(|n| probe(n, running_pid(n, dir)))
        .collect();
    if json {
        println!("{}", serde_json::to_string_pretty(&statuses)?);
        return Ok(ExitCode::SUCCESS);
    }
    let per_channel = |m: &BTreeMap<String, Option<String>>, short: bool| {
        m.iter()
            .map(|(c, v)| {
                let v = v.as_deref().unwrap_or("-");
                let v = if short { &v[..v.len().min(12)] } else { v };
                format!("{c}={v}")
            })
            .collect::<Vec<_>>()
            .join(" ")
    };
    let rows: Vec<Vec<String>> = statuses
        .iter()
        .map(|s| {
            let extra = match (&s.raft_leader, &s.commit_hash) {
                (Some(l), _) => format!("leader {}", per_channel(l, false)),
                (_, Some(h)) if !h.is_empty() => format!("commit {}", per_channel(h, true)),
                _ => String::new(),
            };
            vec![
                s.name.clone(),
                s.kind.bin().into(),
                s.org.clone(),
                pid_text(s.pid),
                s.url.clone(),
                if s.healthy { "yes" } else { "no" }.into(),
                heights(s).trim_start().trim_start_matches("height ").into(),
                extra,
            ]
        })
        .collect();
    print_table(
        &[
            "NAME", "KIND", "ORG", "PID", "URL", "HEALTHY", "HEIGHT", "DETAIL",
        ],
        &rows,
    );
    let healthy = statuses.iter().filter(|s| s.healthy).count();
    println!("{healthy} of {} nodes healthy", statuses.len());
    Ok(ExitCode::SUCCESS)
}
