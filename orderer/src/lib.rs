//! The ordering service (step 4 of the flow): admits signed envelopes, orders them
//! through one Raft group per channel (raft-rs) and cuts them into signed blocks.
//!
//! Not built yet: this crate is a placeholder until the orderer issue.
