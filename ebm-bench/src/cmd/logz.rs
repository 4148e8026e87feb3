//! `ebm logz`: the log-partition function of a model.

use super::kernels::{kernel_names, registry_kernel, KernelUse};
use crate::error::sampler_err;
use crate::error::{CliError, CliResult};
use crate::json_num::{num, nums};
use crate::model_file::load_model;
use crate::progress::SharedProgress;
use clap::{Args, ValueEnum};
use ebm_core::energies::DiagGaussian;
use ebm_core::quadrature::{log_partition_grid, log_partition_quadrature, QuadratureOptions};
use ebm_core::spec::Model;
use ebm_samplers::ais::bounds::{sandwich, Sandwich};
use ebm_samplers::ais::smc::{smc, SmcConfig, SmcResult};
use ebm_samplers::ais::{
    ais_binary_with_progress, ais_discrete, ais_rbm_sweeps_with_progress, ais_with_progress, AisResult,
    RbmBase, Schedule,
};
use ebm_samplers::driver::{RunConfig, Silent, Start};
use ebm_samplers::tempering::{run_pt, PtConfig, Reference};
use ebm_samplers::Target;
use serde_json::json;
use std::time::Instant;

/// How to compute log Z.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogzMethod {
    /// Closed form, or exact enumeration for binary models.
    Exact,
    /// Numerical integration (1-D and 2-D continuous energies).
    Quadrature,
    /// Annealed importance sampling, with a standard error.
    Ais,
    /// Sequential Monte Carlo: adaptive temperatures and step sizes,
    /// systematic resampling, the error bar from independent runs.
    Smc,
}

