//! The training loop: batches, optimizer steps, observers, checkpoints and
//! the NaN guard.

use crate::error::{config, EstimatorError, Result};
use crate::objectives::Objective;
use crate::optim::{Optimizer, OptimizerConfig};
use crate::trainable::{Backend, Real, TrainableEnergy};
use dfdx::prelude::*;
use ebm_core::{setup_rng, ChainRng, Points};
use rand::seq::SliceRandom;
use rand::Rng;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// How long to train and how batches are drawn.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Schedule {
    /// `n` steps, each batch drawn uniformly with replacement (the W5
    /// protocol).
    Steps(usize),
    /// `n` passes over the data, each a fresh shuffle cut into batches
    /// (the last one may be smaller), as scikit-learn does.
    Epochs(usize),
}

/// Where and how often to write checkpoints.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Checkpoints {
    /// The model file to (over)write, atomically.
    pub path: PathBuf,
    /// Write after every `every` steps (and at the end).
    pub every: usize,
}

/// Training settings.
#[derive(Clone, Debug, PartialEq)]
pub struct TrainConfig {
    /// Length and batch order.
    pub schedule: Schedule,
    /// Rows per batch.
    pub batch: usize,
    /// Optimizer and learning rate.
    pub optimizer: OptimizerConfig,
    /// Seed of every random draw (batches, noise, negatives).
    pub seed: u64,
    /// Periodic checkpoints, if any.
    pub checkpoints: Option<Checkpoints>,
}

impl TrainConfig {
    /// `steps` steps of batches of `batch` with Adam at `lr`, seed 0.
    pub fn steps(steps: usize, batch: usize, lr: f64) -> Self {
        Self {
            schedule: Schedule::Steps(steps),
            batch,
            optimizer: OptimizerConfig::adam(lr),
            seed: 0,
            checkpoints: None,
        }
    }

    fn validate(&self, n_rows: usize) -> Result<()> {
        self.optimizer.validate()?;
        if self.batch == 0 {
            return Err(config("batch", "must be at least 1"));
        }
        if self.total_steps(n_rows.max(1)) == 0 {
            return Err(config("steps", "train for at least 1 step (or epoch)"));
        }
        if n_rows == 0 {
            return Err(EstimatorError::Data("no rows".into()));
        }
        if let Some(c) = &self.checkpoints {
            if c.every == 0 {
                return Err(config("checkpoint_every", "must be at least 1"));
            }
        }
        Ok(())
    }

    /// Total optimizer steps for `n_rows` rows of data.
    pub fn total_steps(&self, n_rows: usize) -> usize {
        match self.schedule {
            Schedule::Steps(s) => s,
            Schedule::Epochs(e) => e * n_rows.div_ceil(self.batch.max(1)),
        }
    }
}

/// What one step did, for observers.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct StepReport {
    /// 0-based step.
    pub step: usize,
    /// Total steps of the run.
    pub total: usize,
    /// The loss on this step's batch.
    pub loss: f64,
    /// Euclidean norm of the parameter gradient.
    pub grad_norm: f64,
    /// Seconds since training began.
    pub seconds: f64,
    /// Data rows processed per second so far.
    pub rows_per_second: f64,
}

/// Called after every step (loss, gradient norm, throughput).
pub trait TrainObserver {
    /// One step is done.
    fn on_step(&mut self, report: &StepReport);
}

impl<F: FnMut(&StepReport)> TrainObserver for F {
    fn on_step(&mut self, report: &StepReport) {
        self(report)
    }
}

/// Keeps every step's loss and gradient norm.
#[derive(Clone, Debug, Default)]
pub struct History {
    /// Loss per step.
    pub loss: Vec<f64>,
    /// Gradient norm per step.
    pub grad_norm: Vec<f64>,
}

impl TrainObserver for History {
    fn on_step(&mut self, r: &StepReport) {
        self.loss.push(r.loss);
        self.grad_norm.push(r.grad_norm);
    }
}

/// The outcome of a run.
#[derive(Clone, Debug, PartialEq)]
pub struct TrainSummary {
    /// Steps taken.
    pub steps: usize,
    /// Loss of the last step.
    pub final_loss: f64,
    /// Mean loss over the last min(100, steps) steps.
    pub mean_loss_tail: f64,
    /// Wall time of the loop.
    pub seconds: f64,
}

/// Write `text` to `path` atomically: a temporary file beside it, then a
/// rename, so a reader never sees half a model.
pub fn write_atomically(path: &Path, text: &str) -> Result<()> {
    let io = |e: std::io::Error| EstimatorError::Io {
        path: path.display().to_string(),
        message: e.to_string(),
    };
    let name = path.file_name().ok_or_else(|| EstimatorError::Io {
        path: path.display().to_string(),
        message: "not a file name".into(),
    })?;
    let tmp = path.with_file_name(format!(".{}.tmp{}", name.to_string_lossy(), std::process::id()));
    std::fs::write(&tmp, text).map_err(io)?;
    std::fs::rename(&tmp, path).map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        io(e)
    })
}

