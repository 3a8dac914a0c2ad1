//! The endorser (step 2 of the flow): checks a signed proposal, runs the chaincode
//! in wasmtime against its state replica and returns a signed read/write set.
//!
//! Not built yet: this crate is a placeholder until the endorser/committer issue.
