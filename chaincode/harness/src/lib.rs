//! Test harness for CellChain contracts: natively and through the real wasm runtime (being written).
