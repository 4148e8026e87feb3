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

    fn settings(&self) -> String {
        format!("sigma {:?}", self.sigmas)
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
        let d = batch.dim();
        let (mut noisy, mut target, mut weight) = (Vec::new(), Vec::new(), Vec::new());
        draw_noise(&self.sigmas, batch, rng, &mut noisy, &mut target, &mut weight);
        let dev = model.device();
        let x = to_device::<F, D>(dev, &noisy, d).retaped::<OwnedTape<F, D>>();
        let t = to_device::<F, D>(dev, &target, d);
        let w = crate::trainable::vector::<F, D>(dev, &weight);
        let per_row = (model.score_t(x) - t).square().sum::<(usize,), Axis<1>>() * w;
        Ok(per_row.mean::<(), Axis<0>>() * F::of(0.5))
    }
}

/// The noisy inputs of a DSM step, into reused buffers: for each row x_i
/// a noise level sigma_i (drawn uniformly from `sigmas` when there are
/// several), then eps ~ N(0, I) coordinate by coordinate, giving
/// `noisy` = x_i + sigma_i eps, `target` = -eps / sigma_i (the score of
/// the noise kernel) and `weight` = sigma_i^2 (1 with a single level).
/// One definition for the dfdx objective and the fused host kernel, so
/// both draw the same noise from the same stream.
pub(crate) fn draw_noise(
    sigmas: &[f64],
    batch: &Points,
    rng: &mut ChainRng,
    noisy: &mut Vec<f64>,
    target: &mut Vec<f64>,
    weight: &mut Vec<f64>,
) {
    let (n, d) = (batch.len(), batch.dim());
    noisy.clear();
    noisy.extend_from_slice(batch.as_slice());
    target.clear();
    target.resize(n * d, 0.0);
    weight.clear();
    weight.resize(n, 1.0);
    let several = sigmas.len() > 1;
    for i in 0..n {
        let sigma = if several {
            sigmas[rng.random_range(0..sigmas.len())]
        } else {
            sigmas[0]
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
}
