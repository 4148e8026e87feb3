//! `ebm train`: fit a model file to data with CD, PCD, a replay buffer,
//! DSM, NCE, pseudo-likelihood or ratio matching, and write the trained
//! model file.

use super::kernels::{kernel_names, KernelUse};
use super::train_log::{lock, EvalHook, TrainLog};
use crate::error::{CliError, CliResult};
use crate::json_num::{num, opt};
use crate::model_file::load_model;
use crate::points_file::read_points;
use clap::{Args, ValueEnum};
use dfdx::prelude::Cpu;
use ebm_compose::ModelSpec;
use ebm_core::{EnergySpec, Points};
use ebm_estimators::capability::{
    CapabilityEngine, CapabilityObjective, EnergyCapability, HandCategorical, HandGbRbm, HandPairwise,
};
use ebm_estimators::checkpoint::TrainCheckpoint;
use ebm_estimators::engine::StepEngine;
use ebm_estimators::models::{ConvEnergy, GaussianEnergy, MlpEnergy, TrainableRbm};
use ebm_estimators::objectives::{
    ChainNegatives, Dsm, ExactScoreMatching, GibbsNegatives, Init, MaxLikelihood, Nce, Negatives, Projection,
    PseudoLikelihood, RatioMatching, SlicedScoreMatching,
};
use ebm_estimators::optim::{LrSchedule, OptimizerConfig, UpdateRules};
use ebm_estimators::trainer::{resume, run_engine, train, Checkpoints, Schedule, TrainConfig, TrainSummary};
use ebm_estimators::{EstimatorError, TrainableEnergy};
use ebm_samplers::{Kernel, Registry};
use serde_json::json;
use std::path::{Path, PathBuf};

/// Training objectives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum EstimatorArg {
    /// Contrastive divergence: chains restarted at the data (CD-k).
    Cd,
    /// Persistent contrastive divergence.
    Pcd,
    /// Maximum likelihood with a replay buffer.
    Replay,
    /// Short-run MLE: K sampler steps from fresh noise each step, nothing
    /// persists (Nijkamp et al. 2019).
    Shortrun,
    /// Denoising score matching (continuous models).
    Dsm,
    /// Sliced score matching (continuous models): random projections of
    /// the score's Jacobian, by central differences of the score.
    Ssm,
    /// Exact (Hyvarinen) score matching with the exact Hessian trace
    /// (mlp, gaussian and diag_gaussian models).
    Esm,
    /// Noise-contrastive estimation.
    Nce,
    /// Pseudo-likelihood (discrete models: rbm, pairwise, potts, categorical).
    Pl,
    /// Ratio matching (discrete models: rbm, pairwise, potts, categorical).
    Ratio,
}

/// The directions of `--projection`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ProjectionArg {
    /// v ~ N(0, I).
    Gaussian,
    /// +-1 per coordinate.
    Rademacher,
}

/// The noise of `--init`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum InitArg {
    /// A Gaussian with the data's mean and covariance.
    Gaussian,
    /// Uniform over the data's bounding box.
    Uniform,
}

/// Precisions of `--precision`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PrecisionArg {
    /// Double precision throughout.
    F64,
    /// Single precision: DSM on an MLP (the fused kernel's matrix
    /// products), a conv model's passes (any estimator; the model file
    /// keeps `"arithmetic":"f32"`), or PCD with SGD on an RBM (parameters,
    /// chains and products); other RBM runs round the trained model to f32.
    F32,
}

/// Optimizers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OptimizerArg {
    /// Adam (betas 0.9, 0.999).
    Adam,
    /// Stochastic gradient descent (optionally with --momentum).
    Sgd,
}

