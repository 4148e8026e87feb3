//! AIS for binary models by single-site Gibbs sweeps, and for binary and
//! categorical models with any invariant kernel.

use super::lane_groups::{anneal_in_groups, LaneAnneal};
use super::{no_progress, summarize, AisResult, ProgressFn};
use crate::chains::{Chains, CHUNK};
use crate::driver::uniform_points;
use crate::error::{invalid, Result};
use crate::gibbs::{draw_unit, site_sweep};
use crate::kernel::Kernel;
use crate::lanes::LANES;
use crate::pairwise_lanes::PairwiseLanes;
use crate::target::Target;
use ebm_compose::Tempered;
use ebm_core::energies::Pairwise;
use ebm_core::simd::dispatch;
use ebm_core::{BinaryEnergy, ChainRng, Shard};
use rayon::prelude::*;
use std::ops::Range;
use std::sync::atomic::{AtomicUsize, Ordering};

/// AIS for any binary model along p_beta ∝ exp(-beta E(x)) from the uniform
/// distribution (log Z_0 = D log 2), with `sweeps` single-site Gibbs sweeps
/// in the model's sweep order ([`BinaryEnergy::sweep_order`], the
/// checkerboard of a lattice) at every intermediate temperature.
///
/// Chain c starts from one word per unit of its stream, then draws one
/// word per site visit; its weight is log w = -sum_k (beta_k -
/// beta_{k-1}) E(x_{k-1}). Pairwise models ([`BinaryEnergy::pairwise`]:
/// Ising lattices, Boltzmann machines) run sixteen chains at a time in SIMD
/// lanes ([`crate::pairwise_lanes`]) with the same bits as one at a time.
/// (For RBMs [`super::ais_rbm`] is faster: it sums the hidden units out.)
pub fn ais_binary<M: BinaryEnergy + ?Sized>(
    model: &M,
    betas: &[f64],
    n_chains: usize,
    sweeps: usize,
    seed: impl Into<Shard>,
) -> Result<AisResult> {
    ais_binary_with_progress(model, betas, n_chains, sweeps, seed, &no_progress)
}

/// [`ais_binary`] reporting (chains done, chains) to `progress`.
pub fn ais_binary_with_progress<M: BinaryEnergy + ?Sized>(
    model: &M,
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
    let d = model.dim();
    let log_z0 = d as f64 * std::f64::consts::LN_2;
    let mut order = Vec::new();
    model.sweep_order(&mut order);
    let mut rngs = seed.into().chain_rngs(n_chains);
    let mut log_w = vec![0.0; n_chains];
    match model.pairwise() {
        Some(pw) => {
            let start = || PairwiseAnneal {
                model: pw,
                betas,
                sweeps,
                order: &order,
                lanes: PairwiseLanes::new(pw.n()),
                acc: [0.0; LANES],
            };
            anneal_in_groups(&mut log_w, &mut rngs, betas.len(), start, progress);
        }
        None => {
            let done = AtomicUsize::new(0);
            let tick = |n: usize| progress(done.fetch_add(n, Ordering::Relaxed) + n, n_chains);
            log_w
                .par_chunks_mut(CHUNK)
                .zip(rngs.par_chunks_mut(CHUNK))
                .for_each(|(lw, rs)| {
                    let mut x = vec![0.0; d];
                    for (w, rng) in lw.iter_mut().zip(rs.iter_mut()) {
                        *w = dispatch(
                            #[inline(always)]
                            || anneal_one(model, betas, sweeps, &order, &mut x, rng),
                        );
                        tick(1);
                    }
                });
        }
    }
    Ok(summarize(log_w, log_z0))
}

