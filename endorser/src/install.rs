//! Installed chaincode packages: the modules this endorser can run.
//!
//! An admin of the endorser's own organisation installs a package
//! (`cellchain chaincode install`, `POST /v1/chaincode/install` with a
//! [`SignedInstall`]); installing changes nothing on the ledger. The package
//! file is kept durably in `data_dir/chaincode/packages/WASM_SHA256HEX.json`
//! (written to a temporary file, fsynced, renamed, the directory fsynced) and
//! its module compiled at once (the runtime's compiled-module cache keeps the
//! machine code across restarts). At start every stored package is read,
//! checked and compiled again ([`PackageStore::open`]); a stored package that
//! does not load stops the start with the file's name.
//!
//! Modules are indexed by the SHA-256 of their wasm: a proposal for contract
//! CC runs the installed module whose hash is the `wasm_hash` of CC's
//! definition in force ([`crate::endorse`]). Installing a module that is
//! already installed (under any label) stores nothing and answers
//! `already_installed: true` with the package installed first.
//!
//! The install request's checks, the first failure deciding the answer
//! ([`InstallRequestError`]):
//!
//! | # | rule | error | HTTP |
//! |---|---|---|---|
//! | 1 | the body is at most [`INSTALL_BODY_LIMIT`] bytes | `too_large` | 413 |
//! | 2 | the body is a `SignedInstall` and its request bytes an `InstallRequest` | `bad_request` | 400 |
//! | 3 | the creator is a valid identity of a channel this endorser serves | `invalid_creator` | 401 |
//! | 4 | the creator's signature over `signing::install_message` verifies | `bad_signature` | 401 |
//! | 5 | the creator is an admin of this endorser's organisation | `not_an_admin` | 403 |
//! | 6 | the timestamp is within the endorser's `proposal_skew` | `stale_timestamp` | 400 |
//! | 7 | the package passes `ChaincodePackage::from_bytes` and its module installs in the runtime | `bad_package` | 400 |
//! | 8 | the package file is stored | `storage` | 500 |
//!
//! `GET /v1/chaincode/installed` lists the installed packages ([`PackageInfo`]).

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};

use anyhow::{anyhow, Context};
use cellchain_chaincode_runtime::{InstalledChaincode, Runtime};
use cellchain_core::identity::Role;
use cellchain_core::lifecycle::{ChaincodePackage, SignedInstall};
use cellchain_core::protocol::Timestamp;
use cellchain_core::Hash32;
use serde::{Deserialize, Serialize};

use crate::checks::ProposalError;
use crate::endorse::Endorser;

/// Largest install request body (the package travels inside it).
pub const INSTALL_BODY_LIMIT: usize = 16 * 1024 * 1024;

/// What `GET /v1/chaincode/installed` lists of one package.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PackageInfo {
    /// `LABEL:WASM_SHA256HEX`.
    pub package_id: String,
    pub label: String,
    pub contract: String,
    pub contract_version: String,
    pub wasm_sha256: Hash32,
}

impl PackageInfo {
    pub fn of(package: &ChaincodePackage) -> PackageInfo {
        PackageInfo {
            package_id: package.package_id(),
            label: package.label.clone(),
            contract: package.contract.clone(),
            contract_version: package.contract_version.clone(),
            wasm_sha256: package.wasm_sha256,
        }
    }
}

/// The answer to an install request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InstallAnswer {
    #[serde(flatten)]
    pub package: PackageInfo,
    /// The module was installed before (nothing was stored this time).
    pub already_installed: bool,
}

/// One installed package and its compiled module.
pub struct InstalledPackage {
    pub info: PackageInfo,
    pub module: Arc<InstalledChaincode>,
}

/// Why an install request was refused. [`InstallRequestError::status`] maps
/// it to HTTP, [`InstallRequestError::kind`] names it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InstallRequestError {
    #[error("the install request is larger than {limit} bytes")]
    TooLarge { limit: usize },
    #[error("malformed install request: {reason}")]
    BadRequest { reason: String },
    #[error("the installer is not a valid identity of any channel this endorser serves: {reason}")]
    InvalidCreator { reason: String },
    #[error("the install request signature does not verify for its creator {creator}: sign the exact request bytes with the admin's key")]
    BadSignature { creator: String },
    #[error("{creator} (role {role}) may not install chaincode on this endorser: only an admin of {org} may")]
    NotAnAdmin {
        creator: String,
        role: &'static str,
        org: String,
    },
    #[error("the install request timestamp is {off_ms} ms from the endorser's clock, more than the accepted {skew_ms} ms: check the installer's clock and send a fresh request")]
    StaleTimestamp { off_ms: u64, skew_ms: u64 },
    #[error("the chaincode package is not valid: {reason}")]
    BadPackage { reason: String },
    #[error("the package could not be stored: {reason}")]
    Storage { reason: String },
}

