//! Test contract that misbehaves: loops, grows memory, writes huge values,
//! traps, panics, exhausts the call stack and answers with a huge response. The
//! wasm runtime's tests use it to show that fuel, memory and size limits stop
//! a contract and that the endorser survives it.
//!
//! Natively (in the harness) the functions that would hang or exhaust the test
//! process (`spin`, `grow`, `deep`) panic with an explanation instead; the
//! others behave as on wasm.

use std::hint::black_box;

use cellchain_contract::{contract, Context, ContractError};

/// The message `panic_message` panics with.
pub const PANIC_MESSAGE: &str = "the batch record is inconsistent";
/// Size of the value `huge_value` writes: twice the host's default limit.
pub const HUGE_VALUE_BYTES: usize = 2 * 1024 * 1024;
/// Size of the response `big_response` returns: four times the runtime's
/// default response cap, and small enough that encoding it as JSON (about 15
/// fuel per byte) fits the default fuel limit, so the cap and not the fuel is
/// what stops it. (10 MiB would run out of fuel first.)
pub const BIG_RESPONSE_BYTES: usize = 4 * 1024 * 1024;

type Result<T> = std::result::Result<T, ContractError>;

pub struct Hostile;

#[contract]
impl Hostile {
    /// Well behaved: proves the module runs at all.
    #[transaction(evaluate)]
    pub fn ping(_ctx: &Context) -> Result<String> {
        Ok("pong".into())
    }

    /// Loops forever; only fuel (or the wall-clock backstop) stops it.
    #[transaction]
    pub fn spin(_ctx: &mut Context) -> Result<u64> {
        if cfg!(target_arch = "wasm32") {
            let mut counter = 0u64;
            loop {
                // black_box keeps the optimiser from proving the loop useless.
                counter = black_box(counter.wrapping_add(1));
            }
        }
        native_refusal("spin")
    }

    /// Allocates 1 MiB blocks and keeps them until allocation fails (the
    /// memory limit: `memory.grow` fails and the allocator aborts).
    #[transaction]
    pub fn grow(_ctx: &mut Context) -> Result<usize> {
        if cfg!(target_arch = "wasm32") {
            let mut kept: Vec<Vec<u8>> = Vec::new();
            loop {
                let mut block = vec![1u8; 1024 * 1024];
                black_box(&mut block);
                kept.push(block);
                black_box(&kept);
            }
        }
        native_refusal("grow")
    }

    /// Writes a value of 2 MiB: above the host's value limit.
    #[transaction]
    pub fn huge_value(ctx: &mut Context) -> Result<()> {
        ctx.put_state("huge", &vec![b'x'; HUGE_VALUE_BYTES])
    }

    /// Executes `unreachable` (a trap without a message).
    #[transaction]
    pub fn trap(_ctx: &mut Context) -> Result<()> {
        #[cfg(target_arch = "wasm32")]
        core::arch::wasm32::unreachable();
        #[cfg(not(target_arch = "wasm32"))]
        panic!("trap: unreachable executed")
    }

    /// Panics with [`PANIC_MESSAGE`], which must reach the client.
    #[transaction]
    pub fn panic_message(_ctx: &mut Context) -> Result<()> {
        panic!("{}", black_box(PANIC_MESSAGE))
    }

    /// Recurses without bound until the wasm call stack is exhausted (frames
    /// are small, so the host's stack limit is hit before the 1 MiB shadow
    /// stack in linear memory runs out).
    #[transaction]
    pub fn deep(_ctx: &mut Context) -> Result<u64> {
        if cfg!(target_arch = "wasm32") {
            return Ok(recurse(0));
        }
        native_refusal("deep")
    }

    /// Returns a string of [`BIG_RESPONSE_BYTES`] (4 MiB).
    #[transaction(evaluate)]
    pub fn big_response(_ctx: &Context) -> Result<String> {
        Ok("x".repeat(black_box(BIG_RESPONSE_BYTES)))
    }

    /// Returns a string of `bytes` bytes (for tests of response caps and of
    /// the fuel charged per byte crossing the boundary).
    #[transaction(evaluate)]
    pub fn sized_response(_ctx: &Context, bytes: usize) -> Result<String> {
        Ok("x".repeat(bytes))
    }
}

/// One call per level that the optimiser cannot remove, with a stop condition
/// it cannot evaluate (so the recursion is real and rustc does not reject it
/// as unconditional).
#[inline(never)]
fn recurse(depth: u64) -> u64 {
    if black_box(depth) == u64::MAX {
        return 0;
    }
    // Not a tail call, and opaque, so it cannot become a loop.
    black_box(recurse(depth + 1)).wrapping_add(1)
}

fn native_refusal<T>(function: &str) -> Result<T> {
    panic!(
        "{function} is only hostile on wasm, where fuel and memory limits stop it; \
         natively it would hang or exhaust the test process"
    )
}

#[cfg(test)]
mod tests {
    use cellchain_chaincode_harness::NativeHarness;
    use serde_json::json;

    use super::*;

    fn setup() -> NativeHarness {
        let mut h = NativeHarness::new();
        h.deploy::<Hostile>("hostile");
        h
    }

    #[test]
    fn ping_answers() {
        assert_eq!(
            setup()
                .evaluate("hostile", "ping", json!([]))
                .json::<String>(),
            "pong"
        );
    }

    #[test]
    fn a_panic_is_a_500_with_its_message_and_commits_nothing() {
        let mut h = setup();
        h.submit("hostile", "panic_message", json!([]))
            .assert_error(500, PANIC_MESSAGE);
        h.submit("hostile", "trap", json!([]))
            .assert_error(500, "unreachable");
        assert_eq!(h.height(), 0);
    }

    #[test]
    fn a_huge_value_is_refused_by_the_host() {
        let out = setup().submit("hostile", "huge_value", json!([]));
        out.assert_error(
            500,
            "value of 2097152 bytes for key \"huge\" exceeds the limit of 1048576 bytes",
        );
        assert!(out.rwset.is_read_only());
    }

    #[test]
    fn a_big_response_is_returned_whole_natively() {
        let mut h = setup();
        let out = h.evaluate("hostile", "big_response", json!([]));
        // The JSON string: the text and its two quotes.
        assert_eq!(out.payload().len(), BIG_RESPONSE_BYTES + 2);
        let out = h.evaluate("hostile", "sized_response", json!([5]));
        assert_eq!(out.payload(), b"\"xxxxx\"");
    }

    #[test]
    fn functions_that_would_hang_refuse_to_run_natively() {
        let mut h = setup();
        for f in ["spin", "grow", "deep"] {
            h.submit("hostile", f, json!([]))
                .assert_error(500, "only hostile on wasm");
        }
    }
}
