//! Channel configuration: from the consortium's YAML network file to the
//! self-contained [`ChannelConfig`] carried by each channel's genesis block.
//!
//! [`NetworkConfig`] is what people write (organisations, nodes, users, orderers,
//! channels). [`ChannelConfig`] is what nodes run on: one channel with the CA
//! certificates, revocation lists, consenter certificates and every policy
//! resolved, so a node needs nothing but the genesis block to know the channel.

mod channel;
mod genesis;
mod network;
mod units;

pub use channel::*;
pub use genesis::*;
pub use network::*;
pub use units::{ByteSize, Millis};

use crate::identity::Role;

/// A configuration that cannot be used, with what is wrong and where.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// The file is not valid YAML for the network schema (includes line and column).
    #[error("invalid network file: {reason}")]
    Yaml { reason: String },
    /// A required list is empty.
    #[error("{what} must not be empty")]
    Empty { what: &'static str },
    /// A name uses characters or a length that is not allowed.
    #[error("invalid {what} {name:?}: use 1-64 letters, digits, '.', '-' (and '_' for node and user names); channel names are lower case and start with a letter")]
    BadName { what: &'static str, name: String },
    /// The same name appears twice.
    #[error("duplicate {what} {name:?}")]
    Duplicate { what: &'static str, name: String },
    /// An organisation is referred to but not defined.
    #[error("{place}: unknown organization {msp_id:?} (define it under organizations)")]
    UnknownOrganization { place: String, msp_id: String },
    /// A channel names an orderer that is not defined.
    #[error(
        "channel {channel}: unknown orderer {name:?} in consenters (define it under orderers)"
    )]
    UnknownOrderer { channel: String, name: String },
    /// A channel lists the same consenter twice.
    #[error("channel {channel}: consenter {name:?} is listed twice")]
    DuplicateConsenter { channel: String, name: String },
    /// A consenter's organisation is not a member: it would see the channel's data.
    #[error("channel {channel}: orderer {orderer} belongs to {org}, which is not a member of the channel; an orderer sees every transaction it orders, so use orderers of member organisations")]
    ConsenterNotMember {
        channel: String,
        orderer: String,
        org: String,
    },
    /// A user has a node role.
    #[error("user {user}: role {role} is for nodes; users are client or admin")]
    BadUserRole { user: String, role: Role },
    /// A read-only organisation was given a Writers or Endorsement policy.
    #[error("organization {org} is read_only and cannot have a writers or endorsement policy")]
    ReadOnlyWithWriters { org: String },
    /// Every member of a channel is read-only.
    #[error("channel {channel}: every member is read-only, so nobody could ever write")]
    NoWriters { channel: String },
    /// A revoked serial number is not hex.
    #[error("organization {org}: revoked serial {serial:?} is not a hex number")]
    BadSerial { org: String, serial: String },
    /// Batch settings that cannot work.
    #[error("channel {channel} batch: {reason}")]
    Batch { channel: String, reason: String },
    /// Raft settings that cannot work.
    #[error("channel {channel} raft: {reason}")]
    Raft { channel: String, reason: String },
    /// A policy that is malformed or names an organisation outside its scope.
    #[error("{place}: {reason}")]
    Policy { place: String, reason: String },
    /// An ACL names a resource that does not exist.
    #[error("channel {channel}: unknown ACL resource {resource:?}; known resources: {known}")]
    UnknownAclResource {
        channel: String,
        resource: String,
        known: String,
    },
    /// A reference to a channel policy that does not exist.
    #[error("{place}: unknown policy {name:?}; known policies: {known}")]
    UnknownPolicyName {
        place: String,
        name: String,
        known: String,
    },
    /// The file has no channel of that name.
    #[error("no channel named {name:?}; channels in this file: {known}")]
    UnknownChannel { name: String, known: String },
    /// Certificates or keys for the configuration are missing or invalid.
    #[error("{place}: {reason}")]
    Material { place: String, reason: String },
}

#[cfg(test)]
mod tests;
