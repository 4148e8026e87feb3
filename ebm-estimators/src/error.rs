//! The one error type of ebm-estimators.

use thiserror::Error;

/// Everything that can go wrong while setting up or running training.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum EstimatorError {
    /// A model spec or model parameter is invalid (names the field).
    #[error(transparent)]
    Core(#[from] ebm_core::CoreError),
    /// A sampler used for negatives rejected its configuration.
    #[error(transparent)]
    Sampler(#[from] ebm_samplers::SamplerError),
    /// Training data is unusable (empty, wrong width, not finite).
    #[error("data: {0}")]
    Data(String),
    /// A training or objective setting is out of range.
    #[error("{field}: {reason}")]
    Config {
        /// The setting.
        field: String,
        /// Why it is invalid.
        reason: String,
    },
    /// The loss became NaN or infinite; the last good model was kept.
    #[error("loss is {loss} at step {step}; training stopped, the last good model is kept")]
    NonFiniteLoss {
        /// The step (0-based) whose loss was not finite.
        step: usize,
        /// The loss value.
        loss: f64,
    },
    /// The model type cannot be trained with this objective.
    #[error("{0}")]
    Unsupported(String),
    /// A checkpoint cannot be read, or belongs to a different run (another
    /// model shape, objective, data set or setting); the message names
    /// what differs.
    #[error("checkpoint: {0}")]
    Checkpoint(String),
    /// Training was interrupted (a stop request such as Ctrl-C) after
    /// `step` steps; the checkpoint, if one is configured, was written.
    #[error("interrupted after {step} of {total} steps")]
    Interrupted {
        /// Steps completed.
        step: usize,
        /// Steps the run was to take.
        total: usize,
    },
    /// Writing a checkpoint or model file failed.
    #[error("{path}: {message}")]
    Io {
        /// The file.
        path: String,
        /// What went wrong.
        message: String,
    },
}

/// Results of this crate.
pub type Result<T> = std::result::Result<T, EstimatorError>;

/// A [`EstimatorError::Config`] error.
pub(crate) fn config(field: &str, reason: impl Into<String>) -> EstimatorError {
    EstimatorError::Config {
        field: field.into(),
        reason: reason.into(),
    }
}
