//! Prometheus text exposition of the endorser's counters, the simulation time
//! histogram and the replicas' gauges.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;
use std::time::Duration;

use crate::checks::Mode;
use crate::endorse::Endorser;

/// Upper bounds (seconds) of the simulation time histogram's buckets.
const BUCKETS: [f64; 10] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 2.5,
];

#[derive(Default)]
struct Histogram {
    /// Cumulative counts are computed at render time; these are per bucket,
    /// the last one for values above every bound.
    counts: [u64; BUCKETS.len() + 1],
    sum: f64,
    count: u64,
}

/// The endorser's own counters (replica gauges are read from the replicas).
#[derive(Default)]
pub struct Metrics {
    /// (channel, mode, outcome) -> proposals.
    outcomes: Mutex<BTreeMap<(String, &'static str, &'static str), u64>>,
    simulation: Mutex<Histogram>,
    /// (channel, outcome) -> requests for private writes.
    private_requests: Mutex<BTreeMap<(String, &'static str), u64>>,
    /// (channel) -> transactions whose private writes were served.
    private_txs_served: Mutex<BTreeMap<String, u64>>,
}

impl Metrics {
    pub fn count(&self, channel: &str, mode: Mode, outcome: &'static str) {
        *self
            .outcomes
            .lock()
            .expect("metrics lock")
            .entry((channel.to_string(), mode.as_str(), outcome))
            .or_default() += 1;
    }

    /// Proposals counted for `(channel, mode, outcome)`.
    pub fn outcome(&self, channel: &str, mode: Mode, outcome: &str) -> u64 {
        self.outcomes
            .lock()
            .expect("metrics lock")
            .iter()
            .filter(|((c, m, o), _)| c == channel && *m == mode.as_str() && *o == outcome)
            .map(|(_, n)| n)
            .sum()
    }

    /// One request for private writes with its `outcome` (`served` or the
    /// refusal's kind) and the transactions it was served.
    pub fn count_private(&self, channel: &str, outcome: &'static str, txs: u64) {
        *self
            .private_requests
            .lock()
            .expect("metrics lock")
            .entry((channel.to_string(), outcome))
            .or_default() += 1;
        if txs > 0 {
            *self
                .private_txs_served
                .lock()
                .expect("metrics lock")
                .entry(channel.to_string())
                .or_default() += txs;
        }
    }

    /// Requests for private writes counted for `(channel, outcome)`.
    pub fn private_outcome(&self, channel: &str, outcome: &str) -> u64 {
        self.private_requests
            .lock()
            .expect("metrics lock")
            .iter()
            .filter(|((c, o), _)| c == channel && *o == outcome)
            .map(|(_, n)| n)
            .sum()
    }

    pub fn observe_simulation(&self, elapsed: Duration) {
        let secs = elapsed.as_secs_f64();
        let mut h = self.simulation.lock().expect("metrics lock");
        let i = BUCKETS
            .iter()
            .position(|b| secs <= *b)
            .unwrap_or(BUCKETS.len());
        h.counts[i] += 1;
        h.sum += secs;
        h.count += 1;
    }
}

/// Renders every metric in Prometheus text format 0.0.4.
pub fn render(e: &Endorser) -> String {
    let mut out = String::new();
    let name = "cellchain_endorser_proposals_total";
    let _ = writeln!(
        out,
        "# HELP {name} Proposals answered, by channel, mode (endorse, evaluate) and outcome (endorsed, evaluated, chaincode_error or the refusal's kind).\n# TYPE {name} counter"
    );
    for ((channel, mode, outcome), n) in e.metrics.outcomes.lock().expect("metrics lock").iter() {
        let _ = writeln!(
            out,
            "{name}{{channel=\"{channel}\",mode=\"{mode}\",outcome=\"{outcome}\"}} {n}"
        );
    }

    let name = "cellchain_endorser_private_requests_total";
    let _ = writeln!(
        out,
        "# HELP {name} Requests for private writes (member committers), by channel and outcome (served or the refusal's kind).\n# TYPE {name} counter"
    );
    for ((channel, outcome), n) in e
        .metrics
        .private_requests
        .lock()
        .expect("metrics lock")
        .iter()
    {
        let _ = writeln!(
            out,
            "{name}{{channel=\"{channel}\",outcome=\"{outcome}\"}} {n}"
        );
    }
    let name = "cellchain_endorser_private_txs_served_total";
    let _ = writeln!(
        out,
        "# HELP {name} Transactions whose private writes were served to member committers.\n# TYPE {name} counter"
    );
    for (channel, n) in e
        .metrics
        .private_txs_served
        .lock()
        .expect("metrics lock")
        .iter()
    {
        let _ = writeln!(out, "{name}{{channel=\"{channel}\"}} {n}");
    }

    let name = "cellchain_endorser_simulation_seconds";
    let _ = writeln!(
        out,
        "# HELP {name} Time to run a chaincode against the replica.\n# TYPE {name} histogram"
    );
    {
        let h = e.metrics.simulation.lock().expect("metrics lock");
        let mut cumulative = 0;
        for (i, bound) in BUCKETS.iter().enumerate() {
            cumulative += h.counts[i];
            let _ = writeln!(out, "{name}_bucket{{le=\"{bound}\"}} {cumulative}");
        }
        let _ = writeln!(out, "{name}_bucket{{le=\"+Inf\"}} {}", h.count);
        let _ = writeln!(out, "{name}_sum {}", h.sum);
        let _ = writeln!(out, "{name}_count {}", h.count);
    }

    let gauge = |out: &mut String,
                 name: &str,
                 help: &str,
                 kind: &str,
                 value: &dyn Fn(&crate::replica::Replica) -> u64| {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
        for (channel, ch) in &e.channels {
            let _ = writeln!(
                out,
                "{name}{{channel=\"{channel}\"}} {}",
                value(&ch.replica)
            );
        }
    };
    gauge(
        &mut out,
        "cellchain_endorser_replica_height",
        "Blocks applied to the state replica.",
        "gauge",
        &|r| r.height(),
    );
    gauge(
        &mut out,
        "cellchain_endorser_feed_connected",
        "1 while the committer's block feed is connected.",
        "gauge",
        &|r| r.is_connected() as u64,
    );
    gauge(
        &mut out,
        "cellchain_endorser_blocks_applied_total",
        "Blocks applied from the feed by this process.",
        "counter",
        &|r| r.blocks_applied(),
    );
    gauge(
        &mut out,
        "cellchain_endorser_feed_failures_total",
        "Feed connections that failed or ended.",
        "counter",
        &|r| r.feed_failures(),
    );
    gauge(
        &mut out,
        "cellchain_endorser_private_values_stored_total",
        "Private values of the organisation's collections stored in the replica with their blocks.",
        "counter",
        &|r| r.private_stored(),
    );
    gauge(
        &mut out,
        "cellchain_endorser_private_values_missing_total",
        "Collections' private values of applied blocks the committer did not offer or offered not matching the block's hashes.",
        "counter",
        &|r| r.private_missing(),
    );
    let _ = writeln!(
        out,
        "# HELP cellchain_endorser_private_entries Transactions whose private writes are held for dissemination.\n# TYPE cellchain_endorser_private_entries gauge\ncellchain_endorser_private_entries {}",
        e.private.len()
    );
    out
}
