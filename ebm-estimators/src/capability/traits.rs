//! The capability traits: what a trainable model can do on host buffers,
//! and what an objective written against them looks like.

use crate::error::Result;
use crate::objective_state::ObjectiveState;
use ebm_core::{ChainRng, EnergySpec, Points};
use ebm_samplers::Target;

/// The energy capability: parameters as flat buffers, energies of a
/// batch, and the parameter gradient of a weighted sum of energies,
///
/// grad_theta sum_i w_i E(x_i; theta).
pub trait EnergyCapability: Send {
    /// Dimension D of a point.
    fn dim(&self) -> usize;

    /// Shapes of the parameter tensors, in the order of
    /// [`EnergyCapability::params`].
    fn param_shapes(&mut self) -> Vec<Vec<usize>>;

    /// The parameters, one row-major buffer per tensor.
    fn params(&mut self) -> Vec<Vec<f64>>;

    /// Set the parameters; an error (the values are not a valid model)
    /// leaves them unchanged.
    fn set_params(&mut self, values: &[Vec<f64>]) -> Result<()>;

    /// Apply `step` (an optimizer update) to the parameters where they
    /// live, then keep the result only if it is a valid model: otherwise
    /// the parameters are as before and an error says why. By default
    /// through [`EnergyCapability::params`] and
    /// [`EnergyCapability::set_params`]; a model may do it without
    /// copies.
    fn update_params(&mut self, step: &mut dyn FnMut(&mut [Vec<f64>])) -> Result<()> {
        let mut values = self.params();
        step(&mut values);
        self.set_params(&values)
    }

    /// E(x_i) for every row of `x`.
    fn energies(&mut self, x: &Points) -> Vec<f64>;

    /// Add grad_theta sum_i w_i E(x_i) to `grads` (the layout of
    /// [`EnergyCapability::params`]); `w` has one weight per row of `x`.
    fn add_weighted_energy_grad(&mut self, x: &Points, w: &[f64], grads: &mut [Vec<f64>]) -> Result<()>;

    /// The model with the current parameters, as a model file.
    fn to_spec(&mut self) -> EnergySpec;

    /// The score capability, when the model has it (continuous models
    /// whose score s = -grad_x E is differentiable in the parameters).
    fn score(&mut self) -> Option<&mut dyn ScoreCapability> {
        None
    }

    /// Run `f` on the model with its current parameters as a sampling
    /// target (an `ebm_core::Energy` or `BinaryEnergy`), when it can be
    /// sampled: how maximum likelihood draws its negatives. None when it
    /// cannot.
    fn with_target(&mut self, _f: &mut dyn FnMut(Target<'_>) -> Result<Points>) -> Option<Result<Points>> {
        None
    }

    /// The closed-form persistent-chain step ([`PcdStep`]), when the model
    /// has a block-Gibbs structure that makes one (the Bernoulli RBM).
    fn pcd_step(&mut self) -> Option<&mut dyn PcdStep> {
        None
    }
}

/// Persistent contrastive divergence as an objective states it: `chains`
/// persistent block-Gibbs chains, `sweeps` sweeps of each per step, no
/// regulariser ([`CapabilityObjective::closed_form_pcd`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PcdSettings {
    /// Block-Gibbs sweeps per step (k).
    pub sweeps: usize,
    /// Persistent chains.
    pub chains: usize,
}

/// A whole PCD-k step with plain SGD in closed form, for a model whose
/// layers are conditionally independent given each other (block Gibbs).
/// With data rows V (B of them) and the chains' visibles V-, the update
/// is theta += lr (mean_data T(v) - sum_chains T(v-) / B), where T are
/// the free energy's sufficient statistics (-grad_theta F); the chains
/// keep their hidden layer between steps and each step runs `sweeps`
/// sweeps v- ~ p(v | h), h ~ p(h | v-) from it. This is scikit-learn's
/// `BernoulliRBM` update (its negative term is divided by the batch size
/// whatever the number of chains), with no autodiff graph, no
/// allocation per step and the SGD update fused into the pass over the
/// statistics.
///
/// [`CapabilityEngine`](super::CapabilityEngine) takes it instead of the
/// objective's gradient and the optimizer's update when the objective
/// is this PCD ([`CapabilityObjective::closed_form_pcd`]), the
/// optimizer is plain SGD (no momentum) and no rules surround the
/// update. The model keeps its parameters in its own float type.
pub trait PcdStep: Send {
    /// Start the chains (hidden layer 0; chain r draws from stream r + 1
    /// of `seed`) with SGD's learning rate `lr`.
    fn start(&mut self, pcd: PcdSettings, lr: f64, seed: u64) -> Result<()>;

