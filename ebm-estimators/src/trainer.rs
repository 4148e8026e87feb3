//! The training loop: batches, optimizer steps, observers, checkpoints,
//! stop requests, resuming, and the NaN guard.

use crate::capability::CapabilityEngine;
use crate::capability::CapabilityObjective;
pub use crate::checkpoint::write_atomically;
use crate::checkpoint::{data_digest, RunFingerprint, TrainCheckpoint};
use crate::engine::StepEngine;
use crate::error::{config, EstimatorError, Result};
use crate::optim::{OptimizerConfig, UpdateRules};
use crate::trainable::{Backend, Real, TrainableEnergy};
use ebm_core::hot_pool::with_hot_pool;
use ebm_core::{training_rng, ChainRng, EnergySpec, Points, RngPosition};
use rand::seq::SliceRandom;
use rand::Rng;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
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

/// Where and how often to write checkpoints (see [`crate::checkpoint`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Checkpoints {
    /// The checkpoint file to (over)write, atomically.
    pub path: PathBuf,
    /// Write after every `every` steps, at the end, and when stopped.
    pub every: usize,
    /// Also write the model file here at each checkpoint, and the last
    /// good model when the loss turns non-finite.
    pub model: Option<PathBuf>,
}

/// A request to stop training, shared with whoever raises it (a Ctrl-C
/// handler, another thread): the trainer finishes the current step,
/// writes its checkpoint and returns [`EstimatorError::Interrupted`].
#[derive(Clone, Debug, Default)]
pub struct StopFlag(Arc<AtomicBool>);

impl StopFlag {
    /// A flag not yet raised.
    pub fn new() -> Self {
        Self::default()
    }

    /// Ask the run to stop.
    pub fn raise(&self) {
        self.0.store(true, Ordering::SeqCst);
    }

    /// Whether a stop was asked for.
    pub fn is_raised(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }
}

impl PartialEq for StopFlag {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
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
    /// Warm-up, schedule, clipping, weight decay and the parameters'
    /// moving average around the optimizer (default: none).
    pub rules: UpdateRules,
    /// Seed of every random draw (batches, noise, negatives): the batch
    /// order and objective noise come from its training stream
    /// ([`ebm_core::training_rng`]), persistent chains from its chain
    /// streams, so initial parameters drawn from `setup_rng(seed)` stay
    /// independent of them.
    pub seed: u64,
    /// Periodic checkpoints, if any.
    pub checkpoints: Option<Checkpoints>,
    /// Checked after every step; when raised, the run stops.
    pub stop: Option<StopFlag>,
}

impl TrainConfig {
    /// `steps` steps of batches of `batch` with Adam at `lr`, seed 0.
    pub fn steps(steps: usize, batch: usize, lr: f64) -> Self {
        Self {
            schedule: Schedule::Steps(steps),
            batch,
            optimizer: OptimizerConfig::adam(lr),
            rules: UpdateRules::default(),
            seed: 0,
            checkpoints: None,
            stop: None,
        }
    }

