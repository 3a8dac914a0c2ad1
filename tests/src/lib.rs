//! End-to-end tests of CellChain: real `orderer`, `committer` and `endorser`
//! processes on loopback ports, driven as a client would drive them. The tests
//! are in `tests/`; the topology helpers are shared with the committer's tests.
