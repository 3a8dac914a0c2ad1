//! The figures of a round, and the three reports: a terminal table, JSON
//! (`--json`) and a self-contained HTML page with inline SVG charts
//! (`--html`).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::Ordering;
use std::time::Duration;

use serde::Serialize;

use super::procstat::NodeFigures;
use super::runner::RoundCtx;
use super::workload::Round;

/// One round's results (the JSON report is an array of these).
#[derive(Debug, Clone, Serialize)]
pub struct RoundReport {
    pub name: String,
    pub kind: String,
    pub workers: usize,
    pub rate: String,
    pub submitted: u64,
    /// Committed as VALID (for query rounds: evaluations answered).
    pub committed: u64,
    /// Failures by validation code, or `endorse: <kind>`, `broadcast: <kind>`,
    /// `evaluate: <kind>`; empty when none failed.
    pub failed: BTreeMap<String, u64>,
    /// Submitted but neither committed nor failed when the round's drain
    /// timeout passed.
    pub timed_out: u64,
    /// Seconds from the first submit to the last commit.
    pub elapsed_s: f64,
    /// Seconds the round submitted for.
    pub submit_s: f64,
    /// Committed transactions per second over `elapsed_s`.
    pub tps: f64,
    pub p50_ms: f64,
    pub p90_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
    pub mean_ms: f64,
    /// CPU time of every process listed (nodes and the bench itself) per
    /// committed transaction.
    pub cpu_ms_per_tx: f64,
    /// Each node process and the bench: CPU share of one core over the round,
    /// CPU seconds, peak resident memory.
    pub nodes: Vec<NodeFigures>,
    /// Committed transactions in each second of the round (from its start).
    pub tps_series: Vec<u64>,
    /// Median latency (ms) of the transactions committed in each second.
    pub p50_series: Vec<f64>,
    /// Largest latency (ms) of those transactions, per second.
    pub max_series: Vec<f64>,
    /// One message per failure kind.
    pub failure_examples: BTreeMap<String, String>,
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    // Nearest rank.
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

impl RoundReport {
    pub fn new(
        round: &Round,
        rc: &RoundCtx,
        timed_out: u64,
        issued: Duration,
        nodes: Vec<NodeFigures>,
    ) -> RoundReport {
        let st = rc.stats.lock().expect("stats");
        let mut lat: Vec<f64> = st.samples.iter().map(|s| s.1).collect();
        lat.sort_by(f64::total_cmp);
        let committed = rc.committed.load(Ordering::SeqCst);
        let elapsed = match (st.first_submit, st.last_commit) {
            (Some(a), Some(b)) if b > a => b.duration_since(a).as_secs_f64(),
            _ => 0.0,
        };
        let secs = st.samples.iter().map(|s| s.0).fold(0.0, f64::max).ceil() as usize;
        let mut per_sec: Vec<Vec<f64>> = vec![Vec::new(); secs.max(1)];
        for (at, l) in &st.samples {
            let i = (*at as usize).min(per_sec.len() - 1);
            per_sec[i].push(*l);
        }
        let tps_series = per_sec.iter().map(|v| v.len() as u64).collect();
        let p50_series = per_sec
            .iter_mut()
            .map(|v| {
                v.sort_by(f64::total_cmp);
                percentile(v, 50.0)
            })
            .collect();
        let max_series = per_sec
            .iter()
            .map(|v| v.last().copied().unwrap_or(0.0))
            .collect();
        let cpu: f64 = nodes.iter().map(|n| n.cpu_seconds).sum();
        let mut failed = st.failed.clone();
        failed.retain(|_, n| *n > 0);
        RoundReport {
            name: round.name.clone(),
            kind: round.workload.kind().into(),
            workers: round.workers,
            rate: round.rate.describe(),
            submitted: rc.submitted.load(Ordering::SeqCst),
            committed,
            failed,
            timed_out,
            elapsed_s: elapsed,
            submit_s: issued.as_secs_f64(),
            tps: if elapsed > 0.0 {
                committed as f64 / elapsed
            } else {
                0.0
            },
            p50_ms: percentile(&lat, 50.0),
            p90_ms: percentile(&lat, 90.0),
            p99_ms: percentile(&lat, 99.0),
            max_ms: lat.last().copied().unwrap_or(0.0),
            mean_ms: if lat.is_empty() {
                0.0
            } else {
                lat.iter().sum::<f64>() / lat.len() as f64
            },
            cpu_ms_per_tx: if committed > 0 {
                cpu * 1000.0 / committed as f64
            } else {
                0.0
            },
            nodes,
            tps_series,
            p50_series,
            max_series,
            failure_examples: st.examples.clone(),
        }
    }

