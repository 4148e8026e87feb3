//! Contrastive divergence for Bernoulli RBMs in closed form on the host:
//! no autodiff graph, no allocation per step, products that skip the
//! units that are off. The trainer reaches it through the RBM's
//! capability ([`crate::capability::HandRbm`] implements
//! [`crate::capability::PcdStep`] with it) whenever PCD with block-Gibbs
//! chains runs with plain SGD; it can also be stepped directly.
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
//! **Precision:** [`RbmPcd`] is generic over the float `F`. In f64 (the
//! default) everything is double precision. In f32 the parameters, chain
//! states, products and exponentials are single precision (twice the
//! SIMD lanes per instruction), a 32-bit word is compared after rounding
//! to 24 bits (probabilities off by at most 2^-24), and the free energies
//! behind the loss sum their log-terms in f64. The trainer runs an f32
//! model (`TrainableRbm<f32, _>`) in f32.
//!
//! ```
//! use ebm_core::energies::Rbm;
//! use ebm_estimators::rbm_pcd::{RbmPcd, RbmPcdConfig};
//! let rbm = Rbm::new(4, 3, vec![0.01; 12], vec![0.0; 4], vec![0.0; 3]).unwrap();
//! let cfg = RbmPcdConfig { lr: 0.05, chains: 2, sweeps: 1, seed: 0 };
//! let mut pcd: RbmPcd = RbmPcd::new(&rbm, &cfg).unwrap(); // f64; RbmPcd<f32> for single precision
//! let batch = [1.0, 0.0, 1.0, 0.0, 1.0, 1.0, 0.0, 0.0];
//! for _ in 0..100 {
//!     pcd.step(&batch).unwrap();
//! }
//! let trained = pcd.rbm();
//! assert!(trained.free_energy(&[1.0, 0.0, 1.0, 0.0]) < trained.free_energy(&[0.0, 1.0, 0.0, 1.0]));
//! ```

mod kernels;
mod stats;

use crate::error::{config, EstimatorError, Result};
use crate::trainable::Real;
use ebm_core::aligned::AlignedVec;
use ebm_core::bernoulli::{bernoulli, weight_of};
use ebm_core::energies::rbm_gibbs::{active, add_rows};
use ebm_core::energies::Rbm;
use ebm_core::simd::all_finite_inline;
use ebm_core::transpose::transpose;
use ebm_core::{chain_rngs, ChainRng, RngPosition};
use kernels::{layer_up, update_rows};
use rand::Rng;
use serde::{Deserialize, Serialize};
use stats::Stats;

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
/// 0 or 1, in f64 whatever the run's precision) and the streams' positions.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RbmPcdChains {
    /// Hidden states, row-major.
    pub hidden: Vec<f64>,
    /// Each chain's stream.
    pub rngs: Vec<RngPosition>,
}

/// PCD-k training state of a Bernoulli RBM in the float `F` (see the
/// module documentation).
#[derive(Clone, Debug)]
pub struct RbmPcd<F: Real = f64> {
    nv: usize,
    nh: usize,
    lr: f64,
    sweeps: usize,
    /// W, V x H row-major, and its transpose, each starting on a cache
    /// line (so are the rows when H and V are multiples of 8 in f64 or 16
    /// in f32: the row sums' vector loads are never split).
    w: AlignedVec<F>,
    wt: AlignedVec<F>,
    b: Vec<F>,
    c: Vec<F>,
    /// Chain hidden states, C x H.
    hidden: Vec<F>,
    rngs: Vec<ChainRng>,
    // the next parameters, swapped in when finite
    w_next: AlignedVec<F>,
    b_next: Vec<F>,
    c_next: Vec<F>,
    // work buffers, allocated once
    v_neg: Vec<F>,
    scratch: Scratch<F>,
    /// The step's statistics, summed row by row as the phases produce
    /// them: G = V^T H_pos - V-^T H_neg (V x H), the data's sum per
    /// visible unit, the chains' count of each visible unit that is on,
    /// and sum H_pos - sum H_neg per hidden unit.
    stats: Stats<F>,
    grad_norm: f64,
}

