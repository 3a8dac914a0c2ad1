//! Node processes: started detached (their own process group, stdin closed,
//! stdout and stderr appended to the node's log) so they outlive the CLI, with a
//! pid file beside the config; found again, signalled and stopped by pid.

use std::fs;
use std::io::Write;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};

use super::state::{Kind, Node};

/// Where the node binaries are: `--bin-dir`, else the directory of the running
/// `cellchain`. Each binary is checked to exist.
pub fn find_bins(bin_dir: Option<&Path>) -> anyhow::Result<PathBuf> {
    let dir = match bin_dir {
        Some(d) => d.to_path_buf(),
        None => std::env::current_exe()
            .context("cannot tell where the cellchain executable is: pass --bin-dir")?
            .parent()
            .expect("an executable is in a directory")
            .to_path_buf(),
    };
    for kind in [Kind::Orderer, Kind::Committer, Kind::Endorser] {
        let bin = dir.join(kind.bin());
        if !bin.is_file() {
            let release = if dir.ends_with("release") {
                " --release"
            } else {
                ""
            };
            bail!(
                "the {} binary is missing from {}: build it with `cargo build{release} -p {} \
                 --bin {}` (or pass --bin-dir DIR where orderer, committer and endorser are)",
                kind.bin(),
                dir.display(),
                kind.package(),
                kind.bin()
            );
        }
    }
    Ok(dir)
}

/// Starts `node`'s binary detached and writes its pid file.
pub fn spawn(node: &Node, dir: &Path, bin_dir: &Path) -> anyhow::Result<Child> {
    let log_path = node.log(dir);
    let mut log = fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&log_path)
        .with_context(|| format!("cannot open {}", log_path.display()))?;
    let bin = bin_dir.join(node.kind.bin());
    let config = absolute(&node.config(dir));
    // A marker, so that a log's tail shows where this run begins.
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    writeln!(
        log,
        "--- cellchain network up: {} --config {} (unix time {secs}) ---",
        bin.display(),
        config.display()
    )
    .with_context(|| format!("cannot write {}", log_path.display()))?;
    let mut cmd = Command::new(&bin);
    cmd.arg("--config")
        .arg(&config)
        .current_dir(node.home(dir))
        .stdin(Stdio::null())
        .stdout(Stdio::from(log.try_clone()?))
        .stderr(Stdio::from(log))
        // Its own process group: a Ctrl-C at the terminal that ran `up` does not
        // reach it, and it survives the CLI's exit.
        .process_group(0);
    if std::env::var_os("CELLCHAIN_LOG").is_none() {
        cmd.env("CELLCHAIN_LOG", "info,raft=warn");
    }
    let child = cmd
        .spawn()
        .with_context(|| format!("cannot start {}", bin.display()))?;
    let pid_file = node.pid_file(dir);
    fs::write(&pid_file, format!("{}\n", child.id()))
        .with_context(|| format!("cannot write {}", pid_file.display()))?;
    Ok(child)
}

pub fn absolute(p: &Path) -> PathBuf {
    fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf())
}

/// The pid in the node's pid file, if the file exists and that process is alive
/// and still runs this node's config.
pub fn running_pid(node: &Node, dir: &Path) -> Option<u32> {
    let text = fs::read_to_string(node.pid_file(dir)).ok()?;
    let pid: u32 = text.trim().parse().ok()?;
    is_node_process(pid, &absolute(&node.config(dir))).then_some(pid)
}

/// Whether process `pid` is alive (not a zombie) and, where `/proc` tells,
/// runs with `config` on its command line (a recycled pid does not count).
pub fn is_node_process(pid: u32, config: &Path) -> bool {
    if !alive(pid) {
        return false;
    }
    match fs::read(format!("/proc/{pid}/cmdline")) {
        Ok(cmdline) => {
            let want = config.as_os_str().as_encoded_bytes();
            cmdline.split(|b| *b == 0).any(|arg| arg == want)
        }
        Err(_) => true,
    }
}

/// Whether `pid` exists and is not a zombie.
pub fn alive(pid: u32) -> bool {
    let Ok(pid_t) = libc::pid_t::try_from(pid) else {
        return false;
    };
    // SAFETY: kill with signal 0 only checks that the process exists.
    let exists = unsafe { libc::kill(pid_t, 0) } == 0
        || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM);
    if !exists {
        return false;
    }
    match fs::read_to_string(format!("/proc/{pid}/stat")) {
        // The state follows the parenthesised command name.
        Ok(stat) => !stat
            .rsplit_once(')')
            .is_some_and(|(_, rest)| rest.trim_start().starts_with(['Z', 'X'])),
        Err(_) => true,
    }
}

pub fn signal(pid: u32, sig: libc::c_int) {
    if let Ok(p) = libc::pid_t::try_from(pid) {
        // SAFETY: sending a signal to a process we started.
        unsafe {
            libc::kill(p, sig);
        }
    }
}

/// How a node went down.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stopped {
    /// It exited after SIGTERM.
    Clean,
    /// It ignored SIGTERM for `grace` and was killed.
    Killed,
}

/// SIGTERM to every pid, then waits up to `grace` for each to exit, then
/// SIGKILL to those still running.
pub fn stop_all(pids: &[u32], grace: Duration) -> Vec<Stopped> {
    for &p in pids {
        signal(p, libc::SIGTERM);
    }
    let deadline = Instant::now() + grace;
    while pids.iter().any(|&p| alive(p)) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    pids.iter()
        .map(|&p| {
            if alive(p) {
                signal(p, libc::SIGKILL);
                let until = Instant::now() + Duration::from_secs(5);
                while alive(p) && Instant::now() < until {
                    std::thread::sleep(Duration::from_millis(20));
                }
                Stopped::Killed
            } else {
                Stopped::Clean
            }
        })
        .collect()
}

/// The last `n` lines of a log file, indented.
pub fn tail(path: &Path, n: usize) -> String {
    let text = fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    let from = lines.len().saturating_sub(n);
    if lines.is_empty() {
        return "    (the log is empty)".into();
    }
    lines[from..]
        .iter()
        .map(|l| format!("    {l}"))
        .collect::<Vec<_>>()
        .join("\n")
}
