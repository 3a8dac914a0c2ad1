//! The wasm modules the guest API produces, read with wasmparser: they export
//! exactly what ABI.md asks, import only `cellchain` functions with ABI.md's
//! signatures (the kitchen sink imports every one of them), and a contract used
//! as a library by another does not bring its entry points along.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use cellchain_chaincode_build::{build_contract, workspace_crate, BuiltContract};
use wasmparser::{ExternalKind, Parser, Payload, TypeRef, ValType, Validator};

/// ABI.md's imports and their signatures, in its order.
const ABI_IMPORTS: &[(&str, &[ValType], &[ValType])] = {
    use ValType::{I32, I64};
    &[
        ("input", &[], &[I64]),
        ("take_result", &[I32], &[]),
        ("get_state", &[I32, I32], &[I64]),
        ("get_state_of", &[I32, I32, I32, I32], &[I64]),
        ("put_state", &[I32, I32, I32, I32], &[]),
        ("del_state", &[I32, I32], &[]),
        ("get_state_range", &[I32, I32, I32, I32, I32], &[I64]),
        ("get_private", &[I32, I32, I32, I32], &[I64]),
        ("get_private_hash", &[I32, I32, I32, I32], &[I64]),
        ("put_private", &[I32, I32, I32, I32, I32, I32], &[]),
        ("del_private", &[I32, I32, I32, I32], &[]),
        ("get_transient", &[I32, I32], &[I64]),
        ("set_key_policy", &[I32, I32, I32, I32], &[]),
        ("emit_event", &[I32, I32, I32, I32], &[]),
        ("sha256", &[I32, I32, I32], &[]),
        ("verify_p256", &[I32, I32, I32, I32, I32, I32], &[I32]),
        ("log", &[I32, I32, I32], &[]),
        ("set_response", &[I32, I32, I32], &[]),
        ("panic_message", &[I32, I32], &[]),
    ]
};

type Signature = (Vec<ValType>, Vec<ValType>);

/// What a module imports and exports, with function signatures.
#[derive(Debug, Default)]
struct Module {
    /// (module, name) -> signature; `None` for non-function imports.
    imports: BTreeMap<(String, String), Option<Signature>>,
    /// name -> (kind, signature of exported functions)
    exports: BTreeMap<String, (ExternalKind, Option<Signature>)>,
    has_start: bool,
    memories_defined: u32,
}

fn read_module(wasm: &[u8]) -> Module {
    // Valid under wasmparser's default features (those wasmtime enables).
    Validator::new()
        .validate_all(wasm)
        .expect("the module validates");
    let mut types: Vec<Signature> = Vec::new();
    let mut func_types: Vec<u32> = Vec::new();
    let mut m = Module::default();
    let mut exports = Vec::new();
    for payload in Parser::new(0).parse_all(wasm) {
        match payload.expect("the module parses") {
            Payload::TypeSection(r) => {
                for group in r {
                    for sub in group.unwrap().into_types() {
                        let f = sub.unwrap_func();
                        types.push((f.params().to_vec(), f.results().to_vec()));
                    }
                }
            }
            Payload::ImportSection(r) => {
                for import in r.into_imports() {
                    let import = import.unwrap();
                    let sig = match import.ty {
                        TypeRef::Func(t) | TypeRef::FuncExact(t) => {
                            func_types.push(t);
                            Some(types[t as usize].clone())
                        }
                        _ => None,
                    };
                    m.imports
                        .insert((import.module.to_string(), import.name.to_string()), sig);
                }
            }
            Payload::FunctionSection(r) => {
                for t in r {
                    func_types.push(t.unwrap());
                }
            }
            Payload::MemorySection(r) => m.memories_defined += r.count(),
            Payload::ExportSection(r) => {
                for e in r {
                    let e = e.unwrap();
                    exports.push((e.name.to_string(), e.kind, e.index));
                }
            }
            Payload::StartSection { .. } => m.has_start = true,
            _ => {}
        }
    }
    for (name, kind, index) in exports {
        let sig = (kind == ExternalKind::Func)
            .then(|| types[func_types[index as usize] as usize].clone());
        m.exports.insert(name, (kind, sig));
    }
    m
}

fn build(relative: &str) -> BuiltContract {
    build_contract(&workspace_crate(relative))
        .unwrap_or_else(|e| panic!("building {relative} failed: {e}"))
}

fn sig(params: &[ValType], results: &[ValType]) -> Option<Signature> {
    Some((params.to_vec(), results.to_vec()))
}

/// The ABI's exports with their signatures, one memory, no start function.
/// (rustc also exports the globals `__data_end` and `__heap_base`; ABI.md does
/// not forbid other exports.)
fn assert_abi_exports(name: &str, m: &Module) {
    assert_eq!(
        m.exports.get("cellchain_abi_v1"),
        Some(&(ExternalKind::Func, sig(&[], &[]))),
        "{name}"
    );
    assert_eq!(
        m.exports.get("cellchain_invoke"),
        Some(&(ExternalKind::Func, sig(&[], &[ValType::I32]))),
        "{name}"
    );
    assert_eq!(
        m.exports.get("memory").map(|e| e.0),
        Some(ExternalKind::Memory),
        "{name}"
    );
    assert_eq!(m.memories_defined, 1, "{name}: exactly one memory, its own");
    assert!(!m.has_start, "{name}: no start function");
    let other_funcs: Vec<&String> = m
        .exports
        .iter()
        .filter(|(n, (k, _))| {
            *k == ExternalKind::Func && *n != "cellchain_abi_v1" && *n != "cellchain_invoke"
        })
        .map(|(n, _)| n)
        .collect();
    assert!(other_funcs.is_empty(), "{name} exports {other_funcs:?}");
}