/// Arguments of `ebm logz`.
#[derive(Clone, Debug, Args)]
pub struct LogzArgs {
    /// The model file (JSON).
    #[arg(long)]
    pub model: String,
    /// exact: closed form or enumeration; quadrature: adaptive
    /// Gauss-Kronrod over all of R^D (or a midpoint grid with --bounds);
    /// ais: annealed importance sampling with a standard error.
    #[arg(long, value_enum, default_value = "exact")]
    pub method: LogzMethod,
    /// With quadrature: integrate on the box [lo, hi]^D with a midpoint grid
    /// instead of adaptively over R^D, e.g. `--bounds=-8,8`. With ais or
    /// smc and no values: the sandwich of a forward (lower) and a reverse
    /// (upper) AIS run from draws of the model (exact where the model has
    /// an exact sampler, parallel tempering's otherwise), and the lower
    /// bound that holds with probability 1 - --delta.
    #[arg(long, value_delimiter = ',', num_args = 0..=1, allow_negative_numbers = true)]
    pub bounds: Option<Vec<f64>>,
    /// --bounds with ais or smc: the Markov lower bound log Z_hat -
    /// log(1/delta) holds with probability at least 1 - delta.
    #[arg(long, default_value_t = 0.05, allow_negative_numbers = true)]
    pub delta: f64,
    /// Cells per axis of the midpoint grid (with --bounds).
    #[arg(long, default_value_t = 400)]
    pub grid: usize,
    /// Relative tolerance of adaptive quadrature.
    #[arg(long, default_value_t = 1e-11, allow_negative_numbers = true)]
    pub tol: f64,
    /// AIS: number of temperatures.
    #[arg(long, default_value_t = 1000)]
    pub temps: usize,
    /// AIS and SMC: number of particles (chains); default 100, and 1,000
    /// for --method smc on a continuous model.
    #[arg(long = "chains")]
    pub chains_arg: Option<usize>,
    /// The particles after the defaults (set by `run`).
    #[arg(skip)]
    pub chains: usize,
    /// AIS: transition kernel, from the registry's kernels that leave
    /// their target invariant (default: gibbs for binary models, mala
    /// otherwise).
    #[arg(long, value_parser = kernel_names(KernelUse::Ais))]
    pub sampler: Option<String>,
    /// AIS: temperature schedule.
    #[arg(long, value_enum, default_value = "linear")]
    pub schedule: ScheduleArg,
    /// AIS and SMC: transitions (Gibbs sweeps) per intermediate
    /// temperature; default 1, and 3 for --method smc on a continuous model.
    #[arg(long = "steps-per-temp")]
    pub steps_per_temp_arg: Option<usize>,
    /// The transitions after the defaults (set by `run`).
    #[arg(skip)]
    pub steps_per_temp: usize,
    /// AIS and SMC: (initial) step size of MALA or HMC; default 0.05, and
    /// 0.3 for --method smc on a continuous model (adapted per temperature).
    #[arg(long = "step-size", allow_negative_numbers = true)]
    pub step_size_arg: Option<f64>,
    /// The step size after the defaults (set by `run`).
    #[arg(skip)]
    pub step_size: f64,
    /// AIS and SMC: leapfrog steps of HMC; default 5, and 10 for --method
    /// smc on a continuous model.
    #[arg(long = "leapfrog")]
    pub leapfrog_arg: Option<usize>,
    /// The leapfrog steps after the defaults (set by `run`).
    #[arg(skip)]
    pub leapfrog: usize,
    /// AIS: standard deviation of the N(0, s^2 I) base of continuous models.
    #[arg(long, default_value_t = 3.0, allow_negative_numbers = true)]
    pub base_std: f64,
    /// AIS: choose the temperatures adaptively (the conditional ESS of
    /// each step's weights at --target-cess) and adapt the step size per
    /// temperature, in a pilot run; --temps is then the cap. Always on
    /// for --method smc.
    #[arg(long)]
    pub adaptive: bool,
    /// Adaptive AIS and SMC: the conditional ESS kept per temperature, in
    /// (0, 1).
    #[arg(long, default_value_t = 0.99, allow_negative_numbers = true)]
    pub target_cess: f64,
    /// Adaptive AIS and SMC: independent runs on the pilot's schedule
    /// (SMC's error bar is their spread); default 10 for smc, 1 for
    /// adaptive AIS.
    #[arg(long)]
    pub runs: Option<usize>,
    /// SMC and adaptive AIS: adapt each run's schedule as it goes instead
    /// of fixing it by a pilot run first (half the work for one run; a
    /// bias of order 1/particles).
    #[arg(long)]
    pub no_pilot: bool,
    /// SMC and adaptive AIS on continuous models: population moves per
    /// temperature before the sampler's transitions (independence
    /// Metropolis-Hastings from Gaussian mixtures fitted to the
    /// particles), which carry particles between modes the sampler cannot
    /// cross; 0: none. Default 2 for --method smc on a continuous model,
    /// else 0.
    #[arg(long = "mixture-moves")]
    pub mixture_moves_arg: Option<usize>,
    /// The population moves after the defaults (set by `run`).
    #[arg(skip)]
    pub mixture_moves: usize,
    /// SMC: waste-free moves (Dau and Chopin 2022) with chains of P
    /// states: at every temperature chains/P ancestors run P - 1
    /// transitions and all their states are the next particles (P must
    /// divide --chains; --steps-per-temp is then unused).
    #[arg(long, value_name = "P")]
    pub waste_free: Option<usize>,
    /// AIS: seed.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// ais: run particles k..k+N of a larger run (a shard; each particle on
    /// its own stream as in the whole run), reporting every particle's log
    /// weight and the run's settings, so `ebm merge` of shards covering
    /// 0..M gives the one-process log Z, error bar and ESS bit for bit.
    /// Not with --adaptive or --bounds (their schedules and sandwich pool
    /// the particles).
    #[arg(long)]
    pub first_chain: Option<usize>,
    /// ais, smc: add the diagnostics `ebm plot weights` draws to the JSON
    /// report (AIS: every chain's log weight; SMC: the temperatures and
    /// each run's final weight ESS).
    #[arg(long)]
    pub diagnostics: bool,
    /// Print one JSON object.
    #[arg(long)]
    pub json: bool,
}