/// Arguments of `ebm train`.
#[derive(Debug, Args)]
pub struct TrainArgs {
    /// Training data: CSV (one row per point) or .npy (rows x columns).
    #[arg(long)]
    pub data: String,
    /// The initial model file (gaussian, diag_gaussian, mlp, conv, rbm, ...).
    #[arg(long, required_unless_present_any = ["mlp", "conv", "resume"])]
    pub model: Option<String>,
    /// Instead of --model: a fresh MLP energy with these widths, input
    /// first, last 1 (e.g. 2,128,128,1), initialised like PyTorch's
    /// nn.Linear from --seed.
    #[arg(long, value_delimiter = ',', conflicts_with = "model")]
    pub mlp: Option<Vec<usize>>,
    /// Instead of --model: a fresh convolutional energy on images, its
    /// convolutions as OUT:KERNEL[:STRIDE[:PADDING]] separated by commas
    /// (e.g. 16:3:1:1,32:3:2:1), each followed by the activation, then a
    /// linear layer to the energy; initialised like PyTorch's Conv2d and
    /// Linear from --seed.
    #[arg(long, conflicts_with_all = ["model", "mlp"])]
    pub conv: Option<String>,
    /// The image shape of --conv, CHANNELS,HEIGHT,WIDTH (rows of the data
    /// are images flattened channel-major); by default one channel on a
    /// square grid (64 columns: 1,8,8).
    #[arg(long, value_delimiter = ',', requires = "conv")]
    pub image: Option<Vec<usize>>,
    /// Activation of --mlp and --conv: silu, softplus or tanh.
    #[arg(long, default_value = "silu")]
    pub activation: String,
    /// The objective.
    #[arg(long, value_enum)]
    pub estimator: EstimatorArg,
    /// Where to write the trained model file (also the checkpoint file).
    #[arg(long)]
    pub out: String,
    /// Optimizer steps (batches drawn with replacement).
    #[arg(long, default_value_t = 1000, conflicts_with = "epochs")]
    pub steps: usize,
    /// Train for this many passes over the data instead of --steps.
    #[arg(long)]
    pub epochs: Option<usize>,
    /// Rows per batch.
    #[arg(long, default_value_t = 128)]
    pub batch: usize,
    /// Learning rate.
    #[arg(long, default_value_t = 1e-3, allow_negative_numbers = true)]
    pub lr: f64,
    /// Optimizer.
    #[arg(long, value_enum, default_value = "adam")]
    pub optimizer: OptimizerArg,
    /// SGD momentum in [0, 1).
    #[arg(long, default_value_t = 0.0, allow_negative_numbers = true)]
    pub momentum: f64,
    /// The learning rate after warm-up: constant, cosine (decay to 0 by
    /// the end of the run), cosine:FLOOR (to FLOOR x the rate) or
    /// step:EVERY:GAMMA (x GAMMA every EVERY steps).
    #[arg(long, default_value = "constant")]
    pub lr_schedule: String,
    /// Linear warm-up of the learning rate over this many steps.
    #[arg(long, default_value_t = 0)]
    pub warmup_steps: usize,
    /// Clip the gradient to this Euclidean norm (over every parameter).
    #[arg(long, allow_negative_numbers = true)]
    pub clip_grad: Option<f64>,
    /// Decoupled weight decay lambda (theta -= lr lambda theta before each
    /// update, as AdamW).
    #[arg(long, default_value_t = 0.0, allow_negative_numbers = true)]
    pub weight_decay: f64,
    /// Keep an exponential moving average of the parameters with this rate
    /// in (0, 1) (e.g. 0.999); it is stored in checkpoints and written as
    /// the trained model.
    #[arg(long, allow_negative_numbers = true)]
    pub ema: Option<f64>,
    /// Seed of every random draw.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Write the checkpoint (and the model to --out) every this many
    /// steps; it is always written at the end and on Ctrl-C.
    #[arg(long)]
    pub checkpoint_every: Option<usize>,
    /// The checkpoint file: model, optimizer state, random streams and
    /// chains, enough to resume bit-identically (default: OUT.ckpt).
    #[arg(long)]
    pub checkpoint: Option<String>,
    /// Continue the run saved in this checkpoint: same data and settings
    /// (--model may be left out); a larger --steps or --epochs extends it.
    #[arg(long)]
    pub resume: Option<String>,
    /// CD/PCD/replay: sampler transitions (Gibbs sweeps) per step.
    #[arg(long, default_value_t = 1)]
    pub k: usize,
    /// CD/PCD/replay on continuous models: the kernel, from the registry
    /// (ula, mala, hmc, nuts, kinetic; gibbs for a gb_rbm). Default: mala,
    /// or block Gibbs on a Gaussian-Bernoulli RBM.
    #[arg(long, value_parser = kernel_names(KernelUse::Negatives))]
    pub sampler: Option<String>,
    /// CD/PCD/replay on continuous models: the kernel's step size.
    #[arg(long, default_value_t = 0.1, allow_negative_numbers = true)]
    pub step_size: f64,
    /// HMC leapfrog steps.
    #[arg(long, default_value_t = 5)]
    pub leapfrog: usize,
    /// PCD: persistent chains (default: the batch size).
    #[arg(long)]
    pub chains: Option<usize>,
    /// Replay: buffer capacity.
    #[arg(long, default_value_t = 10_000)]
    pub buffer: usize,
    /// Replay: share of chains restarted from noise each step.
    #[arg(long, default_value_t = 0.05, allow_negative_numbers = true)]
    pub reinit: f64,
    /// Replay and short-run: the noise fresh chains start from (default:
    /// gaussian for replay, uniform for shortrun; RBMs: random bits).
    #[arg(long, value_enum)]
    pub init: Option<InitArg>,
    /// --sampler ula: the Langevin noise scale s, x' = x - eps grad E + s
    /// xi (default sqrt(2 eps)); short-run MLE often takes s well below.
    #[arg(long, allow_negative_numbers = true)]
    pub noise: Option<f64>,
    /// CD/PCD/replay: weight of the energy-magnitude regulariser.
    #[arg(long, default_value_t = 0.0, allow_negative_numbers = true)]
    pub alpha: f64,
    /// DSM: noise level(s), comma-separated (several: weighted by sigma^2).
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "0.1",
        allow_negative_numbers = true
    )]
    pub sigma: Vec<f64>,
    /// SSM: the directions, gaussian or rademacher.
    #[arg(long, value_enum, default_value = "gaussian")]
    pub projection: ProjectionArg,
    /// SSM: directions per datum.
    #[arg(long, default_value_t = 1)]
    pub slices: usize,
    /// SSM: the plain form 1/2 (v.s)^2 instead of the variance-reduced
    /// 1/2 |s|^2.
    #[arg(long)]
    pub no_variance_reduction: bool,
    /// SSM: the central difference's step h along each direction.
    #[arg(long, default_value_t = 1e-3, allow_negative_numbers = true)]
    pub fd_step: f64,
    /// NCE: noise samples per data point.
    #[arg(long, default_value_t = 1)]
    pub noise_ratio: usize,
    /// f32: DSM on an MLP runs the fused kernel's matrix products in
    /// single precision (about twice as fast; the optimizer updates f64
    /// parameters); an RBM with PCD and plain SGD trains in f32 throughout
    /// on the closed-form host step (about 1.3x as fast), and with other
    /// estimators or optimizers on its hand-written form in f64. The
    /// trained model file holds the f32-rounded values.
    #[arg(long, value_enum, default_value = "f64")]
    pub precision: PrecisionArg,
    /// Evaluate the model every this many steps (and at the end) on
    /// --eval-data, printing each value on stderr and listing them in the
    /// report.
    #[arg(long, requires = "eval_data")]
    pub eval_every: Option<usize>,
    /// Held-out data for --eval-every (CSV or .npy).
    #[arg(long, requires = "eval_every")]
    pub eval_data: Option<String>,
    /// The metric of --eval-every: nll (models with an exact log Z) or ksd
    /// (continuous models); default nll where log Z is exact, else ksd.
    #[arg(long, value_enum, requires = "eval_every")]
    pub eval_metric: Option<super::eval::Metric>,
    /// Print one JSON object.
    #[arg(long)]
    pub json: bool,
    /// The evaluations of --eval-every, made while training (set up by
    /// `run`).
    #[arg(skip)]
    pub eval: std::sync::Mutex<Option<super::train_log::EvalHook>>,
    /// List every step's loss in the JSON report (`"losses"`; the steps
    /// this process ran, from the resumed step on).
    #[arg(long)]
    pub loss_history: bool,
    /// The losses of --loss-history, gathered while training.
    #[arg(skip)]
    pub losses: std::sync::Mutex<Vec<f64>>,
}

