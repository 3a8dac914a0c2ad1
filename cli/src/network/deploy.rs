//! Deploying the network's contracts through the chaincode lifecycle, with the
//! SDK, as the organisations' admins would by hand:
//!
//! 1. every organisation's admin installs each package on its endorsers;
//! 2. each writing organisation's admin approves the definition (name, the
//!    crate's version, the next sequence, the module's SHA-256, the policy and
//!    collections of [`super::contracts::definition_policy`]);
//! 3. the first writing organisation's admin commits it;
//! 4. `up` waits until every endorser reports the committed definitions.
//!
//! Idempotent: a contract whose committed definition already has the built
//! module's hash is left as it is (whatever else an admin changed since),
//! unless it has an explicit policy (`DIR/chaincode/policies.json`) that the
//! committed one differs from; one whose hash differs is upgraded with the
//! next sequence. Approvals already on
//! the ledger are not sent again.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context};
use cellchain_core::config::NetworkConfig;
use cellchain_core::identity::Role;
use cellchain_core::lifecycle::ChaincodeDefinition;
use cellchain_sdk::{ConnectionProfile, Gateway, SdkError};
use tokio::task::JoinSet;

use super::contracts::{self, Contract};
use super::http::get_json;
use super::state::{Kind, Node};
use crate::client::load_identity;

/// An organisation of a channel with endorsers, and its admin's gateway.
struct Org {
    msp_id: String,
    /// `MSP/USER` of its admin.
    admin: String,
    gateway: Gateway,
    /// Its endorsers serving the channel.
    endorsers: Vec<Node>,
    /// Not read-only: it approves.
    writer: bool,
}

/// Deploys `contracts` on each of `channels` (see the module documentation).
pub fn deploy(
    dir: &Path,
    net: &NetworkConfig,
    nodes: &[Node],
    channels: &[String],
    contracts: &[Contract],
    timeout: Duration,
) -> anyhow::Result<()> {
    if contracts.is_empty() {
        return Ok(());
    }
    let profile = ConnectionProfile::from_file(dir.join("connection.yaml"))
        .context("reading the connection profile")?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(4)
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(async {
        for ch in channels {
            deploy_channel(dir, net, nodes, &profile, ch, contracts, timeout).await?;
        }
        Ok(())
    })
}

