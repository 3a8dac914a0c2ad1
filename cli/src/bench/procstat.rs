//! CPU and memory of processes from /proc: `utime + stime` of
//! `/proc/PID/stat` (clock ticks) and `VmRSS` of `/proc/PID/status`.

use std::fs;
use std::time::Instant;

/// Clock ticks per second (`sysconf(_SC_CLK_TCK)`).
fn ticks_per_second() -> f64 {
    // SAFETY: sysconf has no preconditions.
    let t = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if t > 0 {
        t as f64
    } else {
        100.0
    }
}

/// CPU seconds (user + system) process `pid` has used so far.
pub fn cpu_seconds(pid: u32) -> Option<f64> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the parenthesised command name: state is field 3, utime
    // field 14 and stime field 15 (1-based), so 11 and 12 after the state.
    let (_, rest) = stat.rsplit_once(')')?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    Some((utime + stime) / ticks_per_second())
}

/// Resident memory of `pid`, in MB (VmRSS).
pub fn rss_mb(pid: u32) -> Option<f64> {
    let status = fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}

/// A process watched over a round.
#[derive(Debug, Clone)]
pub struct Watched {
    pub name: String,
    pub kind: String,
    pub pid: u32,
    cpu_start: Option<f64>,
    pub peak_rss_mb: f64,
}

/// The processes of a round and when watching began.
#[derive(Debug, Clone)]
pub struct ProcWatch {
    pub procs: Vec<Watched>,
    started: Instant,
}

/// A process's figures over a round.
#[derive(Debug, Clone, serde::Serialize)]
pub struct NodeFigures {
    pub name: String,
    pub kind: String,
    pub pid: u32,
    /// CPU seconds over the round divided by its wall time: the share of one core.
    pub cpu_share: f64,
    pub cpu_seconds: f64,
    /// Peak VmRSS sampled during the round (once a second and at its end).
    pub rss_mb: f64,
}

impl ProcWatch {
    /// Starts watching `(name, kind, pid)`: reads each one's CPU time now.
    pub fn start(procs: &[(String, String, u32)]) -> ProcWatch {
        ProcWatch {
            procs: procs
                .iter()
                .map(|(name, kind, pid)| Watched {
                    name: name.clone(),
                    kind: kind.clone(),
                    pid: *pid,
                    cpu_start: cpu_seconds(*pid),
                    peak_rss_mb: rss_mb(*pid).unwrap_or(0.0),
                })
                .collect(),
            started: Instant::now(),
        }
    }

    /// Samples memory (keeps each peak).
    pub fn sample(&mut self) {
        for p in &mut self.procs {
            if let Some(m) = rss_mb(p.pid) {
                p.peak_rss_mb = p.peak_rss_mb.max(m);
            }
        }
    }

    /// The figures from the start until now.
    pub fn finish(&mut self) -> Vec<NodeFigures> {
        self.sample();
        let wall = self.started.elapsed().as_secs_f64().max(1e-6);
        self.procs
            .iter()
            .map(|p| {
                let used = match (p.cpu_start, cpu_seconds(p.pid)) {
                    (Some(a), Some(b)) => (b - a).max(0.0),
                    _ => 0.0,
                };
                NodeFigures {
                    name: p.name.clone(),
                    kind: p.kind.clone(),
                    pid: p.pid,
                    cpu_share: used / wall,
                    cpu_seconds: used,
                    rss_mb: p.peak_rss_mb,
                }
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_process_has_cpu_time_and_memory() {
        let me = std::process::id();
        let mut x = 0u64;
        for i in 0..2_000_000u64 {
            x = x.wrapping_mul(31).wrapping_add(i);
        }
        assert!(x != 1);
        assert!(cpu_seconds(me).is_some());
        assert!(rss_mb(me).unwrap() > 0.5);
        let mut w = ProcWatch::start(&[("me".into(), "bench".into(), me)]);
        let f = w.finish();
        assert_eq!(f[0].pid, me);
        assert!(f[0].cpu_share >= 0.0);
    }
}