/// What a model-specific run hands back.
struct Outcome {
    summary: TrainSummary,
    spec: EnergySpec,
    log_normaliser: Option<f64>,
}

/// Run the trainer with a progress bar, from `from` if resuming. When
/// the loss turns non-finite, the trainer has written the last good model
/// to --out; on Ctrl-C, the checkpoint.
fn run_loop<F, M, O>(
    model: &mut M,
    objective: &mut O,
    data: &Points,
    cfg: &TrainConfig,
    a: &TrainArgs,
    from: Option<&TrainCheckpoint>,
) -> CliResult<TrainSummary>
where
    F: ebm_estimators::Real,
    Cpu: dfdx::prelude::Device<F>,
    M: TrainableEnergy<F, Cpu> + Clone,
    O: CapabilityObjective,
{
    let result = {
        let mut observer = TrainLog::new(a);
        match from {
            Some(ck) => resume(model, objective, data, cfg, &mut observer, ck),
            None => train(model, objective, data, cfg, &mut observer),
        }
    };
    result.map_err(|e| map_train_error(e, a))
}

/// A training error as the command reports it: what was written where,
/// and how to continue.
fn map_train_error(e: EstimatorError, a: &TrainArgs) -> CliError {
    let ckpt = checkpoint_path(a);
    match e {
        EstimatorError::NonFiniteLoss { .. } => CliError::Unsupported(format!(
            "{e} (written to {}); try a smaller --lr",
            a.out
        )),
        EstimatorError::Interrupted { step, total } => CliError::Interrupted(format!(
            "interrupted after {step} of {total} steps; checkpoint written to {ckpt}, model to {}; continue with --resume {ckpt}",
            a.out
        )),
        EstimatorError::Checkpoint(m) => CliError::Unsupported(format!(
            "--resume {}: {m}",
            a.resume.as_deref().unwrap_or_default()
        )),
        other => other.into(),
    }
}

fn checkpoint_path(a: &TrainArgs) -> String {
    a.checkpoint.clone().unwrap_or_else(|| format!("{}.ckpt", a.out))
}

fn negatives(a: &TrainArgs) -> Negatives {
    match a.estimator {
        EstimatorArg::Cd => Negatives::Cd { steps: a.k },
        EstimatorArg::Pcd => Negatives::Pcd {
            steps: a.k,
            chains: a.chains.unwrap_or(a.batch),
        },
        EstimatorArg::Shortrun => Negatives::ShortRun {
            steps: a.k,
            init: match a.init {
                Some(InitArg::Gaussian) => Init::FittedGaussian,
                Some(InitArg::Uniform) | None => Init::Uniform,
            },
        },
        _ => Negatives::Replay {
            steps: a.k,
            capacity: a.buffer,
            reinit: a.reinit,
            init: match a.init {
                Some(InitArg::Uniform) => Init::Uniform,
                Some(InitArg::Gaussian) | None => Init::FittedGaussian,
            },
        },
    }
}

