//! `ebm eval`: measure a model against data (ebm-estimators' [`eval`]
//! metrics): held-out NLL with log Z as `ebm logz` computes it, MMD
//! between model samples and data with a permutation test, the kernel
//! Stein discrepancy of points against the model's score, and the Fisher
//! divergence to a reference model.
//!
//! [`eval`]: ebm_estimators::eval

use super::energy::energies_at;
use super::kernels::{registry_kernel, sampler_names, KernelUse};
use super::logz::{self, LogzArgs};
use super::sample::{check_init_std, gaussian_start};
use crate::error::{sampler_err, CliError, CliResult};
use crate::json_num::num;
use crate::model_file::load_model;
use crate::points_file::read_points;
use clap::{Args, Parser, ValueEnum};
use ebm_compose::ModelSpec;
use ebm_core::spec::Model;
use ebm_core::Points;
use ebm_estimators::eval::{fisher::fisher_divergence, ksd::ksd, mmd::mmd_test, nll::nll};
use ebm_samplers::driver::{run_target, RunConfig, Silent, Start};
use ebm_samplers::Target;
use serde_json::json;

/// The metrics of `ebm eval`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Metric {
    /// Held-out negative log-likelihood per point, mean E(x) + log Z.
    Nll,
    /// Maximum mean discrepancy between samples and data (RBF kernel,
    /// median-heuristic bandwidth), with a permutation p-value.
    Mmd,
    /// Kernel Stein discrepancy (IMQ kernel) of points against the
    /// model's score.
    Ksd,
    /// Fisher divergence to a reference model, at the data.
    Fisher,
}

/// Arguments of `ebm eval`.
#[derive(Debug, Args)]
pub struct EvalArgs {
    /// The model file (JSON).
    #[arg(long)]
    pub model: String,
    /// What to measure.
    #[arg(long, value_enum)]
    pub metric: Metric,
    /// Held-out data, one point per row (CSV, or .npy of shape (n, d) or
    /// (draws, chains, d)); nll, mmd and fisher need it, ksd measures it
    /// unless samples are given.
    #[arg(long)]
    pub data: Option<String>,
    /// Model samples for mmd and ksd (as --data; `ebm sample --out`
    /// writes them).
    #[arg(long, conflicts_with = "sampler")]
    pub samples: Option<String>,
    /// Draw the model samples for mmd and ksd with this sampler instead.
    #[arg(long, value_parser = sampler_names())]
    pub sampler: Option<String>,
    /// Sampler: chains.
    #[arg(long, default_value_t = 100)]
    pub chains: usize,
    /// Sampler: warm-up iterations per chain (step size adapted where the
    /// kernel has one).
    #[arg(long, default_value_t = 500)]
    pub warmup: usize,
    /// Sampler: draws kept per chain.
    #[arg(long, default_value_t = 10)]
    pub draws: usize,
    /// Sampler: initial step size.
    #[arg(long, default_value_t = 0.1, allow_negative_numbers = true)]
    pub step_size: f64,
    /// Sampler: leapfrog steps of HMC.
    #[arg(long, default_value_t = 10)]
    pub leapfrog: usize,
    /// Sampler: standard deviation of the N(0, s^2 I) initial points
    /// (continuous models), as `ebm sample --init-std`.
    #[arg(long, default_value_t = 1.0, allow_negative_numbers = true)]
    pub init_std: f64,
    /// fisher: the reference model file, whose score is taken as the
    /// truth.
    #[arg(long)]
    pub reference: Option<String>,
    /// nll: how log Z is computed (as `ebm logz --method`); default exact
    /// where the model has it, smc otherwise.
    #[arg(long, value_enum)]
    pub logz_method: Option<logz::LogzMethod>,
    /// mmd: permutations of the test (0: no p-value).
    #[arg(long, default_value_t = 200)]
    pub permutations: usize,
    /// mmd: the RBF bandwidth (default: the median heuristic).
    #[arg(long, allow_negative_numbers = true)]
    pub bandwidth: Option<f64>,
    /// Seed of the sampler, the permutations and log Z's estimate.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Print one JSON object.
    #[arg(long)]
    pub json: bool,
}

