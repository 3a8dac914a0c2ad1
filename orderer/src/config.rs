//! The orderer's own configuration file (YAML): who this node is, where it listens
//! and keeps its data, and which channels it serves. What a channel is (members,
//! consenters, batch rules) comes from the channel's genesis block, never from here.
//!
//! ```yaml
//! name: orderer0                 # must be a consenter name in each genesis block
//! listen: 127.0.0.1:7050
//! data_dir: /var/lib/cellchain/orderer0
//! msp_id: SponsorMSP
//! cert: crypto/SponsorMSP/nodes/orderer0/cert.pem
//! key: crypto/SponsorMSP/nodes/orderer0/key.pem
//! genesis_blocks: [channels/atmp.block.json]
//! broadcast_timeout: 10s         # optional: how long broadcast waits for ordering
//! clock_skew: 5m                 # optional: accepted skew of signed requests
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
pub struct OrdererConfig {
    /// This node's name: the consenter name in the channels' genesis blocks.
    pub name: String,
    pub listen: SocketAddr,
    pub data_dir: PathBuf,
    pub msp_id: String,
    /// This node's orderer certificate (PEM) and PKCS#8 key.
    pub cert: PathBuf,
    pub key: PathBuf,
    /// Genesis blocks (JSON) of the channels this node orders.
    pub genesis_blocks: Vec<PathBuf>,
    /// How long a broadcast call waits for its envelope to be ordered before it
    /// answers 503 (retryable).
    #[serde(default = "default_broadcast_timeout")]
    pub broadcast_timeout: Millis,
    /// How far the timestamp of a signed deliver or cluster request may be from
    /// this node's clock.
    #[serde(default = "default_clock_skew")]
    pub clock_skew: Millis,
}

fn default_broadcast_timeout() -> Millis {
    Millis(10_000)
}

fn default_clock_skew() -> Millis {
    Millis(300_000)
}

impl OrdererConfig {
    /// Reads and checks the file, resolving relative paths against its directory.
    pub fn load(path: &Path) -> Result<OrdererConfig, ConfigFileError> {
        let (mut config, file): (OrdererConfig, _) = ConfigFile::read("orderer", path)?;
        if config.genesis_blocks.is_empty() {
            return Err(file.invalid(
                "genesis_blocks is empty: list the genesis block of each channel to order",
            ));
        }
        let resolve = |p: &mut PathBuf| file.resolve(p);
        resolve(&mut config.data_dir);
        resolve(&mut config.cert);
        resolve(&mut config.key);
        config.genesis_blocks.iter_mut().for_each(resolve);
        Ok(config)
    }

    pub fn broadcast_timeout(&self) -> Duration {
        Duration::from_millis(self.broadcast_timeout.0)
    }

    pub fn clock_skew(&self) -> Duration {
        Duration::from_millis(self.clock_skew.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(text: &str) -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("orderer.yaml");
        std::fs::write(&path, text).unwrap();
        (dir, path)
    }

    const GOOD: &str = "name: orderer0\nlisten: 127.0.0.1:7050\ndata_dir: data\nmsp_id: Org1MSP\ncert: c.pem\nkey: /abs/k.pem\ngenesis_blocks: [ch.block.json]\n";

    #[test]
    fn relative_paths_resolve_against_the_file_and_defaults_apply() {
        let (dir, path) = write(GOOD);
        let c = OrdererConfig::load(&path).unwrap();
        assert_eq!(c.data_dir, dir.path().join("data"));
        assert_eq!(c.cert, dir.path().join("c.pem"));
        assert_eq!(c.key, PathBuf::from("/abs/k.pem"));
        assert_eq!(c.genesis_blocks, vec![dir.path().join("ch.block.json")]);
        assert_eq!(c.broadcast_timeout(), Duration::from_secs(10));
        assert_eq!(c.clock_skew(), Duration::from_secs(300));
    }

    #[test]
    fn unknown_fields_and_an_empty_channel_list_are_refused() {
        let (_d, path) = write(&format!("{GOOD}colour: blue\n"));
        let e = OrdererConfig::load(&path).unwrap_err().to_string();
        assert!(e.contains("colour"), "{e}");
        let (_d, path) = write(&GOOD.replace("[ch.block.json]", "[]"));
        let e = OrdererConfig::load(&path).unwrap_err().to_string();
        assert!(e.contains("genesis_blocks is empty"), "{e}");
        let missing = Path::new("/nonexistent/orderer.yaml");
        assert!(matches!(
            OrdererConfig::load(missing),
            Err(ConfigFileError::Read { .. })
        ));
    }
}
