//! Bounds on log Z: a forward AIS run (a stochastic lower bound), a
//! reverse one from draws of the model (RAISE, Burda, Grosse and
//! Salakhutdinov 2015: a stochastic upper bound), the sandwich between
//! them (bidirectional Monte Carlo, Grosse, Ghahramani and Adams 2015),
//! and a lower bound that holds with probability 1 - delta.
//!
//! Forward: x ~ p_0, and at each temperature log w += -(beta_k -
//! beta_{k-1}) V(x) before a move that leaves p_{beta_k} invariant;
//! E[w] = Z / Z_0, so by Jensen E[log Z_hat] <= log Z. Reverse: x ~ p_1 (the
//! model itself), and from beta_K = 1 down, log w' += (beta_k -
//! beta_{k-1}) V(x) before a move that leaves p_{beta_{k-1}} invariant;
//! E[w'] = Z_0 / Z, so log Z_0 - log mean w' is at least log Z in
//! expectation. Both follow the same schedule and step sizes (a pilot
//! run's, [`super::smc`]), so the gap between them shrinks to zero as the
//! temperatures grow, and a wide gap says the chains do not mix along the
//! path. By Markov's inequality P(Z_hat >= Z / delta) <= delta, so
//! log Z_hat - log(1 / delta) <= log Z with probability at least 1 - delta
//! for the forward run's unbiased Z_hat.
//!
//! The reverse run needs draws from the model: exact ones where it has an
//! exact sampler ([`ebm_core::Energy::exact_sampler`]), otherwise long
//! chains (parallel tempering's, in the `ebm` command); draws that are not
//! from the model make the upper bound wrong, and a reverse estimate below
//! the forward one beyond their errors is the sign.

use super::smc::{check_config, move_particles, one_run, reference_of, Plan, SmcConfig};
use super::summarize;
use crate::chains::Chains;
use crate::error::{invalid, Result};
use crate::kernel::Kernel;
use crate::target::Target;
use crate::tempering::levels::{base_path, potentials, BasePath, LevelModel, Reference};
use ebm_core::{chain_rng, ChainRng, ExactSample, Points};
use serde::{Deserialize, Serialize};

/// The result of [`sandwich`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Sandwich {
    /// Forward AIS: log Z_0 + log mean w, a stochastic lower bound.
    pub lower: f64,
    /// Its standard error (delta method).
    pub lower_stderr: f64,
    /// Reverse AIS: log Z_0 - log mean w', a stochastic upper bound.
    pub upper: f64,
    /// Its standard error (delta method).
    pub upper_stderr: f64,
    /// upper - lower.
    pub gap: f64,
    /// lower - log(1 / delta): below log Z with probability >= 1 - delta.
    pub markov_lower: f64,
    /// The delta of `markov_lower`.
    pub delta: f64,
    /// Temperatures of the schedule (both ends included).
    pub temperatures: usize,
    /// Weight ESS of the forward and the reverse run.
    pub forward_ess: f64,
    /// See `forward_ess`.
    pub reverse_ess: f64,
    /// One line per problem: weight ESS under 10%, a capped schedule,
    /// forward and reverse estimates apart beyond three combined standard
    /// errors.
    pub warnings: Vec<String>,
}

