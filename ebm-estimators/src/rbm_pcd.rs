//! Contrastive divergence for Bernoulli RBMs in closed form on the host:
//! no autodiff graph, no allocation per step, products that skip the
//! units that are off.
//!
//! For a batch V (B rows) and the persistent chains' visible states V-
//! (C rows), the gradient of the mean log-likelihood is
//!
//! dW = V^T sigma(c + V W) / B - V-^T sigma(c + V- W) / B,
//! db = sum(V) / B - sum(V-) / B,   dc = sum sigma(c + V W) / B - sum sigma(c + V- W) / B,
//!
//! and SGD takes W += lr dW, b += lr db, c += lr dc: exactly scikit-learn's
//! `BernoulliRBM` update (its negative term is also divided by the batch
//! size, whatever the number of chains). The chains keep their hidden
//! states h (persistent CD, started at h = 0 like scikit-learn); each step
//! runs k Gibbs sweeps v- ~ p(v | h), h ~ p(h | v-), and the negative
//! statistics use the mean hiddens of the last v-. Chain r draws from its
//! own stream (seed, chain r), v- then h in unit order, one 32-bit word
//! per unit, so a run is the same for any number of threads.
//!
//! The step reports the surrogate loss mean_data F(v) - mean_chains F(v-)
//! with the free energy F(v) = -b.v - sum_j softplus(c_j + (v^T W)_j),
//! whose parameter gradient is the negative of the update above.
//!
//! ```
//! use ebm_core::energies::Rbm;
//! use ebm_estimators::rbm_pcd::{RbmPcd, RbmPcdConfig};
//! let rbm = Rbm::new(4, 3, vec![0.01; 12], vec![0.0; 4], vec![0.0; 3]).unwrap();
//! let mut pcd = RbmPcd::new(&rbm, &RbmPcdConfig { lr: 0.05, chains: 2, sweeps: 1, seed: 0 }).unwrap();
//! let batch = [1.0, 0.0, 1.0, 0.0, 1.0, 1.0, 0.0, 0.0];
//! for _ in 0..100 {
//!     pcd.step(&batch).unwrap();
//! }
//! let trained = pcd.rbm();
//! assert!(trained.free_energy(&[1.0, 0.0, 1.0, 0.0]) < trained.free_energy(&[0.0, 1.0, 0.0, 1.0]));
//! ```

use crate::engine::{StepEngine, StepOutcome};
use crate::error::{config, EstimatorError, Result};
use crate::objectives::ObjectiveState;
use crate::optim::OptimizerState;
use crate::trainable::{Backend, ParamMut, Real, TrainableEnergy};
use ebm_core::energies::Rbm;
use ebm_core::fast_exp::exp;
use ebm_core::fast_ln::ln;
use ebm_core::simd::{all_finite, all_finite_inline};
use ebm_core::{chain_rngs, ChainRng, RngPosition};
use ebm_core::{EnergySpec, Points};
use rand::Rng;
use serde::{Deserialize, Serialize};
use std::marker::PhantomData;

/// Settings of [`RbmPcd`].
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct RbmPcdConfig {
    /// Learning rate of plain SGD.
    pub lr: f64,
    /// Persistent chains.
    pub chains: usize,
    /// Gibbs sweeps per step (k).
    pub sweeps: usize,
    /// Seed of the chains' streams (chain r uses stream r + 1).
    pub seed: u64,
}

/// The persistent chains of a run, for checkpoints: hidden states (C x H,
/// 0 or 1) and the streams' positions.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RbmPcdChains {
    /// Hidden states, row-major.
    pub hidden: Vec<f64>,
    /// Each chain's stream.
    pub rngs: Vec<RngPosition>,
}

/// PCD-k training state of a Bernoulli RBM (see the module documentation).
#[derive(Clone, Debug)]
pub struct RbmPcd {
    nv: usize,
    nh: usize,
    lr: f64,
    sweeps: usize,
    /// W, V x H row-major, and its transpose.
    w: Vec<f64>,
    wt: Vec<f64>,
    b: Vec<f64>,
    c: Vec<f64>,
    /// Chain hidden states, C x H.
    hidden: Vec<f64>,
    rngs: Vec<ChainRng>,
    // the next parameters, swapped in when finite
    w_next: Vec<f64>,
    b_next: Vec<f64>,
    c_next: Vec<f64>,
    // work buffers, allocated once (those sized by the batch grow to it)
    h_pos: Vec<f64>,
    v_neg: Vec<f64>,
    h_neg: Vec<f64>,
    scratch: Scratch,
    /// The visible units that are on, per data row and per chain, with
    /// their counts.
    on_pos: Vec<usize>,
    val_pos: Vec<f64>,
    n_pos: Vec<usize>,
    on_neg: Vec<usize>,
    n_neg: Vec<usize>,
    /// Per visible unit, the data rows (chains) where it is on, as
    /// compressed lists.
    rows_pos: Vec<usize>,
    w_pos: Vec<f64>,
    start_pos: Vec<usize>,
    rows_neg: Vec<usize>,
    start_neg: Vec<usize>,
    cursor: Vec<usize>,
    dc: Vec<f64>,
    grad_norm: f64,
}

