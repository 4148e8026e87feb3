//! Adaptive annealing and sequential Monte Carlo for log Z: the next
//! temperature chosen so that the conditional ESS of the incremental
//! weights stays at a target (Zhou, Johansen and Aston 2016), the kernel's
//! step size adapted per temperature from its acceptance, and, for SMC,
//! systematic resampling whenever the weights' ESS falls below a share of
//! the particles.
//!
//! Particles move along p_beta ∝ exp(-E_0 - beta V), V = E - E_0, from an
//! exactly drawn reference (a base distribution with known log Z_0 for
//! continuous models, the uniform distribution for binary ones, the same
//! paths as [parallel tempering](crate::tempering)). From beta to beta' =
//! beta + delta each particle's log-weight grows by -delta V(x_i), and
//!
//! CESS(delta) = (sum_i W_i u_i)^2 / sum_i W_i u_i^2,  u_i = exp(-delta V_i),
//!
//! with W the normalised current weights, falls from 1 as delta grows:
//! delta is the one where it meets the target (bisection), or what is
//! left of the path. Resampling at beta adds log mean w to the running
//! estimate and sets every weight to 1, so
//!
//! log Z = log Z_0 + sum over resamplings of log mean w + log mean w_final,
//!
//! an estimate whose exponential is unbiased for Z on a schedule fixed in
//! advance. A schedule adapted to the very particles it weighs is not: on
//! a 2-D mixture it put log Z 0.026 too high with 100 particles (0.006 with
//! 1,000; 30 seeds each), about one of its own standard errors. So [`smc`]
//! adapts the schedule and the step sizes in a pilot run, then runs `runs`
//! independent runs on that fixed plan, whose Z it averages. Without
//! resampling this is AIS on the pilot's schedule, with the delta-method
//! standard error of [`super::summarize`] for one run; with resampling a
//! single run has no honest standard error of its own, and the error bar
//! is the runs' spread.

use super::summarize;
use super::waste_free::waste_free_move;
use crate::chains::Chains;
use crate::error::{invalid, Result};
use crate::independence::Independence;
use crate::kernel::{Kernel, StepStats};
use crate::mixture_fit::{fit_mixture, MixtureFit};
use crate::target::Target;
use crate::tempering::levels::{base_path, potentials, BasePath, LevelModel, Reference};
use ebm_core::math::log_sum_exp;
use ebm_core::{chain_rng, ChainRng, ExactSample, Points};
use rand::Rng;
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// Settings of [`smc`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SmcConfig {
    /// Particles per run.
    pub particles: usize,
    /// The conditional ESS each temperature step keeps, in (0, 1): the
    /// closer to 1, the more temperatures.
    pub target_cess: f64,
    /// Resample (systematically) when the weights' ESS falls below this
    /// share of the particles; `None`: never (AIS).
    pub resample_below: Option<f64>,
    /// Kernel transitions per temperature (at least 1).
    pub steps: usize,
    /// Population moves per temperature before the kernel's transitions
    /// (continuous models): independence Metropolis-Hastings steps from a
    /// Gaussian mixture fitted to the weighted particles
    /// ([`crate::mixture_fit`], [`crate::independence`]), which carry
    /// particles between modes that the kernel cannot cross. 0: none.
    #[serde(default)]
    pub mixture_moves: usize,
    /// Waste-free SMC (Dau and Chopin 2022) with chains of this many
    /// states: at every temperature N / P ancestors are resampled and
    /// each runs P - 1 kernel steps, and all their states are the next
    /// particles ([`super::waste_free`]; `steps` is then unused). P must
    /// divide the particles and leave at least two chains; needs
    /// resampling and no population moves. `None`: standard SMC.
    #[serde(default)]
    pub waste_free: Option<usize>,
    /// Adapt the kernel's step size after every temperature from its
    /// acceptance (eps *= exp(acceptance - target), the factor within
    /// [1/2, 2]).
    pub adapt_step_size: bool,
    /// The most temperatures a run takes; reaching it jumps to beta = 1
    /// and warns.
    pub max_temps: usize,
    /// Independent runs on the pilot's plan (SMC's error bar is their
    /// spread); the pilot run comes on top.
    pub runs: usize,
    /// Fix the plan by a pilot run first (the default). Without one each
    /// run adapts its own schedule and step sizes as it goes, as
    /// BlackJAX's adaptive tempered SMC does: half the work for one run,
    /// at the price of a bias of order 1/N (+0.026 at 100 particles,
    /// +0.006 at 1,000 on a 2-D mixture; the module's documentation).
    pub pilot: bool,
    /// Seed: run r's particle i draws from stream r (N + 1) + i, its
    /// resampling from stream r (N + 1) + N; the pilot is run r = `runs`.
    pub seed: u64,
}