    /// One step on `batch`: the loss mean_data F(v) - mean_chains F(v-)
    /// and the norm of the gradient; not applied (the parameters as they
    /// were) when the loss or the new parameters are not finite.
    fn step(&mut self, batch: &Points) -> Result<crate::engine::StepOutcome>;

    /// The chains (hidden states in `chains`, the streams in `rngs`), for
    /// a checkpoint.
    fn chains(&self) -> ObjectiveState;

    /// Continue from checkpointed chains (after [`PcdStep::start`]).
    fn restore_chains(&mut self, state: &ObjectiveState) -> Result<()>;
}

/// A loss that is a sum over rows of a function of each row's score,
/// L = sum_i l_i(s(x_i)): denoising score matching, and the first-order
/// part of other score-based objectives. The model computes the scores,
/// asks the loss for each row's term and its derivative, and takes the
/// parameter gradient grad_theta L = sum_i (dl_i/ds_i) . grad_theta s(x_i)
/// through its score.
pub trait ScoreLoss: Sync {
    /// l_i(s) for row `i` (0-based in the batch) with score `score`;
    /// writes dl_i/ds into `ds` (same length as `score`).
    fn row(&self, i: usize, score: &[f64], ds: &mut [f64]) -> f64;
}

/// The score capability: scores of a batch, and the parameter gradient of
/// a sum of per-row functions of them.
pub trait ScoreCapability: Send {
    /// s(x_i) = -grad_x E(x_i) for every row of `x`, row-major.
    fn scores(&mut self, x: &Points) -> Vec<f64>;

    /// L = sum_i loss.row(i, s(x_i)), with grad_theta L added into
    /// `grads` (the layout of [`EnergyCapability::params`]); returns L.
    fn add_score_loss_grad(
        &mut self,
        x: &Points,
        loss: &dyn ScoreLoss,
        grads: &mut [Vec<f64>],
    ) -> Result<f64>;

    /// The Laplacian's part of exact score matching: returns
    /// sum_i T(x_i) with T = tr grad_x^2 E = -tr grad_x s, and adds
    /// `weight` x grad_theta sum_i T(x_i) into `grads`; `None` when the
    /// model has no exact second-order pass (the hand-written MLP and
    /// Gaussian family have one).
    fn add_weighted_laplacian_grad(
        &mut self,
        _x: &Points,
        _weight: f64,
        _grads: &mut [Vec<f64>],
    ) -> Option<Result<f64>> {
        None
    }
}

/// A training objective written against the capabilities only.
pub trait CapabilityObjective: Send {
    /// Short name (part of a run's fingerprint).
    fn name(&self) -> String;

    /// Settings in words (part of a run's fingerprint).
    fn settings(&self) -> String {
        String::new()
    }

    /// Parameters the objective owns and trains with the model (NCE's
    /// log-normaliser), one buffer per tensor. In
    /// [`CapabilityObjective::loss_grad`], `grads` holds the model's
    /// tensors followed by these.
    fn own_params(&self) -> Vec<Vec<f64>> {
        Vec::new()
    }

    /// Set the parameters of [`CapabilityObjective::own_params`].
    fn set_own_params(&mut self, values: &[Vec<f64>]) -> Result<()> {
        if values.is_empty() {
            Ok(())
        } else {
            Err(crate::error::EstimatorError::Checkpoint(format!(
                "it holds {} parameter tensors of the objective; `{}` has none",
                values.len(),
                self.name()
            )))
        }
    }

    /// Called once before training with the model, the whole data set and
    /// the run's seed (fit a noise distribution, start persistent chains).
    fn prepare(&mut self, _model: &mut dyn EnergyCapability, _data: &Points, _seed: u64) -> Result<()> {
        Ok(())
    }

    /// The settings of this objective when it is maximum likelihood with
    /// persistent block-Gibbs negatives and nothing else (no
    /// regulariser): then a model with a [`PcdStep`] can take its steps
    /// in closed form. None by default.
    fn closed_form_pcd(&self) -> Option<PcdSettings> {
        None
    }

    /// The state to checkpoint (chains, streams, a replay buffer).
    fn state(&self) -> ObjectiveState {
        ObjectiveState::default()
    }

    /// Continue from a checkpointed state; called after
    /// [`CapabilityObjective::prepare`].
    fn restore(&mut self, state: &ObjectiveState) -> Result<()> {
        state.expect_empty(&self.name())
    }

    /// The loss on `batch` and its parameter gradient, added into `grads`
    /// (zeroed by the caller: the model's tensors, then the objective's
    /// own), drawing any noise from `rng`.
    fn loss_grad(
        &mut self,
        model: &mut dyn EnergyCapability,
        batch: &Points,
        rng: &mut ChainRng,
        grads: &mut [Vec<f64>],
    ) -> Result<f64>;
}
