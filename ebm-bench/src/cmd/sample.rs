//! `ebm sample`: MCMC on a model file.

use super::kernels::{fits, registry_kernel, sampler_names, KernelUse};
use crate::draws_file::DrawWriter;
use crate::error::{sampler_err, CliError, CliResult};
use crate::json_num::{matrix, num, nums, opt};
use crate::model_file::load_model;
use crate::progress::Progress;
use clap::Args;
use ebm_core::energies::DiagGaussian;
use ebm_core::{setup_rng, Points};
use ebm_samplers::diagnostics::ChainSeries;
use ebm_samplers::driver::{run_target_shard, Diagnostics, Observer, Phase, RunConfig, Start};
use ebm_samplers::tempering::{run_pt, LadderKind, PtConfig, Reference};
use ebm_samplers::{Registry, StateSpace, StepStats, Target};
use rand_distr::{Distribution, StandardNormal};
use serde_json::{json, Value};
use std::time::Instant;

/// Arguments of `ebm sample`.
#[derive(Debug, Args)]
pub struct SampleArgs {
    /// The model file (JSON).
    #[arg(long)]
    pub model: String,
    /// The sampler, from the kernel registry: ula, mala, hmc, nuts, kinetic
    /// (continuous models), gibbs (binary models: block Gibbs for RBMs,
    /// single-site otherwise) or gwg (Gibbs-with-gradients, binary
    /// models); or pt, parallel tempering around --inner.
    #[arg(long, value_parser = sampler_names())]
    pub sampler: String,
    /// pt: the kernel at each temperature, one that leaves its target
    /// invariant (hmc, mala, nuts; gibbs or gwg for binary models).
    /// Default: hmc, or gibbs for binary models.
    #[arg(long)]
    pub inner: Option<String>,
    /// pt: the number of temperatures K, reference and target included
    /// (default 8).
    #[arg(long)]
    pub replicas: Option<usize>,
    /// pt: `adaptive` (moved during warm-up to equalise the swap rates;
    /// the default) or `geometric` (fixed).
    #[arg(long, value_parser = ["geometric", "adaptive"])]
    pub ladder: Option<String>,
    /// pt: the smallest positive inverse temperature of the geometric
    /// ladder (the adaptive one's start), in (0, 1); default 0.01.
    #[arg(long, allow_negative_numbers = true)]
    pub beta_min: Option<f64>,
    /// pt: the reference, `base` (beta = 0: N(0, base_std^2 I) for
    /// continuous models, uniform for binary and categorical ones, drawn exactly; the
    /// default) or `hot` (a hot chain at beta_min, moved by --inner).
    #[arg(long, value_parser = ["base", "hot"])]
    pub reference: Option<String>,
    /// pt: standard deviation of the N(0, s^2 I) reference of continuous
    /// models (default 3).
    #[arg(long, allow_negative_numbers = true)]
    pub base_std: Option<f64>,
    /// Number of chains.
    #[arg(long, default_value_t = 4)]
    pub chains: usize,
    /// Kept draws per chain.
    #[arg(long, default_value_t = 1000)]
    pub steps: usize,
    /// Iterations before the kept ones (warm-up: MALA, HMC and NUTS adapt
    /// their step size, HMC and NUTS their mass matrix, unless --no-adapt).
    #[arg(long, default_value_t = 500)]
    pub burn_in: usize,
    /// Keep every n-th iteration.
    #[arg(long, default_value_t = 1)]
    pub thin: usize,
    /// Initial step size (ULA, MALA, HMC).
    #[arg(long, default_value_t = 0.1, allow_negative_numbers = true)]
    pub step_size: f64,
    /// Leapfrog steps per HMC iteration.
    #[arg(long, default_value_t = 10)]
    pub leapfrog: usize,
    /// NUTS: the largest tree depth (1 to 30; at most 2^depth - 1 leapfrog
    /// steps per iteration).
    #[arg(long, default_value_t = 10)]
    pub max_depth: usize,
    /// HMC and NUTS: the mass matrix warm-up adapts, `diag` (variances) or
    /// `dense` (the regularised covariance; a D x D product per gradient).
    #[arg(long, default_value = "diag", value_parser = ["diag", "dense"])]
    pub metric: String,
    /// Kinetic Langevin: the friction gamma (at least 0; 0 is Hamiltonian
    /// dynamics without noise).
    #[arg(long, default_value_t = 1.0, allow_negative_numbers = true)]
    pub friction: f64,
    /// Gibbs-with-gradients: Metropolis-Hastings proposals (one flip
    /// each) per step (at least 1; default 1).
    #[arg(long)]
    pub proposals: Option<usize>,
    /// Keep the step size and mass matrix fixed.
    #[arg(long)]
    pub no_adapt: bool,
    /// Standard deviation of the N(0, s^2 I) initial points (continuous models).
    #[arg(long, default_value_t = 1.0, allow_negative_numbers = true)]
    pub init_std: f64,
    /// Run chains k..k+N of a larger run (a shard): chain k+i draws from
    /// stream k+i+1 of --seed and starts where it would in the whole run,
    /// so `ebm merge` of shards covering 0..M gives the one-process result
    /// with M chains bit for bit. Needs --no-adapt where the kernel adapts
    /// (warm-up adaptation pools every chain of a run); not for pt. The
    /// report then lists each chain's figures (`per_chain`) and the run's
    /// settings (`shard`).
    #[arg(long)]
    pub first_chain: Option<usize>,
    /// Seed.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Write the draws to this file (.csv or .npy, shape draws x chains x
    /// dim); with .npy the run keeps no draws in memory (the diagnostics
    /// read them back from the file).
    #[arg(long)]
    pub out: Option<String>,
    /// Print one JSON object.
    #[arg(long)]
    pub json: bool,
}

