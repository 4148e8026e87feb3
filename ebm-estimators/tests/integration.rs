//! The integration tests of ebm-estimators, one module per file under `tests/`, in
//! one test binary (`cargo test -p ebm-estimators --test integration MODULE::`):
//! one binary links and monomorphises the crate's code once, where a
//! binary per file did it for every file.

mod conv_digits;
mod conv_energy;
mod custom_objective;
mod discrete_recovery;
mod eval;
mod exact_sm;
mod gaussian_capability;
mod gaussian_recovery;
mod gb_rbm_pcd;
mod gradients;
mod learning;
mod max_likelihood_capability;
mod rbm_capability;
mod resume;
mod score_capability;
mod trainer;
