//! Starting an endorser from its configuration file: identity, channels
//! (genesis blocks), the runtime and the installed packages (compiled again
//! from `data_dir/chaincode/packages`), the replicas (whose `_lifecycle`
//! namespace holds the chaincode definitions) and their feed followers, and
//! the HTTP server; and stopping it.

use std::sync::Arc;

use anyhow::{anyhow, bail, Context};
use cellchain_chaincode_runtime::Runtime;
use cellchain_core::config::{block_from_json, verify_genesis_block};
use cellchain_core::crypto::{default_provider, signer_from_pkcs8_pem, Signer};
use cellchain_core::identity::{Role, SerializedIdentity};
use tokio::sync::watch;

use crate::config::EndorserConfig;
use crate::endorse::{now, ChannelSetup, Endorser, EndorserSetup};
use crate::feed::{follow, FeedClient};
use crate::install::PackageStore;
use crate::service;

/// Builds the endorser of `config` (blocking: reads files, compiles the
/// installed modules).
pub fn load(config: &EndorserConfig) -> anyhow::Result<Endorser> {
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
            state_dir: config.data_dir.join(&id).join("state"),
            config: channel_config,
        });
    }
    let runtime = Runtime::new(
        config.runtime.clone(),
        Some(config.data_dir.join("chaincode-cache")),
    )
    .map_err(|e| anyhow!("{e}"))?;
    let packages = PackageStore::open(&config.packages_dir(), Arc::new(runtime))?;
    tracing::info!(
        packages = packages.list().len(),
        dir = %packages.dir().display(),
        "installed chaincode packages loaded"
    );
    let endorser = Endorser::new(EndorserSetup {
        name: config.name.clone(),
        identity,
        signer,
        proposal_skew: config.proposal_skew(),
        channels,
        packages: Arc::new(packages),
    })?;
    for (id, ch) in &endorser.channels {
        let defs = ch.definitions();
        for d in defs.0.values() {
            let package = endorser.packages.get(&d.wasm_hash);
            tracing::info!(
                channel = %id,
                chaincode = %d.name,
                version = %d.version,
                sequence = d.sequence,
                package_id = %package.as_ref().map_or("(not installed)", |p| p.info.package_id.as_str()),
                "chaincode defined"
            );
        }
    }
    Ok(endorser)
}

/// Runs the endorser until `shutdown` resolves, then stops the feed followers.
pub async fn run(
    config: EndorserConfig,
    listener: tokio::net::TcpListener,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let load_config = config.clone();
    let endorser = tokio::task::spawn_blocking(move || load(&load_config))
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
