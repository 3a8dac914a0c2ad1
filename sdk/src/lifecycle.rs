//! The chaincode lifecycle from the client's side.
//!
//! 1. [`Gateway::install`]: an admin of an organisation uploads a
//!    [`ChaincodePackage`] file to each of its organisation's endorsers
//!    (`POST /v1/chaincode/install`); [`Gateway::query_installed`] lists what
//!    they have.
//! 2. [`Lifecycle::approve`]: each organisation's admin approves a
//!    [`ChaincodeDefinition`] in a transaction of the built-in `_lifecycle`
//!    chaincode endorsed by its own organisation's peer.
//! 3. [`Lifecycle::commit`]: once the approvals satisfy the channel's
//!    `LifecycleEndorsement` policy ([`Lifecycle::check_commit_readiness`]), an
//!    admin commits the definition, endorsed by the organisations that approved
//!    it. Not ready is [`SdkError::NotReady`], naming who approved, who approved
//!    something else (and which fields differ) and who has not approved.
//! 4. [`Lifecycle::query_committed`] and [`Lifecycle::query_approved`] read
//!    what is on the ledger; [`Contract`](crate::Contract::plan) plans its
//!    endorsements from the committed definition's policy.
//!
//! ```no_run
//! use cellchain_sdk::lifecycle::{ChaincodeDefinition, ChaincodePackage, EndorsementPolicy};
//! use cellchain_sdk::{Gateway, SdkError};
//!
//! # async fn run(org1_admin: Gateway, org2_admin: Gateway) -> Result<(), SdkError> {
//! let bytes = std::fs::read("basic.ccpkg.json").unwrap();
//! let package = ChaincodePackage::from_bytes(&bytes).unwrap();
//! org1_admin.install(&bytes).await?;
//! org2_admin.install(&bytes).await?;
//! let def = ChaincodeDefinition {
//!     name: "basic".into(),
//!     version: "1.0".into(),
//!     sequence: 1,
//!     wasm_hash: package.wasm_sha256,
//!     endorsement_policy: EndorsementPolicy::Channel("Endorsement".into()),
//!     collections: vec![],
//! };
//! org1_admin.network("mychannel").lifecycle().approve(&def).await?;
//! org2_admin.network("mychannel").lifecycle().approve(&def).await?;
//! org1_admin.network("mychannel").lifecycle().commit(&def).await?;
//! # Ok(())
//! # }
//! ```

use std::collections::BTreeMap;

use cellchain_core::lifecycle::{functions, InstallRequest, SignedInstall, LIFECYCLE};
use cellchain_core::{Bytes, Hash32};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;

pub use cellchain_core::lifecycle::{
    ChaincodeDefinition, ChaincodePackage, CollectionConfig, EndorsementPolicy, Readiness,
};

use crate::contract::Contract;
use crate::error::SdkError;
use crate::gateway::{now, Gateway, Network};
use crate::profile::Endpoint;
use crate::transaction::SubmitResult;

/// The endorser route that installs a package.
const INSTALL_PATH: &str = "/v1/chaincode/install";
/// The endorser route that lists the installed packages.
const INSTALLED_PATH: &str = "/v1/chaincode/installed";

/// A package installed on an endorser, as `GET /v1/chaincode/installed` lists it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct InstalledPackage {
    /// `LABEL:WASM_SHA256HEX`.
    pub package_id: String,
    pub label: String,
    pub contract: String,
    pub contract_version: String,
    pub wasm_sha256: Hash32,
}

/// One endorser's answer to an install.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Installed {
    /// The endorser's address, as in the connection profile.
    pub endorser: String,
    pub package_id: String,
    /// The endorser had the package already (installing again changes nothing).
    pub already_installed: bool,
}

/// The endorser's answer to `POST /v1/chaincode/install`.
#[derive(Debug, Deserialize)]
struct InstallAnswer {
    package_id: String,
    wasm_sha256: Hash32,
    already_installed: bool,
}

