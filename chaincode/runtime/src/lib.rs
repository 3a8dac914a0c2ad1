//! The endorser's wasmtime runtime for CellChain chaincode (being written).
