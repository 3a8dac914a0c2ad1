//! The runtime's limits, with the defaults of ABI.md's "Limits" section.

use cellchain_simulator::Limits;
use serde::{Deserialize, Serialize};

use crate::error::RuntimeError;

/// One wasm page: memory limits must be a whole number of them.
pub const WASM_PAGE: u64 = 64 * 1024;

/// Everything that bounds a chaincode, at install time and per invocation.
///
/// Endorsers of one channel must use the same values for `fuel`, the memory
/// limit, the simulator `limits` and the host-call caps: they decide whether a
/// transaction succeeds, and endorsers must agree. `wall_clock_ms` is only a
/// backstop against a stuck endorser and may differ.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RuntimeConfig {
    /// Fuel per invocation (about one unit per wasm instruction, plus the host
    /// call charges of ABI.md). The deterministic limit on work.
    pub fuel: u64,
    /// Linear memory limit per instance, in bytes (a multiple of 64 KiB).
    pub memory_bytes: u64,
    /// Wall-clock backstop per invocation (epoch interruption).
    pub wall_clock_ms: u64,
    /// Period of the epoch ticker: the backstop's resolution.
    pub epoch_tick_ms: u64,
    /// Native stack wasm code may use; deeper recursion traps (stack overflow).
    pub max_wasm_stack_bytes: usize,
    /// Instances that may run at once (sizes the pooling allocator; an
    /// invocation beyond it fails with `Instantiate`).
    pub max_concurrent_instances: u32,

    /// Install-time caps on the module.
    pub max_module_bytes: usize,
    pub max_functions: u32,
    /// Parameters plus declared locals of one function.
    pub max_locals: u32,
    pub max_globals: u32,
    pub max_tables: u32,
    /// Initial and grown size of a table, in elements.
    pub max_table_elements: u32,

    /// Per-transaction limits the simulator enforces (keys, values, write set,
    /// range results, events).
    pub limits: Limits,
    /// The input JSON plus the transient values.
    pub max_input_bytes: usize,
    /// The payload (or error message) passed to `set_response`.
    pub max_response_bytes: usize,
    /// One pending result (a range page is the only result that can exceed a
    /// value: 1000 entries of 1 MiB would not fit a 64 MiB memory anyway).
    pub max_result_bytes: usize,
    /// Namespace, collection and event names.
    pub max_name_bytes: usize,
    /// Key-level endorsement policy text.
    pub max_policy_bytes: usize,
    /// Data hashed by `sha256` or verified by `verify_p256` in one call.
    pub max_hash_input_bytes: usize,
    /// The panic message kept from `panic_message`.
    pub max_panic_message_bytes: usize,
    /// Log lines kept per invocation (later lines are counted, not kept).
    pub max_log_lines: usize,
}

impl Default for RuntimeConfig {
    fn default() -> Self {
        RuntimeConfig {
            fuel: 100_000_000,
            memory_bytes: 64 * 1024 * 1024,
            wall_clock_ms: 2_000,
            epoch_tick_ms: 10,
            max_wasm_stack_bytes: 512 * 1024,
            max_concurrent_instances: 1_000,
            max_module_bytes: 8 * 1024 * 1024,
            max_functions: 20_000,
            max_locals: 50_000,
            max_globals: 1_000,
            max_tables: 1,
            max_table_elements: 20_000,
            limits: Limits::default(),
            max_input_bytes: 1024 * 1024,
            max_response_bytes: 1024 * 1024,
            max_result_bytes: 16 * 1024 * 1024,
            max_name_bytes: 1024,
            max_policy_bytes: 4 * 1024,
            max_hash_input_bytes: 4 * 1024 * 1024,
            max_panic_message_bytes: 4 * 1024,
            max_log_lines: 256,
        }
    }
}

impl RuntimeConfig {
    /// Refuses settings the engine cannot honour, naming the field.
    pub fn check(&self) -> Result<(), RuntimeError> {
        let bad = |field: &str, reason: String| {
            Err(RuntimeError::Config {
                reason: format!("{field}: {reason}"),
            })
        };
        if self.memory_bytes == 0 || self.memory_bytes % WASM_PAGE != 0 {
            return bad(
                "memory_bytes",
                format!(
                    "must be a positive multiple of 64 KiB, got {}",
                    self.memory_bytes
                ),
            );
        }
        if self.memory_bytes > 4 * 1024 * 1024 * 1024 {
            return bad("memory_bytes", "wasm32 memories hold at most 4 GiB".into());
        }
        if self.fuel == 0 {
            return bad("fuel", "must be positive".into());
        }
        if self.epoch_tick_ms == 0 || self.wall_clock_ms == 0 {
            return bad(
                "wall_clock_ms/epoch_tick_ms",
                "must both be positive".into(),
            );
        }
        if self.max_concurrent_instances == 0 {
            return bad("max_concurrent_instances", "must be positive".into());
        }
        if self.max_tables > 1 {
            // The pooling allocator is sized for one table per instance, which
            // is all rustc emits.
            return bad("max_tables", "at most 1 is supported".into());
        }
        Ok(())
    }

    /// Epoch ticks until the backstop fires: at least `wall_clock_ms`, at most
    /// one tick more.
    pub(crate) fn epoch_deadline_ticks(&self) -> u64 {
        self.wall_clock_ms.div_ceil(self.epoch_tick_ms) + 1
    }
}
