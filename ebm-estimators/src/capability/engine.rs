//! The one engine of capability objectives.

use super::traits::{CapabilityObjective, EnergyCapability};
use crate::engine::{StepEngine, StepOutcome};
use crate::error::{EstimatorError, Result};
use crate::objective_state::ObjectiveState;
use crate::optim::{grad_norm, Optimizer, OptimizerConfig, OptimizerState, UpdateRules};
use ebm_core::{ChainRng, EnergySpec, Points};

/// The engine of a [`CapabilityObjective`] on a model with the energy
/// capability: the objective's gradient, then the one [`Optimizer`] on
/// the flat parameters (the model's tensors, then the objective's own).
/// Run it with [`crate::trainer::run_engine`] for batches, checkpoints,
/// the NaN guard and bit-identical resume.
pub struct CapabilityEngine<'a> {
    model: &'a mut dyn EnergyCapability,
    objective: &'a mut dyn CapabilityObjective,
    opt: Optimizer,
    grads: Vec<Vec<f64>>,
    /// Tensors of the model (the objective's own follow).
    n_model: usize,
}

impl<'a> CapabilityEngine<'a> {
    /// The engine for `model` trained by `objective` with `optimizer`.
    pub fn new(
        model: &'a mut dyn EnergyCapability,
        objective: &'a mut dyn CapabilityObjective,
        optimizer: OptimizerConfig,
    ) -> Result<Self> {
        let model_params = model.params();
        let n_model = model_params.len();
        let lens: Vec<usize> = model_params
            .iter()
            .chain(&objective.own_params())
            .map(Vec::len)
            .collect();
        Ok(Self {
            opt: Optimizer::new(optimizer, &lens)?,
            grads: lens.iter().map(|&n| vec![0.0; n]).collect(),
            n_model,
            model,
            objective,
        })
    }

    /// The engine with `rules` around its optimizer, for a run of
    /// `horizon` updates (weight decay and the average on the model's
    /// tensors, not on an objective's own).
    pub fn with_rules(mut self, rules: UpdateRules, horizon: usize) -> Result<Self> {
        self.opt = self.opt.with_rules(rules, horizon, self.n_model)?;
        Ok(self)
    }

    /// The moving average of the model's parameters, when one is kept.
    pub fn averaged(&self) -> Option<Vec<Vec<f64>>> {
        self.opt.averaged().map(<[_]>::to_vec)
    }

    /// The model's parameters, then the objective's own.
    fn all_params(&mut self) -> Vec<Vec<f64>> {
        let mut p = self.model.params();
        p.extend(self.objective.own_params());
        p
    }

    /// Set both; refused as a whole (nothing changes) when the model's
    /// part is not a valid model.
    fn set_all_params(&mut self, values: &[Vec<f64>]) -> Result<()> {
        if values.len() != self.grads.len() {
            return Err(EstimatorError::Checkpoint(format!(
                "it holds {} parameter tensors, this run trains {}",
                values.len(),
                self.grads.len()
            )));
        }
        let (model, own) = values.split_at(self.n_model);
        if own.is_empty() {
            return self.model.set_params(model);
        }
        let before = self.model.params();
        self.model.set_params(model)?;
        if let Err(e) = self.objective.set_own_params(own) {
            self.model.set_params(&before)?;
            return Err(e);
        }
        Ok(())
    }
}

impl StepEngine for CapabilityEngine<'_> {
    fn objective_name(&self) -> String {
        self.objective.name()
    }

    fn objective_settings(&self) -> String {
        self.objective.settings()
    }

    fn param_shapes(&mut self) -> Vec<Vec<usize>> {
        let mut shapes = self.model.param_shapes();
        shapes.extend(self.objective.own_params().iter().map(|p| vec![p.len()]));
        shapes
    }

    fn prepare(&mut self, data: &Points, seed: u64) -> Result<()> {
        if data.dim() != self.model.dim() {
            return Err(EstimatorError::Data(format!(
                "rows have {} columns, the model has dimension {}",
                data.dim(),
                self.model.dim()
            )));
        }
        self.objective.prepare(self.model, data, seed)
    }

    fn step(&mut self, batch: &Points, rng: &mut ChainRng) -> Result<StepOutcome> {
        self.grads
            .iter_mut()
            .for_each(|g| g.iter_mut().for_each(|v| *v = 0.0));
        let loss = self
            .objective
            .loss_grad(self.model, batch, rng, &mut self.grads)?;
        let norm = grad_norm(&self.grads);
        if !loss.is_finite() || !norm.is_finite() {
            return Ok(StepOutcome {
                loss,
                grad_norm: norm,
                applied: false,
            });
        }
        self.opt.clip(&mut self.grads, norm);
        // the objective's own parameters stepped on a copy, then the
        // model's where they live; an update that would leave an invalid
        // model is refused (the model keeps its parameters) and the
        // trainer ends the run there, keeping the last good model, so the
        // moments need no undoing
        self.opt.begin_step();
        let (opt, grads, n_model) = (&mut self.opt, &self.grads, self.n_model);
        let mut own = self.objective.own_params();
        opt.update_tensors(n_model, &mut own, &grads[n_model..]);
        let applied = own.iter().flatten().all(|v| v.is_finite())
            && self
                .model
                .update_params(&mut |p| opt.update_tensors(0, p, &grads[..n_model]))
                .is_ok()
            && (own.is_empty() || self.objective.set_own_params(&own).is_ok());
        if applied && self.opt.rules().ema.is_some() {
            self.opt.average(&self.model.params());
        }
        Ok(StepOutcome {
            loss,
            grad_norm: norm,
            applied,
        })
    }

    fn is_valid(&mut self) -> bool {
        let p = self.model.params();
        self.model.set_params(&p).is_ok()
    }

    /// The model as a file: with a moving average, the averaged model
    /// (what the run writes as its model, at checkpoints and at the end).
    fn model_spec(&mut self) -> EnergySpec {
        match self.averaged() {
            Some(avg) => {
                let current = self.model.params();
                let spec = match self.model.set_params(&avg) {
                    Ok(()) => self.model.to_spec(),
                    Err(_) => {
                        // an average outside the model's domain: the last iterate
                        self.model.set_params(&current).ok();
                        return self.model.to_spec();
                    }
                };
                self.model.set_params(&current).ok();
                spec
            }
            None => self.model.to_spec(),
        }
    }

    /// With a moving average, leave the model with the averaged parameters
    /// (refused, keeping the last iterate, when they are not a valid
    /// model).
    fn finish(&mut self) -> Result<()> {
        match self.averaged() {
            Some(avg) => self.model.set_params(&avg),
            None => Ok(()),
        }
    }

    fn snapshot(&mut self) -> Result<(Vec<Vec<f64>>, OptimizerState, ObjectiveState)> {
        Ok((self.all_params(), self.opt.state(), self.objective.state()))
    }

    fn restore(
        &mut self,
        params: &[Vec<f64>],
        optimizer: &OptimizerState,
        objective: &ObjectiveState,
    ) -> Result<()> {
        self.objective.restore(objective)?;
        self.set_all_params(params)?;
        self.opt.restore(optimizer)
    }
}
