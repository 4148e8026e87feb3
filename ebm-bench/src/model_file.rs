//! Reading model files.

use crate::error::{CliError, CliResult};
use ebm_core::spec::{EnergySpec, Model};

/// Read, parse, validate and build the model in the JSON file `path`.
pub fn load_model(path: &str) -> CliResult<(EnergySpec, Model)> {
    let text = std::fs::read_to_string(path).map_err(|source| CliError::Io {
        path: path.into(),
        source,
    })?;
    let spec = EnergySpec::from_json(&text).map_err(|source| CliError::Model {
        path: path.into(),
        source,
    })?;
    let model = spec.build().map_err(|source| CliError::Model {
        path: path.into(),
        source,
    })?;
    Ok((spec, model))
}
