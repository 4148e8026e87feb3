//! Gaussian with diagonal covariance.

use crate::energy::{Energy, ExactSample};
use crate::error::{check_len, check_mean, check_positive, Result};
use crate::math::LN_2PI;
use rand_distr::{Distribution, StandardNormal};

/// N(mu, diag(s^2)):
///
/// E(x) = 1/2 sum_i ((x_i - mu_i) / s_i)^2,  dE/dx_i = (x_i - mu_i) / s_i^2,
/// log Z = D/2 log(2 pi) + sum_i log s_i.
#[derive(Clone, Debug, PartialEq)]
pub struct DiagGaussian {
    mean: Vec<f64>,
    std: Vec<f64>,
    inv_var: Vec<f64>,
}

impl DiagGaussian {
    /// N(mean, diag(std^2)); `std` entries finite and positive.
    pub fn new(mean: Vec<f64>, std: Vec<f64>) -> Result<Self> {
        check_mean(&mean)?;
        check_len("std", std.len(), mean.len())?;
        check_positive("std", &std)?;
        let inv_var = std.iter().map(|s| 1.0 / (s * s)).collect();
        Ok(Self { mean, std, inv_var })
    }

    /// The standard normal N(0, I) in `dim` dimensions.
    ///
    /// # Panics
    /// If `dim == 0`.
    pub fn standard(dim: usize) -> Self {
        Self::new(vec![0.0; dim], vec![1.0; dim]).expect("standard normal needs dim > 0")
    }

    /// The mean mu.
    pub fn mean(&self) -> &[f64] {
        &self.mean
    }

    /// The standard deviations s.
    pub fn std(&self) -> &[f64] {
        &self.std
    }
}

impl Energy for DiagGaussian {
    fn exact_sampler(&self) -> Option<&dyn ExactSample> {
        Some(self)
    }

    fn dim(&self) -> usize {
        self.mean.len()
    }

    fn energy(&self, x: &[f64]) -> f64 {
        let mut e = 0.0;
        for i in 0..self.mean.len() {
            let d = x[i] - self.mean[i];
            e += d * d * self.inv_var[i];
        }
        0.5 * e
    }

    fn energy_grad(&self, x: &[f64], grad: &mut [f64]) -> f64 {
        let mut e = 0.0;
        for i in 0..self.mean.len() {
            let d = x[i] - self.mean[i];
            grad[i] = d * self.inv_var[i];
            e += d * grad[i];
        }
        0.5 * e
    }

    fn log_partition(&self) -> Option<f64> {
        Some(0.5 * self.mean.len() as f64 * LN_2PI + self.std.iter().map(|s| s.ln()).sum::<f64>())
    }

    fn quadratic(&self) -> Option<crate::energy::Quadratic> {
        let d = self.mean.len();
        let mut precision = vec![0.0; d * d];
        for i in 0..d {
            precision[i * d + i] = self.inv_var[i];
        }
        Some(crate::energy::Quadratic {
            mean: self.mean.clone(),
            precision,
            offset: 0.0,
        })
    }
}

impl ExactSample for DiagGaussian {
    fn sample_into(&self, rng: &mut dyn rand::RngCore, x: &mut [f64]) {
        for i in 0..self.mean.len() {
            let z: f64 = StandardNormal.sample(rng);
            x[i] = self.mean[i] + self.std[i] * z;
        }
    }
}
