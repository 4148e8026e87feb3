//! # ebm-core
//!
//! The shared vocabulary of ebm-rs, a toolkit for energy-based models
//! p(x) = exp(-E(x)) / Z.
//!
//! * [`Energy`]: an energy E on R^D with its gradient grad_x E (note: the
//!   gradient of the *energy*, i.e. -grad log p), single-point and batched;
//!   `log_partition()` gives log Z where it is known.
//! * [`BinaryEnergy`]: models over binary units (RBM visibles, Ising spins),
//!   with what Gibbs sampling, AIS and exact enumeration need.
//! * [`Points`]: a batch of N points of dimension D in one row-major buffer,
//!   with faer views.
//! * [`rng`]: one seed, one ChaCha8 stream per chain, so results never
//!   depend on the number of threads.
//! * [`energies`]: reference energies with exact answers (Gaussians,
//!   mixtures, double well, banana, funnel, Ising, RBM).
//! * [`quadrature`]: log Z of 1-D and 2-D energies by adaptive quadrature.
//! * [`spec`]: model files (serde JSON) for all of the above.
//!
//! ## Tutorial
//!
//! ```
//! use ebm_core::{Energy, Points, energies::Gmm, quadrature};
//!
//! // The 8-Gaussian ring of the W1 benchmark.
//! let gmm = Gmm::eight_gaussians();
//!
//! // Energies and gradients for a batch of points in one call.
//! let xs = Points::from_rows(&[vec![4.0, 0.0], vec![0.0, 0.0]]).unwrap();
//! let mut grads = Points::zeros(xs.len(), 2);
//! let mut e = vec![0.0; xs.len()];
//! gmm.energy_grad_batch(xs.as_slice(), grads.as_mut_slice(), &mut e);
//! assert!(e[0] < e[1]); // a mode is more probable than the centre
//!
//! // log Z is known in closed form (the weights sum to one) and quadrature agrees.
//! let exact = gmm.log_partition().unwrap();
//! let numeric = quadrature::log_partition_quadrature(&gmm, &Default::default()).unwrap();
//! assert!((exact - numeric).abs() < 1e-8);
//! ```
#![deny(missing_docs)]

pub mod aligned;
pub mod bernoulli;
pub mod binary;
pub mod categorical;
pub mod energies;
pub mod energy;
pub mod error;
pub mod fast_exp;
pub mod fast_exp_f32;
pub mod fast_ln;
pub mod graph;
pub mod host_float;
pub mod hot_pool;
pub mod math;
pub mod matmul;
pub mod matvec;
pub mod normal;
pub mod points;
pub mod quadrature;
// the registers' trait has implementations on x86-64 only
#[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
mod register;
pub mod rng;
pub mod simd;
pub mod spec;
pub mod transpose;

pub use binary::BinaryEnergy;
pub use categorical::CategoricalEnergy;
pub use energy::{Energy, ExactSample, Quadratic};
pub use error::{CoreError, Result};
pub use host_float::HostFloat;
pub use points::Points;
pub use rng::{
    chain_rng, chain_rngs, setup_rng, training_rng, ChainRng, RngPosition, Shard, TRAINING_STREAM,
};
pub use spec::{Arithmetic, EnergySpec, Model};