    pub fn failed_total(&self) -> u64 {
        self.failed.values().sum()
    }
}

fn ms(v: f64) -> String {
    if v >= 10_000.0 {
        format!("{:.1}s", v / 1000.0)
    } else if v >= 100.0 {
        format!("{v:.0}ms")
    } else {
        format!("{v:.1}ms")
    }
}

/// Rows as a table with a header, columns padded to their widths.
fn table(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = header.iter().map(|h| h.len()).collect();
    for r in rows {
        for (w, c) in widths.iter_mut().zip(r) {
            *w = (*w).max(c.len());
        }
    }
    let mut out = String::new();
    let mut line = |cells: Vec<&str>| {
        let s: Vec<String> = cells
            .iter()
            .zip(&widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect();
        out += s.join("  ").trim_end();
        out.push('\n');
    };
    line(header.to_vec());
    for r in rows {
        line(r.iter().map(String::as_str).collect());
    }
    out
}

/// The terminal report.
pub fn text(workload: &str, rounds: &[RoundReport]) -> String {
    let mut out = format!("\n== {workload}: results ==\n");
    let rows: Vec<Vec<String>> = rounds
        .iter()
        .map(|r| {
            vec![
                r.name.clone(),
                r.kind.clone(),
                r.submitted.to_string(),
                r.committed.to_string(),
                r.failed_total().to_string(),
                r.timed_out.to_string(),
                format!("{:.1}", r.tps),
                ms(r.p50_ms),
                ms(r.p90_ms),
                ms(r.p99_ms),
                ms(r.max_ms),
                format!("{:.2}", r.cpu_ms_per_tx),
            ]
        })
        .collect();
    out += &table(
        &[
            "ROUND",
            "KIND",
            "SUBMITTED",
            "COMMITTED",
            "FAILED",
            "TIMED OUT",
            "TPS",
            "P50",
            "P90",
            "P99",
            "MAX",
            "CPU MS/TX",
        ],
        &rows,
    );
    for r in rounds {
        let _ = writeln!(
            out,
            "\n-- {} ({}, {} workers, {}): {:.1}s from first submit to last commit --",
            r.name, r.kind, r.workers, r.rate, r.elapsed_s
        );
        for (kind, n) in &r.failed {
            let example = r.failure_examples.get(kind).map_or("", String::as_str);
            let _ = writeln!(out, "  failed {kind}: {n}  (e.g. {example})");
        }
        let rows: Vec<Vec<String>> = r
            .nodes
            .iter()
            .map(|n| {
                vec![
                    n.name.clone(),
                    n.kind.clone(),
                    n.pid.to_string(),
                    format!("{:.0}%", n.cpu_share * 100.0),
                    format!("{:.1}", n.cpu_seconds),
                    format!("{:.0}", n.rss_mb),
                ]
            })
            .collect();
        out += &table(&["PROCESS", "KIND", "PID", "CPU", "CPU S", "RSS MB"], &rows);
    }
    out
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// A line chart of `series` (one point per second) as inline SVG.
fn chart(title: &str, unit: &str, series: &[(&str, &str, Vec<f64>)]) -> String {
    let (w, h, left, bottom, top, right) = (720.0, 240.0, 60.0, 30.0, 24.0, 16.0);
    let n = series.iter().map(|s| s.2.len()).max().unwrap_or(0).max(2);
    let max = series
        .iter()
        .flat_map(|s| s.2.iter().copied())
        .fold(0.0, f64::max)
        .max(1e-9);
    let x = |i: usize| left + (w - left - right) * i as f64 / (n - 1) as f64;
    let y = |v: f64| top + (h - top - bottom) * (1.0 - v / max);
    let mut svg = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" \
         viewBox=\"0 0 {w} {h}\" role=\"img\" aria-label=\"{}\">\n\
         <rect width=\"{w}\" height=\"{h}\" fill=\"#fff\"/>\n\
         <text x=\"{left}\" y=\"16\" font-size=\"13\" font-family=\"sans-serif\">{}</text>\n",
        esc(title),
        esc(title)
    );
    for k in 0..=4 {
        let v = max * k as f64 / 4.0;
        let yy = y(v);
        let _ = writeln!(
            svg,
            "<line x1=\"{left}\" y1=\"{yy:.1}\" x2=\"{:.1}\" y2=\"{yy:.1}\" stroke=\"#ddd\"/>\
             <text x=\"{:.1}\" y=\"{:.1}\" font-size=\"10\" text-anchor=\"end\" \
             font-family=\"sans-serif\">{:.0}{unit}</text>",
            w - right,
            left - 4.0,
            yy + 3.0,
            v
        );
    }
    let _ = writeln!(
        svg,
        "<text x=\"{:.1}\" y=\"{:.1}\" font-size=\"10\" text-anchor=\"middle\" \
         font-family=\"sans-serif\">seconds since the round started (0-{})</text>",
        (w + left) / 2.0,
        h - 6.0,
        n - 1
    );
    for (k, (name, color, values)) in series.iter().enumerate() {
        let points: Vec<String> = values
            .iter()
            .enumerate()
            .map(|(i, v)| format!("{:.1},{:.1}", x(i), y(*v)))
            .collect();
        let _ = writeln!(
            svg,
            "<polyline fill=\"none\" stroke=\"{color}\" stroke-width=\"2\" points=\"{}\"/>\
             <text x=\"{:.1}\" y=\"16\" font-size=\"11\" fill=\"{color}\" \
             font-family=\"sans-serif\">{}</text>",
            points.join(" "),
            w - right - 140.0 + 70.0 * k as f64,
            esc(name)
        );
    }
    svg.push_str("</svg>\n");
    svg
}

/// The HTML report: a summary table, then per round its figures, processes
/// and two charts (throughput per second; latency per second).
pub fn html(workload: &str, description: &str, rounds: &[RoundReport]) -> String {
    let mut h = format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <title>cellchain bench: {}</title>\n<style>\
         body{{font-family:sans-serif;margin:2em;color:#222}}\
         table{{border-collapse:collapse;margin:1em 0}}\
         td,th{{border:1px solid #ccc;padding:4px 8px;text-align:right}}\
         th{{background:#f4f4f4}} td:first-child,th:first-child{{text-align:left}}\
         </style></head><body>\n<h1>cellchain bench: {}</h1>\n<p>{}</p>\n",
        esc(workload),
        esc(workload),
        esc(description)
    );
    h += "<table><tr><th>round</th><th>kind</th><th>submitted</th><th>committed</th>\
          <th>failed</th><th>timed out</th><th>tx/s</th><th>p50 ms</th><th>p90 ms</th>\
          <th>p99 ms</th><th>max ms</th><th>CPU ms/tx</th></tr>\n";
    for r in rounds {
        let _ = writeln!(
            h,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td>\
             <td>{:.1}</td><td>{:.1}</td><td>{:.1}</td><td>{:.1}</td><td>{:.1}</td>\
             <td>{:.2}</td></tr>",
            esc(&r.name),
            esc(&r.kind),
            r.submitted,
            r.committed,
            r.failed_total(),
            r.timed_out,
            r.tps,
            r.p50_ms,
            r.p90_ms,
            r.p99_ms,
            r.max_ms,
            r.cpu_ms_per_tx
        );
    }
    h += "</table>\n";
    for r in rounds {
        let _ = writeln!(
            h,
            "<h2>{}</h2>\n<p>{} with {} workers, rate {}; {:.1} s from the first submit to the \
             last commit.</p>",
            esc(&r.name),
            esc(&r.kind),
            r.workers,
            esc(&r.rate),
            r.elapsed_s
        );
        if !r.failed.is_empty() {
            h += "<ul>";
            for (k, n) in &r.failed {
                let _ = write!(
                    h,
                    "<li>failed {}: {n} (e.g. {})</li>",
                    esc(k),
                    esc(r.failure_examples.get(k).map_or("", String::as_str))
                );
            }
            h += "</ul>\n";
        }
        let tps: Vec<f64> = r.tps_series.iter().map(|v| *v as f64).collect();
        h += &chart(
            "committed transactions per second",
            "",
            &[("tx/s", "#1f77b4", tps)],
        );
        h += &chart(
            "latency of the transactions committed in each second",
            "ms",
            &[
                ("p50", "#2ca02c", r.p50_series.clone()),
                ("max", "#d62728", r.max_series.clone()),
            ],
        );
        h += "<table><tr><th>process</th><th>kind</th><th>pid</th><th>CPU (share of one core)</th>\
              <th>CPU s</th><th>peak RSS MB</th></tr>\n";
        for n in &r.nodes {
            let _ = writeln!(
                h,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{:.0}%</td><td>{:.1}</td><td>{:.0}</td></tr>",
                esc(&n.name),
                esc(&n.kind),
                n.pid,
                n.cpu_share * 100.0,
                n.cpu_seconds,
                n.rss_mb
            );
        }
        h += "</table>\n";
    }
    h += "</body></html>\n";
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_are_nearest_rank() {
        let v: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(percentile(&v, 50.0), 50.0);
        assert_eq!(percentile(&v, 99.0), 99.0);
        assert_eq!(percentile(&v, 100.0), 100.0);
        assert_eq!(percentile(&[], 50.0), 0.0);
        assert_eq!(percentile(&[7.0], 99.0), 7.0);
    }

    #[test]
    fn the_chart_is_svg() {
        let c = chart("t<", "ms", &[("a", "#000", vec![1.0, 3.0, 2.0])]);
        assert!(c.starts_with("<svg") && c.contains("polyline") && c.contains("t&lt;"));
    }
}
