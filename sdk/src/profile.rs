//! The connection profile: where the network's nodes are, per organisation.
//!
//! ```yaml
//! name: example
//! organizations:
//!   - msp_id: Org1MSP
//!     endorsers: [127.0.0.1:7051]              # host:port, or {name, address}
//!     committers: [{name: committer1, address: 127.0.0.1:7052}]
//!   - msp_id: Org2MSP
//!     endorsers: [127.0.0.1:8051]
//!     committers: [127.0.0.1:8052]
//! orderers: [127.0.0.1:7050, 127.0.0.1:7150, 127.0.0.1:7250]
//! ```
//!
//! JSON with the same fields works too (it is read as YAML).
//!
//! The profile carries no chaincode endorsement policies: they live in the
//! chaincode definitions committed on each channel, and the SDK reads them
//! from the ledger (`_lifecycle` `query_committed`) when it plans
//! endorsements.

use std::fmt;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::SdkError;

/// One node's address: `host:port` (plain HTTP) or a base URL `http://host:port`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(from = "EndpointForm")]
pub struct Endpoint {
    /// The name used in errors and logs (the address when none is given).
    pub name: String,
    pub address: String,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum EndpointForm {
    Address(String),
    Named { name: String, address: String },
}

impl From<EndpointForm> for Endpoint {
    fn from(f: EndpointForm) -> Self {
        match f {
            EndpointForm::Address(a) => Endpoint::new(a),
            EndpointForm::Named { name, address } => Endpoint { name, address },
        }
    }
}

impl Endpoint {
    /// An endpoint named by its address.
    pub fn new(address: impl Into<String>) -> Endpoint {
        let address = address.into();
        Endpoint {
            name: address.clone(),
            address,
        }
    }

    /// The URL of `path` (which starts with `/`) on this node.
    pub fn url(&self, path: &str) -> String {
        let base = self.address.trim_end_matches('/');
        if base.starts_with("http://") || base.starts_with("https://") {
            format!("{base}{path}")
        } else {
            format!("http://{base}{path}")
        }
    }
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name)
    }
}

/// One organisation's nodes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrgProfile {
    pub msp_id: String,
    #[serde(default)]
    pub endorsers: Vec<Endpoint>,
    #[serde(default)]
    pub committers: Vec<Endpoint>,
}

/// Where the network's nodes are (see the module docs for the file format).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConnectionProfile {
    #[serde(default)]
    pub name: String,
    pub organizations: Vec<OrgProfile>,
    #[serde(default)]
    pub orderers: Vec<Endpoint>,
}

impl ConnectionProfile {
    /// Parses YAML or JSON text; `origin` names it in errors (a path, "inline").
    pub fn parse(text: &str, origin: &str) -> Result<ConnectionProfile, SdkError> {
        let profile: ConnectionProfile =
            serde_yaml::from_str(text).map_err(|e| SdkError::Profile {
                origin: origin.to_string(),
                reason: e.to_string(),
            })?;
        profile.check().map_err(|reason| SdkError::Profile {
            origin: origin.to_string(),
            reason,
        })?;
        Ok(profile)
    }

    /// Reads and parses a YAML or JSON file.
    pub fn from_file(path: impl AsRef<Path>) -> Result<ConnectionProfile, SdkError> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|source| SdkError::File {
            action: "read",
            what: "the connection profile",
            path: path.to_path_buf(),
            source,
        })?;
        Self::parse(&text, &path.display().to_string())
    }

    /// Checks what serde cannot: unique MSP ids and non-empty addresses.
    pub fn check(&self) -> Result<(), String> {
        for (i, org) in self.organizations.iter().enumerate() {
            if org.msp_id.is_empty() {
                return Err(format!("organisation #{} has an empty msp_id", i + 1));
            }
            if self.organizations[..i]
                .iter()
                .any(|o| o.msp_id == org.msp_id)
            {
                return Err(format!("organisation {} is listed twice", org.msp_id));
            }
            for e in org.endorsers.iter().chain(&org.committers) {
                if e.address.is_empty() {
                    return Err(format!(
                        "a node of organisation {} has an empty address",
                        org.msp_id
                    ));
                }
            }
        }
        if self.orderers.iter().any(|o| o.address.is_empty()) {
            return Err("an orderer has an empty address".into());
        }
        Ok(())
    }

    /// The organisation `msp_id`, if listed.
    pub fn org(&self, msp_id: &str) -> Option<&OrgProfile> {
        self.organizations.iter().find(|o| o.msp_id == msp_id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const YAML: &str = "
name: t
organizations:
  - msp_id: Org1MSP
    endorsers: [127.0.0.1:7051, {name: e2, address: 'http://10.0.0.2:7051/'}]
    committers: [127.0.0.1:7052]
  - msp_id: Org2MSP
    endorsers: [127.0.0.1:8051]
orderers: [127.0.0.1:7050]
";

    #[test]
    fn yaml_profile_with_plain_and_named_endpoints() {
        let p = ConnectionProfile::parse(YAML, "inline").unwrap();
        let org1 = p.org("Org1MSP").unwrap();
        assert_eq!(org1.endorsers[0].name, "127.0.0.1:7051");
        assert_eq!(
            org1.endorsers[0].url("/healthz"),
            "http://127.0.0.1:7051/healthz"
        );
        assert_eq!(org1.endorsers[1].name, "e2");
        assert_eq!(org1.endorsers[1].url("/x"), "http://10.0.0.2:7051/x");
        assert!(p.org("Org2MSP").unwrap().committers.is_empty());
        assert_eq!(p.orderers, [Endpoint::new("127.0.0.1:7050")]);
    }

    #[test]
    fn json_profile_parses_too() {
        let json =
            r#"{"organizations":[{"msp_id":"Org1MSP","endorsers":["h:1"]}],"orderers":["h:2"]}"#;
        let p = ConnectionProfile::parse(json, "inline").unwrap();
        assert_eq!(p.orderers[0].address, "h:2");
        assert_eq!(p.organizations[0].endorsers, [Endpoint::new("h:1")]);
    }

    #[test]
    fn errors_name_the_profile_and_the_problem() {
        let e =
            ConnectionProfile::parse("organizations: [{msp_id: A}, {msp_id: A}]", "profile.yaml")
                .unwrap_err();
        assert_eq!(
            e.to_string(),
            "connection profile profile.yaml: organisation A is listed twice"
        );
        let e = ConnectionProfile::parse("organizations: [{msp_id: A, endorsers: ['']}]", "p.yaml")
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("connection profile p.yaml: "), "{e}");
        let e = ConnectionProfile::from_file("/nonexistent/profile.yaml")
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("cannot read the connection profile /nonexistent/profile.yaml"),
            "{e}"
        );
    }
}
