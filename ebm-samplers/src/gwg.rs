//! Gibbs-with-gradients (Grathwohl, Swersky, Hashemi, Duvenaud and
//! Maddison 2021) for binary models.

use crate::chains::{ChunkMut, Scratch};
use crate::error::{invalid, Result, SamplerError};
use crate::kernel::Kernel;
use crate::softmax::{pick, weights};
use crate::target::{StateSpace, Target};
use ebm_core::simd::dispatch;
use ebm_core::{BinaryEnergy, CategoricalEnergy};
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

/// The moves of one state space: what a proposal can do to a chain's
/// state, the estimates of their energy changes, and the exact change.
trait Moves {
    /// Number of moves.
    fn count(&self, x: &[f64]) -> usize;
    /// Every move's estimated energy change at `x` into `out` (+inf for a
    /// move that changes nothing).
    fn estimates(&self, x: &[f64], out: &mut [f64], work: &mut Vec<f64>);
    /// The exact energy change of move `m` at `x`.
    fn delta(&self, x: &[f64], m: usize) -> f64;
    /// Make move `m`; returns the value it replaced.
    fn apply(&self, x: &mut [f64], m: usize) -> f64;
    /// The unit move `m` changes.
    fn unit(&self, m: usize) -> usize;
    /// The move that undoes `m`, given the value it replaced.
    fn reverse(&self, m: usize, old: f64) -> usize;
    /// The estimates at `x` (after move `m` from the state whose
    /// estimates are `here`) into `there`.
    fn update(&self, x: &[f64], m: usize, here: &[f64], there: &mut [f64], work: &mut Vec<f64>);
}

/// A binary model's moves: flip unit i (move i).
struct Flips<'a>(&'a dyn BinaryEnergy);

impl Moves for Flips<'_> {
    fn count(&self, x: &[f64]) -> usize {
        x.len()
    }
    fn estimates(&self, x: &[f64], out: &mut [f64], work: &mut Vec<f64>) {
        self.0.flip_delta_estimates(x, out, work);
    }
    fn delta(&self, x: &[f64], m: usize) -> f64 {
        self.0.flip_delta(x, m)
    }
    fn apply(&self, x: &mut [f64], m: usize) -> f64 {
        let (lo, hi) = self.0.states();
        let old = x[m];
        x[m] = if old == lo { hi } else { lo };
        old
    }
    fn unit(&self, m: usize) -> usize {
        m
    }
    fn reverse(&self, m: usize, _old: f64) -> usize {
        m
    }
    /// Pairwise models: only unit m's and its neighbours' estimates
    /// change; they are recomputed by the model's own `flip_delta_of`
    /// (the values of the full pass), the others copied.
    fn update(&self, x: &[f64], m: usize, here: &[f64], there: &mut [f64], work: &mut Vec<f64>) {
        match self.0.pairwise() {
            Some(pw) => {
                there.copy_from_slice(here);
                there[m] = pw.flip_delta_of(m, |j| x[j]);
                for &j in pw.neighbors(m).0 {
                    there[j as usize] = pw.flip_delta_of(j as usize, |k| x[k]);
                }
            }
            None => self.0.flip_delta_estimates(x, there, work),
        }
    }
}

/// A categorical model's moves: set site i to state a, move
/// `offsets[i] + a` (setting a site to its own state is a move with
/// estimate +inf, never proposed). The estimates are the exact changes
/// ([`CategoricalEnergy::site_deltas`]).
struct Settings<'a> {
    model: &'a dyn CategoricalEnergy,
    /// Site i's moves start at `offsets[i]`; `site[m]` is move m's site.
    offsets: &'a [usize],
    site: &'a [usize],
}

/// The move table of a categorical model: (offsets, site), rebuilt in
/// place every chunk step (O(D), no allocation after the first).
#[derive(Default)]
struct MoveTable {
    offsets: Vec<usize>,
    site: Vec<usize>,
}

impl MoveTable {
    fn of<'a>(&'a mut self, model: &'a dyn CategoricalEnergy) -> Settings<'a> {
        self.offsets.clear();
        self.site.clear();
        self.offsets.push(0);
        for i in 0..model.dim() {
            let q = model.states(i);
            self.offsets.push(self.offsets[i] + q);
            self.site.extend(std::iter::repeat_n(i, q));
        }
        Settings {
            model,
            offsets: &self.offsets,
            site: &self.site,
        }
    }
}

