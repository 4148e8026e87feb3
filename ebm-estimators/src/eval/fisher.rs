//! The Fisher divergence between a model p ∝ exp(-E) and a reference
//! q ∝ exp(-E_ref) whose score is known, at points x_1..x_n (from q, or
//! data standing in for it):
//!
//! F = 1/n sum_i 1/2 |grad E(x_i) - grad E_ref(x_i)|^2,
//!
//! the score-matching distance, zero exactly when the scores agree; the
//! standard error is that of the mean over points.

use super::check_points;
use crate::error::{EstimatorError, Result};
use ebm_core::{Energy, Points};
use serde::Serialize;

/// The outcome of [`fisher_divergence`].
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Fisher {
    /// F.
    pub divergence: f64,
    /// Its standard error over the points.
    pub stderr: f64,
    /// The number of points.
    pub points: usize,
}

/// F between `model` and `reference` at `x` (module documentation).
pub fn fisher_divergence(x: &Points, model: &dyn Energy, reference: &dyn Energy) -> Result<Fisher> {
    let d = model.dim();
    if reference.dim() != d {
        return Err(EstimatorError::Data(format!(
            "the reference has dimension {}, the model {d}",
            reference.dim()
        )));
    }
    check_points("points", x, d, 2)?;
    let n = x.len();
    let (mut g, mut g_ref, mut e) = (vec![0.0; n * d], vec![0.0; n * d], vec![0.0; n]);
    model.energy_grad_batch(x.as_slice(), &mut g, &mut e);
    reference.energy_grad_batch(x.as_slice(), &mut g_ref, &mut e);
    let terms: Vec<f64> = g
        .chunks_exact(d)
        .zip(g_ref.chunks_exact(d))
        .map(|(a, b)| 0.5 * a.iter().zip(b).map(|(p, q)| (p - q) * (p - q)).sum::<f64>())
        .collect();
    if terms.iter().any(|t| !t.is_finite()) {
        return Err(EstimatorError::Data("a score is not finite at the points".into()));
    }
    let mean = terms.iter().sum::<f64>() / n as f64;
    let var = terms.iter().map(|t| (t - mean).powi(2)).sum::<f64>() / (n - 1) as f64;
    Ok(Fisher {
        divergence: mean,
        stderr: (var / n as f64).sqrt(),
        points: n,
    })
}
