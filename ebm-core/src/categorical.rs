//! Categorical state spaces: models over D sites, site i taking one of
//! q_i states 0, 1, ..., q_i - 1 (Potts models, sequence and protein
//! contact models). A state is stored as its index, a float (`2.0` is
//! state 2), so that chains, draws and files are those of every model.

use crate::energies::CategoricalPairwise;
use crate::error::{CoreError, Result};
use crate::math::LogSumExp;
use rayon::prelude::*;
use std::sync::Arc;

/// Largest number of states (the product of the q_i) that exact
/// enumeration accepts, 2^30; the automatic `log_partition` of the models
/// stops at 2^26.
pub const MAX_ENUMERATION_STATES: u64 = 1 << 30;

/// A model p(x) = exp(-E(x)) / Z over x with x_i in {0, ..., q_i - 1}; Z is
/// the sum over all prod_i q_i states.
///
/// What samplers, AIS and enumeration need: the energy, the energy change
/// of setting one site to another state (the Gibbs conditional of site i
/// is p(x_i = a | rest) ∝ exp(-(E(x with x_i = a) - E(x)))), and exact log Z
/// where it is cheap.
pub trait CategoricalEnergy: Send + Sync {
    /// Number of sites D.
    fn dim(&self) -> usize;

    /// q_i, the number of states of site `i` (at least 2).
    fn states(&self, i: usize) -> usize;

    /// E(x) for one state, each `x[i]` an index in 0..q_i.
    fn energy(&self, x: &[f64]) -> f64;

    /// E(x') - E(x) for x' = x with site `i` set to state `a`.
    fn set_delta(&self, x: &[f64], i: usize, a: usize) -> f64;

    /// `out[a]` = E(x with x_i = a) - E(x) for every state a of site `i`
    /// (`out` has length q_i; `out[x_i]` is 0). By default one
    /// [`CategoricalEnergy::set_delta`] per state.
    fn site_deltas(&self, x: &[f64], i: usize, out: &mut [f64]) {
        for (a, o) in out.iter_mut().enumerate() {
            *o = self.set_delta(x, i, a);
        }
    }

    /// E for each state in the row-major batch `xs`.
    fn energy_batch(&self, xs: &[f64], energies: &mut [f64]) {
        let d = self.dim();
        for (x, e) in xs.chunks_exact(d.max(1)).zip(energies.iter_mut()) {
            *e = self.energy(x);
        }
    }

    /// Exact log Z when the model can compute it cheaply, `None` otherwise.
    fn log_partition(&self) -> Option<f64> {
        None
    }

    /// The order in which a single-site Gibbs sweep visits the sites
    /// (0, 1, ..., D - 1 by default), written into `order`.
    fn sweep_order(&self, order: &mut Vec<usize>) {
        order.clear();
        order.extend(0..self.dim());
    }

    /// The categorical pairwise model this model is, when it is one (a
    /// coupling matrix per pair of sites and a field per site and state):
    /// Gibbs-with-gradients then recomputes only a changed site's
    /// neighbourhood. `None` by default.
    fn categorical_pairwise(&self) -> Option<&CategoricalPairwise> {
        None
    }
}

macro_rules! forward_categorical_energy {
    ($($ptr:ty),*) => {$(
        impl<E: CategoricalEnergy + ?Sized> CategoricalEnergy for $ptr {
            fn dim(&self) -> usize { (**self).dim() }
            fn states(&self, i: usize) -> usize { (**self).states(i) }
            fn energy(&self, x: &[f64]) -> f64 { (**self).energy(x) }
            fn set_delta(&self, x: &[f64], i: usize, a: usize) -> f64 { (**self).set_delta(x, i, a) }
            fn site_deltas(&self, x: &[f64], i: usize, out: &mut [f64]) { (**self).site_deltas(x, i, out) }
            fn energy_batch(&self, xs: &[f64], energies: &mut [f64]) { (**self).energy_batch(xs, energies) }
            fn log_partition(&self) -> Option<f64> { (**self).log_partition() }
            fn sweep_order(&self, order: &mut Vec<usize>) { (**self).sweep_order(order) }
            fn categorical_pairwise(&self) -> Option<&CategoricalPairwise> { (**self).categorical_pairwise() }
        }
    )*};
}
forward_categorical_energy!(&E, Box<E>, Arc<E>);

