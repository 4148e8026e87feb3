//! # ebm-samplers
//!
//! MCMC on batches of chains for energy-based models p(x) ∝ exp(-E(x)).
//!
//! * Kernels (validated settings + [`Kernel::step_chunk`] over one chunk
//!   of chains, one RNG stream per chain; object-safe, so `Box<dyn
//!   Kernel>` runs everywhere): [`Ula`], [`Mala`], [`Hmc`] (diagonal mass,
//!   divergences, jitter), [`Nuts`] (multinomial, Stan's U-turn checks,
//!   per-chain tree depth), [`KineticLangevin`] (underdamped, BAOAB or
//!   OBABO), and for binary models [`gibbs::Gibbs`] (block
//!   h|v, v|h for RBMs with the block-Gibbs kernel
//!   [`rbm_block::RbmLanes`], sixteen chains in SIMD lanes; single-site in
//!   the model's sweep order otherwise).
//!   [`Chains::run_kernel`] is the public chunk machinery; [`Registry`]
//!   names the kernels and builds them from serde configs.
//! * [`driver::run_target`] (one driver for continuous and binary
//!   targets, fronted by [`driver::run`] and [`driver::run_binary`]):
//!   warm-up with dual-averaging step size and windowed mass-matrix
//!   adaptation, burn-in, thinning, collection, observers;
//!   [`diagnostics`]: ESS (Stan's estimator), split and rank-normalised
//!   R-hat, bulk and tail ESS, MCSE.
//! * [`tempering::run_pt`]: parallel tempering around any of the kernels
//!   above (one copy per temperature), deterministic even-odd swaps, a
//!   geometric or adaptive ladder (Syed et al. 2021), with swap rates,
//!   round trips and the communication barrier in its report.
//! * [`ais`]: annealed importance sampling for log Z along a geometric
//!   path, for continuous energies (any kernel above) and RBMs (the same
//!   block-Gibbs kernel at every temperature).
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
pub mod chain_steps;
pub mod chains;
pub mod diagnostics;
pub mod draws;
pub mod driver;
pub mod error;
pub mod gibbs;
pub mod gwg;
mod hmc;
pub mod independence;
pub mod kernel;
mod kinetic;
pub mod lanes;
mod mala;
pub mod metric;
pub mod mixture_fit;
pub mod moments;
pub mod normals;
mod nuts;
pub mod pairwise_lanes;
pub mod pieces;
pub mod rbm_block;
pub mod registry;
mod softmax;
pub mod target;
pub mod tempering;
mod ula;
mod unadjusted;
pub mod warmup;

pub use chains::{Chains, ChunkMut, Scratch, CHUNK};
pub use error::{Result, SamplerError};
pub use hmc::{kinetic, leapfrog, Hmc, HmcConfig};
pub use kernel::{Kernel, StepStats, StepTotals};
pub use kinetic::{KineticConfig, KineticLangevin, Splitting};
pub use mala::{Mala, MalaConfig};
pub use metric::{DenseMetric, MetricKind};
pub use nuts::{Nuts, NutsConfig, NUTS_MAX_DEPTH_LIMIT};
pub use registry::{KernelConfig, KernelEntry, Registry};
pub use target::{StateSpace, Target};
pub use ula::{Ula, UlaConfig};
