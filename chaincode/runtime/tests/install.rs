//! Install-time validation: each rule refuses a module with its own error.

mod common;

use cellchain_chaincode_runtime::{InstallError, RuntimeConfig};
use common::*;

fn refuse(wasm: &[u8]) -> InstallError {
    match runtime().install(wasm) {
        Ok(_) => panic!("the module was accepted"),
        Err(e) => e,
    }
}

fn refuse_with(config: RuntimeConfig, wasm: &[u8]) -> InstallError {
    match runtime_with(config).install(wasm) {
        Ok(_) => panic!("the module was accepted"),
        Err(e) => e,
    }
}

/// A module from its parts: `imports`, `memory` (declaration or empty),
/// `exports_and_funcs`.
fn module(imports: &str, memory: &str, rest: &str) -> Vec<u8> {
    wat::parse_str(format!("(module {imports} {memory} {rest})")).expect("valid WAT")
}

const MEMORY: &str = r#"(memory (export "memory") 1)"#;
const ENTRY: &str = r#"
  (func (export "cellchain_abi_v1"))
  (func (export "cellchain_invoke") (result i32) (i32.const 0))"#;

#[test]
fn module_with_every_abi_import_is_accepted() {
    // Also checks that the validator's signature table and the linker agree:
    // install instantiates the module once.
    runtime().install(&contract("", OK)).unwrap();
}

#[test]
fn minimal_module_is_accepted() {
    runtime().install(&module("", MEMORY, ENTRY)).unwrap();
}

#[test]
fn unknown_import_is_refused() {
    let e = refuse(&module(
        r#"(import "env" "now" (func (result i64)))"#,
        MEMORY,
        ENTRY,
    ));
    assert_eq!(
        e,
        InstallError::UnknownImport {
            module: "env".into(),
            name: "now".into()
        }
    );
    assert!(e.to_string().contains("no clock"), "{e}");
}

#[test]
fn unknown_name_in_the_cellchain_module_is_refused() {
    assert_eq!(
        refuse(&module(
            r#"(import "cellchain" "random" (func (result i64)))"#,
            MEMORY,
            ENTRY
        )),
        InstallError::UnknownImport {
            module: "cellchain".into(),
            name: "random".into()
        }
    );
}

#[test]
fn wrong_import_signature_is_refused() {
    assert_eq!(
        refuse(&module(
            r#"(import "cellchain" "get_state" (func (param i32 i32) (result i32)))"#,
            MEMORY,
            ENTRY
        )),
        InstallError::WrongImportSignature {
            name: "get_state".into(),
            expected: "(i32, i32) -> (i64)".into(),
            found: "(i32, i32) -> (i32)".into()
        }
    );
}

#[test]
fn imported_memory_is_refused() {
    assert_eq!(
        refuse(&module(
            r#"(import "env" "memory" (memory 1))"#,
            "",
            r#"(export "memory" (memory 0)) (func (export "cellchain_abi_v1"))
               (func (export "cellchain_invoke") (result i32) (i32.const 0))"#
        )),
        InstallError::NonFunctionImport {
            module: "env".into(),
            name: "memory".into(),
            kind: "memory".into()
        }
    );
}

