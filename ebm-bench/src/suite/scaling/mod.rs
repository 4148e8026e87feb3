//! `ebm suite --scaling`: cost curves. How ebm-rs's throughput grows with
//! its work (chains, dimension, RBM size, AIS temperatures) at 1 and 2
//! threads, and how a sampling run's peak memory grows with the values it
//! keeps, written as `scaling.json`, `scaling.md` and a log-log figure
//! (`scaling.png`, `.svg`).
//!
//! Every point is the cost of more work once a run is under way (see
//! [`measure::rate`]): the work grows until a run lasts 0.25 s (quick:
//! 0.01 s), a run at half the work beside it separates the fixed cost
//! (kept as `setup_seconds`) from the cost per step. Points are
//! comparable within one run on one machine; compare only ratios across
//! machines.

mod curves;
mod measure;
mod memory;
mod peers;

use super::SuiteArgs;
use crate::error::CliResult;
use crate::figure::{Figure, LogLogPanel, LogSeries};
use curves::Scale;
use measure::Point;
use serde_json::json;
use std::fmt::Write;

/// A curve's measurement.
type Curve = fn(&Scale) -> CliResult<Vec<Point>>;

/// Run the cost curves as `a` says (its `quick`, `seed` and `out`).
pub fn run_scaling(a: &SuiteArgs) -> CliResult<crate::report::Report> {
    let dir = std::path::PathBuf::from(&a.out);
    let scale = Scale {
        quick: a.quick,
        target: if a.quick { 0.01 } else { 0.25 },
        seed: a.seed,
        threads: vec![1, 2],
    };
    // the peers' file first: a bad one is refused before two minutes of work
    let peer_points = match &a.peers {
        Some(path) => {
            let text = std::fs::read_to_string(path).map_err(|source| crate::error::CliError::Io {
                path: path.clone(),
                source,
            })?;
            peers::peer_points(&text, path)?
        }
        None => Vec::new(),
    };
    let started = std::time::Instant::now();
    let mut points = Vec::new();
    let mut bar = crate::progress::Progress::new("cost curves");
    let steps: [Curve; 4] = [
        curves::chains_curve,
        curves::dim_curve,
        curves::rbm_curve,
        curves::temps_curve,
    ];
    for (k, curve) in steps.iter().enumerate() {
        points.extend(curve(&scale)?);
        bar.tick(k + 1, steps.len() + 1);
    }
    let memory = match memory::ebm_binary() {
        Some(ebm) => memory::memory_curve(&ebm, &dir, a.quick)?,
        None => Vec::new(),
    };
    points.extend(memory);
    bar.tick(steps.len() + 1, steps.len() + 1);
    points.extend(peer_points);
    let plots = super::super::figure::write_figure(&dir, "scaling", &figure(&points))?;
    let table = tables(&points);
    let results = json!({
        "machine": super::machine(),
        "git_revision": super::git_revision(),
        "quick": a.quick,
        "seed": a.seed,
        "seconds": started.elapsed().as_secs_f64(),
        "timing": format!("per point, t = setup + n / rate from a run of at least {} s, at least half of that more than the run before it at half its work or less, each of the two the fastest of {} timings", scale.target, measure::TIMINGS),
        "points": points,
        "plots": plots,
    });
    let md = format!(
        "# ebm suite --scaling\n\n{}, ebm-rs {} ({}). Throughput past each run's fixed cost (from a run of at least {} s, at least half of that more than the run before it at half its work or less, each the fastest of {} timings).\n\n{table}\n![scaling](scaling.png)\n",
        super::machine_line(),
        env!("CARGO_PKG_VERSION"),
        super::git_revision(),
        scale.target,
        measure::TIMINGS
    );
    super::write_results(&dir, "scaling", &results, &md)?;
    Ok(crate::report::Report {
        json: results,
        text: format!(
            "{table}\nwrote {}/scaling.json, scaling.md and scaling.png/.svg",
            a.out
        ),
    })
}

/// The methods of `curve`, in order of first appearance.
fn methods<'a>(points: &'a [Point], curve: &str) -> Vec<&'a str> {
    let mut m: Vec<&str> = Vec::new();
    for p in points.iter().filter(|p| p.curve == curve && !p.peer) {
        if !m.contains(&p.method.as_str()) {
            m.push(&p.method);
        }
    }
    m
}

/// The thread counts `method` ran with on `curve`, in increasing order.
fn threads_of(points: &[Point], curve: &str, method: &str) -> Vec<usize> {
    let mut t: Vec<usize> = points
        .iter()
        .filter(|p| p.curve == curve && p.method == method)
        .map(|p| p.threads)
        .collect();
    t.sort_unstable();
    t.dedup();
    t
}

