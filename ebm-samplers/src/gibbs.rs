//! Gibbs samplers for binary models.

use crate::chains::CHUNK;
use crate::diagnostics::{coordinate_series, ess, split_rhat};
use crate::driver::Diagnostics;
use crate::error::{invalid, Result};
use crate::moments::moments_of;
use ebm_core::energies::{Ising, Rbm};
use ebm_core::fast_exp::sigmoid_in_place;
use ebm_core::math::sigmoid;
use ebm_core::{chain_rngs, BinaryEnergy, ChainRng, Points};
use rand::{Rng, RngCore};
use rayon::prelude::*;

/// True with probability `p`, from one 32-bit draw (resolution 2^-32).
#[inline]
pub(crate) fn bernoulli(rng: &mut ChainRng, p: f64) -> bool {
    (rng.next_u32() as f64) < p * 4_294_967_296.0
}

/// A Gibbs kernel over binary states: each call to `sweep` updates every
/// chain once through all its units.
pub trait BinaryKernel: Send + Sync {
    /// Number of units per state.
    fn dim(&self) -> usize;
    /// The two values a unit takes.
    fn states(&self) -> (f64, f64);
    /// One sweep of every chain (rows of `x`), each with its own stream.
    fn sweep(&self, x: &mut Points, rngs: &mut [ChainRng]);
}

/// Block Gibbs for a Bernoulli RBM: h ~ p(h | v), then v ~ p(v | h), with
/// p(h_j = 1 | v) = sigmoid(c_j + (v^T W)_j) and
/// p(v_i = 1 | h) = sigmoid(b_i + (W h)_i). Leaves p(v) ∝ exp(-F(v))
/// invariant. The products v^T W and W h exploit binary states: they are
/// sums of the rows (columns) of W whose unit is on.
#[derive(Clone, Debug)]
pub struct RbmGibbs {
    rbm: Rbm,
}

impl RbmGibbs {
    /// Gibbs for `rbm`.
    pub fn new(rbm: Rbm) -> Self {
        Self { rbm }
    }
}

/// One sweep of a single chain of an RBM on the path where W is scaled by
/// `beta` and the biases are `vb` (visible) and `hb` (hidden):
/// h_j ~ sigmoid(hb_j + beta (v^T W)_j), v_i ~ sigmoid(vb_i + beta (W h)_i).
/// `act_h` must hold v^T W on entry (it is recomputed for the new v on exit);
/// `act_v` is scratch.
pub(crate) fn rbm_sweep_one(
    rbm: &Rbm,
    beta: f64,
    vb: &[f64],
    hb: &[f64],
    v: &mut [f64],
    h: &mut [f64],
    act_h: &mut [f64],
    act_v: &mut [f64],
    rng: &mut ChainRng,
) {
    let (nv, nh) = (rbm.n_visible(), rbm.n_hidden());
    let (w, wt) = (rbm.weights(), rbm.weights_t());
    // the conditionals of a whole layer first (their exponentials
    // vectorise), then the draws in unit order
    for j in 0..nh {
        h[j] = hb[j] + beta * act_h[j];
    }
    sigmoid_in_place(h);
    for hj in h.iter_mut() {
        *hj = bernoulli(rng, *hj) as u8 as f64;
    }
    act_v.iter_mut().for_each(|a| *a = 0.0);
    for j in 0..nh {
        if h[j] != 0.0 {
            for (a, wv) in act_v.iter_mut().zip(&wt[j * nv..(j + 1) * nv]) {
                *a += wv;
            }
        }
    }
    act_h.iter_mut().for_each(|a| *a = 0.0);
    for i in 0..nv {
        v[i] = vb[i] + beta * act_v[i];
    }
    sigmoid_in_place(v);
    for i in 0..nv {
        let on = bernoulli(rng, v[i]);
        v[i] = on as u8 as f64;
        if on {
            for (a, wv) in act_h.iter_mut().zip(&w[i * nh..(i + 1) * nh]) {
                *a += wv;
            }
        }
    }
}

/// v^T W for binary v.
pub(crate) fn visible_act(rbm: &Rbm, v: &[f64], act_h: &mut [f64]) {
    let nh = rbm.n_hidden();
    act_h.iter_mut().for_each(|a| *a = 0.0);
    for (i, &vi) in v.iter().enumerate() {
        if vi != 0.0 {
            for (a, wv) in act_h.iter_mut().zip(&rbm.weights()[i * nh..(i + 1) * nh]) {
                *a += wv;
            }
        }
    }
}

impl BinaryKernel for RbmGibbs {
    fn dim(&self) -> usize {
        self.rbm.n_visible()
    }

    fn states(&self) -> (f64, f64) {
        (0.0, 1.0)
    }

    fn sweep(&self, x: &mut Points, rngs: &mut [ChainRng]) {
        let (nv, nh) = (self.rbm.n_visible(), self.rbm.n_hidden());
        let rbm = &self.rbm;
        x.as_mut_slice()
            .par_chunks_mut(CHUNK * nv)
            .zip(rngs.par_chunks_mut(CHUNK))
            .for_each(|(vs, rs)| {
                let (mut h, mut ah, mut av) = (vec![0.0; nh], vec![0.0; nh], vec![0.0; nv]);
                for (v, rng) in vs.chunks_exact_mut(nv).zip(rs.iter_mut()) {
                    visible_act(rbm, v, &mut ah);
                    rbm_sweep_one(
                        rbm,
                        1.0,
                        rbm.visible_bias(),
                        rbm.hidden_bias(),
                        v,
                        &mut h,
                        &mut ah,
                        &mut av,
                        rng,
                    );
                }
            });
    }
}

