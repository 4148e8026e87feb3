//! # ebm-estimators
//!
//! Training energy-based models p(x) = exp(-E(x; theta)) / Z(theta) on data:
//!
//! - [`capability`]: what a model can do on host buffers, which every
//!   objective is written against: the energy capability (energies of a
//!   batch and the parameter gradient of a weighted sum of them, and the
//!   model as a sampling target) and the score capability (scores of a
//!   batch and the parameter gradient of a loss on them); implemented by
//!   hand for the MLP ([`capability::HandMlp`], with a fused
//!   forward/score/backward pass), the RBM ([`capability::HandRbm`], with a
//!   closed-form PCD step) and other models, and through the tape for any dfdx model
//!   ([`capability::Autodiff`]); and the one engine that runs objectives
//!   on them ([`capability::CapabilityEngine`]);
//! - [`trainable`]: the [`TrainableEnergy`] trait (energies, and for
//!   continuous models the score -grad_x E, as tape-tracked dfdx ops; and
//!   what the model can do: its hand-written form, its tape form, itself
//!   as a sampling target);
//! - [`models`]: an MLP energy with its explicit input gradient, a Gaussian
//!   family with learnable mean and precision, the Bernoulli RBM; each also
//!   implements ebm-core's `Energy` (or converts to its `Rbm`), so the
//!   samplers run on it directly;
//! - [`objectives`]: maximum likelihood with CD-k, PCD or a replay buffer,
//!   denoising score matching (one or several noise levels), NCE with a
//!   learnable log-normaliser;
//! - [`trainer`]: Adam or SGD (the one flat-buffer optimizer of
//!   [`optim`]), observers, stop requests, resuming, and a stop on a
//!   non-finite loss that keeps the last good model, around a
//!   [`engine::StepEngine`]: the capability engine on the model's
//!   hand-written form or its tape (which hands PCD with plain SGD to a
//!   model's closed-form step, the RBM's in [`rbm_pcd`]);
//! - [`checkpoint`]: the complete state of a run, written atomically, from
//!   which [`trainer::resume`] continues bit-identically;
//! - [`datasets`]: the 8x8 digits and toy 2-D generators;
//! - [`eval`]: measuring a model against data: MMD, kernel Stein
//!   discrepancy, Fisher divergence, held-out NLL.
//!
//! ```
//! use dfdx::prelude::*;
//! use ebm_core::{Points, energies::Gaussian, ExactSample, setup_rng};
//! use ebm_estimators::{models::GaussianEnergy, objectives::Dsm, trainer::{train, TrainConfig, History}};
//! // data from N((1, -1), I), a model started at N(0, I)
//! let truth = Gaussian::from_covariance(vec![1.0, -1.0], &[1.0, 0.0, 0.0, 1.0]).unwrap();
//! let mut rng = setup_rng(1);
//! let mut x = vec![0.0; 2 * 2000];
//! x.chunks_exact_mut(2).for_each(|r| truth.sample_into(&mut rng, r));
//! let data = Points::from_vec(x, 2).unwrap();
//! let mut model = GaussianEnergy::<f64, Cpu>::standard(&Cpu::default(), 2);
//! let mut dsm = Dsm::new(0.1).unwrap();
//! train(&mut model, &mut dsm, &data, &TrainConfig::steps(300, 128, 0.05), &mut History::default()).unwrap();
//! assert!((model.mean()[0] - 1.0).abs() < 0.2);
//! ```
//!
//! dfdx is used on the CPU; see [`trainable`] for the device story.
#![deny(missing_docs)]

/// The crate README's example, compiled and run as a doctest.
#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;

pub mod capability;
pub mod checkpoint;
pub mod datasets;
pub mod engine;
pub mod error;
pub mod eval;
pub mod models;
pub mod objective_state;
pub mod objectives;
pub mod optim;
pub mod rbm_pcd;
pub mod trainable;
pub mod trainer;

pub use capability::CapabilityObjective;
pub use error::{EstimatorError, Result};
pub use trainable::{Real, TrainableEnergy, TrainableScore};
