//! What the binary kernels that run sixteen chains in SIMD lanes share
//! ([`crate::rbm_block`], [`crate::pairwise_lanes`]): the lane type, each
//! chain's random words laid out unit-major, and the Bernoulli rule over
//! a lane.

use ebm_core::bernoulli::bernoulli;
use ebm_core::rng::read_lanes;
use ebm_core::ChainRng;

/// Chains per group: sixteen, two AVX-512 registers of f64 per value, so
/// that each weight or coupling the products broadcast from memory serves
/// two registers' multiply-adds (with eight, one load per multiply-add
/// made the loads the limit: W3 took 4% and W8 7% longer). Each chain's
/// arithmetic is its own, so the width changes no result.
pub const LANES: usize = 16;

/// The values of one unit in each of the [`LANES`] chains.
pub type Lane = [f64; LANES];

/// Every lane's unit drawn by [`bernoulli`] from its input `x`, its
/// e^-|x| `e` and its word `u`: 1 with probability sigmoid(x), else 0.
#[inline(always)]
pub fn bernoulli_lanes(x: &Lane, e: &Lane, u: &[u32; LANES]) -> Lane {
    let mut out = [0.0; LANES];
    for l in 0..LANES {
        out[l] = bernoulli(x[l], e[l], u[l]);
    }
    out
}

/// The random words of one sweep of a group of up to [`LANES`] chains:
/// `units` words from each chain's stream, in the order the chain run
/// alone would draw them, laid out unit-major (`word(k)[l]` is the k-th
/// word of lane l), as [`ebm_core::rng::read_lanes`] reads them.
#[derive(Clone, Debug, Default)]
pub struct LaneWords {
    /// Unit-major.
    wt: Vec<[u32; LANES]>,
}

impl LaneWords {
    /// Buffers for sweeps of up to `units` words per chain.
    pub fn new(units: usize) -> Self {
        Self {
            wt: vec![[0; LANES]; units],
        }
    }

    /// The words drawn by the last [`LaneWords::draw`].
    #[inline(always)]
    pub fn get(&self) -> &[[u32; LANES]] {
        &self.wt
    }

    /// Draw `units` words from each lane's stream (lanes without a chain
    /// get zeros) and lay them out unit-major; returns them.
    #[inline(always)]
    pub fn draw(&mut self, rngs: &mut [ChainRng], units: usize) -> &[[u32; LANES]] {
        if self.wt.len() < units {
            *self = Self::new(units);
        }
        read_lanes(rngs, &mut self.wt[..units]);
        &self.wt[..units]
    }
}

/// Load the states of `x.len() / d` chains (row-major, at most [`LANES`])
/// into unit-major lanes `v` (`v[i][l]` is unit i of lane l).
#[inline(always)]
pub fn load_lanes(v: &mut [Lane], d: usize, x: &[f64]) {
    for (l, row) in x.chunks_exact(d).enumerate() {
        for (i, &xi) in row.iter().enumerate() {
            v[i][l] = xi;
        }
    }
}

/// Write unit-major lanes `v` back to the chains of `x` (as in
/// [`load_lanes`]).
#[inline(always)]
pub fn store_lanes(v: &[Lane], d: usize, x: &mut [f64]) {
    for (l, row) in x.chunks_exact_mut(d).enumerate() {
        for (i, xi) in row.iter_mut().enumerate() {
            *xi = v[i][l];
        }
    }
}
