//! Noise-contrastive estimation (Gutmann and Hyvärinen 2010) with a
//! learnable log-normaliser.

use super::{log_sigmoid, Loss, Objective};
use crate::error::{config, EstimatorError, Result};
use crate::trainable::{to_device, vector, Backend, ParamMut, Real, TrainableEnergy, Vector};
use dfdx::prelude::*;
use ebm_core::{ChainRng, ExactSample, Points};
use std::sync::Arc;

/// NCE: classify data against nu times as many noise samples y ~ q, with
/// the model's log density log p(x) = -E(x) - c and a learned constant c
/// (which converges to log Z):
///
/// G(x) = -E(x) - c - log q(x),  u(x) = G(x) - log nu,
/// L = -mean_data log sigmoid(u(x)) - nu mean_noise log sigmoid(-u(y)).
///
/// The noise must have an exact density (`log_partition()` is `Some`);
/// by default it is the Gaussian fitted to the data (mean and covariance),
/// set in `prepare`.
pub struct Nce<F: Real, D: Backend<F>> {
    noise: Option<Arc<dyn ExactSample>>,
    log_z_noise: f64,
    ratio: usize,
    log_c: Vector<F, D>,
}

impl<F: Real, D: Backend<F>> Nce<F, D> {
    /// NCE with `ratio` noise samples per data point and noise `noise`
    /// (`None`: a Gaussian fitted to the data).
    pub fn new(dev: &D, ratio: usize, noise: Option<Arc<dyn ExactSample>>) -> Result<Self> {
        if ratio == 0 {
            return Err(config("noise_ratio", "must be at least 1"));
        }
        let mut out = Self {
            noise: None,
            log_z_noise: 0.0,
            ratio,
            log_c: vector(dev, &[0.0]),
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
        self.log_c.as_vec()[0].f64()
    }

    /// Energies of the noise distribution's normalised density:
    /// -log q(x) = E_q(x) + log Z_q.
    fn neg_log_q(&self, pts: &Points) -> Vec<f64> {
        let q = self.noise.as_ref().expect("prepared");
        let mut e = vec![0.0; pts.len()];
        q.energy_batch(pts.as_slice(), &mut e);
        e.iter().map(|v| v + self.log_z_noise).collect()
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

impl<F: Real, D: Backend<F>, M: TrainableEnergy<F, D>> Objective<F, D, M> for Nce<F, D> {
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

    fn prepare(&mut self, model: &M, data: &Points, _seed: u64) -> Result<()> {
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

    fn loss(&mut self, model: &M, batch: &Points, rng: &mut ChainRng) -> Result<Loss<F, D>> {
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
        let y = Points::from_vec(y, d).map_err(EstimatorError::Core)?;
        let log_nu = (self.ratio as f64).ln();
        let dev = model.device();
        // u = -E(x) - c + (-log q(x)) - log nu
        let u = |pts: &Points, c: &Vector<F, D>| {
            let k = pts.len();
            let shift: Vec<f64> = self.neg_log_q(pts).iter().map(|v| v - log_nu).collect();
            let x = to_device::<F, D>(dev, pts.as_slice(), d).retaped::<OwnedTape<F, D>>();
            let cb = c
                .retaped::<OwnedTape<F, D>>()
                .reshape_like(&())
                .broadcast_like::<(usize,), Axis<0>>(&(k,));
            (model.energy_t(x) + cb).negate() + vector::<F, D>(dev, &shift)
        };
        let data_term = log_sigmoid(u(batch, &self.log_c)).mean::<(), Axis<0>>();
        let noise_term = log_sigmoid(u(&y, &self.log_c).negate()).mean::<(), Axis<0>>();
        Ok((data_term + noise_term * F::of(self.ratio as f64)).negate())
    }

    fn params_mut(&mut self) -> Vec<ParamMut<'_, F, D>> {
        vec![ParamMut::Vector(&mut self.log_c)]
    }
}