impl Default for SmcConfig {
    fn default() -> Self {
        Self {
            particles: 1000,
            target_cess: 0.99,
            resample_below: Some(0.5),
            steps: 5,
            mixture_moves: 0,
            waste_free: None,
            adapt_step_size: true,
            max_temps: 10_000,
            runs: 10,
            pilot: true,
            seed: 0,
        }
    }
}

/// The result of [`smc`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SmcResult {
    /// log Z: log Z_0 plus the log of the runs' mean Z / Z_0.
    pub log_z: f64,
    /// Its standard error: the delta method on the runs' Z (several
    /// runs), or on the final weights (one run without resampling); NaN
    /// for one run that resampled.
    pub stderr: f64,
    /// Each run's log Z.
    pub run_log_z: Vec<f64>,
    /// Each run's final weight ESS.
    pub ess: Vec<f64>,
    /// Temperatures of the plan (beta = 0 and 1 included; without a
    /// pilot, the first run's).
    pub temperatures: usize,
    /// Each run's resamplings.
    pub resamples: Vec<usize>,
    /// The plan's temperatures, from the pilot run (without one, the
    /// first run's own).
    pub betas: Vec<f64>,
    /// The pilot run's own log Z (not part of the estimate; NaN without a
    /// pilot).
    pub pilot_log_z: f64,
    /// log Z_0 of the reference.
    pub log_z_base: f64,
    /// One line per problem a user should know of: a weight ESS under 10%
    /// of the particles, a run that hit the temperature cap.
    pub warnings: Vec<String>,
}

/// One run's outcome.
pub(super) struct RunResult {
    pub(super) log_z: f64,
    pub(super) log_w: Vec<f64>,
    resamples: usize,
    pub(super) capped: bool,
    pub(super) plan: Plan,
}

/// A schedule, and the kernel's step size and the population moves'
/// proposal at each of its temperatures.
#[derive(Clone, Debug, Default)]
pub(super) struct Plan {
    /// beta_0 = 0 < ... < beta_K = 1.
    pub(super) betas: Vec<f64>,
    /// The step size of the moves at beta_k is `step_sizes[k - 1]`.
    pub(super) step_sizes: Vec<f64>,
    /// The population moves at beta_k are `proposals[k - 1]` (none
    /// without population moves, or where no mixture could be fitted).
    pub(super) proposals: Vec<Option<Independence>>,
}

/// The moves at the temperature of `plan` index `k` (k >= 1): the
/// population moves from the plan's proposal, if any, then `cfg.steps`
/// transitions of `kernel`; the kernel's statistics.
pub(super) fn move_particles(
    kernel: &dyn Kernel,
    population: Option<&Independence>,
    t: Target<'_>,
    chains: &mut Chains,
    rngs: &mut [ChainRng],
    cfg: &SmcConfig,
) -> Vec<StepStats> {
    if let (Some(moves), true) = (population, cfg.mixture_moves > 0) {
        chains.run_kernel(moves, t, rngs, cfg.mixture_moves, None);
    }
    chains.run_kernel(kernel, t, rngs, cfg.steps, None)
}