/// What the y of `curve` counts.
fn unit_of<'a>(points: &'a [Point], curve: &str) -> &'a str {
    points
        .iter()
        .find(|p| p.curve == curve)
        .map_or("", |p| p.unit.as_str())
}

/// One markdown table per curve: a row per x, a column per method and
/// thread count.
fn tables(points: &[Point]) -> String {
    let mut out = String::new();
    for (curve, x_name) in CURVES {
        let ms = methods(points, curve);
        if ms.is_empty() {
            continue;
        }
        let cols: Vec<(&str, usize)> = ms
            .iter()
            .flat_map(|m| threads_of(points, curve, m).into_iter().map(move |t| (*m, t)))
            .collect();
        let peers: Vec<&Point> = points.iter().filter(|p| p.curve == curve && p.peer).collect();
        let unit = unit_of(points, curve);
        let _ = writeln!(out, "## {x_name} ({unit})\n");
        let _ = writeln!(
            out,
            "| {x_name} | {} |\n|---|{}",
            cols.iter()
                .map(|(m, t)| format!("{m}, {t} thr"))
                .collect::<Vec<_>>()
                .join(" | "),
            "---|".repeat(cols.len())
        );
        let mut xs: Vec<f64> = points
            .iter()
            .filter(|p| p.curve == curve && !p.peer)
            .map(|p| p.x)
            .collect();
        xs.sort_by(f64::total_cmp);
        xs.dedup();
        for x in xs {
            let cells: Vec<String> = cols
                .iter()
                .map(|(m, t)| {
                    points
                        .iter()
                        .find(|p| p.curve == curve && p.method == *m && p.threads == *t && p.x == x)
                        .map_or("".into(), |p| format!("{:.3e}", p.value))
                })
                .collect();
            let _ = writeln!(out, "| {x} | {} |", cells.join(" | "));
        }
        out.push('\n');
        if !peers.is_empty() {
            let _ = writeln!(
                out,
                "Peers on this curve (from --peers):\n\n| peer | {x_name} | {unit} |\n|---|---|---|"
            );
            for p in peers {
                let _ = writeln!(out, "| {} | {} | {:.3e} |", p.method, p.x, p.value);
            }
            out.push('\n');
        }
    }
    out
}

/// The curves: (name, what x counts).
const CURVES: [(&str, &str); 5] = [
    ("chains", "chains"),
    ("dim", "dimension"),
    ("rbm", "visible = hidden units"),
    ("temps", "temperatures"),
    ("memory", "values kept (chains x draws x dim)"),
];

/// One log-log panel per curve: a colour per method, solid at 2 threads
/// and dashed at 1.
fn figure(points: &[Point]) -> Figure<'static> {
    let panels = CURVES
        .iter()
        .filter(|(curve, _)| points.iter().any(|p| p.curve == *curve))
        .map(|(curve, x_name)| {
            let mut series = Vec::new();
            for (k, m) in methods(points, curve).into_iter().enumerate() {
                let threads = threads_of(points, curve, m);
                let several = threads.len() > 1;
                for t in threads {
                    let pts = points
                        .iter()
                        .filter(|p| p.curve == *curve && p.method == m && p.threads == t)
                        .map(|p| (p.x, p.value))
                        .collect();
                    series.push(LogSeries {
                        name: if several {
                            format!("{m}, {t} thr")
                        } else {
                            m.to_string()
                        },
                        points: pts,
                        colour: k,
                        dashed: several && t == 1,
                        markers_only: false,
                    });
                }
            }
            let n_methods = series.iter().map(|s| s.colour + 1).max().unwrap_or(0);
            // a peer's points as markers, one colour per peer
            for p in points.iter().filter(|p| p.curve == *curve && p.peer) {
                match series.iter_mut().find(|s| s.markers_only && s.name == p.method) {
                    Some(s) => s.points.push((p.x, p.value)),
                    None => {
                        let colour = n_methods + series.iter().filter(|s| s.markers_only).count();
                        series.push(LogSeries {
                            name: p.method.clone(),
                            points: vec![(p.x, p.value)],
                            colour,
                            dashed: false,
                            markers_only: true,
                        })
                    }
                }
            }
            LogLogPanel {
                title: match *curve {
                    "memory" => "peak memory of ebm sample".into(),
                    _ => format!("throughput against {x_name}"),
                },
                x_label: x_name.to_string(),
                y_label: unit_of(points, curve).to_string(),
                series,
            }
        })
        .collect();
    Figure::LogLog { panels }
}
