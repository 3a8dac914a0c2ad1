//! The endorser's own configuration file (YAML): who this peer is, where it
//! listens and keeps its state, which channels it serves and which committer it
//! follows. What a channel is (members, ACLs) comes from the channel's genesis
//! block; which chaincodes are defined comes from the ledger (the `_lifecycle`
//! namespace of each channel); which modules this endorser runs is what an
//! admin of its organisation installed (`POST /v1/chaincode/install`, kept in
//! `data_dir/chaincode/packages`). None of these are in this file.
//!
//! ```yaml
//! name: peer0.org1
//! listen: 127.0.0.1:7051
//! data_dir: /var/lib/cellchain/peer0.org1     # replicas in data_dir/CHANNEL/state
//! msp_id: Org1MSP
//! cert: crypto/Org1MSP/nodes/peer0/cert.pem   # a peer certificate: it signs endorsements
//! key: crypto/Org1MSP/nodes/peer0/key.pem
//! genesis_blocks: [channels/atmp.block.json]
//! committer: 127.0.0.1:7060                   # its organisation's committer (block feed)
//! proposal_skew: 5m                           # optional: accepted proposal clock skew
//! runtime: { fuel: 100000000 }                # optional: RuntimeConfig limits
//! ```
//!
//! Relative paths are resolved against the file's directory.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use cellchain_chaincode_runtime::RuntimeConfig;
use cellchain_core::config::Millis;
use cellchain_node::config::ConfigFile;
pub use cellchain_node::config::ConfigFileError;
use serde::Deserialize;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EndorserConfig {
    /// This peer's name, for logs and `/healthz`.
    pub name: String,
    pub listen: SocketAddr,
    /// Holds one state replica per channel (`CHANNEL/state`), the installed
    /// chaincode packages (`chaincode/packages`) and the compiled module cache
    /// (`chaincode-cache`).
    pub data_dir: PathBuf,
    pub msp_id: String,
    /// This peer's certificate (PEM, role peer) and PKCS#8 key: endorsements are
    /// signed with it.
    pub cert: PathBuf,
    pub key: PathBuf,
    /// Genesis blocks (JSON) of the channels this endorser serves.
    pub genesis_blocks: Vec<PathBuf>,
    /// `host:port` of this organisation's committer, whose validated block feed
    /// keeps the replicas current.
    pub committer: String,
    /// How far a proposal's timestamp may be from this endorser's clock.
    #[serde(default = "default_proposal_skew")]
    pub proposal_skew: Millis,
    /// Limits of the chaincode runtime; every endorser of a channel must use
    /// the same deterministic ones (fuel, memory, simulator limits).
    #[serde(default)]
    pub runtime: RuntimeConfig,
}

fn default_proposal_skew() -> Millis {
    Millis(300_000)
}

impl EndorserConfig {
    /// Reads and checks the file, resolving relative paths against its directory.
    pub fn load(path: &Path) -> Result<EndorserConfig, ConfigFileError> {
        let (mut config, file): (EndorserConfig, _) = ConfigFile::read("endorser", path)?;
        if config.genesis_blocks.is_empty() {
            return Err(file.invalid(
                "genesis_blocks is empty: list the genesis block of each channel to serve",
            ));
        }
        if config.committer.trim().is_empty() || config.committer.contains('/') {
            return Err(file.invalid(format!(
                "committer must be host:port (no scheme or path), got {:?}",
                config.committer
            )));
        }
        config
            .runtime
            .check()
            .map_err(|e| file.invalid(format!("runtime: {e}")))?;
        let resolve = |p: &mut PathBuf| file.resolve(p);
        resolve(&mut config.data_dir);
        resolve(&mut config.cert);
        resolve(&mut config.key);
        config.genesis_blocks.iter_mut().for_each(resolve);
        Ok(config)
    }

    pub fn proposal_skew(&self) -> Duration {
        Duration::from_millis(self.proposal_skew.0)
    }

    /// Where installed chaincode packages are kept.
    pub fn packages_dir(&self) -> PathBuf {
        self.data_dir.join("chaincode").join("packages")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(text: &str) -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("endorser.yaml");
        std::fs::write(&path, text).unwrap();
        (dir, path)
    }

    const GOOD: &str = "name: peer0\nlisten: 127.0.0.1:7051\ndata_dir: data\nmsp_id: Org1MSP\ncert: c.pem\nkey: /abs/k.pem\ngenesis_blocks: [ch.block.json]\ncommitter: 127.0.0.1:7060\n";

    #[test]
    fn relative_paths_resolve_against_the_file_and_defaults_apply() {
        let (dir, path) = write(GOOD);
        let c = EndorserConfig::load(&path).unwrap();
        assert_eq!(c.data_dir, dir.path().join("data"));
        assert_eq!(c.cert, dir.path().join("c.pem"));
        assert_eq!(c.key, PathBuf::from("/abs/k.pem"));
        assert_eq!(c.genesis_blocks, vec![dir.path().join("ch.block.json")]);
        assert_eq!(
            c.packages_dir(),
            dir.path().join("data").join("chaincode").join("packages")
        );
        assert_eq!(c.proposal_skew(), Duration::from_secs(300));
        assert_eq!(c.runtime, RuntimeConfig::default());
    }

    #[test]
    fn runtime_limits_and_skew_can_be_set() {
        let (_d, path) = write(&format!(
            "{GOOD}proposal_skew: 30s\nruntime: {{ fuel: 5000, memory_bytes: 1048576 }}\n"
        ));
        let c = EndorserConfig::load(&path).unwrap();
        assert_eq!(c.proposal_skew(), Duration::from_secs(30));
        assert_eq!(c.runtime.fuel, 5000);
        assert_eq!(c.runtime.memory_bytes, 1 << 20);
    }

    #[test]
    fn unknown_fields_bad_committers_and_bad_limits_are_refused() {
        let (_d, path) = write(&format!("{GOOD}colour: blue\n"));
        let e = EndorserConfig::load(&path).unwrap_err().to_string();
        assert!(e.contains("colour"), "{e}");
        // The removed keys: definitions come from the ledger, modules are installed.
        for removed in [
            "definitions: defs.yaml\n",
            "chaincodes:\n  - { channel: ch, name: ks, wasm: ks.wasm }\n",
        ] {
            let (_d, path) = write(&format!("{GOOD}{removed}"));
            let e = EndorserConfig::load(&path).unwrap_err().to_string();
            assert!(e.contains("unknown field"), "{e}");
        }
        let (_d, path) = write(&GOOD.replace("[ch.block.json]", "[]"));
        let e = EndorserConfig::load(&path).unwrap_err().to_string();
        assert!(e.contains("genesis_blocks is empty"), "{e}");
        let (_d, path) = write(&GOOD.replace("127.0.0.1:7060", "http://c:1/x"));
        let e = EndorserConfig::load(&path).unwrap_err().to_string();
        assert!(e.contains("host:port"), "{e}");
        let (_d, path) = write(&format!("{GOOD}runtime: {{ memory_bytes: 1000 }}\n"));
        let e = EndorserConfig::load(&path).unwrap_err().to_string();
        assert!(e.contains("memory_bytes"), "{e}");
        assert!(matches!(
            EndorserConfig::load(Path::new("/nonexistent/endorser.yaml")),
            Err(ConfigFileError::Read { .. })
        ));
    }
}