/// The population moves of a run that adapts as it goes: the first half
/// of the particles proposes from a mixture fitted to the second half and
/// the second half from one fitted to the first (systematic resampling
/// keeps each half's descendants within it, so each half's proposal is
/// nearly independent of the particles it moves). `None` when either fit
/// fails.
fn cross_fitted(x: &[f64], d: usize, log_w: &[f64], rng: &mut ChainRng) -> Option<Independence> {
    let half = log_w.len().div_ceil(2);
    let settings = MixtureFit::default();
    let first = fit_mixture(&x[..half * d], d, &log_w[..half], &settings, rng)?;
    let second = fit_mixture(&x[half * d..], d, &log_w[half..], &settings, rng)?;
    Some(Independence {
        proposals: vec![Arc::new(second), Arc::new(first)],
        group: half,
    })
}

/// log Z of `target` by adaptive AIS (`cfg.resample_below: None`) or SMC
/// from `reference` ([`Reference::Base`] for continuous models,
/// [`Reference::Uniform`] for binary ones), moving particles with kernels
/// from `make_kernel` (one per run; it must leave its target exactly
/// invariant).
///
/// ```
/// use ebm_samplers::ais::smc::{smc, SmcConfig};
/// use ebm_samplers::{tempering::Reference, Kernel, Mala, Target};
/// use ebm_core::{Energy, energies::{DiagGaussian, Gmm}};
/// let mix = Gmm::new(vec![0.7, 0.3], vec![vec![-3.0, 0.0], vec![3.0, 0.0]], vec![0.5, 0.5]).unwrap();
/// let base = DiagGaussian::new(vec![0.0, 0.0], vec![4.0, 4.0]).unwrap();
/// let cfg = SmcConfig { particles: 500, runs: 4, seed: 1, ..Default::default() };
/// let make = || Ok(Box::new(Mala::new(0.3)?) as Box<dyn Kernel>);
/// let r = smc(&make, Target::Continuous(&mix), Reference::Base(&base), &cfg).unwrap();
/// let exact = mix.log_partition().unwrap();
/// assert!((r.log_z - exact).abs() < 4.0 * r.stderr + 0.02, "{} +- {} vs {exact}", r.log_z, r.stderr);
/// ```
pub fn smc(
    make_kernel: &dyn Fn() -> Result<Box<dyn Kernel>>,
    target: Target<'_>,
    reference: Reference<'_>,
    cfg: &SmcConfig,
) -> Result<SmcResult> {
    check_config(cfg, target)?;
    let (base, log_z_base) = reference_of(target, reference)?;
    let path = base_path(base, target)?;
    let pilot = if cfg.pilot {
        Some(one_run(
            make_kernel,
            target,
            base,
            path.as_ref(),
            cfg,
            cfg.runs,
            None,
        )?)
    } else {
        None
    };
    let plan = pilot.as_ref().map(|p| &p.plan);
    let runs: Vec<RunResult> = (0..cfg.runs)
        .map(|r| one_run(make_kernel, target, base, path.as_ref(), cfg, r, plan))
        .collect::<Result<_>>()?;
    // the plan the estimate followed: the pilot's, or the first run's own
    let planned = pilot.as_ref().unwrap_or(&runs[0]);
    let n = cfg.particles as f64;
    let ess: Vec<f64> = runs.iter().map(|r| summarize(r.log_w.clone(), 0.0).ess).collect();
    let run_log_z: Vec<f64> = runs.iter().map(|r| log_z_base + r.log_z).collect();
    let (log_z, stderr) = if runs.len() > 1 {
        let s = summarize(runs.iter().map(|r| r.log_z).collect(), log_z_base);
        (s.log_z, s.stderr)
    } else if runs[0].resamples == 0 {
        let s = summarize(runs[0].log_w.clone(), log_z_base);
        (s.log_z, s.stderr)
    } else {
        (run_log_z[0], f64::NAN)
    };
    let mut warnings = Vec::new();
    if let Some(low) = ess.iter().copied().filter(|&e| e < 0.1 * n).reduce(f64::min) {
        warnings.push(format!(
            "the weight ESS fell to {low:.1} of {} particles: the estimate rests on a few of them",
            cfg.particles
        ));
    }
    if planned.capped || runs.iter().any(|r| r.capped) {
        warnings.push(format!(
            "the schedule hit its cap of {} temperatures and jumped to beta = 1",
            cfg.max_temps
        ));
    }
    if runs.len() == 1 && runs[0].resamples > 0 {
        warnings.push("one SMC run that resampled has no error bar: use two runs or more".into());
    }
    Ok(SmcResult {
        log_z,
        stderr,
        run_log_z,
        ess,
        temperatures: planned.plan.betas.len(),
        resamples: runs.iter().map(|r| r.resamples).collect(),
        betas: planned.plan.betas.clone(),
        pilot_log_z: pilot.as_ref().map_or(f64::NAN, |p| log_z_base + p.log_z),
        log_z_base,
        warnings,
    })
}

