//! The integration tests of ebm-bench: every file under `tests/` is a
//! module of this one test binary (run one with `cargo test -p ebm-bench
//! --test integration FILE::`). One binary compiles and links the
//! crate's generic code once, where a binary per file did so for each.

mod bad_invocations;
mod cli;
mod common;
mod fuzz_regressions;
mod loaders_proptest;
mod sample_stream;
mod train_interrupt;