impl RbmPcd {
    /// Start from `rbm` with `cfg` (chains at h = 0).
    pub fn new(rbm: &Rbm, cfg: &RbmPcdConfig) -> Result<Self> {
        if !(cfg.lr.is_finite() && cfg.lr > 0.0) {
            return Err(config(
                "lr",
                format!("must be positive and finite, got {}", cfg.lr),
            ));
        }
        if cfg.chains == 0 {
            return Err(config("chains", "need at least 1 persistent chain"));
        }
        if cfg.sweeps == 0 {
            return Err(config("k", "need at least 1 Gibbs sweep per step"));
        }
        let (nv, nh) = (rbm.n_visible(), rbm.n_hidden());
        let ch = cfg.chains;
        Ok(Self {
            nv,
            nh,
            lr: cfg.lr,
            sweeps: cfg.sweeps,
            w: rbm.weights().to_vec(),
            wt: rbm.weights_t().to_vec(),
            b: rbm.visible_bias().to_vec(),
            c: rbm.hidden_bias().to_vec(),
            hidden: vec![0.0; ch * nh],
            rngs: chain_rngs(cfg.seed, ch),
            w_next: vec![0.0; nv * nh],
            b_next: vec![0.0; nv],
            c_next: vec![0.0; nh],
            h_pos: Vec::new(),
            v_neg: vec![0.0; ch * nv],
            h_neg: vec![0.0; ch * nh],
            scratch: Scratch::new(nv, nh, cfg.sweeps),
            on_pos: Vec::new(),
            val_pos: Vec::new(),
            n_pos: Vec::new(),
            on_neg: vec![0; ch * nv],
            n_neg: vec![0; ch],
            rows_pos: Vec::new(),
            w_pos: Vec::new(),
            start_pos: Vec::new(),
            rows_neg: Vec::new(),
            start_neg: Vec::new(),
            cursor: Vec::with_capacity(nv),
            dc: vec![0.0; nh],
            grad_norm: f64::NAN,
        })
    }

    /// The RBM with the current parameters.
    pub fn rbm(&self) -> Rbm {
        Rbm::new(self.nv, self.nh, self.w.clone(), self.b.clone(), self.c.clone())
            .expect("a trained RBM keeps its shapes")
    }

    /// The parameters (W row-major V x H, b, c).
    pub fn params(&self) -> (&[f64], &[f64], &[f64]) {
        (&self.w, &self.b, &self.c)
    }

    /// Overwrite the parameters (same shapes).
    pub fn set_params(&mut self, w: &[f64], b: &[f64], c: &[f64]) -> Result<()> {
        if w.len() != self.w.len() || b.len() != self.nv || c.len() != self.nh {
            return Err(EstimatorError::Checkpoint(format!(
                "RBM parameters of {}, {} and {} values do not fit a {} x {} RBM",
                w.len(),
                b.len(),
                c.len(),
                self.nv,
                self.nh
            )));
        }
        self.w.copy_from_slice(w);
        self.b.copy_from_slice(b);
        self.c.copy_from_slice(c);
        transpose_rows(&self.w, self.nv, self.nh, 0..self.nh, &mut self.wt);
        Ok(())
    }

    /// The persistent chains, for a checkpoint.
    pub fn chains(&self) -> RbmPcdChains {
        RbmPcdChains {
            hidden: self.hidden.clone(),
            rngs: self.rngs.iter().map(RngPosition::of).collect(),
        }
    }

    /// Continue from checkpointed chains.
    pub fn restore_chains(&mut self, saved: &RbmPcdChains) -> Result<()> {
        if saved.hidden.len() != self.hidden.len()
            || saved.rngs.len() != self.rngs.len()
            || saved.hidden.iter().any(|&h| h != 0.0 && h != 1.0)
        {
            return Err(EstimatorError::Checkpoint(format!(
                "its persistent chains do not fit {} chains of {} hidden units",
                self.rngs.len(),
                self.nh
            )));
        }
        self.hidden.copy_from_slice(&saved.hidden);
        self.rngs = saved.rngs.iter().map(RngPosition::restore).collect();
        Ok(())
    }

    /// The Euclidean norm of the last step's gradient of the mean
    /// log-likelihood (the update divided by the learning rate).
    pub fn last_grad_norm(&self) -> f64 {
        self.grad_norm
    }

    /// Whether every parameter is finite.
    pub fn is_finite(&self) -> bool {
        self.w.iter().chain(&self.b).chain(&self.c).all(|v| v.is_finite())
    }

