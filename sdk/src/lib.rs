//! The client SDK (steps 1, 3 and 6 of the flow): builds and signs proposals, gathers
//! endorsements planned from the policy, broadcasts the envelope and waits for its
//! commit status.
//!
//! Not built yet: this crate is a placeholder until the SDK issue.