/// Run `ebm eval`.
pub fn run(a: &EvalArgs) -> CliResult<super::Report> {
    let (spec, model) = load_model(&a.model)?;
    let data = a
        .data
        .as_deref()
        .map(|p| points_for(&spec, &model, p))
        .transpose()?;
    let need_data = |what: &str| {
        data.clone()
            .ok_or_else(|| CliError::Unsupported(format!("--metric {what} needs --data")))
    };
    let (json, text) = match a.metric {
        Metric::Nll => {
            let data = need_data("nll")?;
            let energies = energies_at(&spec, &model, &data, a.data.as_deref().unwrap_or_default())?;
            let (log_z, se, method, warnings) = log_z(a, &model)?;
            let r = nll(&energies, log_z, se).map_err(CliError::from)?;
            (
                json!({"metric": "nll", "nll": num(r.nll), "stderr": num(r.stderr), "mean_energy": num(r.mean_energy),
                       "log_z": num(r.log_z), "log_z_stderr": num(r.log_z_stderr), "log_z_method": method,
                       "points": r.points, "warnings": warnings}),
                format!(
                    "NLL = {:.6} +- {:.6} per point ({} points; mean energy {:.6}, log Z {:.6} +- {:.6} by {method})",
                    r.nll, r.stderr, r.points, r.mean_energy, r.log_z, r.log_z_stderr
                ),
            )
        }
        Metric::Mmd => {
            let data = need_data("mmd")?;
            let samples = samples(a, &spec, &model)?.ok_or_else(|| {
                CliError::Unsupported(
                    "--metric mmd needs model samples: --samples S.npy or --sampler NAME".into(),
                )
            })?;
            let r = mmd_test(&samples, &data, a.bandwidth, a.permutations, a.seed).map_err(CliError::from)?;
            (
                json!({"metric": "mmd", "mmd2": num(r.mmd2), "bandwidth": num(r.bandwidth), "p_value": num(r.p_value),
                       "permutations": r.permutations, "samples": samples.len(), "data": data.len()}),
                format!(
                    "MMD^2 = {:.6} (unbiased; RBF bandwidth {:.4}), p = {:.4} over {} permutations ({} samples, {} data points)",
                    r.mmd2,
                    r.bandwidth,
                    r.p_value,
                    r.permutations,
                    samples.len(),
                    data.len()
                ),
            )
        }
        Metric::Ksd => {
            let e = continuous(&spec, &model, "ksd")?;
            let (points, of) = match samples(a, &spec, &model)? {
                Some(s) => (s, "samples"),
                None => (need_data("ksd (or --samples / --sampler)")?, "data"),
            };
            let r = ksd(&points, e).map_err(CliError::from)?;
            (
                json!({"metric": "ksd", "ksd2": num(r.ksd2), "ksd": num(r.ksd), "points": r.points, "of": of}),
                format!(
                    "KSD^2 = {:.6e} (IMQ kernel, U-statistic; KSD {:.6}) of {} {of} points",
                    r.ksd2, r.ksd, r.points
                ),
            )
        }
        Metric::Fisher => {
            let data = need_data("fisher")?;
            let path = a
                .reference
                .as_deref()
                .ok_or_else(|| CliError::Unsupported("--metric fisher needs --reference R.json".into()))?;
            let (ref_spec, reference) = load_model(path)?;
            let e = continuous(&spec, &model, "fisher")?;
            let r_e = continuous(&ref_spec, &reference, "fisher (the reference)")?;
            let r = fisher_divergence(&data, e, r_e).map_err(CliError::from)?;
            (
                json!({"metric": "fisher", "fisher": num(r.divergence), "stderr": num(r.stderr), "points": r.points}),
                format!(
                    "Fisher divergence = {:.6} +- {:.6} ({} points)",
                    r.divergence, r.stderr, r.points
                ),
            )
        }
    };
    Ok(super::Report { json, text })
}

/// Points from `path`, checked against the model (dimension; states of a
/// discrete model).
fn points_for(spec: &ModelSpec, model: &Model, path: &str) -> CliResult<Points> {
    let p = read_points(path)?;
    energies_at(spec, model, &p, path)?;
    Ok(p)
}

/// The continuous energy of `model`, or a message that `metric` needs
/// one.
fn continuous<'m>(spec: &ModelSpec, model: &'m Model, metric: &str) -> CliResult<&'m dyn ebm_core::Energy> {
    match model {
        Model::Continuous(e) => Ok(e.as_ref()),
        _ => Err(CliError::Unsupported(format!(
            "--metric {metric} needs the score of a continuous model; `{}` is discrete",
            spec.type_name()
        ))),
    }
}

