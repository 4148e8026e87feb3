//! Conditioning an energy on some of its coordinates.

use crate::scratch::with_buffer;
use ebm_core::error::{check_finite, CoreError, Result};
use ebm_core::{Energy, Quadratic};

/// The conditional p(x_F | x_C = v) ∝ exp(-E(x_F, v)): an energy over the
/// free coordinates F, with the clamped coordinates C held at values v.
///
/// E_clamp(x_F) = E(x_F, v),  grad E_clamp = (grad E)_F.
///
/// For a quadratic E (a Gaussian) the conditional is again Gaussian, with
/// precision P_FF and mean m_F - P_FF^-1 P_FC (v - m_C), so log Z stays
/// exact.
///
/// ```
/// use ebm_compose::Clamp;
/// use ebm_core::{Energy, energies::Gaussian};
/// let g = Gaussian::from_covariance(vec![0.0, 0.0], &[1.0, 0.8, 0.8, 1.0]).unwrap();
/// let c = Clamp::new(g, vec![1], vec![1.0]).unwrap();   // condition on x_1 = 1
/// let q = c.quadratic().unwrap();
/// assert!((q.mean[0] - 0.8).abs() < 1e-12);              // E[x_0 | x_1 = 1] = 0.8
/// ```
#[derive(Clone, Debug)]
pub struct Clamp<E> {
    base: E,
    clamped: Vec<usize>,
    values: Vec<f64>,
    free: Vec<usize>,
}

impl<E: Energy> Clamp<E> {
    /// Clamp coordinates `indices` (distinct, in range, not all of them) of
    /// `base` to `values`.
    pub fn new(base: E, indices: Vec<usize>, values: Vec<f64>) -> Result<Self> {
        let d = base.dim();
        ebm_core::error::check_len("values", values.len(), indices.len())?;
        check_finite("values", &values)?;
        let mut seen = vec![false; d];
        for (k, &i) in indices.iter().enumerate() {
            if i >= d {
                return Err(CoreError::InvalidParameter {
                    field: format!("indices[{k}]"),
                    reason: format!("coordinate {i} is out of range for dimension {d}"),
                });
            }
            if seen[i] {
                return Err(CoreError::InvalidParameter {
                    field: format!("indices[{k}]"),
                    reason: format!("coordinate {i} is clamped twice"),
                });
            }
            seen[i] = true;
        }
        let free: Vec<usize> = (0..d).filter(|&i| !seen[i]).collect();
        if free.is_empty() {
            return Err(CoreError::InvalidParameter {
                field: "indices".into(),
                reason: "every coordinate is clamped; nothing is left to model".into(),
            });
        }
        Ok(Self {
            base,
            clamped: indices,
            values,
            free,
        })
    }

    /// The free coordinates, in order.
    pub fn free(&self) -> &[usize] {
        &self.free
    }

    /// Write the full point (free coordinates from `x`, clamped from the
    /// values) into `full`.
    pub fn embed(&self, x: &[f64], full: &mut [f64]) {
        for (&i, &v) in self.clamped.iter().zip(&self.values) {
            full[i] = v;
        }
        for (&i, &v) in self.free.iter().zip(x) {
            full[i] = v;
        }
    }
}

impl<E: Energy> Energy for Clamp<E> {
    fn dim(&self) -> usize {
        self.free.len()
    }

    fn energy(&self, x: &[f64]) -> f64 {
        with_buffer(self.base.dim(), |full| {
            self.embed(x, full);
            self.base.energy(full)
        })
    }

    fn energy_grad(&self, x: &[f64], grad: &mut [f64]) -> f64 {
        let d = self.base.dim();
        with_buffer(2 * d, |buf| {
            let (full, g) = buf.split_at_mut(d);
            self.embed(x, full);
            let e = self.base.energy_grad(full, g);
            for (out, &i) in grad.iter_mut().zip(&self.free) {
                *out = g[i];
            }
            e
        })
    }

    fn log_partition(&self) -> Option<f64> {
        self.quadratic()?.log_partition()
    }

    fn quadratic(&self) -> Option<Quadratic> {
        let q = self.base.quadratic()?;
        let d = q.mean.len();
        let f = &self.free;
        let p = |i: usize, j: usize| q.precision[i * d + j];
        let delta: Vec<f64> = self
            .clamped
            .iter()
            .zip(&self.values)
            .map(|(&i, v)| v - q.mean[i])
            .collect();
        // E(x_F) = 1/2 u^T P_FF u + u^T b + 1/2 delta^T P_CC delta + c, u = x_F - m_F,
        // b = P_FC delta; complete the square with P_FF^-1 b.
        let pff: Vec<f64> = f.iter().flat_map(|&i| f.iter().map(move |&j| p(i, j))).collect();
        let b: Vec<f64> = f
            .iter()
            .map(|&i| self.clamped.iter().zip(&delta).map(|(&j, dj)| p(i, j) * dj).sum())
            .collect();
        let pcc: f64 = self
            .clamped
            .iter()
            .zip(&delta)
            .map(|(&i, di)| {
                self.clamped
                    .iter()
                    .zip(&delta)
                    .map(|(&j, dj)| di * p(i, j) * dj)
                    .sum::<f64>()
            })
            .sum();
        let cov = ebm_core::energies::Gaussian::from_precision(vec![0.0; f.len()], &pff)
            .ok()?
            .covariance();
        let nf = f.len();
        let shift: Vec<f64> = (0..nf)
            .map(|i| (0..nf).map(|j| cov[i * nf + j] * b[j]).sum())
            .collect();
        let bsb: f64 = shift.iter().zip(&b).map(|(s, b)| s * b).sum();
        Some(Quadratic {
            mean: f.iter().zip(&shift).map(|(&i, s)| q.mean[i] - s).collect(),
            precision: pff,
            offset: q.offset + 0.5 * pcc - 0.5 * bsb,
        })
    }
}
