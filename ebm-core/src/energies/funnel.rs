//! Neal's funnel.

use crate::energy::{Energy, ExactSample};
use crate::error::{check_positive_scalar, CoreError, Result};
use crate::math::LN_2PI;
use rand_distr::{Distribution, StandardNormal};

/// Neal's funnel (Neal 2003): v ~ N(0, sigma^2), x_i | v ~ N(0, e^v) for
/// i = 1..D-1, with the state (v, x_1, ..., x_{D-1}):
///
/// E(v, x) = v^2 / (2 sigma^2) + e^{-v} |x|^2 / 2 + (D - 1) v / 2,
/// dE/dv = v / sigma^2 - e^{-v} |x|^2 / 2 + (D - 1) / 2,  dE/dx_i = e^{-v} x_i,
/// log Z = D/2 log(2 pi) + log sigma.
///
/// The neck (v very negative) has curvature e^{-v}, which defeats any fixed
/// step size: the classic stress test for HMC. Neal's choice is sigma = 3.
#[derive(Clone, Debug, PartialEq)]
pub struct Funnel {
    dim: usize,
    scale: f64,
}

impl Funnel {
    /// A funnel in `dim >= 2` dimensions with neck scale `scale > 0`.
    pub fn new(dim: usize, scale: f64) -> Result<Self> {
        if dim < 2 {
            return Err(CoreError::InvalidParameter {
                field: "dim".into(),
                reason: format!("must be at least 2, got {dim}"),
            });
        }
        check_positive_scalar("scale", scale)?;
        Ok(Self { dim, scale })
    }

    /// The standard deviation sigma of v.
    pub fn scale(&self) -> f64 {
        self.scale
    }
}

impl Energy for Funnel {
    fn exact_sampler(&self) -> Option<&dyn ExactSample> {
        Some(self)
    }

    fn dim(&self) -> usize {
        self.dim
    }

    fn energy(&self, x: &[f64]) -> f64 {
        let v = x[0];
        let sq: f64 = x[1..].iter().map(|t| t * t).sum();
        0.5 * v * v / (self.scale * self.scale) + 0.5 * (-v).exp() * sq + 0.5 * (self.dim - 1) as f64 * v
    }

    fn energy_grad(&self, x: &[f64], grad: &mut [f64]) -> f64 {
        let v = x[0];
        let ev = (-v).exp();
        let mut sq = 0.0;
        for i in 1..self.dim {
            sq += x[i] * x[i];
            grad[i] = ev * x[i];
        }
        let s2 = self.scale * self.scale;
        grad[0] = v / s2 - 0.5 * ev * sq + 0.5 * (self.dim - 1) as f64;
        0.5 * v * v / s2 + 0.5 * ev * sq + 0.5 * (self.dim - 1) as f64 * v
    }

    fn log_partition(&self) -> Option<f64> {
        Some(0.5 * self.dim as f64 * LN_2PI + self.scale.ln())
    }
}

impl ExactSample for Funnel {
    fn sample_into(&self, rng: &mut dyn rand::RngCore, x: &mut [f64]) {
        let z: f64 = StandardNormal.sample(rng);
        x[0] = self.scale * z;
        let s = (0.5 * x[0]).exp();
        for v in x[1..].iter_mut() {
            let z: f64 = StandardNormal.sample(rng);
            *v = s * z;
        }
    }
}