impl LogzArgs {
    /// The arguments with every default filled in for `model`. `--method
    /// smc` on a continuous model defaults to what held its error bars on
    /// the multimodal mixtures (W9's among them: 10 of 10 seeds within 4
    /// reported SE, where MALA with 100 particles missed by 9 SE without a
    /// sign): 1,000 particles, HMC with 10 leapfrog steps from a step size
    /// of 0.3, 3 transitions and 2 population moves per temperature.
    /// Everything else keeps the AIS defaults.
    pub fn with_defaults(&self, model: &Model) -> Self {
        let smc_continuous = self.method == LogzMethod::Smc && matches!(model, Model::Continuous(_));
        let pick = |smc: f64, other: f64| if smc_continuous { smc } else { other };
        let mut a = self.clone();
        a.chains = self.chains_arg.unwrap_or(pick(1000.0, 100.0) as usize);
        a.steps_per_temp = self.steps_per_temp_arg.unwrap_or(pick(3.0, 1.0) as usize);
        a.step_size = self.step_size_arg.unwrap_or(pick(0.3, 0.05));
        a.leapfrog = self.leapfrog_arg.unwrap_or(pick(10.0, 5.0) as usize);
        a.mixture_moves = self.mixture_moves_arg.unwrap_or(pick(2.0, 0.0) as usize);
        if smc_continuous && a.sampler.is_none() {
            a.sampler = Some("hmc".into());
        }
        a
    }
}

/// Temperature schedules.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ScheduleArg {
    /// Evenly spaced.
    Linear,
    /// Geometric from 1e-4.
    Geometric,
    /// Sigmoid, dense at both ends.
    Sigmoid,
}