async fn deploy_channel(
    dir: &Path,
    net: &NetworkConfig,
    nodes: &[Node],
    profile: &ConnectionProfile,
    ch: &str,
    contracts: &[Contract],
    timeout: Duration,
) -> anyhow::Result<()> {
    let channel = net
        .channel(ch)
        .with_context(|| format!("channel {ch} is not in the topology"))?;
    let mut orgs = Vec::new();
    for msp in &channel.organizations {
        let org = net.organization(msp).with_context(|| {
            format!("organisation {msp} of channel {ch} is not in the topology")
        })?;
        let endorsers: Vec<Node> = nodes
            .iter()
            .filter(|n| {
                n.kind == Kind::Endorser && &n.org == msp && n.channels.iter().any(|c| c == ch)
            })
            .cloned()
            .collect();
        if endorsers.is_empty() {
            continue;
        }
        let admin = org
            .users
            .iter()
            .find(|u| u.role == Role::Admin)
            .with_context(|| {
                format!(
                    "organisation {msp} has no user with role admin in the topology: add \
                 `{{ name: admin, role: admin }}` to its users (its admin installs and approves \
                 the chaincode)"
                )
            })?;
        let admin = format!("{msp}/{}", admin.name);
        let identity = load_identity(dir, &admin)?;
        let gateway = Gateway::connect(identity, profile.clone())
            .with_context(|| format!("connecting as {admin}"))?;
        orgs.push(Org {
            msp_id: msp.clone(),
            admin,
            gateway,
            endorsers,
            writer: !org.read_only,
        });
    }
    let writers: Vec<String> = channel
        .organizations
        .iter()
        .filter(|o| net.organization(o).is_some_and(|o| !o.read_only))
        .cloned()
        .collect();
    let approvers: Vec<&Org> = orgs.iter().filter(|o| o.writer).collect();
    let Some(lead) = approvers.first() else {
        bail!("channel {ch} has no writing organisation with an endorser to approve chaincode");
    };
    let lifecycle = lead.gateway.network(ch).lifecycle();
    let committed: BTreeMap<String, ChaincodeDefinition> = lifecycle
        .query_committed_all()
        .await
        .with_context(|| format!("querying the committed chaincode definitions of {ch}"))?
        .into_iter()
        .map(|d| (d.name.clone(), d))
        .collect();
    let endorser_count: usize = orgs.iter().map(|o| o.endorsers.len()).sum();
    let overrides = contracts::policy_overrides(dir)?;

    let mut expected = Vec::new();
    for c in contracts {
        install(&orgs, c, endorser_count).await?;
        let (policy, collections, explicit) =
            contracts::policy_with_override(&c.name, &writers, &overrides)?;
        let mut def = ChaincodeDefinition {
            name: c.name.clone(),
            version: c.version.clone(),
            sequence: 1,
            wasm_hash: c.package.wasm_sha256,
            endorsement_policy: policy,
            collections,
        };
        if let Some(current) = committed.get(&c.name) {
            let policy_differs = explicit && current.endorsement_policy != def.endorsement_policy;
            if current.wasm_hash == def.wasm_hash && policy_differs {
                def.sequence = current.sequence + 1;
                println!(
                    "  changing the endorsement policy of {} on {ch} to its explicit one (sequence \
                     {}); next sequence {}",
                    c.name, current.sequence, def.sequence
                );
            } else if current.wasm_hash == def.wasm_hash {
                println!(
                    "  {} sequence {} is already committed on {ch} with this module",
                    c.name, current.sequence
                );
                expected.push(current.clone());
                continue;
            } else {
                def.sequence = current.sequence + 1;
                println!(
                    "  upgrading {} on {ch}: the built module {} differs from the committed {} \
                 (sequence {}); next sequence {}",
                    c.name,
                    short(&def.wasm_hash.to_hex()),
                    short(&current.wasm_hash.to_hex()),
                    current.sequence,
                    def.sequence
                );
            }
        }
        let approved_block = approve(&approvers, ch, &def).await?;
        wait_heights(dir, &orgs, ch, approved_block + 1, timeout).await?;
        let block = commit(lead, ch, &def, timeout).await?;
        println!(
            "  committed {} sequence {} on {ch} (block {block})",
            def.name, def.sequence
        );
        expected.push(def);
    }
    wait_reported(&orgs, profile, ch, &expected, timeout).await
}

fn short(hex: &str) -> &str {
    &hex[..hex.len().min(12)]
}

/// Installs the package of `c` on every endorser, with each organisation's
/// admin (organisations in parallel).
async fn install(orgs: &[Org], c: &Contract, endorser_count: usize) -> anyhow::Result<()> {
    println!("  installing {} on {endorser_count} endorsers", c.name);
    let bytes = Arc::new(c.package_bytes.clone());
    let mut tasks = JoinSet::new();
    for o in orgs {
        let gateway = o.gateway.clone();
        let bytes = bytes.clone();
        let who = (o.msp_id.clone(), o.admin.clone());
        tasks.spawn(async move { (who, gateway.install(&bytes).await) });
    }
    let (mut fresh, mut already) = (0, 0);
    while let Some(joined) = tasks.join_next().await {
        let ((msp, admin), result) = joined.context("an install task failed")?;
        let installed = result.map_err(|e| {
            anyhow!(
                "installing {} on the endorsers of {msp} as {admin}: {e}",
                c.package.package_id()
            )
        })?;
        for i in installed {
            if i.already_installed {
                already += 1;
            } else {
                fresh += 1;
            }
        }
    }
    println!(
        "  installed {} on {} endorsers ({fresh} new, {already} already had it)",
        c.package.package_id(),
        fresh + already
    );
    Ok(())
}

/// Approves `def` with each writing organisation's admin that has not approved
/// exactly it yet (in parallel); returns the highest block of an approval (0
/// when none was needed).
async fn approve(approvers: &[&Org], ch: &str, def: &ChaincodeDefinition) -> anyhow::Result<u64> {
    let lead = approvers[0];
    let approved = lead
        .gateway
        .network(ch)
        .lifecycle()
        .query_approved(&def.name)
        .await
        .with_context(|| format!("querying the approvals of {} on {ch}", def.name))?;
    let mut tasks = JoinSet::new();
    let mut already = 0;
    for o in approvers {
        if approved.get(&o.msp_id) == Some(def) {
            already += 1;
            continue;
        }
        let network = o.gateway.network(ch);
        let def = def.clone();
        let who = o.admin.clone();
        tasks.spawn(async move { (who, network.lifecycle().approve(&def).await) });
    }
    let mut block = 0;
    let mut done = already;
    while let Some(joined) = tasks.join_next().await {
        let (admin, result) = joined.context("an approve task failed")?;
        let r = result.map_err(|e| {
            anyhow!(
                "approving {} sequence {} on {ch} as {admin}: {e}",
                def.name,
                def.sequence
            )
        })?;
        block = block.max(r.block);
        done += 1;
    }
    println!(
        "  {} sequence {}: approved by {done} of {} writing organisations",
        def.name,
        def.sequence,
        approvers.len()
    );
    Ok(block)
}

