//! # ebm-estimators
//!
//! Training objectives for energy-based models (CD-k, PCD, denoising score
//! matching, NCE) and neural energies on dfdx.
//!
//! **Status:** not yet implemented; this crate exports nothing so far.
//! The work is tracked in the project's estimators issue.
#![deny(missing_docs)]
