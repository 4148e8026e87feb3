//! `ebm sample`: MCMC on a model file.

use crate::draws_file::{write_draws, DrawWriter};
use crate::error::{CliError, CliResult};
use crate::model_file::{concrete_binary, load_model, ConcreteBinary};
use crate::progress::Progress;
use clap::{Args, ValueEnum};
use ebm_core::spec::Model;
use ebm_core::{setup_rng, Energy, Points};
use ebm_samplers::driver::{run, Diagnostics, Observer, Phase, RunConfig};
use ebm_samplers::gibbs::{run_binary, BinaryRun, RbmGibbs, SiteGibbs};
use ebm_samplers::{Hmc, Kernel, Mala, StepStats, Ula};
use rand_distr::{Distribution, StandardNormal};
use serde_json::json;
use std::time::Instant;

/// Which sampler to run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SamplerKind {
    /// Unadjusted Langevin.
    Ula,
    /// Metropolis-adjusted Langevin.
    Mala,
    /// Hamiltonian Monte Carlo.
    Hmc,
    /// Gibbs (binary models: block Gibbs for RBMs, single-site otherwise).
    Gibbs,
}

/// Arguments of `ebm sample`.
#[derive(Debug, Args)]
pub struct SampleArgs {
    /// The model file (JSON).
    #[arg(long)]
    pub model: String,
    /// The sampler.
    #[arg(long, value_enum)]
    pub sampler: SamplerKind,
    /// Number of chains.
    #[arg(long, default_value_t = 4)]
    pub chains: usize,
    /// Kept draws per chain.
    #[arg(long, default_value_t = 1000)]
    pub steps: usize,
    /// Iterations before the kept ones (warm-up: MALA and HMC adapt their
    /// step size, HMC its mass matrix, unless --no-adapt).
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
    /// Keep the step size and mass matrix fixed.
    #[arg(long)]
    pub no_adapt: bool,
    /// Standard deviation of the N(0, s^2 I) initial points (continuous models).
    #[arg(long, default_value_t = 1.0, allow_negative_numbers = true)]
    pub init_std: f64,
    /// Seed.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Write the draws to this file (.csv or .npy, shape draws x chains x dim).
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
    if !(a.init_std.is_finite() && a.init_std > 0.0) {
        return bad(format!(
            "--init-std must be finite and positive, got {}",
            a.init_std
        ));
    }
    let total = a
        .chains
        .checked_mul(a.steps)
        .and_then(|v| v.checked_mul(a.thin.max(1)));
    if total.is_none_or(|t| t > 2_000_000_000) {
        return bad("--chains x --steps is too large".into());
    }
    Ok(())
}

struct Summary {
    mean: Vec<f64>,
    cov: Vec<f64>,
    acceptance: f64,
    divergences: usize,
    diag: Diagnostics,
    /// Draws still to be written to --out (binary models); continuous
    /// runs stream theirs while sampling.
    draws: Option<Vec<f64>>,
    dim: usize,
    step_size: Option<f64>,
}

/// Chains whose draws are kept in memory for ESS and R-hat; the moments
/// cover every chain, and --out streams every chain to disk, so memory
/// does not grow with the number of chains.
pub const DIAGNOSTIC_CHAINS: usize = 1024;

/// Receives each kept draw: streams it to --out, keeps the first
/// [`DIAGNOSTIC_CHAINS`] chains for diagnostics, and ticks the bar.
struct DrawSink {
    progress: Progress,
    out: Option<DrawWriter>,
    kept: Vec<f64>,
    keep: usize,
    error: Option<CliError>,
}

impl Observer for DrawSink {
    fn on_step(&mut self, phase: Phase, iter: usize, total: usize, stats: &StepStats) {
        self.progress.on_step(phase, iter, total, stats);
    }

    fn on_draw(&mut self, draw: usize, states: &Points) {
        let d = states.dim();
        self.kept.extend_from_slice(&states.as_slice()[..self.keep * d]);
        if let (Some(w), None) = (&mut self.out, &self.error) {
            if let Err(e) = w.write_draw(draw, states.as_slice()) {
                self.error = Some(e);
            }
        }
    }
}

fn run_continuous<K: Kernel>(mut k: K, e: &dyn Energy, a: &SampleArgs) -> CliResult<Summary> {
    let d = e.dim();
    let mut r = setup_rng(a.seed);
    let x0: Vec<f64> = (0..a.chains * d)
        .map(|_| a.init_std * <StandardNormal as Distribution<f64>>::sample(&StandardNormal, &mut r))
        .collect();
    let adapt = !a.no_adapt && k.target_accept().is_some();
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
    let mut sink = DrawSink {
        progress: Progress::new("sampling"),
        out: a
            .out
            .as_deref()
            .map(|p| DrawWriter::create(p, a.steps, a.chains, d))
            .transpose()?,
        kept: Vec::with_capacity(a.steps * keep * d),
        keep,
        error: None,
    };
    let out = run(&mut k, e, Points::from_vec(x0, d)?, &cfg, &mut sink).map_err(sampler_err)?;
    if let Some(e) = sink.error.take() {
        return Err(e);
    }
    if let Some(w) = sink.out.take() {
        w.finish()?;
    }
    let (mean, cov) = out.moments();
    Ok(Summary {
        acceptance: out.acceptance.iter().sum::<f64>() / out.acceptance.len() as f64,
        divergences: out.divergences.iter().sum(),
        diag: Diagnostics::of_draws(&sink.kept, a.steps, keep, d),
        step_size: Some(out.step_size),
        mean,
        cov,
        dim: d,
        draws: None,
    })
}

