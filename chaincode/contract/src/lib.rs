//! The guest API CellChain contracts are written against (being written).