/// Every import is a `cellchain` function of ABI.md with its exact signature.
fn assert_abi_imports_only(name: &str, m: &Module) {
    let abi: BTreeMap<&str, Option<Signature>> = ABI_IMPORTS
        .iter()
        .map(|(n, p, r)| (*n, sig(p, r)))
        .collect();
    for ((module, import), signature) in &m.imports {
        assert_eq!(module, "cellchain", "{name} imports {module}::{import}");
        let expected = abi
            .get(import.as_str())
            .unwrap_or_else(|| panic!("{name} imports {import}, which ABI.md does not list"));
        assert_eq!(signature, expected, "{name}: signature of {import}");
    }
}

#[test]
fn kitchen_sink_imports_every_abi_call_with_its_signature() {
    let built = build("chaincode/test-contracts/kitchen-sink");
    let m = read_module(&built.wasm);
    assert_abi_exports("kitchen-sink", &m);
    assert_abi_imports_only("kitchen-sink", &m);
    // One transaction per API call: every import is used, so none is dropped.
    let imported: Vec<&str> = m.imports.keys().map(|(_, n)| n.as_str()).collect();
    let mut all: Vec<&str> = ABI_IMPORTS.iter().map(|(n, _, _)| *n).collect();
    all.sort_unstable();
    assert_eq!(imported, all);
    eprintln!("kitchen-sink: {} bytes", built.wasm.len());
}

#[test]
fn template_and_hostile_speak_the_abi() {
    for dir in ["chaincode/template", "chaincode/test-contracts/hostile"] {
        let built = build(dir);
        let m = read_module(&built.wasm);
        assert_abi_exports(dir, &m);
        assert_abi_imports_only(dir, &m);
        eprintln!("{dir}: {} bytes", built.wasm.len());
    }
}

#[test]
fn wants_time_imports_a_clock_outside_the_abi() {
    let built = build("chaincode/test-contracts/wants-time");
    let m = read_module(&built.wasm);
    assert_abi_exports("wants-time", &m);
    assert_eq!(
        m.imports.get(&("env".to_string(), "now".to_string())),
        Some(&sig(&[], &[ValType::I64])),
        "imports: {:?}",
        m.imports.keys()
    );
}

/// A contract crate outside the workspace that calls into the template (a
/// contract used as a library): it builds, and exports the entry points once.
/// It gets a target directory of its own, because Cargo does not fingerprint
/// CARGO_PRIMARY_PACKAGE (rust-lang/cargo#14678): in the workspace's target
/// directory the template may have been compiled as the primary package, with
/// its exports.
#[test]
fn a_contract_used_as_a_library_does_not_export_twice() {
    let root = workspace_crate("");
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("contract-as-library");
    std::fs::create_dir_all(dir.join("src")).unwrap();
    let path = |p: &str| root.join(p).display().to_string().replace('\\', "/");
    std::fs::write(
        dir.join("Cargo.toml"),
        format!(
            r#"[package]
name = "uses-template"
version = "0.0.0"
edition = "2021"
publish = false

[lib]
crate-type = ["cdylib", "rlib"]

[dependencies]
cellchain-contract = {{ path = "{contract}" }}
contract-template = {{ path = "{template}" }}

# Its own workspace, and the same contract profile as the repository's.
[workspace]

{profile}"#,
            profile = cellchain_chaincode_build::PROFILE_TOML,
            contract = path("chaincode/contract"),
            template = path("chaincode/template"),
        ),
    )
    .unwrap();
    std::fs::write(
        dir.join("src/lib.rs"),
        r#"
use cellchain_contract::{contract, Context};
use contract_template::{RegistryError, SampleRegistry};
use contract_template::state::Item;

pub struct UsesTemplate;

#[contract]
impl UsesTemplate {
    #[transaction(evaluate)]
    pub fn item(ctx: &Context, id: String) -> Result<Item, RegistryError> {
        SampleRegistry::get_item(ctx, id)
    }
}
"#,
    )
    .unwrap();
    // The same dependency versions as the workspace, so nothing is fetched.
    std::fs::copy(root.join("Cargo.lock"), dir.join("Cargo.lock")).unwrap();
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let target = dir.join("target");
    let out = Command::new(cargo)
        .args(["build", "--lib", "--quiet", "--profile", "contract"])
        .args(["--target", "wasm32-unknown-unknown", "--manifest-path"])
        .arg(dir.join("Cargo.toml"))
        .arg("--target-dir")
        .arg(&target)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "building a contract that depends on the template failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let wasm =
        std::fs::read(target.join("wasm32-unknown-unknown/contract/uses_template.wasm")).unwrap();
    let m = read_module(&wasm);
    assert_abi_exports("uses-template", &m);
    assert_abi_imports_only("uses-template", &m);
    // The template's code is in there (get_item reads state), its exports are not
    // (a second definition would not have linked).
    assert!(m
        .imports
        .contains_key(&("cellchain".to_string(), "get_state".to_string())));
}
