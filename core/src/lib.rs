//! The pure core of CellChain, shared by every node, the SDK and the CLI.
//!
//! In the flow of a transaction this crate supplies the vocabulary and the rules,
//! never the IO: the [`protocol`] types that travel between client, endorser,
//! orderer and committer; the [`crypto`] provider that signs and verifies them;
//! the [`identity`] layer (MSP) that turns an X.509 certificate into an
//! organisation and role; the [`policy`] language that says whose signatures are
//! enough; and the [`config`] of a channel, from which its genesis block is made.
//!
//! Nothing here opens a socket, reads a clock or touches the disk: time and file
//! contents are passed in, so every rule can be tested directly.

pub mod bytes;
pub mod config;
pub mod crypto;
pub mod identity;
pub mod lifecycle;
pub mod merkle;
pub mod policy;
pub mod protocol;
#[cfg(any(test, feature = "test-support"))]
pub mod testing;

pub use bytes::{Bytes, Hash32};
