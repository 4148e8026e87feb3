//! `ebm suite`: the benchmark workloads of the project (DESIGN.md), each
//! timed and paired with its quality figures, written as a markdown table,
//! `results.json`, `results.md` and plots (plotters, PNG and SVG).
//!
//! W1 (ULA on the 8-Gaussian ring), W2 (HMC on the 100-D AR(1) Gaussian),
//! W3 (AIS log Z of the 64x20 RBM against exact enumeration), W4 (PCD on
//! the binarised digits, AIS log-likelihood), W5 (denoising score matching
//! of an MLP, held-out NLL), W6 (product versus mixture of two soft
//! constraints), W7 (NUTS on W2's Gaussian), W8 (Ising AIS against
//! Kaufman's log Z), W9 (SMC log Z of a 10-D
//! mixture), PT (parallel tempering on a 10-D mixture of separated
//! modes), GWG (Gibbs-with-gradients against site Gibbs on a +-J spin
//! glass) and PL (pseudo-likelihood and ratio matching on exact samples of
//! a frustrated pairwise model).

mod gwg;
mod pl;

mod conv;
mod pt;
mod roofline;
mod scaling;
mod sm;
mod w1;
mod w2;
mod w3;
mod w4;
mod w5;
mod w6;
mod w7;
mod w8;
mod w9;

use crate::draws_file::write_atomically;
use crate::error::{CliError, CliResult};
use clap::Args;
use serde::Serialize;
use serde_json::{json, Value};
use std::fmt::Write;

/// Arguments of `ebm suite`.
#[derive(Debug, Args)]
pub struct SuiteArgs {
    /// Shrink every workload to finish in well under two minutes (CI smoke run).
    #[arg(long)]
    pub quick: bool,
    /// Run only these workloads, e.g. `--only W1,W3`.
    #[arg(long, value_delimiter = ',')]
    pub only: Option<Vec<String>>,
    /// Output folder for results.json, results.md and the plots.
    #[arg(long, default_value = "suite-out")]
    pub out: String,
    /// Seed of every workload.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Print the JSON results instead of the table.
    #[arg(long)]
    pub json: bool,
    /// Measure the cost curves instead of the workloads: throughput
    /// against chains, dimension, RBM size and AIS temperatures at 1 and 2
    /// threads, and `ebm sample`'s peak memory (scaling.json, scaling.md,
    /// scaling.png).
    #[arg(long, conflicts_with = "only")]
    pub scaling: bool,
    /// With --scaling: the peers' results file (JSON lines, from
    /// ../shared/peers run on this machine) whose W1, W2 and W3 figures
    /// are drawn on the curves they match.
    #[arg(long, requires = "scaling")]
    pub peers: Option<String>,
    /// After the workloads, measure the machine's peaks (multiply-adds in
    /// f64 and f32, reads from each cache level and memory, ChaCha8 words,
    /// exponentials) on 1 thread and every core, and give each workload's
    /// achieved fraction of the peaks its work needs (roofline.json,
    /// roofline.md).
    #[arg(long, conflicts_with = "scaling")]
    pub roofline: bool,
}

/// A throughput figure with its unit.
#[derive(Clone, Debug, Serialize)]
pub struct Throughput {
    /// The value per second.
    pub value: f64,
    /// What is counted, per second (e.g. "chain-steps/s").
    pub unit: String,
}

/// One result: a workload run with one method.
#[derive(Clone, Debug, Serialize)]
pub struct Record {
    /// "W1" ... "W9", "PT", "GWG", "PL", "SM", "CONV".
    pub workload: String,
    /// What ran (e.g. "ula").
    pub method: String,
    /// Wall-clock seconds of the timed part.
    pub seconds: f64,
    /// Work per second.
    pub throughput: Throughput,
    /// Quality figures (workload-specific).
    pub quality: Value,
    /// The configuration that ran.
    pub config: Value,
    /// How the seconds were measured.
    pub timing: Option<Timing>,
    /// A one-line summary of the quality for the table.
    #[serde(skip)]
    pub summary: String,
    /// FNV-1a digest of the bits of the workload's result (final states,
    /// log-weights, trained parameters; see [`digest`]), so that a change
    /// meant to keep the same bits can be checked against an earlier
    /// results.json.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub digest: Option<String>,
}

