//! The consortium's network file (`channel-configs/*.yaml`): organisations with
//! their nodes and users, the orderer nodes, and the channels between them.
//!
//! [`NetworkConfig::from_yaml`] parses and validates the whole file, so a mistake is
//! reported once, up front, with what is wrong and where. Unknown fields are
//! refused: a misspelt setting must not silently fall back to a default.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use super::units::{ByteSize, Millis};
use super::ConfigError;
use crate::identity::Role;
use crate::policy::{Policy, SignaturePolicy};

/// The whole network file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NetworkConfig {
    /// The consortium's name, for humans.
    pub name: String,
    pub organizations: Vec<OrganizationDef>,
    pub orderers: Vec<OrdererDef>,
    pub channels: Vec<ChannelDef>,
}

/// One organisation (an MSP).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OrganizationDef {
    /// The MSP id used in policies, e.g. `HospitalAMSP`.
    pub msp_id: String,
    /// The legal name, written into certificates as O=.
    pub name: String,
    /// A read-only organisation (e.g. a regulator) has no Writers and no
    /// Endorsement policy: it reads the channels it belongs to, never submits
    /// transactions and never endorses.
    #[serde(default)]
    pub read_only: bool,
    /// CA certificate files (PEM), relative to this file. Empty: taken from the
    /// crypto directory made by `cellchain crypto generate`.
    #[serde(default)]
    pub ca_certs: Vec<String>,
    #[serde(default)]
    pub revocation: RevocationDef,
    /// The organisation's peer processes (endorsers and committers).
    #[serde(default)]
    pub nodes: Vec<NodeDef>,
    /// People and applications of the organisation.
    #[serde(default)]
    pub users: Vec<UserDef>,
    /// Overrides of the organisation's default policies.
    #[serde(default)]
    pub policies: OrgPolicyOverrides,
}

/// Revoked certificates of an organisation.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RevocationDef {
    /// Serial numbers in hex.
    #[serde(default)]
    pub revoked_serials: Vec<String>,
    /// X.509 CRL files (PEM) signed by the organisation's CA, relative to this file.
    #[serde(default)]
    pub crls: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum NodeKind {
    Endorser,
    Committer,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NodeDef {
    pub name: String,
    pub kind: NodeKind,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserDef {
    pub name: String,
    /// `client` (the default) or `admin`.
    #[serde(default = "client_role")]
    pub role: Role,
    /// Domain attributes written into the certificate, e.g. `role: QP`.
    #[serde(default)]
    pub attributes: BTreeMap<String, String>,
}

/// Organisation-level signature policies; unset ones take the defaults of
/// [`super::OrgPolicies::defaults_for`].
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OrgPolicyOverrides {
    pub readers: Option<SignaturePolicy>,
    pub writers: Option<SignaturePolicy>,
    pub admins: Option<SignaturePolicy>,
    pub endorsement: Option<SignaturePolicy>,
}

/// An orderer node and the organisation that runs it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OrdererDef {
    pub name: String,
    /// MSP id of the organisation running it.
    pub org: String,
    #[serde(default = "default_host")]
    pub host: String,
    pub port: u16,
}

fn client_role() -> Role {
    Role::Client
}

fn default_host() -> String {
    "127.0.0.1".into()
}

/// A channel: its members, its ordering nodes, and its rules.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChannelDef {
    pub name: String,
    /// MSP ids of the member organisations.
    pub organizations: Vec<String>,
    /// Names of the orderer nodes forming this channel's Raft cluster.
    pub consenters: Vec<String>,
    #[serde(default)]
    pub batch: BatchConfig,
    #[serde(default)]
    pub raft: RaftConfig,
    #[serde(default)]
    pub policies: ChannelPolicies,
    /// Resource name to channel policy name; unset resources take the defaults of
    /// [`default_acls`].
    #[serde(default)]
    pub acls: BTreeMap<String, String>,
}

/// When the orderer cuts a block.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BatchConfig {
    /// Cut when this many envelopes are pending.
    pub max_message_count: u32,
    /// Cut before the block would pass this size (an envelope above it goes alone).
    pub preferred_max_bytes: ByteSize,
    /// Envelopes above this size are refused at admission.
    pub absolute_max_bytes: ByteSize,
    /// Cut this long after the first pending envelope arrived.
    pub batch_timeout: Millis,
}

impl Default for BatchConfig {
    fn default() -> Self {
        // Fabric's defaults.
        BatchConfig {
            max_message_count: 500,
            preferred_max_bytes: ByteSize(2 * 1024 * 1024),
            absolute_max_bytes: ByteSize(10 * 1024 * 1024),
            batch_timeout: Millis(2000),
        }
    }
}

