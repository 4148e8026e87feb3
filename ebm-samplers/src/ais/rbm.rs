//! AIS for Bernoulli RBMs, sixteen chains at a time in SIMD lanes.

use super::lane_groups::{anneal_in_groups, LaneAnneal};
use super::{no_progress, summarize, AisResult, ProgressFn};
use crate::error::{invalid, Result};
use crate::lanes::LANES;
use crate::rbm_block::{Lane, RbmLanes};
use ebm_core::bernoulli::weight_of;
use ebm_core::energies::Rbm;
use ebm_core::fast_ln::ln;
use ebm_core::math::softplus;
use ebm_core::{ChainRng, Shard};
use std::ops::Range;

/// The tractable base of RBM AIS.
#[derive(Clone, Debug, PartialEq)]
pub enum RbmBase {
    /// Only W is annealed: p_0(v, h) ∝ exp(b.v + c.h), independent units
    /// with the model's own biases (log Z_0 = sum softplus(b) + sum softplus(c)).
    ModelBiases,
    /// Independent visibles with biases b_A (e.g. logits of the data
    /// means) and uniform hiddens (Salakhutdinov and Murray 2008):
    /// the visible biases move from b_A to b and the hidden ones from 0 to c.
    Visible(Vec<f64>),
}

/// AIS for an RBM's log Z, Gibbs transitions (h|v then v|h at beta_k) at
/// every intermediate temperature, one sweep each. The particle state is v;
/// the weights use the marginal over h,
/// log f_beta(v) = a_beta.v + sum_j softplus(c_beta_j + beta (v^T W)_j).
///
/// The transitions are the block-Gibbs kernel [`RbmLanes`]: sixteen chains
/// move together in SIMD lanes (see [`ebm_core::simd`]); each draws from
/// its own stream in the order a chain run alone would (its initial
/// visibles, then per sweep its hiddens and its visibles, a 32-bit word
/// per unit: p(unit on) has resolution 2^-32), so the result is the same
/// for any number of threads.
pub fn ais_rbm(
    rbm: &Rbm,
    base: &RbmBase,
    betas: &[f64],
    n_chains: usize,
    seed: impl Into<Shard>,
) -> Result<AisResult> {
    ais_rbm_with_progress(rbm, base, betas, n_chains, seed, &no_progress)
}

/// [`ais_rbm`] reporting (chains done, chains) to `progress`.
pub fn ais_rbm_with_progress(
    rbm: &Rbm,
    base: &RbmBase,
    betas: &[f64],
    n_chains: usize,
    seed: impl Into<Shard>,
    progress: ProgressFn<'_>,
) -> Result<AisResult> {
    ais_rbm_sweeps_with_progress(rbm, base, betas, n_chains, 1, seed, progress)
}

/// [`ais_rbm_with_progress`] with `sweeps >= 1` Gibbs sweeps at every
/// intermediate temperature (each chain's draws continue in its stream,
/// so one sweep gives the same bits as [`ais_rbm`]).
pub fn ais_rbm_sweeps_with_progress(
    rbm: &Rbm,
    base: &RbmBase,
    betas: &[f64],
    n_chains: usize,
    sweeps: usize,
    seed: impl Into<Shard>,
    progress: ProgressFn<'_>,
) -> Result<AisResult> {
    super::check_betas(betas)?;
    if n_chains == 0 {
        return Err(invalid("chains", "must be at least 1"));
    }
    if sweeps == 0 {
        return Err(invalid("sweeps", "need at least 1 Gibbs sweep per temperature"));
    }
    let nv = rbm.n_visible();
    let ba: Vec<f64> = match base {
        RbmBase::ModelBiases => rbm.visible_bias().to_vec(),
        RbmBase::Visible(v) => {
            if v.len() != nv || v.iter().any(|x| !x.is_finite()) {
                return Err(invalid(
                    "base",
                    format!("visible biases must be {nv} finite values"),
                ));
            }
            v.clone()
        }
    };
    let path = Path {
        rbm,
        ba: &ba,
        anneal_hidden: matches!(base, RbmBase::Visible(_)),
        betas,
        sweeps,
    };
    let mut hb0 = vec![0.0; rbm.n_hidden()];
    path.hidden_bias(0.0, &mut hb0);
    let log_z0 = ba.iter().map(|&a| softplus(a)).sum::<f64>() + hb0.iter().map(|&a| softplus(a)).sum::<f64>();
    let mut rngs = seed.into().chain_rngs(n_chains);
    let mut log_w = vec![0.0; n_chains];
    let start = || Group::new(&path);
    anneal_in_groups(&mut log_w, &mut rngs, betas.len(), start, progress);
    Ok(summarize(log_w, log_z0))
}

/// The annealing path: W scaled by beta, visible biases
/// (1 - beta) b_A + beta b, hidden biases c (or beta c).
struct Path<'a> {
    rbm: &'a Rbm,
    ba: &'a [f64],
    anneal_hidden: bool,
    betas: &'a [f64],
    /// Gibbs sweeps per intermediate temperature.
    sweeps: usize,
}

impl Path<'_> {
    fn visible_bias(&self, beta: f64, out: &mut [f64]) {
        let b = self.rbm.visible_bias();
        for i in 0..b.len() {
            out[i] = (1.0 - beta) * self.ba[i] + beta * b[i];
        }
    }

    fn hidden_bias(&self, beta: f64, out: &mut [f64]) {
        for (o, &cj) in out.iter_mut().zip(self.rbm.hidden_bias()) {
            *o = if self.anneal_hidden { beta * cj } else { cj };
        }
    }
}

