//! The integration tests of ebm-core, one module per file under `tests/`, in
//! one test binary (`cargo test -p ebm-core --test integration MODULE::`):
//! one binary links and monomorphises the crate's code once, where a
//! binary per file did it for every file.

mod gradients;
mod log_partition;
mod spec;
