//! # ebm-compose
//!
//! Combinators over energies: products of experts, mixtures, tempering,
//! annealing paths, clamping and soft constraints.
//!
//! **Status:** not yet implemented; this crate exports nothing so far.
//! The work is tracked in the project's composition issue.
#![deny(missing_docs)]
