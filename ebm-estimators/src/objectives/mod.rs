//! Training objectives, each written against the model capabilities of
//! [`crate::capability`]: (model, data batch, random stream) to a loss and
//! its parameter gradient on host buffers.
//!
//! | objective | needs of the model | loss |
//! |---|---|---|
//! | [`MaxLikelihood`] | energies, and a sampling target for the negatives | mean E(data) - mean E(negatives) (+ energy regulariser) |
//! | [`Dsm`] | the score capability | 1/2 mean lambda(sigma) ‖s(x~) - (x - x~)/sigma^2‖^2 |
//! | [`Nce`] | energies (the noise density has an exact log Z) | logistic loss of data against noise |
//! | [`PseudoLikelihood`] | energies of a discrete model | -mean sum_i log p(x_i \| x_-i) |
//! | [`RatioMatching`] | energies of a discrete model | mean sum_i sigmoid(E(x) - E(x^(i)))^2 |

mod dsm;
mod exact_sm;
mod max_likelihood;
mod nce;
mod negatives;
mod pseudo_likelihood;
mod ratio_matching;
mod site_changes;
mod sliced_sm;

pub use crate::capability::CapabilityObjective;
pub use crate::objective_state::ObjectiveState;
pub use dsm::Dsm;
pub use exact_sm::ExactScoreMatching;
pub use max_likelihood::MaxLikelihood;
pub use nce::Nce;
pub use negatives::{ChainNegatives, GibbsNegatives, Init, NegativeSampler, Negatives};
pub use pseudo_likelihood::PseudoLikelihood;
pub use ratio_matching::RatioMatching;
pub use sliced_sm::{Projection, SlicedScoreMatching};
