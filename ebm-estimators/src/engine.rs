//! How a training run takes its steps.
//!
//! The [trainer](crate::trainer) owns everything around a step (batches,
//! observers, checkpoints, stop requests, the non-finite guard); a
//! [`StepEngine`] takes the optimizer step on one batch and knows the
//! state a checkpoint must carry. The engine of every objective is
//! [`crate::capability::CapabilityEngine`]: any objective written against
//! the capabilities, on a model's hand-written form or its tape (PCD with
//! plain SGD on a model with a closed-form step, the Bernoulli RBM, runs
//! that step: [`crate::capability::PcdStep`]).

use crate::error::Result;
use crate::objective_state::ObjectiveState;
use crate::optim::OptimizerState;
use crate::trainable::{Backend, ParamMut, Real};
use dfdx::prelude::*;
use ebm_core::HostFloat;
use ebm_core::{ChainRng, EnergySpec, Points};

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
    /// [`crate::capability::CapabilityObjective::settings`]). Empty by
    /// default.
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

    /// Leave the model with the run's final parameters (an engine that
    /// keeps a moving average puts it in); called when the run ends,
    /// however it ends.
    fn finish(&mut self) -> Result<()> {
        Ok(())
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
                ParamMut::Filters(t) => {
                    grads.get_or_alloc_mut(&**t).map_err(alloc)?;
                    grads.get(&**t).as_vec()
                }
            };
            Ok(g.into_iter().map(HostFloat::f64).collect())
        })
        .collect()
}