fn check(a: &SampleArgs) -> CliResult<()> {
    let bad = |m: String| Err(CliError::Unsupported(m));
    if a.chains == 0 {
        return bad("--chains must be at least 1".into());
    }
    match a.proposals {
        Some(0) => return bad("--proposals must be at least 1".into()),
        Some(_) if a.sampler != "gwg" && a.inner.as_deref() != Some("gwg") => {
            return bad(format!("--proposals applies to gwg, not {}", a.sampler))
        }
        _ => {}
    }
    if a.steps < 4 {
        return bad(format!(
            "--steps must be at least 4 (ESS and R-hat need draws), got {}",
            a.steps
        ));
    }
    if a.thin == 0 {
        return bad("--thin must be at least 1".into());
    }
    if !(a.step_size.is_finite() && a.step_size > 0.0) {
        return bad(format!(
            "--step-size must be finite and positive, got {}",
            a.step_size
        ));
    }
    if a.leapfrog == 0 {
        return bad("--leapfrog must be at least 1".into());
    }
    if !(1..=ebm_samplers::NUTS_MAX_DEPTH_LIMIT).contains(&a.max_depth) {
        return bad(format!(
            "--max-depth must be from 1 to {}, got {}",
            ebm_samplers::NUTS_MAX_DEPTH_LIMIT,
            a.max_depth
        ));
    }
    if !(a.friction.is_finite() && a.friction >= 0.0) {
        return bad(format!(
            "--friction must be finite and at least 0, got {}",
            a.friction
        ));
    }
    check_init_std(a.init_std)?;
    check_tempering(a)?;
    let total = a
        .chains
        .checked_mul(a.steps)
        .and_then(|v| v.checked_mul(a.thin.max(1)));
    if total.is_none_or(|t| t > 2_000_000_000) {
        return bad("--chains x --steps is too large".into());
    }
    Ok(())
}

/// The parallel-tempering options: only with `--sampler pt`, and in range.
fn check_tempering(a: &SampleArgs) -> CliResult<()> {
    let bad = |m: String| Err(CliError::Unsupported(m));
    if a.sampler != "pt" {
        let given = [
            ("--inner", a.inner.is_some()),
            ("--replicas", a.replicas.is_some()),
            ("--ladder", a.ladder.is_some()),
            ("--beta-min", a.beta_min.is_some()),
            ("--reference", a.reference.is_some()),
            ("--base-std", a.base_std.is_some()),
        ];
        if let Some((name, _)) = given.iter().find(|(_, g)| *g) {
            return bad(format!("{name} applies to --sampler pt, not {}", a.sampler));
        }
        return Ok(());
    }
    if let Some(r) = a.replicas.filter(|&r| !(2..=MAX_REPLICAS).contains(&r)) {
        return bad(format!("--replicas must be from 2 to {MAX_REPLICAS}, got {r}"));
    }
    if let Some(b) = a.beta_min.filter(|&b| !(b > 0.0 && b < 1.0)) {
        return bad(format!("--beta-min must be in (0, 1), got {b}"));
    }
    if let Some(s) = a.base_std.filter(|&s| !(s.is_finite() && s > 0.0)) {
        return bad(format!("--base-std must be finite and positive, got {s}"));
    }
    if a.ladder.as_deref() != Some("geometric") && a.burn_in < 20 {
        return bad(format!(
            "the adaptive ladder needs --burn-in of at least 20 scans, got {} (or use --ladder geometric)",
            a.burn_in
        ));
    }
    Ok(())
}

