//! The patient-batch contract (being written).
