//! Measuring a model against data, without training it:
//!
//! - [`mmd`]: maximum mean discrepancy between model samples and data
//!   (RBF kernel, median-heuristic bandwidth, unbiased U-statistic,
//!   permutation p-value);
//! - [`ksd`]: kernel Stein discrepancy of points against a model's score
//!   (inverse multiquadric kernel, U-statistic), which needs no samples
//!   and no log Z;
//! - [`fisher`]: the Fisher divergence between a model and a reference
//!   whose score is known, at given points;
//! - [`nll`]: held-out negative log-likelihood from energies and a log Z
//!   (closed form, enumeration, quadrature or AIS, with its error bar).
//!
//! Each takes points as [`ebm_core::Points`] and returns its figure with
//! what it needs to be read (bandwidth, standard error, p-value).

pub mod fisher;
pub mod ksd;
pub mod mmd;
pub mod nll;

use crate::error::{EstimatorError, Result};
use ebm_core::Points;

/// Refuse point sets that are empty, of another dimension than `d`, or not
/// finite; `what` names them in the message.
pub(crate) fn check_points(what: &str, p: &Points, d: usize, at_least: usize) -> Result<()> {
    if p.len() < at_least {
        return Err(EstimatorError::Data(format!(
            "{what}: need at least {at_least} points, got {}",
            p.len()
        )));
    }
    if p.dim() != d {
        return Err(EstimatorError::Data(format!(
            "{what}: points have dimension {}, expected {d}",
            p.dim()
        )));
    }
    if let Some(i) = p.as_slice().iter().position(|v| !v.is_finite()) {
        return Err(EstimatorError::Data(format!(
            "{what}: value {} (row {}) is not finite",
            p.as_slice()[i],
            i / d.max(1)
        )));
    }
    Ok(())
}

/// The squared Euclidean distance.
pub(crate) fn dist2(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(p, q)| (p - q) * (p - q)).sum()
}
