//! Errors of the runtime: one variant per rule, each saying what to do.

use cellchain_core::bytes::Bytes;
use cellchain_core::protocol::ChaincodeResponse;
use cellchain_simulator::{SimError, StateError};

/// The runtime itself could not be set up.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RuntimeError {
    /// A configuration value the engine cannot honour.
    #[error("invalid chaincode runtime configuration: {reason}")]
    Config { reason: String },
    /// wasmtime refused the engine configuration.
    #[error("could not create the wasm engine: {reason}")]
    Engine { reason: String },
    /// The module cache directory cannot be created or used.
    #[error("module cache directory {path}: {reason} (check that it exists and is writable)")]
    CacheDir { path: String, reason: String },
    /// The epoch ticker thread could not be started.
    #[error("could not start the epoch ticker thread: {reason}")]
    Ticker { reason: String },
}

/// Why a module was refused at install time. Nothing of it runs.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InstallError {
    /// The module is bigger than the install cap.
    #[error("the module has {size} bytes, more than the limit of {max}: build it with `cellchain chaincode build` (optimised, stripped) or raise max_module_bytes")]
    TooLarge { size: usize, max: usize },
    /// Not a valid wasm module for this runtime (includes disabled features
    /// such as SIMD, threads or multiple memories).
    #[error("not a valid chaincode module: {reason} (build for wasm32-unknown-unknown with `cellchain chaincode build`; SIMD, threads, memory64 and GC are not allowed)")]
    Invalid { reason: String },
    /// A `start` function would run code at instantiation, outside any fuel
    /// accounting of an invocation.
    #[error("the module has a start function: chaincode may run code only from cellchain_invoke")]
    StartFunction,
    /// An import of something other than a function.
    #[error("the module imports the {kind} {module}::{name}: a chaincode defines its own memory and tables and imports only functions of module `cellchain`")]
    NonFunctionImport {
        module: String,
        name: String,
        kind: String,
    },
    /// An import the host does not provide (e.g. a clock or WASI).
    #[error("the module imports {module}::{name}, which the host does not provide: chaincode may import only the `cellchain` functions of ABI.md (no clock, randomness, WASI or JS glue)")]
    UnknownImport { module: String, name: String },
    /// A known import with the wrong signature.
    #[error("the import cellchain::{name} has signature {found}, ABI.md says {expected}: rebuild with the current cellchain-contract")]
    WrongImportSignature {
        name: String,
        expected: String,
        found: String,
    },
    /// Zero or several memories (imported or defined).
    #[error("the module has {count} memories; a chaincode has exactly one, defined by itself and exported as `memory`")]
    NotOneMemory { count: usize },
    /// The initial memory is above the runtime's memory limit.
    #[error("the module's initial memory of {initial_bytes} bytes is above the memory limit of {max} bytes: reduce static data or the stack size")]
    MemoryTooLarge { initial_bytes: u64, max: u64 },
    /// A required export is missing (`memory`, `cellchain_abi_v1`, `cellchain_invoke`).
    #[error("the module does not export `{name}`: a chaincode exports memory, cellchain_abi_v1 and cellchain_invoke (use the cellchain-contract entry-point macro)")]
    MissingExport { name: String },
    /// A required export has the wrong kind or type.
    #[error("the export `{name}` is {found}, ABI.md says {expected}")]
    WrongExportType {
        name: String,
        expected: String,
        found: String,
    },
    /// The module speaks another ABI version.
    #[error("the module exports `{marker}`: this runtime speaks only ABI version 1 (cellchain_abi_v1); use a matching endorser or rebuild the contract")]
    UnsupportedAbi { marker: String },
    /// More defined functions than allowed.
    #[error("the module defines {count} functions, more than the limit of {max}")]
    TooManyFunctions { count: u64, max: u64 },
    /// A function with too many parameters and locals.
    #[error("function {function} has {count} locals (parameters included), more than the limit of {max}")]
    TooManyLocals { function: u32, count: u64, max: u64 },
    /// More tables than allowed.
    #[error("the module has {count} tables, more than the limit of {max}")]
    TooManyTables { count: u64, max: u64 },
    /// A table whose initial size is above the cap.
    #[error("a table starts with {initial} elements, more than the limit of {max}")]
    TableTooLarge { initial: u64, max: u64 },
    /// More globals than allowed.
    #[error("the module has {count} globals, more than the limit of {max}")]
    TooManyGlobals { count: u64, max: u64 },
    /// Cranelift failed on a module that passed validation.
    #[error("compiling the module failed: {reason}")]
    Compile { reason: String },
    /// The host functions could not be linked (a runtime bug: validation
    /// checked the imports).
    #[error("linking the host functions failed: {reason}")]
    Link { reason: String },
    /// The trial instantiation failed (e.g. data segments out of bounds, an
    /// instance too big for the pool).
    #[error("instantiating the module failed: {reason}")]
    Instantiate { reason: String },
}

