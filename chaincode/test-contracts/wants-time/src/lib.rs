//! Test contract that imports a clock it cannot have (refused at install) (being written).
