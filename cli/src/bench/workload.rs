//! The workload file of `cellchain bench` (YAML), parsed and checked. Every
//! error names the field (`rounds[1].workload.kind: ...`).

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{anyhow, bail, Context};
use serde::Deserialize;

/// A workload: how to get a network, the chaincode, and the rounds to run.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Workload {
    pub name: String,
    #[serde(default)]
    pub description: String,
    /// How to start a network when none runs in the bench directory.
    #[serde(default)]
    pub network: Option<NetworkSpec>,
    /// The channel to run on (default: the network's first contract channel).
    #[serde(default)]
    pub channel: Option<String>,
    /// The chaincode of the key-value rounds, and its endorsement policy.
    #[serde(default)]
    pub chaincode: Option<ChaincodeSpec>,
    pub rounds: Vec<Round>,
    /// The file it was read from (absolute), set by [`Workload::load`].
    #[serde(skip)]
    pub file: PathBuf,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NetworkSpec {
    /// The topology (network file), relative to the workload file.
    pub topology: PathBuf,
    /// Contract crates to build and deploy, relative to the workspace root.
    #[serde(default)]
    pub contracts: Vec<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChaincodeSpec {
    pub name: String,
    /// An explicit endorsement policy (Fabric syntax); default: the network's
    /// rule for the contract.
    #[serde(default)]
    pub policy: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Round {
    pub name: String,
    pub workload: Work,
    #[serde(default = "one")]
    pub workers: usize,
    #[serde(default)]
    pub rate: Rate,
    #[serde(default)]
    pub tx_count: Option<u64>,
    /// `30s`, `2m`, `500ms`.
    #[serde(default)]
    pub duration: Option<String>,
    /// How long to wait for the last transactions to commit once the round
    /// stops submitting (default 60s); the rest count as timed out.
    #[serde(default)]
    pub timeout: Option<String>,
}

fn one() -> usize {
    1
}

/// What each transaction of a round does.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Work {
    /// `put` of a `value_size`-byte value to a new key.
    BlindWrite {
        #[serde(default = "default_value_size")]
        value_size: usize,
    },
    /// `update` of one of `keys` seeded keys (seeded before the round; a key
    /// is never in flight twice). Default keys: twice the in-flight bound.
    ReadModifyWrite {
        #[serde(default = "default_value_size")]
        value_size: usize,
        #[serde(default)]
        keys: Option<u64>,
    },
    /// An evaluation: `get` of one of `keys` seeded keys, or with `range: N`
    /// a `range` over N consecutive keys.
    Query {
        #[serde(default = "default_query_keys")]
        keys: u64,
        #[serde(default = "default_value_size")]
        value_size: usize,
        #[serde(default)]
        range: u64,
    },
    /// The patient-batch happy path, case creation to infusion (22
    /// transactions of patient-batch and release per case, each counted);
    /// each worker runs one case at a time.
    PatientBatch {},
}

fn default_value_size() -> usize {
    100
}

fn default_query_keys() -> u64 {
    100
}

impl Work {
    pub fn kind(&self) -> &'static str {
        match self {
            Work::BlindWrite { .. } => "blind_write",
            Work::ReadModifyWrite { .. } => "read_modify_write",
            Work::Query { .. } => "query",
            Work::PatientBatch {} => "patient_batch",
        }
    }
}

/// The rate controller: at most `max_in_flight` transactions between their
/// first endorsement request and their commit (as fast as that allows), or
/// `fixed_tps` started per second across all workers (bounded by
/// `max_in_flight`, default 10,000).
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rate {
    #[serde(default)]
    pub max_in_flight: Option<u64>,
    #[serde(default)]
    pub fixed_tps: Option<f64>,
}

impl Default for Rate {
    fn default() -> Self {
        Rate {
            max_in_flight: Some(100),
            fixed_tps: None,
        }
    }
}

impl Rate {
    pub fn in_flight_bound(&self) -> u64 {
        self.max_in_flight.unwrap_or(10_000)
    }

