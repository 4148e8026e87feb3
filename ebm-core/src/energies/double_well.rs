//! Double well along the first coordinate, Gaussian in the others.

use crate::energy::Energy;
use crate::error::{check_positive_scalar, CoreError, Result};
use crate::math::LN_2PI;
use crate::quadrature::{log_integral_1d, QuadratureOptions};

/// A bimodal energy with modes at x_0 = +-1 separated by a barrier of
/// height `a` (in nats):
///
/// E(x) = a (x_0^2 - 1)^2 + 1/2 sum_{i>=1} x_i^2,
/// dE/dx_0 = 4 a x_0 (x_0^2 - 1),  dE/dx_i = x_i,
/// log Z = log integral exp(-a (t^2 - 1)^2) dt + (D - 1)/2 log(2 pi).
///
/// The one-dimensional integral has no elementary closed form; it is
/// computed once, at construction, by adaptive Gauss-Kronrod quadrature to
/// a relative accuracy of about 1e-12, so `log_partition` is exact to
/// machine precision for all practical purposes.
#[derive(Clone, Debug, PartialEq)]
pub struct DoubleWell {
    dim: usize,
    barrier: f64,
    log_z: f64,
}

impl DoubleWell {
    /// A double well in `dim >= 1` dimensions with barrier height `barrier > 0`.
    pub fn new(dim: usize, barrier: f64) -> Result<Self> {
        if dim == 0 {
            return Err(CoreError::InvalidParameter {
                field: "dim".into(),
                reason: "must be at least 1".into(),
            });
        }
        check_positive_scalar("barrier", barrier)?;
        let log_z1 = log_integral_1d(|t| barrier * (t * t - 1.0).powi(2), &QuadratureOptions::default())?;
        Ok(Self {
            dim,
            barrier,
            log_z: log_z1 + 0.5 * (dim - 1) as f64 * LN_2PI,
        })
    }

    /// The barrier height a.
    pub fn barrier(&self) -> f64 {
        self.barrier
    }
}

impl Energy for DoubleWell {
    fn dim(&self) -> usize {
        self.dim
    }

    fn energy(&self, x: &[f64]) -> f64 {
        let t = x[0] * x[0] - 1.0;
        self.barrier * t * t + 0.5 * x[1..].iter().map(|v| v * v).sum::<f64>()
    }

    fn energy_grad(&self, x: &[f64], grad: &mut [f64]) -> f64 {
        let t = x[0] * x[0] - 1.0;
        grad[0] = 4.0 * self.barrier * x[0] * t;
        let mut e = self.barrier * t * t;
        for i in 1..self.dim {
            grad[i] = x[i];
            e += 0.5 * x[i] * x[i];
        }
        e
    }

    fn log_partition(&self) -> Option<f64> {
        Some(self.log_z)
    }
}
