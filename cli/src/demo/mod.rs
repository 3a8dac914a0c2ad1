//! `cellchain demo`: the vein-to-vein story (examples/vein-to-vein) over the
//! local network of `cellchain network up`.
//!
//! - [`people`]: the story's people as the network's users;
//! - [`ledger`]: the story's `Ledger` over the client SDK.

pub mod ledger;
pub mod people;
