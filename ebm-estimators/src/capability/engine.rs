//! The one engine of capability objectives.

use super::traits::{CapabilityObjective, EnergyCapability};
use crate::engine::{StepEngine, StepOutcome};
use crate::error::{EstimatorError, Result};
use crate::objective_state::ObjectiveState;
use crate::optim::{grad_norm, Optimizer, OptimizerConfig, OptimizerState};
use ebm_core::{ChainRng, EnergySpec, Points};

/// The engine of a [`CapabilityObjective`] on a model with the energy
/// capability: the objective's gradient, then the one [`Optimizer`] on
/// the flat parameters. Run it with [`crate::trainer::run_engine`] for
/// batches, checkpoints, the NaN guard and bit-identical resume.
pub struct CapabilityEngine<'a> {
    model: &'a mut dyn EnergyCapability,
    objective: &'a mut dyn CapabilityObjective,
    opt: Optimizer,
    grads: Vec<Vec<f64>>,
}

impl<'a> CapabilityEngine<'a> {
    /// The engine for `model` trained by `objective` with `optimizer`.
    pub fn new(
        model: &'a mut dyn EnergyCapability,
        objective: &'a mut dyn CapabilityObjective,
        optimizer: OptimizerConfig,
    ) -> Result<Self> {
        let lens: Vec<usize> = model.params().iter().map(Vec::len).collect();
        Ok(Self {
            opt: Optimizer::new(optimizer, &lens)?,
            grads: lens.iter().map(|&n| vec![0.0; n]).collect(),
            model,
            objective,
        })
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
        self.model.param_shapes()
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
        let mut values = self.model.params();
        self.opt.update(&mut values, &self.grads);
        // an update that would leave an invalid model is refused (the
        // model keeps its parameters) and the trainer ends the run there,
        // keeping the last good model; the moments need no undoing
        let applied = self.model.set_params(&values).is_ok();
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

    fn model_spec(&mut self) -> EnergySpec {
        self.model.to_spec()
    }

    fn snapshot(&mut self) -> Result<(Vec<Vec<f64>>, OptimizerState, ObjectiveState)> {
        Ok((self.model.params(), self.opt.state(), self.objective.state()))
    }

    fn restore(
        &mut self,
        params: &[Vec<f64>],
        optimizer: &OptimizerState,
        objective: &ObjectiveState,
    ) -> Result<()> {
        self.objective.restore(objective)?;
        self.model.set_params(params)?;
        self.opt.restore(optimizer)
    }
}