/// Raft timing of the channel's ordering cluster.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RaftConfig {
    /// One Raft tick.
    pub tick_interval: Millis,
    /// Ticks without a leader before a follower starts an election.
    pub election_tick: u32,
    /// Ticks between leader heartbeats.
    pub heartbeat_tick: u32,
    /// Blocks in flight to a follower before the leader waits.
    pub max_inflight_blocks: u32,
    /// Compact the Raft log after this many bytes of blocks.
    pub snapshot_interval_size: ByteSize,
}

impl Default for RaftConfig {
    fn default() -> Self {
        RaftConfig {
            tick_interval: Millis(100),
            election_tick: 10,
            heartbeat_tick: 1,
            max_inflight_blocks: 5,
            snapshot_interval_size: ByteSize(16 * 1024 * 1024),
        }
    }
}

/// Channel-wide policies, each an implicit meta policy over the organisations'
/// policies or a signature policy.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ChannelPolicies {
    pub readers: Policy,
    pub writers: Policy,
    pub admins: Policy,
    /// Who must approve a chaincode definition before it can be committed.
    pub lifecycle_endorsement: Policy,
    /// The endorsement policy of a chaincode that does not name its own.
    pub endorsement: Policy,
}

impl Default for ChannelPolicies {
    fn default() -> Self {
        let p = |s: &str| s.parse::<Policy>().expect("default policies parse");
        ChannelPolicies {
            readers: p("ANY Readers"),
            writers: p("ANY Writers"),
            admins: p("MAJORITY Admins"),
            lifecycle_endorsement: p("MAJORITY Endorsement"),
            endorsement: p("MAJORITY Endorsement"),
        }
    }
}

/// The channel policy names that ACLs and implicit meta policies can refer to.
pub const CHANNEL_POLICY_NAMES: [&str; 5] = [
    "Readers",
    "Writers",
    "Admins",
    "LifecycleEndorsement",
    "Endorsement",
];

/// The organisation-level policy names implicit meta policies aggregate.
pub const ORG_POLICY_NAMES: [&str; 4] = ["Readers", "Writers", "Admins", "Endorsement"];

