//! A chaincode package (the file `cellchain chaincode package` writes and
//! `install` uploads) and the signed install request.

use serde::{Deserialize, Serialize};

use crate::bytes::{sha256, Bytes, Hash32};
use crate::crypto::{CryptoError, Signer};
use crate::identity::SerializedIdentity;
use crate::protocol::{decode, encode, signing, ProtocolError, Timestamp};

/// The `format` of packages this version writes and reads.
pub const PACKAGE_FORMAT: &str = "cellchain-chaincode-package/1";

/// A contract's wasm module with its label and where it came from. Stored as
/// JSON (the module in base64); its package id is `LABEL:WASM_SHA256`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChaincodePackage {
    pub format: String,
    /// Chosen by the packager, e.g. `patient-batch_1.0`: 1 to 64 of
    /// `A-Z a-z 0-9 . _ + -`.
    pub label: String,
    /// The contract crate's name and version.
    pub contract: String,
    pub contract_version: String,
    /// SHA-256 of `wasm`: the `wasm_hash` a definition approves.
    pub wasm_sha256: Hash32,
    pub wasm: Bytes,
}

impl ChaincodePackage {
    pub fn new(
        label: impl Into<String>,
        contract: impl Into<String>,
        contract_version: impl Into<String>,
        wasm: Vec<u8>,
    ) -> Result<ChaincodePackage, ProtocolError> {
        let p = ChaincodePackage {
            format: PACKAGE_FORMAT.into(),
            label: label.into(),
            contract: contract.into(),
            contract_version: contract_version.into(),
            wasm_sha256: sha256(&wasm),
            wasm: Bytes(wasm),
        };
        p.check()?;
        Ok(p)
    }

    /// `LABEL:WASM_SHA256`, what `install` answers and `query-installed` lists.
    pub fn package_id(&self) -> String {
        format!("{}:{}", self.label, self.wasm_sha256.to_hex())
    }

    /// Parses a package file and checks it ([`Self::check`]).
    pub fn from_bytes(bytes: &[u8]) -> Result<ChaincodePackage, ProtocolError> {
        let p: ChaincodePackage = decode("chaincode package", bytes)?;
        p.check()?;
        Ok(p)
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        encode(self).0
    }

    /// The format is known, the label is valid, the hash is the module's, and the
    /// module starts like a wasm module.
    pub fn check(&self) -> Result<(), ProtocolError> {
        let bad = |reason: String| {
            Err(ProtocolError::Malformed {
                what: "chaincode package",
                reason,
            })
        };
        if self.format != PACKAGE_FORMAT {
            return bad(format!(
                "format {:?} is not {PACKAGE_FORMAT:?}",
                self.format
            ));
        }
        let label_ok = !self.label.is_empty()
            && self.label.len() <= 64
            && self
                .label
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"._+-".contains(&b));
        if !label_ok {
            return bad(format!(
                "label {:?} is not valid: 1 to 64 of A-Z a-z 0-9 . _ + -",
                self.label
            ));
        }
        if sha256(&self.wasm) != self.wasm_sha256 {
            return bad("wasm_sha256 is not the SHA-256 of the module".into());
        }
        if !self.wasm.starts_with(b"\0asm") {
            return bad("the module is not WebAssembly (no \\0asm magic)".into());
        }
        Ok(())
    }
}

/// An install request: who installs, when, and the package file bytes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InstallRequest {
    /// An admin of the endorser's organisation.
    pub creator: SerializedIdentity,
    /// Endorsers refuse a request too far from their clock.
    pub timestamp: Timestamp,
    /// The package file, exactly as `cellchain chaincode package` wrote it.
    pub package: Bytes,
}

/// An install request as sent: the exact request bytes and the admin's signature.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignedInstall {
    pub request: Bytes,
    /// Over [`signing::install_message`] of `request`.
    pub signature: Bytes,
}

impl SignedInstall {
    pub fn sign(request: &InstallRequest, signer: &dyn Signer) -> Result<Self, CryptoError> {
        let bytes = encode(request);
        let signature = signer.sign(&signing::install_message(&bytes))?;
        Ok(SignedInstall {
            request: bytes,
            signature: Bytes(signature),
        })
    }

    pub fn parse(&self) -> Result<InstallRequest, ProtocolError> {
        decode("install request", &self.request)
    }

    /// The bytes the signature covers.
    pub fn signed_message(&self) -> Vec<u8> {
        signing::install_message(&self.request)
    }
}
