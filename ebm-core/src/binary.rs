//! Discrete state spaces: models over D units that each take one of two
//! values (RBM visibles in {0, 1}, Ising spins in {-1, +1}).

use crate::error::{CoreError, Result};
use crate::math::LogSumExp;
use rayon::prelude::*;
use std::sync::Arc;

/// Largest number of binary units that exact enumeration accepts (2^30
/// states); the automatic `log_partition` of the models uses smaller limits.
pub const MAX_ENUMERATION_BITS: usize = 30;

/// A model p(x) = exp(-E(x)) / Z over x in {lo, hi}^D, where `(lo, hi)` is
/// [`states`](BinaryEnergy::states). Z = sum over all 2^D states.
///
/// This is what Gibbs samplers, AIS and enumeration need: the energy, the
/// energy change of flipping one unit (which gives the conditional
/// p(x_i = flipped | x_-i) = sigmoid(-delta)), and exact log Z where it is
/// cheap.
pub trait BinaryEnergy: Send + Sync {
    /// Number of binary units D.
    fn dim(&self) -> usize;

    /// The two values a unit takes, `(low, high)`: `(0, 1)` or `(-1, 1)`.
    fn states(&self) -> (f64, f64);

    /// E(x) for one state, each `x[i]` being one of [`states`](BinaryEnergy::states).
    fn energy(&self, x: &[f64]) -> f64;

    /// E(x') - E(x), where x' is x with unit `i` flipped to its other value.
    fn flip_delta(&self, x: &[f64], i: usize) -> f64;

    /// E for each state in the row-major batch `xs`.
    fn energy_batch(&self, xs: &[f64], energies: &mut [f64]) {
        let d = self.dim();
        assert_eq!(xs.len(), energies.len() * d, "energy_batch: shape");
        for (x, e) in xs.chunks_exact(d).zip(energies.iter_mut()) {
            *e = self.energy(x);
        }
    }

    /// Estimates of every unit's flip delta E(x^(i)) - E(x) (x^(i) is x
    /// with unit i set to its other value) from one gradient of the
    /// energy as a function of real x: (x_i' - x_i) dE/dx_i, written into
    /// `out` (length D); `work` is scratch the model may resize.
    /// Gibbs-with-gradients proposes its flips from them. The default is
    /// the exact deltas, one [`BinaryEnergy::flip_delta`] per unit (for a
    /// pairwise model, whose energy is multilinear, the first-order
    /// estimates are exact anyway); an RBM overrides it with its free
    /// energy's gradient, O(V H) instead of O(V^2 H).
    fn flip_delta_estimates(&self, x: &[f64], out: &mut [f64], work: &mut Vec<f64>) {
        let _ = work;
        for (i, o) in out.iter_mut().enumerate() {
            *o = self.flip_delta(x, i);
        }
    }

    /// Exact log Z when the model can compute it cheaply, `None` otherwise.
    fn log_partition(&self) -> Option<f64> {
        None
    }

    /// The order in which a single-site Gibbs sweep visits the units,
    /// written into `order` (cleared first): 0, 1, ..., D - 1 by default;
    /// a lattice gives all sites of one colour of its checkerboard, then
    /// the other (the block update of a bipartite lattice). Any fixed order
    /// leaves p invariant; this is the model's preferred one.
    fn sweep_order(&self, order: &mut Vec<usize>) {
        order.clear();
        order.extend(0..self.dim());
    }

    /// The Bernoulli RBM whose visible marginal this model is, when it is
    /// one: its bipartite structure is what block Gibbs (h | v, then v | h)
    /// and AIS with the hidden units summed out need. `None` by default,
    /// and for compositions (a tempered RBM's beta F is not an RBM's free
    /// energy).
    fn rbm(&self) -> Option<&crate::energies::Rbm> {
        None
    }

    /// The pairwise model this model is, when it is one
    /// ([`crate::energies::Pairwise`]: a coupling per pair of sites and a
    /// field per site): its neighbour lists are what the samplers'
    /// vectorised site sweep (several chains in SIMD lanes) and the
    /// energies it tracks need. The model's own `energy` and `flip_delta`
    /// must be the pairwise model's, bit for bit. `None` by default.
    fn pairwise(&self) -> Option<&crate::energies::Pairwise> {
        None
    }
}