/// A 64-bit FNV-1a digest of the bit patterns of `values`, in order, as
/// 16 hex digits: equal digests mean (up to a 2^-64 chance) identical bits.
pub fn digest(values: &[f64]) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for v in values {
        for b in v.to_bits().to_le_bytes() {
            h ^= b as u64;
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
    }
    format!("{h:016x}")
}

/// Settings shared by all workloads.
pub struct SuiteCtx {
    /// Quick mode.
    pub quick: bool,
    /// Seed.
    pub seed: u64,
    /// Output folder.
    pub out: std::path::PathBuf,
}

/// How a workload's timed part was measured: the seconds of every timed
/// run, and the median that the record reports.
#[derive(Clone, Debug, Serialize)]
pub struct Timing {
    /// The reported seconds: the median of the timed runs.
    pub median: f64,
    /// Every timed run, in order.
    pub runs: Vec<f64>,
    /// Whether an untimed run came first (warm caches, thread pool, page
    /// faults of first use), as the peers measure.
    pub warmed: bool,
}

impl SuiteCtx {
    /// Run `work` as the peers time theirs: once untimed, then three
    /// timed runs whose median is reported (quick mode: one timed run).
    /// Every run does the same seeded work; the last result is returned.
    pub fn timed<T>(&self, work: impl FnMut() -> CliResult<T>) -> CliResult<(T, Timing)> {
        self.timed_reps(3, work)
    }

    /// [`SuiteCtx::timed`] with `reps` timed runs (at least one), for a
    /// workload whose peer takes the median of more runs than three.
    pub fn timed_reps<T>(
        &self,
        reps: usize,
        mut work: impl FnMut() -> CliResult<T>,
    ) -> CliResult<(T, Timing)> {
        let warmed = !self.quick;
        if warmed {
            work()?;
        }
        let reps = if self.quick { 1 } else { reps.max(1) };
        let mut runs = Vec::with_capacity(reps);
        let mut last = None;
        for _ in 0..reps {
            // the run before's result is freed first, so that every run
            // starts with the same memory free: kept alive, its buffers
            // (W2's stored draws, 102 MB) made every other run take
            // fresh pages from the system, whose first writes cost this
            // guest 0.4 s more than the run itself
            drop(last.take());
            let t = std::time::Instant::now();
            let out = work()?;
            runs.push(t.elapsed().as_secs_f64());
            last = Some(out);
        }
        let mut sorted = runs.clone();
        sorted.sort_by(f64::total_cmp);
        let timing = Timing {
            median: sorted[sorted.len() / 2],
            runs,
            warmed,
        };
        Ok((last.expect("at least one run"), timing))
    }

    /// Write a figure into the output folder as `stem.svg` and
    /// `stem.png`; returns the file names.
    pub fn write_plot(&self, stem: &str, fig: &crate::figure::Figure<'_>) -> CliResult<Vec<String>> {
        crate::figure::write_figure(&self.out, stem, fig)
    }
}

const ALL: [&str; 14] = [
    "W1", "W2", "W3", "W4", "W5", "W6", "W7", "W8", "W9", "PT", "GWG", "PL", "SM", "CONV",
];

/// The CPU's model name (Linux), for the results.
fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|t| {
            t.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|m| m.trim().to_string())
        })
        .unwrap_or_else(|| "unknown".into())
}

/// The machine, for results: cores, CPU, SIMD, OS and architecture.
fn machine() -> Value {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    json!({"cores": cores, "cpu": cpu_model(), "simd": ebm_core::simd::instruction_set(),
           "os": std::env::consts::OS, "arch": std::env::consts::ARCH})
}

/// The machine in words: "2 cores (CPU, SIMD)".
fn machine_line() -> String {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    format!(
        "{cores} cores ({}, {})",
        cpu_model(),
        ebm_core::simd::instruction_set()
    )
}

