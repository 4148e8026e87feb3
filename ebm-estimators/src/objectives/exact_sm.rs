//! Exact score matching (Hyvarinen 2005):
//!
//! J = mean_i [ 1/2 |s(x_i)|^2 + tr grad_x s(x_i) ]
//!   = mean_i [ 1/2 |grad_x E(x_i)|^2 - tr grad_x^2 E(x_i) ],
//!
//! equal to the Fisher divergence between the data and the model up to a
//! constant, with the Hessian trace computed exactly by the model's
//! second-order pass ([`ScoreCapability::add_weighted_laplacian_grad`]:
//! the hand-written MLP and the Gaussian family), not estimated by
//! projections ([`super::SlicedScoreMatching`]) or noise
//! ([`super::Dsm`]).

use crate::capability::{CapabilityObjective, EnergyCapability, ScoreCapability, ScoreLoss};
use crate::error::{EstimatorError, Result};
use ebm_core::{ChainRng, Points};

/// Exact score matching (module documentation).
#[derive(Clone, Debug, Default)]
pub struct ExactScoreMatching;

impl ExactScoreMatching {
    /// The objective (it has no settings).
    pub fn new() -> Self {
        Self
    }
}

/// 1/(2n) |s_i|^2 per row.
struct HalfSquare {
    inv_n: f64,
}

impl ScoreLoss for HalfSquare {
    fn row(&self, _i: usize, score: &[f64], ds: &mut [f64]) -> f64 {
        ds.iter_mut().zip(score).for_each(|(g, s)| *g = self.inv_n * s);
        0.5 * self.inv_n * score.iter().map(|s| s * s).sum::<f64>()
    }
}

impl CapabilityObjective for ExactScoreMatching {
    fn name(&self) -> String {
        "esm".into()
    }

    fn loss_grad(
        &mut self,
        model: &mut dyn EnergyCapability,
        batch: &Points,
        _rng: &mut ChainRng,
        grads: &mut [Vec<f64>],
    ) -> Result<f64> {
        let unsupported = || {
            EstimatorError::Unsupported(
                "exact score matching needs the model's exact Hessian trace (the hand-written MLP and Gaussian family have it); use ssm or dsm"
                    .into(),
            )
        };
        let score: &mut dyn ScoreCapability = model.score().ok_or_else(unsupported)?;
        let inv_n = 1.0 / batch.len() as f64;
        // the Laplacian first: a model without it is refused before any gradient is added
        let laplacian = score
            .add_weighted_laplacian_grad(batch, -inv_n, grads)
            .ok_or_else(unsupported)??;
        let half_square = score.add_score_loss_grad(batch, &HalfSquare { inv_n }, grads)?;
        Ok(half_square - inv_n * laplacian)
    }
}