    pub fn describe(&self) -> String {
        match self.fixed_tps {
            Some(t) => match self.max_in_flight {
                Some(m) => format!("{t} tx/s, at most {m} in flight"),
                None => format!("{t} tx/s"),
            },
            None => format!("max, {} in flight", self.in_flight_bound()),
        }
    }
}

impl Round {
    pub fn duration(&self) -> Option<Duration> {
        self.duration
            .as_deref()
            .map(|d| parse_duration(d).expect("checked by load"))
    }

    pub fn drain_timeout(&self) -> Duration {
        self.timeout
            .as_deref()
            .map_or(Duration::from_secs(60), |d| {
                parse_duration(d).expect("checked by load")
            })
    }
}

impl Workload {
    /// Reads and checks a workload file.
    pub fn load(path: &Path) -> anyhow::Result<Workload> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read workload file {}", path.display()))?;
        let mut w = Self::parse(&text).map_err(|e| anyhow!("{}: {e}", path.display()))?;
        w.file = crate::network::process::absolute(path);
        Ok(w)
    }

    /// Parses and checks workload YAML; the error names the field.
    pub fn parse(text: &str) -> anyhow::Result<Workload> {
        let w: Workload = serde_yaml::from_str(text).map_err(|e| anyhow!("{}", one_line(&e)))?;
        w.check()?;
        Ok(w)
    }

    fn check(&self) -> anyhow::Result<()> {
        if self.name.trim().is_empty() {
            bail!("name: must not be empty");
        }
        if self.rounds.is_empty() {
            bail!("rounds: give at least one round");
        }
        if let Some(c) = &self.chaincode {
            if c.name.trim().is_empty() {
                bail!("chaincode.name: must not be empty");
            }
            if let Some(p) = &c.policy {
                cellchain_core::policy::SignaturePolicy::parse(p)
                    .map_err(|e| anyhow!("chaincode.policy: {p:?} is not a policy: {e}"))?;
            }
        }
        let mut names = std::collections::BTreeSet::new();
        for (i, r) in self.rounds.iter().enumerate() {
            let at = format!("rounds[{i}]");
            if r.name.trim().is_empty() {
                bail!("{at}.name: must not be empty");
            }
            if !names.insert(r.name.as_str()) {
                bail!("{at}.name: round {} is listed twice", r.name);
            }
            if r.workers == 0 {
                bail!("{at}.workers: must be at least 1");
            }
            match (r.tx_count, &r.duration) {
                (None, None) => bail!("{at}: give tx_count or duration"),
                (Some(_), Some(_)) => bail!("{at}: give tx_count or duration, not both"),
                (Some(0), _) => bail!("{at}.tx_count: must be at least 1"),
                (_, Some(d)) => {
                    parse_duration(d).map_err(|e| anyhow!("{at}.duration: {e}"))?;
                }
                _ => {}
            }
            if let Some(t) = &r.timeout {
                parse_duration(t).map_err(|e| anyhow!("{at}.timeout: {e}"))?;
            }
            if r.rate.max_in_flight == Some(0) {
                bail!("{at}.rate.max_in_flight: must be at least 1");
            }
            if let Some(t) = r.rate.fixed_tps {
                if !(t > 0.0 && t.is_finite()) {
                    bail!("{at}.rate.fixed_tps: must be a positive number");
                }
            }
            let needs_kv = !matches!(r.workload, Work::PatientBatch {});
            if needs_kv && self.chaincode.is_none() {
                bail!(
                    "chaincode: round {} ({}) needs the chaincode to call: add `chaincode: \
                     {{ name: bench-kv }}`",
                    r.name,
                    r.workload.kind()
                );
            }
            match &r.workload {
                Work::BlindWrite { value_size } | Work::ReadModifyWrite { value_size, .. } => {
                    if *value_size > 64 * 1024 {
                        bail!("{at}.workload.value_size: at most 65536 bytes");
                    }
                }
                Work::Query {
                    keys,
                    value_size,
                    range,
                } => {
                    if *keys == 0 {
                        bail!("{at}.workload.keys: must be at least 1");
                    }
                    if *range > *keys {
                        bail!("{at}.workload.range: at most keys ({keys})");
                    }
                    if *value_size > 64 * 1024 {
                        bail!("{at}.workload.value_size: at most 65536 bytes");
                    }
                }
                Work::PatientBatch {} => {}
            }
            if let Work::ReadModifyWrite { keys: Some(0), .. } = r.workload {
                bail!("{at}.workload.keys: must be at least 1");
            }
        }
        Ok(())
    }

    /// The topology file, resolved against the workload file's directory.
    pub fn topology(&self) -> Option<PathBuf> {
        self.network.as_ref().map(|n| {
            if n.topology.is_absolute() {
                n.topology.clone()
            } else {
                self.file
                    .parent()
                    .unwrap_or(Path::new("."))
                    .join(&n.topology)
            }
        })
    }
}