impl InstallRequestError {
    pub fn status(&self) -> u16 {
        match self {
            InstallRequestError::TooLarge { .. } => 413,
            InstallRequestError::InvalidCreator { .. }
            | InstallRequestError::BadSignature { .. } => 401,
            InstallRequestError::NotAnAdmin { .. } => 403,
            InstallRequestError::Storage { .. } => 500,
            _ => 400,
        }
    }

    pub fn kind(&self) -> &'static str {
        match self {
            InstallRequestError::TooLarge { .. } => "too_large",
            InstallRequestError::BadRequest { .. } => "bad_request",
            InstallRequestError::InvalidCreator { .. } => "invalid_creator",
            InstallRequestError::BadSignature { .. } => "bad_signature",
            InstallRequestError::NotAnAdmin { .. } => "not_an_admin",
            InstallRequestError::StaleTimestamp { .. } => "stale_timestamp",
            InstallRequestError::BadPackage { .. } => "bad_package",
            InstallRequestError::Storage { .. } => "storage",
        }
    }

    /// Only a storage failure may go away by itself.
    pub fn retryable(&self) -> bool {
        matches!(self, InstallRequestError::Storage { .. })
    }
}

/// The installed packages, on disk and compiled, by wasm SHA-256.
pub struct PackageStore {
    dir: PathBuf,
    runtime: Arc<Runtime>,
    packages: RwLock<BTreeMap<Hash32, Arc<InstalledPackage>>>,
    /// One install at a time writes.
    writing: Mutex<()>,
}

impl PackageStore {
    /// Opens (or creates) the store in `dir`, reading and compiling every
    /// stored package (blocking). Left-over temporary files of an install
    /// interrupted by a crash are removed.
    pub fn open(dir: &Path, runtime: Arc<Runtime>) -> anyhow::Result<PackageStore> {
        std::fs::create_dir_all(dir).with_context(|| {
            format!(
                "cannot create the chaincode package directory {}",
                dir.display()
            )
        })?;
        let mut packages = BTreeMap::new();
        let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)
            .with_context(|| format!("cannot list {}", dir.display()))?
            .map(|e| e.map(|e| e.path()))
            .collect::<Result<_, _>>()
            .with_context(|| format!("cannot list {}", dir.display()))?;
        paths.sort();
        for path in paths {
            let name = path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            if name.ends_with(".tmp") {
                let _ = std::fs::remove_file(&path);
                continue;
            }
            let Some(stem) = name.strip_suffix(".json") else {
                continue;
            };
            let bytes = std::fs::read(&path)
                .with_context(|| format!("cannot read the installed package {}", path.display()))?;
            let package = ChaincodePackage::from_bytes(&bytes).map_err(|e| {
                anyhow!(
                    "the installed package {} is not valid ({e}): remove it and install the package again",
                    path.display()
                )
            })?;
            if package.wasm_sha256.to_hex() != stem {
                return Err(anyhow!(
                    "the installed package {} holds the module {}, not the one its name says: remove it and install the package again",
                    path.display(),
                    package.wasm_sha256
                ));
            }
            let module = runtime.install(&package.wasm).map_err(|e| {
                anyhow!(
                    "the installed package {} ({}) cannot be loaded by this endorser's runtime: {e}",
                    path.display(),
                    package.package_id()
                )
            })?;
            let info = PackageInfo::of(&package);
            tracing::info!(package_id = %info.package_id, contract = %info.contract, contract_version = %info.contract_version, origin = ?module.origin(), "installed chaincode package loaded");
            packages.insert(
                package.wasm_sha256,
                Arc::new(InstalledPackage { info, module }),
            );
        }
        Ok(PackageStore {
            dir: dir.to_path_buf(),
            runtime,
            packages: RwLock::new(packages),
            writing: Mutex::new(()),
        })
    }

    pub fn runtime(&self) -> &Arc<Runtime> {
        &self.runtime
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The installed package whose module has SHA-256 `wasm_sha256`.
    pub fn get(&self, wasm_sha256: &Hash32) -> Option<Arc<InstalledPackage>> {
        self.packages
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(wasm_sha256)
            .cloned()
    }

    /// Every installed package, by package id.
    pub fn list(&self) -> Vec<PackageInfo> {
        let mut v: Vec<PackageInfo> = self
            .packages
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .values()
            .map(|p| p.info.clone())
            .collect();
        v.sort_by(|a, b| a.package_id.cmp(&b.package_id));
        v
    }

    /// Installs the package file `bytes` (blocking: compiles, fsyncs): checks
    /// it, compiles its module, stores the file, and makes the module
    /// available. A module already installed is not stored again.
    pub fn install(&self, bytes: &[u8]) -> Result<InstallAnswer, InstallRequestError> {
        let package =
            ChaincodePackage::from_bytes(bytes).map_err(|e| InstallRequestError::BadPackage {
                reason: e.to_string(),
            })?;
        let _writing = self.writing.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(existing) = self.get(&package.wasm_sha256) {
            return Ok(InstallAnswer {
                package: existing.info.clone(),
                already_installed: true,
            });
        }
        let module =
            self.runtime
                .install(&package.wasm)
                .map_err(|e| InstallRequestError::BadPackage {
                    reason: format!(
                        "the module of {} cannot be installed: {e}",
                        package.package_id()
                    ),
                })?;
        let path = self
            .dir
            .join(format!("{}.json", package.wasm_sha256.to_hex()));
        write_durably(&path, bytes).map_err(|e| InstallRequestError::Storage {
            reason: format!("{}: {e}", path.display()),
        })?;
        let info = PackageInfo::of(&package);
        self.packages
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(
                package.wasm_sha256,
                Arc::new(InstalledPackage {
                    info: info.clone(),
                    module,
                }),
            );
        Ok(InstallAnswer {
            package: info,
            already_installed: false,
        })
    }
}

