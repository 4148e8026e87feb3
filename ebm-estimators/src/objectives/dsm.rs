//! Denoising score matching (Vincent 2011), one or several noise levels.

use super::{Loss, Objective};
use crate::engine::StepEngine;
use crate::error::{config, Result};
use crate::mlp_dsm::MlpDsmEngine;
use crate::optim::OptimizerConfig;
use crate::trainable::{to_device, Backend, Real, TrainableScore};
use dfdx::prelude::*;
use ebm_core::EnergySpec;
use ebm_core::{ChainRng, Points};
use rand::Rng;
use rand_distr::StandardNormal;

/// Denoising score matching: perturb x~ = x + sigma eps with eps ~ N(0, I)
/// and regress the model score onto the score of the perturbation kernel,
///
/// L = 1/2 mean_i lambda_i ‖s(x~_i) - (x_i - x~_i)/sigma_i^2‖^2
///   = 1/2 mean_i lambda_i ‖s(x~_i) + eps_i/sigma_i‖^2,
///
/// exact through the model's explicit score. With one level, lambda = 1
/// (the W5 definition); with several, each row draws its sigma_i uniformly
/// from the levels and lambda_i = sigma_i^2 (Song and Ermon 2019), which
/// puts every level on the same scale.
#[derive(Clone, Debug)]
pub struct Dsm {
    sigmas: Vec<f64>,
}

impl Dsm {
    /// One noise level.
    pub fn new(sigma: f64) -> Result<Self> {
        Self::multi(vec![sigma])
    }

    /// Several noise levels (at least one, all positive and finite).
    pub fn multi(sigmas: Vec<f64>) -> Result<Self> {
        if sigmas.is_empty() {
            return Err(config("sigma", "give at least one noise level"));
        }
        if let Some(s) = sigmas.iter().find(|s| !(s.is_finite() && **s > 0.0)) {
            return Err(config(
                "sigma",
                format!("noise levels must be positive and finite, got {s}"),
            ));
        }
        Ok(Self { sigmas })
    }

    /// The noise levels.
    pub fn sigmas(&self) -> &[f64] {
        &self.sigmas
    }
}

impl<F: Real, D: Backend<F>, M: TrainableScore<F, D>> Objective<F, D, M> for Dsm {
    fn name(&self) -> String {
        "dsm".into()
    }

    /// An `mlp` model trains on the fused host kernel of
    /// [`crate::mlp_dsm`] (any optimizer).
    fn has_host_engine(&self, model: &M, _optimizer: &OptimizerConfig) -> bool {
        matches!(model.to_spec(), EnergySpec::Mlp { .. })
    }

    fn host_engine<'a>(
        &'a mut self,
        model: &'a mut M,
        optimizer: &OptimizerConfig,
    ) -> Result<Option<Box<dyn StepEngine + Send + 'a>>> {
        if !self.has_host_engine(model, optimizer) {
            return Ok(None);
        }
        Ok(Some(Box::new(MlpDsmEngine::new(
            model,
            self.sigmas.clone(),
            *optimizer,
        )?)))
    }

    fn loss(&mut self, model: &M, batch: &Points, rng: &mut ChainRng) -> Result<Loss<F, D>> {
        let (n, d) = (batch.len(), batch.dim());
        let mut noisy = batch.as_slice().to_vec();
        let mut target = vec![0.0; n * d];
        let mut weight = vec![1.0; n];
        let several = self.sigmas.len() > 1;
        for i in 0..n {
            let sigma = if several {
                self.sigmas[rng.random_range(0..self.sigmas.len())]
            } else {
                self.sigmas[0]
            };
            if several {
                weight[i] = sigma * sigma;
            }
            for k in 0..d {
                let eps: f64 = rng.sample(StandardNormal);
                noisy[i * d + k] += sigma * eps;
                target[i * d + k] = -eps / sigma;
            }
        }
        let dev = model.device();
        let x = to_device::<F, D>(dev, &noisy, d).retaped::<OwnedTape<F, D>>();
        let t = to_device::<F, D>(dev, &target, d);
        let w = crate::trainable::vector::<F, D>(dev, &weight);
        let per_row = (model.score_t(x) - t).square().sum::<(usize,), Axis<1>>() * w;
        Ok(per_row.mean::<(), Axis<0>>() * F::of(0.5))
    }
}
