//! Starting an orderer from its configuration file: identity, channels (genesis
//! blocks), the cluster transport, one Raft thread per channel, and the HTTP
//! server; and stopping it cleanly.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::{Arc, Mutex, OnceLock};

use anyhow::{anyhow, bail, Context};
use cellchain_core::config::{block_from_json, verify_genesis_block};
use cellchain_core::crypto::{default_provider, signer_from_pkcs8_pem, Signer};
use cellchain_core::identity::SerializedIdentity;
use cellchain_core::protocol::Block;
use tokio::sync::watch;

use crate::admission::ChannelTrust;
use crate::cluster::{ConsenterSet, ReportSink, SendReport, Transport};
use crate::config::OrdererConfig;
use crate::node::{open_channel, ChannelSetup, ChannelShared, NodeInput, WaitOutcome};
use crate::service::{self, App};

struct Channel {
    genesis: Block,
    config: cellchain_core::config::ChannelConfig,
    trust: Arc<ChannelTrust>,
    consenters: Arc<ConsenterSet>,
    my_id: u64,
}

fn load_channel(path: &Path, me: &OrdererConfig, cert_pem: &str) -> anyhow::Result<Channel> {
    let provider = default_provider();
    let bytes = std::fs::read(path)
        .with_context(|| format!("cannot read genesis block {}", path.display()))?;
    let genesis = block_from_json(&bytes)
        .map_err(|e| anyhow!("{} is not a genesis block: {e}", path.display()))?;
    let config = verify_genesis_block(&genesis, provider)
        .map_err(|e| anyhow!("genesis block {} is not valid: {e}", path.display()))?;
    let genesis_time = genesis.data.envelopes[0]
        .parse_payload()
        .map(|p| p.header.timestamp.seconds)
        .unwrap_or(0);
    let trust = ChannelTrust::new(config.clone(), provider)
        .map_err(|e| anyhow!("channel {}: {e}", config.channel_id))?;
    let consenters = ConsenterSet::from_config(&config, trust.msps(), genesis_time)
        .map_err(|e| anyhow!("channel {}: {e}", config.channel_id))?;
    let Some(me_as_consenter) = config.orderer.consenters.iter().find(|c| c.name == me.name) else {
        bail!(
            "this orderer ({}) is not a consenter of channel {} (consenters: {}); remove {} from genesis_blocks",
            me.name,
            config.channel_id,
            config.orderer.consenters.iter().map(|c| c.name.as_str()).collect::<Vec<_>>().join(", "),
            path.display()
        );
    };
    if me_as_consenter.cert.trim() != cert_pem.trim() || me_as_consenter.msp_id != me.msp_id {
        bail!(
            "channel {} lists consenter {} with another certificate or MSP than {} ({}): check cert and msp_id",
            config.channel_id,
            me.name,
            me.cert.display(),
            me.msp_id
        );
    }
    Ok(Channel {
        my_id: me_as_consenter.id,
        genesis,
        config,
        trust: Arc::new(trust),
        consenters: Arc::new(consenters),
    })
}

