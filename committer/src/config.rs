//! The committer's own configuration file (YAML): who this node is, where it
//! listens and keeps its data and which channels it commits. What a channel is
//! (members, consenters, ACLs) comes from the channel's genesis block, and
//! which chaincode definitions are in force from the channel's ledger (the
//! `_lifecycle` namespace, written by lifecycle transactions), never from here.
//!
//! ```yaml
//! name: committer-org1             # for logs and metrics
//! listen: 127.0.0.1:7051
//! data_dir: /var/lib/cellchain/committer-org1   # <channel>/blocks, <channel>/state
//! msp_id: Org1MSP
//! cert: crypto/Org1MSP/nodes/committer0/cert.pem   # a peer certificate (OU=peer)
//! key: crypto/Org1MSP/nodes/committer0/key.pem
//! genesis_blocks: [channels/atmp.block.json]
//! orderers: [127.0.0.1:7050]       # optional: deliver endpoints to use instead of
//!                                  # the consenters' endpoints in the genesis blocks
//! clock_skew: 5m                   # optional: accepted skew of signed requests
//! validation_workers: 4            # optional: default, the available cores
//! stall_timeout: 10s               # optional: how long a silent deliver stream may
//!                                  # lag behind another orderer before failing over
//! private_data_sources:            # optional: endorsers (host:port) to fetch the
//!   - 127.0.0.1:7061               # private values of our collections from at
//!   - 127.0.0.1:8061               # commit, in order of preference: our own
//!                                  # organisation's first, then other members'
//! private_data_timeout: 5s         # optional: how long to keep trying for missing
//!                                  # private values before committing the block
//!                                  # without them (default 5s)
//! ```
//!
//! Relative paths are resolved against the file's directory.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use cellchain_core::config::Millis;
use cellchain_node::config::ConfigFile;
pub use cellchain_node::config::ConfigFileError;
use serde::Deserialize;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CommitterConfig {
    /// This node's name, for logs, metrics and status.
    pub name: String,
    pub listen: SocketAddr,
    pub data_dir: PathBuf,
    pub msp_id: String,
    /// This node's peer certificate (PEM) and PKCS#8 key: it signs the deliver
    /// requests sent to the orderers.
    pub cert: PathBuf,
    pub key: PathBuf,
    /// Genesis blocks (JSON) of the channels this node commits.
    pub genesis_blocks: Vec<PathBuf>,
    /// Orderer endpoints (`host:port`) to pull from, in order of preference,
    /// for every channel; empty: each channel's consenters from its genesis block.
    #[serde(default)]
    pub orderers: Vec<String>,
    /// How far the timestamp of a signed feed or query request may be from this
    /// node's clock.
    #[serde(default = "default_clock_skew")]
    pub clock_skew: Millis,
    /// Threads that check a block's transactions in parallel (0: available cores).
    #[serde(default)]
    pub validation_workers: usize,
    /// A deliver stream that has carried nothing for this long while another
    /// orderer has more blocks is considered stalled.
    #[serde(default = "default_stall_timeout")]
    pub stall_timeout: Millis,
    /// Endorser endpoints (`host:port`) that private values are fetched from at
    /// commit, in order of preference (this organisation's endorsers first, then
    /// other member organisations'); empty: values are never fetched and member
    /// collections keep only the hashes the blocks carry.
    #[serde(default)]
    pub private_data_sources: Vec<String>,
    /// How long to keep asking the sources for missing private values of a block
    /// before committing it without them.
    #[serde(default = "default_private_data_timeout")]
    pub private_data_timeout: Millis,
}

fn default_clock_skew() -> Millis {
    Millis(300_000)
}

fn default_stall_timeout() -> Millis {
    Millis(10_000)
}

fn default_private_data_timeout() -> Millis {
    Millis(5_000)
}

fn is_host_port(endpoint: &str) -> bool {
    endpoint
        .rsplit_once(':')
        .is_some_and(|(h, p)| !h.is_empty() && p.parse::<u16>().is_ok())
}

impl CommitterConfig {
    /// Reads and checks the file, resolving relative paths against its directory.
    pub fn load(path: &Path) -> Result<CommitterConfig, ConfigFileError> {
        let (mut config, file): (CommitterConfig, _) = ConfigFile::read("committer", path)?;
        if config.genesis_blocks.is_empty() {
            return Err(file.invalid(
                "genesis_blocks is empty: list the genesis block of each channel to commit",
            ));
        }
        if let Some(bad) = config.orderers.iter().find(|o| !is_host_port(o)) {
            return Err(file.invalid(format!("orderer endpoint {bad:?} is not host:port")));
        }
        if let Some(bad) = config
            .private_data_sources
            .iter()
            .find(|o| !is_host_port(o))
        {
            return Err(file.invalid(format!("private data source {bad:?} is not host:port")));
        }
        let resolve = |p: &mut PathBuf| file.resolve(p);
        resolve(&mut config.data_dir);
        resolve(&mut config.cert);
        resolve(&mut config.key);
        config.genesis_blocks.iter_mut().for_each(resolve);
        Ok(config)
    }