/// A serde_yaml error on one line (its location included).
fn one_line(e: &serde_yaml::Error) -> String {
    e.to_string()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

/// `250ms`, `30s`, `2m`, `1.5s`.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let t = text.trim();
    let (num, unit) = match t.find(|c: char| !(c.is_ascii_digit() || c == '.')) {
        Some(i) => t.split_at(i),
        None => (t, "s"),
    };
    let n: f64 = num
        .parse()
        .map_err(|_| format!("{text:?} is not a duration (e.g. 500ms, 30s, 2m)"))?;
    let secs = match unit.trim() {
        "ms" => n / 1000.0,
        "s" => n,
        "m" | "min" => n * 60.0,
        _ => return Err(format!("{text:?} is not a duration (e.g. 500ms, 30s, 2m)")),
    };
    if !(secs > 0.0 && secs.is_finite()) {
        return Err(format!("{text:?} must be positive"));
    }
    Ok(Duration::from_secs_f64(secs))
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
name: t
network: { topology: topo.yaml, contracts: [chaincode/contracts/bench-kv] }
channel: bench
chaincode: { name: bench-kv, policy: "OR('Org1MSP.peer', 'Org2MSP.peer')" }
rounds:
  - name: w
    workload: { kind: blind_write, value_size: 100 }
    workers: 4
    rate: { max_in_flight: 2000 }
    tx_count: 20
  - name: r
    workload: { kind: read_modify_write }
    rate: { fixed_tps: 30 }
    duration: 2s
  - name: q
    workload: { kind: query, keys: 10, range: 5 }
    tx_count: 5
"#;

    #[test]
    fn a_workload_parses_with_its_defaults() {
        let w = Workload::parse(GOOD).unwrap();
        assert_eq!(w.rounds.len(), 3);
        assert_eq!(w.rounds[0].workers, 4);
        assert_eq!(
            w.rounds[1].workload,
            Work::ReadModifyWrite {
                value_size: 100,
                keys: None
            }
        );
        assert_eq!(w.rounds[1].duration(), Some(Duration::from_secs(2)));
        assert_eq!(w.rounds[2].rate.in_flight_bound(), 100);
    }

    #[test]
    fn errors_name_the_field() {
        let bad_kind = GOOD.replace("kind: blind_write", "kind: blind_wrte");
        let e = Workload::parse(&bad_kind).unwrap_err().to_string();
        assert!(
            e.contains("rounds[0].workload") && e.contains("blind_wrte"),
            "{e}"
        );
        assert!(!e.contains('\n'), "{e}");
        let e = Workload::parse("name: t\nchaincode: { name: x }\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("rounds"), "{e}");
        let e = Workload::parse(&GOOD.replace("tx_count: 5", ""))
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("rounds[2]: give tx_count or duration"), "{e}");
        let e = Workload::parse(&GOOD.replace("duration: 2s", "duration: 2x"))
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("rounds[1].duration:"), "{e}");
        let e = Workload::parse(&GOOD.replace("workers: 4", "workerz: 4"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("workerz"), "{e}");
    }
}
