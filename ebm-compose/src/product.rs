//! Product of experts: energies add.

use crate::scratch::with_buffer;
use ebm_core::error::{check_positive, CoreError, Result};
use ebm_core::{BinaryEnergy, Energy, Quadratic};

/// Product of experts p(x) ∝ prod_i p_i(x)^{w_i}:
///
/// E(x) = sum_i w_i E_i(x),  grad E = sum_i w_i grad E_i.
///
/// Each expert acts as a soft constraint: the product puts mass only where
/// every expert gives it mass. log Z is exact when every expert is a
/// quadratic form (Gaussians), otherwise unknown.
///
/// ```
/// use ebm_compose::Product;
/// use ebm_core::{Energy, energies::DiagGaussian};
/// // N(0, 1) x N(2, 1) ∝ N(1, 1/2).
/// let p = Product::new(vec![
///     DiagGaussian::new(vec![0.0], vec![1.0]).unwrap(),
///     DiagGaussian::new(vec![2.0], vec![1.0]).unwrap(),
/// ]).unwrap();
/// let mut g = [0.0];
/// p.energy_grad(&[1.0], &mut g);
/// assert_eq!(g, [0.0]); // the mode of the product
/// ```
#[derive(Clone, Debug)]
pub struct Product<E> {
    experts: Vec<E>,
    weights: Vec<f64>,
    dim: usize,
}

impl<E: Energy> Product<E> {
    /// Equal-weight product (w_i = 1).
    pub fn new(experts: Vec<E>) -> Result<Self> {
        let w = vec![1.0; experts.len()];
        Self::weighted(experts, w)
    }

    /// Weighted product; weights finite and positive, experts of one
    /// dimension.
    pub fn weighted(experts: Vec<E>, weights: Vec<f64>) -> Result<Self> {
        let dim = check_experts("experts", &experts)?;
        ebm_core::error::check_len("weights", weights.len(), experts.len())?;
        check_positive("weights", &weights)?;
        Ok(Self {
            experts,
            weights,
            dim,
        })
    }
}

impl<E> Product<E> {
    /// The experts.
    pub fn experts(&self) -> &[E] {
        &self.experts
    }

    /// The weights w.
    pub fn weights(&self) -> &[f64] {
        &self.weights
    }
}

impl<M: BinaryEnergy> Product<M> {
    /// Weighted product of binary models over the same units and states:
    /// E(x) = sum_i w_i E_i(x), and flipping a unit changes it by
    /// sum_i w_i delta_i. Weights finite and positive.
    pub fn binary(experts: Vec<M>, weights: Vec<f64>) -> Result<Self> {
        let first = experts.first().ok_or_else(|| CoreError::Shape {
            field: "experts".into(),
            expected: "at least one model".into(),
            got: "none".into(),
        })?;
        let (dim, states) = (first.dim(), first.states());
        for (i, e) in experts.iter().enumerate() {
            if e.dim() != dim || e.states() != states {
                return Err(CoreError::Shape {
                    field: format!("experts[{i}]"),
                    expected: format!("{dim} units with states {states:?} (as experts[0])"),
                    got: format!("{} units with states {:?}", e.dim(), e.states()),
                });
            }
        }
        ebm_core::error::check_len("weights", weights.len(), experts.len())?;
        check_positive("weights", &weights)?;
        Ok(Self {
            experts,
            weights,
            dim,
        })
    }
}

/// A product of binary experts is a binary model (log Z unknown in
/// general; enumerate it with `ebm_core::binary::enumerate_log_partition`).
impl<M: BinaryEnergy> BinaryEnergy for Product<M> {
    fn dim(&self) -> usize {
        self.dim
    }

    fn states(&self) -> (f64, f64) {
        self.experts[0].states()
    }

    fn energy(&self, x: &[f64]) -> f64 {
        self.experts
            .iter()
            .zip(&self.weights)
            .map(|(e, w)| w * e.energy(x))
            .sum()
    }

    fn flip_delta(&self, x: &[f64], i: usize) -> f64 {
        self.experts
            .iter()
            .zip(&self.weights)
            .map(|(e, w)| w * e.flip_delta(x, i))
            .sum()
    }

    /// The weighted sum of the experts' estimates.
    fn flip_delta_estimates(&self, x: &[f64], out: &mut [f64], work: &mut Vec<f64>) {
        out.fill(0.0);
        let mut one = vec![0.0; out.len()];
        for (e, w) in self.experts.iter().zip(&self.weights) {
            e.flip_delta_estimates(x, &mut one, work);
            for (o, v) in out.iter_mut().zip(&one) {
                *o += w * v;
            }
        }
    }
}

/// Common dimension of a non-empty list of energies.
pub(crate) fn check_experts<E: Energy>(field: &str, experts: &[E]) -> Result<usize> {
    let dim = experts
        .first()
        .ok_or_else(|| CoreError::Shape {
            field: field.into(),
            expected: "at least one energy".into(),
            got: "none".into(),
        })?
        .dim();
    for (i, e) in experts.iter().enumerate() {
        if e.dim() != dim {
            return Err(CoreError::Shape {
                field: format!("{field}[{i}]"),
                expected: format!("dimension {dim} (as {field}[0])"),
                got: format!("dimension {}", e.dim()),
            });
        }
    }
    Ok(dim)
}

impl<E: Energy> Energy for Product<E> {
    fn dim(&self) -> usize {
        self.dim
    }

    fn energy(&self, x: &[f64]) -> f64 {
        self.experts
            .iter()
            .zip(&self.weights)
            .map(|(e, w)| w * e.energy(x))
            .sum()
    }

    fn energy_grad(&self, x: &[f64], grad: &mut [f64]) -> f64 {
        grad.iter_mut().for_each(|g| *g = 0.0);
        with_buffer(self.dim, |tmp| {
            let mut total = 0.0;
            for (e, &w) in self.experts.iter().zip(&self.weights) {
                total += w * e.energy_grad(x, tmp);
                for (g, t) in grad.iter_mut().zip(tmp.iter()) {
                    *g += w * t;
                }
            }
            total
        })
    }

    fn energy_grad_batch(&self, xs: &[f64], grads: &mut [f64], energies: &mut [f64]) {
        let n = energies.len();
        grads.iter_mut().for_each(|g| *g = 0.0);
        energies.iter_mut().for_each(|e| *e = 0.0);
        with_buffer(n * self.dim + n, |tmp| {
            let (tg, te) = tmp.split_at_mut(n * self.dim);
            for (e, &w) in self.experts.iter().zip(&self.weights) {
                e.energy_grad_batch(xs, tg, te);
                for (g, t) in grads.iter_mut().zip(tg.iter()) {
                    *g += w * t;
                }
                for (a, t) in energies.iter_mut().zip(te.iter()) {
                    *a += w * t;
                }
            }
        })
    }

    fn log_partition(&self) -> Option<f64> {
        self.quadratic()?.log_partition()
    }

    fn quadratic(&self) -> Option<Quadratic> {
        let terms: Option<Vec<Quadratic>> = self
            .experts
            .iter()
            .zip(&self.weights)
            .map(|(e, &w)| e.quadratic().map(|q| q.scaled(w)))
            .collect();
        Quadratic::sum(&terms?)
    }
}