/// AIS for any binary or categorical model along p_beta ∝ exp(-beta E(x))
/// from the uniform distribution on its states (log Z_0 = D log 2, or
/// sum_i log q_i), with `steps` transitions of any kernel that leaves
/// its target exactly invariant (Gibbs, Gibbs-with-gradients, one of
/// another crate) at every intermediate temperature, on the tempered
/// model beta_k E. Each chain starts from a uniform draw of its stream;
/// log w = -sum_k (beta_k - beta_{k-1}) E(x_{k-1}). Reports (temperatures
/// done, temperatures) to `progress`. (For Gibbs sweeps on a binary
/// model [`ais_binary`] is the faster form.)
pub fn ais_discrete<K: Kernel + ?Sized>(
    target: Target<'_>,
    kernel: &K,
    betas: &[f64],
    n_chains: usize,
    steps: usize,
    seed: impl Into<Shard>,
    progress: ProgressFn<'_>,
) -> Result<AisResult> {
    super::check_betas(betas)?;
    if n_chains == 0 {
        return Err(invalid("chains", "must be at least 1"));
    }
    let d = target.dim();
    let log_z0 = target
        .log_state_count()
        .ok_or_else(|| invalid("model", "discrete AIS needs a binary or categorical model"))?;
    // the kernel must move chains on the tempered models, not only on the
    // model itself
    let half = |e: ebm_core::CoreError| invalid("betas", e.to_string());
    let tempered = |e: crate::error::SamplerError| {
        invalid(
            "sampler",
            format!("AIS moves chains on the tempered models beta E: {e}"),
        )
    };
    match target {
        Target::Binary(m) => kernel
            .check(Target::Binary(&Tempered::new(m, 0.5).map_err(half)?))
            .map_err(tempered)?,
        Target::Categorical(m) => kernel
            .check(Target::Categorical(&Tempered::new(m, 0.5).map_err(half)?))
            .map_err(tempered)?,
        Target::Continuous(_) => {}
    }
    let mut rngs = seed.into().chain_rngs(n_chains);
    let x0 = uniform_points(target, &mut rngs)?;
    let mut chains = Chains::for_target(target, x0)?;
    let mut log_w = vec![0.0; n_chains];
    let mut e = vec![0.0; n_chains];
    for k in 1..betas.len() {
        let db = betas[k] - betas[k - 1];
        chains
            .x
            .as_slice()
            .par_chunks(CHUNK * d.max(1))
            .zip(e.par_chunks_mut(CHUNK))
            .for_each(|(x, out)| target.discrete_energy_batch(x, out));
        for (w, ei) in log_w.iter_mut().zip(&e) {
            let inc = -db * ei;
            *w += if inc.is_nan() { f64::NEG_INFINITY } else { inc };
        }
        if k + 1 < betas.len() && steps > 0 {
            let beta = betas[k];
            let bad = |e: ebm_core::CoreError| invalid("betas", e.to_string());
            match target {
                Target::Binary(m) => {
                    let t = Tempered::new(m, beta).map_err(bad)?;
                    chains.run_kernel(kernel, Target::Binary(&t), &mut rngs, steps, None);
                }
                Target::Categorical(m) => {
                    let t = Tempered::new(m, beta).map_err(bad)?;
                    chains.run_kernel(kernel, Target::Categorical(&t), &mut rngs, steps, None);
                }
                Target::Continuous(_) => {}
            }
        }
        progress(k, betas.len() - 1);
    }
    Ok(summarize(log_w, log_z0))
}

/// One chain's log weight: a uniform start (one word per unit), then at
/// each temperature the weight increment and `sweeps` sweeps.
#[inline(always)]
fn anneal_one<M: BinaryEnergy + ?Sized>(
    model: &M,
    betas: &[f64],
    sweeps: usize,
    order: &[usize],
    x: &mut [f64],
    rng: &mut ChainRng,
) -> f64 {
    let (lo, hi) = model.states();
    for v in x.iter_mut() {
        *v = if draw_unit(rng, 0.0) { hi } else { lo };
    }
    let mut acc = 0.0;
    for k in 1..betas.len() {
        acc -= (betas[k] - betas[k - 1]) * model.energy(x);
        if k + 1 < betas.len() {
            for _ in 0..sweeps {
                site_sweep(model, betas[k], order, x, rng);
            }
        }
    }
    acc
}

/// [`anneal_one`] for a group of up to [`LANES`] chains of a pairwise
/// model in lanes, the same arithmetic in every lane.
struct PairwiseAnneal<'a> {
    model: &'a Pairwise,
    betas: &'a [f64],
    sweeps: usize,
    order: &'a [usize],
    lanes: PairwiseLanes,
    acc: [f64; LANES],
}

impl LaneAnneal for PairwiseAnneal<'_> {
    /// At each temperature k the weight increment -(beta_k - beta_{k-1})
    /// E(x), then `sweeps` sweeps unless it is the last; the first
    /// temperature starts the chains (one word per unit).
    #[inline(always)]
    fn anneal(&mut self, rngs: &mut [ChainRng], ks: Range<usize>) {
        let (model, betas) = (self.model, self.betas);
        if ks.start == 1 {
            self.lanes.draw_uniform(model, rngs);
        }
        for k in ks {
            let e = self.lanes.energies(model);
            let step = betas[k] - betas[k - 1];
            for l in 0..LANES {
                self.acc[l] -= step * e[l];
            }
            if k + 1 < betas.len() {
                for _ in 0..self.sweeps {
                    self.lanes.sweep(model, betas[k], self.order, rngs);
                }
            }
        }
    }

    fn log_weights(&self) -> &[f64; LANES] {
        &self.acc
    }
}