/// Train `model` on the rows of `data` with `objective`.
///
/// Each step draws a batch, evaluates the loss, backpropagates and updates
/// the model's (and the objective's) parameters. A loss that is NaN or
/// infinite, or an update that leaves an invalid model (a parameter or
/// a derived quantity such as a precision not finite), stops the run
/// with [`EstimatorError::NonFiniteLoss`]; the model is left at its last
/// good parameters and, when checkpoints are on, they are written first.
///
/// The same seed gives bit-identical parameters (every draw comes from
/// ChaCha streams of `cfg.seed`).
pub fn train<F, D, M, O>(
    model: &mut M,
    objective: &mut O,
    data: &Points,
    cfg: &TrainConfig,
    observer: &mut dyn TrainObserver,
) -> Result<TrainSummary>
where
    F: Real,
    D: Backend<F>,
    M: TrainableEnergy<F, D> + Clone,
    O: Objective<F, D, M>,
{
    cfg.validate(data.len())?;
    if data.dim() != model.dim() {
        return Err(EstimatorError::Data(format!(
            "rows have {} columns, the model has dimension {}",
            data.dim(),
            model.dim()
        )));
    }
    objective.prepare(model, data, cfg.seed)?;
    let mut opt = Optimizer::<F, D>::new(cfg.optimizer)?;
    let mut rng = setup_rng(cfg.seed);
    let total = cfg.total_steps(data.len());
    let mut order: Vec<usize> = (0..data.len()).collect();
    let mut cursor = order.len();
    let mut losses = Vec::with_capacity(total);
    let start = Instant::now();
    let mut rows_done = 0usize;
    for step in 0..total {
        let rows = match cfg.schedule {
            Schedule::Steps(_) => (0..cfg.batch)
                .map(|_| rng.random_range(0..data.len()))
                .collect::<Vec<_>>(),
            Schedule::Epochs(_) => {
                if cursor >= order.len() {
                    order.shuffle(&mut rng);
                    cursor = 0;
                }
                let end = (cursor + cfg.batch).min(order.len());
                let rows = order[cursor..end].to_vec();
                cursor = end;
                rows
            }
        };
        let batch = gather(data, &rows);
        let last_good = model.clone();
        let (loss, grad_norm) = step_once(model, objective, &mut opt, &batch, &mut rng)?;
        if !loss.is_finite() || !model.is_valid() {
            *model = last_good;
            if let Some(c) = &cfg.checkpoints {
                write_atomically(&c.path, &model.to_spec().to_json())?;
            }
            return Err(EstimatorError::NonFiniteLoss { step, loss });
        }
        losses.push(loss);
        rows_done += batch.len();
        let seconds = start.elapsed().as_secs_f64();
        observer.on_step(&StepReport {
            step,
            total,
            loss,
            grad_norm,
            seconds,
            rows_per_second: rows_done as f64 / seconds.max(1e-12),
        });
        if let Some(c) = &cfg.checkpoints {
            if (step + 1) % c.every == 0 || step + 1 == total {
                write_atomically(&c.path, &model.to_spec().to_json())?;
            }
        }
    }
    let tail = &losses[losses.len().saturating_sub(100)..];
    Ok(TrainSummary {
        steps: total,
        final_loss: losses.last().copied().unwrap_or(f64::NAN),
        mean_loss_tail: tail.iter().sum::<f64>() / tail.len().max(1) as f64,
        seconds: start.elapsed().as_secs_f64(),
    })
}

/// One loss evaluation, backward pass and update; returns (loss, grad
/// norm). A non-finite loss returns before the update.
fn step_once<F, D, M, O>(
    model: &mut M,
    objective: &mut O,
    opt: &mut Optimizer<F, D>,
    batch: &Points,
    rng: &mut ChainRng,
) -> Result<(f64, f64)>
where
    F: Real,
    D: Backend<F>,
    M: TrainableEnergy<F, D>,
    O: Objective<F, D, M>,
{
    let loss = objective.loss(model, batch, rng)?;
    let value = loss.as_vec()[0].f64();
    if !value.is_finite() {
        return Ok((value, f64::NAN));
    }
    let mut grads = loss.backward();
    let mut params = model.params_mut();
    params.extend(objective.params_mut());
    let norm = Optimizer::grad_norm(&mut params, &mut grads);
    opt.update(params, &mut grads)?;
    Ok((value, norm))
}

/// The rows `idx` of `data` as a new batch.
pub fn gather(data: &Points, idx: &[usize]) -> Points {
    let d = data.dim();
    let mut out = Vec::with_capacity(idx.len() * d);
    for &i in idx {
        out.extend_from_slice(data.row(i));
    }
    Points::from_vec(out, d).expect("rows of a valid batch")
}
