//! Test contract that imports a clock it cannot have: `env::now`. The runtime
//! must refuse the module at install (an import outside module `cellchain`),
//! because a clock would make endorsers disagree. Contracts use the proposal's
//! timestamp (`Context::timestamp`) instead.

use cellchain_contract::{contract, Context, ContractError};

#[cfg(target_arch = "wasm32")]
mod clock {
    #[link(wasm_import_module = "env")]
    extern "C" {
        /// Not provided by any CellChain host.
        pub fn now() -> i64;
    }
}

pub struct WantsTime;

#[contract]
impl WantsTime {
    /// The host's clock, in seconds (never runs: the module is refused).
    #[transaction]
    pub fn now(_ctx: &mut Context) -> Result<i64, ContractError> {
        #[cfg(target_arch = "wasm32")]
        {
            // SAFETY: a plain import without arguments; the module is refused
            // before it could ever be called.
            Ok(unsafe { clock::now() })
        }
        #[cfg(not(target_arch = "wasm32"))]
        Err(ContractError::new(
            "there is no clock in chaincode: use the proposal timestamp (Context::timestamp)",
        ))
    }
}

#[cfg(test)]
mod tests {
    use cellchain_chaincode_harness::NativeHarness;
    use serde_json::json;

    use super::*;

    #[test]
    fn natively_there_is_no_clock_either() {
        let mut h = NativeHarness::new();
        h.deploy::<WantsTime>("wants-time");
        h.submit("wants-time", "now", json!([]))
            .assert_error(400, "there is no clock");
    }
}