/// The resources an ACL can govern, with their default channel policy.
pub fn default_acls() -> BTreeMap<String, String> {
    [
        // Endorsers: who may ask for an endorsement, or run a query.
        ("peer/Propose", "Writers"),
        ("peer/Evaluate", "Readers"),
        // Orderers: who may submit envelopes, and read blocks.
        ("orderer/Broadcast", "Writers"),
        ("orderer/Deliver", "Readers"),
        // Committers: validated block feed, chaincode events, ledger queries.
        ("event/Block", "Readers"),
        ("event/Chaincode", "Readers"),
        ("ledger/Query", "Readers"),
        // Chaincode lifecycle.
        ("lifecycle/Approve", "Admins"),
        ("lifecycle/Commit", "Writers"),
        ("lifecycle/Query", "Readers"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}

impl NetworkConfig {
    /// Parses and validates a network file.
    pub fn from_yaml(text: &str) -> Result<NetworkConfig, ConfigError> {
        let cfg: NetworkConfig = serde_yaml::from_str(text).map_err(|e| ConfigError::Yaml {
            reason: e.to_string(),
        })?;
        cfg.validate()?;
        Ok(cfg)
    }

    pub fn organization(&self, msp_id: &str) -> Option<&OrganizationDef> {
        self.organizations.iter().find(|o| o.msp_id == msp_id)
    }

    pub fn orderer(&self, name: &str) -> Option<&OrdererDef> {
        self.orderers.iter().find(|o| o.name == name)
    }

    pub fn channel(&self, name: &str) -> Option<&ChannelDef> {
        self.channels.iter().find(|c| c.name == name)
    }

    /// Checks every rule of the file; the first broken one is returned.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.organizations.is_empty() {
            return Err(ConfigError::Empty {
                what: "organizations",
            });
        }
        let mut msp_ids = BTreeSet::new();
        for org in &self.organizations {
            check_name("msp_id", &org.msp_id, is_msp_char)?;
            if !msp_ids.insert(org.msp_id.as_str()) {
                return Err(ConfigError::Duplicate {
                    what: "organization",
                    name: org.msp_id.clone(),
                });
            }
            let mut names = BTreeSet::new();
            for n in &org.nodes {
                check_name("node name", &n.name, is_node_char)?;
                if !names.insert(n.name.as_str()) {
                    return Err(ConfigError::Duplicate {
                        what: "node",
                        name: format!("{}/{}", org.msp_id, n.name),
                    });
                }
            }
            let mut users = BTreeSet::new();
            for u in &org.users {
                check_name("user name", &u.name, is_node_char)?;
                if !users.insert(u.name.as_str()) {
                    return Err(ConfigError::Duplicate {
                        what: "user",
                        name: format!("{}/{}", org.msp_id, u.name),
                    });
                }
                if !matches!(u.role, Role::Client | Role::Admin) {
                    return Err(ConfigError::BadUserRole {
                        user: format!("{}/{}", org.msp_id, u.name),
                        role: u.role,
                    });
                }
            }
            if org.read_only
                && (org.policies.writers.is_some() || org.policies.endorsement.is_some())
            {
                return Err(ConfigError::ReadOnlyWithWriters {
                    org: org.msp_id.clone(),
                });
            }
            for serial in &org.revocation.revoked_serials {
                if serial.is_empty() || !serial.chars().all(|c| c.is_ascii_hexdigit()) {
                    return Err(ConfigError::BadSerial {
                        org: org.msp_id.clone(),
                        serial: serial.clone(),
                    });
                }
            }
            let own = |m: &str| m == org.msp_id;
            for (which, p) in org.policies.iter() {
                p.check_organizations(own)
                    .map_err(|e| ConfigError::Policy {
                        place: format!("organization {} policy {which}", org.msp_id),
                        reason: e.to_string(),
                    })?;
            }
        }

        let mut orderer_names = BTreeSet::new();
        let mut endpoints = BTreeSet::new();
        for o in &self.orderers {
            check_name("orderer name", &o.name, is_node_char)?;
            if !orderer_names.insert(o.name.as_str()) {
                return Err(ConfigError::Duplicate {
                    what: "orderer",
                    name: o.name.clone(),
                });
            }
            let Some(org) = self.organization(&o.org) else {
                return Err(ConfigError::UnknownOrganization {
                    place: format!("orderer {}", o.name),
                    msp_id: o.org.clone(),
                });
            };
            // Orderers and peer nodes share the organisation's node directory.
            if org.nodes.iter().any(|n| n.name == o.name) {
                return Err(ConfigError::Duplicate {
                    what: "node",
                    name: format!("{}/{}", o.org, o.name),
                });
            }
            let ep = format!("{}:{}", o.host, o.port);
            if !endpoints.insert(ep.clone()) {
                return Err(ConfigError::Duplicate {
                    what: "orderer endpoint",
                    name: ep,
                });
            }
        }

        if self.channels.is_empty() {
            return Err(ConfigError::Empty { what: "channels" });
        }
        let mut channel_names = BTreeSet::new();
        for ch in &self.channels {
            check_channel_name(&ch.name)?;
            if !channel_names.insert(ch.name.as_str()) {
                return Err(ConfigError::Duplicate {
                    what: "channel",
                    name: ch.name.clone(),
                });
            }
            self.validate_channel(ch)?;
        }
        Ok(())
    }

    fn validate_channel(&self, ch: &ChannelDef) -> Result<(), ConfigError> {
        let place = |what: &str| format!("channel {} {what}", ch.name);
        if ch.organizations.is_empty() {
            return Err(ConfigError::Empty {
                what: "channel organizations",
            });
        }
        let mut members = BTreeSet::new();
        for m in &ch.organizations {
            if self.organization(m).is_none() {
                return Err(ConfigError::UnknownOrganization {
                    place: place("organizations"),
                    msp_id: m.clone(),
                });
            }
            if !members.insert(m.as_str()) {
                return Err(ConfigError::Duplicate {
                    what: "channel member",
                    name: format!("{}/{m}", ch.name),
                });
            }
        }
        if ch.consenters.is_empty() {
            return Err(ConfigError::Empty {
                what: "channel consenters",
            });
        }
        let mut seen = BTreeSet::new();
        for c in &ch.consenters {
            let o = self.orderer(c).ok_or_else(|| ConfigError::UnknownOrderer {
                channel: ch.name.clone(),
                name: c.clone(),
            })?;
            if !seen.insert(c.as_str()) {
                return Err(ConfigError::DuplicateConsenter {
                    channel: ch.name.clone(),
                    name: c.clone(),
                });
            }
            // An orderer sees every transaction of the channels it orders: on a private
            // channel it must belong to a member, or the channel is not private.
            if !members.contains(o.org.as_str()) {
                return Err(ConfigError::ConsenterNotMember {
                    channel: ch.name.clone(),
                    orderer: c.clone(),
                    org: o.org.clone(),
                });
            }
        }

        let b = &ch.batch;
        if b.max_message_count == 0 {
            return Err(ConfigError::Batch {
                channel: ch.name.clone(),
                reason: "max_message_count must be at least 1".into(),
            });
        }
        if b.preferred_max_bytes.0 == 0 || b.preferred_max_bytes > b.absolute_max_bytes {
            return Err(ConfigError::Batch {
                channel: ch.name.clone(),
                reason: format!(
                    "preferred_max_bytes ({}) must be above 0 and at most absolute_max_bytes ({})",
                    b.preferred_max_bytes, b.absolute_max_bytes
                ),
            });
        }
        if b.absolute_max_bytes.0 > 100 * 1024 * 1024 {
            return Err(ConfigError::Batch {
                channel: ch.name.clone(),
                reason: "absolute_max_bytes may not exceed 100 MiB".into(),
            });
        }
        if b.batch_timeout.0 == 0 || b.batch_timeout.0 > 60_000 {
            return Err(ConfigError::Batch {
                channel: ch.name.clone(),
                reason: format!(
                    "batch_timeout must be between 1ms and 60s, got {}",
                    b.batch_timeout
                ),
            });
        }

        let r = &ch.raft;
        if r.tick_interval.0 == 0 || r.heartbeat_tick == 0 || r.election_tick <= r.heartbeat_tick {
            return Err(ConfigError::Raft {
                channel: ch.name.clone(),
                reason: format!(
                    "need tick_interval > 0, heartbeat_tick >= 1 and election_tick > heartbeat_tick (got {}, {}, {})",
                    r.tick_interval, r.heartbeat_tick, r.election_tick
                ),
            });
        }
        if r.max_inflight_blocks == 0 {
            return Err(ConfigError::Raft {
                channel: ch.name.clone(),
                reason: "max_inflight_blocks must be at least 1".into(),
            });
        }

        for (which, p) in ch.policies.iter() {
            match p {
                Policy::Signature(sp) => {
                    sp.check_organizations(|m| members.contains(m))
                        .map_err(|e| ConfigError::Policy {
                            place: place(&format!("policy {which}")),
                            reason: e.to_string(),
                        })?
                }
                Policy::ImplicitMeta(m) => {
                    if !ORG_POLICY_NAMES.contains(&m.sub_policy.as_str()) {
                        return Err(ConfigError::Policy {
                            place: place(&format!("policy {which}")),
                            reason: format!(
                                "unknown sub-policy {:?}: expected one of {}",
                                m.sub_policy,
                                ORG_POLICY_NAMES.join(", ")
                            ),
                        });
                    }
                }
            }
        }
        if ch
            .organizations
            .iter()
            .all(|o| self.organization(o).is_some_and(|d| d.read_only))
        {
            return Err(ConfigError::NoWriters {
                channel: ch.name.clone(),
            });
        }
        let known = default_acls();
        for (resource, policy) in &ch.acls {
            if !known.contains_key(resource) {
                return Err(ConfigError::UnknownAclResource {
                    channel: ch.name.clone(),
                    resource: resource.clone(),
                    known: known.keys().cloned().collect::<Vec<_>>().join(", "),
                });
            }
            if !CHANNEL_POLICY_NAMES.contains(&policy.as_str()) {
                return Err(ConfigError::UnknownPolicyName {
                    place: place(&format!("acl {resource}")),
                    name: policy.clone(),
                    known: CHANNEL_POLICY_NAMES.join(", "),
                });
            }
        }
        Ok(())
    }
}