/// The kernel at each temperature of `--sampler pt`: `--inner`, or HMC
/// (Gibbs for binary models); it must leave its target exactly invariant
/// (the swaps assume each temperature's chain is at equilibrium) and fit
/// the model.
fn inner_kernel(a: &SampleArgs, target: Target<'_>, type_name: &str) -> CliResult<String> {
    let name = a.inner.clone().unwrap_or_else(|| {
        match target.space() {
            StateSpace::Continuous => "hmc",
            StateSpace::Binary | StateSpace::Categorical => "gibbs",
        }
        .to_string()
    });
    let reg = Registry::standard();
    let fitting: Vec<&str> = reg
        .entries()
        .iter()
        .filter(|e| e.invariant && fits(e, target))
        .map(|e| e.name)
        .collect();
    let entry = reg
        .find(&name)
        .map_err(|e| CliError::Unsupported(format!("--inner: {e}")))?;
    if !entry.invariant || !fits(entry, target) {
        let why = if entry.invariant {
            format!("does not sample `{type_name}` models")
        } else {
            "does not leave its target exactly invariant, as tempering needs".into()
        };
        return Err(CliError::Unsupported(format!(
            "--inner {name} {why}: use {}",
            fitting.join(", ")
        )));
    }
    Ok(name)
}

/// The most temperatures `--replicas` takes.
pub const MAX_REPLICAS: usize = 256;

/// Chains whose draws are kept in memory for ESS and R-hat; the moments
/// cover every chain, and --out streams every chain to disk, so memory
/// does not grow with the number of chains.
pub const DIAGNOSTIC_CHAINS: usize = 1024;

/// Bytes of kept draws that the diagnostics of a run streamed to a
/// `.npy` file hold at once: they read the draws back from the file a
/// group of coordinates at a time (a pass over the file each), so that a
/// long run's memory stops growing with its dimension.
pub const READ_BACK_BYTES: usize = 256 << 20;

/// Receives each kept draw: streams it to --out, keeps the first
/// [`DIAGNOSTIC_CHAINS`] chains for diagnostics (unless they will be read
/// back from a `.npy` file), and ticks the bar.
struct DrawSink {
    progress: Progress,
    out: Option<DrawWriter>,
    kept: Option<ChainSeries>,
    error: Option<CliError>,
}

impl Observer for DrawSink {
    fn on_step(&mut self, phase: Phase, iter: usize, total: usize, stats: &StepStats) {
        self.progress.on_step(phase, iter, total, stats);
    }

    fn stop_requested(&self) -> bool {
        self.progress.stop_requested()
    }

    fn on_draw(&mut self, draw: usize, states: &Points) {
        if let Some(kept) = &mut self.kept {
            kept.push_draw(states.as_slice());
        }
        if let (Some(w), None) = (&mut self.out, &self.error) {
            if let Err(e) = w.write_draw(draw, states.as_slice()) {
                self.error = Some(e);
            }
        }
    }
}

/// `--init-std s`, the standard deviation of [`gaussian_start`]'s N(0,
/// s^2 I), refused with one line unless finite and positive (`ebm sample`
/// and `ebm eval --sampler`).
pub fn check_init_std(s: f64) -> CliResult<()> {
    if s.is_finite() && s > 0.0 {
        return Ok(());
    }
    Err(CliError::Unsupported(format!(
        "--init-std must be finite and positive, got {s}"
    )))
}

/// `chains` N(0, `std`^2 I) starting points of continuous chains in `d`
/// dimensions, from the set-up stream of `seed`.
pub fn gaussian_start(chains: usize, d: usize, std: f64, seed: u64) -> CliResult<Points> {
    let mut r = setup_rng(seed);
    let x0: Vec<f64> = (0..chains * d)
        .map(|_| std * <StandardNormal as Distribution<f64>>::sample(&StandardNormal, &mut r))
        .collect();
    Ok(Points::from_vec(x0, d)?)
}

