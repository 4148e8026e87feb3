//! `ebm plot`: figures from files, drawn like the suite's (plotters, SVG
//! and PNG with the embedded font).

use crate::error::{CliError, CliResult};
use crate::figure::{write_figure, Figure};
use crate::points_file::read_points;
use clap::{Args, Subcommand};
use serde_json::json;
use std::path::Path;

/// Arguments of `ebm plot`.
#[derive(Debug, Args)]
pub struct PlotArgs {
    /// Which figure.
    #[command(subcommand)]
    pub figure: PlotFigure,
    /// Print one JSON object.
    #[arg(long, global = true)]
    pub json: bool,
}

/// The figures of `ebm plot`.
#[derive(Debug, Subcommand)]
pub enum PlotFigure {
    /// Grids of grayscale images side by side, one per file: model samples
    /// next to the data (rows of each file are images, flattened row by
    /// row).
    Images(ImagesArgs),
    /// Trace plots: each chain's draws against the iteration, one panel
    /// per coordinate.
    Trace(DrawsArgs),
    /// Rank plots (Vehtari et al. 2021): for each coordinate, the
    /// histogram of each chain's ranks among all draws; flat and alike
    /// when the chains mix.
    Rank(DrawsArgs),
    /// Autocorrelation of each chain's draws against the lag.
    Acf(DrawsArgs),
    /// The density exp(-E) of a 2-D continuous model on a grid, shaded,
    /// with the contours of its highest-density regions and points
    /// (samples) on top.
    Density(DensityArgs),
    /// AIS and SMC diagnostics from `ebm logz --diagnostics --json`: AIS's
    /// normalised weights (their Lorenz curve: the share of the total
    /// weight held by the heaviest particles) and log weights; SMC's
    /// temperature schedule and each run's final weight ESS.
    Weights(WeightsArgs),
}

/// Arguments of `ebm plot weights`.
#[derive(Debug, Args)]
pub struct WeightsArgs {
    /// The report `ebm logz --method ais|smc --diagnostics --json` printed.
    #[arg(long)]
    pub report: String,
    /// The output: PATH.svg and PATH.png.
    #[arg(long)]
    pub out: String,
}

/// Arguments of `ebm plot trace|rank|acf`.
#[derive(Debug, Args)]
pub struct DrawsArgs {
    /// Draws: .npy of shape (draws, chains, dim) as `ebm sample --out`
    /// writes, or rows of one chain (CSV or .npy (n, dim)).
    #[arg(long)]
    pub draws: String,
    /// The coordinates to plot, 0-based (default: the first four).
    #[arg(long, value_delimiter = ',')]
    pub dims: Option<Vec<usize>>,
    /// acf: the largest lag (default 50).
    #[arg(long, default_value_t = 50)]
    pub max_lag: usize,
    /// rank: histogram bins (default 20).
    #[arg(long, default_value_t = 20)]
    pub bins: usize,
    /// The output: PATH.svg and PATH.png.
    #[arg(long)]
    pub out: String,
}

/// Arguments of `ebm plot density`.
#[derive(Debug, Args)]
pub struct DensityArgs {
    /// The model file (a continuous model in 2-D).
    #[arg(long)]
    pub model: String,
    /// Points to draw on top (samples; CSV or .npy, including draws).
    #[arg(long)]
    pub points: Option<String>,
    /// The square shown, LO,HI on both axes (default: around the points,
    /// or -5,5).
    #[arg(long, value_delimiter = ',', allow_negative_numbers = true)]
    pub bounds: Option<Vec<f64>>,
    /// Grid cells per axis.
    #[arg(long, default_value_t = 120)]
    pub grid: usize,
    /// Contour lines around the highest-density regions holding these
    /// shares of the mass shown (each in (0, 1)), or `none`.
    #[arg(long, default_value = "0.5,0.9,0.99")]
    pub contours: String,
    /// The output: PATH.svg and PATH.png.
    #[arg(long)]
    pub out: String,
}