/// Runs the orderer until `shutdown` resolves, then stops the Raft threads.
/// Returns an error when the configuration, the identity or a channel cannot be
/// loaded, or when a channel's loop hit a fatal error.
pub async fn run(
    config: OrdererConfig,
    listener: tokio::net::TcpListener,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let provider = default_provider();
    let cert_pem = std::fs::read_to_string(&config.cert).with_context(|| {
        format!(
            "cannot read the orderer certificate {}",
            config.cert.display()
        )
    })?;
    let key_pem = std::fs::read_to_string(&config.key)
        .with_context(|| format!("cannot read the orderer key {}", config.key.display()))?;
    let signer: Arc<dyn Signer> = Arc::from(
        signer_from_pkcs8_pem(provider, &key_pem)
            .map_err(|e| anyhow!("the key {} cannot be used: {e}", config.key.display()))?,
    );
    let identity = SerializedIdentity {
        msp_id: config.msp_id.clone(),
        cert: cert_pem.clone(),
    };

    let mut channels = Vec::new();
    for path in &config.genesis_blocks {
        channels.push(load_channel(path, &config, &cert_pem)?);
    }
    // One sender per peer, across channels.
    let mut peers: BTreeMap<String, String> = BTreeMap::new();
    for ch in &channels {
        for p in &ch.consenters.peers {
            if p.name == config.name {
                continue;
            }
            if let Some(old) = peers.insert(p.name.clone(), p.endpoint.clone()) {
                if old != p.endpoint {
                    bail!(
                        "orderer {} has two endpoints in different channels: {old} and {}",
                        p.name,
                        p.endpoint
                    );
                }
            }
        }
    }
    let shared_map: Arc<OnceLock<HashMap<String, Arc<ChannelShared>>>> = Arc::new(OnceLock::new());
    let sink_map = shared_map.clone();
    let reports: ReportSink = Arc::new(move |channel: &str, report: SendReport| {
        let Some(ch) = sink_map.get().and_then(|m| m.get(channel)) else {
            return;
        };
        match report {
            SendReport::Snapshot { to, ok } => {
                ch.send(NodeInput::SnapshotSent { to, ok });
            }
            SendReport::ForwardFailed { tx_ids, reason } => {
                for t in &tx_ids {
                    ch.resolve(
                        t,
                        WaitOutcome::Retry {
                            reason: reason.clone(),
                        },
                    );
                }
            }
        }
    });
    let transport = Arc::new(Transport::start(
        config.name.clone(),
        peers,
        signer.clone(),
        reports,
    ));

    let runtime = tokio::runtime::Handle::current();
    let mut shared = HashMap::new();
    let mut threads = Vec::new();
    for ch in channels {
        let name = ch.config.channel_id.clone();
        let setup = ChannelSetup {
            genesis: ch.genesis,
            config: ch.config,
            trust: ch.trust,
            consenters: ch.consenters,
            node_name: config.name.clone(),
            my_id: ch.my_id,
            data_dir: config.data_dir.clone(),
            signer: signer.clone(),
            identity: identity.clone(),
        };
        let (s, node) =
            open_channel(setup, transport.clone(), runtime.clone()).map_err(|e| anyhow!("{e}"))?;
        shared.insert(name.clone(), s);
        let thread = std::thread::Builder::new()
            .name(format!("raft-{name}"))
            .spawn(move || {
                if let Err(e) = node.run() {
                    // Fatal for the process: what is on disk is consistent, and a
                    // restart recovers from it.
                    tracing::error!(channel = %name, error = %e, "channel stopped on a fatal error; the orderer exits so that a restart recovers");
                    std::process::exit(70);
                }
            })
            .context("cannot start a Raft thread")?;
        threads.push(thread);
    }
    let _ = shared_map.set(shared.clone());

    let (stop_tx, stop_rx) = watch::channel(false);
    let app = Arc::new(App {
        node_name: config.name.clone(),
        channels: shared.clone(),
        transport,
        broadcast_timeout: config.broadcast_timeout(),
        clock_skew: config.clock_skew(),
        cluster_rejects: Mutex::new(BTreeMap::new()),
        shutdown: stop_rx,
    });
    tracing::info!(
        node = %config.name,
        listen = %listener.local_addr()?,
        channels = %shared.keys().cloned().collect::<Vec<_>>().join(","),
        "orderer serving"
    );
    let graceful = async move {
        shutdown.await;
        let _ = stop_tx.send(true);
    };
    service::run(listener, app, graceful).await?;
    tracing::info!("HTTP server stopped; stopping Raft threads");
    for ch in shared.values() {
        ch.send(NodeInput::Stop);
    }
    for t in threads {
        let _ = t.join();
    }
    tracing::info!("orderer stopped");
    Ok(())
}
