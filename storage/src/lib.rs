//! Durable storage for CellChain nodes (in the flow: where the orderer keeps its
//! block store and the committer its ledger of record and world state).
//!
//! Not built yet: append-only, fsynced block files and the sled-backed world state,
//! history and tx-id index arrive with the orderer and committer issues. The crate
//! exists now so the workspace has its final shape.
