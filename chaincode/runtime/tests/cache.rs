//! The on-disk module cache: compile once, load afterwards, survive damage.

mod common;

use std::fs;
use std::path::Path;

use cellchain_chaincode_runtime::{ModuleOrigin, Runtime};
use common::*;

fn cached_runtime(dir: &Path) -> Runtime {
    Runtime::new(test_config(), Some(dir.to_path_buf())).unwrap()
}

fn cache_files(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut files: Vec<_> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    files
}

#[test]
fn second_runtime_loads_from_the_cache_without_compiling() {
    let dir = tempfile::tempdir().unwrap();
    let first = cached_runtime(dir.path()).install(&modes()).unwrap();
    assert_eq!(first.origin(), ModuleOrigin::Compiled);
    let files = cache_files(dir.path());
    assert_eq!(files.len(), 1, "{files:?}");
    let name = files[0].file_name().unwrap().to_string_lossy().into_owned();
    assert!(name.starts_with(&first.sha256().to_hex()), "{name}");
    assert!(name.ends_with(".cwasm"), "{name}");

    let second = cached_runtime(dir.path()).install(&modes()).unwrap();
    assert_eq!(second.origin(), ModuleOrigin::LoadedFromCache);
    // The loaded module behaves exactly like the compiled one.
    assert_eq!(
        run(&first, &mode("o")).unwrap(),
        run(&second, &mode("o")).unwrap()
    );
}

#[test]
fn without_a_cache_dir_every_install_compiles() {
    let rt = runtime();
    assert_eq!(
        rt.install(&modes()).unwrap().origin(),
        ModuleOrigin::Compiled
    );
    assert_eq!(
        rt.install(&modes()).unwrap().origin(),
        ModuleOrigin::Compiled
    );
}

#[test]
fn a_garbage_cache_file_is_recompiled_and_replaced() {
    let dir = tempfile::tempdir().unwrap();
    cached_runtime(dir.path()).install(&modes()).unwrap();
    let file = cache_files(dir.path()).remove(0);
    fs::write(&file, b"garbage").unwrap();

    let cc = cached_runtime(dir.path()).install(&modes()).unwrap();
    assert_eq!(cc.origin(), ModuleOrigin::Compiled);
    assert!(run(&cc, &mode("o")).is_ok());
    // Replaced: the next runtime loads it again.
    let again = cached_runtime(dir.path()).install(&modes()).unwrap();
    assert_eq!(again.origin(), ModuleOrigin::LoadedFromCache);
}

#[test]
fn a_flipped_bit_in_the_machine_code_is_detected() {
    // wasmtime checks an artifact's metadata, not its code: the runtime's
    // digest catches a change anywhere in the file.
    let dir = tempfile::tempdir().unwrap();
    cached_runtime(dir.path()).install(&modes()).unwrap();
    let file = cache_files(dir.path()).remove(0);
    let mut bytes = fs::read(&file).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x10;
    fs::write(&file, &bytes).unwrap();

    let cc = cached_runtime(dir.path()).install(&modes()).unwrap();
    assert_eq!(cc.origin(), ModuleOrigin::Compiled);
    assert_eq!(
        cached_runtime(dir.path())
            .install(&modes())
            .unwrap()
            .origin(),
        ModuleOrigin::LoadedFromCache
    );
}

#[test]
fn a_truncated_cache_file_is_recompiled() {
    let dir = tempfile::tempdir().unwrap();
    cached_runtime(dir.path()).install(&modes()).unwrap();
    let file = cache_files(dir.path()).remove(0);
    let bytes = fs::read(&file).unwrap();
    fs::write(&file, &bytes[..bytes.len() / 3]).unwrap();
    assert_eq!(
        cached_runtime(dir.path())
            .install(&modes())
            .unwrap()
            .origin(),
        ModuleOrigin::Compiled
    );
}

#[test]
fn a_different_module_gets_a_different_file() {
    let dir = tempfile::tempdir().unwrap();
    let rt = cached_runtime(dir.path());
    let a = rt.install(&modes()).unwrap();
    let b = rt.install(&contract("", OK)).unwrap();
    assert_ne!(a.sha256(), b.sha256());
    assert_eq!(cache_files(dir.path()).len(), 2);
}

#[test]
fn no_temporary_files_are_left_behind() {
    let dir = tempfile::tempdir().unwrap();
    cached_runtime(dir.path()).install(&modes()).unwrap();
    for f in cache_files(dir.path()) {
        assert!(!f.to_string_lossy().ends_with(".tmp"), "{f:?}");
    }
}
