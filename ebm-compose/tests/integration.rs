//! The integration tests of ebm-compose, one module per file under `tests/`, in
//! one test binary (`cargo test -p ebm-compose --test integration MODULE::`):
//! one binary links and monomorphises the crate's code once, where a
//! binary per file did it for every file.

mod far_from_modes;
mod gradients;
mod identities;
mod spec;
