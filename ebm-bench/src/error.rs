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
}

/// Result alias for the command.
pub type CliResult<T> = Result<T, CliError>;