/// Refuse settings [`smc`] cannot run with on `target`.
pub(super) fn check_config(cfg: &SmcConfig, target: Target<'_>) -> Result<()> {
    if cfg.mixture_moves > 0 && target.energy().is_none() {
        return Err(invalid(
            "mixture_moves",
            "population moves draw from a Gaussian mixture: they need a continuous model",
        ));
    }
    if cfg.particles < 2 {
        return Err(invalid(
            "particles",
            format!("must be at least 2, got {}", cfg.particles),
        ));
    }
    if !(cfg.target_cess > 0.0 && cfg.target_cess < 1.0) {
        return Err(invalid(
            "target_cess",
            format!("must be in (0, 1), got {}", cfg.target_cess),
        ));
    }
    if let Some(t) = cfg.resample_below.filter(|t| !(*t > 0.0 && *t <= 1.0)) {
        return Err(invalid("resample_below", format!("must be in (0, 1], got {t}")));
    }
    if let Some(p) = cfg.waste_free {
        if p < 2 || cfg.particles % p != 0 || cfg.particles / p < 2 {
            return Err(invalid(
                "waste_free",
                format!(
                    "chains of {p} states must divide the {} particles into at least 2 chains of 2 states or more",
                    cfg.particles
                ),
            ));
        }
        if cfg.resample_below.is_none() || cfg.mixture_moves > 0 {
            return Err(invalid(
                "waste_free",
                "waste-free moves resample at every temperature: they need resampling (SMC, not AIS) and no population moves",
            ));
        }
    }
    if cfg.steps == 0 || cfg.runs == 0 || cfg.max_temps < 2 {
        return Err(invalid(
            "steps, runs, max_temps",
            "need at least 1 step per temperature, 1 run and 2 temperatures",
        ));
    }
    Ok(())
}

/// The exactly drawn reference of `target` (the base, for continuous
/// models) and its log Z_0.
pub(super) fn reference_of<'a>(
    target: Target<'_>,
    reference: Reference<'a>,
) -> Result<(Option<&'a dyn ExactSample>, f64)> {
    match (reference, target) {
        (Reference::Base(b), Target::Continuous(e)) => {
            if b.dim() != e.dim() {
                return Err(invalid(
                    "reference",
                    format!("the base has dimension {}, the model {}", b.dim(), e.dim()),
                ));
            }
            let z0 = b
                .log_partition()
                .ok_or_else(|| invalid("reference", "the base must have a known log Z"))?;
            Ok((Some(b), z0))
        }
        (Reference::Uniform, Target::Binary(_) | Target::Categorical(_)) => {
            Ok((None, target.log_state_count().unwrap_or(0.0)))
        }
        _ => Err(invalid(
            "reference",
            "log Z needs an exactly drawn reference with known log Z: a base distribution for continuous models, the uniform one for binary and categorical models",
        )),
    }
}

