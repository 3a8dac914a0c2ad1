//! The resolved configuration of one channel, as stored in its genesis block.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::network::{default_acls, BatchConfig, ChannelPolicies, NetworkConfig, RaftConfig};
use super::ConfigError;
use crate::identity::{Identity, Msp, MspSet, Revocation};
use crate::policy::{Policy, SignaturePolicy, SignerRef};

/// Everything a node needs to serve one channel.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChannelConfig {
    pub channel_id: String,
    /// 0 for the genesis configuration, then +1 per configuration update.
    pub sequence: u64,
    pub organizations: Vec<OrgConfig>,
    pub orderer: OrdererConfig,
    pub policies: ChannelPolicies,
    /// Every ACL resource mapped to a channel policy name (defaults filled in).
    pub acls: BTreeMap<String, String>,
}

/// A member organisation with its trust anchors and policies.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OrgConfig {
    pub msp_id: String,
    pub name: String,
    pub read_only: bool,
    /// CA certificates (roots and intermediates), PEM.
    pub ca_certs: Vec<String>,
    pub revocation: Revocation,
    pub policies: OrgPolicies,
}

/// An organisation's own policies.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OrgPolicies {
    pub readers: SignaturePolicy,
    /// `None` for a read-only organisation: it never satisfies a Writers rule.
    pub writers: Option<SignaturePolicy>,
    pub admins: SignaturePolicy,
    /// `None` for a read-only organisation: it runs no endorsers.
    pub endorsement: Option<SignaturePolicy>,
}

impl OrgPolicies {
    /// Fabric's usual organisation policies: any member reads, clients and admins
    /// write, admins administer, peers endorse. A read-only organisation (an
    /// auditor) neither writes nor endorses.
    pub fn defaults_for(msp_id: &str, read_only: bool) -> OrgPolicies {
        let p = |s: String| {
            s.parse::<SignaturePolicy>()
                .expect("default org policy parses")
        };
        OrgPolicies {
            readers: p(format!("'{msp_id}.member'")),
            writers: (!read_only).then(|| p(format!("OR('{msp_id}.admin', '{msp_id}.client')"))),
            admins: p(format!("'{msp_id}.admin'")),
            endorsement: (!read_only).then(|| p(format!("'{msp_id}.peer'"))),
        }
    }

    /// The policy of that name (`Readers`, `Writers`, `Admins`, `Endorsement`).
    pub fn get(&self, name: &str) -> Option<&SignaturePolicy> {
        match name {
            "Readers" => Some(&self.readers),
            "Writers" => self.writers.as_ref(),
            "Admins" => Some(&self.admins),
            "Endorsement" => self.endorsement.as_ref(),
            _ => None,
        }
    }
}

/// The channel's ordering cluster and block cutting rules.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OrdererConfig {
    pub consenters: Vec<Consenter>,
    pub batch: BatchConfig,
    pub raft: RaftConfig,
}

/// One member of the channel's Raft cluster.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Consenter {
    /// Raft node id, from 1, in the order the consenters are listed.
    pub id: u64,
    pub name: String,
    pub msp_id: String,
    /// `host:port` of its HTTP API.
    pub endpoint: String,
    /// Its orderer certificate, PEM: the only identity allowed to speak for it.
    pub cert: String,
}

/// Certificates read from disk for one organisation.
#[derive(Debug, Clone, Default)]
pub struct OrgMaterial {
    pub ca_certs: Vec<String>,
    pub crls: Vec<String>,
}

/// The certificate files a channel configuration is made from, loaded by the caller.
#[derive(Debug, Clone, Default)]
pub struct Materials {
    /// By MSP id.
    pub orgs: BTreeMap<String, OrgMaterial>,
    /// Orderer certificates by orderer name.
    pub orderer_certs: BTreeMap<String, String>,
}

impl NetworkConfig {
    /// Resolves one channel of the file into the configuration its genesis block
    /// carries, checking every certificate (CAs, CRLs, consenters) on the way.
    pub fn channel_config(
        &self,
        channel: &str,
        materials: &Materials,
        now_unix: i64,
    ) -> Result<ChannelConfig, ConfigError> {
        let ch = self
            .channel(channel)
            .ok_or_else(|| ConfigError::UnknownChannel {
                name: channel.to_string(),
                known: self
                    .channels
                    .iter()
                    .map(|c| c.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
            })?;
        let mut organizations = Vec::new();
        for msp_id in &ch.organizations {
            let def = self
                .organization(msp_id)
                .expect("validated: channel members are defined");
            let mat = materials
                .orgs
                .get(msp_id)
                .ok_or_else(|| ConfigError::Material {
                    place: format!("organization {msp_id}"),
                    reason:
                        "no CA certificates found (run `cellchain crypto generate` or set ca_certs)"
                            .into(),
                })?;
            let mut policies = OrgPolicies::defaults_for(msp_id, def.read_only);
            let o = &def.policies;
            if let Some(p) = &o.readers {
                policies.readers = p.clone();
            }
            if let Some(p) = &o.writers {
                policies.writers = Some(p.clone());
            }
            if let Some(p) = &o.admins {
                policies.admins = p.clone();
            }
            if let Some(p) = &o.endorsement {
                policies.endorsement = Some(p.clone());
            }
            organizations.push(OrgConfig {
                msp_id: msp_id.clone(),
                name: def.name.clone(),
                read_only: def.read_only,
                ca_certs: mat.ca_certs.clone(),
                revocation: Revocation {
                    revoked_serials: def.revocation.revoked_serials.clone(),
                    crls_pem: mat.crls.clone(),
                },
                policies,
            });
        }
        let mut consenters = Vec::new();
        for (i, name) in ch.consenters.iter().enumerate() {
            let o = self
                .orderer(name)
                .expect("validated: consenters are defined");
            let cert = materials
                .orderer_certs
                .get(name)
                .ok_or_else(|| ConfigError::Material {
                    place: format!("orderer {name}"),
                    reason: "no certificate found (run `cellchain crypto generate`)".into(),
                })?;
            consenters.push(Consenter {
                id: i as u64 + 1,
                name: name.clone(),
                msp_id: o.org.clone(),
                endpoint: format!("{}:{}", o.host, o.port),
                cert: cert.clone(),
            });
        }
        let mut acls = default_acls();
        acls.extend(ch.acls.clone());
        let cfg = ChannelConfig {
            channel_id: ch.name.clone(),
            sequence: 0,
            organizations,
            orderer: OrdererConfig {
                consenters,
                batch: ch.batch,
                raft: ch.raft,
            },
            policies: ch.policies.clone(),
            acls,
        };
        cfg.check_material(now_unix)?;
        Ok(cfg)
    }
}

impl ChannelConfig {
    pub fn organization(&self, msp_id: &str) -> Option<&OrgConfig> {
        self.organizations.iter().find(|o| o.msp_id == msp_id)
    }