/// Arguments of `ebm plot images`.
#[derive(Debug, Args)]
pub struct ImagesArgs {
    /// A file of images (CSV, or .npy of shape (n, d) or (draws, chains,
    /// d)); give it once per panel.
    #[arg(long = "points", required = true)]
    pub points: Vec<String>,
    /// Panel titles, comma-separated, one per --points (default: the file
    /// names).
    #[arg(long, value_delimiter = ',')]
    pub titles: Option<Vec<String>>,
    /// The image shape HEIGHT,WIDTH (default: a square of the rows' length).
    #[arg(long, value_delimiter = ',')]
    pub image: Option<Vec<usize>>,
    /// Images per panel (the first N rows of each file).
    #[arg(long, default_value_t = 36)]
    pub n: usize,
    /// Images per row of a panel.
    #[arg(long, default_value_t = 6)]
    pub cols: usize,
    /// The values shown as white and black, LO,HI; values outside are
    /// clipped (default: the first file's smallest and largest value, or
    /// 0,1 when they lie there).
    #[arg(long, value_delimiter = ',', allow_negative_numbers = true)]
    pub range: Option<Vec<f64>>,
    /// The output: PATH.svg and PATH.png are written (an extension .svg or
    /// .png on PATH is dropped first).
    #[arg(long)]
    pub out: String,
}

/// Run `ebm plot`.
pub fn run(a: &PlotArgs) -> CliResult<super::Report> {
    match &a.figure {
        PlotFigure::Images(i) => images(i),
        PlotFigure::Trace(d) => draws_plot(d, DrawsKind::Trace),
        PlotFigure::Rank(d) => draws_plot(d, DrawsKind::Rank),
        PlotFigure::Acf(d) => draws_plot(d, DrawsKind::Acf),
        PlotFigure::Density(d) => density(d),
        PlotFigure::Weights(w) => weights(w),
    }
}

fn images(a: &ImagesArgs) -> CliResult<super::Report> {
    let bad = |m: String| Err(CliError::Unsupported(m));
    if a.n == 0 || a.cols == 0 {
        return bad("--n and --cols must be at least 1".into());
    }
    crate::limits::check_size("--n", a.n, a.points.len())?;
    let files = a
        .points
        .iter()
        .map(|p| read_points(p))
        .collect::<CliResult<Vec<_>>>()?;
    let dim = files[0].dim();
    if let Some((path, f)) = a.points.iter().zip(&files).find(|(_, f)| f.dim() != dim) {
        return bad(format!(
            "{path}: rows have {} values, {} has {dim}",
            f.dim(),
            a.points[0]
        ));
    }
    let (height, width) = match a.image.as_deref() {
        Some(&[h, w]) if h * w == dim => (h, w),
        Some(&[h, w]) => {
            return bad(format!(
                "--image {h},{w} has {} pixels, the rows have {dim}",
                h * w
            ))
        }
        Some(other) => return bad(format!("--image: expected HEIGHT,WIDTH, got {other:?}")),
        None => {
            let side = (dim as f64).sqrt().round() as usize;
            if side * side != dim {
                return bad(format!(
                    "rows of {dim} values are not square images; give --image HEIGHT,WIDTH"
                ));
            }
            (side, side)
        }
    };
    let titles = match &a.titles {
        Some(t) if t.len() == a.points.len() => t.clone(),
        Some(t) => {
            return bad(format!(
                "--titles has {} entries for {} --points",
                t.len(),
                a.points.len()
            ))
        }
        None => a
            .points
            .iter()
            .map(|p| {
                Path::new(p)
                    .file_stem()
                    .map_or(p.clone(), |s| s.to_string_lossy().into_owned())
            })
            .collect(),
    };
    let shown = |f: &ebm_core::Points| {
        f.rows()
            .take(a.n)
            .flat_map(|r| r.iter().copied())
            .collect::<Vec<f64>>()
    };
    let values: Vec<Vec<f64>> = files.iter().map(shown).collect();
    let (lo, hi) = match a.range.as_deref() {
        Some(&[lo, hi]) if lo.is_finite() && hi.is_finite() && lo < hi => (lo, hi),
        Some(other) => return bad(format!("--range: expected LO,HI with LO < HI, got {other:?}")),
        None => {
            // the first file's values (the data, usually): 0,1 when within
            let first = || values[0].iter().copied().filter(|v| v.is_finite());
            let (min, max) = (
                first().fold(f64::INFINITY, f64::min),
                first().fold(f64::NEG_INFINITY, f64::max),
            );
            if min >= 0.0 && max <= 1.0 || min >= max {
                (0.0, 1.0)
            } else {
                (min, max)
            }
        }
    };
    let panels = titles
        .into_iter()
        .zip(&values)
        .map(|(title, v)| {
            let images = v
                .chunks_exact(dim)
                .map(|img| img.iter().map(|x| (x - lo) / (hi - lo)).collect())
                .collect();
            (title, images)
        })
        .collect();
    let paths = write(
        &a.out,
        &Figure::Images {
            panels,
            width,
            height,
            cols: a.cols,
        },
    )?;
    Ok(super::Report {
        text: format!(
            "{} panels of {height}x{width} images written to {}",
            files.len(),
            paths.join(" and ")
        ),
        json: json!({"figure": "images", "panels": files.len(), "height": height, "width": width, "range": [lo, hi], "out": paths}),
    })
}

