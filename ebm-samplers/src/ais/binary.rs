//! AIS for binary models by single-site Gibbs sweeps.

use super::{no_progress, summarize, AisResult, ProgressFn};
use crate::chains::CHUNK;
use crate::error::{invalid, Result};
use crate::gibbs::{draw_unit, site_sweep};
use ebm_core::chain_rngs;
use ebm_core::simd::dispatch;
use rayon::prelude::*;
use std::sync::atomic::{AtomicUsize, Ordering};

/// AIS for any binary model along p_beta ∝ exp(-beta E(x)) from the uniform
/// distribution (log Z_0 = D log 2), with `sweeps` single-site Gibbs sweeps
/// at every intermediate temperature. (For RBMs [`super::ais_rbm`] is faster: it
/// sums the hidden units out.)
pub fn ais_binary<M: ebm_core::BinaryEnergy + ?Sized>(
    model: &M,
    betas: &[f64],
    n_chains: usize,
    sweeps: usize,
    seed: u64,
) -> Result<AisResult> {
    ais_binary_with_progress(model, betas, n_chains, sweeps, seed, &no_progress)
}

/// [`ais_binary`] reporting (chains done, chains) to `progress`.
pub fn ais_binary_with_progress<M: ebm_core::BinaryEnergy + ?Sized>(
    model: &M,
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
    let d = model.dim();
    let (lo, hi) = model.states();
    let log_z0 = d as f64 * std::f64::consts::LN_2;
    let done = AtomicUsize::new(0);
    let mut rngs = chain_rngs(seed, n_chains);
    let mut log_w = vec![0.0; n_chains];
    log_w
        .par_chunks_mut(CHUNK)
        .zip(rngs.par_chunks_mut(CHUNK))
        .for_each(|(lw, rs)| {
            let mut x = vec![0.0; d];
            let order: Vec<usize> = (0..d).collect();
            for (w, rng) in lw.iter_mut().zip(rs.iter_mut()) {
                *w = dispatch(
                    #[inline(always)]
                    || {
                        for v in x.iter_mut() {
                            *v = if draw_unit(rng, 0.0) { hi } else { lo };
                        }
                        let mut acc = 0.0;
                        for k in 1..betas.len() {
                            acc -= (betas[k] - betas[k - 1]) * model.energy(&x);
                            if k + 1 < betas.len() {
                                // single-site Gibbs at beta_k, in natural order
                                for _ in 0..sweeps {
                                    site_sweep(model, betas[k], &order, &mut x, rng);
                                }
                            }
                        }
                        acc
                    },
                );
                progress(done.fetch_add(1, Ordering::Relaxed) + 1, n_chains);
            }
        });
    Ok(summarize(log_w, log_z0))
}