/// Compute log Z as the arguments say.
pub fn run(a: &LogzArgs) -> CliResult<super::Report> {
    let (spec, model) = load_model(&a.model)?;
    let a = &a.with_defaults(&model);
    let start = Instant::now();
    let sandwich_asked = a.bounds.as_ref().is_some_and(|b| b.is_empty());
    if a.first_chain.is_some() && sandwich_asked {
        return Err(CliError::Unsupported(
            "--first-chain does not apply to --bounds: the sandwich's reverse runs pair with all the particles".into(),
        ));
    }
    if sandwich_asked && matches!(a.method, LogzMethod::Ais | LogzMethod::Smc) {
        let (s, source) = run_sandwich(a, &spec, &model)?;
        let seconds = start.elapsed().as_secs_f64();
        for w in &s.warnings {
            eprintln!("warning: {w}");
        }
        return Ok(super::Report {
            json: json!({"log_z": num(s.lower), "stderr": num(s.lower_stderr), "method": "ais (bounds)",
                         "lower": num(s.lower), "lower_stderr": num(s.lower_stderr), "upper": num(s.upper),
                         "upper_stderr": num(s.upper_stderr), "gap": num(s.gap), "markov_lower": num(s.markov_lower),
                         "delta": s.delta, "temperatures": s.temperatures, "ess": num(s.forward_ess),
                         "reverse_ess": num(s.reverse_ess), "draws": source, "chains": a.chains,
                         "seconds": seconds, "warnings": s.warnings}),
            text: format!(
                "log Z in [{:.6} +- {:.6}, {:.6} +- {:.6}] (forward and reverse AIS, gap {:.6}; {}, {} temperatures, reverse from {source}, {seconds:.2} s)\nlog Z >= {:.6} with probability >= {}",
                s.lower,
                s.lower_stderr,
                s.upper,
                s.upper_stderr,
                s.gap,
                spec.type_name(),
                s.temperatures,
                s.markov_lower,
                1.0 - s.delta
            ),
        });
    }
    if sandwich_asked {
        return Err(CliError::Unsupported(
            "--bounds without values asks for the AIS sandwich: use it with --method ais or smc (with quadrature it takes LO,HI)".into(),
        ));
    }
    if a.first_chain.is_some() && (a.method != LogzMethod::Ais || a.adaptive) {
        return Err(CliError::Unsupported(
            "--first-chain applies to --method ais with a fixed schedule: adaptive AIS and SMC choose their temperatures from all the particles".into(),
        ));
    }
    if a.method == LogzMethod::Smc || (a.method == LogzMethod::Ais && a.adaptive) {
        let r = run_smc(a, &spec, &model)?;
        let seconds = start.elapsed().as_secs_f64();
        for w in &r.warnings {
            eprintln!("warning: {w}");
        }
        let method = if a.method == LogzMethod::Smc {
            "smc"
        } else {
            "ais (adaptive)"
        };
        let ess_min = r.ess.iter().copied().fold(f64::INFINITY, f64::min);
        let mut json = json!({"log_z": num(r.log_z), "stderr": num(r.stderr), "method": method, "seconds": seconds,
                     "ess": num(ess_min), "log_z_base": r.log_z_base, "temperatures": r.temperatures,
                     "runs": r.run_log_z.len(), "run_log_z": r.run_log_z.iter().map(|v| num(*v)).collect::<Vec<_>>(),
                     "resamples": r.resamples, "chains": a.chains, "mixture_moves": a.mixture_moves, "waste_free": a.waste_free,
                     "warnings": r.warnings});
        if a.diagnostics {
            json["betas"] = nums(&r.betas);
            json["run_ess"] = nums(&r.ess);
        }
        return Ok(super::Report {
            json,
            text: format!(
                "log Z = {:.6} +- {:.6} ({method}, {}, {} temperatures, {} runs x {} particles, smallest weight ESS {:.1}, {seconds:.2} s)",
                r.log_z,
                r.stderr,
                spec.type_name(),
                r.temperatures,
                r.run_log_z.len(),
                a.chains,
                ess_min
            ),
        });
    }
    if a.method == LogzMethod::Ais {
        let r = run_ais(a, &spec, &model)?;
        let seconds = start.elapsed().as_secs_f64();
        let warnings = r.warnings();
        for w in &warnings {
            eprintln!("warning: {w}");
        }
        let mut json = json!({"log_z": num(r.log_z), "stderr": num(r.stderr), "method": "ais", "seconds": seconds,
                     "ess": num(r.ess), "log_z_base": r.log_z_base, "temps": a.temps, "chains": a.chains,
                     "warnings": warnings});
        if a.diagnostics || a.first_chain.is_some() {
            json["log_weights"] = nums(&r.log_weights);
        }
        if let Some(first) = a.first_chain {
            json["shard"] = json!({"first_chain": first, "chains": a.chains, "settings": {
                "model": spec.to_json(), "temps": a.temps, "schedule": format!("{:?}", a.schedule),
                "sampler": a.sampler, "steps_per_temp": a.steps_per_temp, "step_size": a.step_size,
                "leapfrog": a.leapfrog, "base_std": a.base_std, "seed": a.seed}});
        }
        return Ok(super::Report {
            json,
            text: format!(
                "log Z = {:.6} +- {:.6} (ais, {}, {} temperatures x {} chains, weight ESS {:.1}, {seconds:.2} s)",
                r.log_z,
                r.stderr,
                spec.type_name(),
                a.temps,
                a.chains,
                r.ess
            ),
        });
    }
    let log_z = match (a.method, &model) {
        (LogzMethod::Exact, Model::Continuous(e)) => e.log_partition().ok_or_else(|| {
            CliError::Unsupported(format!(
                "model `{}` has no closed-form log Z; use --method quadrature (1-D, 2-D)",
                spec.type_name()
            ))
        })?,
        (LogzMethod::Exact, Model::Binary(b)) => b.log_partition().ok_or_else(|| {
            CliError::Unsupported(format!(
                "model `{}` with {} units is too large to enumerate",
                spec.type_name(),
                b.dim()
            ))
        })?,
        (LogzMethod::Exact, Model::Categorical(c)) => c.log_partition().ok_or_else(|| {
            CliError::Unsupported(format!(
                "model `{}` with {} sites has too many states to enumerate (limit 2^26); use --method ais or smc",
                spec.type_name(),
                c.dim()
            ))
        })?,
        (LogzMethod::Quadrature, Model::Continuous(e)) => match &a.bounds {
            Some(b) => {
                if b.len() != 2 {
                    return Err(CliError::Unsupported(format!(
                        "--bounds takes two numbers LO,HI (e.g. --bounds=-8,8), got {}",
                        b.len()
                    )));
                }
                let d = e.dim();
                log_partition_grid(e.as_ref(), &vec![b[0]; d], &vec![b[1]; d], a.grid)?
            }
            None => {
                if !(a.tol > 0.0 && a.tol < 1.0) {
                    return Err(CliError::Unsupported(format!(
                        "--tol must be in (0, 1), got {}",
                        a.tol
                    )));
                }
                let opts = QuadratureOptions {
                    rel_tol: a.tol,
                    ..Default::default()
                };
                log_partition_quadrature(e.as_ref(), &opts)?
            }
        },
        (LogzMethod::Quadrature, Model::Binary(_) | Model::Categorical(_)) => {
            return Err(CliError::Unsupported(format!(
                "model `{}` is discrete; use --method exact",
                spec.type_name()
            )))
        }
        (LogzMethod::Ais | LogzMethod::Smc, _) => unreachable!("handled above"),
    };
    let seconds = start.elapsed().as_secs_f64();
    let method = match a.method {
        LogzMethod::Exact => "exact",
        LogzMethod::Quadrature => "quadrature",
        LogzMethod::Ais | LogzMethod::Smc => unreachable!("handled above"),
    };
    Ok(super::Report {
        json: json!({"log_z": num(log_z), "stderr": null, "method": method, "seconds": seconds}),
        text: format!(
            "log Z = {log_z:.10} ({method}, {}, {seconds:.3} s)",
            spec.type_name()
        ),
    })
}

