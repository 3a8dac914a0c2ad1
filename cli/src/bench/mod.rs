//! `cellchain bench`: the built-in benchmark harness (in the spirit of
//! Hyperledger Caliper).
//!
//! - [`workload`]: the workload file (YAML) and its checks;
//! - [`env`]: the network it runs on, the workers' identities, seeding;
//! - [`runner`]: load generation (workers, rate controller), commit detection
//!   from one validated block feed, the round's measurements;
//! - [`patient`]: the patient-batch happy path workload;
//! - [`procstat`]: CPU and memory of the node processes from /proc;
//! - [`report`]: the terminal table, `--json` and `--html` (inline SVG).

pub mod env;
pub mod patient;
pub mod procstat;
pub mod report;
pub mod runner;
pub mod workload;
