//! Install-time validation: a module either follows every rule of ABI.md and
//! the runtime's caps, or is refused with the first rule it breaks.
//!
//! Two passes. The first reads the module's structure without validating it
//! and checks our own rules (imports, memory, exports, counts), so that e.g. a
//! second memory is reported as [`InstallError::NotOneMemory`] rather than as
//! wasmparser's "multiple memories" message. The second is wasmparser's full
//! validation with exactly the feature set the engine is configured with
//! ([`allowed_features`]), so nothing that passes here fails to compile for a
//! feature reason.

use wasmtime::wasmparser::{
    CompositeInnerType, Encoding, ExternalKind, FuncType, Parser, Payload, TypeRef, ValType,
    Validator, WasmFeatures,
};

use crate::abi::{signature_text, AbiType, IMPORTS, MODULE};
use crate::config::{RuntimeConfig, WASM_PAGE};
use crate::error::InstallError;

/// The ABI version marker export (ABI.md "Guest exports").
pub const ABI_MARKER: &str = "cellchain_abi_v1";
/// The prefix of every version's marker, to name a module of another version.
const ABI_MARKER_PREFIX: &str = "cellchain_abi_v";
/// The invocation entry point.
pub const INVOKE_EXPORT: &str = "cellchain_invoke";
/// The guest's memory export.
pub const MEMORY_EXPORT: &str = "memory";

/// The wasm features a chaincode may use: what rustc 1.95 emits by default for
/// wasm32-unknown-unknown (mutable globals, sign extension, non-trapping
/// float-to-int, multi-value, bulk memory, reference types for funcref tables)
/// and nothing non-deterministic or heavyweight: no threads (shared memory),
/// no SIMD or relaxed SIMD, no multi-memory or memory64, no GC, exceptions,
/// tail calls or stack switching. The engine is configured with exactly this
/// set.
pub fn allowed_features() -> WasmFeatures {
    WasmFeatures::FLOATS
        | WasmFeatures::MUTABLE_GLOBAL
        | WasmFeatures::SIGN_EXTENSION
        | WasmFeatures::SATURATING_FLOAT_TO_INT
        | WasmFeatures::MULTI_VALUE
        | WasmFeatures::BULK_MEMORY
        | WasmFeatures::BULK_MEMORY_OPT
        | WasmFeatures::REFERENCE_TYPES
        | WasmFeatures::CALL_INDIRECT_OVERLONG
}

fn invalid(e: impl std::fmt::Display) -> InstallError {
    // One line: some wasmparser messages embed multi-line debug output.
    let reason = e.to_string();
    InstallError::Invalid {
        reason: reason.split_whitespace().collect::<Vec<_>>().join(" "),
    }
}

/// What the first pass collects.
#[derive(Default)]
struct Structure {
    types: Vec<Option<FuncType>>,
    /// Type index of every function, imported ones first.
    func_types: Vec<u32>,
    imported_funcs: u32,
    memories: Vec<u64>,
    tables: Vec<u64>,
    globals: u64,
    exports: Vec<(String, ExternalKind, u32)>,
    has_start: bool,
}

/// Checks `wasm` against every install rule; the first broken one is returned.
pub fn validate(wasm: &[u8], config: &RuntimeConfig) -> Result<(), InstallError> {
    if wasm.len() > config.max_module_bytes {
        return Err(InstallError::TooLarge {
            size: wasm.len(),
            max: config.max_module_bytes,
        });
    }
    if !wasm.starts_with(b"\0asm") {
        return Err(invalid("not a wasm module (no \\0asm header)"));
    }
    let s = read_structure(wasm, config)?;
    if s.has_start {
        return Err(InstallError::StartFunction);
    }
    check_memory(&s, config)?;
    check_exports(&s)?;
    check_counts(&s, config)?;
    let mut validator = Validator::new_with_features(allowed_features());
    validator.validate_all(wasm).map_err(invalid)?;
    Ok(())
}

