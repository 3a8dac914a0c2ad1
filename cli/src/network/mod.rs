//! The one-command local network behind `cellchain network up|down|status`.
//!
//! `up` turns a topology file (the network file of `cellchain crypto generate`
//! and `cellchain channel genesis`, by default
//! `channel-configs/atmp-network.yaml`) into running processes: every orderer of
//! the topology on its own port (the consenters' endpoints are baked into the
//! genesis blocks), and a committer and endorser process for every node an
//! organisation lists, on loopback ports chosen once and remembered. Once every
//! node is healthy it deploys the contracts through the chaincode lifecycle
//! ([`deploy`]): install, approve by every writing organisation, commit.
//!
//! # The layout of DIR (default `.cellchain`)
//!
//! ```text
//! DIR/network.json                   the state: topology, contracts, every node
//!                                    with its kind, organisation, port and home
//! DIR/crypto/<MSPID>/...             CAs and identities (cellchain crypto generate)
//! DIR/<channel>.block                genesis block of each channel
//! DIR/chaincode/<name>.package.json the built contracts' packages (installed on
//!                                    every endorser through the lifecycle)
//! DIR/connection.yaml                connection profile for the SDK: endorsers,
//!                                    committers and orderers per organisation
//! DIR/<orderer>/orderer.yaml         an orderer's config, with
//! DIR/<orderer>/data/                its Raft log and blocks,
//! DIR/<orderer>/orderer.log          its stdout and stderr,
//! DIR/<orderer>/orderer.pid          and its process id while it runs
//! DIR/<MSPID>/<node>/committer.yaml  likewise for a committer (committer.log,
//! DIR/<MSPID>/<node>/endorser.yaml   committer.pid, data/) and an endorser
//! ```
//!
//! Configs are rewritten by every `up` from the topology and the state (paths in
//! them are relative, so DIR can be moved while the network is down). Data
//! directories are never removed: `down` then `up` resumes the same ledgers.
//!
//! # Modules
//!
//! - [`state`]: the nodes of a topology and `network.json`;
//! - [`contracts`]: building and packaging the contracts, and their policies;
//! - [`deploy`]: install, approve, commit through the lifecycle (SDK);
//! - [`configs`]: the node config files and the connection profile;
//! - [`process`]: starting detached nodes, pid files, signals;
//! - [`http`]: a small blocking HTTP/1.1 GET client;
//! - [`probe`]: a node's health and per-channel status.

pub mod configs;
pub mod contracts;
pub mod deploy;
pub mod http;
pub mod probe;
pub mod process;
pub mod state;
