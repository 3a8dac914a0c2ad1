//! A starting CellChain contract with its tests (being written).