impl OrgPolicyOverrides {
    fn iter(&self) -> impl Iterator<Item = (&'static str, &SignaturePolicy)> {
        [
            ("readers", &self.readers),
            ("writers", &self.writers),
            ("admins", &self.admins),
            ("endorsement", &self.endorsement),
        ]
        .into_iter()
        .filter_map(|(n, p)| p.as_ref().map(|p| (n, p)))
    }
}

impl ChannelPolicies {
    pub fn iter(&self) -> impl Iterator<Item = (&'static str, &Policy)> {
        [
            ("Readers", &self.readers),
            ("Writers", &self.writers),
            ("Admins", &self.admins),
            ("LifecycleEndorsement", &self.lifecycle_endorsement),
            ("Endorsement", &self.endorsement),
        ]
        .into_iter()
    }

    /// The channel policy of that name (see [`CHANNEL_POLICY_NAMES`]).
    pub fn get(&self, name: &str) -> Option<&Policy> {
        self.iter().find(|(n, _)| *n == name).map(|(_, p)| p)
    }
}

fn is_msp_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '.' || c == '-'
}

fn is_node_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '.' || c == '-' || c == '_'
}

fn check_name(what: &'static str, name: &str, ok: fn(char) -> bool) -> Result<(), ConfigError> {
    if name.is_empty() || name.len() > 64 || !name.chars().all(ok) {
        return Err(ConfigError::BadName {
            what,
            name: name.to_string(),
        });
    }
    Ok(())
}

/// Channel names as in Fabric: lower case, starting with a letter, then letters,
/// digits, dots and dashes; under 250 characters.
fn check_channel_name(name: &str) -> Result<(), ConfigError> {
    let ok = name.len() < 250
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '.' || c == '-');
    if !ok {
        return Err(ConfigError::BadName {
            what: "channel name",
            name: name.to_string(),
        });
    }
    Ok(())
}
