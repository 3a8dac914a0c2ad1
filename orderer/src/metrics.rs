//! Prometheus text exposition of the orderer's counters and gauges, per channel.

use std::fmt::Write;
use std::sync::atomic::Ordering;

use crate::service::App;

/// Renders every metric in Prometheus text format 0.0.4.
pub fn render(app: &App) -> String {
    let mut out = String::new();
    let mut channels: Vec<_> = app.channels.values().collect();
    channels.sort_by(|a, b| a.channel.cmp(&b.channel));
    let gauge = |out: &mut String,
                 name: &str,
                 help: &str,
                 kind: &str,
                 value: &dyn Fn(&crate::node::ChannelShared) -> u64| {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
        for ch in &channels {
            let _ = writeln!(out, "{name}{{channel=\"{}\"}} {}", ch.channel, value(ch));
        }
    };
    let l = |a: &std::sync::atomic::AtomicU64| a.load(Ordering::Relaxed);
    gauge(
        &mut out,
        "cellchain_orderer_raft_term",
        "Current Raft term.",
        "gauge",
        &|c| l(&c.status.term),
    );
    gauge(
        &mut out,
        "cellchain_orderer_raft_leader",
        "Raft id of the leader (0: none).",
        "gauge",
        &|c| l(&c.status.leader),
    );
    gauge(
        &mut out,
        "cellchain_orderer_is_leader",
        "1 when this node leads the channel.",
        "gauge",
        &|c| l(&c.status.is_leader),
    );
    gauge(
        &mut out,
        "cellchain_orderer_raft_committed_index",
        "Raft commit index.",
        "gauge",
        &|c| l(&c.status.commit_index),
    );
    gauge(
        &mut out,
        "cellchain_orderer_raft_applied_index",
        "Raft applied index.",
        "gauge",
        &|c| l(&c.status.applied_index),
    );
    gauge(
        &mut out,
        "cellchain_orderer_block_height",
        "Blocks in this node's block store.",
        "gauge",
        &|c| c.block_height(),
    );
    gauge(
        &mut out,
        "cellchain_orderer_last_batch_size",
        "Envelopes in the last block this node proposed.",
        "gauge",
        &|c| l(&c.status.last_batch_size),
    );
    gauge(
        &mut out,
        "cellchain_orderer_blocks_proposed_total",
        "Blocks proposed as leader.",
        "counter",
        &|c| l(&c.status.blocks_proposed),
    );
    gauge(
        &mut out,
        "cellchain_orderer_envelopes_ordered_total",
        "Envelopes appended to the block store.",
        "counter",
        &|c| l(&c.status.envelopes_ordered),
    );
    gauge(
        &mut out,
        "cellchain_orderer_duplicates_dropped_total",
        "Envelopes not proposed again because their tx id was ordered or in flight.",
        "counter",
        &|c| l(&c.status.duplicates_dropped),
    );
    gauge(
        &mut out,
        "cellchain_orderer_snapshots_total",
        "Raft log compactions.",
        "counter",
        &|c| l(&c.status.snapshots_taken),
    );
    gauge(
        &mut out,
        "cellchain_orderer_blocks_pulled_total",
        "Blocks pulled from other orderers to catch up.",
        "counter",
        &|c| l(&c.status.blocks_pulled),
    );

    let name = "cellchain_orderer_admission_rejects_total";
    let _ = writeln!(
        out,
        "# HELP {name} Broadcast envelopes refused, by reason.\n# TYPE {name} counter"
    );
    for ch in &channels {
        for (reason, n) in ch.rejects.lock().expect("rejects lock").iter() {
            let _ = writeln!(
                out,
                "{name}{{channel=\"{}\",reason=\"{reason}\"}} {n}",
                ch.channel
            );
        }
    }
    let name = "cellchain_orderer_cluster_rejects_total";
    let _ = writeln!(out, "# HELP {name} Cluster requests refused (not a consenter, bad signature, ...), by reason.\n# TYPE {name} counter");
    for (reason, n) in app.cluster_rejects.lock().expect("rejects lock").iter() {
        let _ = writeln!(out, "{name}{{reason=\"{reason}\"}} {n}");
    }
    let c = &app.transport.counters;
    let _ = writeln!(out, "# HELP cellchain_orderer_cluster_batches_sent_total Batches sent to other orderers.\n# TYPE cellchain_orderer_cluster_batches_sent_total counter\ncellchain_orderer_cluster_batches_sent_total {}", c.batches_sent.load(Ordering::Relaxed));
    let _ = writeln!(out, "# HELP cellchain_orderer_cluster_send_failures_total Batches that could not be sent.\n# TYPE cellchain_orderer_cluster_send_failures_total counter\ncellchain_orderer_cluster_send_failures_total {}", c.send_failures.load(Ordering::Relaxed));
    let _ = writeln!(out, "# HELP cellchain_orderer_cluster_queue_drops_total Items dropped because a peer's queue was full.\n# TYPE cellchain_orderer_cluster_queue_drops_total counter\ncellchain_orderer_cluster_queue_drops_total {}", c.queue_drops.load(Ordering::Relaxed));
    out
}
