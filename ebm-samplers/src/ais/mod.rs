//! Annealed importance sampling (Neal 2001) for log Z.
//!
//! Particles start from a tractable base p_0 with known log Z_0 and move
//! through p_{beta_k} ∝ p_0^{1 - beta_k} p_1^{beta_k}, 0 = beta_0 < ... <
//! beta_K = 1. Each collects log w += log f_{beta_k}(x) - log f_{beta_{k-1}}(x)
//! before a transition that leaves p_{beta_k} invariant. Then
//! Z_1 / Z_0 = E\[w\], so
//!
//! log Z = log Z_0 + log mean_i w_i,
//! SE(log Z) = std(w) / (sqrt(N) mean(w))  (delta method),
//! ESS = (sum w)^2 / sum w^2,
//!
//! all computed from log-weights shifted by their maximum.

use crate::chains::{Chains, CHUNK};
use crate::error::{invalid, Result};
use crate::kernel::Kernel;
use crate::target::Target;
use ebm_compose::Path;
use ebm_core::math::LogSumExp;
use ebm_core::{Energy, ExactSample, Points, Shard};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

mod binary;
pub mod bounds;
mod lane_groups;
mod rbm;
pub mod smc;
mod waste_free;

pub use binary::{ais_binary, ais_binary_with_progress, ais_discrete};
pub use rbm::{ais_rbm, ais_rbm_sweeps_with_progress, ais_rbm_with_progress, RbmBase};

/// A progress callback for long AIS runs: called with (work done, total
/// work), possibly from several threads. [`no_progress`] ignores it.
pub type ProgressFn<'a> = &'a (dyn Fn(usize, usize) + Sync);

/// The callback that reports nothing.
pub fn no_progress(_: usize, _: usize) {}

/// Temperature schedules from beta = 0 to beta = 1 with `n` temperatures.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Schedule {
    /// beta_k = k / (n - 1).
    Linear,
    /// beta_0 = 0, then n - 1 values spaced geometrically from 1e-4 to 1.
    Geometric,
    /// Sigmoid spacing (Grosse et al. 2015), dense at both ends:
    /// beta_k ∝ sigmoid(4 (2k/(n-1) - 1)), rescaled to [0, 1].
    Sigmoid,
}

impl Schedule {
    /// The `n >= 2` temperatures.
    pub fn betas(self, n: usize) -> Result<Vec<f64>> {
        if n < 2 {
            return Err(invalid("temps", format!("need at least 2 temperatures, got {n}")));
        }
        let last = (n - 1) as f64;
        let mut b: Vec<f64> = match self {
            Schedule::Linear => (0..n).map(|k| k as f64 / last).collect(),
            Schedule::Geometric => std::iter::once(0.0)
                .chain((0..n - 1).map(|k| {
                    let t = if n > 2 { k as f64 / (n - 2) as f64 } else { 1.0 };
                    (1e-4f64).powf(1.0 - t)
                }))
                .collect(),
            Schedule::Sigmoid => {
                let s = |k: usize| ebm_core::math::sigmoid(4.0 * (2.0 * k as f64 / last - 1.0));
                let (s0, s1) = (s(0), s(n - 1));
                (0..n).map(|k| (s(k) - s0) / (s1 - s0)).collect()
            }
        };
        b[0] = 0.0;
        b[n - 1] = 1.0;
        Ok(b)
    }
}

/// Check a user-given schedule: starts at 0, ends at 1, non-decreasing,
/// finite.
pub fn check_betas(betas: &[f64]) -> Result<()> {
    if betas.len() < 2 || betas[0] != 0.0 || betas[betas.len() - 1] != 1.0 {
        return Err(invalid(
            "betas",
            "must start at 0, end at 1 and have at least 2 entries",
        ));
    }
    if betas
        .windows(2)
        .any(|w| w[1].is_nan() || w[1] < w[0] || !w[1].is_finite())
    {
        return Err(invalid("betas", "must be finite and non-decreasing"));
    }
    Ok(())
}

/// The outcome of an AIS run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AisResult {
    /// log Z estimate, log Z_0 + log mean w.
    pub log_z: f64,
    /// Standard error of `log_z` (delta method).
    pub stderr: f64,
    /// log w of each particle.
    pub log_weights: Vec<f64>,
    /// Effective sample size of the weights, (sum w)^2 / sum w^2.
    pub ess: f64,
    /// log Z_0 of the base.
    pub log_z_base: f64,
}

impl AisResult {
    /// One line per problem a user should know of: a weight ESS under 10%
    /// of the chains, where the estimate rests on a few of them and its
    /// standard error is not to be trusted (the fix: more temperatures,
    /// an adaptive schedule, [`smc`]).
    ///
    /// ```
    /// // one particle of 20 carries the weight: ESS 1
    /// let mut log_w = vec![-30.0; 20];
    /// log_w[0] = 0.0;
    /// assert_eq!(ebm_samplers::ais::summarize(log_w, 0.0).warnings().len(), 1);
    /// assert!(ebm_samplers::ais::summarize(vec![0.0; 20], 0.0).warnings().is_empty());
    /// ```
    pub fn warnings(&self) -> Vec<String> {
        let n = self.log_weights.len();
        if self.ess < 0.1 * n as f64 {
            vec![format!(
                "the weight ESS is {:.1} of {n} chains: the estimate rests on a few of them (more temperatures, --adaptive or --method smc)",
                self.ess
            )]
        } else {
            Vec::new()
        }
    }
}

