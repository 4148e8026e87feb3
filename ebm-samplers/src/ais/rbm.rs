//! AIS for Bernoulli RBMs, eight chains at a time in SIMD lanes.

use super::{no_progress, summarize, AisResult, ProgressFn};
use crate::chains::CHUNK;
use crate::error::{invalid, Result};
use ebm_core::energies::Rbm;
use ebm_core::fast_exp::exp_weight;
use ebm_core::fast_ln::ln;
use ebm_core::math::{sigmoid, softplus};
use ebm_core::simd::{dispatch, LANES};
use ebm_core::{chain_rngs, ChainRng};
use rand::Rng;
use rayon::prelude::*;
use std::sync::atomic::{AtomicUsize, Ordering};

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
/// Eight chains move together in SIMD lanes (see [`ebm_core::simd`]);
/// each draws from its own stream in the order a chain run alone would
/// (its initial visibles, then per sweep its hiddens and its visibles, a
/// 32-bit word per unit: p(unit on) has resolution 2^-32), so the result
/// is the same for any number of threads.
pub fn ais_rbm(rbm: &Rbm, base: &RbmBase, betas: &[f64], n_chains: usize, seed: u64) -> Result<AisResult> {
    ais_rbm_with_progress(rbm, base, betas, n_chains, seed, &no_progress)
}

