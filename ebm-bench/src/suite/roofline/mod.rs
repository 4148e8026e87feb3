//! `ebm suite --roofline`: the machine's measured peaks ([`peaks`]) and,
//! for every workload just run, the rate it achieves of each resource its
//! work needs ([`work`]) as a fraction of the peak of every core at once.
//! The resource with the largest fraction is the nearest bound; a
//! workload far below every peak is bound by something else (latency,
//! dependencies, bookkeeping), which its profile in docs/performance.md
//! names.
//!
//! Written as `roofline.json` and `roofline.md` beside the suite's results.

mod peaks;
mod work;

use super::Record;
use crate::error::CliResult;
use peaks::Peak;
use serde_json::{json, Value};
use std::fmt::Write;

/// One resource of one record against its peak.
struct Row<'a> {
    record: &'a Record,
    demand: work::Demand,
    /// Achieved rate in the peak's unit (10^9 base units per second).
    achieved: f64,
    peak: Option<&'a Peak>,
}

/// Measure the peaks (each kernel about `seconds` per thread count, on 1
/// and `threads` threads) and set `records` against them; returns the
/// JSON and the markdown of `roofline.json` and `roofline.md`, written
/// into `dir`.
pub fn roofline(
    records: &[Record],
    seconds: f64,
    threads: usize,
    dir: &std::path::Path,
) -> CliResult<(Value, String)> {
    let peaks = peaks::measure_peaks(seconds, threads, &peaks::READ_SETS);
    let rows: Vec<Row> = records
        .iter()
        .flat_map(|r| {
            work::demands(r).into_iter().map(|d| Row {
                record: r,
                achieved: r.throughput.value * d.per_unit / 1e9,
                peak: peaks.iter().find(|p| p.name == d.resource),
                demand: d,
            })
        })
        .collect();
    let json = json!({
        "machine": super::machine(),
        "git_revision": super::git_revision(),
        "threads": threads,
        "seconds_per_kernel": seconds,
        "peaks": peaks,
        "workloads": rows.iter().map(|w| json!({
            "workload": w.record.workload, "method": w.record.method,
            "throughput": w.record.throughput, "resource": w.demand.resource,
            "per_unit": w.demand.per_unit, "note": w.demand.note,
            "achieved": w.achieved, "unit": w.peak.map(|p| p.unit.as_str()),
            "peak_all_cores": w.peak.map(|p| p.all_cores),
            "fraction_of_peak": w.peak.map(|p| w.achieved / p.all_cores),
        })).collect::<Vec<_>>(),
    });
    let md = markdown(&peaks, &rows, threads);
    super::write_results(dir, "roofline", &json, &md)?;
    Ok((json, md))
}

fn markdown(peaks: &[Peak], rows: &[Row], threads: usize) -> String {
    let mut md = format!(
        "# Roofline\n\n{}, ebm-rs {}.\n\n## Measured peaks\n\n\
         | kernel | one thread | {threads} threads | unit |\n|---|---|---|---|\n",
        super::machine_line(),
        super::git_revision()
    );
    for p in peaks {
        let _ = writeln!(
            md,
            "| {} | {:.3} | {:.3} | {} |",
            p.name, p.one_thread, p.all_cores, p.unit
        );
    }
    md.push_str(
        "\n## The workloads against them\n\n\
         | workload | method | throughput | resource | per unit | achieved | peak | fraction | counted as |\n\
         |---|---|---|---|---|---|---|---|---|\n",
    );
    for w in rows {
        let (peak, fraction) = match w.peak {
            Some(p) => (
                format!("{:.3} {}", p.all_cores, p.unit),
                format!("{:.0}%", 100.0 * w.achieved / p.all_cores),
            ),
            None => ("-".into(), "-".into()),
        };
        let unit = w.peak.map_or("", |p| p.unit.as_str());
        let _ = writeln!(
            md,
            "| {} | {} | {:.4e} {} | {} | {:.4e} | {:.3} {unit} | {peak} | {fraction} | {} |",
            w.record.workload,
            w.record.method,
            w.record.throughput.value,
            w.record.throughput.unit,
            w.demand.resource,
            w.demand.per_unit,
            w.achieved,
            w.demand.note
        );
    }
    md
}
