//! Training objectives: each turns (model, data batch, random stream) into
//! a scalar dfdx loss whose `backward()` gives the parameter gradients.
//!
//! | objective | needs | loss |
//! |---|---|---|
//! | [`MaxLikelihood`] | negatives from a sampler | mean E(data) - mean E(negatives) (+ energy regulariser) |
//! | [`Dsm`] | the score as ops | 1/2 mean lambda(sigma) ‖s(x~) - (x - x~)/sigma^2‖^2 |
//! | [`Nce`] | a noise density with exact log Z | logistic loss of data against noise |

mod dsm;
mod max_likelihood;
mod nce;
mod negatives;

pub use crate::objective_state::ObjectiveState;
pub use dsm::Dsm;
pub use max_likelihood::MaxLikelihood;
pub use nce::Nce;
pub use negatives::{ChainNegatives, GibbsNegatives, NegativeSampler, Negatives};

use crate::capability::CapabilityObjective;
use crate::engine::StepEngine;
use crate::error::Result;
use crate::optim::OptimizerConfig;
use crate::trainable::{Backend, ParamMut, Real, TrainableEnergy};
use dfdx::prelude::*;
use ebm_core::{ChainRng, Points};

/// A scalar loss on the tape that collected its gradients.
pub type Loss<F, D> = Tensor<(), F, D, OwnedTape<F, D>>;

/// A training objective for models of type `M`.
pub trait Objective<F: Real, D: Backend<F>, M: TrainableEnergy<F, D>> {
    /// Short name ("cd", "pcd", "dsm", "nce", ...).
    fn name(&self) -> String;

    /// Called once before training with the whole data set (fit a noise
    /// distribution, start persistent chains, ...).
    fn prepare(&mut self, _model: &M, _data: &Points, _seed: u64) -> Result<()> {
        Ok(())
    }

    /// The loss on one batch (rows of `batch`) as a dfdx graph, drawing
    /// any noise from `rng`. Objectives written against the capabilities
    /// ([`Objective::capability`]) need none: by default an error says so.
    fn loss(&mut self, _model: &M, _batch: &Points, _rng: &mut ChainRng) -> Result<Loss<F, D>> {
        Err(crate::error::EstimatorError::Unsupported(format!(
            "`{}` is written against the model capabilities; train it with `trainer::train` or a CapabilityEngine",
            self.name()
        )))
    }

    /// The objective's settings in words (noise levels, negatives and
    /// their kernel, noise ratio): part of a run's fingerprint, so a run
    /// is not resumed with other settings.
    fn settings(&self) -> String {
        String::new()
    }

    /// Parameters the objective owns and trains with the model (NCE's
    /// log-normaliser).
    fn params_mut(&mut self) -> Vec<ParamMut<'_, F, D>> {
        Vec::new()
    }

    /// The objective written against the capabilities, when it is: the
    /// trainer runs it on a model's hand-written form
    /// ([`TrainableEnergy::hand_written`]) when the model has one.
    fn capability(&mut self) -> Option<&mut dyn CapabilityObjective> {
        None
    }

    /// Whether [`Objective::host_engine`] has an engine for `model` and
    /// `optimizer`.
    fn has_host_engine(&self, _model: &M, _optimizer: &OptimizerConfig) -> bool {
        false
    }

    /// An engine that takes this objective's steps for `model` on the
    /// host, without a dfdx graph (a closed-form or fused gradient), when
    /// there is one for this model and optimizer; the trainer then uses it
    /// (see [`crate::engine`]).
    fn host_engine<'a>(
        &'a mut self,
        _model: &'a mut M,
        _optimizer: &OptimizerConfig,
    ) -> Result<Option<Box<dyn StepEngine + Send + 'a>>> {
        Ok(None)
    }

    /// The state to checkpoint (see [`ObjectiveState`]).
    fn state(&self) -> ObjectiveState {
        ObjectiveState::default()
    }

    /// Continue from a checkpointed state; called after
    /// [`Objective::prepare`].
    fn restore(&mut self, state: &ObjectiveState) -> Result<()> {
        state.expect_empty(&self.name())
    }
}

/// log sigmoid(u) = -softplus(-u) = -(relu(-u) + ln(1 + exp(-|u|))), as ops.
pub(crate) fn log_sigmoid<F: Real, D: Backend<F>, T: Tape<F, D>>(
    u: Tensor<(usize,), F, D, T>,
) -> Tensor<(usize,), F, D, T> {
    let (u, tape) = u.split_tape();
    let tail = (u.retaped::<T>().abs().negate().exp() + F::one()).ln();
    (u.put_tape(tape).negate().relu() + tail).negate()
}