impl Gateway {
    /// Installs a chaincode package file (as `ChaincodePackage::to_bytes` or
    /// `cellchain chaincode package` wrote it) on every endorser of the
    /// identity's organisation in the profile. The identity must be an admin
    /// of that organisation. The package is checked first; an endorser that
    /// refuses or cannot be reached is an error naming it (endorsers asked
    /// before keep the package: installing again is harmless).
    pub async fn install(&self, package: &[u8]) -> Result<Vec<Installed>, SdkError> {
        let parsed = ChaincodePackage::from_bytes(package).map_err(|e| SdkError::Config {
            reason: format!("the chaincode package cannot be installed: {e}"),
        })?;
        let endorsers = self.own_endorsers("install a chaincode package")?;
        let identity = self.identity();
        let request = InstallRequest {
            creator: identity.serialized().clone(),
            timestamp: now(),
            package: Bytes(package.to_vec()),
        };
        let signed =
            SignedInstall::sign(&request, identity.signer()).map_err(|source| SdkError::Sign {
                what: "install request",
                source,
            })?;
        let timeout = self.inner.options.request_timeout;
        let asks = endorsers.iter().map(|node| {
            let signed = &signed;
            let parsed = &parsed;
            async move {
                let answer: InstallAnswer = self
                    .inner
                    .transport
                    .post(node, INSTALL_PATH, signed, timeout)
                    .await
                    .map_err(|e| e.into_sdk("endorser", node, "install"))?;
                if answer.wasm_sha256 != parsed.wasm_sha256 {
                    return Err(SdkError::BadAnswer {
                        role: "endorser",
                        node: node.name.clone(),
                        request: "install",
                        reason: format!(
                            "it reports the module hash {}, the package has {}",
                            answer.wasm_sha256.to_hex(),
                            parsed.wasm_sha256.to_hex()
                        ),
                    });
                }
                Ok(Installed {
                    endorser: node.address.clone(),
                    package_id: answer.package_id,
                    already_installed: answer.already_installed,
                })
            }
        });
        futures_util::future::try_join_all(asks).await
    }

    /// The packages installed on each endorser of the identity's organisation
    /// in the profile: `(endorser address, packages)`, in profile order.
    pub async fn query_installed(&self) -> Result<Vec<(String, Vec<InstalledPackage>)>, SdkError> {
        let endorsers = self.own_endorsers("list installed chaincode packages")?;
        let timeout = self.inner.options.request_timeout;
        let asks = endorsers.iter().map(|node| async move {
            let list: Vec<InstalledPackage> = self
                .inner
                .transport
                .get(node, INSTALLED_PATH, timeout)
                .await
                .map_err(|e| e.into_sdk("endorser", node, "installed query"))?;
            Ok::<_, SdkError>((node.address.clone(), list))
        });
        futures_util::future::try_join_all(asks).await
    }

    /// The endorsers of the identity's organisation; none is an error saying
    /// what could not be done.
    fn own_endorsers(&self, doing: &str) -> Result<Vec<Endpoint>, SdkError> {
        let own = self.identity().msp_id();
        let endorsers = self
            .profile()
            .org(own)
            .map(|o| o.endorsers.clone())
            .unwrap_or_default();
        if endorsers.is_empty() {
            return Err(SdkError::Config {
                reason: format!(
                    "cannot {doing}: organisation {own} has no endorser in the connection profile"
                ),
            });
        }
        Ok(endorsers)
    }
}

impl Network {
    /// The chaincode lifecycle of this channel.
    pub fn lifecycle(&self) -> Lifecycle {
        Lifecycle {
            network: self.clone(),
        }
    }
}

/// The chaincode lifecycle of one channel: transactions and evaluations of the
/// built-in `_lifecycle` chaincode. Approving and committing need an admin
/// identity; the queries any member of the channel.
#[derive(Clone)]
pub struct Lifecycle {
    network: Network,
}

impl Lifecycle {
    fn contract(&self) -> Contract {
        self.network.contract(LIFECYCLE)
    }

    /// Approves `def` for the identity's organisation: a `_lifecycle`
    /// transaction endorsed by that organisation's endorsers only, awaited
    /// until committed. Approving the same definition again is allowed.
    pub async fn approve(&self, def: &ChaincodeDefinition) -> Result<SubmitResult, SdkError> {
        let own = self.network.identity().msp_id().to_string();
        self.contract()
            .with_endorsing_orgs([own])
            .submit(functions::APPROVE, vec![definition_arg(def)])
            .await
    }

