//! The integration tests of ebm-bench, one module per file under `tests/`, in
//! one test binary (`cargo test -p ebm-bench --test integration MODULE::`):
//! one binary links and monomorphises the crate's code once, where a
//! binary per file did it for every file.

mod bad_invocations;
mod cli;
mod common;
mod fuzz_regressions;
mod loaders_proptest;
mod sample_stream;
mod train_interrupt;
