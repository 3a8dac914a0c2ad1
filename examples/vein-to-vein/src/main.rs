//! The vein-to-vein story on an in-memory channel: the three therapy
//! contracts built to .wasm and run in the endorser's real wasmtime runtime
//! (see the library's documentation, and `cellchain demo` for the same story
//! over a running network). Any unexpected answer stops it with exit code 1.
//!
//! cargo run -p vein-to-vein-example --release

use std::process::ExitCode;

use vein_to_vein_example::wasm::WasmLedger;
use vein_to_vein_example::{run, RunIds};

fn main() -> ExitCode {
    let mut ledger = WasmLedger::new();
    match run(&mut ledger, &RunIds::fixed()) {
        Ok(()) => {
            println!(
                "\nThe story ran as expected: {} blocks committed.",
                ledger.blocks()
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("\nUNEXPECTED at {e}");
            ExitCode::from(1)
        }
    }
}