/// Model samples from `--samples` or drawn with `--sampler`; `None` when
/// neither is given.
fn samples(a: &EvalArgs, spec: &ModelSpec, model: &Model) -> CliResult<Option<Points>> {
    if let Some(p) = &a.samples {
        return Ok(Some(points_for(spec, model, p)?));
    }
    let Some(name) = &a.sampler else { return Ok(None) };
    if a.chains == 0 || a.draws == 0 {
        return Err(CliError::Unsupported(
            "--chains and --draws must be at least 1".into(),
        ));
    }
    if !(a.step_size.is_finite() && a.step_size > 0.0) {
        return Err(CliError::Unsupported(format!(
            "--step-size must be finite and positive, got {}",
            a.step_size
        )));
    }
    check_init_std(a.init_std)?;
    let d = model.dim();
    crate::limits::check_size(
        &format!("--chains {} x --draws {} x dimension {d}", a.chains, a.draws),
        a.chains * a.draws,
        d,
    )?;
    let target = Target::from(model);
    let settings = json!({"step_size": a.step_size, "leapfrog": a.leapfrog});
    let mut kernel = registry_kernel(name, &settings, target, spec.type_name(), KernelUse::Sample)?;
    let start = match target {
        Target::Continuous(_) => Start::Points(gaussian_start(a.chains, d, a.init_std, a.seed)?),
        Target::Binary(_) | Target::Categorical(_) => Start::Uniform { chains: a.chains },
    };
    let adapt = kernel.target_accept().is_some();
    let cfg = RunConfig {
        warmup: a.warmup,
        burn_in: 0,
        draws: a.draws,
        thin: 1,
        adapt_step_size: adapt,
        adapt_mass: adapt,
        store_draws: true,
        seed: a.seed,
    };
    let out = run_target(&mut kernel, target, start, &cfg, &mut Silent).map_err(sampler_err)?;
    Ok(Some(Points::from_vec(out.draws.into_vec(), d)?))
}

/// log Z as `ebm logz --method M` computes it (M from --logz-method, or
/// exact where the model has it and smc otherwise): its value, standard
/// error (0 when exact), the method's name and the warnings.
fn log_z(a: &EvalArgs, model: &Model) -> CliResult<(f64, f64, String, Vec<serde_json::Value>)> {
    let method = a.logz_method.unwrap_or(if exact_log_z(model).is_some() {
        logz::LogzMethod::Exact
    } else {
        logz::LogzMethod::Smc
    });
    let name = method
        .to_possible_value()
        .map(|v| v.get_name().to_string())
        .unwrap_or_default();
    /// `ebm logz`'s own argument parser, for its defaults.
    #[derive(Parser)]
    struct Logz {
        #[command(flatten)]
        args: LogzArgs,
    }
    let seed = a.seed.to_string();
    let parsed = Logz::try_parse_from(["logz", "--model", &a.model, "--method", &name, "--seed", &seed])
        .map_err(|e| CliError::Unsupported(e.to_string()))?;
    let report = logz::run(&parsed.args)?;
    let value = report.json["log_z"].as_f64().ok_or_else(|| {
        CliError::Unsupported(format!("log Z by {name} is not finite: {}", report.json["log_z"]))
    })?;
    let se = report.json["stderr"].as_f64().unwrap_or(0.0);
    let warnings = report.json["warnings"].as_array().cloned().unwrap_or_default();
    Ok((value, se, name, warnings))
}

/// log Z in closed form or by enumeration, where the model has it.
pub fn exact_log_z(model: &Model) -> Option<f64> {
    match model {
        Model::Continuous(e) => e.log_partition(),
        Model::Binary(b) => b.log_partition(),
        Model::Categorical(c) => c.log_partition(),
    }
}

/// A metric of `model` on `data` while it trains (`ebm train
/// --eval-every`): the NLL with log Z exact, or KSD^2 of the data
/// against a continuous model's score; the points are checked already.
pub fn training_metric(metric: Metric, type_name: &str, model: &Model, data: &Points) -> CliResult<f64> {
    match (metric, model) {
        (Metric::Nll, _) => {
            let log_z = exact_log_z(model).ok_or_else(|| {
                CliError::Unsupported(format!(
                    "--eval-metric nll needs an exact log Z, which `{type_name}` has not: use ksd"
                ))
            })?;
            Ok(nll(&super::energy::energies(model, data), log_z, 0.0)?.nll)
        }
        (Metric::Ksd, Model::Continuous(e)) => Ok(ksd(data, e.as_ref())?.ksd2),
        (Metric::Ksd, _) => Err(CliError::Unsupported(format!(
            "--eval-metric ksd needs the score of a continuous model; `{type_name}` is discrete: use nll"
        ))),
        (Metric::Mmd | Metric::Fisher, _) => Err(CliError::Unsupported(
            "--eval-metric during training is nll or ksd (mmd needs samples, fisher a reference: use ebm eval on the written model)"
                .into(),
        )),
    }
}
