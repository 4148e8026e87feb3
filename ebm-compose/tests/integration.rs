//! The integration tests of ebm-compose: every file under `tests/` is a
//! module of this one test binary (run one with `cargo test -p ebm-compose
//! --test integration FILE::`). One binary compiles and links the
//! crate's generic code once, where a binary per file did so for each.

mod far_from_modes;
mod gradients;
mod identities;
mod spec;