/// Commits `def` as the lead admin; a commit refused because an endorser has not
/// seen every approval yet is tried again until `timeout`. Returns the block.
async fn commit(
    lead: &Org,
    ch: &str,
    def: &ChaincodeDefinition,
    timeout: Duration,
) -> anyhow::Result<u64> {
    let deadline = Instant::now() + timeout;
    let lifecycle = lead.gateway.network(ch).lifecycle();
    loop {
        let e = match lifecycle.commit(def).await {
            Ok(r) => return Ok(r.block),
            Err(e) => e,
        };
        let retry =
            matches!(e, SdkError::NotReady(_) | SdkError::Chaincode { .. }) || e.is_read_conflict();
        if !retry || Instant::now() >= deadline {
            bail!(
                "committing {} sequence {} on {ch} as {}: {e}",
                def.name,
                def.sequence,
                lead.admin
            );
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

/// Waits until every endorser of the channel is at least at `height`.
async fn wait_heights(
    dir: &Path,
    orgs: &[Org],
    ch: &str,
    height: u64,
    timeout: Duration,
) -> anyhow::Result<()> {
    let deadline = Instant::now() + timeout;
    let path = format!("/v1/channels/{ch}/status");
    for n in orgs.iter().flat_map(|o| &o.endorsers) {
        loop {
            let at = get_json(&n.address(), &path, Duration::from_secs(2))
                .ok()
                .and_then(|(status, v)| (status == 200).then(|| v["height"].as_u64()).flatten());
            if at.is_some_and(|h| h >= height) {
                break;
            }
            if Instant::now() >= deadline {
                bail!(
                    "endorser {} did not reach height {height} of channel {ch} within {}s (it is \
                     at {}); see {}",
                    n.name,
                    timeout.as_secs(),
                    at.map_or("unknown".into(), |h| h.to_string()),
                    n.log(dir).display()
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    Ok(())
}

/// Waits until every endorser answers `query_committed` with each of
/// `expected` (same sequence and module).
async fn wait_reported(
    orgs: &[Org],
    profile: &ConnectionProfile,
    ch: &str,
    expected: &[ChaincodeDefinition],
    timeout: Duration,
) -> anyhow::Result<()> {
    if expected.is_empty() {
        return Ok(());
    }
    let deadline = Instant::now() + timeout;
    let mut count = 0;
    for o in orgs {
        for n in &o.endorsers {
            // A gateway that knows only this endorser asks only it.
            let mut only = profile.clone();
            for org in &mut only.organizations {
                org.endorsers.retain(|e| e.address == n.address());
            }
            let gateway = Gateway::connect(o.gateway.identity().clone(), only)
                .with_context(|| format!("connecting to endorser {}", n.name))?;
            let lifecycle = gateway.network(ch).lifecycle();
            loop {
                let missing: Vec<String> = match lifecycle.query_committed_all().await {
                    Ok(defs) => expected
                        .iter()
                        .filter(|want| {
                            !defs.iter().any(|d| {
                                d.name == want.name
                                    && d.sequence == want.sequence
                                    && d.wasm_hash == want.wasm_hash
                            })
                        })
                        .map(|d| format!("{} sequence {}", d.name, d.sequence))
                        .collect(),
                    Err(e) => vec![format!("(no answer: {e})")],
                };
                if missing.is_empty() {
                    break;
                }
                if Instant::now() >= deadline {
                    bail!(
                        "endorser {} does not report {} on channel {ch} after {}s",
                        n.name,
                        missing.join(", "),
                        timeout.as_secs()
                    );
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            count += 1;
        }
    }
    let names: Vec<String> = expected
        .iter()
        .map(|d| format!("{} sequence {}", d.name, d.sequence))
        .collect();
    println!(
        "  every endorser ({count}) of {ch} reports {}",
        names.join(", ")
    );
    Ok(())
}