/// Write `fig` as `out`.svg and `out`.png (an extension .svg or .png on
/// `out` dropped first); returns the two paths.
fn write(out: &str, fig: &Figure<'_>) -> CliResult<Vec<String>> {
    let stem_path = out
        .strip_suffix(".svg")
        .or_else(|| out.strip_suffix(".png"))
        .unwrap_or(out);
    let stem_path = Path::new(stem_path);
    let dir = match stem_path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let stem = stem_path
        .file_name()
        .map(|s| s.to_string_lossy().into_owned())
        .ok_or_else(|| CliError::Unsupported(format!("--out {out}: no file name")))?;
    let written = write_figure(dir, &stem, fig)?;
    Ok(written
        .iter()
        .map(|f| dir.join(f).to_string_lossy().into_owned())
        .collect())
}

/// Which plot of a draws file.
#[derive(Clone, Copy, PartialEq, Eq)]
enum DrawsKind {
    Trace,
    Rank,
    Acf,
}

/// The draws of `path` per chain and coordinate: `chains[c][k]` is chain
/// c's series of coordinate k; with the file's (draws, chains, dim)
/// shape, or one chain for rows.
fn read_chains(path: &str) -> CliResult<(Vec<Vec<Vec<f64>>>, usize)> {
    // a .npy file read once: its values and, from the same bytes, its shape
    let (points, chains) = if path.ends_with(".npy") {
        let bytes = std::fs::read(path).map_err(|source| CliError::Io {
            path: path.into(),
            source,
        })?;
        let chains = match npyz::NpyFile::new(&bytes[..]).map(|f| f.shape().to_vec()) {
            Ok(shape) if shape.len() == 3 => shape[1] as usize,
            _ => 1,
        };
        (crate::points_file::parse_points_npy(path, &bytes)?, chains)
    } else {
        (read_points(path)?, 1)
    };
    let dim = points.dim();
    let chains = chains.max(1);
    let draws = points.len() / chains;
    let mut out = vec![vec![Vec::with_capacity(draws); dim]; chains];
    for (r, row) in points.rows().enumerate() {
        for (k, &v) in row.iter().enumerate() {
            out[r % chains][k].push(v);
        }
    }
    Ok((out, dim))
}