/// The sandwich of `target`'s log Z: a pilot run ([`super::smc`]'s
/// adaptive schedule and step sizes, `cfg.target_cess`, `cfg.steps`
/// moves per temperature), then forward AIS with `cfg.particles`
/// particles and reverse AIS from `draws` (one particle per row: draws
/// from the model), both on the pilot's plan; and the Markov lower bound
/// at `delta`.
///
/// ```
/// use ebm_samplers::ais::bounds::sandwich;
/// use ebm_samplers::ais::smc::SmcConfig;
/// use ebm_samplers::{tempering::Reference, Kernel, Mala, Target};
/// use ebm_core::{chain_rng, Energy, ExactSample, Points, energies::{DiagGaussian, Gmm}};
/// let mix = Gmm::new(vec![0.7, 0.3], vec![vec![-3.0, 0.0], vec![3.0, 0.0]], vec![0.5, 0.5]).unwrap();
/// let base = DiagGaussian::new(vec![0.0, 0.0], vec![4.0, 4.0]).unwrap();
/// let mut draws = Points::zeros(500, 2);
/// for (i, x) in draws.as_mut_slice().chunks_exact_mut(2).enumerate() {
///     mix.sample_into(&mut chain_rng(99, i), x);
/// }
/// let cfg = SmcConfig { particles: 500, seed: 1, ..Default::default() };
/// let make = || Ok(Box::new(Mala::new(0.3)?) as Box<dyn Kernel>);
/// let s = sandwich(&make, Target::Continuous(&mix), Reference::Base(&base), &draws, &cfg, 0.05).unwrap();
/// let exact = mix.log_partition().unwrap();
/// assert!(s.lower - 4.0 * s.lower_stderr < exact && exact < s.upper + 4.0 * s.upper_stderr);
/// assert!(s.markov_lower < exact);
/// ```
pub fn sandwich(
    make_kernel: &dyn Fn() -> Result<Box<dyn Kernel>>,
    target: Target<'_>,
    reference: Reference<'_>,
    draws: &Points,
    cfg: &SmcConfig,
    delta: f64,
) -> Result<Sandwich> {
    check_config(cfg, target)?;
    if !(delta > 0.0 && delta < 1.0) {
        return Err(invalid("delta", format!("must be in (0, 1), got {delta}")));
    }
    if draws.len() < 2 || draws.dim() != target.dim() {
        return Err(invalid(
            "draws",
            format!(
                "need at least 2 draws of dimension {}, got {} of dimension {}",
                target.dim(),
                draws.len(),
                draws.dim()
            ),
        ));
    }
    let (base, log_z_base) = reference_of(target, reference)?;
    let path = base_path(base, target)?;
    let ais = SmcConfig {
        resample_below: None,
        waste_free: None,
        ..cfg.clone()
    };
    // run 1 pilots, run 0 goes forward, run 2's streams move the reverse particles
    let pilot = one_run(make_kernel, target, base, path.as_ref(), &ais, 1, None)?;
    let forward = one_run(
        make_kernel,
        target,
        base,
        path.as_ref(),
        &ais,
        0,
        Some(&pilot.plan),
    )?;
    let reverse = reverse_run(make_kernel, target, base, path.as_ref(), &pilot.plan, draws, &ais)?;
    let fwd = summarize(forward.log_w, log_z_base);
    let rev = summarize(reverse, 0.0);
    let upper = log_z_base - rev.log_z;
    let gap = upper - fwd.log_z;
    let mut warnings = Vec::new();
    for (name, ess, n) in [
        ("forward", fwd.ess, cfg.particles),
        ("reverse", rev.ess, draws.len()),
    ] {
        if ess < 0.1 * n as f64 {
            warnings.push(format!("the {name} run's weight ESS fell to {ess:.1} of {n}"));
        }
    }
    if pilot.capped {
        warnings.push(format!(
            "the schedule hit its cap of {} temperatures and jumped to beta = 1",
            cfg.max_temps
        ));
    }
    let combined = (fwd.stderr.powi(2) + rev.stderr.powi(2)).sqrt();
    let apart = gap.is_nan() || combined.is_nan() || gap.abs() > 3.0 * combined;
    if apart {
        warnings.push(format!(
            "forward ({:.4}) and reverse ({upper:.4}) estimates differ by {gap:.4}, over 3 combined standard errors ({combined:.4}): more temperatures or moves, or draws that are not from the model",
            fwd.log_z
        ));
    }
    Ok(Sandwich {
        lower: fwd.log_z,
        lower_stderr: fwd.stderr,
        upper,
        upper_stderr: rev.stderr,
        gap,
        markov_lower: fwd.log_z - (1.0 / delta).ln(),
        delta,
        temperatures: pilot.plan.betas.len(),
        forward_ess: fwd.ess,
        reverse_ess: rev.ess,
        warnings,
    })
}

/// Reverse AIS along `plan` from `draws`: the log-weights log w'.
fn reverse_run(
    make_kernel: &dyn Fn() -> Result<Box<dyn Kernel>>,
    target: Target<'_>,
    base: Option<&dyn ExactSample>,
    path: Option<&BasePath<'_>>,
    plan: &Plan,
    draws: &Points,
    cfg: &SmcConfig,
) -> Result<Vec<f64>> {
    let (n, d) = (draws.len(), draws.dim());
    let stride = n + 1;
    let mut rngs: Vec<ChainRng> = (0..n).map(|i| chain_rng(cfg.seed, 2 * stride + i)).collect();
    let mut kernel = make_kernel()?;
    let mut chains = Chains::for_target(target, draws.clone())?;
    let b = &plan.betas;
    let k_last = b.len() - 1;
    let mut log_w = vec![0.0; n];
    let mut v = vec![0.0; n];
    for k in (1..=k_last).rev() {
        let level = LevelModel::at(b[k], target, path);
        potentials(
            &level,
            b[k],
            target,
            base,
            chains.x.as_slice(),
            &chains.energy,
            d,
            &mut v,
        );
        for (w, &vi) in log_w.iter_mut().zip(&v) {
            let inc = (b[k] - b[k - 1]) * vi;
            *w += if inc.is_nan() { f64::NEG_INFINITY } else { inc };
        }
        if k == 1 {
            break;
        }
        let below = LevelModel::at(b[k - 1], target, path);
        let Some(t) = below.target() else {
            unreachable!("0 < beta < 1 is moved by the kernel")
        };
        kernel.check(t)?;
        if let Target::Continuous(e) = t {
            chains.refresh(e);
        }
        kernel.set_step_size(plan.step_sizes[k - 2]);
        let proposal = plan.proposals.get(k - 2).and_then(Option::as_ref);
        move_particles(&*kernel, proposal, t, &mut chains, &mut rngs, cfg);
    }
    Ok(log_w)
}
