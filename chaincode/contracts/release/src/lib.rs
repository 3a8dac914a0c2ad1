//! The release contract (being written).
