//! # ebm-bench
//!
//! The `ebm` command-line tool of ebm-rs and its benchmark suite. Every
//! subcommand reads model files (serde JSON, see [`ebm_core::spec`] and
//! [`ebm_compose::spec`]), prints a short readable report or, with
//! `--json`, one JSON object on stdout, and exits with status 2 and a
//! one-line message on stderr for bad input.
//!
//! ```text
//! ebm suite  [--quick] [--only W1,W3] [--out DIR] [--seed S]   the workloads W1-W9, PT, GWG, PL, SM, CONV: results.json, results.md, plots
//! ebm suite  ... --roofline                                  also the machine's measured peaks and each workload's fraction of them: roofline.json, roofline.md
//! ebm suite  --scaling [--quick] [--peers FILE]              cost curves against chains, dimension, RBM size, temperatures, threads; peak memory
//! ebm logz   --model M.json --method exact|quadrature|ais|smc [--temps K --chains N --sampler NAME --adaptive --bounds] [--json]
//! ebm sample --model M.json --sampler NAME --chains N --steps T [--burn-in B --thin T --step-size e --out F.csv|F.npy --first-chain C] [--json]
//! ebm energy --model M.json --points P.csv|P.npy [--grad] [--json]
//! ebm train  --data D.csv|D.npy (--model init.json | --mlp 2,128,128,1 | --conv ...) --estimator cd|pcd|replay|dsm|nce|... --out trained.json [...]
//! ebm eval   --model M.json --metric nll|mmd|ksd|fisher --data D.csv [...]
//! ebm data   two-moons|rings|eight-gaussians|digits|... --n N --out D.csv
//! ebm merge  --reports R1.json,R2.json --draws D1.npy,D2.npy --out D.npy   (shards of one run, bit for bit)
//! ebm plot   images|trace|rank|acf|density|weights ...                    (PNG/SVG figures from files)
//! ```
//!
//! Samplers are taken by name from the kernel registry of ebm-samplers
//! ([`cmd::kernels`]), so a kernel registered there is offered by `sample`,
//! `logz --method ais` and `train` without an edit here. The library half
//! exposes the same commands as functions ([`cmd`], [`suite`]) so that they
//! can be tested and scripted without a subprocess; the criterion benches
//! are in `benches/`.
#![deny(missing_docs)]

pub mod cmd;
pub mod draws_file;
pub mod error;
pub mod figure;
pub mod host;
pub mod json_num;
pub mod limits;
pub mod model_file;
pub mod points_file;
pub mod progress;
pub mod report;
pub mod rss;
pub mod suite;

pub use error::{CliError, CliResult};

/// The workspace README's Rust examples, compiled and run as doctests so
/// that the README cannot drift from the code.
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
pub struct ReadmeDoctests;
