//! Denoising score matching (Vincent 2011), one or several noise levels.

use crate::capability::{CapabilityObjective, EnergyCapability, ScoreLoss};
use crate::error::{config, EstimatorError, Result};
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
///
/// Written against the score capability ([`CapabilityObjective`]): on a
/// model with a hand-written score (the MLP) the trainer runs it there,
/// on any other model with a score through its tape
/// ([`crate::capability::Autodiff::with_score`]).
#[derive(Clone, Debug)]
pub struct Dsm {
    sigmas: Vec<f64>,
    /// The noisy rows of the current batch (reused between steps).
    noisy: Points,
    target: Vec<f64>,
    weight: Vec<f64>,
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
        Ok(Self {
            sigmas,
            noisy: Points::zeros(0, 1),
            target: Vec::new(),
            weight: Vec::new(),
        })
    }

    /// The noise levels.
    pub fn sigmas(&self) -> &[f64] {
        &self.sigmas
    }
}

/// Each row's DSM term and its derivative in the score:
/// l_i = lambda_i / (2n) ‖s_i - t_i‖^2, dl_i/ds_i = lambda_i / n (s_i - t_i).
struct DsmRows<'a> {
    target: &'a [f64],
    weight: &'a [f64],
    inv_n: f64,
}

impl ScoreLoss for DsmRows<'_> {
    fn row(&self, i: usize, score: &[f64], ds: &mut [f64]) -> f64 {
        let d = score.len();
        let t = &self.target[i * d..(i + 1) * d];
        let scale = self.weight[i] * self.inv_n;
        let mut sq = 0.0;
        for k in 0..d {
            let e = score[k] - t[k];
            sq += e * e;
            ds[k] = scale * e;
        }
        0.5 * scale * sq
    }
}

impl CapabilityObjective for Dsm {
    fn name(&self) -> String {
        "dsm".into()
    }

    fn settings(&self) -> String {
        format!("sigma {:?}", self.sigmas)
    }

    fn loss_grad(
        &mut self,
        model: &mut dyn EnergyCapability,
        batch: &Points,
        rng: &mut ChainRng,
        grads: &mut [Vec<f64>],
    ) -> Result<f64> {
        let score = model.score().ok_or_else(|| {
            EstimatorError::Unsupported("denoising score matching needs a model with a score".into())
        })?;
        let mut noisy = std::mem::replace(&mut self.noisy, Points::zeros(0, 1)).into_vec();
        draw_noise(
            &self.sigmas,
            batch,
            rng,
            &mut noisy,
            &mut self.target,
            &mut self.weight,
        );
        self.noisy = Points::from_vec(noisy, batch.dim())?;
        let rows = DsmRows {
            target: &self.target,
            weight: &self.weight,
            inv_n: 1.0 / batch.len() as f64,
        };
        score.add_score_loss_grad(&self.noisy, &rows, grads)
    }
}

/// The noisy inputs of a DSM step, into reused buffers: for each row x_i
/// a noise level sigma_i (drawn uniformly from `sigmas` when there are
/// several), then eps ~ N(0, I) coordinate by coordinate, giving
/// `noisy` = x_i + sigma_i eps, `target` = -eps / sigma_i (the score of
/// the noise kernel) and `weight` = sigma_i^2 (1 with a single level).
/// Drawn in this order so that a seed gives the same noise on every
/// model.
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