    pub fn is_member(&self, msp_id: &str) -> bool {
        self.organization(msp_id).is_some()
    }

    /// The channel's organisations as identity validators.
    pub fn msp_set(&self) -> Result<MspSet, ConfigError> {
        let mut msps = Vec::new();
        for o in &self.organizations {
            let msp = Msp::new(&o.msp_id, &o.ca_certs, &o.revocation).map_err(|e| {
                ConfigError::Material {
                    place: format!("organization {}", o.msp_id),
                    reason: e.to_string(),
                }
            })?;
            msps.push(msp);
        }
        MspSet::new(msps).map_err(|e| ConfigError::Material {
            place: format!("channel {}", self.channel_id),
            reason: e.to_string(),
        })
    }

    /// Checks the certificates the configuration carries: every CA and CRL loads,
    /// and every consenter certificate is a valid orderer identity of its
    /// organisation, listed once.
    pub fn check_material(&self, now_unix: i64) -> Result<(), ConfigError> {
        let msps = self.msp_set()?;
        let mut seen = std::collections::BTreeSet::new();
        for c in &self.orderer.consenters {
            let place = format!("channel {} consenter {}", self.channel_id, c.name);
            if !seen.insert(crate::bytes::sha256(c.cert.as_bytes())) {
                return Err(ConfigError::Material {
                    place,
                    reason: "the same certificate is used by two consenters".into(),
                });
            }
            let msp = msps
                .get(&c.msp_id)
                .ok_or_else(|| ConfigError::UnknownOrganization {
                    place: place.clone(),
                    msp_id: c.msp_id.clone(),
                })?;
            let id = msp
                .validate(&c.cert, now_unix)
                .map_err(|e| ConfigError::Material {
                    place: place.clone(),
                    reason: e.to_string(),
                })?;
            if id.role != crate::identity::Role::Orderer {
                return Err(ConfigError::Material {
                    place,
                    reason: format!(
                        "certificate has role {}, an orderer certificate is needed",
                        id.role
                    ),
                });
            }
        }
        Ok(())
    }

    /// Evaluates a channel policy (`Readers`, `Writers`, `Admins`,
    /// `LifecycleEndorsement`, `Endorsement`) over distinct validated signers.
    pub fn evaluate_policy(&self, name: &str, signers: &[Identity]) -> Result<bool, ConfigError> {
        let refs: Vec<SignerRef> = signers
            .iter()
            .map(|i| SignerRef {
                msp_id: &i.msp_id,
                role: i.role,
            })
            .collect();
        self.evaluate_policy_refs(name, &refs)
    }

    /// [`Self::evaluate_policy`] over (organisation, role) pairs, e.g. the
    /// organisations that approved a chaincode definition, each as its peer.
    pub fn evaluate_policy_refs(
        &self,
        name: &str,
        refs: &[SignerRef<'_>],
    ) -> Result<bool, ConfigError> {
        let policy = self
            .policies
            .get(name)
            .ok_or_else(|| ConfigError::UnknownPolicyName {
                place: format!("channel {}", self.channel_id),
                name: name.to_string(),
                known: super::network::CHANNEL_POLICY_NAMES.join(", "),
            })?;
        Ok(match policy {
            Policy::Signature(sp) => sp.evaluate(refs),
            // Only organisations that define the sub-policy take part (Fabric's rule).
            Policy::ImplicitMeta(m) => m.evaluate(
                self.organizations
                    .iter()
                    .map(|o| o.policies.get(&m.sub_policy).map(|p| p.evaluate(refs))),
            ),
        })
    }

    /// Evaluates the policy an ACL resource maps to.
    pub fn check_acl(&self, resource: &str, signers: &[Identity]) -> Result<bool, ConfigError> {
        let name = self
            .acls
            .get(resource)
            .ok_or_else(|| ConfigError::UnknownAclResource {
                channel: self.channel_id.clone(),
                resource: resource.to_string(),
                known: self.acls.keys().cloned().collect::<Vec<_>>().join(", "),
            })?;
        self.evaluate_policy(name, signers)
    }
}