fn draws_plot(a: &DrawsArgs, kind: DrawsKind) -> CliResult<super::Report> {
    let bad = |m: String| Err(CliError::Unsupported(m));
    let (chains, dim) = read_chains(&a.draws)?;
    let dims = a.dims.clone().unwrap_or_else(|| (0..dim.min(4)).collect());
    if dims.is_empty() || dims.len() > 16 {
        return bad(format!("--dims: give 1 to 16 coordinates, got {}", dims.len()));
    }
    if let Some(k) = dims.iter().find(|&&k| k >= dim) {
        return bad(format!(
            "--dims: coordinate {k} is out of range (the draws have {dim})"
        ));
    }
    let n = chains[0][0].len();
    if kind == DrawsKind::Acf && (a.max_lag == 0 || a.max_lag >= n) {
        return bad(format!(
            "--max-lag must be between 1 and {} (the draws per chain less one)",
            n.saturating_sub(1)
        ));
    }
    if kind == DrawsKind::Rank && !(2..=200).contains(&a.bins) {
        return bad(format!("--bins must be between 2 and 200, got {}", a.bins));
    }
    let name = |c: usize| format!("chain {}", c + 1);
    let panels = dims
        .iter()
        .map(|&k| {
            let (series, x_label, y_label, hline): (Vec<_>, &str, &str, Option<f64>) = match kind {
                DrawsKind::Trace => (
                    chains
                        .iter()
                        .enumerate()
                        .map(|(c, ch)| {
                            (
                                name(c),
                                ch[k].iter().enumerate().map(|(t, &v)| (t as f64, v)).collect(),
                            )
                        })
                        .collect(),
                    "iteration",
                    "value",
                    None,
                ),
                DrawsKind::Acf => (
                    chains
                        .iter()
                        .enumerate()
                        .map(|(c, ch)| {
                            let acov = ebm_samplers::diagnostics::autocovariance(&ch[k]);
                            let v0 = if acov[0] > 0.0 { acov[0] } else { 1.0 };
                            (
                                name(c),
                                (0..=a.max_lag).map(|t| (t as f64, acov[t] / v0)).collect(),
                            )
                        })
                        .collect(),
                    "lag",
                    "autocorrelation",
                    Some(0.0),
                ),
                DrawsKind::Rank => {
                    // ranks among all chains' draws, then each chain's
                    // histogram over `bins` equal ranges of rank
                    let mut all: Vec<(f64, usize)> = chains
                        .iter()
                        .enumerate()
                        .flat_map(|(c, ch)| ch[k].iter().map(move |&v| (v, c)))
                        .collect();
                    all.sort_by(|x, y| x.0.total_cmp(&y.0));
                    let total = all.len();
                    let mut counts = vec![vec![0usize; a.bins]; chains.len()];
                    for (r, &(_, c)) in all.iter().enumerate() {
                        counts[c][(r * a.bins / total).min(a.bins - 1)] += 1;
                    }
                    let expected = n as f64 / a.bins as f64;
                    let steps = |h: &[usize]| {
                        h.iter()
                            .enumerate()
                            .flat_map(|(b, &v)| [(b as f64, v as f64), ((b + 1) as f64, v as f64)])
                            .collect::<Vec<_>>()
                    };
                    (
                        counts
                            .iter()
                            .enumerate()
                            .map(|(c, h)| (name(c), steps(h)))
                            .collect(),
                        "rank bin",
                        "draws",
                        Some(expected),
                    )
                }
            };
            crate::figure::LinePanel {
                title: format!("x[{k}]"),
                x_label: x_label.into(),
                y_label: y_label.into(),
                series,
                hline,
            }
        })
        .collect();
    let paths = write(&a.out, &Figure::Lines { panels })?;
    let what = match kind {
        DrawsKind::Trace => "trace",
        DrawsKind::Rank => "rank",
        DrawsKind::Acf => "acf",
    };
    Ok(super::Report {
        text: format!(
            "{what} plot of {} chains, coordinates {dims:?}, written to {}",
            chains.len(),
            paths.join(" and ")
        ),
        json: json!({"figure": what, "chains": chains.len(), "draws": n, "dims": dims, "out": paths}),
    })
}