fn read_structure(wasm: &[u8], config: &RuntimeConfig) -> Result<Structure, InstallError> {
    let mut s = Structure::default();
    let mut parser = Parser::new(0);
    parser.set_features(allowed_features());
    let mut func_index = 0u32;
    for payload in parser.parse_all(wasm) {
        match payload.map_err(invalid)? {
            Payload::Version { encoding, .. } if encoding != Encoding::Module => {
                return Err(invalid("this is a wasm component, not a core module"));
            }
            Payload::TypeSection(reader) => {
                for group in reader {
                    for ty in group.map_err(invalid)?.into_types() {
                        s.types.push(match ty.composite_type.inner {
                            CompositeInnerType::Func(f) => Some(f),
                            _ => None,
                        });
                    }
                }
            }
            Payload::ImportSection(reader) => {
                for import in reader.into_imports() {
                    let import = import.map_err(invalid)?;
                    let ty = match import.ty {
                        TypeRef::Func(t) | TypeRef::FuncExact(t) => t,
                        other => {
                            let kind = match other {
                                TypeRef::Memory(_) => "memory",
                                TypeRef::Table(_) => "table",
                                TypeRef::Global(_) => "global",
                                _ => "tag",
                            };
                            return Err(InstallError::NonFunctionImport {
                                module: import.module.to_string(),
                                name: import.name.to_string(),
                                kind: kind.to_string(),
                            });
                        }
                    };
                    check_import(&s, import.module, import.name, ty)?;
                    s.func_types.push(ty);
                    s.imported_funcs += 1;
                }
            }
            Payload::FunctionSection(reader) => {
                for ty in reader {
                    s.func_types.push(ty.map_err(invalid)?);
                }
            }
            Payload::TableSection(reader) => {
                for table in reader {
                    s.tables.push(table.map_err(invalid)?.ty.initial);
                }
            }
            Payload::MemorySection(reader) => {
                for memory in reader {
                    s.memories.push(memory.map_err(invalid)?.initial);
                }
            }
            Payload::GlobalSection(reader) => s.globals += u64::from(reader.count()),
            Payload::ExportSection(reader) => {
                for export in reader {
                    let e = export.map_err(invalid)?;
                    s.exports.push((e.name.to_string(), e.kind, e.index));
                }
            }
            Payload::StartSection { .. } => s.has_start = true,
            Payload::CodeSectionEntry(body) => {
                let function = s.imported_funcs + func_index;
                func_index += 1;
                let params = s
                    .func_types
                    .get(function as usize)
                    .and_then(|t| s.types.get(*t as usize))
                    .and_then(|t| t.as_ref())
                    .map_or(0, |f| f.params().len() as u64);
                let mut count = params;
                for local in body.get_locals_reader().map_err(invalid)? {
                    count += u64::from(local.map_err(invalid)?.0);
                }
                if count > u64::from(config.max_locals) {
                    return Err(InstallError::TooManyLocals {
                        function,
                        count,
                        max: u64::from(config.max_locals),
                    });
                }
            }
            _ => {}
        }
    }
    Ok(s)
}

fn abi_types(ts: &[AbiType]) -> Vec<&'static str> {
    ts.iter().map(|t| t.name()).collect()
}

fn wasm_types(ts: &[ValType]) -> Vec<String> {
    ts.iter().map(|t| t.to_string()).collect()
}

fn check_import(s: &Structure, module: &str, name: &str, ty: u32) -> Result<(), InstallError> {
    let unknown = || InstallError::UnknownImport {
        module: module.to_string(),
        name: name.to_string(),
    };
    if module != MODULE {
        return Err(unknown());
    }
    let abi = IMPORTS
        .iter()
        .find(|i| i.name == name)
        .ok_or_else(unknown)?;
    let expected = signature_text(&abi_types(abi.params), &abi_types(abi.results));
    let found = match s.types.get(ty as usize) {
        Some(Some(f)) => f,
        Some(None) => {
            return Err(InstallError::WrongImportSignature {
                name: name.to_string(),
                expected,
                found: "not a function type".into(),
            })
        }
        None => return Err(invalid(format!("import {name} uses unknown type {ty}"))),
    };
    let same = |abi: &[AbiType], wasm: &[ValType]| {
        abi.len() == wasm.len()
            && abi.iter().zip(wasm).all(|(a, w)| {
                matches!(
                    (a, w),
                    (AbiType::I32, ValType::I32) | (AbiType::I64, ValType::I64)
                )
            })
    };
    if !same(abi.params, found.params()) || !same(abi.results, found.results()) {
        return Err(InstallError::WrongImportSignature {
            name: name.to_string(),
            expected,
            found: signature_text(&wasm_types(found.params()), &wasm_types(found.results())),
        });
    }
    Ok(())
}

