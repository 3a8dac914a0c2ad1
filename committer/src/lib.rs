//! The committer (step 5 of the flow): pulls blocks from the orderers, validates each
//! transaction (signatures, endorsement policy, MVCC, phantoms, duplicates) and
//! commits valid writes atomically with the block.
//!
//! Not built yet: this crate is a placeholder until the endorser/committer issue.