    /// One PCD-k step on `batch` (rows of V values, usually 0 or 1; values
    /// in between count as probabilities, as in scikit-learn); returns
    /// the surrogate loss. A step whose loss or updated parameters are not
    /// finite is not applied: the parameters stay as they were and the
    /// error says so.
    ///
    /// Single-threaded: a step of batch 10 takes some 20 us, and handing
    /// half of it to a second thread (rayon::join) cost more than it saved
    /// when measured.
    pub fn step(&mut self, batch: &[f64]) -> Result<f64> {
        let (nv, nh) = (self.nv, self.nh);
        if batch.is_empty() || batch.len() % nv != 0 {
            return Err(EstimatorError::Data(format!(
                "a batch needs whole rows of {nv} values, got {}",
                batch.len()
            )));
        }
        let rows = batch.len() / nv;
        self.h_pos.resize(rows * nh, 0.0);
        self.on_pos.resize(rows * nv, 0);
        self.val_pos.resize(rows * nv, 0.0);
        self.n_pos.resize(rows, 0);
        let chains = self.rngs.len();
        let params = Params {
            nv,
            nh,
            sweeps: self.sweeps,
            w: &self.w,
            wt: &self.wt,
            b: &self.b,
            c: &self.c,
        };
        // the statistics: the data rows, then the chains
        let (f_pos, f_neg) = {
            let pos = Positive {
                h: &mut self.h_pos,
                on: &mut self.on_pos,
                val: &mut self.val_pos,
                n: &mut self.n_pos,
            };
            let (rngs, hidden, vn, hn, on, nn, sc) = (
                &mut self.rngs,
                &mut self.hidden,
                &mut self.v_neg,
                &mut self.h_neg,
                &mut self.on_neg,
                &mut self.n_neg,
                &mut self.scratch,
            );
            ebm_core::simd::dispatch(
                #[inline(always)]
                || {
                    let f = positive(&params, batch, rows, pos, sc);
                    (f, negative(&params, rngs, hidden, vn, hn, on, nn, sc))
                },
            )
        };
        let loss = f_pos / rows as f64 - f_neg / chains as f64;
        // for each visible unit, the data rows and chains where it is on
        by_unit(
            &self.on_pos,
            &self.n_pos[..rows],
            nv,
            &mut self.rows_pos,
            &mut self.start_pos,
            &mut self.cursor,
        );
        by_unit(
            &self.on_neg,
            &self.n_neg,
            nv,
            &mut self.rows_neg,
            &mut self.start_neg,
            &mut self.cursor,
        );
        // the data values behind each positive entry (1 for binary data)
        self.w_pos.resize(self.rows_pos.len(), 0.0);
        for i in 0..nv {
            for k in self.start_pos[i]..self.start_pos[i + 1] {
                self.w_pos[k] = batch[self.rows_pos[k] * nv + i];
            }
        }
        // W' = W + lr/B (V^T H_pos - V-^T H_neg)
        let scale = self.lr / rows as f64;
        let lists = Lists {
            rows_pos: &self.rows_pos,
            w_pos: &self.w_pos,
            start_pos: &self.start_pos,
            rows_neg: &self.rows_neg,
            start_neg: &self.start_neg,
            h_pos: &self.h_pos,
            h_neg: &self.h_neg,
        };
        let w_next = &mut self.w_next;
        let (mut finite, mut sq) = ebm_core::simd::dispatch(
            #[inline(always)]
            || update_rows(&params, &lists, scale, 0..nv, w_next),
        );
        // biases: b' = b + lr/B (sum V - sum V-), c' = c + lr/B (sum H_pos - sum H_neg)
        for i in 0..nv {
            let pos: f64 = self.w_pos[self.start_pos[i]..self.start_pos[i + 1]].iter().sum();
            let d = pos - (self.start_neg[i + 1] - self.start_neg[i]) as f64;
            self.b_next[i] = scale.mul_add(d, self.b[i]);
            sq += d * d;
        }
        diff_of_sums(&self.h_pos[..rows * nh], &self.h_neg, &mut self.dc);
        for j in 0..nh {
            self.c_next[j] = scale.mul_add(self.dc[j], self.c[j]);
            sq += self.dc[j] * self.dc[j];
        }
        self.grad_norm = sq.sqrt() / rows as f64;
        finite &= all_finite(&self.b_next) && all_finite(&self.c_next);
        if !(loss.is_finite() && finite) {
            return Err(EstimatorError::NonFiniteLoss { step: 0, loss });
        }
        std::mem::swap(&mut self.w, &mut self.w_next);
        std::mem::swap(&mut self.b, &mut self.b_next);
        std::mem::swap(&mut self.c, &mut self.c_next);
        let (w, wt) = (&self.w, &mut self.wt);
        ebm_core::simd::dispatch(
            #[inline(always)]
            || transpose_rows(w, nv, nh, 0..nh, wt),
        );
        Ok(loss)
    }
}

/// Work buffers of a step.
#[derive(Clone, Debug)]
struct Scratch {
    e: Vec<f64>,
    words: Vec<u32>,
    on_h: Vec<usize>,
}

impl Scratch {
    fn new(nv: usize, nh: usize, sweeps: usize) -> Self {
        Self {
            e: vec![0.0; nv.max(nh)],
            words: vec![0; sweeps * (nv + nh)],
            on_h: vec![0; nh],
        }
    }
}

/// The parameters a step reads.
struct Params<'a> {
    nv: usize,
    nh: usize,
    sweeps: usize,
    w: &'a [f64],
    wt: &'a [f64],
    b: &'a [f64],
    c: &'a [f64],
}

/// What the positive phase writes.
struct Positive<'a> {
    h: &'a mut [f64],
    on: &'a mut [usize],
    val: &'a mut [f64],
    n: &'a mut [usize],
}

/// The statistics the update reads.
struct Lists<'a> {
    rows_pos: &'a [usize],
    w_pos: &'a [f64],
    start_pos: &'a [usize],
    rows_neg: &'a [usize],
    start_neg: &'a [usize],
    h_pos: &'a [f64],
    h_neg: &'a [f64],
}

/// Mean hiddens of the data rows and the sum of their free energies.
#[inline(always)]
fn positive(p: &Params<'_>, batch: &[f64], rows: usize, out: Positive<'_>, sc: &mut Scratch) -> f64 {
    let (nv, nh) = (p.nv, p.nh);
    let mut f_pos = 0.0;
    for r in 0..rows {
        let v = &batch[r * nv..(r + 1) * nv];
        let on = &mut out.on[r * nv..(r + 1) * nv];
        let k = active(v, on);
        out.n[r] = k;
        let vals = &mut out.val[r * nv..(r + 1) * nv];
        for (val, &i) in vals.iter_mut().zip(&on[..k]) {
            *val = v[i];
        }
        // binary rows take plain sums (the same bits: 1 x w is exact)
        let vals = if vals[..k].iter().all(|&x| x == 1.0) {
            None
        } else {
            Some(&vals[..k])
        };
        let h = &mut out.h[r * nh..(r + 1) * nh];
        f_pos += layer_up(&on[..k], vals, p.w, p.c, p.b, h, &mut sc.e[..nh]);
    }
    f_pos
}