fn check_memory(s: &Structure, config: &RuntimeConfig) -> Result<(), InstallError> {
    // Imported memories were refused with the imports.
    if s.memories.len() != 1 {
        return Err(InstallError::NotOneMemory {
            count: s.memories.len(),
        });
    }
    let initial_bytes = s.memories[0].saturating_mul(WASM_PAGE);
    if initial_bytes > config.memory_bytes {
        return Err(InstallError::MemoryTooLarge {
            initial_bytes,
            max: config.memory_bytes,
        });
    }
    Ok(())
}

fn kind_name(kind: ExternalKind) -> &'static str {
    match kind {
        ExternalKind::Func | ExternalKind::FuncExact => "a function",
        ExternalKind::Table => "a table",
        ExternalKind::Memory => "a memory",
        ExternalKind::Global => "a global",
        ExternalKind::Tag => "a tag",
    }
}

fn check_exports(s: &Structure) -> Result<(), InstallError> {
    let find = |name: &str| {
        s.exports
            .iter()
            .find(|(n, _, _)| n == name)
            .map(|(_, kind, index)| (*kind, *index))
            .ok_or_else(|| InstallError::MissingExport {
                name: name.to_string(),
            })
    };
    if let Some((marker, _, _)) = s
        .exports
        .iter()
        .find(|(n, _, _)| n.starts_with(ABI_MARKER_PREFIX) && n != ABI_MARKER)
    {
        return Err(InstallError::UnsupportedAbi {
            marker: marker.clone(),
        });
    }
    let (kind, _) = find(MEMORY_EXPORT)?;
    if kind != ExternalKind::Memory {
        return Err(InstallError::WrongExportType {
            name: MEMORY_EXPORT.to_string(),
            expected: "a memory".into(),
            found: kind_name(kind).into(),
        });
    }
    check_func_export(s, ABI_MARKER, find(ABI_MARKER)?, &[])?;
    check_func_export(s, INVOKE_EXPORT, find(INVOKE_EXPORT)?, &[ValType::I32])?;
    Ok(())
}

fn check_func_export(
    s: &Structure,
    name: &str,
    (kind, index): (ExternalKind, u32),
    results: &[ValType],
) -> Result<(), InstallError> {
    let expected = signature_text(&[] as &[String], &wasm_types(results));
    let wrong = |found: String| InstallError::WrongExportType {
        name: name.to_string(),
        expected: format!("a function {expected}"),
        found,
    };
    if !matches!(kind, ExternalKind::Func | ExternalKind::FuncExact) {
        return Err(wrong(kind_name(kind).into()));
    }
    let ty = s
        .func_types
        .get(index as usize)
        .and_then(|t| s.types.get(*t as usize))
        .and_then(|t| t.as_ref())
        .ok_or_else(|| invalid(format!("export {name} refers to an unknown function")))?;
    if !ty.params().is_empty() || ty.results() != results {
        return Err(wrong(format!(
            "a function {}",
            signature_text(&wasm_types(ty.params()), &wasm_types(ty.results()))
        )));
    }
    Ok(())
}

fn check_counts(s: &Structure, config: &RuntimeConfig) -> Result<(), InstallError> {
    let defined = (s.func_types.len() as u64).saturating_sub(u64::from(s.imported_funcs));
    if defined > u64::from(config.max_functions) {
        return Err(InstallError::TooManyFunctions {
            count: defined,
            max: u64::from(config.max_functions),
        });
    }
    if s.tables.len() as u64 > u64::from(config.max_tables) {
        return Err(InstallError::TooManyTables {
            count: s.tables.len() as u64,
            max: u64::from(config.max_tables),
        });
    }
    if let Some(&initial) = s
        .tables
        .iter()
        .find(|&&t| t > u64::from(config.max_table_elements))
    {
        return Err(InstallError::TableTooLarge {
            initial,
            max: u64::from(config.max_table_elements),
        });
    }
    if s.globals > u64::from(config.max_globals) {
        return Err(InstallError::TooManyGlobals {
            count: s.globals,
            max: u64::from(config.max_globals),
        });
    }
    Ok(())
}