impl<F: Real> RbmPcd<F> {
    /// Start from `rbm` with `cfg` (chains at h = 0); its parameters are
    /// rounded to `F`.
    pub fn new(rbm: &Rbm, cfg: &RbmPcdConfig) -> Result<Self> {
        let lr = F::of(cfg.lr);
        if !(cfg.lr.is_finite() && lr.is_finite() && lr > F::zero()) {
            return Err(config(
                "lr",
                format!(
                    "must be positive and finite (in f{}), got {}",
                    8 * std::mem::size_of::<F>(),
                    cfg.lr
                ),
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
        let z = F::zero();
        Ok(Self {
            nv,
            nh,
            lr: cfg.lr,
            sweeps: cfg.sweeps,
            w: AlignedVec::from_slice(&of_f64(rbm.weights())),
            wt: AlignedVec::from_slice(&of_f64(rbm.weights_t())),
            b: of_f64(rbm.visible_bias()),
            c: of_f64(rbm.hidden_bias()),
            hidden: vec![z; ch * nh],
            rngs: chain_rngs(cfg.seed, ch),
            w_next: AlignedVec::zeroed(nv * nh),
            b_next: vec![z; nv],
            c_next: vec![z; nh],
            v_neg: vec![z; ch * nv],
            scratch: Scratch::new(nv, nh, cfg.sweeps, ch),
            stats: Stats::new(nv, nh),
            grad_norm: f64::NAN,
        })
    }

    /// The RBM with the current parameters (in f64, exact for f32).
    pub fn rbm(&self) -> Rbm {
        Rbm::new(
            self.nv,
            self.nh,
            to_f64(&self.w),
            to_f64(&self.b),
            to_f64(&self.c),
        )
        .expect("a trained RBM keeps its shapes")
    }

    /// The parameters (W row-major V x H, b, c).
    pub fn params(&self) -> (&[F], &[F], &[F]) {
        (&self.w, &self.b, &self.c)
    }

    /// Overwrite the parameters (same shapes).
    pub fn set_params(&mut self, w: &[F], b: &[F], c: &[F]) -> Result<()> {
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
        transpose(&self.w, self.nv, self.nh, &mut self.wt);
        Ok(())
    }

    /// The persistent chains, for a checkpoint.
    pub fn chains(&self) -> RbmPcdChains {
        RbmPcdChains {
            hidden: to_f64(&self.hidden),
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
        for (h, &s) in self.hidden.iter_mut().zip(&saved.hidden) {
            *h = F::of(s);
        }
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
    /// Single-threaded: a step of batch 10 on the 64 x 64 digits RBM takes
    /// some 9-10 us in f64 or f32, and handing half of it to a second
    /// thread (rayon::join) cost more than it saved when measured.
    pub fn step(&mut self, batch: &[f64]) -> Result<f64> {
        let (nv, nh) = (self.nv, self.nh);
        if batch.is_empty() || batch.len() % nv != 0 {
            return Err(EstimatorError::Data(format!(
                "a batch needs whole rows of {nv} values, got {}",
                batch.len()
            )));
        }
        let rows = batch.len() / nv;
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
        // the statistics: the data rows, then the chains, each row's mean
        // hiddens and visible units kept for the update
        let (rngs, hidden, vn, st, sc) = (
            &mut self.rngs,
            &mut self.hidden,
            &mut self.v_neg,
            &mut self.stats,
            &mut self.scratch,
        );
        let (f_pos, f_neg) = ebm_core::simd::dispatch(
            #[inline(always)]
            || {
                st.begin(rows, chains);
                let f = positive(&params, batch, rows, st, sc);
                (f, negative(&params, rngs, hidden, vn, rows, st, sc))
            },
        );
        let loss = f_pos / rows as f64 - f_neg / chains as f64;
        // W' = W + lr/B G
        let scale = F::of(self.lr / rows as f64);
        // biases: b' = b + lr/B (sum V - sum V-), c' = c + lr/B (sum H_pos - sum H_neg)
        let (st, (w, b, c)) = (&self.stats, (&self.w, &self.b, &self.c));
        let (w_next, b_next, c_next) = (&mut self.w_next, &mut self.b_next, &mut self.c_next);
        let (finite, sq) = ebm_core::simd::dispatch(
            #[inline(always)]
            || {
                let (mut finite, mut sq) = update_rows(w, st, nh, scale, w_next);
                for i in 0..nv {
                    let d = st.db_pos[i] - st.db_neg[i];
                    b_next[i] = scale.mul_add(d, b[i]);
                    sq += (d * d).f64();
                }
                for j in 0..nh {
                    c_next[j] = scale.mul_add(st.dc[j], c[j]);
                    sq += (st.dc[j] * st.dc[j]).f64();
                }
                finite &= all_finite_inline(b_next) && all_finite_inline(c_next);
                (finite, sq)
            },
        );
        self.grad_norm = sq.sqrt() / rows as f64;
        if !(loss.is_finite() && finite) {
            return Err(EstimatorError::NonFiniteLoss { step: 0, loss });
        }
        std::mem::swap(&mut self.w, &mut self.w_next);
        std::mem::swap(&mut self.b, &mut self.b_next);
        std::mem::swap(&mut self.c, &mut self.c_next);
        transpose(&self.w, nv, nh, &mut self.wt);
        Ok(loss)
    }
}

/// Values in f64 (exact for f32).
pub(crate) fn to_f64<F: Real>(v: &[F]) -> Vec<f64> {
    v.iter().map(|x| x.f64()).collect()
}

/// Values in `F` (rounded for f32; values that came from f32, such as an
/// f32 run's checkpoint, come back exactly).
pub(crate) fn of_f64<F: Real>(v: &[f64]) -> Vec<F> {
    v.iter().map(|&x| F::of(x)).collect()
}

/// Work buffers of a step.
#[derive(Clone, Debug)]
struct Scratch<F> {
    e: Vec<F>,
    /// The chains' words of a step, chain after chain.
    words: Vec<u32>,
    /// The units that are on in a visible row and in a hidden row, and
    /// the visible values.
    on_v: Vec<usize>,
    val: Vec<F>,
    on_h: Vec<usize>,
    /// A row's hidden inputs.
    x: Vec<F>,
}

impl<F: Real> Scratch<F> {
    fn new(nv: usize, nh: usize, sweeps: usize, chains: usize) -> Self {
        Self {
            e: vec![F::zero(); nv.max(nh)],
            words: vec![0; chains * sweeps * (nv + nh)],
            on_v: vec![0; nv],
            val: vec![F::zero(); nv],
            on_h: vec![0; nh],
            x: vec![F::zero(); nh],
        }
    }
}

/// The parameters a step reads.
struct Params<'a, F> {
    nv: usize,
    nh: usize,
    sweeps: usize,
    w: &'a [F],
    wt: &'a [F],
    b: &'a [F],
    c: &'a [F],
}

/// Adds the data rows' statistics to `st`; returns the sum of their free
/// energies.
#[inline(always)]
fn positive<F: Real>(
    p: &Params<'_, F>,
    batch: &[f64],
    rows: usize,
    st: &mut Stats<F>,
    sc: &mut Scratch<F>,
) -> f64 {
    let (nv, nh) = (p.nv, p.nh);
    let mut f_pos = 0.0;
    for r in 0..rows {
        let v = &batch[r * nv..(r + 1) * nv];
        let data = st.data_row(r);
        for (d, &x) in data.iter_mut().zip(v) {
            *d = F::of(x);
        }
        let k = active(v, &mut sc.on_v);
        let (on, vals) = (&sc.on_v[..k], &mut sc.val[..k]);
        for (val, &i) in vals.iter_mut().zip(on) {
            *val = data[i];
        }
        // binary rows take plain sums (the same bits: 1 x w is exact)
        let vals = if vals.iter().all(|&x| x == F::one()) {
            None
        } else {
            Some(&*vals)
        };
        let h = st.hidden_row(r);
        f_pos += layer_up(on, vals, p.w, p.c, p.b, &mut sc.x[..nh], &mut sc.e[..nh], h);
        st.add_data_row(r, on);
    }
    f_pos
}

/// k sweeps of the chains from their hidden states: v ~ p(v | h), mean
/// hiddens, h ~ p(h | v); records the last visibles and their mean
/// hiddens in `st` (after the `rows` data rows) and returns the sum of
/// their free energies.
///
/// Each half-sweep runs over all the chains before the next one starts:
/// every chain's visibles from the rows of W^T, then every chain's
/// hiddens from the rows of W, so that one matrix at a time is read (32
/// KB in float64 on the 64 x 64 digits RBM, which the L1 cache holds,
/// where the two together do not). The chains are independent and each
/// reads its own words in its own order, so the order of the loops does
/// not change any result.
#[inline(always)]
fn negative<F: Real>(
    p: &Params<'_, F>,
    rngs: &mut [ChainRng],
    hidden: &mut [F],
    v_neg: &mut [F],
    rows: usize,
    st: &mut Stats<F>,
    sc: &mut Scratch<F>,
) -> f64 {
    let (nv, nh) = (p.nv, p.nh);
    let units = p.sweeps * (nv + nh);
    for (rng, words) in rngs.iter_mut().zip(sc.words.chunks_exact_mut(units)) {
        rng.fill(words);
    }
    let mut f_neg = 0.0;
    for s in 0..p.sweeps {
        // v ~ p(v | h), every chain
        for (q, (v, h)) in v_neg
            .chunks_exact_mut(nv)
            .zip(hidden.chunks_exact(nh))
            .enumerate()
        {
            let wv = &sc.words[q * units + s * (nv + nh)..][..nv];
            let n_on = active(h, &mut sc.on_h);
            add_rows(p.b, p.wt, &sc.on_h[..n_on], None, v);
            let e = &mut sc.e[..nv];
            for (e, &x) in e.iter_mut().zip(&*v) {
                *e = weight_of(x);
            }
            // zipped, so the loop has no bounds checks and vectorises
            for ((x, &e), &u) in v.iter_mut().zip(&*e).zip(wv) {
                *x = bernoulli(*x, e, u);
            }
        }
        // mean hiddens of v, then h ~ p(h | v), every chain
        for (q, (v, h)) in v_neg
            .chunks_exact(nv)
            .zip(hidden.chunks_exact_mut(nh))
            .enumerate()
        {
            let wh = &sc.words[q * units + s * (nv + nh) + nv..][..nh];
            let k = active(v, &mut sc.on_v);
            let (x, e, hm) = (&mut sc.x[..nh], &mut sc.e[..nh], st.hidden_row(rows + q));
            let f = layer_up(&sc.on_v[..k], None, p.w, p.c, p.b, x, e, hm);
            if s + 1 == p.sweeps {
                f_neg += f;
                st.sub_chain(q, &sc.on_v[..k]);
            }
            for (((h, &x), &e), &u) in h.iter_mut().zip(&*x).zip(&*e).zip(wh) {
                *h = bernoulli(x, e, u);
            }
        }
    }
    f_neg
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

    /// The update and loss of one step in `F`, recomputed naively in f64
    /// from the negatives the step drew:
    /// W' - W = lr/B (V^T sigma(c + V W) - V-^T sigma(c + V- W)).
    /// Tolerances: f64 agrees to rounding (1e-13 on the parameters, 1e-10
    /// relative on the loss). In f32 (against the f32-rounded start) the
    /// inputs c + v W, sums of up to 80 terms of size 0.4, can be off by
    /// some 2e-6 when their roundings add up, a sigmoid by a quarter of
    /// that, and the update adds up to 12 of them times lr/B <= 0.1: 1e-5
    /// on the parameters, and 1e-5 relative on the loss, whose free
    /// energies sum some 80 terms in f32. The errors seen are about 1e-8;
    /// a wrong factor anywhere shows at 1e-3 or more.
    fn check_step<F: Real>(nv: usize, nh: usize, rows: usize, chains: usize, binary: bool, seed: u64) {
        let single = std::mem::size_of::<F>() == 4;
        let (tol, loss_tol) = if single { (1e-5, 1e-5) } else { (1e-13, 1e-10) };
        let rbm = random_rbm(nv, nh, seed);
        // the f32 run starts from the rounded parameters, and so does the reference
        let rbm = if single {
            let r = |v: &[f64]| v.iter().map(|&x| x as f32 as f64).collect::<Vec<f64>>();
            Rbm::new(
                nv,
                nh,
                r(rbm.weights()),
                r(rbm.visible_bias()),
                r(rbm.hidden_bias()),
            )
            .unwrap()
        } else {
            rbm
        };
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
        let mut pcd = RbmPcd::<F>::new(
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
        let vn = to_f64(&pcd.v_neg);
        let hidden_input = |v: &[f64], j: usize| {
            rbm.hidden_bias()[j] + (0..nv).map(|i| v[i] * rbm.weights()[i * nh + j]).sum::<f64>()
        };
        let (w1, b1, c1) = pcd.params();
        let (w1, b1, c1) = (to_f64(w1), to_f64(b1), to_f64(c1));
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
                    (w1[i * nh + j] - want).abs() < tol,
                    "W[{i}][{j}]: {} vs {want}",
                    w1[i * nh + j]
                );
                sq += (pos - neg) * (pos - neg);
            }
            let d: f64 = (0..rows).map(|q| batch[q * nv + i]).sum::<f64>()
                - (0..chains).map(|q| vn[q * nv + i]).sum::<f64>();
            assert!((b1[i] - (rbm.visible_bias()[i] + scale * d)).abs() < tol);
            sq += d * d;
        }
        for j in 0..nh {
            let pos: f64 = (0..rows)
                .map(|q| sigmoid(hidden_input(&batch[q * nv..(q + 1) * nv], j)))
                .sum();
            let neg: f64 = (0..chains)
                .map(|q| sigmoid(hidden_input(&vn[q * nv..(q + 1) * nv], j)))
                .sum();
            assert!((c1[j] - (rbm.hidden_bias()[j] + scale * (pos - neg))).abs() < tol);
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
            (loss - (f_pos - f_neg)).abs() < loss_tol * (1.0 + f_pos.abs() + f_neg.abs()),
            "loss {loss} vs {}",
            f_pos - f_neg
        );
        let norm = sq.sqrt() / rows as f64;
        assert!((pcd.last_grad_norm() - norm).abs() < loss_tol * (1.0 + norm));
        assert!(vn.iter().all(|&v| v == 0.0 || v == 1.0));
        // W^T follows W
        let t = pcd.rbm();
        assert_eq!(t.weights_t(), &to_f64(&pcd.wt)[..]);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(24))]

        /// Sizes off the 32-column blocks and the 64-unit masks included.
        #[test]
        fn step_matches_the_naive_update(nv in 1usize..80, nh in 1usize..70, rows in 1usize..12, chains in 1usize..6, binary: bool, seed in 0u64..1000) {
            check_step::<f64>(nv, nh, rows, chains, binary, seed);
        }

        #[test]
        fn f32_step_matches_the_naive_update(nv in 1usize..80, nh in 1usize..70, rows in 1usize..12, chains in 1usize..6, binary: bool, seed in 0u64..1000) {
            check_step::<f32>(nv, nh, rows, chains, binary, seed);
        }
    }