/// Single-site Gibbs for any [`BinaryEnergy`]: visit the units in a fixed
/// order and set each to its other value with probability
/// sigmoid(-(E(x') - E(x))), the exact conditional. For an [`Ising`]
/// lattice use [`SiteGibbs::checkerboard`]: all sites of one colour, then
/// the other, which on a bipartite lattice is the checkerboard block update.
#[derive(Clone, Debug)]
pub struct SiteGibbs<M> {
    model: M,
    order: Vec<usize>,
}

impl<M: BinaryEnergy> SiteGibbs<M> {
    /// Sweep the units in natural order.
    pub fn new(model: M) -> Self {
        let order = (0..model.dim()).collect();
        Self { model, order }
    }
}

impl SiteGibbs<Ising> {
    /// Sweep an Ising lattice colour by colour (checkerboard).
    pub fn checkerboard(model: Ising) -> Self {
        let n = BinaryEnergy::dim(&model);
        let mut order: Vec<usize> = (0..n).filter(|&i| model.color(i) == 0).collect();
        order.extend((0..n).filter(|&i| model.color(i) == 1));
        Self { model, order }
    }
}

impl<M: BinaryEnergy> BinaryKernel for SiteGibbs<M> {
    fn dim(&self) -> usize {
        self.model.dim()
    }

    fn states(&self) -> (f64, f64) {
        self.model.states()
    }

    fn sweep(&self, x: &mut Points, rngs: &mut [ChainRng]) {
        let d = self.model.dim();
        let (lo, hi) = self.model.states();
        x.as_mut_slice()
            .par_chunks_mut(CHUNK * d)
            .zip(rngs.par_chunks_mut(CHUNK))
            .for_each(|(xs, rs)| {
                for (s, rng) in xs.chunks_exact_mut(d).zip(rs.iter_mut()) {
                    for &i in &self.order {
                        let delta = self.model.flip_delta(s, i);
                        if bernoulli(rng, sigmoid(-delta)) {
                            s[i] = if s[i] == lo { hi } else { lo };
                        }
                    }
                }
            });
    }
}

/// Draws from a binary Gibbs run.
#[derive(Clone, Debug)]
pub struct BinaryRun {
    /// Draws `[draw][chain][unit]`.
    pub draws: Vec<f64>,
    /// Kept draws per chain.
    pub n_draws: usize,
    /// Number of chains.
    pub n_chains: usize,
    /// Units per state.
    pub dim: usize,
    /// Mean of the draws.
    pub mean: Vec<f64>,
    /// Covariance of the draws, row-major.
    pub covariance: Vec<f64>,
}

impl BinaryRun {
    /// ESS and split R-hat per unit.
    pub fn diagnostics(&self) -> Diagnostics {
        let per: Vec<(f64, f64)> = (0..self.dim)
            .map(|j| {
                let s = coordinate_series(&self.draws, self.n_draws, self.n_chains, self.dim, j);
                (ess(&s), split_rhat(&s))
            })
            .collect();
        Diagnostics {
            ess: per.iter().map(|p| p.0).collect(),
            rhat: per.iter().map(|p| p.1).collect(),
        }
    }
}

/// Run `n_chains` chains of a binary kernel from uniformly random states
/// (each drawn from its chain's stream): `burn_in` sweeps, then `draws`
/// kept states, one every `thin` sweeps.
pub fn run_binary<K: BinaryKernel>(
    kernel: &K,
    n_chains: usize,
    burn_in: usize,
    draws: usize,
    thin: usize,
    seed: u64,
) -> Result<BinaryRun> {
    if n_chains == 0 {
        return Err(invalid("chains", "must be at least 1"));
    }
    if thin == 0 {
        return Err(invalid("thin", "must be at least 1"));
    }
    let d = kernel.dim();
    let (lo, hi) = kernel.states();
    let mut rngs = chain_rngs(seed, n_chains);
    let init: Vec<f64> = rngs
        .iter_mut()
        .flat_map(|r| {
            (0..d)
                .map(|_| if r.random::<bool>() { hi } else { lo })
                .collect::<Vec<_>>()
        })
        .collect();
    let mut x = Points::from_vec(init, d).map_err(|e| invalid("dim", e.to_string()))?;
    for _ in 0..burn_in {
        kernel.sweep(&mut x, &mut rngs);
    }
    let mut out = Vec::with_capacity(draws * n_chains * d);
    for _ in 0..draws {
        for _ in 0..thin {
            kernel.sweep(&mut x, &mut rngs);
        }
        out.extend_from_slice(x.as_slice());
    }
    let (mean, covariance) = moments_of(&out, d);
    Ok(BinaryRun {
        draws: out,
        n_draws: draws,
        n_chains,
        dim: d,
        mean,
        covariance,
    })
}
