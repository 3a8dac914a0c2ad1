//! Prometheus text exposition of the committer's counters and gauges, per channel.

use std::fmt::Write;
use std::sync::atomic::Ordering;

use crate::channel::ChannelShared;
use crate::service::App;

/// Renders every metric in Prometheus text format 0.0.4.
pub fn render(app: &App) -> String {
    let mut out = String::new();
    let mut channels: Vec<&ChannelShared> = app.channels.values().map(|c| c.as_ref()).collect();
    channels.sort_by(|a, b| a.channel.cmp(&b.channel));
    let l = |a: &std::sync::atomic::AtomicU64| a.load(Ordering::Relaxed);
    let mut metric =
        |name: &str, help: &str, kind: &str, value: &dyn Fn(&ChannelShared) -> String| {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
            for ch in &channels {
                let _ = writeln!(out, "{name}{{channel=\"{}\"}} {}", ch.channel, value(ch));
            }
        };
    metric(
        "cellchain_committer_block_height",
        "Blocks committed (block files and state).",
        "gauge",
        &|c| c.block_height().to_string(),
    );
    metric(
        "cellchain_committer_blocks_committed_total",
        "Blocks validated and committed since start.",
        "counter",
        &|c| l(&c.status.blocks_committed).to_string(),
    );
    metric(
        "cellchain_committer_blocks_refused_total",
        "Blocks from orderers refused (not extending the chain, no consenter signature).",
        "counter",
        &|c| l(&c.status.blocks_refused).to_string(),
    );
    metric(
        "cellchain_committer_orderer_failovers_total",
        "Switches to another orderer endpoint.",
        "counter",
        &|c| l(&c.status.failovers).to_string(),
    );
    metric(
        "cellchain_committer_validation_seconds_total",
        "Time spent validating blocks.",
        "counter",
        &|c| format!("{:.6}", l(&c.status.validation_us) as f64 / 1e6),
    );
    metric(
        "cellchain_committer_commit_seconds_total",
        "Time spent writing blocks and state (fsync included).",
        "counter",
        &|c| format!("{:.6}", l(&c.status.commit_us) as f64 / 1e6),
    );
    metric(
        "cellchain_committer_private_values_stored_total",
        "Private writes (values and deletes) fetched at commit, matched against the block's hashes and stored.",
        "counter",
        &|c| l(&c.status.private_stored).to_string(),
    );
    metric(
        "cellchain_committer_private_data_missing_total",
        "Private data needs (transaction, namespace, collection) committed without their values after private_data_timeout.",
        "counter",
        &|c| l(&c.status.private_missing).to_string(),
    );
    metric(
        "cellchain_committer_private_data_mismatches_total",
        "Private data offered by a source that did not match the block's hashes (not stored).",
        "counter",
        &|c| l(&c.status.private_mismatches).to_string(),
    );
    let name = "cellchain_committer_transactions_total";
    let _ = writeln!(
        out,
        "# HELP {name} Transactions committed, by validation code.\n# TYPE {name} counter"
    );
    for ch in &channels {
        for (code, n) in ch.status.tx_codes.lock().expect("status lock").iter() {
            let _ = writeln!(
                out,
                "{name}{{channel=\"{}\",code=\"{}\"}} {n}",
                ch.channel,
                code.name()
            );
        }
    }
    out
}