/// The negatives' kernel, from the registry (`--sampler`, or `default`;
/// short-run MLE defaults to Langevin, ula).
fn kernel(a: &TrainArgs, default: &str) -> CliResult<Box<dyn Kernel>> {
    let default = if a.estimator == EstimatorArg::Shortrun && default == "mala" {
        "ula"
    } else {
        default
    };
    let name = a.sampler.as_deref().unwrap_or(default);
    if a.noise.is_some() && name != "ula" {
        return Err(CliError::Unsupported(format!(
            "--noise is the Langevin noise scale of --sampler ula, not of {name}"
        )));
    }
    Registry::standard()
        .build(
            name,
            &serde_json::json!({"step_size": a.step_size, "leapfrog": a.leapfrog, "noise": a.noise}),
        )
        .map_err(|e| CliError::Unsupported(e.to_string()))
}

/// Maximum likelihood with chain negatives: the scheme of `negatives`, the
/// kernel of `kernel` (`default` unless --sampler), the energy
/// regulariser --alpha.
fn chain_max_likelihood(
    a: &TrainArgs,
    default: &str,
) -> CliResult<MaxLikelihood<ChainNegatives<Box<dyn Kernel>>>> {
    let sampler = ChainNegatives::new(kernel(a, default)?, negatives(a))?;
    Ok(MaxLikelihood::new(sampler).with_regulariser(a.alpha)?)
}

/// Train a continuous model with any objective.
fn continuous<M>(
    mut model: M,
    a: &TrainArgs,
    data: &Points,
    cfg: &TrainConfig,
    from: Option<&TrainCheckpoint>,
) -> CliResult<Outcome>
where
    M: ebm_estimators::TrainableEnergy<f64, Cpu> + Clone,
{
    let (summary, log_normaliser) = match a.estimator {
        EstimatorArg::Pl | EstimatorArg::Ratio => {
            return Err(CliError::Unsupported(format!(
                "--estimator {} needs a discrete model (rbm, pairwise): it compares each datum with its single-site changes",
                format!("{:?}", a.estimator).to_lowercase()
            )))
        }
        EstimatorArg::Dsm => {
            let mut o = Dsm::multi(a.sigma.clone())?;
            (run_loop(&mut model, &mut o, data, cfg, a, from)?, None)
        }
        EstimatorArg::Ssm => {
            let projection = match a.projection {
                ProjectionArg::Gaussian => Projection::Gaussian,
                ProjectionArg::Rademacher => Projection::Rademacher,
            };
            let mut o = SlicedScoreMatching::new(projection, a.slices, !a.no_variance_reduction, a.fd_step)?;
            (run_loop(&mut model, &mut o, data, cfg, a, from)?, None)
        }
        EstimatorArg::Esm => {
            let mut o = ExactScoreMatching::new();
            (run_loop(&mut model, &mut o, data, cfg, a, from)?, None)
        }
        EstimatorArg::Nce => {
            let mut o = Nce::new(a.noise_ratio, None)?;
            let s = run_loop(&mut model, &mut o, data, cfg, a, from)?;
            (s, Some(o.log_normaliser()))
        }
        _ => {
            let mut o = chain_max_likelihood(a, "mala")?;
            (run_loop(&mut model, &mut o, data, cfg, a, from)?, None)
        }
    };
    Ok(Outcome {
        summary,
        spec: model.to_spec(),
        log_normaliser,
    })
}

/// Train an RBM: maximum likelihood with Gibbs negatives (cd, pcd or
/// replay); DSM and NCE need a continuous model.
fn rbm<F: ebm_estimators::Real>(
    mut model: TrainableRbm<F, Cpu>,
    a: &TrainArgs,
    data: &Points,
    cfg: &TrainConfig,
    from: Option<&TrainCheckpoint>,
) -> CliResult<Outcome>
where
    Cpu: dfdx::prelude::Device<F>,
{
    if let Some(v) = data.as_slice().iter().find(|&&v| v != 0.0 && v != 1.0) {
        return Err(CliError::Data {
            path: a.data.clone(),
            message: format!("an RBM needs binary data (0 or 1), found {v}"),
        });
    }
    if matches!(
        a.estimator,
        EstimatorArg::Dsm | EstimatorArg::Ssm | EstimatorArg::Nce
    ) {
        return Err(CliError::Unsupported(format!(
            "--estimator {} needs a continuous model (gaussian, mlp, conv); an RBM trains with cd, pcd, replay, shortrun, pl or ratio",
            format!("{:?}", a.estimator).to_lowercase()
        )));
    }
    let summary = match a.estimator {
        EstimatorArg::Pl => run_loop(&mut model, &mut PseudoLikelihood::new(), data, cfg, a, from)?,
        EstimatorArg::Ratio => run_loop(&mut model, &mut RatioMatching::new(), data, cfg, a, from)?,
        _ => {
            let mut o = MaxLikelihood::new(GibbsNegatives::new(negatives(a))?).with_regulariser(a.alpha)?;
            run_loop(&mut model, &mut o, data, cfg, a, from)?
        }
    };
    Ok(Outcome {
        summary,
        spec: model.to_spec(),
        log_normaliser: None,
    })
}