/// One group of up to [`LANES`] chains part way along the path: the
/// block-Gibbs kernel's lanes, the log weights so far, and the path's
/// biases at the current and previous temperature.
struct Group<'a> {
    path: &'a Path<'a>,
    lanes: RbmLanes,
    acc: [f64; LANES],
    vb: Vec<f64>,
    hb: Vec<f64>,
    vb_prev: Vec<f64>,
    hb_prev: Vec<f64>,
}

impl<'a> Group<'a> {
    fn new(path: &'a Path<'a>) -> Self {
        let (nv, nh) = (path.rbm.n_visible(), path.rbm.n_hidden());
        Self {
            path,
            lanes: RbmLanes::new(nv, nh),
            acc: [0.0; LANES],
            vb: vec![0.0; nv],
            hb: vec![0.0; nh],
            vb_prev: vec![0.0; nv],
            hb_prev: vec![0.0; nh],
        }
    }
}

impl LaneAnneal for Group<'_> {
    /// At each temperature the weight increment log f_k(v) - log
    /// f_{k-1}(v), then the Gibbs sweeps unless it is the last; the first
    /// temperature draws the chains from the base.
    #[inline(always)]
    fn anneal(&mut self, rngs: &mut [ChainRng], ks: Range<usize>) {
        let path = self.path;
        let rbm = path.rbm;
        let (nv, nh) = (rbm.n_visible(), rbm.n_hidden());
        let betas = path.betas;
        if ks.start == 1 {
            // initial visibles from the base, p(v_i = 1) = sigmoid(b_A,i)
            self.lanes.draw_independent(rbm, path.ba, rngs);
        }
        let (vb, hb, vb_prev, hb_prev) = (&mut self.vb, &mut self.hb, &mut self.vb_prev, &mut self.hb_prev);
        // the biases are functions of beta alone: computed afresh at the
        // start of a piece, they are those the previous piece ended on
        let first = if ks.start == 1 { 0.0 } else { betas[ks.start - 1] };
        path.visible_bias(first, vb_prev);
        path.hidden_bias(first, hb_prev);
        let visible_moves = path.ba != rbm.visible_bias();
        let acc = &mut self.acc;
        for k in ks {
            let (bk, bp) = (betas[k], betas[k - 1]);
            path.visible_bias(bk, vb);
            path.hidden_bias(bk, hb);
            // log f_k(v) - log f_{k-1}(v) = (a_k - a_{k-1}).v
            //   + sum_j [sp(x_kj) - sp(x_{k-1,j})],  x_kj = hb_kj + beta_k (v^T W)_j,
            // with sp(x) = max(x, 0) + ln(1 + e^-|x|); the ratios
            // (1 + e^-|x_k|) / (1 + e^-|x_p|) lie in (1/2, 2), so their logs
            // are summed as the log of products of 32 factors at a time.
            let mut inc = [0.0f64; LANES];
            if visible_moves {
                let v = self.lanes.visible();
                for i in 0..nv {
                    let dv = vb[i] - vb_prev[i];
                    for l in 0..LANES {
                        inc[l] = dv.mul_add(v[i][l], inc[l]);
                    }
                }
            }
            // the products of 1 + e^-|x| over 32 hidden units at a time stay
            // within (1, 2^32); one ln of each per 32 units. The hidden
            // inputs at beta_k are those of the next sweep.
            let (ah, xk, ek) = self.lanes.hidden_inputs_mut();
            let (mut num, mut den) = ([1.0f64; LANES], [1.0f64; LANES]);
            for j in 0..nh {
                hidden_unit(
                    bp, bk, hb_prev[j], hb[j], &ah[j], &mut xk[j], &mut ek[j], &mut inc, &mut num, &mut den,
                );
                if j % 32 == 31 || j + 1 == nh {
                    for l in 0..LANES {
                        inc[l] += ln(num[l]) - ln(den[l]);
                        num[l] = 1.0;
                        den[l] = 1.0;
                    }
                }
            }
            for l in 0..LANES {
                acc[l] += inc[l];
            }
            if k + 1 < betas.len() {
                // Gibbs sweeps at beta_k; the first uses the hidden inputs
                // of the weight increment above
                for sweep in 0..path.sweeps {
                    if sweep > 0 {
                        self.lanes.set_hidden_inputs(bk, hb);
                    }
                    self.lanes.sweep(rbm, bk, vb, rngs);
                }
            }
            std::mem::swap(vb, vb_prev);
            std::mem::swap(hb, hb_prev);
        }
    }

    fn log_weights(&self) -> &[f64; LANES] {
        &self.acc
    }
}

/// Hidden unit j of every lane: its inputs x_k = hb_k + beta_k a and
/// x_p = hb_p + beta_p a (a = (v^T W)_j), e^-|x_k| into `ek`, and its
/// share of the weight increment, max(x_k, 0) - max(x_p, 0) into `inc`
/// and the factors 1 + e^-|x_k| and 1 + e^-|x_p| into `num` and `den`.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn hidden_unit(
    bp: f64,
    bk: f64,
    hp: f64,
    hk: f64,
    a: &Lane,
    xk: &mut Lane,
    ek: &mut Lane,
    inc: &mut Lane,
    num: &mut Lane,
    den: &mut Lane,
) {
    for l in 0..LANES {
        let xp = bp.mul_add(a[l], hp);
        let x = bk.mul_add(a[l], hk);
        let e = weight_of(x);
        let ep = weight_of(xp);
        xk[l] = x;
        ek[l] = e;
        inc[l] += x.max(0.0) - xp.max(0.0);
        num[l] *= 1.0 + e;
        den[l] *= 1.0 + ep;
    }
}
