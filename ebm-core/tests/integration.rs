//! The integration tests of ebm-core: every file under `tests/` is a
//! module of this one test binary (run one with `cargo test -p ebm-core
//! --test integration FILE::`). One binary compiles and links the
//! crate's generic code once, where a binary per file did so for each.

mod gradients;
mod log_partition;
mod spec;
