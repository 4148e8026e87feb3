//! Maximum likelihood with sampled negatives (CD, PCD, replay buffer).

use super::{NegativeSampler, ObjectiveState};
use crate::capability::{CapabilityObjective, EnergyCapability, PcdSettings};
use crate::error::{config, EstimatorError, Result};
use ebm_core::{ChainRng, Points};

/// The maximum-likelihood gradient estimator: with negatives x- drawn
/// (approximately) from the model,
///
/// L = mean E(x+) - mean E(x-) + alpha (mean E(x+)^2 + mean E(x-)^2),
///
/// whose parameter gradient estimates that of the negative
/// log-likelihood, E_data[grad E] - E_model[grad E]; alpha >= 0 is the
/// optional energy-magnitude regulariser (Du and Mordatch 2019). The
/// negatives are treated as constants.
///
/// Written against the energy capability: with n data rows and m
/// negatives, grad L is the gradient of the weighted sum of energies with
/// weights (1 + 2 alpha E(x+_i)) / n on the data and
/// (-1 + 2 alpha E(x-_j)) / m on the negatives; the negatives come from
/// the sampler run on the model as a sampling target.
pub struct MaxLikelihood<S> {
    sampler: S,
    alpha: f64,
}

impl<S> MaxLikelihood<S> {
    /// Maximum likelihood with negatives from `sampler`.
    pub fn new(sampler: S) -> Self {
        Self { sampler, alpha: 0.0 }
    }

    /// Add the energy-magnitude regulariser with weight `alpha`.
    pub fn with_regulariser(mut self, alpha: f64) -> Result<Self> {
        if !(alpha.is_finite() && alpha >= 0.0) {
            return Err(config("alpha", format!("must be >= 0 and finite, got {alpha}")));
        }
        self.alpha = alpha;
        Ok(self)
    }

    /// The negative sampler.
    pub fn sampler(&self) -> &S {
        &self.sampler
    }
}

impl<S: NegativeSampler> CapabilityObjective for MaxLikelihood<S> {
    fn name(&self) -> String {
        self.sampler.name()
    }

    fn settings(&self) -> String {
        format!("{}, alpha {}", self.sampler.settings(), self.alpha)
    }

    fn prepare(&mut self, _model: &mut dyn EnergyCapability, data: &Points, seed: u64) -> Result<()> {
        self.sampler.prepare(data, seed)
    }

    /// PCD with block-Gibbs chains and no regulariser: a model with a
    /// closed-form step ([`crate::capability::PcdStep`], the RBM) takes it
    /// when the optimizer is plain SGD.
    fn closed_form_pcd(&self) -> Option<PcdSettings> {
        self.sampler
            .persistent_block_gibbs()
            .filter(|_| self.alpha == 0.0)
    }

    fn state(&self) -> ObjectiveState {
        self.sampler.state()
    }

    fn restore(&mut self, state: &ObjectiveState) -> Result<()> {
        self.sampler.restore(state)
    }

    fn loss_grad(
        &mut self,
        model: &mut dyn EnergyCapability,
        batch: &Points,
        rng: &mut ChainRng,
        grads: &mut [Vec<f64>],
    ) -> Result<f64> {
        let sampler = &mut self.sampler;
        let neg = model
            .with_target(&mut |target| sampler.negatives(target, batch, rng))
            .ok_or_else(|| {
                EstimatorError::Unsupported(
                    "maximum likelihood needs a model it can sample its negatives from".into(),
                )
            })??;
        let (pos_e, neg_e) = (model.energies(batch), model.energies(&neg));
        let (n, m) = (pos_e.len() as f64, neg_e.len() as f64);
        let mean = |e: &[f64]| e.iter().sum::<f64>() / e.len() as f64;
        let mean_sq = |e: &[f64]| e.iter().map(|v| v * v).sum::<f64>() / e.len() as f64;
        let a = self.alpha;
        let loss = mean(&pos_e) - mean(&neg_e) + a * (mean_sq(&pos_e) + mean_sq(&neg_e));
        let w_pos: Vec<f64> = pos_e.iter().map(|e| (1.0 + 2.0 * a * e) / n).collect();
        let w_neg: Vec<f64> = neg_e.iter().map(|e| (-1.0 + 2.0 * a * e) / m).collect();
        model.add_weighted_energy_grad(batch, &w_pos, grads)?;
        model.add_weighted_energy_grad(&neg, &w_neg, grads)?;
        Ok(loss)
    }
}
