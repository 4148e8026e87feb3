//! How a training run takes its steps.
//!
//! The [trainer](crate::trainer) owns everything around a step (batches,
//! observers, checkpoints, stop requests, the non-finite guard); a
//! [`StepEngine`] takes the optimizer step on one batch and knows the
//! state a checkpoint must carry. [`DfdxEngine`] is the general engine:
//! any [`Objective`] on any [`TrainableEnergy`], differentiated by dfdx.
//! Objectives with a capability form run on a model's hand-written form
//! through [`crate::capability::CapabilityEngine`] (DSM on the MLP); PCD
//! on a Bernoulli RBM with SGD still has a host engine of its own
//! ([`crate::rbm_pcd`]), which [`Objective::host_engine`] offers. The
//! trainer picks, in that order.

use crate::error::Result;
use crate::objectives::{Objective, ObjectiveState};
use crate::optim::{grad_norm, Optimizer, OptimizerConfig, OptimizerState};
use crate::trainable::{Backend, ParamMut, Real, TrainableEnergy};
use dfdx::prelude::*;
use ebm_core::{ChainRng, EnergySpec, Points};
use std::marker::PhantomData;

/// What one step did.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct StepOutcome {
    /// The loss on the batch (before the update).
    pub loss: f64,
    /// Euclidean norm of the parameter gradient.
    pub grad_norm: f64,
    /// Whether the update was applied: false when the loss was not finite
    /// or the update would have left an invalid model, in which case the
    /// parameters are exactly as they were before the step.
    pub applied: bool,
}

/// One way of taking optimizer steps, with the state a checkpoint needs.
pub trait StepEngine {
    /// The objective's name (part of a run's fingerprint).
    fn objective_name(&self) -> String;

    /// The objective's settings (part of a run's fingerprint; see
    /// [`Objective::settings`]). Empty by default.
    fn objective_settings(&self) -> String {
        String::new()
    }

    /// Shapes of the trained parameters, model then objective (part of a
    /// run's fingerprint; the order of [`StepEngine::snapshot`]).
    fn param_shapes(&mut self) -> Vec<Vec<usize>>;

    /// Called once before training with the whole data set and the seed.
    fn prepare(&mut self, data: &Points, seed: u64) -> Result<()>;

    /// One optimizer step on `batch`, drawing any noise from `rng`.
    fn step(&mut self, batch: &Points, rng: &mut ChainRng) -> Result<StepOutcome>;

    /// Whether the current parameters make a valid model.
    fn is_valid(&mut self) -> bool;

    /// The model with the current parameters, as a model file.
    fn model_spec(&mut self) -> EnergySpec;

    /// The parameters (model, then objective; row-major), the optimizer's
    /// state and the objective's state, for a checkpoint.
    fn snapshot(&mut self) -> Result<(Vec<Vec<f64>>, OptimizerState, ObjectiveState)>;

    /// Continue from a checkpoint's parameters, optimizer and objective
    /// state (after [`StepEngine::prepare`]).
    fn restore(
        &mut self,
        params: &[Vec<f64>],
        optimizer: &OptimizerState,
        objective: &ObjectiveState,
    ) -> Result<()>;

    /// Write the current parameters back into the caller's model (host
    /// engines train a copy); called when the run ends, however it ends.
    fn finish(&mut self) -> Result<()> {
        Ok(())
    }
}

/// The general engine: the objective's loss as a dfdx graph and its
/// backward pass; the parameters and their gradients are copied out of
/// the tape into flat buffers for the one [`Optimizer`] and back.
pub struct DfdxEngine<'a, F: Real, D: Backend<F>, M, O> {
    model: &'a mut M,
    objective: &'a mut O,
    opt: Optimizer,
    _f: PhantomData<(F, D)>,
}

impl<'a, F, D, M, O> DfdxEngine<'a, F, D, M, O>
where
    F: Real,
    D: Backend<F>,
    M: TrainableEnergy<F, D> + Clone,
    O: Objective<F, D, M>,
{
    /// The engine for `model` trained by `objective` with `optimizer`.
    pub fn new(model: &'a mut M, objective: &'a mut O, optimizer: OptimizerConfig) -> Result<Self> {
        let lens: Vec<usize> = {
            let mut p = model.params_mut();
            p.extend(objective.params_mut());
            p.iter().map(ParamMut::len).collect()
        };
        Ok(Self {
            opt: Optimizer::new(optimizer, &lens)?,
            model,
            objective,
            _f: PhantomData,
        })
    }

    fn params(&mut self) -> Vec<ParamMut<'_, F, D>> {
        let mut p = self.model.params_mut();
        p.extend(self.objective.params_mut());
        p
    }
}

