//! Starting an endorser from its configuration file: identity, channels
//! (genesis blocks), chaincode definitions, the runtime and installed modules,
//! the replicas and their feed followers, and the HTTP server; and stopping it.

use std::collections::HashMap;
use std::sync::Arc;

use anyhow::{anyhow, bail, Context};
use cellchain_chaincode_runtime::Runtime;
use cellchain_core::config::{block_from_json, verify_genesis_block};
use cellchain_core::crypto::{default_provider, signer_from_pkcs8_pem, Signer};
use cellchain_core::identity::{Role, SerializedIdentity};
use cellchain_validation::{parse_definitions, DefinitionSet};
use tokio::sync::watch;

use crate::config::EndorserConfig;
use crate::endorse::{now, ChannelSetup, Endorser, EndorserSetup};
use crate::feed::{follow, FeedClient};
use crate::service;

/// Builds the endorser of `config` (blocking: reads files, compiles modules).
pub fn load(config: &EndorserConfig) -> anyhow::Result<(Endorser, Runtime)> {
    let provider = default_provider();
    let cert_pem = std::fs::read_to_string(&config.cert).with_context(|| {
        format!(
            "cannot read the endorser certificate {}",
            config.cert.display()
        )
    })?;
    let key_pem = std::fs::read_to_string(&config.key)
        .with_context(|| format!("cannot read the endorser key {}", config.key.display()))?;
    let signer: Arc<dyn Signer> = Arc::from(
        signer_from_pkcs8_pem(provider, &key_pem)
            .map_err(|e| anyhow!("the key {} cannot be used: {e}", config.key.display()))?,
    );
    let identity = SerializedIdentity {
        msp_id: config.msp_id.clone(),
        cert: cert_pem,
    };
    let definitions_text = std::fs::read_to_string(&config.definitions).with_context(|| {
        format!(
            "cannot read the chaincode definitions {}",
            config.definitions.display()
        )
    })?;
    let mut definitions = parse_definitions(&definitions_text).map_err(|e| {
        anyhow!(
            "the chaincode definitions {} are not valid: {e}",
            config.definitions.display()
        )
    })?;
    let runtime = Runtime::new(
        config.runtime.clone(),
        Some(config.data_dir.join("chaincode-cache")),
    )
    .map_err(|e| anyhow!("{e}"))?;

    let now_unix = now().seconds;
    let mut channels = Vec::new();
    for path in &config.genesis_blocks {
        let bytes = std::fs::read(path)
            .with_context(|| format!("cannot read genesis block {}", path.display()))?;
        let genesis = block_from_json(&bytes)
            .map_err(|e| anyhow!("{} is not a genesis block: {e}", path.display()))?;
        let channel_config = verify_genesis_block(&genesis, provider)
            .map_err(|e| anyhow!("genesis block {} is not valid: {e}", path.display()))?;
        let id = channel_config.channel_id.clone();
        let me = channel_config
            .msp_set()
            .map_err(|e| anyhow!("channel {id}: {e}"))?
            .validate(&identity, now_unix)
            .map_err(|e| {
                anyhow!(
                    "this endorser's certificate {} ({}) is not a valid identity of channel {id}: {e}",
                    config.cert.display(),
                    config.msp_id
                )
            })?;
        if me.role != Role::Peer {
            bail!(
                "this endorser's certificate {} has role {}, a peer certificate is needed: endorsement policies name peers",
                config.cert.display(),
                me.role
            );
        }
        channels.push(ChannelSetup {
            genesis,
            definitions: definitions.remove(&id).unwrap_or_default(),
            state_dir: config.data_dir.join(&id).join("state"),
            config: channel_config,
            chaincodes: HashMap::new(),
        });
    }
    for channel in definitions.keys() {
        tracing::warn!(%channel, "the definitions file defines chaincodes on a channel this endorser does not serve");
    }
    for module in &config.chaincodes {
        let Some(ch) = channels
            .iter_mut()
            .find(|c| c.config.channel_id == module.channel)
        else {
            bail!(
                "chaincode {} is configured for channel {}, which this endorser does not serve",
                module.name,
                module.channel
            );
        };
        if !is_defined(&ch.definitions, &module.name) {
            bail!(
                "chaincode {} is not defined on channel {} in {}: define it before installing it",
                module.name,
                module.channel,
                config.definitions.display()
            );
        }
        let wasm = std::fs::read(&module.wasm).with_context(|| {
            format!(
                "cannot read the module of chaincode {}: {}",
                module.name,
                module.wasm.display()
            )
        })?;
        let installed = runtime.install(&wasm).map_err(|e| {
            anyhow!(
                "chaincode {} ({}) cannot be installed: {e}",
                module.name,
                module.wasm.display()
            )
        })?;
        tracing::info!(channel = %module.channel, chaincode = %module.name, sha256 = %installed.sha256(), origin = ?installed.origin(), "chaincode installed");
        ch.chaincodes.insert(module.name.clone(), installed);
    }
    let endorser = Endorser::new(EndorserSetup {
        name: config.name.clone(),
        identity,
        signer,
        proposal_skew: config.proposal_skew(),
        channels,
    })?;
    Ok((endorser, runtime))
}

fn is_defined(set: &DefinitionSet, name: &str) -> bool {
    set.0.contains_key(name)
}

/// Runs the endorser until `shutdown` resolves, then stops the feed followers.
pub async fn run(
    config: EndorserConfig,
    listener: tokio::net::TcpListener,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let load_config = config.clone();
    let (endorser, _runtime) = tokio::task::spawn_blocking(move || load(&load_config))
        .await
        .map_err(|e| anyhow!("start-up panicked: {e}"))??;
    let endorser = Arc::new(endorser);
    let (stop_tx, stop_rx) = watch::channel(false);
    let client = FeedClient::new(
        &config.committer,
        endorser.identity.clone(),
        endorser.signer(),
    );
    let mut followers = Vec::new();
    for ch in endorser.channels.values() {
        followers.push(tokio::spawn(follow(
            ch.replica.clone(),
            client.clone(),
            stop_rx.clone(),
        )));
    }
    tracing::info!(
        node = %config.name,
        listen = %listener.local_addr()?,
        committer = %config.committer,
        channels = %endorser.channels.keys().cloned().collect::<Vec<_>>().join(","),
        "endorser serving"
    );
    let graceful = async move {
        shutdown.await;
        let _ = stop_tx.send(true);
    };
    service::run(listener, endorser, graceful).await?;
    for f in followers {
        let _ = f.await;
    }
    tracing::info!("endorser stopped");
    Ok(())
}