/// k sweeps of the given chains from their hidden states: v ~ p(v | h),
/// mean hiddens, h ~ p(h | v); returns the sum of the last visibles' free
/// energies.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn negative(
    p: &Params<'_>,
    rngs: &mut [ChainRng],
    hidden: &mut [f64],
    v_neg: &mut [f64],
    h_neg: &mut [f64],
    on_neg: &mut [usize],
    n_neg: &mut [usize],
    sc: &mut Scratch,
) -> f64 {
    let (nv, nh) = (p.nv, p.nh);
    let units = p.sweeps * (nv + nh);
    let mut f_neg = 0.0;
    for (q, rng) in rngs.iter_mut().enumerate() {
        rng.fill(&mut sc.words[..units]);
        let v = &mut v_neg[q * nv..(q + 1) * nv];
        let on = &mut on_neg[q * nv..(q + 1) * nv];
        let hm = &mut h_neg[q * nh..(q + 1) * nh];
        let h = &mut hidden[q * nh..(q + 1) * nh];
        for s in 0..p.sweeps {
            let words = &sc.words[s * (nv + nh)..(s + 1) * (nv + nh)];
            // v ~ p(v | h)
            let n_on = active(h, &mut sc.on_h);
            add_rows(p.b, p.wt, &sc.on_h[..n_on], None, v);
            let e = &mut sc.e[..nv];
            for i in 0..nv {
                e[i] = exp(-v[i].abs());
            }
            for i in 0..nv {
                v[i] = bernoulli(v[i], e[i], words[i]);
            }
            // mean hiddens of v, then h ~ p(h | v)
            n_neg[q] = active(v, on);
            let f = layer_up(&on[..n_neg[q]], None, p.w, p.c, p.b, hm, &mut sc.e[..nh]);
            if s + 1 == p.sweeps {
                f_neg += f;
            }
            for j in 0..nh {
                h[j] = if (words[nv + j] as f64) < hm[j] * TWO32 {
                    1.0
                } else {
                    0.0
                };
            }
        }
    }
    f_neg
}

/// Rows `range` of W' = W + scale (V^T H_pos - V-^T H_neg) into `out`
/// (those rows only); returns whether they are finite and the squared
/// norm of their summed statistics.
#[inline(always)]
fn update_rows(
    p: &Params<'_>,
    l: &Lists<'_>,
    scale: f64,
    range: std::ops::Range<usize>,
    out: &mut [f64],
) -> (bool, f64) {
    let nh = p.nh;
    let mut finite = true;
    let mut sq = [0.0f64; 64];
    for (k, i) in range.enumerate() {
        let pos = &l.rows_pos[l.start_pos[i]..l.start_pos[i + 1]];
        let pos_val = &l.w_pos[l.start_pos[i]..l.start_pos[i + 1]];
        let neg = &l.rows_neg[l.start_neg[i]..l.start_neg[i + 1]];
        finite &= update_row(
            &p.w[i * nh..(i + 1) * nh],
            l.h_pos,
            pos,
            pos_val,
            l.h_neg,
            neg,
            scale,
            &mut out[k * nh..(k + 1) * nh],
            &mut sq,
        );
    }
    (finite, sq.iter().sum())
}

/// For each of the `nv` units, the rows (in order) whose lists of units
/// that are on (`on`, `nv` slots per row, the first `n[r]` used) contain
/// it, as compressed lists: unit i's rows are `out[start[i]..start[i + 1]]`.
/// `cursor` is scratch.
fn by_unit(
    on: &[usize],
    n: &[usize],
    nv: usize,
    out: &mut Vec<usize>,
    start: &mut Vec<usize>,
    cursor: &mut Vec<usize>,
) {
    start.clear();
    start.resize(nv + 1, 0);
    for (r, &k) in n.iter().enumerate() {
        for &i in &on[r * nv..r * nv + k] {
            start[i + 1] += 1;
        }
    }
    for i in 0..nv {
        start[i + 1] += start[i];
    }
    out.resize(start[nv], 0);
    cursor.clear();
    cursor.extend_from_slice(&start[..nv]);
    for (r, &k) in n.iter().enumerate() {
        for &i in &on[r * nv..r * nv + k] {
            out[cursor[i]] = r;
            cursor[i] += 1;
        }
    }
}

/// `out = w + scale (sum_{r in pos} v_r hp[r, ..] - sum_{q in neg} hn[q, ..])`
/// (v_r from `pos_val`) for one row of W (rows of hp and hn as long as
/// `w`), in blocks of 64, 8 and 1 columns like [`add_rows`]; returns
/// whether `out` is finite, and adds the squares of the summed statistics
/// to the lanes of `sq`.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn update_row(
    w: &[f64],
    hp: &[f64],
    pos: &[usize],
    pos_val: &[f64],
    hn: &[f64],
    neg: &[usize],
    scale: f64,
    out: &mut [f64],
    sq: &mut [f64; 64],
) -> bool {
    let n = w.len();
    let rows = Update {
        w,
        hp,
        pos,
        pos_val,
        hn,
        neg,
        scale,
        binary: pos_val.iter().all(|&v| v == 1.0),
    };
    let mut j0 = 0;
    while j0 + 64 <= n {
        rows.block::<64>(out, j0, sq);
        j0 += 64;
    }
    while j0 + 8 <= n {
        rows.block::<8>(out, j0, sq);
        j0 += 8;
    }
    while j0 < n {
        rows.block::<1>(out, j0, sq);
        j0 += 1;
    }
    all_finite_inline(out)
}

/// The inputs of [`update_row`].
struct Update<'a> {
    w: &'a [f64],
    hp: &'a [f64],
    pos: &'a [usize],
    pos_val: &'a [f64],
    hn: &'a [f64],
    neg: &'a [usize],
    scale: f64,
    /// All positive values are 1 (binary data): plain sums, the same bits
    /// as the products.
    binary: bool,
}

