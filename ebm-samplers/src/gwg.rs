//! Gibbs-with-gradients (Grathwohl, Swersky, Hashemi, Duvenaud and
//! Maddison 2021) for binary models.

use crate::chains::{ChunkMut, Scratch};
use crate::error::{invalid, Result, SamplerError};
use crate::kernel::Kernel;
use crate::target::{StateSpace, Target};
use ebm_core::simd::{dispatch, LANES};
use ebm_core::BinaryEnergy;
use rand::Rng;
use serde::{Deserialize, Serialize};

/// Gibbs-with-gradients: a Metropolis-Hastings kernel for binary models
/// whose proposal flips one unit, chosen where flipping looks most
/// likely to pay.
///
/// With d_i(x) the estimate of the energy change of flipping unit i
/// ([`BinaryEnergy::flip_delta_estimates`]: (x_i' - x_i) dE/dx_i from one
/// gradient; exact for pairwise models), one proposal
///
/// 1. picks unit i with probability q(i | x) = softmax(-d(x) / 2)_i,
/// 2. flips it, x' = x^(i), and
/// 3. accepts with probability
///    min(1, exp(-(E(x') - E(x))) q(i | x') / q(i | x)),
///
/// with the exact energy change E(x') - E(x) = [`BinaryEnergy::flip_delta`].
/// The accept step makes p ∝ exp(-E) exactly invariant (detailed balance
/// for any proposal), so the kernel serves AIS as well as sampling; the
/// first-order estimates only decide how good the proposals are. For a
/// pairwise model the estimates are exact, and the proposal is the
/// locally balanced one of Zanella (2020) with the square-root weight.
///
/// One kernel step makes `proposals` proposals (1 by default, as in the
/// paper); the step's acceptance is their mean acceptance probability.
/// Each proposal draws two 64-bit uniforms from the chain's stream (the
/// unit, then the accept test), so chains are independent of each other
/// and of the number of threads.
///
/// ```
/// use ebm_samplers::{driver::run_binary, gwg::Gwg};
/// use ebm_core::energies::Ising;
/// let m = Ising::new(4, 4, 0.3, 0.0, 1.0, true).unwrap();
/// let out = run_binary(&mut Gwg::default(), &m, 16, 200, 400, 1, 3).unwrap();
/// assert!(out.mean().iter().all(|s| s.abs() < 0.5));
/// assert!(out.acceptance.iter().all(|&a| a > 0.5));
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Gwg {
    /// Proposals per kernel step (>= 1).
    pub proposals: usize,
}

impl Default for Gwg {
    fn default() -> Self {
        Self { proposals: 1 }
    }
}

impl Gwg {
    /// `proposals` proposals per step (>= 1).
    pub fn new(proposals: usize) -> Result<Self> {
        if proposals == 0 {
            return Err(invalid("proposals", "must be at least 1"));
        }
        Ok(Self { proposals })
    }
}

impl crate::registry::KernelConfig for Gwg {
    fn build(&self) -> Result<Box<dyn Kernel>> {
        Ok(Box::new(Gwg::new(self.proposals)?))
    }
}

/// The work buffers of one chain's proposals: the estimates at the
/// current state and at the proposal with their proposal weights, and the
/// model's own scratch.
#[derive(Default)]
struct GwgScratch {
    here: Vec<f64>,
    there: Vec<f64>,
    w_here: Vec<f64>,
    w_there: Vec<f64>,
    work: Vec<f64>,
}

/// The proposal's weights w_i = exp(-d_i / 2 - top) of the estimates `d`
/// into `w`, with top = max_i -d_i / 2; returns (top, log sum_i w_i), the
/// sum in [`LANES`] lanes (term i in lane i mod 8, the lanes then added in
/// order), so that log q(i | x) = -d_i / 2 - top - log sum.
#[inline(always)]
fn weights(d: &[f64], w: &mut Vec<f64>) -> (f64, f64) {
    let mut tops = [f64::NEG_INFINITY; LANES];
    let mut chunks = d.chunks_exact(LANES);
    for c in &mut chunks {
        for l in 0..LANES {
            tops[l] = tops[l].max(-0.5 * c[l]);
        }
    }
    for (l, &v) in chunks.remainder().iter().enumerate() {
        tops[l] = tops[l].max(-0.5 * v);
    }
    let top = tops.iter().fold(f64::NEG_INFINITY, |m, &t| m.max(t));
    w.resize(d.len(), 0.0);
    for (wi, &v) in w.iter_mut().zip(d) {
        *wi = ebm_core::fast_exp::exp(-0.5 * v - top);
    }
    let mut sums = [0.0; LANES];
    let mut chunks = w.chunks_exact(LANES);
    for c in &mut chunks {
        for l in 0..LANES {
            sums[l] += c[l];
        }
    }
    for (l, &v) in chunks.remainder().iter().enumerate() {
        sums[l] += v;
    }
    (top, sums.iter().sum::<f64>().ln())
}