/// One run `r` of [`smc`]: on `plan` when given, otherwise adapting the
/// schedule and step sizes and returning them as the plan.
pub(super) fn one_run(
    make_kernel: &dyn Fn() -> Result<Box<dyn Kernel>>,
    target: Target<'_>,
    base: Option<&dyn ExactSample>,
    path: Option<&BasePath<'_>>,
    cfg: &SmcConfig,
    r: usize,
    plan: Option<&Plan>,
) -> Result<RunResult> {
    let (n, d) = (cfg.particles, target.dim());
    let stride = n + 1;
    let mut rngs: Vec<ChainRng> = (0..n).map(|i| chain_rng(cfg.seed, r * stride + i)).collect();
    let mut resample_rng = chain_rng(cfg.seed, r * stride + n);
    let mut kernel = make_kernel()?;
    if let Some(t) = LevelModel::at(0.5, target, path).target() {
        kernel.check(t)?;
    }
    let reference = LevelModel::at(0.0, target, path);
    let mut chains = match (target, base) {
        (Target::Continuous(_), Some(b)) => Chains::new(b, Points::zeros(n, d))?,
        (Target::Binary(m), _) => {
            let (lo, _) = m.states();
            Chains::binary(m, Points::from_vec(vec![lo; n * d], d)?)?
        }
        (Target::Categorical(m), _) => Chains::categorical(m, Points::zeros(n, d))?,
        (Target::Continuous(_), None) => unreachable!("continuous runs have a base"),
    };
    reference.draw_reference(chains.x.as_mut_slice(), d, &mut rngs);
    let mut log_w = vec![0.0; n];
    let mut v = vec![0.0; n];
    let (mut beta, mut log_z, mut resamples, mut capped) = (0.0f64, 0.0, 0, false);
    let mut out = Plan {
        betas: vec![0.0],
        ..Plan::default()
    };
    loop {
        let level = LevelModel::at(beta, target, path);
        potentials(
            &level,
            beta,
            target,
            base,
            chains.x.as_slice(),
            &chains.energy,
            d,
            &mut v,
        );
        let k = out.betas.len();
        let next = match plan {
            Some(p) => p.betas[k],
            None => {
                let mut delta = next_increment(&log_w, &v, 1.0 - beta, cfg.target_cess);
                if k + 1 >= cfg.max_temps {
                    delta = 1.0 - beta;
                    capped = true;
                }
                if delta >= 1.0 - beta {
                    1.0
                } else {
                    beta + delta
                }
            }
        };
        let step = next - beta;
        for (w, &vi) in log_w.iter_mut().zip(&v) {
            let inc = -step * vi;
            *w += if inc.is_nan() { f64::NEG_INFINITY } else { inc };
        }
        beta = next;
        out.betas.push(beta);
        if beta >= 1.0 {
            break;
        }
        if let (Some(t), None) = (cfg.resample_below, cfg.waste_free) {
            if summarize(log_w.clone(), 0.0).ess < t * n as f64 {
                log_z += log_sum_exp(&log_w) - (n as f64).ln();
                let ancestors = systematic(&log_w, n, resample_rng.random::<f64>());
                let old = chains.x.as_slice().to_vec();
                for (i, &a) in ancestors.iter().enumerate() {
                    chains.x.as_mut_slice()[i * d..(i + 1) * d].copy_from_slice(&old[a * d..(a + 1) * d]);
                }
                log_w.iter_mut().for_each(|w| *w = 0.0);
                resamples += 1;
            }
        }
        let level = LevelModel::at(beta, target, path);
        let Some(t) = level.target() else {
            unreachable!("0 < beta < 1 is moved by the kernel")
        };
        if let Some(p) = plan {
            kernel.set_step_size(p.step_sizes[k - 1]);
        }
        out.step_sizes.push(kernel.step_size());
        let stats = if let Some(length) = cfg.waste_free {
            out.proposals.push(None);
            log_z += log_sum_exp(&log_w) - (n as f64).ln();
            let u = resample_rng.random::<f64>();
            let stats = waste_free_move(&*kernel, t, &mut chains, &log_w, &mut rngs, u, length)?;
            log_w.iter_mut().for_each(|w| *w = 0.0);
            resamples += 1;
            stats
        } else {
            if let Target::Continuous(e) = t {
                chains.refresh(e);
            }
            let proposal = match plan {
                Some(p) => p.proposals.get(k - 1).cloned().flatten(),
                None if cfg.mixture_moves > 0 => {
                    cross_fitted(chains.x.as_slice(), d, &log_w, &mut resample_rng)
                }
                None => None,
            };
            out.proposals.push(proposal.clone());
            move_particles(&*kernel, proposal.as_ref(), t, &mut chains, &mut rngs, cfg)
        };
        if let (None, true, Some(goal)) = (plan, cfg.adapt_step_size, kernel.target_accept()) {
            let acc = stats.iter().map(|s| s.mean_accept).sum::<f64>() / stats.len() as f64;
            let factor = (acc - goal).exp().clamp(0.5, 2.0);
            let eps = kernel.step_size() * factor;
            kernel.set_step_size(eps);
        }
    }
    log_z += log_sum_exp(&log_w) - (n as f64).ln();
    Ok(RunResult {
        log_z,
        log_w,
        resamples,
        capped,
        plan: out,
    })
}