/// The AIS sandwich ([`ebm_samplers::ais::bounds`]) on the adaptive plan,
/// the reverse run from exact draws of the model where it has an exact
/// sampler, otherwise from the final states of parallel tempering (8
/// temperatures, 1,000 warm-up scans, the same kernel); returns the
/// sandwich and where the draws came from.
fn run_sandwich(a: &LogzArgs, spec: &ebm_compose::ModelSpec, model: &Model) -> CliResult<(Sandwich, String)> {
    if !(a.delta > 0.0 && a.delta < 1.0) {
        return Err(CliError::Unsupported(format!(
            "--delta must be in (0, 1), got {}",
            a.delta
        )));
    }
    if a.waste_free.is_some() {
        return Err(CliError::Unsupported(
            "--waste-free does not apply to --bounds: forward and reverse AIS do not resample".into(),
        ));
    }
    let (make, target, cfg, reference_base) = smc_setup(a, spec, model)?;
    let n = a.chains;
    let d = model.dim();
    let exact = match target {
        Target::Continuous(e) => e.exact_sampler(),
        Target::Binary(_) | Target::Categorical(_) => None,
    };
    let (draws, source) = match exact {
        Some(sampler) => {
            let mut p = ebm_core::Points::zeros(n, d);
            for (i, x) in p.as_mut_slice().chunks_exact_mut(d).enumerate() {
                // streams past the sandwich's own three runs (3 (N + 1) + i)
                sampler.sample_into(&mut ebm_core::chain_rng(a.seed, 3 * (n + 1) + i), x);
            }
            (p, "exact draws".to_string())
        }
        None => {
            let pt = PtConfig {
                run: RunConfig {
                    warmup: 1000,
                    draws: 1,
                    seed: a.seed ^ 0x5eed,
                    store_draws: false,
                    ..Default::default()
                },
                ..Default::default()
            };
            let start = match target {
                Target::Continuous(_) => Start::Points(ebm_core::Points::zeros(n, d)),
                Target::Binary(_) | Target::Categorical(_) => Start::Uniform { chains: n },
            };
            let r = run_pt(
                &*make,
                target,
                reference(target, reference_base.as_ref()),
                start,
                &pt,
                &mut Silent,
            )
            .map_err(sampler_err)?;
            (
                r.run.chains.x,
                "parallel tempering (8 temperatures, 1,000 warm-up scans)".to_string(),
            )
        }
    };
    let s = sandwich(
        &*make,
        target,
        reference(target, reference_base.as_ref()),
        &draws,
        &cfg,
        a.delta,
    )
    .map_err(sampler_err)?;
    Ok((s, source))
}

