//! # ebm-bench
//!
//! The `ebm` command-line tool of ebm-rs (and, as the other crates land, the
//! benchmark suite). Every subcommand reads model files (serde JSON, see
//! [`ebm_core::spec`]), prints a short readable report or, with `--json`,
//! one JSON object on stdout, and exits with status 2 and a one-line message
//! on stderr for bad input.
//!
//! ```text
//! ebm logz   --model M.json --method exact|quadrature|ais [--temps K --chains N --sampler gibbs|hmc|mala] [--json]
//! ebm energy --model M.json --points P.csv [--grad] [--json]
//! ebm sample --model M.json --sampler ula|mala|hmc|gibbs --chains N --steps T [--burn-in B --step-size e --leapfrog L --seed S --out F.csv|F.npy] [--json]
//! ```
//!
//! The library half exposes the same commands as functions so that they
//! can be tested and scripted without a subprocess.
#![deny(missing_docs)]

pub mod cmd;
pub mod draws_file;
pub mod error;
pub mod limits;
pub mod model_file;
pub mod points_file;
pub mod progress;
pub mod suite;

pub use error::{CliError, CliResult};

/// The workspace README's Rust examples, compiled and run as doctests so
/// that the README cannot drift from the code.
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
pub struct ReadmeDoctests;
