//! What `ebm train` shows while it runs: the progress bar, and with
//! `--eval-every N` the model measured on held-out data every N steps
//! (`cmd/eval.rs`'s NLL or KSD), each value printed on stderr and kept
//! for the report.

use super::eval::{exact_log_z, training_metric, Metric};
use super::train::TrainArgs;
use crate::error::{CliError, CliResult};
use crate::progress::Progress;
use ebm_core::{EnergySpec, Points};
use ebm_estimators::trainer::{StepReport, TrainObserver};
use std::sync::Mutex;

/// The evaluations of `--eval-every`: the metric, the held-out points and
/// the values so far.
#[derive(Debug)]
pub struct EvalHook {
    /// Every how many steps.
    pub every: usize,
    metric: Metric,
    data: Points,
    /// (steps done, value) of each evaluation.
    pub values: Vec<(usize, f64)>,
    /// The first evaluation that failed, if any (training goes on; the
    /// command reports it at the end).
    pub error: Option<String>,
}

impl EvalHook {
    /// The hook for `a`'s options, checked against the initial model
    /// `spec`: `None` without --eval-every.
    pub fn new(a: &TrainArgs, spec: &EnergySpec) -> CliResult<Option<Self>> {
        let (Some(every), Some(path)) = (a.eval_every, a.eval_data.as_deref()) else {
            return Ok(None);
        };
        if every == 0 {
            return Err(CliError::Unsupported("--eval-every must be at least 1".into()));
        }
        let data = crate::points_file::read_points(path)?;
        let model = spec.build()?;
        let type_name = spec.type_name();
        super::energy::energies_at(&ebm_compose::ModelSpec::Energy(spec.clone()), &model, &data, path)?;
        let model = &model;
        let metric = a.eval_metric.unwrap_or(if exact_log_z(model).is_some() {
            Metric::Nll
        } else {
            Metric::Ksd
        });
        // refused now, not after the first N steps
        training_metric(metric, type_name, model, &data)?;
        Ok(Some(Self {
            every,
            metric,
            data,
            values: Vec::new(),
            error: None,
        }))
    }

    /// "nll" or "ksd2".
    pub fn metric_name(&self) -> &'static str {
        match self.metric {
            Metric::Nll => "nll",
            _ => "ksd2",
        }
    }

    fn measure(&mut self, steps: usize, spec: &EnergySpec) {
        let value = spec.build().map_err(|e| e.to_string()).and_then(|m| {
            training_metric(self.metric, spec.type_name(), &m, &self.data).map_err(|e| e.to_string())
        });
        match value {
            Ok(v) => {
                eprintln!("eval: {} = {v:.6} after {steps} steps", self.metric_name());
                self.values.push((steps, v));
            }
            Err(e) => {
                self.error.get_or_insert(format!("--eval-every: {e}"));
            }
        }
    }
}

/// The observer of `ebm train`: a progress bar, and the evaluations,
/// taken from the arguments for the run and given back when it ends.
pub struct TrainLog<'a> {
    bar: Progress,
    hook: Option<EvalHook>,
    slot: &'a Mutex<Option<EvalHook>>,
    /// Every step's loss when --loss-history asks for them.
    losses: Option<&'a Mutex<Vec<f64>>>,
}

impl<'a> TrainLog<'a> {
    /// The observer for the run of `a`.
    pub fn new(a: &'a TrainArgs) -> Self {
        Self {
            bar: Progress::new("train"),
            hook: lock(&a.eval).take(),
            slot: &a.eval,
            losses: a.loss_history.then_some(&a.losses),
        }
    }
}

impl Drop for TrainLog<'_> {
    fn drop(&mut self) {
        *lock(self.slot) = self.hook.take();
    }
}

/// The slot's contents (a poisoned lock still holds them).
pub fn lock(slot: &Mutex<Option<EvalHook>>) -> std::sync::MutexGuard<'_, Option<EvalHook>> {
    slot.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl TrainObserver for TrainLog<'_> {
    fn on_step(&mut self, r: &StepReport) {
        self.bar.tick(r.step + 1, r.total);
        if let Some(l) = self.losses {
            l.lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .push(r.loss);
        }
    }

    fn model_every(&self) -> Option<usize> {
        self.hook.as_ref().map(|h| h.every)
    }

    fn on_model(&mut self, steps: usize, model: &EnergySpec) {
        if let Some(h) = self.hook.as_mut() {
            h.measure(steps, model);
        }
    }
}