/// The reference of `target` for log Z and for parallel tempering's
/// draws: its base, or the uniform distribution.
fn reference<'a>(target: Target<'_>, base: Option<&'a DiagGaussian>) -> Reference<'a> {
    match (target, base) {
        (Target::Continuous(_), Some(b)) => Reference::Base(b),
        _ => Reference::Uniform,
    }
}

/// The options every annealing method shares: the temperatures (or their
/// cap), the step size and the base's scale.
fn check_annealing_options(a: &LogzArgs) -> CliResult<()> {
    let bad = |m: String| Err(CliError::Unsupported(m));
    if a.temps < 2 || a.temps > 100_000_000 {
        return bad(format!("--temps must be between 2 and 1e8, got {}", a.temps));
    }
    if !(a.step_size.is_finite() && a.step_size > 0.0) {
        return bad(format!(
            "--step-size must be finite and positive, got {}",
            a.step_size
        ));
    }
    if !(a.base_std.is_finite() && a.base_std > 0.0) {
        return bad(format!(
            "--base-std must be finite and positive, got {}",
            a.base_std
        ));
    }
    Ok(())
}

/// A factory of the chosen kernel for adaptive AIS, SMC and the sandwich.
type KernelFactory = Box<dyn Fn() -> ebm_samplers::Result<Box<dyn ebm_samplers::Kernel>>>;

/// What adaptive AIS, SMC and the sandwich share: the checked options,
/// the kernel (from the registry, checked against the model), the model's
/// target, the settings, and the N(0, s^2 I) base of a continuous model.
fn smc_setup<'m>(
    a: &LogzArgs,
    spec: &ebm_compose::ModelSpec,
    model: &'m Model,
) -> CliResult<(KernelFactory, Target<'m>, SmcConfig, Option<DiagGaussian>)> {
    let bad = |m: String| Err(CliError::Unsupported(m));
    if a.chains < 2 {
        return bad(format!("--chains must be at least 2, got {}", a.chains));
    }
    if !(a.target_cess > 0.0 && a.target_cess < 1.0) {
        return bad(format!("--target-cess must be in (0, 1), got {}", a.target_cess));
    }
    if a.runs == Some(0) {
        return bad("--runs must be at least 1".into());
    }
    if let Some(p) = a
        .waste_free
        .filter(|&p| p < 2 || a.chains % p != 0 || a.chains / p < 2)
    {
        return bad(format!(
            "--waste-free {p} must split --chains {} into at least 2 chains of 2 or more states",
            a.chains
        ));
    }
    if a.waste_free.is_some() && a.method != LogzMethod::Smc {
        return bad("--waste-free needs --method smc (adaptive AIS does not resample)".into());
    }
    check_annealing_options(a)?;
    if a.leapfrog == 0 || a.steps_per_temp == 0 {
        return bad("--leapfrog and --steps-per-temp must be at least 1".into());
    }
    crate::limits::check_size(
        &format!("--chains {} x dimension {}", a.chains, model.dim()),
        a.chains,
        model.dim(),
    )?;
    let smc_method = a.method == LogzMethod::Smc;
    let target = Target::from(model);
    let name = a.sampler.clone().unwrap_or_else(|| {
        match target {
            Target::Binary(_) | Target::Categorical(_) => "gibbs",
            Target::Continuous(_) => "mala",
        }
        .to_string()
    });
    let settings = json!({"step_size": a.step_size, "leapfrog": a.leapfrog});
    // checks the kernel against the model (exit 2 with its message)
    registry_kernel(&name, &settings, target, spec.type_name(), KernelUse::Ais)?;
    let make: KernelFactory = Box::new(move || ebm_samplers::Registry::standard().build(&name, &settings));
    let cfg = SmcConfig {
        particles: a.chains,
        target_cess: a.target_cess,
        resample_below: smc_method.then_some(0.5),
        steps: a.steps_per_temp,
        mixture_moves: a.mixture_moves,
        waste_free: a.waste_free,
        adapt_step_size: true,
        max_temps: a.temps,
        runs: a.runs.unwrap_or(if smc_method { 10 } else { 1 }),
        pilot: !a.no_pilot,
        seed: a.seed,
    };
    let base = match target {
        Target::Continuous(e) => Some(DiagGaussian::new(vec![0.0; e.dim()], vec![a.base_std; e.dim()])?),
        Target::Binary(_) | Target::Categorical(_) => None,
    };
    Ok((make, target, cfg, base))
}