#[test]
fn imported_global_is_refused() {
    assert!(matches!(
        refuse(&module(r#"(import "env" "g" (global i32))"#, MEMORY, ENTRY)),
        InstallError::NonFunctionImport { kind, .. } if kind == "global"
    ));
}

#[test]
fn two_memories_are_refused() {
    assert_eq!(
        refuse(&module(
            "",
            r#"(memory (export "memory") 1) (memory 1)"#,
            ENTRY
        )),
        InstallError::NotOneMemory { count: 2 }
    );
}

#[test]
fn no_memory_is_refused() {
    assert_eq!(
        refuse(&module("", "", ENTRY)),
        InstallError::NotOneMemory { count: 0 }
    );
}

#[test]
fn memory_not_exported_is_refused() {
    assert_eq!(
        refuse(&module("", "(memory 1)", ENTRY)),
        InstallError::MissingExport {
            name: "memory".into()
        }
    );
}

#[test]
fn initial_memory_above_the_limit_is_refused() {
    assert_eq!(
        refuse(&module("", r#"(memory (export "memory") 1025)"#, ENTRY)),
        InstallError::MemoryTooLarge {
            initial_bytes: 1025 * 65536,
            max: 64 * 1024 * 1024
        }
    );
}

#[test]
fn missing_abi_marker_is_refused() {
    assert_eq!(
        refuse(&module(
            "",
            MEMORY,
            r#"(func (export "cellchain_invoke") (result i32) (i32.const 0))"#
        )),
        InstallError::MissingExport {
            name: "cellchain_abi_v1".into()
        }
    );
}

#[test]
fn another_abi_version_is_refused() {
    assert_eq!(
        refuse(&module(
            "",
            MEMORY,
            r#"(func (export "cellchain_abi_v2"))
               (func (export "cellchain_invoke") (result i32) (i32.const 0))"#
        )),
        InstallError::UnsupportedAbi {
            marker: "cellchain_abi_v2".into()
        }
    );
}

#[test]
fn missing_invoke_export_is_refused() {
    assert_eq!(
        refuse(&module("", MEMORY, r#"(func (export "cellchain_abi_v1"))"#)),
        InstallError::MissingExport {
            name: "cellchain_invoke".into()
        }
    );
}

#[test]
fn invoke_export_with_the_wrong_type_is_refused() {
    assert_eq!(
        refuse(&module(
            "",
            MEMORY,
            r#"(func (export "cellchain_abi_v1"))
               (func (export "cellchain_invoke") (param i32) (result i32) (i32.const 0))"#
        )),
        InstallError::WrongExportType {
            name: "cellchain_invoke".into(),
            expected: "a function () -> (i32)".into(),
            found: "a function (i32) -> (i32)".into()
        }
    );
}

#[test]
fn start_function_is_refused() {
    assert_eq!(
        refuse(&module(
            "",
            MEMORY,
            &format!(r#"{ENTRY} (func $init) (start $init)"#)
        )),
        InstallError::StartFunction
    );
}

#[test]
fn module_above_the_size_cap_is_refused() {
    let wasm = module("", MEMORY, ENTRY);
    assert_eq!(
        refuse_with(
            RuntimeConfig {
                max_module_bytes: 32,
                ..test_config()
            },
            &wasm
        ),
        InstallError::TooLarge {
            size: wasm.len(),
            max: 32
        }
    );
}

#[test]
fn too_many_functions_are_refused() {
    let funcs = "(func)".repeat(20);
    assert_eq!(
        refuse_with(
            RuntimeConfig {
                max_functions: 10,
                ..test_config()
            },
            &module("", MEMORY, &format!("{ENTRY} {funcs}"))
        ),
        InstallError::TooManyFunctions { count: 22, max: 10 }
    );
}

#[test]
fn too_many_locals_are_refused() {
    let locals = " i64".repeat(200);
    assert_eq!(
        refuse_with(
            RuntimeConfig {
                max_locals: 100,
                ..test_config()
            },
            &module(
                "",
                MEMORY,
                &format!("{ENTRY} (func (param i32) (local {locals}))")
            )
        ),
        InstallError::TooManyLocals {
            function: 2,
            count: 201,
            max: 100
        }
    );
}

#[test]
fn too_many_globals_are_refused() {
    let globals = "(global i32 (i32.const 0))".repeat(5);
    assert_eq!(
        refuse_with(
            RuntimeConfig {
                max_globals: 4,
                ..test_config()
            },
            &module("", MEMORY, &format!("{ENTRY} {globals}"))
        ),
        InstallError::TooManyGlobals { count: 5, max: 4 }
    );
}

#[test]
fn two_tables_are_refused() {
    assert_eq!(
        refuse(&module(
            "",
            MEMORY,
            &format!("{ENTRY} (table 1 funcref) (table 1 funcref)")
        )),
        InstallError::TooManyTables { count: 2, max: 1 }
    );
}

#[test]
fn table_above_the_element_cap_is_refused() {
    assert_eq!(
        refuse(&module(
            "",
            MEMORY,
            &format!("{ENTRY} (table 30000 funcref)")
        )),
        InstallError::TableTooLarge {
            initial: 30000,
            max: 20000
        }
    );
}

#[test]
fn simd_is_refused_as_invalid() {
    let e = refuse(&module(
        "",
        MEMORY,
        &format!("{ENTRY} (func (result v128) (v128.const i64x2 0 0))"),
    ));
    assert!(
        matches!(&e, InstallError::Invalid { reason } if reason.contains("SIMD")),
        "{e}"
    );
}

#[test]
fn shared_memory_is_refused_as_invalid() {
    let e = refuse(&module(
        "",
        r#"(memory (export "memory") 1 1 shared)"#,
        ENTRY,
    ));
    assert!(matches!(&e, InstallError::Invalid { .. }), "{e}");
}

#[test]
fn garbage_is_refused_as_invalid() {
    let e = refuse(b"\0asm\x01\0\0\0garbage");
    assert!(matches!(&e, InstallError::Invalid { .. }), "{e}");
    let e = refuse(b"not wasm at all");
    assert!(matches!(&e, InstallError::Invalid { .. }), "{e}");
}

#[test]
fn data_segment_outside_memory_is_refused_at_install() {
    let e = refuse(&module(
        "",
        MEMORY,
        &format!(r#"{ENTRY} (data (i32.const 65535) "xy")"#),
    ));
    assert!(matches!(&e, InstallError::Instantiate { .. }), "{e}");
}