/// Writes `bytes` to `path` so that a crash leaves either the old state or
/// the whole file: a temporary file, fsynced, renamed, the directory fsynced.
fn write_durably(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let tmp = path.with_extension("json.tmp");
    {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
    }
    std::fs::rename(&tmp, path)?;
    if let Some(dir) = path.parent() {
        std::fs::File::open(dir)?.sync_all()?;
    }
    Ok(())
}

impl Endorser {
    /// Answers one install request (the body as received) at `now`
    /// (blocking: verifies signatures, compiles, fsyncs).
    pub fn handle_install(
        &self,
        body: &[u8],
        now: Timestamp,
    ) -> Result<InstallAnswer, InstallRequestError> {
        let result = self.install_checked(body, now);
        match &result {
            Ok(a) => tracing::info!(
                package_id = %a.package.package_id,
                contract = %a.package.contract,
                contract_version = %a.package.contract_version,
                already_installed = a.already_installed,
                "chaincode package installed"
            ),
            Err(e) => tracing::warn!(error = %e, kind = e.kind(), "chaincode install refused"),
        }
        result
    }

    fn install_checked(
        &self,
        body: &[u8],
        now: Timestamp,
    ) -> Result<InstallAnswer, InstallRequestError> {
        let bad = |reason: String| InstallRequestError::BadRequest { reason };
        let signed: SignedInstall = serde_json::from_slice(body)
            .map_err(|e| bad(format!("not a signed install request: {e}")))?;
        let request = signed.parse().map_err(|e| bad(e.to_string()))?;
        let message = signed.signed_message();
        let mut invalid = None;
        let mut creator = None;
        for ch in self.channels.values() {
            match ch
                .trust
                .authenticate(&request.creator, &message, &signed.signature, now.seconds)
            {
                Ok(id) => {
                    creator = Some(id);
                    break;
                }
                Err(ProposalError::BadSignature { creator }) => {
                    return Err(InstallRequestError::BadSignature { creator })
                }
                Err(ProposalError::InvalidCreator { channel, reason }) => {
                    invalid.get_or_insert(format!("channel {channel}: {reason}"));
                }
                Err(e) => {
                    invalid.get_or_insert(e.to_string());
                }
            }
        }
        let Some(creator) = creator else {
            return Err(InstallRequestError::InvalidCreator {
                reason: invalid.unwrap_or_else(|| "this endorser serves no channel".into()),
            });
        };
        let own = &self.identity.msp_id;
        if creator.role != Role::Admin || &creator.msp_id != own {
            return Err(InstallRequestError::NotAnAdmin {
                creator: format!("{}@{}", creator.common_name, creator.msp_id),
                role: creator.role.as_str(),
                org: own.clone(),
            });
        }
        let off = now
            .as_unix_nanos()
            .abs_diff(request.timestamp.as_unix_nanos());
        if off > self.proposal_skew.as_nanos() {
            return Err(InstallRequestError::StaleTimestamp {
                off_ms: u64::try_from(off / 1_000_000).unwrap_or(u64::MAX),
                skew_ms: self.proposal_skew.as_millis() as u64,
            });
        }
        self.packages.install(&request.package)
    }
}