impl<F, D, M, O> StepEngine for DfdxEngine<'_, F, D, M, O>
where
    F: Real,
    D: Backend<F>,
    M: TrainableEnergy<F, D> + Clone,
    O: Objective<F, D, M>,
{
    fn objective_name(&self) -> String {
        self.objective.name()
    }

    fn objective_settings(&self) -> String {
        self.objective.settings()
    }

    fn param_shapes(&mut self) -> Vec<Vec<usize>> {
        self.params().iter().map(ParamMut::shape).collect()
    }

    fn prepare(&mut self, data: &Points, seed: u64) -> Result<()> {
        self.objective.prepare(self.model, data, seed)
    }

    fn step(&mut self, batch: &Points, rng: &mut ChainRng) -> Result<StepOutcome> {
        let last_good = self.model.clone();
        let loss = self.objective.loss(self.model, batch, rng)?;
        let value = loss.as_vec()[0].f64();
        if !value.is_finite() {
            return Ok(StepOutcome {
                loss: value,
                grad_norm: f64::NAN,
                applied: false,
            });
        }
        let mut grads = loss.backward();
        let mut params = {
            let mut p = self.model.params_mut();
            p.extend(self.objective.params_mut());
            p
        };
        let g = host_grads(&mut params, &mut grads)?;
        let norm = grad_norm(&g);
        let mut values: Vec<Vec<f64>> = params.iter().map(ParamMut::values).collect();
        self.opt.update(&mut values, &g);
        for (p, v) in params.iter_mut().zip(&values) {
            p.set_values(v)?;
        }
        if !self.model.is_valid() {
            *self.model = last_good;
            return Ok(StepOutcome {
                loss: value,
                grad_norm: norm,
                applied: false,
            });
        }
        Ok(StepOutcome {
            loss: value,
            grad_norm: norm,
            applied: true,
        })
    }

    fn is_valid(&mut self) -> bool {
        self.model.is_valid()
    }

    fn model_spec(&mut self) -> EnergySpec {
        self.model.to_spec()
    }

    fn snapshot(&mut self) -> Result<(Vec<Vec<f64>>, OptimizerState, ObjectiveState)> {
        let objective = self.objective.state();
        let params = {
            let mut p = self.model.params_mut();
            p.extend(self.objective.params_mut());
            p
        };
        let values = params.iter().map(ParamMut::values).collect();
        Ok((values, self.opt.state(), objective))
    }

    fn restore(
        &mut self,
        values: &[Vec<f64>],
        optimizer: &OptimizerState,
        objective: &ObjectiveState,
    ) -> Result<()> {
        self.objective.restore(objective)?;
        let mut params = {
            let mut p = self.model.params_mut();
            p.extend(self.objective.params_mut());
            p
        };
        for (p, v) in params.iter_mut().zip(values) {
            p.set_values(v)?;
        }
        self.opt.restore(optimizer)
    }
}

/// Each parameter's gradient out of dfdx's `grads`, as f64 (zeros for a
/// parameter that took no part in the loss).
pub(crate) fn host_grads<F: Real, D: Backend<F>>(
    params: &mut [ParamMut<'_, F, D>],
    grads: &mut Gradients<F, D>,
) -> Result<Vec<Vec<f64>>> {
    let alloc = |e: D::Err| crate::error::config("optimizer", format!("{e:?}"));
    params
        .iter_mut()
        .map(|p| {
            let g = match p {
                ParamMut::Vector(t) => {
                    grads.get_or_alloc_mut(&**t).map_err(alloc)?;
                    grads.get(&**t).as_vec()
                }
                ParamMut::Matrix(t) => {
                    grads.get_or_alloc_mut(&**t).map_err(alloc)?;
                    grads.get(&**t).as_vec()
                }
            };
            Ok(g.into_iter().map(Real::f64).collect())
        })
        .collect()
}