macro_rules! forward_binary_energy {
    ($($ptr:ty),*) => {$(
        impl<E: BinaryEnergy + ?Sized> BinaryEnergy for $ptr {
            fn dim(&self) -> usize { (**self).dim() }
            fn states(&self) -> (f64, f64) { (**self).states() }
            fn energy(&self, x: &[f64]) -> f64 { (**self).energy(x) }
            fn flip_delta(&self, x: &[f64], i: usize) -> f64 { (**self).flip_delta(x, i) }
            fn energy_batch(&self, xs: &[f64], energies: &mut [f64]) { (**self).energy_batch(xs, energies) }
            fn flip_delta_estimates(&self, x: &[f64], out: &mut [f64], work: &mut Vec<f64>) { (**self).flip_delta_estimates(x, out, work) }
            fn log_partition(&self) -> Option<f64> { (**self).log_partition() }
            fn sweep_order(&self, order: &mut Vec<usize>) { (**self).sweep_order(order) }
            fn rbm(&self) -> Option<&crate::energies::Rbm> { (**self).rbm() }
            fn pairwise(&self) -> Option<&crate::energies::Pairwise> { (**self).pairwise() }
        }
    )*};
}
forward_binary_energy!(&E, Box<E>, Arc<E>);

/// Bits per enumeration chunk: each chunk of 2^CHUNK_BITS states walks a
/// Gray code from a freshly computed start, so rounding drift stays bounded
/// and chunks can run on any thread without changing the result.
const CHUNK_BITS: usize = 12;

/// Sum exp(`log_term`) over all 2^`bits` binary states by a Gray-code walk,
/// in fixed chunks combined in order, so the result is bit-identical
/// whatever the number of threads.
///
/// `init(state)` builds a per-chunk accumulator from the start state (a
/// slice of `bits` booleans); `flip(acc, j, state)` updates it after bit `j`
/// has been flipped in `state`; `log_term(acc)` returns the log of the
/// summand for the current state.
pub fn enumerate_gray<A, I, F, L>(bits: usize, init: I, flip: F, log_term: L) -> Result<f64>
where
    I: Fn(&[bool]) -> A + Sync,
    F: Fn(&mut A, usize, &[bool]) + Sync,
    L: Fn(&A) -> f64 + Sync,
{
    if bits > MAX_ENUMERATION_BITS {
        return Err(CoreError::TooLarge(format!(
            "exact enumeration over 2^{bits} states is too large (limit 2^{MAX_ENUMERATION_BITS})"
        )));
    }
    let chunk_bits = bits.min(CHUNK_BITS);
    let chunks: u64 = 1u64 << (bits - chunk_bits);
    let per_chunk: u64 = 1u64 << chunk_bits;
    let partials: Vec<LogSumExp> = (0..chunks)
        .into_par_iter()
        .map(|k| {
            let start = k * per_chunk;
            let gray = start ^ (start >> 1);
            let mut state: Vec<bool> = (0..bits).map(|j| (gray >> j) & 1 == 1).collect();
            let mut acc = init(&state);
            let mut lse = LogSumExp::new();
            lse.add(log_term(&acc));
            for i in start + 1..start + per_chunk {
                let j = i.trailing_zeros() as usize;
                state[j] = !state[j];
                flip(&mut acc, j, &state);
                lse.add(log_term(&acc));
            }
            lse
        })
        .collect();
    let mut total = LogSumExp::new();
    for p in partials {
        total.merge(p);
    }
    Ok(total.value())
}

/// Exact log Z = log sum_x exp(-E(x)) of any binary model by enumerating
/// all 2^D states (Gray code; one [`BinaryEnergy::flip_delta`] per state).
///
/// ```
/// use ebm_core::{binary::enumerate_log_partition, energies::Ising};
/// let m = Ising::new(2, 2, 1.0, 0.0, 0.5, false).unwrap();
/// let k: f64 = 0.5;
/// let exact = (2.0 * (4.0 * k).exp() + 12.0 + 2.0 * (-4.0 * k).exp()).ln();
/// assert!((enumerate_log_partition(&m).unwrap() - exact).abs() < 1e-12);
/// ```
pub fn enumerate_log_partition<M: BinaryEnergy + ?Sized>(model: &M) -> Result<f64> {
    let d = model.dim();
    let (lo, hi) = model.states();
    let to_x = |s: &[bool]| -> Vec<f64> { s.iter().map(|&b| if b { hi } else { lo }).collect() };
    enumerate_gray(
        d,
        |s| {
            let x = to_x(s);
            let e = model.energy(&x);
            (x, e)
        },
        |(x, e), j, _| {
            *e += model.flip_delta(x, j);
            x[j] = if x[j] == lo { hi } else { lo };
        },
        |(_, e)| -*e,
    )
}
