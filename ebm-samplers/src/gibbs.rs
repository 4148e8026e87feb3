//! Gibbs samplers for binary and categorical models.

use crate::chains::{ChunkMut, Scratch};
use crate::error::{Result, SamplerError};
use crate::kernel::Kernel;
use crate::lanes::LANES;
use crate::pairwise_lanes::PairwiseLanes;
use crate::rbm_block::RbmLanes;
use crate::softmax::{pick, unit_of_word, weights};
use crate::target::{StateSpace, Target};
use ebm_core::bernoulli::{bernoulli, weight_of};
use ebm_core::energies::{GbRbm, Rbm};
use ebm_core::normal;
use ebm_core::simd::dispatch;
use ebm_core::{BinaryEnergy, CategoricalEnergy, ChainRng, Energy};
use rand::RngCore;
use serde::{Deserialize, Serialize};

/// True with probability sigmoid(x), from one 32-bit word of `rng`
/// ([`ebm_core::bernoulli`]'s rule).
#[inline(always)]
pub(crate) fn draw_unit(rng: &mut ChainRng, x: f64) -> bool {
    bernoulli(x, weight_of(x), rng.next_u32()) == 1.0
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
///   invariant. This is the RBM block-Gibbs kernel
///   [`crate::rbm_block::RbmLanes`] at beta = 1, sixteen chains of the
///   chunk at a time in SIMD lanes.
/// * Single-site (any [`BinaryEnergy`]): visit the units in the model's
///   sweep order (the checkerboard for an Ising lattice) and set each to
///   its other value with probability sigmoid(-(E(x') - E(x))), the exact
///   conditional. Pairwise models ([`BinaryEnergy::pairwise`]: Ising
///   lattices, Boltzmann machines on any graph) run this sweep sixteen
///   chains at a time in SIMD lanes ([`crate::pairwise_lanes`]), with the
///   same bits as one chain at a time.
///
/// * Gaussian-Bernoulli RBMs ([`ebm_core::Energy::gb_rbm`], block scan):
///   h ~ p(h | v), then v ~ N(b + sigma (W h), sigma^2), per unit; the
///   chains' energies and gradients are the free energy's.
/// * Categorical models (site scan only): each site in the model's sweep
///   order drawn from its exact conditional, p(x_i = a | rest) ∝
///   exp(-(E(x with x_i = a) - E(x))), by inverse CDF.
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

/// Gibbs's work buffers for one chunk: the block kernel's lanes (block),
/// or the sweep order and, for pairwise models, the site kernel's lanes
/// (single-site).
#[derive(Default)]
struct GibbsScratch {
    lanes: Option<RbmLanes>,
    pairwise: Option<PairwiseLanes>,
    order: Vec<usize>,
    /// A categorical site's energy changes and weights.
    deltas: Vec<f64>,
    weights: Vec<f64>,
    /// A Gaussian-Bernoulli RBM's hidden inputs and states, and the
    /// visibles' normal draws (words, values).
    hidden: Vec<f64>,
    normal_words: Vec<u64>,
    normals: Vec<f64>,
}

impl Kernel for Gibbs {
    fn name(&self) -> &'static str {
        "gibbs"
    }

    fn settings(&self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or(serde_json::Value::Null)
    }

    fn spaces(&self) -> &'static [StateSpace] {
        &[
            StateSpace::Binary,
            StateSpace::Categorical,
            StateSpace::Continuous,
        ]
    }

    fn check(&self, target: Target<'_>) -> Result<()> {
        if let Target::Continuous(e) = target {
            return match (e.gb_rbm(), self.scan) {
                (Some(_), GibbsScan::Auto | GibbsScan::Block) => Ok(()),
                (Some(_), GibbsScan::Site) => Err(SamplerError::Unsupported(
                    "a Gaussian-Bernoulli RBM has real visibles: use the block scan".into(),
                )),
                (None, _) => Err(SamplerError::Unsupported(
                    "Gibbs on a continuous model needs a Gaussian-Bernoulli RBM (gb_rbm); otherwise use ula, mala, hmc or nuts"
                        .into(),
                )),
            };
        }
        if let Target::Categorical(_) = target {
            return match self.scan {
                GibbsScan::Block => Err(SamplerError::Unsupported(
                    "block Gibbs needs an RBM (a bipartite model); use the site scan".into(),
                )),
                _ => Ok(()),
            };
        }
        let Some(model) = target.binary() else {
            return Err(SamplerError::Unsupported(
                "Gibbs needs a binary or categorical model (rbm, ising, pairwise, potts, categorical); this one is continuous: use ula, mala, hmc or nuts"
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
        let s = scratch.get(GibbsScratch::default);
        if let Some(rbm) = target.energy().and_then(|e| e.gb_rbm()) {
            for (k, rng) in c.rngs.iter_mut().enumerate() {
                let r = k * c.d..(k + 1) * c.d;
                gb_rbm_sweep(rbm, &mut c.x[r.clone()], rng, s);
                c.energy[k] = rbm.energy_grad(&c.x[r.clone()], &mut c.grad[r]);
            }
            return;
        }
        if let Target::Categorical(model) = target {
            model.sweep_order(&mut s.order);
            let (order, deltas, w) = (&s.order, &mut s.deltas, &mut s.weights);
            for (x, rng) in c.x.chunks_exact_mut(c.d).zip(c.rngs.iter_mut()) {
                dispatch(
                    #[inline(always)]
                    || categorical_sweep(model, order, x, rng, deltas, w),
                );
            }
            return;
        }
        let Some(model) = target.binary() else { return };
        match self.block_of(model) {
            Some(rbm) => {
                let nv = rbm.n_visible();
                let lanes = s.lanes.get_or_insert_with(|| RbmLanes::new(nv, rbm.n_hidden()));
                for (x, rngs) in c.x.chunks_mut(LANES * nv).zip(c.rngs.chunks_mut(LANES)) {
                    dispatch(
                        #[inline(always)]
                        || {
                            lanes.load(rbm, x);
                            lanes.set_hidden_inputs(1.0, rbm.hidden_bias());
                            lanes.sweep(rbm, 1.0, rbm.visible_bias(), rngs);
                            lanes.store(nv, x);
                        },
                    );
                }
            }
            None => {
                model.sweep_order(&mut s.order);
                let order = &s.order;
                if let Some(pw) = model.pairwise() {
                    let lanes = s.pairwise.get_or_insert_with(|| PairwiseLanes::new(pw.n()));
                    for (x, rngs) in c.x.chunks_mut(LANES * c.d).zip(c.rngs.chunks_mut(LANES)) {
                        dispatch(
                            #[inline(always)]
                            || {
                                lanes.load(pw, x);
                                lanes.sweep(pw, 1.0, order, rngs);
                                lanes.store(pw, x);
                            },
                        );
                    }
                    return;
                }
                for (x, rng) in c.x.chunks_exact_mut(c.d).zip(c.rngs.iter_mut()) {
                    dispatch(
                        #[inline(always)]
                        || site_sweep(model, 1.0, order, x, rng),
                    );
                }
            }
        }
    }
}

/// One single-site sweep of one chain of a binary model at inverse
/// temperature `beta` (p ∝ exp(-beta E)): each unit of `order` in turn is
/// set to its other value with probability sigmoid(-beta (E(x') - E(x))),
/// its exact conditional, by one 32-bit word of `rng`. Call it inside
/// [`dispatch`].
#[inline(always)]
pub(crate) fn site_sweep<M: BinaryEnergy + ?Sized>(
    model: &M,
    beta: f64,
    order: &[usize],
    x: &mut [f64],
    rng: &mut ChainRng,
) {
    let (lo, hi) = model.states();
    for &i in order {
        if draw_unit(rng, -(beta * model.flip_delta(x, i))) {
            x[i] = if x[i] == lo { hi } else { lo };
        }
    }
}

/// One single-site sweep of one chain of a categorical model: each site
/// of `order` in turn drawn from its exact conditional,
/// p(x_i = a | rest) ∝ exp(-(E(x with x_i = a) - E(x))), by inverse CDF
/// with one 32-bit word of `rng` as the uniform. Call it inside
/// [`dispatch`].
#[inline(always)]
pub(crate) fn categorical_sweep(
    model: &dyn CategoricalEnergy,
    order: &[usize],
    x: &mut [f64],
    rng: &mut ChainRng,
    deltas: &mut Vec<f64>,
    w: &mut Vec<f64>,
) {
    for &i in order {
        deltas.resize(model.states(i), 0.0);
        model.site_deltas(x, i, deltas);
        let (_, log_sum) = weights(1.0, deltas, w);
        x[i] = pick(w, log_sum, unit_of_word(rng.next_u32())) as f64;
    }
}

/// One block-Gibbs sweep of one chain of a Gaussian-Bernoulli RBM: each
/// hidden unit from p(h_j = 1 | v) = sigmoid(c_j + sum_i (v_i / sigma_i)
/// w_ij) (one 32-bit word each, in order), then every visible from
/// N(b_i + sigma_i (W h)_i, sigma_i^2) (Box-Muller normals from the
/// stream's next 64-bit words). Leaves p(v) ∝ exp(-F(v)) invariant.
fn gb_rbm_sweep(rbm: &GbRbm, v: &mut [f64], rng: &mut ChainRng, s: &mut GibbsScratch) {
    let (nv, nh) = (rbm.n_visible(), rbm.n_hidden());
    s.hidden.resize(nh, 0.0);
    rbm.hidden_input(v, &mut s.hidden);
    for a in s.hidden.iter_mut() {
        *a = if draw_unit(rng, *a) { 1.0 } else { 0.0 };
    }
    rbm.visible_mean(&s.hidden, v);
    s.normal_words.clear();
    s.normal_words
        .extend((0..normal::words_for(nv)).map(|_| rng.next_u64()));
    s.normals.resize(s.normal_words.len(), 0.0);
    dispatch(
        #[inline(always)]
        || normal::box_muller(&s.normal_words, &mut s.normals),
    );
    for ((vi, z), sigma) in v.iter_mut().zip(&s.normals).zip(rbm.sigma()) {
        *vi += sigma * z;
    }
}
