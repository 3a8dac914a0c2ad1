//! The client's identity: its certificate (as it travels in messages) and the
//! private key that signs proposals, envelopes, queries and deliver requests.

use std::fmt;
use std::path::Path;
use std::sync::Arc;

use cellchain_core::crypto::{default_provider, signer_from_pkcs8_pem, Signer};
use cellchain_core::identity::SerializedIdentity;

use crate::error::SdkError;

/// A client identity of one organisation, ready to sign. Cheap to clone.
#[derive(Clone)]
pub struct Identity {
    id: SerializedIdentity,
    signer: Arc<dyn Signer>,
}

impl Identity {
    /// Reads an X.509 certificate (PEM) and its PKCS#8 P-256 private key (PEM),
    /// as the nodes load their `cert:` and `key:` files.
    pub fn from_files(
        msp_id: &str,
        cert_pem_path: impl AsRef<Path>,
        key_pem_path: impl AsRef<Path>,
    ) -> Result<Identity, SdkError> {
        let read = |what, path: &Path| {
            std::fs::read_to_string(path).map_err(|source| SdkError::File {
                action: "read",
                what,
                path: path.to_path_buf(),
                source,
            })
        };
        let (cert_path, key_path) = (cert_pem_path.as_ref(), key_pem_path.as_ref());
        let cert = read("the client certificate", cert_path)?;
        let key = read("the client private key", key_path)?;
        Self::from_pem(msp_id, cert, &key, &key_path.display().to_string())
    }

    /// As [`Identity::from_files`], from PEM text; `origin` names the key in errors.
    pub fn from_pem(
        msp_id: &str,
        cert_pem: String,
        key_pem: &str,
        origin: &str,
    ) -> Result<Identity, SdkError> {
        if !cert_pem.contains("-----BEGIN CERTIFICATE-----") {
            return Err(SdkError::Config {
                reason: format!(
                    "the certificate for the key {origin} is not a PEM certificate \
                     (no BEGIN CERTIFICATE line)"
                ),
            });
        }
        let signer =
            signer_from_pkcs8_pem(default_provider(), key_pem).map_err(|source| SdkError::Key {
                origin: origin.to_string(),
                source,
            })?;
        Ok(Identity {
            id: SerializedIdentity {
                msp_id: msp_id.to_string(),
                cert: cert_pem,
            },
            signer: Arc::from(signer),
        })
    }

    /// An identity from parts already loaded (tests, HSM-backed signers).
    pub fn new(id: SerializedIdentity, signer: Arc<dyn Signer>) -> Identity {
        Identity { id, signer }
    }

    /// The organisation's MSP id.
    pub fn msp_id(&self) -> &str {
        &self.id.msp_id
    }

    /// The identity as carried in headers and requests.
    pub fn serialized(&self) -> &SerializedIdentity {
        &self.id
    }

    pub fn signer(&self) -> &dyn Signer {
        self.signer.as_ref()
    }
}

impl fmt::Debug for Identity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Identity")
            .field("msp_id", &self.id.msp_id)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cellchain_core::testing::TestCa;

    #[test]
    fn loads_certificate_and_key_files_and_names_a_missing_file() {
        let dir = tempfile::tempdir().unwrap();
        let member = TestCa::new("Org1MSP").member("Org1MSP", "app", "client");
        std::fs::write(dir.path().join("cert.pem"), &member.id.cert).unwrap();
        std::fs::write(dir.path().join("key.pem"), &member.key_pem).unwrap();
        let id = Identity::from_files(
            "Org1MSP",
            dir.path().join("cert.pem"),
            dir.path().join("key.pem"),
        )
        .unwrap();
        assert_eq!(id.serialized(), &member.id);
        assert_eq!(id.signer().public_key(), member.signer.public_key());

        let e = Identity::from_files("Org1MSP", dir.path().join("nope.pem"), "key.pem")
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("cannot read the client certificate "), "{e}");
        assert!(e.contains("nope.pem"), "{e}");

        let e = Identity::from_pem("Org1MSP", member.id.cert.clone(), "garbage", "k.pem")
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("the private key k.pem cannot be used"), "{e}");
    }
}
