//! Reference energies, each with its formula and its log Z.
//!
//! | energy | state | log Z |
//! |---|---|---|
//! | [`Gaussian`] | R^D | closed form |
//! | [`DiagGaussian`] | R^D | closed form |
//! | [`BandedGaussian`] | R^D | closed form (banded Cholesky) |
//! | [`Gmm`] | R^D | closed form, log sum_k w_k |
//! | [`DoubleWell`] | R^D | 1-D quadrature to machine precision |
//! | [`Banana`] | R^D | closed form (volume-preserving twist) |
//! | [`Funnel`] | R^D | closed form |
//! | [`Ising`] | {-1,1}^D | enumeration up to 25 spins |
//! | [`Mlp`] | R^D | unknown (quadrature in 2-D, AIS) |
//! | [`ConvNet`] | R^(C x H x W) | unknown (AIS) |
//! | [`Pairwise`] | {-1,1}^D or {0,1}^D | enumeration up to 26 sites |
//! | [`CategoricalPairwise`] (Potts) | prod_i {0..q_i-1} | enumeration up to 2^26 states |
//! | [`Rbm`] | {0,1}^V | enumeration of the smaller layer up to 2^26 states |
//! | [`GbRbm`] | R^V (binary hiddens summed out) | enumeration of the hidden layer up to 2^26 states, visibles integrated in closed form |

mod banana;
mod banded_gaussian;
mod categorical_pairwise;
pub mod conv;
mod diag_gaussian;
mod double_well;
mod funnel;
mod gaussian;
mod gb_rbm;
mod gmm;
mod ising;
mod mlp;
mod pairwise;
mod rbm;
pub mod rbm_gibbs;

pub use banana::Banana;
pub use banded_gaussian::{BandedGaussian, BANDED_DENSE_MAX_DIM};
pub use categorical_pairwise::{
    CategoricalPairwise, EdgeMatrix, CATEGORICAL_MAX_EXACT_STATES, CATEGORICAL_MAX_Q,
};
pub use conv::{ConvLayer, ConvNet, CONV_MAX_VALUES};
pub use diag_gaussian::DiagGaussian;
pub use double_well::DoubleWell;
pub use funnel::Funnel;
pub use gaussian::{lower_cholesky, Gaussian};
pub use gb_rbm::{GbRbm, GB_RBM_MAX_EXACT_HIDDEN};
pub use gmm::Gmm;
pub use ising::{Ising, ISING_MAX_EXACT_SPINS};
pub use mlp::{Activation, Layer, Mlp, MlpTrace};
pub use pairwise::{check_sites, Pairwise, Spins, PAIRWISE_MAX_EXACT_SPINS, PAIRWISE_MAX_SITES};
pub use rbm::{Rbm, RBM_MAX_EXACT_BITS};
