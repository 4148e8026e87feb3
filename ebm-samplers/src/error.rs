//! The one error type of ebm-samplers.

use thiserror::Error;

/// Invalid sampler configuration or input.
#[derive(Debug, Error, Clone, PartialEq)]
#[non_exhaustive]
pub enum SamplerError {
    /// A configuration value is out of range.
    #[error("{field}: {reason}")]
    InvalidConfig {
        /// The field.
        field: String,
        /// Why.
        reason: String,
    },
    /// Initial points do not fit the model.
    #[error("initial points: {0}")]
    InitialPoints(String),
    /// A kernel that does not fit the model (a binary kernel on a
    /// continuous energy, block Gibbs without a bipartite structure, ...),
    /// or a kernel name the registry does not know.
    #[error("{0}")]
    Unsupported(String),
    /// The run was asked to stop ([`crate::driver::Observer::stop_requested`]).
    #[error("interrupted after {done} of {total} iterations")]
    Interrupted {
        /// Iterations run.
        done: usize,
        /// Iterations asked for.
        total: usize,
    },
    /// An error from ebm-core (model, enumeration, ...).
    #[error(transparent)]
    Core(#[from] ebm_core::CoreError),
}

/// Result alias of this crate.
pub type Result<T, E = SamplerError> = std::result::Result<T, E>;

pub(crate) fn invalid(field: &str, reason: impl Into<String>) -> SamplerError {
    SamplerError::InvalidConfig {
        field: field.into(),
        reason: reason.into(),
    }
}

/// `value` must be finite and > 0.
pub(crate) fn positive(field: &str, value: f64) -> Result<()> {
    if value.is_finite() && value > 0.0 {
        Ok(())
    } else {
        Err(invalid(
            field,
            format!("must be finite and positive, got {value}"),
        ))
    }
}

/// `value` must lie in the open interval (0, 1) (a probability that is
/// neither impossible nor certain, such as a target acceptance rate).
pub(crate) fn in_open_unit(field: &str, value: f64) -> Result<()> {
    if value > 0.0 && value < 1.0 {
        Ok(())
    } else {
        Err(invalid(field, format!("must be in (0, 1), got {value}")))
    }
}