/// Train a pairwise, Potts or categorical model (its hand-written
/// capability: [`HandPairwise`] or [`HandCategorical`]) by
/// pseudo-likelihood, ratio matching, CD or PCD.
fn discrete(
    spec: &EnergySpec,
    a: &TrainArgs,
    data: &Points,
    cfg: &TrainConfig,
    from: Option<&TrainCheckpoint>,
) -> CliResult<Outcome> {
    let mut model: Box<dyn EnergyCapability> = match spec.build()? {
        ebm_core::spec::Model::Binary(b) => {
            b.pairwise().cloned().map(|m| Box::new(HandPairwise::new(m)) as _)
        }
        ebm_core::spec::Model::Categorical(c) => c
            .categorical_pairwise()
            .cloned()
            .map(|m| Box::new(HandCategorical::new(m)) as _),
        ebm_core::spec::Model::Continuous(_) => None,
    }
    .ok_or_else(|| {
        CliError::Unsupported(format!(
            "`{}` is not a pairwise or categorical model",
            spec.type_name()
        ))
    })?;
    let summary = discrete_objective(model.as_mut(), spec.type_name(), a, data, cfg, from)?;
    Ok(Outcome {
        summary,
        spec: model.to_spec(),
        log_normaliser: None,
    })
}

/// Train a discrete model's capability by pseudo-likelihood, ratio
/// matching, or maximum likelihood with chain negatives (site Gibbs by
/// default; cd or pcd).
fn discrete_objective(
    model: &mut dyn EnergyCapability,
    type_name: &str,
    a: &TrainArgs,
    data: &Points,
    cfg: &TrainConfig,
    from: Option<&TrainCheckpoint>,
) -> CliResult<TrainSummary> {
    match a.estimator {
        EstimatorArg::Pl => by_capability(model, &mut PseudoLikelihood::new(), a, data, cfg, from),
        EstimatorArg::Ratio => by_capability(model, &mut RatioMatching::new(), a, data, cfg, from),
        EstimatorArg::Cd | EstimatorArg::Pcd => {
            // the data must be the model's states before chains start there
            PseudoLikelihood::new().prepare(model, data, a.seed)?;
            let mut o = chain_max_likelihood(a, "gibbs")?;
            by_capability(model, &mut o, a, data, cfg, from)
        }
        other => Err(CliError::Unsupported(format!(
            "--estimator {} does not train a `{type_name}` model: use pl, ratio, cd or pcd",
            format!("{other:?}").to_lowercase()
        ))),
    }
}

/// Train a Gaussian-Bernoulli RBM (its hand-written capability, the
/// scales sigma fixed): maximum likelihood with chain negatives (block
/// Gibbs by default) or NCE.
fn gb_rbm(
    spec: &EnergySpec,
    a: &TrainArgs,
    data: &Points,
    cfg: &TrainConfig,
    from: Option<&TrainCheckpoint>,
) -> CliResult<Outcome> {
    let model = match spec.build()? {
        ebm_core::spec::Model::Continuous(e) => e.gb_rbm().cloned(),
        _ => None,
    }
    .ok_or_else(|| CliError::Unsupported("the model is not a Gaussian-Bernoulli RBM".into()))?;
    let mut model = HandGbRbm::new(model);
    let (summary, log_normaliser) = match a.estimator {
        EstimatorArg::Cd | EstimatorArg::Pcd | EstimatorArg::Replay | EstimatorArg::Shortrun => {
            let mut o = chain_max_likelihood(a, "gibbs")?;
            (by_capability(&mut model, &mut o, a, data, cfg, from)?, None)
        }
        EstimatorArg::Nce => {
            let mut o = Nce::new(a.noise_ratio, None)?;
            let s = by_capability(&mut model, &mut o, a, data, cfg, from)?;
            (s, Some(o.log_normaliser()))
        }
        other => {
            return Err(CliError::Unsupported(format!(
                "--estimator {} does not train a gb_rbm: use cd, pcd, replay, shortrun or nce",
                format!("{other:?}").to_lowercase()
            )))
        }
    };
    Ok(Outcome {
        summary,
        spec: model.to_spec(),
        log_normaliser,
    })
}

/// Run `objective` on a hand-written capability with the trainer's
/// batches, checkpoints, NaN guard and resume, and a progress bar.
fn by_capability(
    model: &mut dyn EnergyCapability,
    objective: &mut dyn CapabilityObjective,
    a: &TrainArgs,
    data: &Points,
    cfg: &TrainConfig,
    from: Option<&TrainCheckpoint>,
) -> CliResult<TrainSummary> {
    let result = {
        let mut engine = CapabilityEngine::new(model, objective, cfg.optimizer)?
            .with_rules(cfg.rules, cfg.total_steps(data.len()))?;
        let mut observer = TrainLog::new(a);
        let result = run_engine(&mut engine, data, cfg, &mut observer, from);
        engine.finish()?;
        result
    };
    result.map_err(|e| map_train_error(e, a))
}

