//! Trainable energies: an MLP, a convolutional energy, a Gaussian family
//! and the Bernoulli RBM.

mod conv;
mod gaussian;
mod mlp;
mod rbm;

pub use conv::ConvEnergy;
pub use gaussian::GaussianEnergy;
pub use mlp::MlpEnergy;
pub use rbm::TrainableRbm;