impl Update<'_> {
    /// Columns `j0..j0 + B`; their squared statistics are added to the
    /// first B lanes of `sq`.
    #[inline(always)]
    fn block<const B: usize>(&self, out: &mut [f64], j0: usize, sq: &mut [f64; 64]) {
        let n = self.w.len();
        let mut acc = [0.0f64; B];
        if self.binary {
            for &r in self.pos {
                let row: &[f64; B] = self.hp[r * n + j0..][..B].try_into().expect("block");
                for t in 0..B {
                    acc[t] += row[t];
                }
            }
        } else {
            for (&r, &val) in self.pos.iter().zip(self.pos_val) {
                let row: &[f64; B] = self.hp[r * n + j0..][..B].try_into().expect("block");
                for t in 0..B {
                    acc[t] = val.mul_add(row[t], acc[t]);
                }
            }
        }
        for &q in self.neg {
            let row: &[f64; B] = self.hn[q * n + j0..][..B].try_into().expect("block");
            for t in 0..B {
                acc[t] -= row[t];
            }
        }
        let (wb, ob) = (&self.w[j0..j0 + B], &mut out[j0..j0 + B]);
        for t in 0..B {
            ob[t] = self.scale.mul_add(acc[t], wb[t]);
            sq[t] = acc[t].mul_add(acc[t], sq[t]);
        }
    }
}

/// The [`StepEngine`] for maximum likelihood with persistent Gibbs
/// negatives (PCD-k) on a Bernoulli RBM with plain SGD: [`RbmPcd`] steps
/// on a host copy of the model's parameters, written back into the
/// model when the run ends. The trainer picks it for that combination
/// ([`crate::objectives::MaxLikelihood`]); checkpoints carry the
/// parameters in the model's order (W, b, c), no optimizer moments, and
/// the chains' hidden states and streams.
pub struct RbmPcdEngine<'a, F: Real, D: Backend<F>, M> {
    model: &'a mut M,
    name: String,
    rbm: Rbm,
    cfg: RbmPcdConfig,
    pcd: Option<RbmPcd>,
    steps: usize,
    _fd: PhantomData<(F, D)>,
}

impl<'a, F: Real, D: Backend<F>, M: TrainableEnergy<F, D>> RbmPcdEngine<'a, F, D, M> {
    /// The engine for `model` (whose model file must be an `rbm`), named
    /// `name` in checkpoints, with learning rate `lr`, `chains`
    /// persistent chains and `sweeps` Gibbs sweeps per step.
    pub fn new(model: &'a mut M, name: String, lr: f64, chains: usize, sweeps: usize) -> Result<Self> {
        let rbm = match model.to_spec() {
            EnergySpec::Rbm { w, b, c } => Rbm::from_rows(&w, b, c)?,
            other => {
                return Err(EstimatorError::Unsupported(format!(
                    "the RBM PCD engine needs an `rbm` model, got `{}`",
                    other.type_name()
                )))
            }
        };
        let shapes: Vec<Vec<usize>> = model.params_mut().iter().map(ParamMut::shape).collect();
        let (nv, nh) = (rbm.n_visible(), rbm.n_hidden());
        if shapes != [vec![nv, nh], vec![nv], vec![nh]] {
            return Err(EstimatorError::Unsupported(format!(
                "the RBM PCD engine needs parameters W ({nv} x {nh}), b, c; the model has shapes {shapes:?}"
            )));
        }
        let cfg = RbmPcdConfig {
            lr,
            chains,
            sweeps,
            seed: 0,
        };
        // settings are checked now, not at the first step
        RbmPcd::new(&rbm, &cfg)?;
        Ok(Self {
            model,
            name,
            rbm,
            cfg,
            pcd: None,
            steps: 0,
            _fd: PhantomData,
        })
    }

    fn pcd(&mut self) -> &mut RbmPcd {
        self.pcd.as_mut().expect("prepared before use")
    }
}

impl<F: Real, D: Backend<F>, M: TrainableEnergy<F, D>> StepEngine for RbmPcdEngine<'_, F, D, M> {
    fn objective_name(&self) -> String {
        self.name.clone()
    }

    fn param_shapes(&mut self) -> Vec<Vec<usize>> {
        let (nv, nh) = (self.rbm.n_visible(), self.rbm.n_hidden());
        vec![vec![nv, nh], vec![nv], vec![nh]]
    }

    fn prepare(&mut self, _data: &Points, seed: u64) -> Result<()> {
        self.cfg.seed = seed;
        self.pcd = Some(RbmPcd::new(&self.rbm, &self.cfg)?);
        Ok(())
    }

    fn step(&mut self, batch: &Points, _rng: &mut ChainRng) -> Result<StepOutcome> {
        let before = self.steps;
        match self.pcd().step(batch.as_slice()) {
            Ok(loss) => {
                self.steps = before + 1;
                let grad_norm = self.pcd().last_grad_norm();
                Ok(StepOutcome {
                    loss,
                    grad_norm,
                    applied: true,
                })
            }
            Err(EstimatorError::NonFiniteLoss { loss, .. }) => Ok(StepOutcome {
                loss,
                grad_norm: f64::NAN,
                applied: false,
            }),
            Err(e) => Err(e),
        }
    }

    fn is_valid(&mut self) -> bool {
        self.pcd().is_finite()
    }

    fn model_spec(&mut self) -> EnergySpec {
        EnergySpec::from(&self.pcd().rbm())
    }

    fn snapshot(&mut self) -> Result<(Vec<Vec<f64>>, OptimizerState, ObjectiveState)> {
        let pcd = self.pcd();
        let (w, b, c) = pcd.params();
        let params = vec![w.to_vec(), b.to_vec(), c.to_vec()];
        let chains = pcd.chains();
        // plain SGD keeps no moments: empty buffers, as the dfdx optimizer writes them
        let optimizer = OptimizerState {
            steps: self.steps,
            first: vec![Vec::new(); 3],
            second: vec![Vec::new(); 3],
        };
        let objective = ObjectiveState {
            rngs: chains.rngs,
            chains: chains.hidden,
            ..ObjectiveState::default()
        };
        Ok((params, optimizer, objective))
    }

    fn restore(
        &mut self,
        params: &[Vec<f64>],
        optimizer: &OptimizerState,
        objective: &ObjectiveState,
    ) -> Result<()> {
        if params.len() != 3 {
            return Err(EstimatorError::Checkpoint(format!(
                "it holds {} parameters, an RBM has 3 (W, b, c)",
                params.len()
            )));
        }
        let pcd = self.pcd();
        pcd.set_params(&params[0], &params[1], &params[2])?;
        pcd.restore_chains(&RbmPcdChains {
            hidden: objective.chains.clone(),
            rngs: objective.rngs.clone(),
        })?;
        self.steps = optimizer.steps;
        Ok(())
    }

    fn finish(&mut self) -> Result<()> {
        if let Some(pcd) = &self.pcd {
            let (w, b, c) = pcd.params();
            let mut params = self.model.params_mut();
            params[0].set_values(w)?;
            params[1].set_values(b)?;
            params[2].set_values(c)?;
        }
        Ok(())
    }
}