impl Settings<'_> {
    /// Site i's estimates at `x` into its slice of `out`.
    fn site_estimates(&self, x: &[f64], i: usize, out: &mut [f64]) {
        let row = &mut out[self.offsets[i]..self.offsets[i + 1]];
        self.model.site_deltas(x, i, row);
        row[x[i] as usize] = f64::INFINITY;
    }
}

impl Moves for Settings<'_> {
    fn count(&self, _x: &[f64]) -> usize {
        self.site.len()
    }
    fn estimates(&self, x: &[f64], out: &mut [f64], _work: &mut Vec<f64>) {
        for i in 0..x.len() {
            self.site_estimates(x, i, out);
        }
    }
    fn delta(&self, x: &[f64], m: usize) -> f64 {
        let i = self.site[m];
        self.model.set_delta(x, i, m - self.offsets[i])
    }
    fn apply(&self, x: &mut [f64], m: usize) -> f64 {
        let i = self.site[m];
        let old = x[i];
        x[i] = (m - self.offsets[i]) as f64;
        old
    }
    fn unit(&self, m: usize) -> usize {
        self.site[m]
    }
    fn reverse(&self, m: usize, old: f64) -> usize {
        self.offsets[self.site[m]] + old as usize
    }
    /// Categorical pairwise models: only site i's and its neighbours'
    /// rows change.
    fn update(&self, x: &[f64], m: usize, here: &[f64], there: &mut [f64], work: &mut Vec<f64>) {
        match self.model.categorical_pairwise() {
            Some(cp) => {
                there.copy_from_slice(here);
                let i = self.site[m];
                self.site_estimates(x, i, there);
                for j in cp.neighbors(i) {
                    self.site_estimates(x, j, there);
                }
            }
            None => self.estimates(x, there, work),
        }
    }
}

impl Gwg {
    /// `proposals` proposals on one chain at `x` with the moves of its
    /// state space; returns the mean acceptance probability.
    #[inline(always)]
    fn chain_step<M: Moves>(
        &self,
        moves: &M,
        x: &mut [f64],
        rng: &mut ebm_core::ChainRng,
        s: &mut GwgScratch,
    ) -> f64 {
        let n = moves.count(x);
        s.here.resize(n, 0.0);
        s.there.resize(n, 0.0);
        moves.estimates(x, &mut s.here, &mut s.work);
        let mut norm = weights(0.5, &s.here, &mut s.w_here);
        let mut total = 0.0;
        for _ in 0..self.proposals {
            let (top, log_sum) = norm;
            let m = pick(&s.w_here, log_sum, rng.random::<f64>());
            let forward = -0.5 * s.here[m] - top - log_sum;
            let delta = moves.delta(x, m);
            let old = moves.apply(x, m);
            moves.update(x, m, &s.here, &mut s.there, &mut s.work);
            let (top2, log_sum2) = weights(0.5, &s.there, &mut s.w_there);
            let back = moves.reverse(m, old);
            let backward = -0.5 * s.there[back] - top2 - log_sum2;
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
                x[moves.unit(m)] = old;
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

    fn spaces(&self) -> &'static [StateSpace] {
        &[StateSpace::Binary, StateSpace::Categorical]
    }

    fn check(&self, target: Target<'_>) -> Result<()> {
        if target.space() == StateSpace::Continuous {
            return Err(SamplerError::Unsupported(
                "Gibbs-with-gradients needs a binary or categorical model (rbm, ising, pairwise, potts, categorical); this one is continuous: use ula, mala, hmc or nuts"
                    .into(),
            ));
        }
        Ok(())
    }

    fn step_chunk(&self, target: Target<'_>, c: &mut ChunkMut<'_>, scratch: &mut Scratch) {
        let (s, table) = scratch.get(<(GwgScratch, MoveTable)>::default);
        let rows = c.x.chunks_exact_mut(c.d).zip(c.rngs.iter_mut()).enumerate();
        match target {
            Target::Binary(model) => {
                let moves = Flips(model);
                for (k, (x, rng)) in rows {
                    c.accept[k] = dispatch(
                        #[inline(always)]
                        || self.chain_step(&moves, x, rng, s),
                    );
                }
            }
            Target::Categorical(model) => {
                let moves = table.of(model);
                for (k, (x, rng)) in rows {
                    c.accept[k] = dispatch(
                        #[inline(always)]
                        || self.chain_step(&moves, x, rng, s),
                    );
                }
            }
            Target::Continuous(_) => {}
        }
    }
}
