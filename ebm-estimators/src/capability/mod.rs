//! Training by what a model can do, on host buffers.
//!
//! The *energy capability* ([`EnergyCapability`]): a model's parameters as
//! flat f64 buffers (one per tensor, in a fixed order), the energies of a
//! batch, and the parameter gradient of a **weighted sum of energies**
//!
//! grad_theta sum_i w_i E(x_i; theta).
//!
//! That is all that objectives built from energies need: CD, PCD and
//! replay (weights 1/n on the data, -1/m on the negatives), NCE (weights
//! from the logistic loss), pseudo-likelihood and ratio matching, and any
//! loss L(E(x_1), ..., E(x_n)) by the chain rule (w_i = dL/dE_i). A
//! [`CapabilityObjective`] computes its loss and gradient through it,
//! never by recognising the model, and [`CapabilityEngine`] runs it under
//! the trainer (batches, checkpoints, NaN guard, resume) with the one
//! [`crate::optim::Optimizer`].
//!
//! The *score capability* ([`ScoreCapability`]): the scores
//! s(x_i) = -grad_x E(x_i) of a batch, and the parameter gradient of a
//! loss that is a sum of per-row functions of them ([`ScoreLoss`]),
//!
//! grad_theta sum_i l_i(s(x_i)) = sum_i (dl_i/ds_i) . grad_theta s(x_i),
//!
//! which is what denoising score matching needs ([`crate::objectives::Dsm`]
//! is written against it).
//!
//! Implementations: the hand-written MLP ([`HandMlp`]: ebm-core's
//! [`ebm_core::energies::Mlp`] with a backward pass and a fused
//! forward/score/backward pass written out here), the hand-written RBM
//! ([`HandRbm`]: the free energy's gradient in closed form), the
//! hand-written Gaussian family ([`HandGaussian`]), the convolutional
//! energy ([`HandConv`]: backward pass and a reverse-over-forward score
//! pass), and any dfdx
//! [`crate::TrainableEnergy`] through its tape ([`Autodiff`]): the
//! general, checked backend, and how a researcher brings an architecture
//! of their own. A dfdx model names its hand-written form, when it has
//! one, through [`crate::TrainableEnergy::hand_written`]; the trainer
//! then runs the objective on that form. `examples/custom_objective.rs`
//! writes an objective against the capability alone and trains both.

mod autodiff;
mod categorical;
mod conv;
mod conv_score;
mod engine;
pub(crate) mod gaussian;
mod gb_rbm;
mod mlp;
mod mlp_score;
mod mlp_trace;
mod pairwise;
mod rbm;
pub(crate) mod traits;

pub use autodiff::Autodiff;
pub use categorical::HandCategorical;
pub use conv::{HandConv, CONV_PART};
pub use engine::CapabilityEngine;
pub use gaussian::HandGaussian;
pub use gb_rbm::HandGbRbm;
pub use mlp::HandMlp;
pub use mlp_score::{PART, SLICE};
pub use pairwise::HandPairwise;
pub use rbm::HandRbm;
pub use traits::{CapabilityObjective, EnergyCapability, PcdSettings, PcdStep, ScoreCapability, ScoreLoss};

/// s(x_i) = -grad_x E(x_i) for the rows of `x` from an energy's batched
/// gradient (the scores of the hand-written MLP and conv energy); NaN
/// rows when `x` has the wrong width.
pub(crate) fn scores_from_gradients(energy: &dyn ebm_core::Energy, x: &ebm_core::Points) -> Vec<f64> {
    let mut s = vec![f64::NAN; x.as_slice().len()];
    if x.dim() == energy.dim() {
        let mut e = vec![0.0; x.len()];
        energy.energy_grad_batch(x.as_slice(), &mut s, &mut e);
        s.iter_mut().for_each(|v| *v = -*v);
    }
    s
}