fn density(a: &DensityArgs) -> CliResult<super::Report> {
    let bad = |m: String| Err(CliError::Unsupported(m));
    let (_, model) = crate::model_file::load_model(&a.model)?;
    let ebm_core::spec::Model::Continuous(energy) = model else {
        return bad(format!("{}: plot density needs a continuous model", a.model));
    };
    if energy.dim() != 2 {
        return bad(format!(
            "{}: plot density needs a 2-D model, this one has dimension {}",
            a.model,
            energy.dim()
        ));
    }
    if !(10..=1000).contains(&a.grid) {
        return bad(format!("--grid must be between 10 and 1000, got {}", a.grid));
    }
    let shares: Vec<f64> = match a.contours.trim() {
        "none" => vec![],
        list => list
            .split(',')
            .map(|m| match m.trim().parse::<f64>() {
                Ok(v) if v > 0.0 && v < 1.0 => Ok(v),
                _ => Err(CliError::Unsupported(format!(
                    "--contours: expected shares of the mass in (0, 1) separated by commas, or none; got {m:?}"
                ))),
            })
            .collect::<CliResult<_>>()?,
    };
    let points = a.points.as_deref().map(read_points).transpose()?;
    if let Some(p) = &points {
        if p.dim() != 2 {
            return bad(format!(
                "--points: rows have {} columns, the model has 2",
                p.dim()
            ));
        }
    }
    let (lo, hi) = match (a.bounds.as_deref(), &points) {
        (Some(&[lo, hi]), _) if lo.is_finite() && hi.is_finite() && lo < hi => (lo, hi),
        (Some(other), _) => return bad(format!("--bounds: expected LO,HI with LO < HI, got {other:?}")),
        (None, Some(p)) => {
            let vals = || p.as_slice().iter().copied().filter(|v| v.is_finite());
            let (lo, hi) = (
                vals().fold(f64::INFINITY, f64::min),
                vals().fold(f64::NEG_INFINITY, f64::max),
            );
            let pad = 0.1 * (hi - lo).max(1e-9);
            (lo - pad, hi + pad)
        }
        (None, None) => (-5.0, 5.0),
    };
    let n = a.grid;
    let h = (hi - lo) / n as f64;
    let mut xs = Vec::with_capacity(2 * n * n);
    for i in 0..n {
        for j in 0..n {
            xs.extend([lo + (j as f64 + 0.5) * h, lo + (i as f64 + 0.5) * h]);
        }
    }
    let mut e = vec![0.0; n * n];
    energy.energy_batch(&xs, &mut e);
    let min = e
        .iter()
        .copied()
        .filter(|v| v.is_finite())
        .fold(f64::INFINITY, f64::min);
    let density: Vec<f64> = e
        .iter()
        .map(|v| if v.is_finite() { (min - v).exp() } else { 0.0 })
        .collect();
    let levels = crate::figure::contour::mass_levels(&density, &shares);
    let title = Path::new(&a.model)
        .file_stem()
        .map_or(a.model.clone(), |s| s.to_string_lossy().into_owned());
    let scatter = crate::figure::Scatter {
        points: points.as_ref().map_or(&[][..], |p| p.as_slice()),
        lo,
        hi,
        title: format!(
            "{title}: exp(-E){}, {} points",
            if shares.is_empty() {
                String::new()
            } else {
                let pct: Vec<String> = shares.iter().map(|m| format!("{}", 100.0 * m)).collect();
                format!(", {}% mass contours", pct.join("/"))
            },
            points.as_ref().map_or(0, |p| p.len())
        ),
        circles: vec![],
        vlines: vec![],
        background: Some((n, density)),
        contours: levels.clone(),
    };
    let paths = write(
        &a.out,
        &Figure::Scatter {
            panels: vec![scatter],
            size: 480,
        },
    )?;
    Ok(super::Report {
        text: format!(
            "density of {} on [{lo}, {hi}]^2 written to {}",
            a.model,
            paths.join(" and ")
        ),
        json: json!({"figure": "density", "bounds": [lo, hi], "grid": n, "contours": shares,
            "contour_levels": levels, "out": paths}),
    })
}