/// Summarise log-weights into log Z, its standard error and the ESS.
pub fn summarize(log_weights: Vec<f64>, log_z_base: f64) -> AisResult {
    let n = log_weights.len() as f64;
    let mut lse = LogSumExp::new();
    let mx = log_weights.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    for &l in &log_weights {
        lse.add(l);
    }
    let log_mean = lse.value() - n.ln();
    // Normalised weights u_i = w_i / max w.
    let u: Vec<f64> = log_weights.iter().map(|l| (l - mx).exp()).collect();
    let mean_u = u.iter().sum::<f64>() / n;
    let var_u = if n > 1.0 {
        u.iter().map(|v| (v - mean_u).powi(2)).sum::<f64>() / (n - 1.0)
    } else {
        f64::NAN
    };
    let stderr = var_u.sqrt() / (n.sqrt() * mean_u);
    let ess = u.iter().sum::<f64>().powi(2) / u.iter().map(|v| v * v).sum::<f64>();
    AisResult {
        log_z: log_z_base + log_mean,
        stderr,
        log_weights,
        ess,
        log_z_base,
    }
}

/// AIS for a continuous `target` along the geometric path from `base`
/// (exactly sampled, with exact log Z), with `steps` transitions of
/// `kernel` at every intermediate temperature.
///
/// ```
/// use ebm_samplers::{ais::{ais, Schedule}, Mala};
/// use ebm_core::energies::{DiagGaussian, Gaussian};
/// let target = Gaussian::from_covariance(vec![1.0, 0.0], &[1.0, 0.3, 0.3, 0.5]).unwrap();
/// let base = DiagGaussian::new(vec![0.0, 0.0], vec![2.0, 2.0]).unwrap();
/// let betas = Schedule::Linear.betas(100).unwrap();
/// let r = ais(&target, &base, &Mala::new(0.3).unwrap(), &betas, 200, 2, 1).unwrap();
/// let exact = ebm_core::Energy::log_partition(&target).unwrap();
/// assert!((r.log_z - exact).abs() < 4.0 * r.stderr + 0.02);
/// ```
pub fn ais<K, B, T>(
    target: &T,
    base: &B,
    kernel: &K,
    betas: &[f64],
    n_chains: usize,
    steps: usize,
    seed: impl Into<Shard>,
) -> Result<AisResult>
where
    K: Kernel + ?Sized,
    B: Energy + ExactSample,
    T: Energy + ?Sized,
{
    ais_with_progress(target, base, kernel, betas, n_chains, steps, seed, &no_progress)
}

/// [`ais`] reporting (temperatures done, temperatures) to `progress`.
pub fn ais_with_progress<K, B, T>(
    target: &T,
    base: &B,
    kernel: &K,
    betas: &[f64],
    n_chains: usize,
    steps: usize,
    seed: impl Into<Shard>,
    progress: ProgressFn<'_>,
) -> Result<AisResult>
where
    K: Kernel + ?Sized,
    B: Energy + ExactSample,
    T: Energy + ?Sized,
{
    check_betas(betas)?;
    if n_chains == 0 {
        return Err(invalid("chains", "must be at least 1"));
    }
    let log_z0 = base
        .log_partition()
        .ok_or_else(|| invalid("base", "the base distribution must have a known log Z"))?;
    let path = Path::new(base, target)?;
    // the kernel must move chains on the path's intermediate targets, not
    // only on the model (a Gaussian-Bernoulli RBM's block Gibbs does not)
    kernel.check(Target::Continuous(&path.at(0.5))).map_err(|e| {
        invalid(
            "sampler",
            format!("AIS moves chains on the path between base and model: {e}"),
        )
    })?;
    let d = target.dim();
    let mut rngs = seed.into().chain_rngs(n_chains);
    let mut x0 = vec![0.0; n_chains * d];
    for (x, r) in x0.chunks_exact_mut(d).zip(rngs.iter_mut()) {
        base.sample_into(r, x);
    }
    let mut chains = Chains::new(&path.at(0.0), Points::from_vec(x0, d)?)?;
    let mut log_w = vec![0.0; n_chains];
    let mut e0 = vec![0.0; n_chains];
    let mut e1 = vec![0.0; n_chains];
    for k in 1..betas.len() {
        let db = betas[k] - betas[k - 1];
        let xs = chains.x.as_slice();
        xs.par_chunks(CHUNK * d)
            .zip(e0.par_chunks_mut(CHUNK))
            .zip(e1.par_chunks_mut(CHUNK))
            .for_each(|((x, a), b)| {
                base.energy_batch(x, a);
                target.energy_batch(x, b);
            });
        for i in 0..n_chains {
            let inc = -db * (e1[i] - e0[i]);
            log_w[i] += if inc.is_nan() { f64::NEG_INFINITY } else { inc };
        }
        if k + 1 < betas.len() && steps > 0 {
            let at = path.at(betas[k]);
            chains.refresh(&at);
            for _ in 0..steps {
                kernel.step(&at, &mut chains, &mut rngs);
            }
        }
        progress(k, betas.len() - 1);
    }
    Ok(summarize(log_w, log_z0))
}
