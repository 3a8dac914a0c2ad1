//! What the node binaries (`orderer`, `committer`, `endorser`) share, so that
//! they start, read their configuration, answer errors and stream blocks alike:
//!
//! - [`process`]: logging, the runtime, binding the listen address, and a clean
//!   stop on SIGINT or SIGTERM;
//! - [`config`]: reading a node's YAML file with relative paths;
//! - [`http`]: the JSON error answer and the NDJSON stream of blocks that the
//!   orderer's deliver and the committer's validated block feed serve.

pub mod config;
pub mod http;
pub mod process;
