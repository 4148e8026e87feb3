//! Mixtures of normalised components.

use crate::product::check_experts;
use crate::scratch::with_buffer;
use ebm_core::error::{check_finite, check_positive, CoreError, Result};
use ebm_core::math::log_sum_exp;
use ebm_core::Energy;

/// Mixture p(x) ∝ sum_i pi_i p_i(x) of normalised components
/// p_i = exp(-E_i) / Z_i:
///
/// E(x) = -log sum_i pi_i exp(-E_i(x) - log Z_i),
/// grad E = sum_i r_i(x) grad E_i(x), r_i = pi_i exp(-E_i - log Z_i) / sum_j (...),
/// log Z = log sum_i pi_i (exactly, when the log Z_i are exact).
///
/// A mixture puts mass wherever *any* component does, where a
/// [`Product`](crate::Product) puts it only where *all* do. Each
/// component's log Z_i is its own `log_partition()` unless given.
///
/// ```
/// use ebm_compose::Mixture;
/// use ebm_core::{Energy, energies::DiagGaussian};
/// let m = Mixture::new(
///     vec![DiagGaussian::new(vec![-2.0], vec![1.0]).unwrap(), DiagGaussian::new(vec![2.0], vec![0.5]).unwrap()],
///     vec![0.3, 0.7],
/// ).unwrap();
/// assert!(m.log_partition().unwrap().abs() < 1e-15);
/// ```
#[derive(Clone, Debug)]
pub struct Mixture<E> {
    components: Vec<E>,
    weights: Vec<f64>,
    /// log pi_i - log Z_i.
    log_coef: Vec<f64>,
    /// Whether every log Z_i is exact (from the component itself).
    exact: bool,
    dim: usize,
}

impl<E: Energy> Mixture<E> {
    /// Mixture whose components all know their log Z.
    pub fn new(components: Vec<E>, weights: Vec<f64>) -> Result<Self> {
        let n = components.len();
        Self::with_log_partitions(components, weights, vec![None; n])
    }

    /// Mixture with some log Z_i given (estimates, for components without a
    /// closed form); `None` entries use the component's `log_partition()`.
    pub fn with_log_partitions(
        components: Vec<E>,
        weights: Vec<f64>,
        log_z: Vec<Option<f64>>,
    ) -> Result<Self> {
        let dim = check_experts("components", &components)?;
        ebm_core::error::check_len("weights", weights.len(), components.len())?;
        check_positive("weights", &weights)?;
        ebm_core::error::check_len("log_z", log_z.len(), components.len())?;
        let mut exact = true;
        let mut log_coef = Vec::with_capacity(components.len());
        for (i, (c, given)) in components.iter().zip(&log_z).enumerate() {
            let lz = match given {
                Some(v) => {
                    check_finite(&format!("log_z[{i}]"), &[*v])?;
                    exact = false;
                    *v
                }
                None => c.log_partition().ok_or_else(|| CoreError::InvalidParameter {
                    field: format!("components[{i}]"),
                    reason: "log Z of this component is unknown; give an estimate in `log_z`".into(),
                })?,
            };
            log_coef.push(weights[i].ln() - lz);
        }
        Ok(Self {
            components,
            weights,
            log_coef,
            exact,
            dim,
        })
    }

    /// The components.
    pub fn components(&self) -> &[E] {
        &self.components
    }

    /// The weights pi.
    pub fn weights(&self) -> &[f64] {
        &self.weights
    }
}

impl<E: Energy> Energy for Mixture<E> {
    fn dim(&self) -> usize {
        self.dim
    }

    fn energy(&self, x: &[f64]) -> f64 {
        let mut acc = ebm_core::math::LogSumExp::new();
        for (c, l) in self.components.iter().zip(&self.log_coef) {
            acc.add(l - c.energy(x));
        }
        -acc.value()
    }

    fn energy_grad(&self, x: &[f64], grad: &mut [f64]) -> f64 {
        let k = self.components.len();
        let d = self.dim;
        with_buffer(k * d + k, |buf| {
            let (gs, ls) = buf.split_at_mut(k * d);
            for (i, c) in self.components.iter().enumerate() {
                ls[i] = self.log_coef[i] - c.energy_grad(x, &mut gs[i * d..(i + 1) * d]);
            }
            let lse = log_sum_exp(ls);
            grad.iter_mut().for_each(|g| *g = 0.0);
            for i in 0..k {
                let r = (ls[i] - lse).exp();
                for j in 0..d {
                    grad[j] += r * gs[i * d + j];
                }
            }
            -lse
        })
    }

    /// log sum_i pi_i; `None` when some log Z_i was an estimate.
    fn log_partition(&self) -> Option<f64> {
        if self.exact {
            Some(log_sum_exp(
                &self.weights.iter().map(|w| w.ln()).collect::<Vec<_>>(),
            ))
        } else {
            None
        }
    }
}