    #[test]
    fn chains_are_independent_of_each_other_and_resume_exactly() {
        resumes_exactly::<f64>();
        resumes_exactly::<f32>();
    }

    /// A copy rebuilt from the parameters and chains continues bit for bit.
    fn resumes_exactly<F: Real>() {
        let rbm = random_rbm(20, 12, 3);
        let batch: Vec<f64> = (0..5 * 20).map(|k| ((k * 7) % 3 == 0) as u8 as f64).collect();
        let cfg = RbmPcdConfig {
            lr: 0.05,
            chains: 4,
            sweeps: 1,
            seed: 9,
        };
        let mut a = RbmPcd::<F>::new(&rbm, &cfg).unwrap();
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
        let mut b = RbmPcd::<F>::new(&rbm, &cfg).unwrap();
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
        assert!(b.set_params(&[F::one()], &saved.1, &saved.2).is_err());
    }

    #[test]
    fn a_non_finite_step_leaves_the_parameters_alone() {
        let rbm = random_rbm(6, 4, 1);
        let mut pcd = RbmPcd::<f64>::new(
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
        // an lr that f32 cannot hold is refused there
        for lr in [1e39, 1e-50] {
            let cfg = RbmPcdConfig {
                lr,
                chains: 2,
                sweeps: 1,
                seed: 0,
            };
            assert!(RbmPcd::<f64>::new(&rbm, &cfg).is_ok());
            let e = RbmPcd::<f32>::new(&rbm, &cfg).unwrap_err().to_string();
            assert!(e.contains("lr") && e.contains("f32"), "{e}");
        }
        assert!(RbmPcd::<f64>::new(
            &rbm,
            &RbmPcdConfig {
                lr: 0.0,
                chains: 2,
                sweeps: 1,
                seed: 0
            }
        )
        .is_err());
        assert!(RbmPcd::<f64>::new(
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