fn binary_summary(r: BinaryRun) -> Summary {
    Summary {
        diag: r.diagnostics(),
        mean: r.mean,
        cov: r.covariance,
        acceptance: 1.0,
        divergences: 0,
        dim: r.dim,
        draws: Some(r.draws),
        step_size: None,
    }
}

pub(crate) fn sampler_err(e: ebm_samplers::SamplerError) -> CliError {
    CliError::Unsupported(e.to_string())
}

/// Sample from the model as the arguments say.
pub fn run_sample(a: &SampleArgs) -> CliResult<super::Report> {
    check(a)?;
    let (spec, model) = load_model(&a.model)?;
    crate::limits::check_size(
        &format!("--chains {} x dimension {}", a.chains, model.dim()),
        a.chains,
        model.dim(),
    )?;
    let start = Instant::now();
    let s = match (&model, a.sampler) {
        (Model::Continuous(e), SamplerKind::Ula) => {
            run_continuous(Ula::new(a.step_size).map_err(sampler_err)?, e.as_ref(), a)?
        }
        (Model::Continuous(e), SamplerKind::Mala) => {
            run_continuous(Mala::new(a.step_size).map_err(sampler_err)?, e.as_ref(), a)?
        }
        (Model::Continuous(e), SamplerKind::Hmc) => run_continuous(
            Hmc::new(a.step_size, a.leapfrog).map_err(sampler_err)?,
            e.as_ref(),
            a,
        )?,
        (Model::Continuous(_), SamplerKind::Gibbs) => {
            return Err(CliError::Unsupported(format!(
                "--sampler gibbs needs a binary model (rbm, ising); `{}` is continuous: use ula, mala or hmc",
                spec.type_name()
            )))
        }
        (Model::Binary(b), SamplerKind::Gibbs) => {
            if let Some(path) = &a.out {
                crate::draws_file::check_writable(path)?;
            }
            // binary runs keep their draws in memory
            crate::limits::check_size(
                &format!("--chains {} x --steps {}", a.chains, a.steps),
                a.chains.saturating_mul(a.steps),
                b.dim(),
            )?;
            let bin = binary_kernel_run(&spec, a)?;
            binary_summary(bin)
        }
        (Model::Binary(_), _) => {
            return Err(CliError::Unsupported(format!(
                "`{}` is a binary model: use --sampler gibbs",
                spec.type_name()
            )))
        }
    };
    let seconds = start.elapsed().as_secs_f64();
    if let (Some(path), Some(draws)) = (&a.out, &s.draws) {
        write_draws(path, draws, a.steps, a.chains, s.dim)?;
    }
    let d = s.dim;
    let cov_rows: Vec<&[f64]> = s.cov.chunks_exact(d).collect();
    let (ess_min, rhat_max) = (s.diag.ess_min(), s.diag.rhat_max());
    let json = json!({
        "mean": s.mean, "cov": cov_rows, "acceptance": s.acceptance,
        "ess_min": ess_min, "ess_median": s.diag.ess_median(), "rhat_max": rhat_max,
        "divergences": s.divergences, "step_size": s.step_size, "seconds": seconds,
    });
    let show = |v: &[f64]| v.iter().map(|x| format!("{x:.4}")).collect::<Vec<_>>().join(", ");
    let text = format!(
        "{} on `{}`: {} chains x {} draws in {seconds:.2} s\nmean        [{}]\nacceptance  {:.3}\nESS min     {ess_min:.1} (median {:.1})\nR-hat max   {rhat_max:.4}\ndivergences {}",
        format!("{:?}", a.sampler).to_lowercase(),
        spec.type_name(),
        a.chains,
        a.steps,
        show(&s.mean[..d.min(8)]) + if d > 8 { ", ..." } else { "" },
        s.acceptance,
        s.diag.ess_median(),
        s.divergences,
    );
    Ok(super::Report { json, text })
}

fn binary_kernel_run(spec: &ebm_compose::ModelSpec, a: &SampleArgs) -> CliResult<BinaryRun> {
    let r = match concrete_binary(spec)? {
        Some(ConcreteBinary::Rbm(rbm)) => {
            run_binary(&RbmGibbs::new(rbm), a.chains, a.burn_in, a.steps, a.thin, a.seed)
        }
        Some(ConcreteBinary::Ising(m)) => run_binary(
            &SiteGibbs::checkerboard(m),
            a.chains,
            a.burn_in,
            a.steps,
            a.thin,
            a.seed,
        ),
        None => {
            return Err(CliError::Unsupported(format!(
                "no Gibbs sampler for `{}`",
                spec.type_name()
            )))
        }
    };
    r.map_err(sampler_err)
}