/// 2^32: a 32-bit word u is below p 2^32 with probability p.
const TWO32: f64 = 4_294_967_296.0;

/// On with probability sigmoid(x), from e = e^-|x| and a 32-bit word u:
/// u (1 + e) < 2^32 for x >= 0, u (1 + e) < 2^32 e below.
#[inline(always)]
fn bernoulli(x: f64, e: f64, u: u32) -> f64 {
    let rhs = if x >= 0.0 { TWO32 } else { TWO32 * e };
    if (u as f64) * (1.0 + e) < rhs {
        1.0
    } else {
        0.0
    }
}

/// The indices of the units that are on, at the front of `on` (at least
/// as long as `x`); returns how many. Each 64 units become a bit mask
/// (a vectorised comparison), whose set bits are then read off one by one,
/// so the work follows the units that are on.
#[inline(always)]
fn active(x: &[f64], on: &mut [usize]) -> usize {
    let mut n = 0;
    for (w, chunk) in x.chunks(64).enumerate() {
        let mut mask = 0u64;
        for (i, &v) in chunk.iter().enumerate() {
            mask |= ((v != 0.0) as u64) << i;
        }
        while mask != 0 {
            on[n] = w * 64 + mask.trailing_zeros() as usize;
            n += 1;
            mask &= mask - 1;
        }
    }
    n
}

/// h = sigmoid(c + v^T W) for v given by the units that are on and their
/// values (`None`: all 1; a sum of those rows of W, in order); returns the
/// free energy
/// F(v) = -b.v - sum_j softplus(c_j + (v^T W)_j), the log-terms summed as
/// in [`softplus_sum_then_sigmoid`].
#[inline(always)]
fn layer_up(
    on: &[usize],
    vals: Option<&[f64]>,
    w: &[f64],
    c: &[f64],
    b: &[f64],
    h: &mut [f64],
    e: &mut [f64],
) -> f64 {
    add_rows(c, w, on, vals, h);
    let mut bv = 0.0;
    match vals {
        Some(vals) => {
            for (&i, &val) in on.iter().zip(vals) {
                bv = val.mul_add(b[i], bv);
            }
        }
        None => {
            for &i in on {
                bv += b[i];
            }
        }
    }
    let sp = softplus_sum_then_sigmoid(h, e);
    -bv - sp
}

/// Returns sum_j softplus(x_j) and replaces every x_j by sigmoid(x_j),
/// both from e_j = e^-|x_j| (`e` is scratch as long as `x`):
/// softplus(x) = max(x, 0) + ln(1 + e), sigmoid(x) = 1 / (1 + e) or
/// e / (1 + e). The sums run in eight lanes (unit j in lane j mod 8) and
/// the log-terms as the ln of each lane's product of up to 32 factors
/// 1 + e in (1, 2], so one vector ln serves 256 units.
#[inline(always)]
fn softplus_sum_then_sigmoid(x: &mut [f64], e: &mut [f64]) -> f64 {
    const L: usize = 8;
    const BLOCK: usize = 32 * L;
    let n = x.len();
    let e = &mut e[..n];
    for j in 0..n {
        e[j] = exp(-x[j].abs());
    }
    let mut lin = [0.0f64; L];
    let mut logs = [0.0f64; L];
    let mut b0 = 0;
    while b0 < n {
        let b1 = (b0 + BLOCK).min(n);
        let mut prod = [1.0f64; L];
        let (xs, es) = (&x[b0..b1], &e[b0..b1]);
        let full = xs.len() / L * L;
        for (xc, ec) in xs[..full].chunks_exact(L).zip(es[..full].chunks_exact(L)) {
            for l in 0..L {
                lin[l] += xc[l].max(0.0);
                prod[l] *= 1.0 + ec[l];
            }
        }
        for (l, (xv, ev)) in xs[full..].iter().zip(&es[full..]).enumerate() {
            lin[l] += xv.max(0.0);
            prod[l] *= 1.0 + ev;
        }
        for l in 0..L {
            logs[l] += ln(prod[l]);
        }
        b0 = b1;
    }
    for j in 0..n {
        x[j] = if x[j] >= 0.0 {
            1.0 / (1.0 + e[j])
        } else {
            e[j] / (1.0 + e[j])
        };
    }
    let mut sp = 0.0;
    for l in 0..L {
        sp += lin[l] + logs[l];
    }
    sp
}

