//! The banana (twisted Gaussian, Rosenbrock-type) density of Haario et al.

use crate::energy::{Energy, ExactSample};
use crate::error::{check_finite_scalar, check_positive_scalar, CoreError, Result};
use crate::math::LN_2PI;
use rand_distr::{Distribution, StandardNormal};

/// A curved, Rosenbrock-like ridge: a Gaussian N(0, diag(s^2, 1, ..., 1))
/// pushed through the volume-preserving map y_1 = x_1 + b (x_0^2 - s^2):
///
/// E(x) = x_0^2 / (2 s^2) + 1/2 (x_1 + b (x_0^2 - s^2))^2 + 1/2 sum_{i>=2} x_i^2,
/// dE/dx_0 = x_0 / s^2 + 2 b x_0 u, dE/dx_1 = u, dE/dx_i = x_i,
/// with u = x_1 + b (x_0^2 - s^2).
///
/// Because the map has unit Jacobian, log Z = D/2 log(2 pi) + log s exactly,
/// which makes this a demanding sampler test with a known answer
/// (Haario, Saksman and Tamminen 1999).
#[derive(Clone, Debug, PartialEq)]
pub struct Banana {
    dim: usize,
    curvature: f64,
    scale: f64,
}

impl Banana {
    /// A banana in `dim >= 2` dimensions with curvature `b` and scale `s > 0`.
    pub fn new(dim: usize, curvature: f64, scale: f64) -> Result<Self> {
        if dim < 2 {
            return Err(CoreError::InvalidParameter {
                field: "dim".into(),
                reason: format!("must be at least 2, got {dim}"),
            });
        }
        check_finite_scalar("curvature", curvature)?;
        check_positive_scalar("scale", scale)?;
        Ok(Self {
            dim,
            curvature,
            scale,
        })
    }

    /// The curvature b.
    pub fn curvature(&self) -> f64 {
        self.curvature
    }

    /// The scale s of the first coordinate.
    pub fn scale(&self) -> f64 {
        self.scale
    }

    fn twist(&self, x: &[f64]) -> f64 {
        x[1] + self.curvature * (x[0] * x[0] - self.scale * self.scale)
    }
}

impl Energy for Banana {
    fn exact_sampler(&self) -> Option<&dyn ExactSample> {
        Some(self)
    }

    fn dim(&self) -> usize {
        self.dim
    }

    fn energy(&self, x: &[f64]) -> f64 {
        let u = self.twist(x);
        0.5 * x[0] * x[0] / (self.scale * self.scale)
            + 0.5 * u * u
            + 0.5 * x[2..].iter().map(|v| v * v).sum::<f64>()
    }

    fn energy_grad(&self, x: &[f64], grad: &mut [f64]) -> f64 {
        let u = self.twist(x);
        let inv_s2 = 1.0 / (self.scale * self.scale);
        grad[0] = x[0] * inv_s2 + 2.0 * self.curvature * x[0] * u;
        grad[1] = u;
        let mut e = 0.5 * x[0] * x[0] * inv_s2 + 0.5 * u * u;
        for i in 2..self.dim {
            grad[i] = x[i];
            e += 0.5 * x[i] * x[i];
        }
        e
    }

    fn log_partition(&self) -> Option<f64> {
        Some(0.5 * self.dim as f64 * LN_2PI + self.scale.ln())
    }
}

impl ExactSample for Banana {
    /// Draw the Gaussian, then untwist: x_1 = y_1 - b (x_0^2 - s^2).
    fn sample_into(&self, rng: &mut dyn rand::RngCore, x: &mut [f64]) {
        for v in x.iter_mut() {
            *v = StandardNormal.sample(rng);
        }
        x[0] *= self.scale;
        x[1] -= self.curvature * (x[0] * x[0] - self.scale * self.scale);
    }
}
