//! Gibbs samplers for binary models.

use crate::chains::{ChunkMut, Scratch};
use crate::error::{Result, SamplerError};
use crate::kernel::Kernel;
use crate::target::{StateSpace, Target};
use ebm_core::energies::Rbm;
use ebm_core::fast_exp::sigmoid_in_place;
use ebm_core::math::sigmoid;
use ebm_core::{BinaryEnergy, ChainRng};
use rand::RngCore;
use serde::{Deserialize, Serialize};

/// True with probability `p`, from one 32-bit draw (resolution 2^-32).
#[inline]
pub(crate) fn bernoulli(rng: &mut ChainRng, p: f64) -> bool {
    (rng.next_u32() as f64) < p * 4_294_967_296.0
}

/// Which Gibbs scan [`Gibbs`] runs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GibbsScan {
    /// Block Gibbs when the model is an RBM ([`BinaryEnergy::rbm`]),
    /// single-site otherwise.
    #[default]
    Auto,
    /// Block Gibbs h | v, then v | h (RBMs only).
    Block,
    /// Single-site Gibbs in the model's sweep order
    /// ([`BinaryEnergy::sweep_order`]).
    Site,
}

/// Gibbs sampling for binary models, one sweep per step.
///
/// * Block (RBMs): h ~ p(h | v), then v ~ p(v | h), with
///   p(h_j = 1 | v) = sigmoid(c_j + (v^T W)_j) and
///   p(v_i = 1 | h) = sigmoid(b_i + (W h)_i). Leaves p(v) ∝ exp(-F(v))
///   invariant. The products v^T W and W h exploit binary states: they are
///   sums of the rows (columns) of W whose unit is on.
/// * Single-site (any [`BinaryEnergy`]): visit the units in the model's
///   sweep order (the checkerboard for an Ising lattice) and set each to
///   its other value with probability sigmoid(-(E(x') - E(x))), the exact
///   conditional.
///
/// Every unit's draw is one 32-bit word of its chain's stream.
///
/// ```
/// use ebm_samplers::{driver::{run_binary, RunConfig}, gibbs::Gibbs};
/// use ebm_core::energies::Ising;
/// let m = Ising::new(4, 4, 0.3, 0.0, 1.0, true).unwrap();
/// let out = run_binary(&mut Gibbs::default(), &m, 16, 50, 200, 1, 3).unwrap();
/// assert!(out.mean().iter().all(|s| s.abs() < 0.5));
/// ```
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Gibbs {
    /// The scan.
    pub scan: GibbsScan,
}

impl Gibbs {
    /// Block Gibbs (RBMs).
    pub fn block() -> Self {
        Self {
            scan: GibbsScan::Block,
        }
    }

    /// Single-site Gibbs in the model's sweep order.
    pub fn site() -> Self {
        Self {
            scan: GibbsScan::Site,
        }
    }

    /// The block structure to use on `model`, or `None` for single-site.
    fn block_of<'a>(&self, model: &'a dyn BinaryEnergy) -> Option<&'a Rbm> {
        match self.scan {
            GibbsScan::Site => None,
            GibbsScan::Auto | GibbsScan::Block => model.rbm(),
        }
    }
}

/// Gibbs's work buffers for one chunk: the hidden units and the two
/// layers' inputs (block), or the sweep order (single-site).
#[derive(Default)]
struct GibbsScratch {
    h: Vec<f64>,
    act_h: Vec<f64>,
    act_v: Vec<f64>,
    order: Vec<usize>,
}

impl Kernel for Gibbs {
    fn name(&self) -> &'static str {
        "gibbs"
    }

    fn settings(&self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or(serde_json::Value::Null)
    }

    fn space(&self) -> StateSpace {
        StateSpace::Binary
    }

    fn check(&self, target: Target<'_>) -> Result<()> {
        let Some(model) = target.binary() else {
            return Err(SamplerError::Unsupported(
                "Gibbs needs a binary model (rbm, ising); this one is continuous: use ula, mala or hmc"
                    .into(),
            ));
        };
        if self.scan == GibbsScan::Block && model.rbm().is_none() {
            return Err(SamplerError::Unsupported(
                "block Gibbs needs an RBM (a bipartite model); use the site scan".into(),
            ));
        }
        Ok(())
    }

    fn step_chunk(&self, target: Target<'_>, c: &mut ChunkMut<'_>, scratch: &mut Scratch) {
        let Some(model) = target.binary() else { return };
        let s = scratch.get(GibbsScratch::default);
        match self.block_of(model) {
            Some(rbm) => {
                let (nv, nh) = (rbm.n_visible(), rbm.n_hidden());
                s.h.resize(nh, 0.0);
                s.act_h.resize(nh, 0.0);
                s.act_v.resize(nv, 0.0);
                for (v, rng) in c.x.chunks_exact_mut(nv).zip(c.rngs.iter_mut()) {
                    block_sweep(rbm, v, &mut s.h, &mut s.act_h, &mut s.act_v, rng);
                }
            }
            None => {
                model.sweep_order(&mut s.order);
                for (x, rng) in c.x.chunks_exact_mut(c.d).zip(c.rngs.iter_mut()) {
                    site_sweep(model, 1.0, &s.order, x, rng);
                }
            }
        }
    }
}

/// One single-site sweep of one chain of a binary model at inverse
/// temperature `beta` (p ∝ exp(-beta E)): each unit of `order` in turn is
/// set to its other value with probability sigmoid(-beta (E(x') - E(x))),
/// its exact conditional, by one 32-bit word of `rng`.
pub(crate) fn site_sweep<M: BinaryEnergy + ?Sized>(
    model: &M,
    beta: f64,
    order: &[usize],
    x: &mut [f64],
    rng: &mut ChainRng,
) {
    let (lo, hi) = model.states();
    for &i in order {
        if bernoulli(rng, sigmoid(-(beta * model.flip_delta(x, i)))) {
            x[i] = if x[i] == lo { hi } else { lo };
        }
    }
}

/// One block-Gibbs sweep of a single chain `v` of an RBM:
/// h_j ~ sigmoid(c_j + (v^T W)_j), then v_i ~ sigmoid(b_i + (W h)_i), each
/// unit by one 32-bit word of `rng`. v and h are 0/1, so v^T W and W h
/// are sums of the rows (columns) of W whose unit is on. `h`, `act_h`
/// (v^T W) and `act_v` (W h) are scratch.
fn block_sweep(
    rbm: &Rbm,
    v: &mut [f64],
    h: &mut [f64],
    act_h: &mut [f64],
    act_v: &mut [f64],
    rng: &mut ChainRng,
) {
    let (nv, nh) = (rbm.n_visible(), rbm.n_hidden());
    let (w, wt) = (rbm.weights(), rbm.weights_t());
    let (b, c) = (rbm.visible_bias(), rbm.hidden_bias());
    act_h.iter_mut().for_each(|a| *a = 0.0);
    for i in 0..nv {
        if v[i] != 0.0 {
            for (a, wv) in act_h.iter_mut().zip(&w[i * nh..(i + 1) * nh]) {
                *a += wv;
            }
        }
    }
    // the conditionals of a whole layer first (their exponentials
    // vectorise), then the draws in unit order
    for j in 0..nh {
        h[j] = c[j] + act_h[j];
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
    for i in 0..nv {
        v[i] = b[i] + act_v[i];
    }
    sigmoid_in_place(v);
    for vi in v.iter_mut() {
        *vi = bernoulli(rng, *vi) as u8 as f64;
    }
}