/// What a sampling run reports, from its per-chain figures: the one place
/// the report's numbers are computed, for a run and for `ebm merge` of
/// shards (which then agree bit for bit).
pub struct Summary<'a> {
    /// Mean of the draws (all chains).
    pub mean: &'a [f64],
    /// Covariance, d x d row-major.
    pub cov: &'a [f64],
    /// Each chain's mean acceptance.
    pub acceptance: &'a [f64],
    /// Each chain's divergences.
    pub divergences: &'a [usize],
    /// ESS, R-hat and MCSE of the kept chains.
    pub diag: &'a Diagnostics,
    /// The kernel's step size after warm-up.
    pub step_size: Option<f64>,
    /// The kernel's own figures, (name, mean per chain).
    pub figures: &'a [(String, Vec<f64>)],
}

impl Summary<'_> {
    /// (mean acceptance over chains, total divergences).
    pub fn totals(&self) -> (f64, usize) {
        (
            self.acceptance.iter().sum::<f64>() / self.acceptance.len() as f64,
            self.divergences.iter().sum(),
        )
    }

    /// Each figure averaged over chains.
    pub fn figure_means(&self) -> Vec<(&str, f64)> {
        self.figures
            .iter()
            .map(|(n, v)| (n.as_str(), v.iter().sum::<f64>() / v.len().max(1) as f64))
            .collect()
    }

    /// The report's numbers (without the timing).
    pub fn json(&self, d: usize) -> Value {
        let diag = self.diag;
        let (acceptance, divergences) = self.totals();
        let mut json = json!({
            "mean": nums(self.mean), "cov": matrix(self.cov, d), "acceptance": num(acceptance),
            "ess_min": num(diag.ess_min()), "ess_median": num(diag.ess_median()), "rhat_max": num(diag.rhat_max()),
            "ess_bulk_min": num(diag.ess_bulk_min()), "ess_tail_min": num(diag.ess_tail_min()),
            "rhat_rank_max": num(diag.rhat_rank_max()), "mcse_mean": nums(&diag.mcse_mean),
            "divergences": divergences, "step_size": opt(self.step_size),
        });
        let figures = self.figure_means();
        if !figures.is_empty() {
            json["figures"] = figures.iter().map(|&(n, v)| (n.to_string(), num(v))).collect();
        }
        json
    }

    /// Each chain's acceptance, divergences and figures.
    pub fn per_chain(&self) -> Value {
        json!({"acceptance": nums(self.acceptance), "divergences": self.divergences,
               "figures": self.figures.iter().map(|(n, v)| (n.clone(), nums(v))).collect::<serde_json::Map<_, _>>()})
    }
}

/// Everything that must agree between shards of one run besides their
/// chains: the model, the kernel and its settings, the schedule and seed.
fn shard_settings(a: &SampleArgs, spec: &ebm_compose::ModelSpec, kernel: &str) -> Value {
    json!({"model": spec.to_json(), "sampler": kernel, "seed": a.seed, "burn_in": a.burn_in, "thin": a.thin,
           "step_size": a.step_size, "leapfrog": a.leapfrog, "max_depth": a.max_depth, "metric": a.metric,
           "friction": a.friction, "proposals": a.proposals, "init_std": a.init_std, "no_adapt": a.no_adapt})
}

