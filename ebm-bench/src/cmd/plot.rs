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
    let stem_path = a
        .out
        .strip_suffix(".svg")
        .or_else(|| a.out.strip_suffix(".png"))
        .unwrap_or(&a.out);
    let stem_path = Path::new(stem_path);
    let dir = match stem_path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let stem = stem_path
        .file_name()
        .map(|s| s.to_string_lossy().into_owned())
        .ok_or_else(|| CliError::Unsupported(format!("--out {}: no file name", a.out)))?;
    let written = write_figure(
        dir,
        &stem,
        &Figure::Images {
            panels,
            width,
            height,
            cols: a.cols,
        },
    )?;
    let paths: Vec<String> = written
        .iter()
        .map(|f| dir.join(f).to_string_lossy().into_owned())
        .collect();
    Ok(super::Report {
        text: format!(
            "{} panels of {height}x{width} images written to {}",
            files.len(),
            paths.join(" and ")
        ),
        json: json!({"figure": "images", "panels": files.len(), "height": height, "width": width, "range": [lo, hi], "out": paths}),
    })
}