/// Adaptive AIS or SMC ([`ebm_samplers::ais::smc`]): from N(0, s^2 I)
/// for continuous models, the uniform distribution for binary ones.
fn run_smc(a: &LogzArgs, spec: &ebm_compose::ModelSpec, model: &Model) -> CliResult<SmcResult> {
    let (make, target, cfg, base) = smc_setup(a, spec, model)?;
    smc(&*make, target, reference(target, base.as_ref()), &cfg).map_err(sampler_err)
}

fn run_ais(a: &LogzArgs, spec: &ebm_compose::ModelSpec, model: &Model) -> CliResult<AisResult> {
    let shard = ebm_core::Shard {
        seed: a.seed,
        first_chain: a.first_chain.unwrap_or(0),
    };
    let bad = |m: String| Err(CliError::Unsupported(m));
    if a.chains == 0 {
        return bad("--chains must be at least 1".into());
    }
    if a.mixture_moves_arg.is_some_and(|m| m > 0) || a.waste_free.is_some() {
        return bad(
            "--mixture-moves and --waste-free need an adaptive run: --method smc (or ais with --adaptive for --mixture-moves)"
                .into(),
        );
    }
    check_annealing_options(a)?;
    if a.leapfrog == 0 {
        return bad("--leapfrog must be at least 1".into());
    }
    crate::limits::check_size(
        &format!("--chains {} x dimension {}", a.chains, model.dim()),
        a.chains,
        model.dim(),
    )?;
    let schedule = match a.schedule {
        ScheduleArg::Linear => Schedule::Linear,
        ScheduleArg::Geometric => Schedule::Geometric,
        ScheduleArg::Sigmoid => Schedule::Sigmoid,
    };
    let betas = schedule.betas(a.temps).map_err(sampler_err)?;
    let bar = SharedProgress::new("AIS");
    let tick = |done: usize, total: usize| bar.tick(done, total);
    let target = Target::from(model);
    let default = match target {
        Target::Binary(_) | Target::Categorical(_) => "gibbs",
        Target::Continuous(_) => "mala",
    };
    let kernel_name = a.sampler.as_deref().unwrap_or(default);
    let kernel = registry_kernel(
        kernel_name,
        &json!({"step_size": a.step_size, "leapfrog": a.leapfrog}),
        target,
        spec.type_name(),
        KernelUse::Ais,
    )?;
    if target.space() != ebm_samplers::StateSpace::Continuous && a.steps_per_temp == 0 {
        return bad(
            "--steps-per-temp must be at least 1 for a discrete model (Gibbs sweeps or kernel steps per temperature)".into(),
        );
    }
    let r = match target {
        // categorical models, and another kernel than Gibbs (gwg) on a
        // binary one, through the generic discrete AIS
        Target::Categorical(_) => {
            ais_discrete(target, &kernel, &betas, a.chains, a.steps_per_temp, shard, &tick)
        }
        Target::Binary(_) if kernel_name != "gibbs" => {
            ais_discrete(target, &kernel, &betas, a.chains, a.steps_per_temp, shard, &tick)
        }
        // an RBM anneals with its hidden units summed out, sixteen chains
        // in SIMD lanes
        Target::Binary(b) => match b.rbm() {
            Some(rbm) => ais_rbm_sweeps_with_progress(
                rbm,
                &RbmBase::ModelBiases,
                &betas,
                a.chains,
                a.steps_per_temp,
                shard,
                &tick,
            ),
            None => ais_binary_with_progress(b, &betas, a.chains, a.steps_per_temp, shard, &tick),
        },
        Target::Continuous(e) => {
            let base = DiagGaussian::new(vec![0.0; e.dim()], vec![a.base_std; e.dim()])?;
            ais_with_progress(
                e,
                &base,
                &kernel,
                &betas,
                a.chains,
                a.steps_per_temp,
                shard,
                &tick,
            )
        }
    };
    r.map_err(sampler_err)
}