/// The increment delta in (0, `max`] at which the conditional ESS of the
/// incremental weights exp(-delta V_i) under the current weights meets
/// `target` (bisection, 60 halvings), or `max` when it stays above.
/// Non-finite V counts as infinite (weight 0).
pub fn next_increment(log_w: &[f64], v: &[f64], max: f64, target: f64) -> f64 {
    let lw_total = log_sum_exp(log_w);
    let cess = |delta: f64| {
        let term = |k: f64| {
            let t: Vec<f64> = log_w
                .iter()
                .zip(v)
                .map(|(&w, &vi)| {
                    let vi = if vi.is_finite() { vi } else { f64::INFINITY };
                    let x = w - lw_total - k * delta * vi;
                    if x.is_nan() {
                        f64::NEG_INFINITY
                    } else {
                        x
                    }
                })
                .collect();
            log_sum_exp(&t)
        };
        (2.0 * term(1.0) - term(2.0)).exp()
    };
    if cess(max) >= target {
        return max;
    }
    let (mut lo, mut hi) = (0.0, max);
    for _ in 0..60 {
        let mid = 0.5 * (lo + hi);
        if cess(mid) >= target {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    // at least a sliver of progress, so a run always ends
    lo.max(max * 1e-12)
}

/// Systematic resampling of `m` ancestors from the weights `log_w`:
/// ancestor i holds the point (u + i) / m of the cumulative normalised
/// weights (nondecreasing indices).
pub(super) fn systematic(log_w: &[f64], m: usize, u: f64) -> Vec<usize> {
    let n = log_w.len();
    let total = log_sum_exp(log_w);
    let mut ancestors = Vec::with_capacity(m);
    let (mut cum, mut j) = ((log_w[0] - total).exp(), 0);
    for i in 0..m {
        let point = (u + i as f64) / m as f64;
        while point > cum && j + 1 < n {
            j += 1;
            cum += (log_w[j] - total).exp();
        }
        ancestors.push(j);
    }
    ancestors
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_increment_meets_the_target_cess() {
        let log_w = vec![0.0; 4];
        let v = vec![0.0, 1.0, 2.0, 3.0];
        let delta = next_increment(&log_w, &v, 1.0, 0.9);
        let u: Vec<f64> = v.iter().map(|x| (-delta * x).exp()).collect();
        let cess = u.iter().sum::<f64>().powi(2) / (4.0 * u.iter().map(|x| x * x).sum::<f64>());
        assert!((cess - 0.9).abs() < 1e-9, "{cess}");
        // a flat potential takes the whole rest of the path at once
        assert_eq!(next_increment(&log_w, &[2.0; 4], 0.7, 0.9), 0.7);
    }
}