/// Run `ebm train`.
pub fn run(a: &TrainArgs) -> CliResult<super::Report> {
    let data = read_points(&a.data)?;
    let from = match &a.resume {
        Some(path) => Some(TrainCheckpoint::read(Path::new(path)).map_err(|e| match e {
            EstimatorError::Checkpoint(m) => CliError::Unsupported(format!("--resume {m}")),
            other => other.into(),
        })?),
        None => None,
    };
    let model_name = a
        .model
        .clone()
        .or_else(|| a.mlp.as_ref().map(|_| "--mlp".into()))
        .or_else(|| a.conv.as_ref().map(|_| "--conv".into()))
        .unwrap_or_else(|| format!("the model in {}", a.resume.as_deref().unwrap_or_default()));
    let spec = match (&a.model, &a.mlp, &from) {
        (None, None, _) if a.conv.is_some() => conv_spec(a, data.dim())?,
        (Some(path), _, _) => match load_model(path)?.0 {
            ModelSpec::Energy(spec) => spec,
            _ => {
                return Err(CliError::Unsupported(format!(
                    "{path}: compositions cannot be trained; give a gaussian, diag_gaussian, mlp or rbm model"
                )))
            }
        },
        (None, Some(widths), _) => {
            for pair in widths.windows(2) {
                crate::limits::check_size(
                    &format!("--mlp layer {} -> {}", pair[0], pair[1]),
                    pair[0],
                    pair[1],
                )?;
            }
            let act = ebm_core::energies::Activation::parse(&a.activation)?;
            let mut rng = ebm_core::setup_rng(a.seed);
            MlpEnergy::<f64, Cpu>::new(&Cpu::default(), widths, act, &mut rng)?.to_spec()
        }
        (None, None, Some(ck)) => ck.model.clone(),
        (None, None, None) => {
            return Err(CliError::Unsupported(
                "give --model FILE, --mlp WIDTHS, --conv LAYERS or --resume CHECKPOINT".into(),
            ))
        }
    };
    if !matches!(
        spec,
        EnergySpec::Gaussian { .. }
            | EnergySpec::DiagGaussian { .. }
            | EnergySpec::Mlp { .. }
            | EnergySpec::Conv { .. }
            | EnergySpec::Rbm { .. }
            | EnergySpec::Pairwise { .. }
            | EnergySpec::GbRbm { .. }
            | EnergySpec::Potts { .. }
            | EnergySpec::Categorical { .. }
    ) {
        return Err(CliError::Unsupported(format!(
            "{model_name}: a `{}` model has no trainable parameters here; give a gaussian, diag_gaussian, mlp, conv, rbm, gb_rbm, pairwise, potts or categorical model",
            spec.type_name()
        )));
    }
    if data.dim() != spec_dim(&spec) {
        return Err(CliError::Data {
            path: a.data.clone(),
            message: format!(
                "rows have {} columns, the model has dimension {}",
                data.dim(),
                spec_dim(&spec)
            ),
        });
    }
    check_sizes(a, data.dim())?;
    *lock(&a.eval) = EvalHook::new(a, &spec)?;
    // a run that could not save its result must not start
    crate::draws_file::check_writable(&a.out)?;
    crate::draws_file::check_writable(&checkpoint_path(a))?;
    let optimizer = match a.optimizer {
        OptimizerArg::Adam => OptimizerConfig::adam(a.lr),
        OptimizerArg::Sgd => OptimizerConfig::Sgd {
            lr: a.lr,
            momentum: a.momentum,
        },
    };
    let cfg = TrainConfig {
        schedule: a.epochs.map_or(Schedule::Steps(a.steps), Schedule::Epochs),
        batch: a.batch,
        optimizer,
        rules: update_rules(a)?,
        seed: a.seed,
        checkpoints: Some(Checkpoints {
            path: PathBuf::from(checkpoint_path(a)),
            every: a.checkpoint_every.unwrap_or(usize::MAX),
            model: Some(PathBuf::from(&a.out)),
        }),
        stop: Some(crate::host::stop_flag()),
    };
    if a.checkpoint_every == Some(0) {
        return Err(CliError::Unsupported(
            "--checkpoint-every must be at least 1".into(),
        ));
    }
    let from = from.as_ref();
    let dev = Cpu::default();
    if a.precision == PrecisionArg::F32
        && !(matches!(spec, EnergySpec::Mlp { .. }) && a.estimator == EstimatorArg::Dsm)
        && !matches!(spec, EnergySpec::Rbm { .. } | EnergySpec::Conv { .. })
    {
        return Err(CliError::Unsupported(
            "--precision f32 is for --estimator dsm on an mlp model (the fused kernel's matrix products), for a conv model or for an rbm model"
                .into(),
        ));
    }
    let outcome = match &spec {
        EnergySpec::Mlp { .. } if a.precision == PrecisionArg::F32 => {
            let mut model = MlpEnergy::<f32, Cpu>::from_spec(&dev, &spec)?;
            let mut o = Dsm::multi(a.sigma.clone())?;
            let summary = run_loop(&mut model, &mut o, &data, &cfg, a, from)?;
            Outcome {
                summary,
                spec: model.to_spec(),
                log_normaliser: None,
            }
        }
        EnergySpec::Gaussian { .. } | EnergySpec::DiagGaussian { .. } => {
            continuous(GaussianEnergy::<f64, Cpu>::from_spec(&dev, &spec)?, a, &data, &cfg, from)?
        }
        EnergySpec::Mlp { .. } => continuous(MlpEnergy::<f64, Cpu>::from_spec(&dev, &spec)?, a, &data, &cfg, from)?,
        EnergySpec::Conv { .. } => {
            let mut net = spec.build_conv()?;
            if a.precision == PrecisionArg::F32 {
                net = net.with_arithmetic(ebm_core::spec::Arithmetic::F32);
            }
            continuous(ConvEnergy::<f64, Cpu>::from_core(&dev, &net), a, &data, &cfg, from)?
        }
        EnergySpec::Rbm { .. } if a.precision == PrecisionArg::F32 => {
            rbm(TrainableRbm::<f32, Cpu>::from_spec(&dev, &spec)?, a, &data, &cfg, from)?
        }
        EnergySpec::Rbm { .. } => rbm(TrainableRbm::<f64, Cpu>::from_spec(&dev, &spec)?, a, &data, &cfg, from)?,
        EnergySpec::Pairwise { .. } | EnergySpec::Potts { .. } | EnergySpec::Categorical { .. } => {
            discrete(&spec, a, &data, &cfg, from)?
        }
        EnergySpec::GbRbm { .. } => gb_rbm(&spec, a, &data, &cfg, from)?,
        other => {
            return Err(CliError::Unsupported(format!(
                "{}: a `{}` model has no trainable parameters here; give a gaussian, diag_gaussian, mlp or rbm model",
                model_name,
                other.type_name()
            )))
        }
    };
    crate::draws_file::write_atomically(&a.out, outcome.spec.to_json().as_bytes())?;
    let evals = lock(&a.eval).take();
    if let Some(e) = evals.as_ref().and_then(|h| h.error.clone()) {
        return Err(CliError::Unsupported(e));
    }
    let s = &outcome.summary;
    let mut json = json!({
        "final_loss": num(s.final_loss),
        "mean_loss_last_100": num(s.mean_loss_tail),
        "steps": s.steps,
        "seconds": s.seconds,
        "estimator": format!("{:?}", a.estimator).to_lowercase(),
        "log_normaliser": opt(outcome.log_normaliser),
        "out": a.out,
    });
    let mut text = format!(
        "trained {} steps in {:.2} s; final loss {:.6} (mean of the last 100: {:.6})",
        s.steps, s.seconds, s.final_loss, s.mean_loss_tail
    );
    if let Some(c) = outcome.log_normaliser {
        text.push_str(&format!("\nNCE log-normaliser (estimate of log Z): {c:.6}"));
    }
    text.push_str(&format!("\nmodel written to {}", a.out));
    if a.loss_history {
        let losses = a.losses.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        json["losses"] = losses.iter().map(|&v| num(v)).collect();
    }
    if let Some(h) = &evals {
        json["eval"] = json!({"metric": h.metric_name(), "every": h.every,
            "values": h.values.iter().map(|&(step, v)| json!([step, num(v)])).collect::<Vec<_>>()});
        if let Some(&(step, v)) = h.values.last() {
            text.push_str(&format!(
                "\n{} on the held-out data after {step} steps: {v:.6}",
                h.metric_name()
            ));
        }
    }
    Ok(super::Report { json, text })
}