/// `out = base + sum_k vals_k m[on_k, ..]` (rows of the row-major `m`, as
/// long as `out`; `vals` None means all 1), the rows added in order. In
/// blocks of 64 columns (eight registers of sums, independent of each
/// other), then of 8, then one by one.
#[inline(always)]
fn add_rows(base: &[f64], m: &[f64], on: &[usize], vals: Option<&[f64]>, out: &mut [f64]) {
    let n = out.len();
    let mut j0 = 0;
    while j0 + 64 <= n {
        add_rows_block::<64>(base, m, on, vals, out, j0);
        j0 += 64;
    }
    while j0 + 8 <= n {
        add_rows_block::<8>(base, m, on, vals, out, j0);
        j0 += 8;
    }
    while j0 < n {
        add_rows_block::<1>(base, m, on, vals, out, j0);
        j0 += 1;
    }
}

/// Columns `j0..j0 + B` of [`add_rows`].
#[inline(always)]
fn add_rows_block<const B: usize>(
    base: &[f64],
    m: &[f64],
    on: &[usize],
    vals: Option<&[f64]>,
    out: &mut [f64],
    j0: usize,
) {
    let n = out.len();
    let mut acc: [f64; B] = base[j0..j0 + B].try_into().expect("block");
    match vals {
        Some(vals) => {
            for (&i, &val) in on.iter().zip(vals) {
                let row: &[f64; B] = m[i * n + j0..][..B].try_into().expect("block");
                for t in 0..B {
                    acc[t] = val.mul_add(row[t], acc[t]);
                }
            }
        }
        None => {
            for &i in on {
                let row: &[f64; B] = m[i * n + j0..][..B].try_into().expect("block");
                for t in 0..B {
                    acc[t] += row[t];
                }
            }
        }
    }
    out[j0..j0 + B].copy_from_slice(&acc);
}

/// `out` = column sums of the rows of `a` minus those of `b` (both
/// row-major with `out.len()` columns).
fn diff_of_sums(a: &[f64], b: &[f64], out: &mut [f64]) {
    let n = out.len();
    out.iter_mut().for_each(|o| *o = 0.0);
    for r in a.chunks_exact(n) {
        for (o, v) in out.iter_mut().zip(r) {
            *o += v;
        }
    }
    for r in b.chunks_exact(n) {
        for (o, v) in out.iter_mut().zip(r) {
            *o -= v;
        }
    }
}