fn weights(a: &WeightsArgs) -> CliResult<super::Report> {
    let bad = |m: String| CliError::Data {
        path: a.report.clone(),
        message: m,
    };
    let text = std::fs::read_to_string(&a.report).map_err(|source| CliError::Io {
        path: a.report.clone(),
        source,
    })?;
    let r: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| bad(format!("not a JSON report: {e}")))?;
    let floats = |k: &str| -> Option<Vec<f64>> {
        r.get(k)?
            .as_array()?
            .iter()
            .map(serde_json::Value::as_f64)
            .collect()
    };
    let line = |title: &str, x: &str, y: &str, name: &str, pts: Vec<(f64, f64)>, hline: Option<f64>| {
        crate::figure::LinePanel {
            title: title.into(),
            x_label: x.into(),
            y_label: y.into(),
            series: vec![(name.into(), pts)],
            hline,
        }
    };
    let mut panels = Vec::new();
    if let Some(lw) = floats("log_weights").filter(|v| !v.is_empty()) {
        let max = lw.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let mut w: Vec<f64> = lw.iter().map(|l| (l - max).exp()).collect();
        w.sort_by(|x, y| y.total_cmp(x));
        let total: f64 = w.iter().sum();
        let n = w.len() as f64;
        let mut acc = 0.0;
        let lorenz = std::iter::once((0.0, 0.0))
            .chain(w.iter().enumerate().map(|(i, v)| {
                acc += v / total;
                ((i + 1) as f64 / n, acc)
            }))
            .collect();
        let ess = total * total / w.iter().map(|v| v * v).sum::<f64>();
        panels.push(line(
            &format!("AIS weights: ESS {ess:.1} of {}", w.len()),
            "share of particles (heaviest first)",
            "share of the total weight",
            "weights",
            lorenz,
            None,
        ));
        let mut rel: Vec<f64> = lw.iter().map(|l| l - max).collect();
        rel.sort_by(f64::total_cmp);
        panels.push(line(
            "log weights (minus the largest)",
            "particle (sorted)",
            "log w - max log w",
            "log weights",
            rel.iter().enumerate().map(|(i, &v)| (i as f64, v)).collect(),
            Some(0.0),
        ));
    }
    if let Some(betas) = floats("betas").filter(|v| !v.is_empty()) {
        panels.push(line(
            &format!("SMC schedule: {} temperatures", betas.len()),
            "temperature index",
            "beta",
            "beta",
            betas.iter().enumerate().map(|(i, &b)| (i as f64, b)).collect(),
            None,
        ));
        if let Some(ess) = floats("run_ess").filter(|v| !v.is_empty()) {
            let chains = r
                .get("chains")
                .and_then(serde_json::Value::as_f64)
                .unwrap_or(f64::NAN);
            panels.push(line(
                "SMC: each run's final weight ESS",
                "run",
                "ESS",
                "ESS",
                ess.iter().enumerate().map(|(i, &e)| (i as f64, e)).collect(),
                Some(chains),
            ));
        }
    }
    if panels.is_empty() {
        return Err(bad(
            "no AIS weights or SMC schedule in it; run `ebm logz --method ais|smc --diagnostics --json`"
                .into(),
        ));
    }
    let count = panels.len();
    let paths = write(&a.out, &Figure::Lines { panels })?;
    Ok(super::Report {
        text: format!(
            "{count} panels of weight diagnostics written to {}",
            paths.join(" and ")
        ),
        json: json!({"figure": "weights", "panels": count, "out": paths}),
    })
}