fn git_revision() -> String {
    std::process::Command::new("git")
        .args(["rev-parse", "--short", "HEAD"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_else(|| "unknown".into())
}

/// Write `stem.json` (pretty) and `stem.md` into `dir`, each atomically.
fn write_results(dir: &std::path::Path, stem: &str, json: &Value, md: &str) -> CliResult<()> {
    write_atomically(
        &dir.join(format!("{stem}.json")).to_string_lossy(),
        serde_json::to_string_pretty(json).expect("json").as_bytes(),
    )?;
    write_atomically(&dir.join(format!("{stem}.md")).to_string_lossy(), md.as_bytes())
}

/// Run the suite as the arguments say.
pub fn run_suite(a: &SuiteArgs) -> CliResult<crate::report::Report> {
    let selected: Vec<String> = match &a.only {
        None => ALL.iter().map(|s| s.to_string()).collect(),
        Some(list) => {
            let mut v = Vec::new();
            for w in list {
                let w = w.trim().to_uppercase();
                if !ALL.contains(&w.as_str()) {
                    return Err(CliError::Unsupported(format!(
                        "--only: unknown workload `{w}` (expected some of {})",
                        ALL.join(",")
                    )));
                }
                v.push(w);
            }
            v
        }
    };
    std::fs::create_dir_all(&a.out).map_err(|source| CliError::Io {
        path: a.out.clone(),
        source,
    })?;
    if a.scaling {
        return scaling::run_scaling(a);
    }
    let ctx = SuiteCtx {
        quick: a.quick,
        seed: a.seed,
        out: a.out.clone().into(),
    };
    let mut records = Vec::new();
    let mut plots = Vec::new();
    for w in &selected {
        let (mut r, p) = match w.as_str() {
            "W1" => w1::run_w1(&ctx)?,
            "W2" => w2::run_w2(&ctx)?,
            "W3" => w3::run_w3(&ctx)?,
            "W4" => w4::run_w4(&ctx)?,
            "W5" => w5::run_w5(&ctx)?,
            "W6" => w6::run_w6(&ctx)?,
            "W7" => w7::run_w7(&ctx)?,
            "W8" => w8::run_w8(&ctx)?,
            "W9" => w9::run_w9(&ctx)?,
            "GWG" => gwg::run_gwg(&ctx)?,
            "PL" => pl::run_pl(&ctx)?,
            "SM" => sm::run_sm(&ctx)?,
            "CONV" => conv::run_conv(&ctx)?,
            _ => pt::run_pt_workload(&ctx)?,
        };
        records.append(&mut r);
        plots.extend(p);
    }
    let results = json!({
        "machine": machine(),
        "timing": if a.quick { "one run" } else { "median of 3 runs (W4: 5, as its peer) after an untimed warm-up run" },
        "version": env!("CARGO_PKG_VERSION"),
        "git_revision": git_revision(),
        "quick": a.quick,
        "seed": a.seed,
        "records": records,
        "plots": plots,
    });
    let mut table =
        String::from("| workload | method | quality | seconds | throughput |\n|---|---|---|---|---|\n");
    for r in &records {
        let _ = writeln!(
            table,
            "| {} | {} | {} | {:.3} | {:.3e} {} |",
            r.workload, r.method, r.summary, r.seconds, r.throughput.value, r.throughput.unit
        );
    }
    let md = format!(
        "# ebm suite results\n\n{}, ebm-rs {} ({}), {} run ({}), seed {}.\n\n{table}\n{}\n",
        machine_line(),
        env!("CARGO_PKG_VERSION"),
        git_revision(),
        if a.quick { "quick" } else { "full" },
        if a.quick {
            "one timed run"
        } else {
            "seconds: median of 3 timed runs (W4: 5, as its peer) after an untimed one"
        },
        a.seed,
        plots
            .iter()
            .filter(|p| p.ends_with(".png"))
            .map(|p| format!("![{p}]({p})\n"))
            .collect::<String>()
    );
    write_results(std::path::Path::new(&a.out), "results", &results, &md)?;
    let mut text = format!(
        "{table}\nwrote {}/results.json, results.md and {} plots",
        a.out,
        plots.len()
    );
    if a.roofline {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        let seconds = if a.quick { 0.005 } else { 0.2 };
        let (_, md) = roofline::roofline(&records, seconds, cores, std::path::Path::new(&a.out))?;
        text = format!("{md}\n{text}, roofline.json and roofline.md");
    }
    Ok(crate::report::Report { json: results, text })
}
