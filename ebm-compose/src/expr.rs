//! Operator sugar: write compositions as formulas.

use crate::{Product, Tempered};
use ebm_core::{Energy, Quadratic};
use std::ops::{Add, Mul};
use std::sync::Arc;

/// A shared, type-erased energy that composes with operators:
/// `a + b` is the product of experts E_a + E_b, and `beta * a` is the
/// tempered energy beta E_a.
///
/// ```
/// use ebm_compose::expr;
/// use ebm_core::{Energy, energies::DiagGaussian};
/// let a = expr(DiagGaussian::new(vec![0.0], vec![1.0]).unwrap());
/// let b = expr(DiagGaussian::new(vec![2.0], vec![1.0]).unwrap());
/// let poe = a.clone() + 0.5 * b;       // E_a + 0.5 E_b
/// assert_eq!(poe.energy(&[0.0]), 0.5 * 0.5 * 4.0);
/// assert!(poe.log_partition().is_some()); // still Gaussian
/// ```
#[derive(Clone)]
pub struct Expr(pub Arc<dyn Energy>);

/// Wrap an energy for operator composition.
pub fn expr<E: Energy + 'static>(e: E) -> Expr {
    Expr(Arc::new(e))
}

impl std::fmt::Debug for Expr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Expr(dim {})", self.0.dim())
    }
}

impl Energy for Expr {
    fn dim(&self) -> usize {
        self.0.dim()
    }
    fn energy(&self, x: &[f64]) -> f64 {
        self.0.energy(x)
    }
    fn energy_grad(&self, x: &[f64], grad: &mut [f64]) -> f64 {
        self.0.energy_grad(x, grad)
    }
    fn energy_batch(&self, xs: &[f64], energies: &mut [f64]) {
        self.0.energy_batch(xs, energies)
    }
    fn energy_grad_batch(&self, xs: &[f64], grads: &mut [f64], energies: &mut [f64]) {
        self.0.energy_grad_batch(xs, grads, energies)
    }
    fn log_partition(&self) -> Option<f64> {
        self.0.log_partition()
    }
    fn quadratic(&self) -> Option<Quadratic> {
        self.0.quadratic()
    }
}

impl Add for Expr {
    type Output = Expr;
    /// The product of experts E_a + E_b.
    ///
    /// # Panics
    /// If the dimensions differ (use [`Product::new`] to get an error instead).
    fn add(self, rhs: Expr) -> Expr {
        let p = Product::new(vec![self, rhs]).expect("a + b: energies must have the same dimension");
        expr(p)
    }
}

impl Mul<Expr> for f64 {
    type Output = Expr;
    /// The tempered energy beta E.
    ///
    /// # Panics
    /// If beta is not finite and positive (use [`Tempered::new`] to get an
    /// error instead).
    fn mul(self, rhs: Expr) -> Expr {
        expr(Tempered::new(rhs, self).expect("beta * e: beta must be finite and positive"))
    }
}
