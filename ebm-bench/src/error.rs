//! Errors of the `ebm` command: every one is bad input, reported in one
//! line with exit status 2.

use ebm_core::CoreError;
use thiserror::Error;

/// What can go wrong running a command.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum CliError {
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The OS error.
        source: std::io::Error,
    },
    /// A model file is invalid.
    #[error("{path}: {source}")]
    Model {
        /// The model file.
        path: String,
        /// What is wrong with it.
        source: CoreError,
    },
    /// A data or points file is invalid.
    #[error("{path}: {message}")]
    Data {
        /// The file.
        path: String,
        /// What is wrong with it.
        message: String,
    },
    /// The request cannot be carried out for this model (for example exact
    /// log Z of a model that has none).
    #[error("{0}")]
    Unsupported(String),
    /// A numerical routine failed.
    #[error(transparent)]
    Core(#[from] CoreError),
    /// Training was stopped by Ctrl-C (SIGINT); the message says where the
    /// checkpoint is. Exit status 130.
    #[error("{0}")]
    Interrupted(String),
}

impl CliError {
    /// The exit status: 130 for an interrupt (128 + SIGINT, as shells
    /// report it), 2 for everything else (bad input).
    pub fn exit_code(&self) -> u8 {
        match self {
            CliError::Interrupted(_) => 130,
            _ => 2,
        }
    }
}

impl From<ebm_estimators::EstimatorError> for CliError {
    fn from(e: ebm_estimators::EstimatorError) -> Self {
        use ebm_estimators::EstimatorError as E;
        match e {
            E::Core(c) => CliError::Core(c),
            E::Interrupted { .. } => CliError::Interrupted(e.to_string()),
            other => CliError::Unsupported(other.to_string()),
        }
    }
}

/// Result alias for the command.
pub type CliResult<T> = Result<T, CliError>;

/// A sampler's error (a bad setting, a kernel that does not fit the
/// model) as the command's one-line message.
pub fn sampler_err(e: ebm_samplers::SamplerError) -> CliError {
    match e {
        ebm_samplers::SamplerError::Interrupted { .. } => CliError::Interrupted(e.to_string()),
        e => CliError::Unsupported(e.to_string()),
    }
}
