//! Building contracts: one function from a contract crate to its `.wasm`.
//!
//! `cellchain chaincode build`, the test harness and the runtime's tests all build
//! contracts the same way: `cargo build --lib --profile contract --target
//! wasm32-unknown-unknown` (the `contract` profile in the workspace's Cargo.toml:
//! optimised, LTO, one codegen unit, stripped, panic=abort), then read the module
//! and its SHA-256, which is the chaincode's identity in the lifecycle.
//!
//! The `#[contract]` macro emits the wasm entry points only when the contract is
//! the package being built (`CARGO_PRIMARY_PACKAGE`), so one contract can use
//! another as a library. Cargo does not track that variable (rust-lang/cargo#14678):
//! a contract compiled earlier as someone's dependency may be reused without its
//! entry points. The builder therefore checks the module's exports and, if the
//! entry point is missing, rebuilds the contract in a target directory of its own.

use std::path::{Path, PathBuf};
use std::process::Command;

use cellchain_core::bytes::{sha256, Hash32};

pub const WASM_TARGET: &str = "wasm32-unknown-unknown";

/// The `contract` profile, for contract crates that have a workspace of their own
/// (the repository's Cargo.toml carries the same settings).
pub const PROFILE_TOML: &str = r#"[profile.contract]
inherits = "release"
opt-level = 3
lto = true
codegen-units = 1
strip = true
debug = false
panic = "abort"
"#;
pub const PROFILE: &str = "contract";

/// A built contract module.
#[derive(Debug, Clone)]
pub struct BuiltContract {
    /// The package name, e.g. `patient-batch`.
    pub package: String,
    pub wasm_path: PathBuf,
    pub wasm: Vec<u8>,
    pub sha256: Hash32,
}

#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    #[error("no Cargo.toml in {dir}: give the directory of a contract crate")]
    NoManifest { dir: PathBuf },
    #[error("could not run cargo: {reason}")]
    Cargo { reason: String },
    #[error("cargo metadata failed for {manifest}: {reason}")]
    Metadata { manifest: PathBuf, reason: String },
    #[error(
        "the Rust target {WASM_TARGET} is not installed: run ./scripts/setup \
         (or `rustup target add {WASM_TARGET}`)"
    )]
    TargetMissing,
    #[error("building {package} failed:\n{stderr}")]
    Failed { package: String, stderr: String },
    #[error("cargo built {package} but {path} is missing: is it a `cdylib` crate (crate-type = [\"cdylib\", \"rlib\"])?")]
    NoModule { package: String, path: PathBuf },
    #[error("{package}: the module has no `cellchain_invoke` export; does the crate have a `#[contract]` impl block?")]
    NoEntryPoint { package: String },
}

fn cargo() -> Command {
    Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
}

/// Builds the contract crate in `crate_dir` and returns its module.
pub fn build_contract(crate_dir: &Path) -> Result<BuiltContract, BuildError> {
    let manifest = crate_dir.join("Cargo.toml");
    if !manifest.is_file() {
        return Err(BuildError::NoManifest {
            dir: crate_dir.to_path_buf(),
        });
    }
    let (package, target_dir) = metadata(&manifest)?;
    let built = cargo_build(&manifest, &package, &target_dir)?;
    if exports_entry_point(&built.wasm) {
        return Ok(built);
    }
    let isolated = target_dir.join("contract-isolated").join(&package);
    let built = cargo_build(&manifest, &package, &isolated)?;
    if exports_entry_point(&built.wasm) {
        return Ok(built);
    }
    Err(BuildError::NoEntryPoint { package })
}

fn cargo_build(
    manifest: &Path,
    package: &str,
    target_dir: &Path,
) -> Result<BuiltContract, BuildError> {
    let out = cargo()
        .args([
            "build",
            "--lib",
            "--quiet",
            "--profile",
            PROFILE,
            "--target",
            WASM_TARGET,
            "--manifest-path",
        ])
        .arg(manifest)
        .env("CARGO_TARGET_DIR", target_dir)
        .output()
        .map_err(|e| BuildError::Cargo {
            reason: e.to_string(),
        })?;
    if !out.status.success() {
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        if stderr.contains("target may not be installed")
            || stderr.contains("can't find crate for `core`")
        {
            return Err(BuildError::TargetMissing);
        }
        return Err(BuildError::Failed {
            package: package.to_string(),
            stderr,
        });
    }
    let wasm_path = target_dir
        .join(WASM_TARGET)
        .join(PROFILE)
        .join(format!("{}.wasm", package.replace('-', "_")));
    let wasm = std::fs::read(&wasm_path).map_err(|_| BuildError::NoModule {
        package: package.to_string(),
        path: wasm_path.clone(),
    })?;
    let sha256 = sha256(&wasm);
    Ok(BuiltContract {
        package: package.to_string(),
        wasm_path,
        wasm,
        sha256,
    })
}

/// Whether the module exports the ABI's entry point.
fn exports_entry_point(wasm: &[u8]) -> bool {
    for payload in wasmparser::Parser::new(0).parse_all(wasm) {
        let Ok(wasmparser::Payload::ExportSection(exports)) = payload else {
            continue;
        };
        for e in exports.into_iter().flatten() {
            if e.name == "cellchain_invoke" {
                return true;
            }
        }
    }
    false
}

/// The package name of the manifest and the workspace's target directory.
fn metadata(manifest: &Path) -> Result<(String, PathBuf), BuildError> {
    let fail = |reason: String| BuildError::Metadata {
        manifest: manifest.to_path_buf(),
        reason,
    };
    let out = cargo()
        .args([
            "metadata",
            "--no-deps",
            "--format-version",
            "1",
            "--manifest-path",
        ])
        .arg(manifest)
        .output()
        .map_err(|e| BuildError::Cargo {
            reason: e.to_string(),
        })?;
    if !out.status.success() {
        return Err(fail(String::from_utf8_lossy(&out.stderr).into_owned()));
    }
    let meta: serde_json::Value =
        serde_json::from_slice(&out.stdout).map_err(|e| fail(e.to_string()))?;
    let target_dir = meta["target_directory"]
        .as_str()
        .ok_or_else(|| fail("no target_directory".into()))?;
    let manifest_abs = std::fs::canonicalize(manifest).map_err(|e| fail(e.to_string()))?;
    let package = meta["packages"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|p| p["manifest_path"].as_str().map(Path::new) == Some(manifest_abs.as_path()))
        .and_then(|p| p["name"].as_str())
        .ok_or_else(|| fail("the manifest is not a package of its workspace".into()))?;
    Ok((package.to_string(), PathBuf::from(target_dir)))
}

/// The directory of a contract crate of this repository, by its path relative to
/// the workspace root (for tests: `workspace_crate("chaincode/test-contracts/hostile")`).
pub fn workspace_crate(relative: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(relative)
}
