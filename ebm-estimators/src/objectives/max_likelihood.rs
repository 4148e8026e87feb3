//! Maximum likelihood with sampled negatives (CD, PCD, replay buffer).

use super::{Loss, NegativeSampler, Objective, ObjectiveState};
use crate::engine::StepEngine;
use crate::error::{config, Result};
use crate::optim::OptimizerConfig;
use crate::rbm_pcd::RbmPcdEngine;
use crate::trainable::{to_device, Backend, Real, TrainableEnergy};
use dfdx::prelude::*;
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

impl<F: Real, D: Backend<F>, M: TrainableEnergy<F, D>, S: NegativeSampler<M>> Objective<F, D, M>
    for MaxLikelihood<S>
{
    fn name(&self) -> String {
        self.sampler.name()
    }

    fn settings(&self) -> String {
        format!("{}, alpha {}", self.sampler.settings(), self.alpha)
    }

    fn prepare(&mut self, model: &M, data: &Points, seed: u64) -> Result<()> {
        self.sampler.prepare(model, data, seed)
    }

    fn state(&self) -> ObjectiveState {
        self.sampler.state()
    }

    fn restore(&mut self, state: &ObjectiveState) -> Result<()> {
        self.sampler.restore(state)
    }

    /// PCD with block-Gibbs chains on an RBM, plain SGD and no
    /// regulariser: the closed-form step of [`crate::rbm_pcd`].
    fn has_host_engine(&self, model: &M, optimizer: &OptimizerConfig) -> bool {
        self.alpha == 0.0
            && matches!(optimizer, OptimizerConfig::Sgd { momentum, .. } if *momentum == 0.0)
            && self.sampler.gibbs_pcd().is_some()
            && model.rbm().is_some()
    }

    fn host_engine<'a>(
        &'a mut self,
        model: &'a mut M,
        optimizer: &OptimizerConfig,
    ) -> Result<Option<Box<dyn StepEngine + Send + 'a>>> {
        if !self.has_host_engine(model, optimizer) {
            return Ok(None);
        }
        let (sweeps, chains) = self.sampler.gibbs_pcd().expect("checked");
        let name = format!("{}-host", self.sampler.name());
        Ok(Some(Box::new(RbmPcdEngine::new(
            model,
            name,
            optimizer.lr(),
            chains,
            sweeps,
        )?)))
    }

    fn loss(&mut self, model: &M, batch: &Points, rng: &mut ChainRng) -> Result<Loss<F, D>> {
        let neg = self.sampler.negatives(model, batch, rng)?;
        let dev = model.device();
        let d = batch.dim();
        let energies = |pts: &Points| {
            model.energy_t(to_device::<F, D>(dev, pts.as_slice(), d).retaped::<OwnedTape<F, D>>())
        };
        let (pos, neg) = (energies(batch), energies(&neg));
        if self.alpha == 0.0 {
            return Ok(pos.mean::<(), Axis<0>>() - neg.mean::<(), Axis<0>>());
        }
        let alpha = F::of(self.alpha);
        let (pos, tp) = pos.split_tape();
        let (neg, tn) = neg.split_tape();
        let reg = (pos.clone().put_tape(tp).square().mean::<(), Axis<0>>()
            + neg.clone().put_tape(tn).square().mean::<(), Axis<0>>())
            * alpha;
        let contrast = pos.retaped::<OwnedTape<F, D>>().mean::<(), Axis<0>>()
            - neg.retaped::<OwnedTape<F, D>>().mean::<(), Axis<0>>();
        Ok(contrast + reg)
    }
}
