//! Starting a committer from its configuration file: identity, channels
//! (genesis blocks, ledgers opened with recovery, then the chaincode
//! definitions loaded from each channel's recovered state), one puller task
//! per channel and the HTTP server; and stopping it cleanly.

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};

use anyhow::{anyhow, bail, Context};
use cellchain_core::config::{block_from_json, verify_genesis_block, ChannelConfig};
use cellchain_core::crypto::{default_provider, signer_from_pkcs8_pem, Signer};
use cellchain_core::identity::SerializedIdentity;
use cellchain_core::protocol::Block;
use cellchain_validation::Validator;
use tokio::sync::watch;

use crate::channel::{ChannelShared, Status};
use crate::config::CommitterConfig;
use crate::definitions::DefinitionCache;
use crate::ledger::Ledger;
use crate::pipeline::BlockTrust;
use crate::private::PrivateFetcher;
use crate::puller::{member_of_collections, now_unix, Puller};
use crate::service::{self, App};

fn load_genesis(path: &Path) -> anyhow::Result<(Block, ChannelConfig)> {
    let bytes = std::fs::read(path)
        .with_context(|| format!("cannot read genesis block {}", path.display()))?;
    let genesis = block_from_json(&bytes)
        .map_err(|e| anyhow!("{} is not a genesis block: {e}", path.display()))?;
    let config = verify_genesis_block(&genesis, default_provider())
        .map_err(|e| anyhow!("genesis block {} is not valid: {e}", path.display()))?;
    Ok((genesis, config))
}

