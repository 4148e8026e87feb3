//! Mass matrices (metrics) of the Hamiltonian kernels: the kinetic energy
//! K(p) = 1/2 p^T M^-1 p with p ~ N(0, M), written through the inverse
//! mass M^-1, an estimate of the target's covariance.

use crate::error::{invalid, Result};
use serde::{Deserialize, Serialize};

/// Which mass matrix a kernel adapts during warm-up.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MetricKind {
    /// M^-1 = diag(variances): D numbers, right when the target's scales
    /// differ but its coordinates are not strongly correlated.
    #[default]
    Diag,
    /// M^-1 = the full covariance estimate (Stan's regularised one): D^2
    /// numbers and a D x D product per gradient, right for correlated and
    /// rotated targets.
    Dense,
}

/// A dense inverse mass matrix M^-1 = S (symmetric positive definite,
/// row-major) with its Cholesky factor S = L L^T.
///
/// * velocity v = dK/dp = S p;
/// * momentum p = L^-T z from standard normals z, so that
///   Cov(p) = L^-T L^-1 = S^-1 = M.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DenseMetric {
    d: usize,
    cov: Vec<f64>,
    chol: Vec<f64>,
}

impl DenseMetric {
    /// The metric with M^-1 = `cov` (`d x d`, row-major, symmetric positive
    /// definite; kept as (cov + cov^T) / 2, which is `cov` itself, bit for
    /// bit, when it is symmetric).
    pub fn new(cov: &[f64], d: usize) -> Result<Self> {
        let chol = ebm_core::energies::lower_cholesky("inverse mass matrix", cov, d)
            .map_err(|e| invalid("inverse mass matrix", e.to_string()))?;
        let cov = (0..d * d)
            .map(|k| 0.5 * (cov[k] + cov[(k % d) * d + k / d]))
            .collect();
        Ok(Self { d, cov, chol })
    }

    /// Set `slot` to the metric of the square matrix `cov` (D^2 values) and
    /// return true, or leave it as it is and return false when `cov` is not
    /// square and positive definite (a warm-up window with too few draws):
    /// what a kernel's [`crate::Kernel::set_dense_inv_mass`] does.
    pub fn replace(slot: &mut Option<Self>, cov: &[f64]) -> bool {
        let d = (cov.len() as f64).sqrt().round() as usize;
        match Self::new(cov, d) {
            Ok(m) if d * d == cov.len() => {
                *slot = Some(m);
                true
            }
            _ => false,
        }
    }

    /// The dimension D.
    pub fn dim(&self) -> usize {
        self.d
    }

    /// M^-1 itself.
    pub fn inverse_mass(&self) -> &[f64] {
        &self.cov
    }

    /// v = M^-1 p.
    pub fn velocity(&self, p: &[f64], v: &mut [f64]) {
        ebm_core::matvec::symmetric_matvec(&self.cov, self.d, p, v);
    }

    /// p = L^-T z (back substitution), a draw from N(0, M) given standard
    /// normals `z`.
    pub fn momentum(&self, z: &[f64], p: &mut [f64]) {
        let d = self.d;
        for i in (0..d).rev() {
            let mut s = z[i];
            for k in i + 1..d {
                // (L^T)_{ik} = L_{ki}
                s -= self.chol[k * d + i] * p[k];
            }
            p[i] = s / self.chol[i * d + i];
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn momentum_has_the_mass_as_covariance_and_velocity_is_the_product() {
        // S = [[4, 1], [1, 2]]: M = S^-1 = [[2, -1], [-1, 4]] / 7
        let m = DenseMetric::new(&[4.0, 1.0, 1.0, 2.0], 2).unwrap();
        // p = L^-T z for the unit vectors gives the columns of L^-T, whose
        // outer products sum to L^-T L^-1 = S^-1
        let (mut p1, mut p2) = ([0.0; 2], [0.0; 2]);
        m.momentum(&[1.0, 0.0], &mut p1);
        m.momentum(&[0.0, 1.0], &mut p2);
        let c = |i: usize, j: usize| p1[i] * p1[j] + p2[i] * p2[j];
        let want = [[2.0 / 7.0, -1.0 / 7.0], [-1.0 / 7.0, 4.0 / 7.0]];
        for i in 0..2 {
            for j in 0..2 {
                assert!((c(i, j) - want[i][j]).abs() < 1e-14, "{i}{j}");
            }
        }
        let mut v = [0.0; 2];
        m.velocity(&[1.0, -1.0], &mut v);
        assert_eq!(v, [3.0, -1.0]);
        assert!(DenseMetric::new(&[1.0, 2.0, 2.0, 1.0], 2).is_err());
    }
}