    /// Where the approvals of `def` stand (read only, on one endorser).
    pub async fn check_commit_readiness(
        &self,
        def: &ChaincodeDefinition,
    ) -> Result<Readiness, SdkError> {
        let answer = self
            .contract()
            .evaluate(functions::CHECK_COMMIT_READINESS, vec![definition_arg(def)])
            .await?;
        self.decode("check_commit_readiness", &answer)
    }

    /// Commits `def`. Checks readiness first: not ready is
    /// [`SdkError::NotReady`]. Then the commit is endorsed by the
    /// organisations that approved `def` (those with endorsers in the
    /// profile), submitted and awaited.
    pub async fn commit(&self, def: &ChaincodeDefinition) -> Result<SubmitResult, SdkError> {
        let readiness = self.check_commit_readiness(def).await?;
        if !readiness.ready {
            return Err(SdkError::NotReady(Box::new(readiness)));
        }
        let profile = self.network.profile();
        let orgs: Vec<&String> = readiness
            .approved
            .iter()
            .filter(|org| profile.org(org).is_some_and(|o| !o.endorsers.is_empty()))
            .collect();
        if orgs.is_empty() {
            return Err(SdkError::Config {
                reason: format!(
                    "cannot commit chaincode {} sequence {}: none of the organisations that approved it ({}) has an endorser in the connection profile",
                    def.name,
                    def.sequence,
                    readiness.approved.join(", ")
                ),
            });
        }
        let done = self
            .contract()
            .with_endorsing_orgs(orgs)
            .submit(functions::COMMIT, vec![definition_arg(def)])
            .await?;
        self.network.cache_definition(def);
        Ok(done)
    }

    /// The committed definition of chaincode `name`, `None` when it has none
    /// on this channel.
    pub async fn query_committed(
        &self,
        name: &str,
    ) -> Result<Option<ChaincodeDefinition>, SdkError> {
        let answer = self
            .contract()
            .evaluate(functions::QUERY_COMMITTED, vec![Value::from(name)])
            .await;
        match answer {
            Ok(bytes) => {
                let def: ChaincodeDefinition = self.decode("query_committed", &bytes)?;
                self.network.cache_definition(&def);
                Ok(Some(def))
            }
            Err(SdkError::Chaincode { status: 404, .. }) => {
                self.network.forget_definition(name);
                Ok(None)
            }
            Err(e) => Err(e),
        }
    }

    /// Every committed definition of the channel, in name order.
    pub async fn query_committed_all(&self) -> Result<Vec<ChaincodeDefinition>, SdkError> {
        let answer = self
            .contract()
            .evaluate(functions::QUERY_COMMITTED, vec![])
            .await?;
        self.decode("query_committed", &answer)
    }

    /// Each organisation's current approval of chaincode `name` (MSP id → the
    /// definition it approved last, any sequence).
    pub async fn query_approved(
        &self,
        name: &str,
    ) -> Result<BTreeMap<String, ChaincodeDefinition>, SdkError> {
        let answer = self
            .contract()
            .evaluate(functions::QUERY_APPROVED, vec![Value::from(name)])
            .await?;
        self.decode("query_approved", &answer)
    }

    fn decode<T: DeserializeOwned>(&self, function: &str, bytes: &[u8]) -> Result<T, SdkError> {
        serde_json::from_slice(bytes).map_err(|e| SdkError::BadAnswer {
            role: "endorser",
            node: format!("of channel {}", self.network.channel()),
            request: "_lifecycle evaluation",
            reason: format!("{function} answered what is not the expected JSON: {e}"),
        })
    }
}

/// A definition as the argument of a `_lifecycle` function.
fn definition_arg(def: &ChaincodeDefinition) -> Value {
    serde_json::to_value(def).expect("definitions always serialise")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn installed_packages_read_the_endorser_listing() {
        let hash = cellchain_core::bytes::sha256(b"module");
        let listing = format!(
            r#"[{{"package_id":"kitchen_1:{h}","label":"kitchen_1","contract":"kitchen-sink","contract_version":"0.1.0","wasm_sha256":"{h}"}}]"#,
            h = hash.to_hex()
        );
        let list: Vec<InstalledPackage> = serde_json::from_str(&listing).unwrap();
        assert_eq!(list[0].wasm_sha256, hash);
        assert_eq!(list[0].label, "kitchen_1");
    }
}