/// A fresh convolutional energy from --conv, --image, --activation and
/// --seed, each bad value refused with its option's name.
fn conv_spec(a: &TrainArgs, dim: usize) -> CliResult<EnergySpec> {
    let text = a.conv.as_deref().unwrap_or_default();
    let bad = |m: String| CliError::Unsupported(m);
    let mut layers = Vec::new();
    for (l, part) in text.split(',').enumerate() {
        let numbers: Option<Vec<usize>> = part.split(':').map(|v| v.trim().parse().ok()).collect();
        let layer = match numbers.as_deref() {
            Some(&[o, k]) => (o, k, 1, 0),
            Some(&[o, k, s]) => (o, k, s, 0),
            Some(&[o, k, s, p]) => (o, k, s, p),
            _ => {
                return Err(bad(format!(
                    "--conv layer {}: expected OUT:KERNEL[:STRIDE[:PADDING]] (e.g. 16:3:1:1), got `{part}`",
                    l + 1
                )))
            }
        };
        layers.push(layer);
    }
    let image = match a.image.as_deref() {
        Some(&[c, h, w]) => [c, h, w],
        Some(other) => {
            return Err(bad(format!(
                "--image: expected CHANNELS,HEIGHT,WIDTH, got {other:?}"
            )))
        }
        None => {
            let side = (dim as f64).sqrt().round() as usize;
            if side * side != dim {
                return Err(bad(format!(
                    "--conv: the data's {dim} columns are not a square image; give --image CHANNELS,HEIGHT,WIDTH"
                )));
            }
            [1, side, side]
        }
    };
    if image.iter().product::<usize>() != dim {
        return Err(bad(format!(
            "--image {}x{}x{} has {} values, the data has {dim} columns",
            image[0],
            image[1],
            image[2],
            image.iter().product::<usize>()
        )));
    }
    let act = ebm_core::energies::Activation::parse(&a.activation)?;
    let mut rng = ebm_core::setup_rng(a.seed);
    let model = ConvEnergy::<f64, Cpu>::new(&Cpu::default(), image, &layers, act, &mut rng).map_err(|e| {
        // name the option and the layer as the user wrote them
        let m = e.to_string();
        match m.strip_prefix("convs[").and_then(|r| r.split_once("].")) {
            Some((l, rest)) => bad(format!(
                "--conv layer {}: {}",
                l.parse::<usize>().map_or(0, |v| v + 1),
                rest.replacen(": ", " ", 1)
            )),
            None => bad(format!("--conv: {m}")),
        }
    })?;
    Ok(model.to_spec())
}