/// Why an invocation failed. Each one is a failed simulation: the endorser
/// answers with [`InvokeError::to_response`] and keeps serving.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvokeError {
    /// The deterministic work limit: every endorser stops at the same point.
    #[error("the contract ran out of fuel (limit {limit}): it does too much work for one transaction; split the work or raise the fuel limit on every endorser")]
    OutOfFuel { limit: u64 },
    /// The contract tried to grow its memory beyond the limit.
    #[error("the contract tried to grow its memory beyond the limit of {limit} bytes: it keeps too much data in memory")]
    MemoryLimit { limit: u64 },
    /// The wall-clock backstop fired before the fuel limit (an overloaded
    /// endorser, or a fuel limit set too high). Not deterministic.
    #[error("the contract ran longer than the wall-clock backstop of {millis} ms; retry, and if it persists lower the fuel limit")]
    Timeout { millis: u64 },
    /// The contract panicked (its panic hook reported the message).
    #[error("the contract panicked: {message}")]
    Panic { message: String },
    /// A wasm trap (unreachable, division by zero, out-of-bounds access,
    /// stack overflow...).
    #[error("the contract trapped: {message}")]
    Trap { message: String },
    /// The module broke a rule of ABI.md (pointer out of bounds, invalid UTF-8,
    /// take_result with nothing pending, bad return value...).
    #[error("ABI violation: {reason} (the contract does not follow chaincode/ABI.md; rebuild it with the current cellchain-contract)")]
    AbiViolation { reason: String },
    /// A state access the simulator refused: a size limit (key, value, write
    /// set, events), an empty key or name, a malformed key-level policy.
    #[error("the contract exceeded a transaction limit: {0}")]
    Limit(SimError),
    /// The endorser's state store failed: not the contract's fault.
    #[error("the endorser's state store failed during simulation: {0}")]
    State(StateError),
    /// An argument of a host call above the runtime's cap (names, policy
    /// text, hashed data).
    #[error("the contract passed a {what} of {size} bytes, more than the limit of {max} bytes")]
    ArgumentTooLarge { what: String, size: u64, max: u64 },
    /// The invocation's input (JSON plus transient values) is too big.
    #[error("the invocation input has {size} bytes, more than the limit of {max}: send smaller arguments or transient data")]
    InputTooLarge { size: u64, max: u64 },
    /// A host result (a range page) too big to hand to the contract.
    #[error("a host call result of {size} bytes exceeds the limit of {max} bytes: pass a smaller range limit")]
    ResultTooLarge { size: u64, max: u64 },
    /// The contract returned without calling `set_response`.
    #[error("the contract returned without calling set_response (ABI violation: every invocation must set a response)")]
    NoResponse,
    /// The response payload is above the cap.
    #[error("the contract's response of {size} bytes exceeds the limit of {max} bytes: return less data (or a key to read it from)")]
    ResponseTooLarge { size: u64, max: u64 },
    /// No instance could be created (the pool is full: too many concurrent
    /// invocations).
    #[error("could not instantiate the chaincode: {reason}")]
    Instantiate { reason: String },
}

impl InvokeError {
    /// The chaincode response an endorser returns for this failure: status 500
    /// (an execution failure, not a domain error) with the message.
    pub fn to_response(&self) -> ChaincodeResponse {
        ChaincodeResponse {
            status: 500,
            message: self.to_string(),
            payload: Bytes::default(),
        }
    }

    /// Whether the same invocation on the same state would fail the same way
    /// on every endorser (everything but the wall-clock backstop, the pool and
    /// the state store).
    pub fn is_deterministic(&self) -> bool {
        !matches!(
            self,
            InvokeError::Timeout { .. } | InvokeError::Instantiate { .. } | InvokeError::State(_)
        )
    }
}

impl From<SimError> for InvokeError {
    fn from(e: SimError) -> Self {
        match e {
            SimError::State(s) => InvokeError::State(s),
            other => InvokeError::Limit(other),
        }
    }
}
