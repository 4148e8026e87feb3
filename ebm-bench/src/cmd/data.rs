//! `ebm data`: the toy data sets of EBM papers and the 8x8 digits, from
//! ebm-estimators' seeded generators ([`ebm_estimators::datasets`]),
//! written as CSV or `.npy` for `ebm train`, `ebm eval` or anything else.

use crate::draws_file::write_points;
use crate::error::{CliError, CliResult};
use clap::{Args, ValueEnum};
use ebm_core::Points;
use ebm_estimators::datasets;
use serde_json::json;

/// The data sets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum DataSet {
    /// Two interleaved half circles (2-D).
    TwoMoons,
    /// Three concentric rings of radii 1, 2, 3 (2-D).
    Rings,
    /// Eight Gaussians of sd 0.5 on a circle of radius 4 (2-D; W1's mixture).
    EightGaussians,
    /// Uniform on the dark squares of a 4x4 checkerboard over [-4, 4]^2.
    Checkerboard,
    /// A 2-D swiss roll.
    SwissRoll,
    /// A pinwheel of five bent arms (2-D).
    Pinwheel,
    /// The 1,797 8x8 digits, pixels 0..=16 (64-D; the first --n rows).
    Digits,
    /// The digits binarised at 8 (W4's data).
    DigitsBinary,
}

/// Arguments of `ebm data`.
#[derive(Debug, Args)]
pub struct DataArgs {
    /// Which data set.
    #[arg(value_enum)]
    pub set: DataSet,
    /// Points (the digits: the first N rows, all 1,797 by default).
    #[arg(long)]
    pub n: Option<usize>,
    /// Seed of the generator.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// The digits: skip this many rows first (a held-out split: `--n 1500`
    /// for training, `--skip 1500` for the other 297).
    #[arg(long, default_value_t = 0)]
    pub skip: usize,
    /// Multiply every value by this (e.g. 0.0625 puts the digits' pixels
    /// in [0, 1]).
    #[arg(long, default_value_t = 1.0, allow_negative_numbers = true)]
    pub scale: f64,
    /// Standard deviation of the jitter of two-moons, rings and swiss-roll.
    #[arg(long, allow_negative_numbers = true)]
    pub noise: Option<f64>,
    /// The output file: .npy (float64, shape (n, d)) or .csv.
    #[arg(long)]
    pub out: String,
    /// Print one JSON object.
    #[arg(long)]
    pub json: bool,
}

/// Run `ebm data`.
pub fn run(a: &DataArgs) -> CliResult<super::Report> {
    let digits = matches!(a.set, DataSet::Digits | DataSet::DigitsBinary);
    if a.skip > 0 && !digits {
        return Err(CliError::Unsupported(
            "--skip applies to digits and digits-binary".into(),
        ));
    }
    if !a.scale.is_finite() {
        return Err(CliError::Unsupported(format!(
            "--scale must be finite, got {}",
            a.scale
        )));
    }
    let n = a.n.unwrap_or(match a.set {
        DataSet::Digits | DataSet::DigitsBinary => 1797usize.saturating_sub(a.skip),
        _ => 1000,
    });
    if n == 0 {
        return Err(CliError::Unsupported("--n must be at least 1".into()));
    }
    crate::limits::check_size(&format!("--n {n}"), n, 2)?;
    let noise = a.noise.unwrap_or(match a.set {
        DataSet::TwoMoons => 0.1,
        DataSet::Rings | DataSet::SwissRoll => 0.05,
        _ => 0.0,
    });
    if !(noise.is_finite() && noise >= 0.0) {
        return Err(CliError::Unsupported(format!(
            "--noise must be finite and not negative, got {noise}"
        )));
    }
    let jittered = matches!(a.set, DataSet::TwoMoons | DataSet::Rings | DataSet::SwissRoll);
    if a.noise.is_some() && !jittered {
        return Err(CliError::Unsupported(
            "--noise applies to two-moons, rings and swiss-roll".into(),
        ));
    }
    let points = match a.set {
        DataSet::TwoMoons => datasets::two_moons(n, noise, a.seed)?,
        DataSet::Rings => datasets::rings(n, noise, a.seed)?,
        DataSet::EightGaussians => datasets::eight_gaussians(n, a.seed)?,
        DataSet::Checkerboard => datasets::checkerboard(n, a.seed)?,
        DataSet::SwissRoll => datasets::swiss_roll(n, noise, a.seed)?,
        DataSet::Pinwheel => datasets::pinwheel(n, a.seed)?,
        DataSet::Digits | DataSet::DigitsBinary => {
            let all = if a.set == DataSet::Digits {
                datasets::digits().0
            } else {
                datasets::digits_binarized()
            };
            if a.skip.checked_add(n).is_none_or(|end| end > all.len()) {
                return Err(CliError::Unsupported(format!(
                    "--skip {} --n {n}: the digits have {} rows",
                    a.skip,
                    all.len()
                )));
            }
            Points::from_vec(
                all.as_slice()[a.skip * all.dim()..(a.skip + n) * all.dim()].to_vec(),
                all.dim(),
            )?
        }
    };
    let points = if a.scale == 1.0 {
        points
    } else {
        Points::from_vec(
            points.as_slice().iter().map(|v| v * a.scale).collect(),
            points.dim(),
        )?
    };
    write_points(&a.out, &points)?;
    let name = a
        .set
        .to_possible_value()
        .map(|v| v.get_name().to_string())
        .unwrap_or_default();
    Ok(super::Report {
        json: json!({"set": name, "n": points.len(), "dim": points.dim(), "seed": a.seed, "out": a.out}),
        text: format!(
            "{} points of {name} ({}-D) written to {}",
            points.len(),
            points.dim(),
            a.out
        ),
    })
}
