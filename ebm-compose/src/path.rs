//! Geometric annealing paths between a base and a target energy.

use crate::scratch::with_buffer;
use ebm_core::error::{CoreError, Result};
use ebm_core::Energy;

/// The geometric path p_beta ∝ p_0^{1-beta} p_1^beta between a tractable
/// base E_0 and a target E_1:
///
/// E_beta(x) = (1 - beta) E_0(x) + beta E_1(x),  beta in [0, 1].
///
/// Annealed importance sampling moves along it: the log-weight of a
/// particle grows by -(beta_k - beta_{k-1}) (E_1(x) - E_0(x)) at each
/// temperature (Neal 2001).
///
/// ```
/// use ebm_compose::Path;
/// use ebm_core::{Energy, energies::DiagGaussian};
/// let path = Path::new(DiagGaussian::standard(1), DiagGaussian::new(vec![4.0], vec![1.0]).unwrap()).unwrap();
/// let mid = path.at(0.5);
/// let mut g = [0.0];
/// mid.energy_grad(&[2.0], &mut g);
/// assert_eq!(g, [0.0]); // halfway, the mode is at 2
/// ```
#[derive(Clone, Debug)]
pub struct Path<B, T> {
    base: B,
    target: T,
}

impl<B: Energy, T: Energy> Path<B, T> {
    /// The path from `base` to `target` (same dimension).
    pub fn new(base: B, target: T) -> Result<Self> {
        if base.dim() != target.dim() {
            return Err(CoreError::Shape {
                field: "base".into(),
                expected: format!("dimension {} (the target's)", target.dim()),
                got: format!("dimension {}", base.dim()),
            });
        }
        Ok(Self { base, target })
    }

    /// The base E_0.
    pub fn base(&self) -> &B {
        &self.base
    }

    /// The target E_1.
    pub fn target(&self) -> &T {
        &self.target
    }

    /// The intermediate energy E_beta, itself an [`Energy`].
    pub fn at(&self, beta: f64) -> Annealed<'_, B, T> {
        Annealed { path: self, beta }
    }

    /// (E_0(x), E_1(x)).
    pub fn endpoint_energies(&self, x: &[f64]) -> (f64, f64) {
        (self.base.energy(x), self.target.energy(x))
    }
}

/// The energy at one point beta of a [`Path`].
#[derive(Clone, Copy, Debug)]
pub struct Annealed<'a, B, T> {
    path: &'a Path<B, T>,
    beta: f64,
}

impl<B, T> Annealed<'_, B, T> {
    /// The inverse temperature beta of this point on the path.
    pub fn beta(&self) -> f64 {
        self.beta
    }
}

impl<B: Energy, T: Energy> Energy for Annealed<'_, B, T> {
    fn dim(&self) -> usize {
        self.path.base.dim()
    }

    fn energy(&self, x: &[f64]) -> f64 {
        let (e0, e1) = self.path.endpoint_energies(x);
        (1.0 - self.beta) * e0 + self.beta * e1
    }

    fn energy_grad(&self, x: &[f64], grad: &mut [f64]) -> f64 {
        let b = self.beta;
        with_buffer(grad.len(), |tmp| {
            let e0 = self.path.base.energy_grad(x, tmp);
            let e1 = self.path.target.energy_grad(x, grad);
            for (g, t) in grad.iter_mut().zip(tmp.iter()) {
                *g = (1.0 - b) * t + b * *g;
            }
            (1.0 - b) * e0 + b * e1
        })
    }

    fn energy_grad_batch(&self, xs: &[f64], grads: &mut [f64], energies: &mut [f64]) {
        let b = self.beta;
        let n = energies.len();
        with_buffer(grads.len() + n, |tmp| {
            let (tg, te) = tmp.split_at_mut(grads.len());
            self.path.base.energy_grad_batch(xs, tg, te);
            self.path.target.energy_grad_batch(xs, grads, energies);
            for (g, t) in grads.iter_mut().zip(tg.iter()) {
                *g = (1.0 - b) * t + b * *g;
            }
            for (e, t) in energies.iter_mut().zip(te.iter()) {
                *e = (1.0 - b) * t + b * *e;
            }
        })
    }
}
