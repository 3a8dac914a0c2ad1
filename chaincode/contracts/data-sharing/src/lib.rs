//! The data-sharing contract (being written).
