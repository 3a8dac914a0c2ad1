//! Identities (Fabric's MSP): who signed, for which organisation, in which role.
//!
//! An organisation is its CA certificate(s). A member's identity is an X.509
//! certificate with a P-256 key issued by one of those CAs; its role (client, peer,
//! admin, orderer) is an OU of the subject, as in Fabric's NodeOUs, and optional
//! domain attributes (for example `role=QP`) come from the Fabric CA attribute
//! extension. [`Msp::validate`] checks a certificate once and yields an
//! [`Identity`]; code downstream trusts that value.

mod msp;

pub use msp::*;

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::bytes::Hash32;
use crate::crypto::PublicKey;

/// The node role of an identity, from its certificate's OU (Fabric NodeOUs).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Client,
    Peer,
    Admin,
    Orderer,
}

impl Role {
    pub const ALL: [Role; 4] = [Role::Client, Role::Peer, Role::Admin, Role::Orderer];

    pub fn as_str(&self) -> &'static str {
        match self {
            Role::Client => "client",
            Role::Peer => "peer",
            Role::Admin => "admin",
            Role::Orderer => "orderer",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Role {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "client" => Ok(Role::Client),
            "peer" => Ok(Role::Peer),
            "admin" => Ok(Role::Admin),
            "orderer" => Ok(Role::Orderer),
            other => Err(format!(
                "unknown role {other:?}: expected one of client, peer, admin, orderer"
            )),
        }
    }
}

/// An identity as it travels in messages: the organisation's MSP id and the
/// certificate in PEM. Receivers validate it with the channel's [`Msp`]s.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct SerializedIdentity {
    pub msp_id: String,
    /// The X.509 certificate, PEM-encoded.
    pub cert: String,
}

/// A validated identity: the certificate chained to the organisation's CA, was
/// within its validity period at the time given, and is not revoked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Identity {
    pub msp_id: String,
    pub role: Role,
    /// Domain attributes, e.g. `role` -> `QP` (Fabric CA attribute extension).
    pub attributes: BTreeMap<String, String>,
    /// The subject's common name (the signer's name on e-signatures).
    pub common_name: String,
    /// The whole subject, RFC 4514 style (`CN=...,OU=peer,O=...`).
    pub subject: String,
    /// Certificate serial number, lower-case hex without leading zeros.
    pub serial: String,
    /// Validity period, seconds since the Unix epoch.
    pub not_before: i64,
    pub not_after: i64,
    pub public_key: PublicKey,
    /// SHA-256 of the certificate's DER: a stable id for this exact identity.
    pub cert_hash: Hash32,
}
