//! The one engine of capability objectives.

use super::traits::{CapabilityObjective, EnergyCapability, PcdSettings};
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
///
/// When the objective is persistent contrastive divergence
/// ([`CapabilityObjective::closed_form_pcd`]), the optimizer plain SGD
/// with no rules around it, and the model has a closed-form step for it
/// ([`EnergyCapability::pcd_step`]: the RBM), the model takes the whole
/// step (statistics, chains and update fused) and the checkpoints carry
/// its chains; the run's objective is then named `<name>-host`.
pub struct CapabilityEngine<'a> {
    model: &'a mut dyn EnergyCapability,
    objective: &'a mut dyn CapabilityObjective,
    opt: Optimizer,
    grads: Vec<Vec<f64>>,
    /// Tensors of the model (the objective's own follow).
    n_model: usize,
    /// The PCD the model steps in closed form, when it does.
    closed_form: Option<PcdSettings>,
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
        let plain_sgd = matches!(optimizer, OptimizerConfig::Sgd { momentum, .. } if momentum == 0.0);
        let closed_form = objective
            .closed_form_pcd()
            .filter(|_| plain_sgd && model.pcd_step().is_some());
        Ok(Self {
            opt: Optimizer::new(optimizer, &lens)?,
            grads: lens.iter().map(|&n| vec![0.0; n]).collect(),
            n_model,
            model,
            objective,
            closed_form,
        })
    }

    /// The engine with `rules` around its optimizer, for a run of
    /// `horizon` updates (weight decay and the average on the model's
    /// tensors, not on an objective's own).
    pub fn with_rules(mut self, rules: UpdateRules, horizon: usize) -> Result<Self> {
        self.opt = self.opt.with_rules(rules, horizon, self.n_model)?;
        if !rules.is_plain() {
            // the closed-form step has plain SGD fused into it
            self.closed_form = None;
        }
        Ok(self)
    }

    /// Whether the model takes the steps in closed form (see the type's
    /// documentation).
    pub fn is_closed_form(&self) -> bool {
        self.closed_form.is_some()
    }

    /// The model's closed-form PCD step (when [`Self::is_closed_form`]).
    fn pcd(&mut self) -> Result<&mut dyn super::traits::PcdStep> {
        self.model
            .pcd_step()
            .ok_or_else(|| EstimatorError::Unsupported("the model lost its closed-form PCD step".into()))
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
        match self.closed_form {
            Some(_) => format!("{}-host", self.objective.name()),
            None => self.objective.name(),
        }
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
        if let Some(pcd) = self.closed_form {
            let lr = self.opt.config().lr();
            return self.pcd()?.start(pcd, lr, seed);
        }
        self.objective.prepare(self.model, data, seed)
    }

    fn step(&mut self, batch: &Points, rng: &mut ChainRng) -> Result<StepOutcome> {
        if self.closed_form.is_some() {
            self.opt.begin_step();
            return self.pcd()?.step(batch);
        }
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
        let state = match self.closed_form {
            Some(_) => self.pcd()?.chains(),
            None => self.objective.state(),
        };
        Ok((self.all_params(), self.opt.state(), state))
    }

    fn restore(
        &mut self,
        params: &[Vec<f64>],
        optimizer: &OptimizerState,
        objective: &ObjectiveState,
    ) -> Result<()> {
        match self.closed_form {
            Some(_) => self.pcd()?.restore_chains(objective)?,
            None => self.objective.restore(objective)?,
        }
        self.set_all_params(params)?;
        self.opt.restore(optimizer)
    }
}
