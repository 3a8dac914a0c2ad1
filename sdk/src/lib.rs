//! The CellChain client SDK, in the spirit of Hyperledger Fabric's Gateway
//! client: steps 1, 3 and 6 of the execute-order-validate flow.
//!
//! - [`Identity`]: the client's certificate and signing key.
//! - [`ConnectionProfile`]: where each organisation's endorsers and committers
//!   are, and the orderers.
//! - [`Gateway`] → [`Network`] (a channel) → [`Contract`] (a chaincode):
//!   - [`Contract::evaluate`]: a read-only call on one endorser (the caller's
//!     organisation's first, highest ledger first, the next on failure);
//!   - [`Contract::submit`]: endorsements from the organisations the policy of
//!     the chaincode's committed definition needs (read from the ledger and
//!     cached, [`plan`]), then from those the key-level policies of the keys written
//!     need, as the endorsers report them ([`plan::plan_all`]), checked to
//!     agree byte for byte, assembled into a signed
//!     envelope, broadcast to an orderer (the next on failure), and the commit
//!     status awaited: [`SubmitResult`], or [`SdkError::Invalid`] with the
//!     transaction's validation code (e.g. `MVCC_READ_CONFLICT`);
//!   - [`Contract::submit_async`] returns a [`Commit`] once ordered;
//!     [`Contract::endorse`] stops before ordering ([`Transaction::submit`]).
//! - [`Gateway::install`] and [`Network::lifecycle`]: deploy chaincode
//!   (install, approve, commit) and read the definitions ([`lifecycle`]).
//! - [`Network::block_events`]: the validated block feed from a committer, with
//!   a checkpoint file so a restarted listener neither misses nor repeats, and
//!   the chaincode events of valid transactions.
//!
//! ```no_run
//! use cellchain_sdk::{ConnectionProfile, Gateway, Identity, SdkError};
//! use serde_json::json;
//!
//! # async fn run() -> Result<(), SdkError> {
//! let identity = Identity::from_files("Org1MSP", "app1/cert.pem", "app1/key.pem")?;
//! let profile = ConnectionProfile::from_file("connection.yaml")?;
//! let gateway = Gateway::connect(identity, profile)?;
//! let contract = gateway.network("mychannel").contract("basic");
//!
//! let done = contract.submit("put", vec![json!("k"), json!("v")]).await?;
//! println!("committed {} in block {}", done.tx_id, done.block);
//!
//! let value = contract.evaluate("get", vec![json!("k")]).await?;
//! assert_eq!(value, br#""v""#);
//!
//! match contract.submit("transfer", vec![json!("asset1")]).await {
//!     Err(e) if e.is_read_conflict() => println!("retry later: {e}"),
//!     other => { other?; }
//! }
//! # Ok(())
//! # }
//! ```
//!
//! All calls are async (tokio) over HTTP/JSON (reqwest). Errors are
//! [`SdkError`]; each variant names the node, file or transaction concerned.

mod contract;
mod error;
mod events;
mod gateway;
mod identity;
pub mod lifecycle;
pub mod plan;
mod profile;
mod transaction;
mod transport;

pub use contract::Contract;
pub use error::{Attempt, SdkError};
pub use events::{
    chaincode_events, BlockEvent, BlockEvents, ChaincodeEventRecord, ChaincodeEvents, Checkpoint,
};
pub use gateway::{Gateway, GatewayOptions, Network};
pub use identity::Identity;
pub use lifecycle::{
    ChaincodeDefinition, ChaincodePackage, CollectionConfig, EndorsementPolicy, Installed,
    InstalledPackage, Lifecycle, Readiness,
};
pub use plan::{Plan, PlanError};
pub use profile::{ConnectionProfile, Endpoint, OrgProfile};
pub use transaction::{Commit, SubmitResult, Transaction};

/// The protocol types the SDK's answers carry (blocks, tx ids, validation codes).
pub use cellchain_core::protocol::{Block, ChaincodeEvent, TxId, TxValidationCode};
pub use cellchain_core::Bytes;
