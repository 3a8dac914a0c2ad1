//! Vein-to-vein scenarios of the three therapy contracts on one channel:
//! patient-batch (chain of identity and custody), release (QC and QP
//! certification) and data-sharing (consent-gated data use), deployed
//! together and driven by the organisations of
//! `channel-configs/atmp-network.yaml`.
//!
//! This crate has no code. Its tests (`tests/vein_to_vein.rs`) run each
//! story natively and as the built `.wasm` in the endorser's runtime
//! (`cargo test -p therapy-scenarios`); its bench (`benches/endorsement.rs`)
//! measures the endorsement cost of each contract's most frequent operation
//! (`cargo bench -p therapy-scenarios -- --measurement-time 3 --warm-up-time 1`).