    fn validate(&self, n_rows: usize) -> Result<()> {
        self.optimizer.validate()?;
        self.rules.validate()?;
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

    /// Every how many steps the observer wants the model itself
    /// ([`TrainObserver::on_model`]); `None` (the default): never.
    fn model_every(&self) -> Option<usize> {
        None
    }

    /// The model as a file after `steps` steps (every
    /// [`TrainObserver::model_every`] steps and at the end of the run; with
    /// a moving average, the averaged model), to evaluate it while it
    /// trains.
    fn on_model(&mut self, _steps: usize, _model: &EnergySpec) {}
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

/// Train `model` on the rows of `data` with `objective`.
///
/// Each step draws a batch, evaluates the loss, backpropagates and updates
/// the model's (and the objective's) parameters. A loss that is NaN or
/// infinite, or an update that leaves an invalid model (a parameter or
/// a derived quantity such as a precision not finite), stops the run
/// with [`EstimatorError::NonFiniteLoss`]; the model is left at its last
/// good parameters and written to [`Checkpoints::model`] if set (the
/// last periodic checkpoint stays as it was, consistent). A raised
/// [`StopFlag`] ends the run after the current step with
/// [`EstimatorError::Interrupted`], once the checkpoint is written.
///
/// The steps run through [`CapabilityEngine`]: the objective (written
/// against the capabilities) on the model's hand-written form
/// ([`TrainableEnergy::hand_written`]: the MLP) or else on its tape
/// ([`TrainableEnergy::autodiff`]), with the trained parameters written
/// back into `model` when the run ends, however it ends. PCD on a model
/// with a closed-form step (the Bernoulli RBM) with plain SGD runs that
/// step (see [`CapabilityEngine`]).
///
/// The same seed gives bit-identical parameters (every draw comes from
/// ChaCha streams of `cfg.seed`).
pub fn train<F, D, M, O>(
    model: &mut M,
    objective: &mut O,
    data: &Points,
    cfg: &TrainConfig,
    observer: &mut (dyn TrainObserver + Send),
) -> Result<TrainSummary>
where
    F: Real,
    D: Backend<F>,
    M: TrainableEnergy<F, D> + Clone,
    O: CapabilityObjective,
{
    run(model, objective, data, cfg, observer, None)
}

/// Continue the run saved in `from` (see [`crate::checkpoint`]): the
/// model's and objective's parameters, the optimizer, the random streams,
/// the epoch position and the objective's chains are restored, and
/// training goes on from step `from.step` to the end of `cfg`'s schedule.
/// The result is bit-identical to a run that was never interrupted.
///
/// `model` and `objective` must be built as for the original run (same
/// shapes, same objective; their values are overwritten), and `data` and
/// `cfg` must match it except for the length of the schedule; anything
/// else is an [`EstimatorError::Checkpoint`] naming the difference.
pub fn resume<F, D, M, O>(
    model: &mut M,
    objective: &mut O,
    data: &Points,
    cfg: &TrainConfig,
    observer: &mut (dyn TrainObserver + Send),
    from: &TrainCheckpoint,
) -> Result<TrainSummary>
where
    F: Real,
    D: Backend<F>,
    M: TrainableEnergy<F, D> + Clone,
    O: CapabilityObjective,
{
    run(model, objective, data, cfg, observer, Some(from))
}

fn run<F, D, M, O>(
    model: &mut M,
    objective: &mut O,
    data: &Points,
    cfg: &TrainConfig,
    observer: &mut (dyn TrainObserver + Send),
    from: Option<&TrainCheckpoint>,
) -> Result<TrainSummary>
where
    F: Real,
    D: Backend<F>,
    M: TrainableEnergy<F, D> + Clone,
    O: CapabilityObjective,
{
    cfg.validate(data.len())?;
    if data.dim() != model.dim() {
        return Err(EstimatorError::Data(format!(
            "rows have {} columns, the model has dimension {}",
            data.dim(),
            model.dim()
        )));
    }
    // the loop runs on a rayon worker with the pool's other workers
    // polling for jobs (ebm_core::hot_pool), so that an engine's parallel
    // parts start without waking a sleeping worker at every step
    let mut form = model.hand_written().or_else(|| model.autodiff()).ok_or_else(|| {
        EstimatorError::Unsupported(
            "the model has neither a hand-written form nor a tape form (implement TrainableEnergy::autodiff)"
                .into(),
        )
    })?;
    let mut engine = CapabilityEngine::new(&mut *form, objective, cfg.optimizer)?
        .with_rules(cfg.rules, cfg.total_steps(data.len()))?;
    let result = with_hot_pool(|| run_engine(&mut engine, data, cfg, observer, from));
    // with a moving average, the model ends with the averaged parameters
    engine.finish()?;
    drop(engine);
    write_back(model, &form.params())?;
    result
}

/// Copy parameters trained on a model's hand-written form back into it.
fn write_back<F: Real, D: Backend<F>, M: TrainableEnergy<F, D>>(
    model: &mut M,
    values: &[Vec<f64>],
) -> Result<()> {
    let mut params = model.params_mut();
    if params.len() != values.len() || params.iter().zip(values).any(|(p, v)| p.len() != v.len()) {
        return Err(EstimatorError::Unsupported(
            "the model's hand-written form has other parameter shapes than the model".into(),
        ));
    }
    for (p, v) in params.iter_mut().zip(values) {
        p.set_values(v)?;
    }
    Ok(())
}

/// Where the loop stands: everything besides the model, objective and
/// optimizer that a checkpoint must carry.
struct Position {
    step: usize,
    rng: ChainRng,
    order: Vec<usize>,
    cursor: usize,
    loss_tail: Vec<f64>,
}

/// Losses kept for [`TrainSummary::mean_loss_tail`].
const TAIL: usize = 100;

/// The training loop around any [`StepEngine`] (from `from` if resuming):
/// batches, observers, checkpoints, stop requests and the non-finite
/// guard, as [`train`] describes them. Use it to train with an engine of
/// your own.
pub fn run_engine(
    engine: &mut dyn StepEngine,
    data: &Points,
    cfg: &TrainConfig,
    observer: &mut dyn TrainObserver,
    from: Option<&TrainCheckpoint>,
) -> Result<TrainSummary> {
    cfg.validate(data.len())?;
    engine.prepare(data, cfg.seed)?;
    let total = cfg.total_steps(data.len());
    // what identifies the run in checkpoints (a digest of the data: ~1 ms
    // per 100k values), only when checkpoints are written or read
    let fingerprint = (from.is_some() || cfg.checkpoints.is_some()).then(|| fingerprint(engine, data, cfg));
    let mut at = Position {
        step: 0,
        rng: training_rng(cfg.seed),
        order: (0..data.len()).collect(),
        cursor: data.len(),
        loss_tail: Vec::with_capacity(TAIL),
    };
    if let (Some(ck), Some(fp)) = (from, &fingerprint) {
        at = restore(engine, fp, ck, total)?;
    }
    let start = Instant::now();
    let mut rows_done = 0usize;
    let mut batch = Points::zeros(0, data.dim());
    let mut rows = Vec::with_capacity(cfg.batch);
    while at.step < total {
        let step = at.step;
        next_rows(cfg, data.len(), &mut at, &mut rows);
        gather_into(data, &rows, &mut batch);
        let out = engine.step(&batch, &mut at.rng)?;
        if !out.applied || !out.loss.is_finite() {
            if let Some(path) = cfg.checkpoints.as_ref().and_then(|c| c.model.as_ref()) {
                write_atomically(path, &engine.model_spec().to_json())?;
            }
            return Err(EstimatorError::NonFiniteLoss { step, loss: out.loss });
        }
        if at.loss_tail.len() == TAIL {
            at.loss_tail.remove(0);
        }
        at.loss_tail.push(out.loss);
        at.step += 1;
        rows_done += batch.len();
        let seconds = start.elapsed().as_secs_f64();
        observer.on_step(&StepReport {
            step,
            total,
            loss: out.loss,
            grad_norm: out.grad_norm,
            seconds,
            rows_per_second: rows_done as f64 / seconds.max(1e-12),
        });
        if let Some(k) = observer.model_every().filter(|&k| k > 0) {
            if at.step % k == 0 || at.step == total {
                observer.on_model(at.step, &engine.model_spec());
            }
        }
        let stop = cfg.stop.as_ref().is_some_and(StopFlag::is_raised) && at.step < total;
        if let (Some(c), Some(fp)) = (&cfg.checkpoints, &fingerprint) {
            if at.step % c.every == 0 || at.step == total || stop {
                let ck = snapshot(engine, fp, &at, total)?;
                ck.write(&c.path)?;
                if let Some(path) = &c.model {
                    write_atomically(path, &ck.model.to_json())?;
                }
            }
        }
        if stop {
            return Err(EstimatorError::Interrupted { step: at.step, total });
        }
    }
    Ok(TrainSummary {
        steps: total,
        final_loss: at.loss_tail.last().copied().unwrap_or(f64::NAN),
        mean_loss_tail: at.loss_tail.iter().sum::<f64>() / at.loss_tail.len().max(1) as f64,
        seconds: start.elapsed().as_secs_f64(),
    })
}

/// The rows of the next batch, into `rows`: drawn with replacement
/// (steps), or the next slice of this epoch's shuffle (epochs).
fn next_rows(cfg: &TrainConfig, n: usize, at: &mut Position, rows: &mut Vec<usize>) {
    rows.clear();
    match cfg.schedule {
        Schedule::Steps(_) => rows.extend((0..cfg.batch).map(|_| at.rng.random_range(0..n))),
        Schedule::Epochs(_) => {
            if at.cursor >= at.order.len() {
                at.order.shuffle(&mut at.rng);
                at.cursor = 0;
            }
            let end = (at.cursor + cfg.batch).min(at.order.len());
            rows.extend_from_slice(&at.order[at.cursor..end]);
            at.cursor = end;
        }
    }
}

fn fingerprint(engine: &mut dyn StepEngine, data: &Points, cfg: &TrainConfig) -> RunFingerprint {
    RunFingerprint {
        objective: engine.objective_name(),
        objective_settings: engine.objective_settings(),
        param_shapes: engine.param_shapes(),
        schedule: match cfg.schedule {
            Schedule::Steps(_) => "steps".into(),
            Schedule::Epochs(_) => "epochs".into(),
        },
        batch: cfg.batch,
        optimizer: if cfg.rules.is_plain() {
            format!("{:?}", cfg.optimizer)
        } else {
            format!("{:?}; {:?}", cfg.optimizer, cfg.rules)
        },
        seed: cfg.seed,
        data_rows: data.len(),
        data_dim: data.dim(),
        data_digest: data_digest(data),
    }
}

/// The checkpoint of the run as it stands.
fn snapshot(
    engine: &mut dyn StepEngine,
    fingerprint: &RunFingerprint,
    at: &Position,
    total: usize,
) -> Result<TrainCheckpoint> {
    let model = engine.model_spec();
    let (params, optimizer, objective) = engine.snapshot()?;
    Ok(TrainCheckpoint {
        format: crate::checkpoint::FORMAT.into(),
        version: crate::checkpoint::VERSION,
        run: fingerprint.clone(),
        step: at.step,
        total,
        model,
        params,
        optimizer,
        rng: RngPosition::of(&at.rng),
        order: if at.cursor < at.order.len() {
            at.order.clone()
        } else {
            Vec::new()
        },
        cursor: at.cursor,
        loss_tail: at.loss_tail.clone(),
        objective,
    })
}

/// Load a checkpoint into the engine; returns the loop position to
/// continue from.
fn restore(
    engine: &mut dyn StepEngine,
    fingerprint: &RunFingerprint,
    ck: &TrainCheckpoint,
    total: usize,
) -> Result<Position> {
    fingerprint.check_matches(&ck.run)?;
    if ck.step >= total {
        return Err(EstimatorError::Checkpoint(format!(
            "it is at step {} and this run has {total} steps; nothing is left to train (ask for more steps or epochs)",
            ck.step
        )));
    }
    let n = fingerprint.data_rows;
    let order = if ck.order.is_empty() {
        (0..n).collect()
    } else {
        let mut seen = vec![false; n];
        let permutation = ck.order.len() == n
            && ck
                .order
                .iter()
                .all(|&i| i < n && !std::mem::replace(&mut seen[i], true));
        if !permutation || ck.cursor > n {
            return Err(EstimatorError::Checkpoint(
                "its epoch order is not a permutation of the data rows".into(),
            ));
        }
        ck.order.clone()
    };
    if ck.loss_tail.len() > TAIL || ck.loss_tail.iter().any(|l| !l.is_finite()) {
        return Err(EstimatorError::Checkpoint(
            "its recent losses are malformed".into(),
        ));
    }
    engine.restore(&ck.params, &ck.optimizer, &ck.objective)?;
    if !engine.is_valid() {
        return Err(EstimatorError::Checkpoint(
            "its parameters give an invalid model".into(),
        ));
    }
    Ok(Position {
        step: ck.step,
        rng: ck.rng.restore(),
        cursor: if ck.order.is_empty() { n } else { ck.cursor },
        order,
        loss_tail: ck.loss_tail.clone(),
    })
}

/// The rows `idx` of `data`, into `out` (resized; no allocation once it
/// has held a batch of this size).
fn gather_into(data: &Points, idx: &[usize], out: &mut Points) {
    let d = data.dim();
    let mut v = std::mem::replace(out, Points::zeros(0, d)).into_vec();
    v.clear();
    for &i in idx {
        v.extend_from_slice(data.row(i));
    }
    *out = Points::from_vec(v, d).expect("rows of a valid batch");
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