/// The number of states prod_i q_i of `model`, or `None` above 2^63.
pub fn state_count<M: CategoricalEnergy + ?Sized>(model: &M) -> Option<u64> {
    (0..model.dim()).try_fold(1u64, |n, i| n.checked_mul(model.states(i) as u64))
}

/// States per enumeration chunk: each chunk walks its states in
/// mixed-radix order (site 0 fastest) from a freshly computed energy, so
/// rounding drift stays bounded and chunks can run on any thread without
/// changing the result.
const CHUNK_STATES: u64 = 4096;

/// Exact log Z = log sum_x exp(-E(x)) of a categorical model by
/// enumerating every state in mixed-radix order (site 0 fastest), each
/// step's energy from the last by [`CategoricalEnergy::set_delta`] (one
/// per changed digit, fewer than two per state on average), in fixed
/// chunks combined in order: the same bits for any number of threads.
/// Errors above [`MAX_ENUMERATION_STATES`] states.
///
/// ```
/// use ebm_core::categorical::enumerate_categorical_log_partition;
/// use ebm_core::energies::CategoricalPairwise;
/// // two 3-state sites rewarded 1.0 for agreeing: Z = 3 e + 6
/// let m = CategoricalPairwise::potts(2, 3, &[(0, 1, 1.0)], None).unwrap();
/// let exact = (3.0 * 1f64.exp() + 6.0).ln();
/// assert!((enumerate_categorical_log_partition(&m).unwrap() - exact).abs() < 1e-12);
/// ```
pub fn enumerate_categorical_log_partition<M: CategoricalEnergy + ?Sized>(model: &M) -> Result<f64> {
    let d = model.dim();
    let total = state_count(model)
        .filter(|&n| n <= MAX_ENUMERATION_STATES)
        .ok_or_else(|| {
            CoreError::TooLarge(format!(
                "exact enumeration of a categorical model over more than {MAX_ENUMERATION_STATES} states is too large"
            ))
        })?;
    let q: Vec<u64> = (0..d).map(|i| model.states(i) as u64).collect();
    let chunks = total.div_ceil(CHUNK_STATES);
    let partials: Vec<LogSumExp> = (0..chunks)
        .into_par_iter()
        .map(|c| {
            let start = c * CHUNK_STATES;
            let end = (start + CHUNK_STATES).min(total);
            let mut x = vec![0.0; d];
            let mut rest = start;
            for (xi, &qi) in x.iter_mut().zip(&q) {
                *xi = (rest % qi) as f64;
                rest /= qi;
            }
            let mut e = model.energy(&x);
            let mut lse = LogSumExp::new();
            lse.add(-e);
            for _ in start + 1..end {
                // the odometer: raise site 0, carrying into the next sites
                for i in 0..d {
                    let next = (x[i] as u64 + 1) % q[i];
                    e += model.set_delta(&x, i, next as usize);
                    x[i] = next as f64;
                    if next != 0 {
                        break;
                    }
                }
                lse.add(-e);
            }
            lse
        })
        .collect();
    let mut all = LogSumExp::new();
    for p in partials {
        all.merge(p);
    }
    Ok(all.value())
}

/// Check that every value of the row-major states `xs` (each row
/// `model.dim()` long) is a state of its site: an integer in 0..q_i.
/// The error names the row and the column, both from 1.
pub fn check_states<M: CategoricalEnergy + ?Sized>(model: &M, xs: &[f64]) -> Result<()> {
    let d = model.dim().max(1);
    for (r, row) in xs.chunks(d).enumerate() {
        for (i, &v) in row.iter().enumerate() {
            let q = model.states(i);
            if !(v >= 0.0 && v < q as f64 && v.fract() == 0.0) {
                return Err(CoreError::InvalidParameter {
                    field: format!("row {}, column {}", r + 1, i + 1),
                    reason: format!(
                        "value {v} is not a state of this site (an integer from 0 to {})",
                        q - 1
                    ),
                });
            }
        }
    }
    Ok(())
}