/// The rules around the optimizer from the command's options, each bad
/// value refused with its option's name.
fn update_rules(a: &TrainArgs) -> CliResult<UpdateRules> {
    let bad = |m: String| Err(CliError::Unsupported(m));
    let parts: Vec<&str> = a.lr_schedule.split(':').collect();
    let number = |s: &str| s.parse::<f64>().ok().filter(|v| v.is_finite());
    let schedule = match parts[..] {
        ["constant"] => LrSchedule::Constant,
        ["cosine"] => LrSchedule::Cosine { floor: 0.0 },
        ["cosine", f] => match number(f).filter(|v| (0.0..1.0).contains(v)) {
            Some(floor) => LrSchedule::Cosine { floor },
            None => {
                return bad(format!(
                    "--lr-schedule cosine:FLOOR needs FLOOR in [0, 1), got `{f}`"
                ))
            }
        },
        ["step", every, gamma] => match (every.parse::<usize>().ok().filter(|&e| e > 0), number(gamma)) {
            (Some(every), Some(gamma)) if gamma > 0.0 && gamma <= 1.0 => LrSchedule::Step { every, gamma },
            _ => {
                return bad(format!(
                    "--lr-schedule step:EVERY:GAMMA needs EVERY >= 1 and GAMMA in (0, 1], got `{}`",
                    a.lr_schedule
                ))
            }
        },
        _ => {
            return bad(format!(
                "--lr-schedule must be constant, cosine, cosine:FLOOR or step:EVERY:GAMMA, got `{}`",
                a.lr_schedule
            ))
        }
    };
    if let Some(c) = a.clip_grad.filter(|c| !(c.is_finite() && *c > 0.0)) {
        return bad(format!("--clip-grad must be positive and finite, got {c}"));
    }
    if !(a.weight_decay.is_finite() && a.weight_decay >= 0.0) {
        return bad(format!(
            "--weight-decay must be finite and not negative, got {}",
            a.weight_decay
        ));
    }
    if let Some(r) = a.ema.filter(|r| !(*r > 0.0 && *r < 1.0)) {
        return bad(format!("--ema must lie in (0, 1), got {r}"));
    }
    Ok(UpdateRules {
        schedule,
        warmup: a.warmup_steps,
        clip_grad: a.clip_grad,
        weight_decay: a.weight_decay,
        ema: a.ema,
    })
}

/// Refuse batch, chain, buffer and noise sizes that would exhaust memory.
fn check_sizes(a: &TrainArgs, dim: usize) -> CliResult<()> {
    use crate::limits::check_size;
    check_size(&format!("--batch {}", a.batch), a.batch, dim)?;
    match a.estimator {
        EstimatorArg::Pcd => {
            let chains = a.chains.unwrap_or(a.batch);
            check_size(&format!("--chains {chains}"), chains, dim)
        }
        EstimatorArg::Replay => check_size(&format!("--buffer {}", a.buffer), a.buffer, dim),
        EstimatorArg::Nce => check_size(
            &format!("--batch {} x --noise-ratio {}", a.batch, a.noise_ratio),
            a.batch.saturating_mul(a.noise_ratio),
            dim,
        ),
        EstimatorArg::Ssm => check_size(
            &format!("--batch {} x 3 --slices {}", a.batch, a.slices),
            a.batch.saturating_mul(3).saturating_mul(a.slices),
            dim,
        ),
        EstimatorArg::Cd
        | EstimatorArg::Shortrun
        | EstimatorArg::Dsm
        | EstimatorArg::Esm
        | EstimatorArg::Pl
        | EstimatorArg::Ratio => Ok(()),
    }
}

fn spec_dim(spec: &EnergySpec) -> usize {
    spec.build().map(|m| m.dim()).unwrap_or(0)
}
