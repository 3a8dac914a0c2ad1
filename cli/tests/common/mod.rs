//! Helpers shared by the CLI tests: run the real `cellchain` binary and show what
//! it printed when an assertion fails.

// Each test file uses its own subset.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::{Mutex, OnceLock};

/// Runs `cellchain` with `args` and waits for it.
pub fn cellchain(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_cellchain"))
        .args(args)
        .output()
        .expect("run cellchain")
}

/// Exit status and both streams, for assertion messages.
pub fn text(out: &Output) -> String {
    format!(
        "status {:?}\nstdout:\n{}\nstderr:\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

pub fn code(out: &Output) -> i32 {
    out.status.code().expect("exit code")
}

pub fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// A path as a command-line argument.
pub fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// Writes `yaml` as `dir/network.yaml` and runs `cellchain crypto generate` into
/// `dir/<out>` with any `extra` flags; returns the output, success or not.
pub fn crypto_generate(dir: &Path, yaml: &str, out: &str, extra: &[&str]) -> Output {
    let config = dir.join("network.yaml");
    std::fs::write(&config, yaml).unwrap();
    let output = dir.join(out);
    let mut args = vec![
        "crypto",
        "generate",
        "--config",
        s(&config),
        "--output",
        s(&output),
    ];
    args.extend_from_slice(extra);
    cellchain(&args)
}

/// As [`crypto_generate`], asserting success; returns the crypto directory.
pub fn crypto_generate_ok(dir: &Path, yaml: &str, out: &str) -> std::path::PathBuf {
    let run = crypto_generate(dir, yaml, out, &[]);
    assert!(run.status.success(), "{}", text(&run));
    dir.join(out)
}

/// Builds binary `bin` of workspace package `package` (once per test process)
/// and returns its path in the target directory of the running test (as
/// committer/tests/support/mod.rs does).
pub fn workspace_bin(package: &str, bin: &str) -> PathBuf {
    static BUILT: OnceLock<Mutex<BTreeMap<String, PathBuf>>> = OnceLock::new();
    let mut built = BUILT
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    built
        .entry(bin.to_string())
        .or_insert_with(|| {
            let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
            let status = Command::new(cargo)
                .args(["build", "-p", package, "--bin", bin])
                .current_dir(workspace())
                .status()
                .expect("cargo runs");
            assert!(status.success(), "building {bin} failed");
            std::env::current_exe()
                .unwrap()
                .ancestors()
                .map(|d| d.join(bin))
                .find(|p| p.is_file())
                .unwrap_or_else(|| panic!("target/debug/{bin} next to the test binary"))
        })
        .clone()
}

pub fn workspace() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap()
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Runs `down` when dropped, so no node outlives the test.
pub struct Down(pub PathBuf);

impl Drop for Down {
    fn drop(&mut self) {
        let _ = Command::new(env!("CARGO_BIN_EXE_cellchain"))
            .args(["network", "down", "--dir", s(&self.0)])
            .output();
    }
}