/// Rows `range` of the transpose of `m` (rows x cols) into `out` (those
/// rows of the cols x rows result), in 8 x 8 tiles (fixed-size, so the
/// compiler transposes them in registers) and element by element at the
/// edges.
#[inline(always)]
fn transpose_rows(m: &[f64], rows: usize, cols: usize, range: std::ops::Range<usize>, out: &mut [f64]) {
    const T: usize = 8;
    let (j0, j1) = (range.start, range.end);
    let full_r = rows / T * T;
    let mut bj = j0;
    while bj + T <= j1 {
        for bi in (0..full_r).step_by(T) {
            let mut tile = [[0.0f64; T]; T];
            for (a, t) in tile.iter_mut().enumerate() {
                t.copy_from_slice(&m[(bi + a) * cols + bj..][..T]);
            }
            for b in 0..T {
                let o: &mut [f64; T] = (&mut out[(bj - j0 + b) * rows + bi..][..T])
                    .try_into()
                    .expect("tile");
                for a in 0..T {
                    o[a] = tile[a][b];
                }
            }
        }
        for i in full_r..rows {
            for j in bj..bj + T {
                out[(j - j0) * rows + i] = m[i * cols + j];
            }
        }
        bj += T;
    }
    for j in bj..j1 {
        for i in 0..rows {
            out[(j - j0) * rows + i] = m[i * cols + j];
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ebm_core::math::sigmoid;
    use proptest::prelude::*;
    use rand::Rng;

    fn random_rbm(nv: usize, nh: usize, seed: u64) -> Rbm {
        let mut r = ebm_core::setup_rng(seed);
        let mut u = || r.random::<f64>() - 0.5;
        let w = (0..nv * nh).map(|_| 0.8 * u()).collect();
        let b = (0..nv).map(|_| 0.4 * u()).collect();
        let c = (0..nh).map(|_| 0.4 * u()).collect();
        Rbm::new(nv, nh, w, b, c).unwrap()
    }

    /// The update and loss of one step, recomputed naively from the
    /// negatives the step drew: W' - W = lr/B (V^T sigma(c + V W) - V-^T sigma(c + V- W)).
    fn check_step(nv: usize, nh: usize, rows: usize, chains: usize, binary: bool, seed: u64) {
        let rbm = random_rbm(nv, nh, seed);
        let mut r = ebm_core::setup_rng(seed + 1);
        let batch: Vec<f64> = (0..rows * nv)
            .map(|_| {
                let u: f64 = r.random();
                if binary {
                    (u < 0.3) as u8 as f64
                } else if u < 0.5 {
                    0.0
                } else {
                    u
                }
            })
            .collect();
        let lr = 0.1;
        let mut pcd = RbmPcd::new(
            &rbm,
            &RbmPcdConfig {
                lr,
                chains,
                sweeps: 2,
                seed,
            },
        )
        .unwrap();
        let loss = pcd.step(&batch).unwrap();
        let vn = pcd.v_neg.clone();
        let hidden_input = |v: &[f64], j: usize| {
            rbm.hidden_bias()[j] + (0..nv).map(|i| v[i] * rbm.weights()[i * nh + j]).sum::<f64>()
        };
        let (w1, b1, c1) = pcd.params();
        let scale = lr / rows as f64;
        let mut sq = 0.0;
        for i in 0..nv {
            for j in 0..nh {
                let pos: f64 = (0..rows)
                    .map(|q| batch[q * nv + i] * sigmoid(hidden_input(&batch[q * nv..(q + 1) * nv], j)))
                    .sum();
                let neg: f64 = (0..chains)
                    .map(|q| vn[q * nv + i] * sigmoid(hidden_input(&vn[q * nv..(q + 1) * nv], j)))
                    .sum();
                let want = rbm.weights()[i * nh + j] + scale * (pos - neg);
                assert!(
                    (w1[i * nh + j] - want).abs() < 1e-13,
                    "W[{i}][{j}]: {} vs {want}",
                    w1[i * nh + j]
                );
                sq += (pos - neg) * (pos - neg);
            }
            let d: f64 = (0..rows).map(|q| batch[q * nv + i]).sum::<f64>()
                - (0..chains).map(|q| vn[q * nv + i]).sum::<f64>();
            assert!((b1[i] - (rbm.visible_bias()[i] + scale * d)).abs() < 1e-13);
            sq += d * d;
        }
        for j in 0..nh {
            let pos: f64 = (0..rows)
                .map(|q| sigmoid(hidden_input(&batch[q * nv..(q + 1) * nv], j)))
                .sum();
            let neg: f64 = (0..chains)
                .map(|q| sigmoid(hidden_input(&vn[q * nv..(q + 1) * nv], j)))
                .sum();
            assert!((c1[j] - (rbm.hidden_bias()[j] + scale * (pos - neg))).abs() < 1e-13);
            sq += (pos - neg) * (pos - neg);
        }
        let f_pos = (0..rows)
            .map(|q| rbm.free_energy(&batch[q * nv..(q + 1) * nv]))
            .sum::<f64>()
            / rows as f64;
        let f_neg = (0..chains)
            .map(|q| rbm.free_energy(&vn[q * nv..(q + 1) * nv]))
            .sum::<f64>()
            / chains as f64;
        assert!(
            (loss - (f_pos - f_neg)).abs() < 1e-10 * (1.0 + loss.abs()),
            "loss {loss} vs {}",
            f_pos - f_neg
        );
        assert!((pcd.last_grad_norm() - sq.sqrt() / rows as f64).abs() < 1e-10);
        assert!(vn.iter().all(|&v| v == 0.0 || v == 1.0));
        // W^T follows W
        let t = pcd.rbm();
        assert_eq!(t.weights_t(), &pcd.wt[..]);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(24))]

        /// Sizes off the 32-column blocks and the 64-unit masks included.
        #[test]
        fn step_matches_the_naive_update(nv in 1usize..80, nh in 1usize..70, rows in 1usize..12, chains in 1usize..6, binary: bool, seed in 0u64..1000) {
            check_step(nv, nh, rows, chains, binary, seed);
        }
    }

    #[test]
    fn chains_are_independent_of_each_other_and_resume_exactly() {
        let rbm = random_rbm(20, 12, 3);
        let batch: Vec<f64> = (0..5 * 20).map(|k| ((k * 7) % 3 == 0) as u8 as f64).collect();
        let cfg = RbmPcdConfig {
            lr: 0.05,
            chains: 4,
            sweeps: 1,
            seed: 9,
        };
        let mut a = RbmPcd::new(&rbm, &cfg).unwrap();
        for _ in 0..5 {
            a.step(&batch).unwrap();
        }
        // continue a copy rebuilt from the parameters and chains
        let saved = (
            a.params().0.to_vec(),
            a.params().1.to_vec(),
            a.params().2.to_vec(),
            a.chains(),
        );
        let mut b = RbmPcd::new(&rbm, &cfg).unwrap();
        b.set_params(&saved.0, &saved.1, &saved.2).unwrap();
        b.restore_chains(&saved.3).unwrap();
        for _ in 0..7 {
            let (x, y) = (a.step(&batch).unwrap(), b.step(&batch).unwrap());
            assert_eq!(x.to_bits(), y.to_bits());
        }
        assert_eq!(a.params().0, b.params().0);
        // a bad checkpoint is refused
        let mut bad = saved.3.clone();
        bad.hidden[0] = 0.5;
        assert!(b.restore_chains(&bad).is_err());
        assert!(b.set_params(&[1.0], &saved.1, &saved.2).is_err());
    }

    #[test]
    fn a_non_finite_step_leaves_the_parameters_alone() {
        let rbm = random_rbm(6, 4, 1);
        let mut pcd = RbmPcd::new(
            &rbm,
            &RbmPcdConfig {
                lr: 1e308,
                chains: 2,
                sweeps: 1,
                seed: 0,
            },
        )
        .unwrap();
        let before = pcd.params().0.to_vec();
        let batch = [1.0, 0.0, 1.0, 1.0, 0.0, 1.0];
        let mut failed = false;
        for _ in 0..20 {
            let w = pcd.params().0.to_vec();
            if pcd.step(&batch).is_err() {
                assert_eq!(pcd.params().0, &w[..]);
                failed = true;
                break;
            }
        }
        assert!(failed, "lr 1e308 must overflow");
        assert!(pcd.is_finite());
        assert_ne!(pcd.params().0, &before[..]);
        assert!(RbmPcd::new(
            &rbm,
            &RbmPcdConfig {
                lr: 0.0,
                chains: 2,
                sweeps: 1,
                seed: 0
            }
        )
        .is_err());
        assert!(RbmPcd::new(
            &rbm,
            &RbmPcdConfig {
                lr: 0.1,
                chains: 0,
                sweeps: 1,
                seed: 0
            }
        )
        .is_err());
        assert!(pcd.step(&[1.0, 0.0]).is_err());
    }
}
