//! # ebm-samplers
//!
//! MCMC kernels on batches of chains for energy-based models (ULA, MALA,
//! HMC with adaptation, block Gibbs, AIS).
//!
//! **Status:** not yet implemented; this crate exports nothing so far.
//! The work is tracked in the project's samplers issue.
#![deny(missing_docs)]
