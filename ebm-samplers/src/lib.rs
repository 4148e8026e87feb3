//! # ebm-samplers
//!
//! MCMC on batches of chains for energy-based models p(x) ∝ exp(-E(x)).
//!
//! * Kernels (config + `step` over the whole batch, one RNG stream per
//!   chain): [`Ula`], [`Mala`], [`Hmc`] (diagonal mass, divergences,
//!   jitter), and for binary models [`gibbs::RbmGibbs`] (block h|v, v|h) and
//!   [`gibbs::SiteGibbs`] (single-site, checkerboard order for Ising).
//! * [`driver::run`]: warm-up with dual-averaging step size and windowed
//!   mass-matrix adaptation, burn-in, thinning, collection, observers;
//!   [`diagnostics`]: ESS (Geyer initial monotone sequence) and split R-hat.
//! * [`ais`]: annealed importance sampling for log Z along a geometric
//!   path, for continuous energies (any kernel above) and RBMs (Gibbs).
//!
//! Chains are processed in fixed chunks of [`chains::CHUNK`] spread over
//! rayon's threads; since the chunking never depends on the thread count and
//! every chain owns its stream, a seed gives bit-identical results with one
//! thread or many.
//!
//! ```
//! use ebm_samplers::{driver::{run, RunConfig, Silent}, Mala};
//! use ebm_core::{energies::Gaussian, Points};
//!
//! let target = Gaussian::from_covariance(vec![0.0, 0.0], &[1.0, 0.5, 0.5, 1.0]).unwrap();
//! let mut mala = Mala::new(0.5).unwrap();
//! let cfg = RunConfig { warmup: 300, draws: 1000, seed: 1, ..Default::default() };
//! let out = run(&mut mala, &target, Points::zeros(16, 2), &cfg, &mut Silent).unwrap();
//! assert!((out.covariance()[1] - 0.5).abs() < 0.1);
//! ```
#![deny(missing_docs)]

pub mod adapt;
pub mod ais;
pub mod chains;
pub mod diagnostics;
pub mod driver;
pub mod error;
pub mod gibbs;
mod hmc;
mod mala;
pub mod moments;
mod ula;

pub use chains::{Chains, Kernel, StepStats, StepTotals};
pub use error::{Result, SamplerError};
pub use hmc::{kinetic, leapfrog, Hmc};
pub use mala::Mala;
pub use ula::Ula;
