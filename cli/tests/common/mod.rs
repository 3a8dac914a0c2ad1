//! Helpers shared by the CLI tests: run the real `cellchain` binary and show what
//! it printed when an assertion fails.

// Each test file uses its own subset.
#![allow(dead_code)]

use std::path::Path;
use std::process::{Command, Output};

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