    pub fn clock_skew(&self) -> Duration {
        Duration::from_millis(self.clock_skew.0)
    }

    pub fn stall_timeout(&self) -> Duration {
        Duration::from_millis(self.stall_timeout.0)
    }

    pub fn private_data_timeout(&self) -> Duration {
        Duration::from_millis(self.private_data_timeout.0)
    }

    /// Validation threads: the configured number, or the available cores.
    pub fn workers(&self) -> usize {
        if self.validation_workers > 0 {
            self.validation_workers
        } else {
            std::thread::available_parallelism().map_or(1, |n| n.get())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(text: &str) -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("committer.yaml");
        std::fs::write(&path, text).unwrap();
        (dir, path)
    }

    const GOOD: &str = "name: c1\nlisten: 127.0.0.1:7051\ndata_dir: data\nmsp_id: Org1MSP\ncert: c.pem\nkey: /abs/k.pem\ngenesis_blocks: [ch.block.json]\n";

    #[test]
    fn relative_paths_resolve_against_the_file_and_defaults_apply() {
        let (dir, path) = write(GOOD);
        let c = CommitterConfig::load(&path).unwrap();
        assert_eq!(c.data_dir, dir.path().join("data"));
        assert_eq!(c.cert, dir.path().join("c.pem"));
        assert_eq!(c.key, PathBuf::from("/abs/k.pem"));
        assert_eq!(c.genesis_blocks, vec![dir.path().join("ch.block.json")]);
        assert_eq!(c.clock_skew(), Duration::from_secs(300));
        assert_eq!(c.stall_timeout(), Duration::from_secs(10));
        assert!(c.orderers.is_empty());
        assert!(c.workers() >= 1);
        assert!(c.private_data_sources.is_empty());
        assert_eq!(c.private_data_timeout(), Duration::from_secs(5));
    }

    #[test]
    fn optional_fields_parse() {
        let (_d, path) = write(&format!(
            "{GOOD}orderers: [127.0.0.1:7050, 'orderer1.example:7050']\nclock_skew: 30s\nvalidation_workers: 3\nstall_timeout: 2s\n\
             private_data_sources: [127.0.0.1:7061, 'peer0.org2.example:8061']\nprivate_data_timeout: 1500ms\n"
        ));
        let c = CommitterConfig::load(&path).unwrap();
        assert_eq!(c.orderers.len(), 2);
        assert_eq!(c.clock_skew(), Duration::from_secs(30));
        assert_eq!(c.workers(), 3);
        assert_eq!(c.stall_timeout(), Duration::from_secs(2));
        assert_eq!(
            c.private_data_sources,
            ["127.0.0.1:7061", "peer0.org2.example:8061"]
        );
        assert_eq!(c.private_data_timeout(), Duration::from_millis(1500));
    }

    #[test]
    fn unknown_fields_empty_channels_and_bad_endpoints_are_refused() {
        let (_d, path) = write(&format!("{GOOD}colour: blue\n"));
        let e = CommitterConfig::load(&path).unwrap_err().to_string();
        assert!(e.contains("colour"), "{e}");
        let (_d, path) = write(&GOOD.replace("[ch.block.json]", "[]"));
        let e = CommitterConfig::load(&path).unwrap_err().to_string();
        assert!(e.contains("genesis_blocks is empty"), "{e}");
        let (_d, path) = write(&format!("{GOOD}orderers: [localhost]\n"));
        let e = CommitterConfig::load(&path).unwrap_err().to_string();
        assert!(e.contains("not host:port"), "{e}");
        let (_d, path) = write(&format!("{GOOD}private_data_sources: ['peer0:']\n"));
        let e = CommitterConfig::load(&path).unwrap_err().to_string();
        assert!(e.contains("private data source"), "{e}");
        // The definitions file is gone: definitions come from the ledger.
        let (_d, path) = write(&format!("{GOOD}definitions: defs.yaml\n"));
        let e = CommitterConfig::load(&path).unwrap_err().to_string();
        assert!(e.contains("definitions"), "{e}");
        assert!(matches!(
            CommitterConfig::load(Path::new("/nonexistent/c.yaml")),
            Err(ConfigFileError::Read { .. })
        ));
    }
}