/// [`ais_rbm`] reporting (chains done, chains) to `progress`.
pub fn ais_rbm_with_progress(
    rbm: &Rbm,
    base: &RbmBase,
    betas: &[f64],
    n_chains: usize,
    seed: u64,
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
    seed: u64,
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
    let mut rngs = chain_rngs(seed, n_chains);
    let mut log_w = vec![0.0; n_chains];
    let done = AtomicUsize::new(0);
    log_w
        .par_chunks_mut(CHUNK)
        .zip(rngs.par_chunks_mut(CHUNK))
        .for_each(|(lw, rs)| {
            let mut lanes = Lanes::new(rbm.n_visible(), rbm.n_hidden());
            for (w, r) in lw.chunks_mut(LANES).zip(rs.chunks_mut(LANES)) {
                dispatch(
                    #[inline(always)]
                    || lanes.anneal(&path, w, r),
                );
                progress(done.fetch_add(w.len(), Ordering::Relaxed) + w.len(), n_chains);
            }
        });
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

type Lane = [f64; LANES];

/// Work buffers for one group of up to [`LANES`] chains, unit-major
/// (`v[i][l]` is visible unit i of lane l).
struct Lanes {
    v: Vec<Lane>,
    h: Vec<Lane>,
    /// v^T W per hidden unit, W h per visible unit.
    ah: Vec<Lane>,
    av: Vec<Lane>,
    /// The hidden inputs at beta_k and their e^-|x|.
    ek: Vec<Lane>,
    xk: Vec<Lane>,
    /// Random words of a sweep, chain by chain (hiddens, then visibles),
    /// and unit-major.
    words: Vec<u32>,
    wt: Vec<[u32; LANES]>,
}

/// 2^32: a 32-bit word u is below p 2^32 with probability p.
const TWO32: f64 = 4_294_967_296.0;

impl Lanes {
    fn new(nv: usize, nh: usize) -> Self {
        Self {
            v: vec![[0.0; LANES]; nv],
            h: vec![[0.0; LANES]; nh],
            ah: vec![[0.0; LANES]; nh],
            av: vec![[0.0; LANES]; nv],
            ek: vec![[0.0; LANES]; nh],
            xk: vec![[0.0; LANES]; nh],
            words: vec![0; LANES * (nv + nh)],
            wt: vec![[0; LANES]; nv + nh],
        }
    }

    /// Draw `units` words from each lane's stream (lanes without a chain
    /// get zeros) and store them unit-major in `wt`.
    #[inline(always)]
    fn draw(&mut self, rngs: &mut [ChainRng], units: usize) {
        let words = &mut self.words[..LANES * units];
        for (l, r) in rngs.iter_mut().enumerate() {
            r.fill(&mut words[l * units..(l + 1) * units]);
        }
        // the transpose below reads every lane: a group with fewer than
        // LANES chains must not carry an earlier group's words
        words[rngs.len() * units..].fill(0);
        // the transpose in blocks of 8 units x 8 lanes, fixed-size (no
        // bounds checks inside, and shuffles instead of 64 scalar moves)
        let full = units / 8 * 8;
        for u0 in (0..full).step_by(8) {
            let mut block = [[0u32; 8]; LANES];
            for (l, b) in block.iter_mut().enumerate() {
                b.copy_from_slice(&words[l * units + u0..l * units + u0 + 8]);
            }
            let out: &mut [[u32; LANES]; 8] = (&mut self.wt[u0..u0 + 8]).try_into().expect("8 units");
            for (k, o) in out.iter_mut().enumerate() {
                for l in 0..LANES {
                    o[l] = block[l][k];
                }
            }
        }
        for u in full..units {
            for l in 0..LANES {
                self.wt[u][l] = words[l * units + u];
            }
        }
    }

    /// v^T W for every lane, into `ah` (sums over visible units in order;
    /// v is 0 or 1, so each product is exact).
    #[inline(always)]
    fn hidden_act(&mut self, wt: &[f64], nv: usize) {
        matvec_lanes(&self.v, wt, nv, &mut self.ah);
    }

    /// Anneal the chains of `rngs` (at most [`LANES`]) from beta = 0 to 1
    /// and write their log-weights into `log_w`.
    #[inline(always)]
    fn anneal(&mut self, path: &Path<'_>, log_w: &mut [f64], rngs: &mut [ChainRng]) {
        let rbm = path.rbm;
        let (nv, nh) = (rbm.n_visible(), rbm.n_hidden());
        let (w, wt, betas) = (rbm.weights(), rbm.weights_t(), path.betas);
        let n = rngs.len();
        // initial visibles from the base, p(v_i = 1) = sigmoid(b_A,i)
        let p0: Vec<f64> = path.ba.iter().map(|&a| sigmoid(a) * TWO32).collect();
        self.draw(rngs, nv);
        for i in 0..nv {
            for l in 0..LANES {
                self.v[i][l] = if (self.wt[i][l] as f64) < p0[i] { 1.0 } else { 0.0 };
            }
        }
        self.hidden_act(wt, nv);
        let (mut vb, mut hb) = (vec![0.0; nv], vec![0.0; nh]);
        let (mut vb_prev, mut hb_prev) = (vec![0.0; nv], vec![0.0; nh]);
        path.visible_bias(0.0, &mut vb_prev);
        path.hidden_bias(0.0, &mut hb_prev);
        let visible_moves = path.ba != rbm.visible_bias();
        let mut acc = [0.0f64; LANES];
        for k in 1..betas.len() {
            let (bk, bp) = (betas[k], betas[k - 1]);
            path.visible_bias(bk, &mut vb);
            path.hidden_bias(bk, &mut hb);
            // log f_k(v) - log f_{k-1}(v) = (a_k - a_{k-1}).v
            //   + sum_j [sp(x_kj) - sp(x_{k-1,j})],  x_kj = hb_kj + beta_k (v^T W)_j,
            // with sp(x) = max(x, 0) + ln(1 + e^-|x|); the ratios
            // (1 + e^-|x_k|) / (1 + e^-|x_p|) lie in (1/2, 2), so their logs
            // are summed as the log of products of 32 factors at a time.
            let mut inc = [0.0f64; LANES];
            if visible_moves {
                for i in 0..nv {
                    let dv = vb[i] - vb_prev[i];
                    for l in 0..LANES {
                        inc[l] = dv.mul_add(self.v[i][l], inc[l]);
                    }
                }
            }
            // the products of 1 + e^-|x| over 32 hidden units at a time stay
            // within (1, 2^32); one ln of each per 32 units
            let (mut num, mut den) = ([1.0f64; LANES], [1.0f64; LANES]);
            for j in 0..nh {
                hidden_unit(
                    bp,
                    bk,
                    hb_prev[j],
                    hb[j],
                    &self.ah[j],
                    &mut self.xk[j],
                    &mut self.ek[j],
                    &mut inc,
                    &mut num,
                    &mut den,
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
                // Gibbs sweeps at beta_k: h | v, then v | h; the first
                // uses the hidden inputs of the weight increment above
                for sweep in 0..path.sweeps {
                    if sweep > 0 {
                        for j in 0..nh {
                            for l in 0..LANES {
                                let x = bk.mul_add(self.ah[j][l], hb[j]);
                                self.xk[j][l] = x;
                                self.ek[j][l] = exp_weight(-x.abs());
                            }
                        }
                    }
                    self.draw(rngs, nh + nv);
                    for j in 0..nh {
                        self.h[j] = bernoulli_lanes(&self.xk[j], &self.ek[j], &self.wt[j]);
                    }
                    matvec_lanes(&self.h, w, nh, &mut self.av);
                    for i in 0..nv {
                        let mut z = [0.0f64; LANES];
                        let mut e = [0.0f64; LANES];
                        for l in 0..LANES {
                            z[l] = bk.mul_add(self.av[i][l], vb[i]);
                            e[l] = exp_weight(-z[l].abs());
                        }
                        self.v[i] = bernoulli_lanes(&z, &e, &self.wt[nh + i]);
                    }
                    self.hidden_act(wt, nv);
                }
            }
            std::mem::swap(&mut vb, &mut vb_prev);
            std::mem::swap(&mut hb, &mut hb_prev);
        }
        log_w.copy_from_slice(&acc[..n]);
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
        let e = exp_weight(-x.abs());
        let ep = exp_weight(-xp.abs());
        xk[l] = x;
        ek[l] = e;
        inc[l] += x.max(0.0) - xp.max(0.0);
        num[l] *= 1.0 + e;
        den[l] *= 1.0 + ep;
    }
}

/// Units on with probability sigmoid(x), one 32-bit word u per lane:
/// on when u < 2^32 sigmoid(x), tested without a division as
/// u (1 + e) < 2^32 for x >= 0 and u (1 + e) < 2^32 e for x < 0, with
/// e = e^-|x| (so neither side overflows).
#[inline(always)]
fn bernoulli_lanes(x: &Lane, e: &Lane, words: &[u32; LANES]) -> Lane {
    let mut out = [0.0f64; LANES];
    for l in 0..LANES {
        let lhs = words[l] as f64 * (1.0 + e[l]);
        let rhs = if x[l] >= 0.0 { TWO32 } else { TWO32 * e[l] };
        out[l] = if lhs < rhs { 1.0 } else { 0.0 };
    }
    out
}

/// `out[r] = sum_k m[r * cols + k] x[k]` for every row r of the row-major
/// matrix m and every lane, the sum over k in order. Four rows at a time,
/// so four independent chains of multiply-adds are in flight.
#[inline(always)]
fn matvec_lanes(x: &[Lane], m: &[f64], cols: usize, out: &mut [Lane]) {
    let rows = out.len();
    let x = &x[..cols];
    let mut r = 0;
    while r + 4 <= rows {
        let (m0, m1, m2, m3) = (
            &m[r * cols..][..cols],
            &m[(r + 1) * cols..][..cols],
            &m[(r + 2) * cols..][..cols],
            &m[(r + 3) * cols..][..cols],
        );
        let mut a = [[0.0f64; LANES]; 4];
        for k in 0..cols {
            for l in 0..LANES {
                a[0][l] = x[k][l].mul_add(m0[k], a[0][l]);
                a[1][l] = x[k][l].mul_add(m1[k], a[1][l]);
                a[2][l] = x[k][l].mul_add(m2[k], a[2][l]);
                a[3][l] = x[k][l].mul_add(m3[k], a[3][l]);
            }
        }
        out[r..r + 4].copy_from_slice(&a);
        r += 4;
    }
    for (rr, o) in out.iter_mut().enumerate().skip(r) {
        let mr = &m[rr * cols..][..cols];
        let mut a = [0.0f64; LANES];
        for k in 0..cols {
            for l in 0..LANES {
                a[l] = x[k][l].mul_add(mr[k], a[l]);
            }
        }
        *o = a;
    }
}
