//! Trainable energies: an MLP, a Gaussian family and the Bernoulli RBM.

mod gaussian;
mod mlp;
mod rbm;

pub use gaussian::GaussianEnergy;
pub use mlp::MlpEnergy;
pub use rbm::TrainableRbm;
