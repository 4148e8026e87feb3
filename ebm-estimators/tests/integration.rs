//! The integration tests of ebm-estimators: every file under `tests/` is a
//! module of this one test binary (run one with `cargo test -p ebm-estimators
//! --test integration FILE::`). One binary compiles and links the
//! crate's generic code once, where a binary per file did so for each.

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
