//! Noise-contrastive estimation (Gutmann and Hyvärinen 2010) with a
//! learnable log-normaliser.

use crate::capability::{CapabilityObjective, EnergyCapability};
use crate::error::{config, EstimatorError, Result};
use ebm_core::math::{sigmoid, softplus};
use ebm_core::{ChainRng, ExactSample, Points};
use std::sync::Arc;

/// NCE: classify data against nu times as many noise samples y ~ q, with
/// the model's log density log p(x) = -E(x) - c and a learned constant c
/// (which converges to log Z):
///
/// G(x) = -E(x) - c - log q(x),  u(x) = G(x) - log nu,
/// L = -mean_data log sigmoid(u(x)) - nu mean_noise log sigmoid(-u(y)).
///
/// Written against the energy capability: with n data rows and m = nu n
/// noise rows, dL/dE(x_i) = sigmoid(-u(x_i)) / n, dL/dE(y_j) =
/// -nu sigmoid(u(y_j)) / m, and dL/dc is the sum of both; the
/// log-normaliser c is the objective's own parameter.
///
/// The noise must have an exact density (`log_partition()` is `Some`);
/// by default it is the Gaussian fitted to the data (mean and covariance),
/// set in `prepare`.
pub struct Nce {
    noise: Option<Arc<dyn ExactSample>>,
    log_z_noise: f64,
    ratio: usize,
    log_c: f64,
}

impl Nce {
    /// NCE with `ratio` noise samples per data point and noise `noise`
    /// (`None`: a Gaussian fitted to the data).
    pub fn new(ratio: usize, noise: Option<Arc<dyn ExactSample>>) -> Result<Self> {
        if ratio == 0 {
            return Err(config("noise_ratio", "must be at least 1"));
        }
        let mut out = Self {
            noise: None,
            log_z_noise: 0.0,
            ratio,
            log_c: 0.0,
        };
        if let Some(q) = noise {
            out.set_noise(q)?;
        }
        Ok(out)
    }

    fn set_noise(&mut self, q: Arc<dyn ExactSample>) -> Result<()> {
        self.log_z_noise = q.log_partition().ok_or_else(|| {
            EstimatorError::Unsupported("NCE noise needs an exact log Z (a Gaussian, a mixture, ...)".into())
        })?;
        self.noise = Some(q);
        Ok(())
    }

    /// The learned log-normaliser c (an estimate of log Z).
    pub fn log_normaliser(&self) -> f64 {
        self.log_c
    }

    /// u(x) = -E(x) - c - log q(x) - log nu for each row, given E.
    fn logits(&self, pts: &Points, energies: &[f64]) -> Vec<f64> {
        let q = self.noise.as_ref().expect("prepared");
        let mut e_q = vec![0.0; pts.len()];
        q.energy_batch(pts.as_slice(), &mut e_q);
        let log_nu = (self.ratio as f64).ln();
        energies
            .iter()
            .zip(&e_q)
            .map(|(e, eq)| -e - self.log_c + (eq + self.log_z_noise) - log_nu)
            .collect()
    }
}

/// The Gaussian with the data's mean and covariance (plus a 1e-9 relative
/// ridge so that degenerate data still give a density).
pub fn fit_gaussian(data: &Points) -> Result<ebm_core::energies::Gaussian> {
    let (n, d) = (data.len(), data.dim());
    if n < 2 {
        return Err(EstimatorError::Data(
            "need at least 2 rows to fit a Gaussian".into(),
        ));
    }
    let mut mean = vec![0.0; d];
    for r in data.rows() {
        mean.iter_mut().zip(r).for_each(|(m, v)| *m += v / n as f64);
    }
    let mut cov = vec![0.0; d * d];
    for r in data.rows() {
        for i in 0..d {
            for j in 0..d {
                cov[i * d + j] += (r[i] - mean[i]) * (r[j] - mean[j]) / (n - 1) as f64;
            }
        }
    }
    let ridge = 1e-9 * (0..d).map(|i| cov[i * d + i]).sum::<f64>().max(1e-300) / d as f64;
    (0..d).for_each(|i| cov[i * d + i] += ridge);
    Ok(ebm_core::energies::Gaussian::from_covariance(mean, &cov)?)
}

impl CapabilityObjective for Nce {
    fn name(&self) -> String {
        "nce".into()
    }

    fn settings(&self) -> String {
        let noise = if self.noise.is_some() {
            "given"
        } else {
            "fitted Gaussian"
        };
        format!("noise ratio {}, noise {noise}", self.ratio)
    }

    fn own_params(&self) -> Vec<Vec<f64>> {
        vec![vec![self.log_c]]
    }

    fn set_own_params(&mut self, values: &[Vec<f64>]) -> Result<()> {
        match values {
            [c] if c.len() == 1 && c[0].is_finite() => {
                self.log_c = c[0];
                Ok(())
            }
            _ => Err(EstimatorError::Checkpoint(
                "NCE's own parameters are one finite log-normaliser".into(),
            )),
        }
    }

    fn prepare(&mut self, model: &mut dyn EnergyCapability, data: &Points, _seed: u64) -> Result<()> {
        if self.noise.is_none() {
            self.set_noise(Arc::new(fit_gaussian(data)?))?;
        }
        let q = self.noise.as_ref().expect("set above");
        if q.dim() != model.dim() {
            return Err(config(
                "noise",
                format!("has dimension {}, the model {}", q.dim(), model.dim()),
            ));
        }
        Ok(())
    }

    fn loss_grad(
        &mut self,
        model: &mut dyn EnergyCapability,
        batch: &Points,
        rng: &mut ChainRng,
        grads: &mut [Vec<f64>],
    ) -> Result<f64> {
        let (n, d) = (batch.len(), batch.dim());
        let m = n * self.ratio;
        let q = self
            .noise
            .as_ref()
            .ok_or_else(|| EstimatorError::Unsupported("NCE used before prepare".into()))?;
        let mut y = vec![0.0; m * d];
        for row in y.chunks_exact_mut(d) {
            q.sample_into(rng, row);
        }
        let y = Points::from_vec(y, d)?;
        let u_data = self.logits(batch, &model.energies(batch));
        let u_noise = self.logits(&y, &model.energies(&y));
        let nu = self.ratio as f64;
        // -log sigmoid(u) = softplus(-u), -log sigmoid(-u) = softplus(u)
        let loss = u_data.iter().map(|u| softplus(-u)).sum::<f64>() / n as f64
            + nu * u_noise.iter().map(|u| softplus(*u)).sum::<f64>() / m as f64;
        let w_data: Vec<f64> = u_data.iter().map(|u| sigmoid(-u) / n as f64).collect();
        let w_noise: Vec<f64> = u_noise.iter().map(|u| -nu * sigmoid(*u) / m as f64).collect();
        let (model_grads, own) = grads.split_at_mut(grads.len() - 1);
        model.add_weighted_energy_grad(batch, &w_data, model_grads)?;
        model.add_weighted_energy_grad(&y, &w_noise, model_grads)?;
        // dL/dc = dL/dE summed over every row (u depends on E + c)
        own[0][0] += w_data.iter().chain(&w_noise).sum::<f64>();
        Ok(loss)
    }
}