/// The unit whose cumulative weight (in order) first exceeds `u` times
/// the total exp(`log_sum`) (inverse CDF; the last unit with a positive
/// weight if rounding leaves `u` above them all).
#[inline(always)]
fn pick(w: &[f64], log_sum: f64, u: f64) -> usize {
    let target = u * log_sum.exp();
    let mut acc = 0.0;
    let mut last = 0;
    for (i, &wi) in w.iter().enumerate() {
        if wi > 0.0 {
            last = i;
        }
        acc += wi;
        if acc > target {
            return i;
        }
    }
    last
}

impl Gwg {
    /// `proposals` proposals on one chain at `x`; returns the mean
    /// acceptance probability.
    ///
    /// After a flip of unit i the estimates at x' are recomputed in full
    /// ([`BinaryEnergy::flip_delta_estimates`]), except for pairwise
    /// models ([`BinaryEnergy::pairwise`]), where only unit i's and its
    /// neighbours' change: they are recomputed by the model's own
    /// `flip_delta_of`, the others copied, which gives the same values as
    /// the full pass in O(degree^2) instead of O(edges).
    #[inline(always)]
    fn chain_step(
        &self,
        model: &dyn BinaryEnergy,
        x: &mut [f64],
        rng: &mut ebm_core::ChainRng,
        s: &mut GwgScratch,
    ) -> f64 {
        let (lo, hi) = model.states();
        let pairwise = model.pairwise();
        let d = x.len();
        s.here.resize(d, 0.0);
        s.there.resize(d, 0.0);
        model.flip_delta_estimates(x, &mut s.here, &mut s.work);
        let mut norm = weights(&s.here, &mut s.w_here);
        let mut total = 0.0;
        for _ in 0..self.proposals {
            let (top, log_sum) = norm;
            let i = pick(&s.w_here, log_sum, rng.random::<f64>());
            let forward = -0.5 * s.here[i] - top - log_sum;
            let delta = model.flip_delta(x, i);
            let old = x[i];
            x[i] = if old == lo { hi } else { lo };
            match pairwise {
                Some(pw) => {
                    s.there.copy_from_slice(&s.here);
                    s.there[i] = pw.flip_delta_of(i, |j| x[j]);
                    for &j in pw.neighbors(i).0 {
                        s.there[j as usize] = pw.flip_delta_of(j as usize, |k| x[k]);
                    }
                }
                None => model.flip_delta_estimates(x, &mut s.there, &mut s.work),
            }
            let (top2, log_sum2) = weights(&s.there, &mut s.w_there);
            let backward = -0.5 * s.there[i] - top2 - log_sum2;
            let log_ratio = -delta + backward - forward;
            let p = if log_ratio.is_nan() {
                0.0
            } else {
                log_ratio.min(0.0).exp()
            };
            total += p;
            let u: f64 = rng.random();
            if u < p {
                std::mem::swap(&mut s.here, &mut s.there);
                std::mem::swap(&mut s.w_here, &mut s.w_there);
                norm = (top2, log_sum2);
            } else {
                x[i] = old;
            }
        }
        total / self.proposals as f64
    }
}

impl Kernel for Gwg {
    fn name(&self) -> &'static str {
        "gwg"
    }

    fn settings(&self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or(serde_json::Value::Null)
    }

    fn space(&self) -> StateSpace {
        StateSpace::Binary
    }

    fn check(&self, target: Target<'_>) -> Result<()> {
        if target.binary().is_none() {
            return Err(SamplerError::Unsupported(
                "Gibbs-with-gradients needs a binary model (rbm, ising, pairwise); this one is continuous: use ula, mala, hmc or nuts"
                    .into(),
            ));
        }
        Ok(())
    }

    fn step_chunk(&self, target: Target<'_>, c: &mut ChunkMut<'_>, scratch: &mut Scratch) {
        let Some(model) = target.binary() else { return };
        let s = scratch.get(GwgScratch::default);
        for (k, (x, rng)) in c.x.chunks_exact_mut(c.d).zip(c.rngs.iter_mut()).enumerate() {
            c.accept[k] = dispatch(
                #[inline(always)]
                || self.chain_step(model, x, rng, s),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pick_follows_the_weights() {
        // weights exp(-d/2 - top) = 1, e^-1, e^-2 for d = 0, 2, 4
        let d = [0.0, 2.0, 4.0];
        let mut w = Vec::new();
        let (top, log_sum) = dispatch(|| weights(&d, &mut w));
        let total = 1.0 + (-1.0f64).exp() + (-2.0f64).exp();
        assert!((log_sum - total.ln()).abs() < 1e-12 && top == 0.0);
        let first = 1.0 / total;
        assert_eq!(pick(&w, log_sum, first * 0.999), 0);
        assert_eq!(pick(&w, log_sum, first * 1.001), 1);
        assert_eq!(pick(&w, log_sum, 0.999_999), 2);
        assert_eq!(pick(&w, log_sum, 1.0), 2);
        assert!(Gwg::new(0).is_err());
    }
}
