//! The #[contract] and #[transaction] attribute macros of cellchain-contract (being written).
