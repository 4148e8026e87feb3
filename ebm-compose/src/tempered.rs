//! Tempering: an energy scaled by an inverse temperature.

use ebm_core::error::{check_positive_scalar, Result};
use ebm_core::{BinaryEnergy, CategoricalEnergy, Energy, Quadratic};

/// p_beta(x) ∝ p(x)^beta, i.e. E_beta(x) = beta E(x), grad = beta grad E.
///
/// beta < 1 flattens the density (higher temperature), beta > 1 sharpens
/// it. Tempering a Gaussian by beta scales its covariance by 1/beta, so
/// log Z stays exact for quadratic forms.
///
/// ```
/// use ebm_compose::Tempered;
/// use ebm_core::{Energy, energies::DiagGaussian};
/// let t = Tempered::new(DiagGaussian::new(vec![0.0], vec![1.0]).unwrap(), 4.0).unwrap();
/// // N(0, 1/4): log Z = 1/2 log 2 pi + log 1/2.
/// let want = 0.5 * (2.0 * std::f64::consts::PI).ln() + 0.5f64.ln();
/// assert!((t.log_partition().unwrap() - want).abs() < 1e-12);
/// ```
#[derive(Clone, Debug)]
pub struct Tempered<E> {
    base: E,
    beta: f64,
}

impl<E> Tempered<E> {
    /// beta E with beta finite and positive (for an [`Energy`] or a
    /// [`BinaryEnergy`] or a [`CategoricalEnergy`]).
    pub fn new(base: E, beta: f64) -> Result<Self> {
        check_positive_scalar("beta", beta)?;
        Ok(Self { base, beta })
    }

    /// The inverse temperature.
    pub fn beta(&self) -> f64 {
        self.beta
    }

    /// The untempered energy.
    pub fn base(&self) -> &E {
        &self.base
    }
}

impl<E: Energy> Energy for Tempered<E> {
    fn dim(&self) -> usize {
        self.base.dim()
    }

    fn energy(&self, x: &[f64]) -> f64 {
        self.beta * self.base.energy(x)
    }

    fn energy_grad(&self, x: &[f64], grad: &mut [f64]) -> f64 {
        let e = self.base.energy_grad(x, grad);
        grad.iter_mut().for_each(|g| *g *= self.beta);
        self.beta * e
    }

    fn energy_batch(&self, xs: &[f64], energies: &mut [f64]) {
        self.base.energy_batch(xs, energies);
        energies.iter_mut().for_each(|e| *e *= self.beta);
    }

    fn energy_grad_batch(&self, xs: &[f64], grads: &mut [f64], energies: &mut [f64]) {
        self.base.energy_grad_batch(xs, grads, energies);
        grads.iter_mut().for_each(|g| *g *= self.beta);
        energies.iter_mut().for_each(|e| *e *= self.beta);
    }

    fn log_partition(&self) -> Option<f64> {
        if self.beta == 1.0 {
            return self.base.log_partition();
        }
        self.quadratic()?.log_partition()
    }

    fn quadratic(&self) -> Option<Quadratic> {
        Some(self.base.quadratic()?.scaled(self.beta))
    }
}

/// A tempered binary model: p_beta(x) ∝ exp(-beta E(x)) on the same
/// states, with flip deltas scaled by beta (so Gibbs samplers and AIS run on
/// it directly). log Z is known only at beta = 1.
///
/// ```
/// use ebm_compose::Tempered;
/// use ebm_core::{BinaryEnergy, energies::Ising};
/// let cold = Tempered::new(Ising::new(3, 3, 1.0, 0.0, 1.0, true).unwrap(), 0.5).unwrap();
/// let same = Ising::new(3, 3, 1.0, 0.0, 0.5, true).unwrap();
/// let s = [1.0, -1.0, 1.0, 1.0, 1.0, -1.0, -1.0, 1.0, 1.0];
/// assert!((cold.energy(&s) - same.energy(&s)).abs() < 1e-12);
/// ```
impl<M: BinaryEnergy> BinaryEnergy for Tempered<M> {
    fn dim(&self) -> usize {
        self.base.dim()
    }

    fn states(&self) -> (f64, f64) {
        self.base.states()
    }

    fn energy(&self, x: &[f64]) -> f64 {
        self.beta * self.base.energy(x)
    }

    fn flip_delta(&self, x: &[f64], i: usize) -> f64 {
        self.beta * self.base.flip_delta(x, i)
    }

    fn flip_delta_estimates(&self, x: &[f64], out: &mut [f64], work: &mut Vec<f64>) {
        self.base.flip_delta_estimates(x, out, work);
        for o in out.iter_mut() {
            *o *= self.beta;
        }
    }

    fn sweep_order(&self, order: &mut Vec<usize>) {
        self.base.sweep_order(order)
    }

    fn log_partition(&self) -> Option<f64> {
        if self.beta == 1.0 {
            self.base.log_partition()
        } else {
            None
        }
    }
}

/// A tempered categorical model: beta E, each site delta scaled by beta.
impl<M: CategoricalEnergy> CategoricalEnergy for Tempered<M> {
    fn dim(&self) -> usize {
        self.base.dim()
    }

    fn states(&self, i: usize) -> usize {
        self.base.states(i)
    }

    fn energy(&self, x: &[f64]) -> f64 {
        self.beta * self.base.energy(x)
    }

    fn set_delta(&self, x: &[f64], i: usize, a: usize) -> f64 {
        self.beta * self.base.set_delta(x, i, a)
    }

    fn site_deltas(&self, x: &[f64], i: usize, out: &mut [f64]) {
        self.base.site_deltas(x, i, out);
        for o in out.iter_mut() {
            *o *= self.beta;
        }
    }

    fn log_partition(&self) -> Option<f64> {
        if self.beta == 1.0 {
            self.base.log_partition()
        } else {
            None
        }
    }

    fn sweep_order(&self, order: &mut Vec<usize>) {
        self.base.sweep_order(order)
    }
}
