//! The integration tests of ebm-samplers, one module per file under `tests/`, in
//! one test binary (`cargo test -p ebm-samplers --test integration MODULE::`):
//! one binary links and monomorphises the crate's code once, where a
//! binary per file did it for every file.

mod ais;
mod blocked_steps;
mod categorical;
mod common;
mod custom_kernel;
mod determinism;
mod diagnostics_fixture;
mod extreme_models;
mod gb_rbm;
mod hard_wall;
mod hmc_dense_metric;
mod kaufman;
mod kinetic;
mod leapfrog;
mod moments;
mod nuts;
mod pairwise;
mod smc;
mod tempering;
