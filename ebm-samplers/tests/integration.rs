//! The integration tests of ebm-samplers: every file under `tests/` is a
//! module of this one test binary (run one with `cargo test -p ebm-samplers
//! --test integration FILE::`). One binary compiles and links the
//! crate's generic code once, where a binary per file did so for each.

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