/// Runs the committer until `shutdown` resolves, then stops the pullers. Returns
/// an error when the configuration, the identity or a ledger cannot be loaded.
/// A ledger failure while running stops the process (exit code 70): what is on
/// disk is consistent, and a restart recovers from it.
pub async fn run(
    config: CommitterConfig,
    listener: tokio::net::TcpListener,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let provider = default_provider();
    let cert_pem = std::fs::read_to_string(&config.cert).with_context(|| {
        format!(
            "cannot read the committer certificate {}",
            config.cert.display()
        )
    })?;
    let key_pem = std::fs::read_to_string(&config.key)
        .with_context(|| format!("cannot read the committer key {}", config.key.display()))?;
    let signer: Arc<dyn Signer> = Arc::from(
        signer_from_pkcs8_pem(provider, &key_pem)
            .map_err(|e| anyhow!("the key {} cannot be used: {e}", config.key.display()))?,
    );
    let identity = SerializedIdentity {
        msp_id: config.msp_id.clone(),
        cert: cert_pem,
    };
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut channels = HashMap::new();
    let mut pullers = Vec::new();
    for path in &config.genesis_blocks {
        let (genesis, channel_config) = load_genesis(path)?;
        let channel = channel_config.channel_id.clone();
        if channels.contains_key(&channel) {
            bail!("channel {channel} is listed twice in genesis_blocks");
        }
        let msps = channel_config
            .msp_set()
            .map_err(|e| anyhow!("channel {channel}: {e}"))?;
        // This node pulls with its own identity: fail now rather than be refused
        // by every orderer.
        let me = msps.validate(&identity, now_unix()).map_err(|e| {
            anyhow!(
                "the committer certificate {} is not a valid identity of channel {channel}: {e}",
                config.cert.display()
            )
        })?;
        if !channel_config
            .check_acl("orderer/Deliver", std::slice::from_ref(&me))
            .unwrap_or(false)
        {
            bail!("{}@{} may not read the blocks of channel {channel} (orderer/Deliver ACL); use a peer certificate of a member organisation", me.common_name, me.msp_id);
        }
        let genesis_time = genesis.data.envelopes[0]
            .parse_payload()
            .map(|p| p.header.timestamp.seconds)
            .unwrap_or(0);
        let trust = BlockTrust::new(&channel_config, msps.clone(), genesis_time)
            .map_err(|e| anyhow!("channel {channel}: {e}"))?;
        let data_dir = config.data_dir.clone();
        let g = genesis.clone();
        let (ledger, recovery) = tokio::task::spawn_blocking(move || Ledger::open(&data_dir, &g))
            .await
            .expect("ledger open task")
            .map_err(|e| anyhow!("{e}"))?;
        tracing::info!(
            %channel,
            height = recovery.height,
            replayed = recovery.replayed,
            truncated_bytes = recovery.truncated_bytes,
            commit_hash = %recovery.commit_hash,
            "ledger open"
        );
        // After recovery: the state holds every block's definitions.
        let defs = Arc::new(
            DefinitionCache::load(&channel, &ledger.reader()).map_err(|e| anyhow!("{e}"))?,
        );
        let in_force = defs.current();
        let mut names: Vec<String> = in_force
            .0
            .values()
            .map(|d| format!("{} {} (sequence {})", d.name, d.version, d.sequence))
            .collect();
        names.sort();
        let listed = if names.is_empty() {
            "none".to_string()
        } else {
            names.join(", ")
        };
        tracing::info!(%channel, definitions = %listed, "chaincode definitions loaded from the ledger");
        if config.private_data_sources.is_empty() {
            if let Some(def) = in_force
                .0
                .values()
                .find(|d| member_of_collections(d, &config.msp_id))
            {
                tracing::warn!(%channel, chaincode = %def.name, msp_id = %config.msp_id, "this organisation is a member of private data collections but no private_data_sources are configured: only the hashes of private writes will be kept");
            }
        }
        let endpoints = if config.orderers.is_empty() {
            channel_config
                .orderer
                .consenters
                .iter()
                .map(|c| c.endpoint.clone())
                .collect()
        } else {
            config.orderers.clone()
        };
        if endpoints.is_empty() {
            bail!("channel {channel} has no orderer endpoints: list them under orderers");
        }
        let (height, _) = watch::channel(recovery.height);
        let shared = Arc::new(ChannelShared {
            channel: channel.clone(),
            msps,
            blocks: ledger.blocks(),
            state: ledger.reader(),
            definitions: defs.clone(),
            height,
            status: Status {
                commit_hash: Mutex::new(Some(recovery.commit_hash)),
                ..Status::default()
            },
            config: channel_config.clone(),
        });
        let validator =
            Validator::new(channel_config).map_err(|e| anyhow!("channel {channel}: {e}"))?;
        pullers.push(Puller {
            shared: shared.clone(),
            ledger: Arc::new(Mutex::new(ledger)),
            trust: Arc::new(trust),
            validator: Arc::new(validator),
            definitions: defs,
            msp_id: config.msp_id.clone(),
            has_private_sources: !config.private_data_sources.is_empty(),
            provider,
            workers: config.workers(),
            endpoints,
            identity: identity.clone(),
            signer: signer.clone(),
            stall_timeout: config.stall_timeout(),
            private: Arc::new(PrivateFetcher::new(
                channel.clone(),
                config.msp_id.clone(),
                config.private_data_sources.clone(),
                config.private_data_timeout(),
                identity.clone(),
                signer.clone(),
            )),
            node: config.name.clone(),
            shutdown: stop_rx.clone(),
        });
        channels.insert(channel, shared);
    }
    let mut tasks = Vec::new();
    for p in pullers {
        let channel = p.shared.channel.clone();
        tasks.push(tokio::spawn(async move {
            if let Err(e) = p.run().await {
                tracing::error!(%channel, error = %e, "channel stopped on a ledger failure; the committer exits so that a restart recovers");
                std::process::exit(70);
            }
        }));
    }
    let app = Arc::new(App {
        node_name: config.name.clone(),
        channels: channels.clone(),
        clock_skew: config.clock_skew(),
        provider,
        shutdown: stop_rx,
    });
    let mut names: Vec<_> = channels.keys().cloned().collect();
    names.sort();
    tracing::info!(
        node = %config.name,
        listen = %listener.local_addr()?,
        channels = %names.join(","),
        "committer serving"
    );
    let graceful = async move {
        shutdown.await;
        let _ = stop_tx.send(true);
    };
    service::run(listener, app, graceful).await?;
    tracing::info!("HTTP server stopped; stopping the pullers");
    for t in tasks {
        let _ = t.await;
    }
    tracing::info!("committer stopped");
    Ok(())
}