/// Sample from the model as the arguments say: the kernel from the
/// registry, the one driver for continuous and binary models.
pub fn run_sample(a: &SampleArgs) -> CliResult<super::Report> {
    check(a)?;
    let (spec, model) = load_model(&a.model)?;
    let d = model.dim();
    crate::limits::check_size(&format!("--chains {} x dimension {d}", a.chains), a.chains, d)?;
    let target = Target::from(&model);
    let first = a.first_chain.unwrap_or(0);
    let end = first.saturating_add(a.chains);
    crate::limits::check_size(
        &format!("--first-chain {first} + --chains {} x dimension {d}", a.chains),
        end,
        d,
    )?;
    let init = match target {
        Target::Continuous(_) => {
            // the whole run's starts, drawn in order, of which these are rows first..
            let all = gaussian_start(first + a.chains, d, a.init_std, a.seed)?;
            Start::Points(Points::from_vec(all.as_slice()[first * d..].to_vec(), d)?)
        }
        Target::Binary(_) | Target::Categorical(_) => Start::Uniform { chains: a.chains },
    };
    let settings = json!({"step_size": a.step_size, "leapfrog": a.leapfrog, "max_depth": a.max_depth,
                          "friction": a.friction, "metric": a.metric, "proposals": a.proposals.unwrap_or(1)});
    let tempering = a.sampler == "pt";
    let kernel_name = if tempering {
        inner_kernel(a, target, spec.type_name())?
    } else {
        a.sampler.clone()
    };
    if tempering {
        let k = a.replicas.unwrap_or(8);
        crate::limits::check_size(
            &format!("--chains {} x --replicas {k} x dimension {d}", a.chains),
            a.chains * k,
            d,
        )?;
    }
    let mut kernel = registry_kernel(
        &kernel_name,
        &settings,
        target,
        spec.type_name(),
        KernelUse::Sample,
    )?;
    if a.metric == "dense" && !kernel.dense_metric() {
        return Err(CliError::Unsupported(format!(
            "--metric dense applies to hmc and nuts, not {kernel_name}"
        )));
    }
    let start = Instant::now();
    let adapt = !a.no_adapt && kernel.target_accept().is_some();
    if a.first_chain.is_some() && (adapt || tempering) {
        return Err(CliError::Unsupported(if tempering {
            "--first-chain does not apply to pt: its ladder adapts over every chain of the run".into()
        } else {
            format!(
                "--first-chain needs --no-adapt for {kernel_name}: warm-up adaptation pools every chain of a run, so a shard would adapt differently (run a pilot and give its --step-size)"
            )
        }));
    }
    let cfg = RunConfig {
        warmup: a.burn_in,
        burn_in: 0,
        draws: a.steps,
        thin: a.thin,
        adapt_step_size: adapt,
        adapt_mass: adapt,
        store_draws: false,
        seed: a.seed,
    };
    let keep = a.chains.min(DIAGNOSTIC_CHAINS);
    let writer = a
        .out
        .as_deref()
        .map(|p| DrawWriter::create(p, a.steps, a.chains, d))
        .transpose()?;
    let mut sink = DrawSink {
        progress: Progress::new("sampling"),
        // no draws kept when the file will give them back
        kept: (!writer.as_ref().is_some_and(DrawWriter::reads_back))
            .then(|| ChainSeries::new(a.steps, keep, d)),
        out: writer,
        error: None,
    };
    let (out, report) = if tempering {
        let base;
        let reference = match (a.reference.as_deref(), target) {
            (Some("hot"), _) => Reference::Hot,
            (_, Target::Binary(_) | Target::Categorical(_)) => Reference::Uniform,
            (_, Target::Continuous(_)) => {
                base = DiagGaussian::new(vec![0.0; d], vec![a.base_std.unwrap_or(3.0); d])?;
                Reference::Base(&base)
            }
        };
        let pt = PtConfig {
            run: cfg,
            replicas: a.replicas.unwrap_or(8),
            ladder: match a.ladder.as_deref() {
                Some("geometric") => LadderKind::Geometric,
                _ => LadderKind::Adaptive,
            },
            beta_min: a.beta_min.unwrap_or(0.01),
            swap_every: 1,
        };
        let reg = Registry::standard();
        let make = || reg.build(&kernel_name, &settings);
        let r = run_pt(&make, target, reference, init, &pt, &mut sink).map_err(sampler_err)?;
        (r.run, Some(r.report))
    } else {
        (
            run_target_shard(&mut kernel, target, init, &cfg, first, &mut sink).map_err(sampler_err)?,
            None,
        )
    };
    if let Some(e) = sink.error.take() {
        return Err(e);
    }
    let reader = match sink.out.take() {
        Some(w) => w.finish_for_reading()?,
        None => None,
    };
    let (mean, cov) = out.moments();
    let diag = match (sink.kept.as_mut(), reader) {
        (Some(kept), _) => Diagnostics::of_series(kept),
        (None, Some(mut file)) => file.diagnostics(keep, READ_BACK_BYTES)?,
        (None, None) => Diagnostics::of_series(&mut ChainSeries::new(0, keep, d)),
    };
    let step_size = Some(out.step_size).filter(|e| e.is_finite());
    let seconds = start.elapsed().as_secs_f64();
    // the kernel's own figures (NUTS: tree depth, leapfrog steps) per chain
    let per_chain_figures: Vec<(String, Vec<f64>)> = out
        .figure_names
        .iter()
        .filter_map(|&n| Some((n.to_string(), out.figure_means(n)?)))
        .collect();
    let summary = Summary {
        mean: &mean,
        cov: &cov,
        acceptance: &out.acceptance,
        divergences: &out.divergences,
        diag: &diag,
        step_size,
        figures: &per_chain_figures,
    };
    let mut json = summary.json(d);
    json["seconds"] = json!(seconds);
    json["peak_rss_mib"] = json!(crate::rss::peak_rss_mib());
    let (acceptance, divergences) = summary.totals();
    let (ess_min, rhat_max) = (diag.ess_min(), diag.rhat_max());
    let (bulk, tail, rank) = (diag.ess_bulk_min(), diag.ess_tail_min(), diag.rhat_rank_max());
    let figures = summary.figure_means();
    if let Some(first) = a.first_chain {
        json["per_chain"] = summary.per_chain();
        json["shard"] = json!({"first_chain": first, "chains": a.chains, "draws": a.steps, "dim": d,
                               "settings": shard_settings(a, &spec, &kernel_name)});
    }
    if let Some(r) = &report {
        json["tempering"] = json!({
            "inner": kernel_name, "betas": nums(&r.betas), "swap_rates": nums(&r.swap_rates),
            "barrier": num(r.barrier), "round_trips": r.round_trips.iter().sum::<u64>(),
            "round_trips_per_chain": r.round_trips, "round_trip_rate": num(r.round_trip_rate),
            "predicted_round_trip_rate": num(r.predicted_round_trip_rate),
            "round_trip_rate_limit": num(r.round_trip_rate_limit),
            "step_sizes": nums(&r.step_sizes), "acceptance": nums(&r.acceptance),
            "grad_evals": r.grad_evals, "ladders": r.ladders.iter().map(|l| nums(l)).collect::<Vec<_>>(),
        });
    }
    let show = |v: &[f64]| v.iter().map(|x| format!("{x:.4}")).collect::<Vec<_>>().join(", ");
    let text = format!(
        "{} on `{}`: {} chains x {} draws in {seconds:.2} s\nmean        [{}]\nacceptance  {:.3}\nESS min     {ess_min:.1} (median {:.1}; bulk {bulk:.1}, tail {tail:.1})\nR-hat max   {rhat_max:.4} (rank-normalised {rank:.4})\ndivergences {}",
        a.sampler,
        spec.type_name(),
        a.chains,
        a.steps,
        show(&mean[..d.min(8)]) + if d > 8 { ", ..." } else { "" },
        acceptance,
        diag.ess_median(),
        divergences,
    ) + &figures
        .iter()
        .map(|(n, v)| format!("\n{n:<11} {v:.2} (mean)"))
        .collect::<String>()
        + &report
            .map(|r| {
                format!(
                    "\nladder      [{}] ({kernel_name} at each)\nswap rates  [{}]\nround trips {} ({:.4} per scan and chain; predicted {:.4}, at most {:.4} with Lambda = {:.2})",
                    show(&r.betas),
                    show(&r.swap_rates),
                    r.round_trips.iter().sum::<u64>(),
                    r.round_trip_rate,
                    r.predicted_round_trip_rate,
                    r.round_trip_rate_limit,
                    r.barrier
                )
            })
            .unwrap_or_default();
    Ok(super::Report { json, text })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Read back from a .npy file in groups of two coordinates (and of
    /// all seven), the diagnostics of the kept chains are those of the
    /// draws in memory, to the bit.
    #[test]
    fn diagnostics_read_back_are_those_in_memory() {
        let (n, chains, keep, d) = (203, 5, 3, 7);
        let path = std::env::temp_dir().join(format!("ebm-read-back-{}.npy", std::process::id()));
        let path = path.to_string_lossy().into_owned();
        let mut w = DrawWriter::create(&path, n, chains, d).unwrap();
        let mut x = vec![0.0; chains * d];
        let mut kept = Vec::new();
        for t in 0..n {
            for (i, v) in x.iter_mut().enumerate() {
                *v = 0.8 * *v + (((t * 29 + i * 13) % 19) as f64 - 9.0) / 3.0;
            }
            w.write_draw(t, &x).unwrap();
            kept.extend_from_slice(&x[..keep * d]);
        }
        let mut reader = w.finish_for_reading().unwrap().unwrap();
        let want = Diagnostics::of_draws(&kept, n, keep, d);
        for budget in [2 * n * keep * 8, usize::MAX] {
            let got = reader.diagnostics(keep, budget).unwrap();
            assert_eq!(format!("{got:?}"), format!("{want:?}"), "budget {budget}");
        }
        std::fs::remove_file(&path).ok();
    }
}
