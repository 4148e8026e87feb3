//! Mixture of isotropic Gaussians.

use crate::energy::{Energy, ExactSample};
use crate::error::{check_finite, check_len, check_positive, CoreError, Result};
use crate::math::{log_sum_exp, LN_2PI};
use rand::Rng;
use rand_distr::{Distribution, StandardNormal};

/// Mixture of K isotropic Gaussians with weights used as given:
///
/// E(x) = -log sum_k w_k N(x; mu_k, s_k^2 I),
/// grad E = sum_k r_k(x) (x - mu_k) / s_k^2 with responsibilities
/// r_k = w_k N(x; mu_k, s_k^2 I) / sum_j w_j N(x; mu_j, s_j^2 I),
/// log Z = log sum_k w_k (0 when the weights sum to 1).
///
/// Evaluated in one pass with a streaming log-sum-exp, so it neither
/// overflows nor allocates.
///
/// ```
/// use ebm_core::{Energy, energies::Gmm};
/// let m = Gmm::eight_gaussians();
/// assert!(m.log_partition().unwrap().abs() < 1e-12);
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct Gmm {
    dim: usize,
    weights: Vec<f64>,
    /// K x D row-major.
    means: Vec<f64>,
    stds: Vec<f64>,
    /// log w_k - D/2 log(2 pi s_k^2).
    log_norm: Vec<f64>,
    inv_var: Vec<f64>,
}

impl Gmm {
    /// Mixture with `weights` (K, positive), `means` (K rows of D) and
    /// `stds` (K, positive).
    pub fn new(weights: Vec<f64>, means: Vec<Vec<f64>>, stds: Vec<f64>) -> Result<Self> {
        let k = weights.len();
        if k == 0 {
            return Err(CoreError::Shape {
                field: "weights".into(),
                expected: "at least 1 component".into(),
                got: "0".into(),
            });
        }
        check_positive("weights", &weights)?;
        check_len("means", means.len(), k)?;
        check_len("stds", stds.len(), k)?;
        check_positive("stds", &stds)?;
        let dim = means[0].len();
        if dim == 0 {
            return Err(CoreError::Shape {
                field: "means[0]".into(),
                expected: "at least 1 coordinate".into(),
                got: "0".into(),
            });
        }
        let mut flat = Vec::with_capacity(k * dim);
        for (i, m) in means.iter().enumerate() {
            check_len(&format!("means[{i}]"), m.len(), dim)?;
            check_finite(&format!("means[{i}]"), m)?;
            flat.extend_from_slice(m);
        }
        let log_norm = weights
            .iter()
            .zip(&stds)
            .map(|(w, s)| w.ln() - 0.5 * dim as f64 * (LN_2PI + 2.0 * s.ln()))
            .collect();
        let inv_var = stds.iter().map(|s| 1.0 / (s * s)).collect();
        Ok(Self {
            dim,
            weights,
            means: flat,
            stds,
            log_norm,
            inv_var,
        })
    }

    /// The W1 benchmark target: 8 equally weighted components with means
    /// 4 (cos(k pi/4), sin(k pi/4)), k = 0..7, and std 0.5.
    pub fn eight_gaussians() -> Self {
        let means = (0..8)
            .map(|k| {
                let a = k as f64 * std::f64::consts::FRAC_PI_4;
                vec![4.0 * a.cos(), 4.0 * a.sin()]
            })
            .collect();
        Self::new(vec![1.0 / 8.0; 8], means, vec![0.5; 8]).expect("valid by construction")
    }

    /// Mixture weights w.
    pub fn weights(&self) -> &[f64] {
        &self.weights
    }

    /// Component means, K rows of D.
    pub fn means(&self) -> Vec<Vec<f64>> {
        self.means.chunks_exact(self.dim).map(<[f64]>::to_vec).collect()
    }

    /// Component standard deviations.
    pub fn stds(&self) -> &[f64] {
        &self.stds
    }

    /// Number of components K.
    pub fn components(&self) -> usize {
        self.weights.len()
    }

    /// Component mean k.
    pub fn component_mean(&self, k: usize) -> &[f64] {
        &self.means[k * self.dim..(k + 1) * self.dim]
    }
}

impl Energy for Gmm {
    fn dim(&self) -> usize {
        self.dim
    }

    fn energy(&self, x: &[f64]) -> f64 {
        let mut acc = crate::math::LogSumExp::new();
        for k in 0..self.weights.len() {
            let mu = self.component_mean(k);
            let sq: f64 = x.iter().zip(mu).map(|(a, b)| (a - b) * (a - b)).sum();
            acc.add(self.log_norm[k] - 0.5 * sq * self.inv_var[k]);
        }
        -acc.value()
    }

    fn energy_grad(&self, x: &[f64], grad: &mut [f64]) -> f64 {
        // Online log-sum-exp with the gradient accumulated under the same
        // running maximum: g = sum_k exp(l_k - m) (x - mu_k) / s_k^2.
        let d = self.dim;
        grad.iter_mut().for_each(|g| *g = 0.0);
        let mut m = f64::NEG_INFINITY;
        let mut s = 0.0;
        for k in 0..self.weights.len() {
            let mu = &self.means[k * d..(k + 1) * d];
            let mut sq = 0.0;
            for j in 0..d {
                let t = x[j] - mu[j];
                sq += t * t;
            }
            let l = self.log_norm[k] - 0.5 * sq * self.inv_var[k];
            let w;
            if l > m {
                let scale = (m - l).exp();
                s *= scale;
                grad.iter_mut().for_each(|g| *g *= scale);
                m = l;
                w = 1.0;
            } else {
                w = (l - m).exp();
            }
            s += w;
            let c = w * self.inv_var[k];
            for j in 0..d {
                grad[j] += c * (x[j] - mu[j]);
            }
        }
        if s > 0.0 && m.is_finite() {
            grad.iter_mut().for_each(|g| *g /= s);
            -(m + s.ln())
        } else {
            grad.iter_mut().for_each(|g| *g = f64::NAN);
            f64::INFINITY
        }
    }

    fn log_partition(&self) -> Option<f64> {
        Some(log_sum_exp(
            &self.weights.iter().map(|w| w.ln()).collect::<Vec<_>>(),
        ))
    }
}

impl ExactSample for Gmm {
    /// Pick component k with probability w_k / sum w, then x ~ N(mu_k, s_k^2 I).
    fn sample_into(&self, rng: &mut dyn rand::RngCore, x: &mut [f64]) {
        let total: f64 = self.weights.iter().sum();
        let mut u = rng.random::<f64>() * total;
        let mut k = self.weights.len() - 1;
        for (i, w) in self.weights.iter().enumerate() {
            if u < *w {
                k = i;
                break;
            }
            u -= w;
        }
        let mu = self.component_mean(k);
        for j in 0..self.dim {
            let z: f64 = StandardNormal.sample(rng);
            x[j] = mu[j] + self.stds[k] * z;
        }
    }
}
