//! Reading model files (reference energies and compositions, nested to any
//! depth; see [`ebm_compose::spec`]).

use crate::error::{CliError, CliResult};
use ebm_compose::ModelSpec;
use ebm_core::spec::Model;

/// Read, parse, validate and build the model in the JSON file `path`.
pub fn load_model(path: &str) -> CliResult<(ModelSpec, Model)> {
    let text = std::fs::read_to_string(path).map_err(|source| CliError::Io {
        path: path.into(),
        source,
    })?;
    parse_model(path, &text)
}

/// Parse, validate and build the model in `text`; `path` names the source
/// in errors.
pub fn parse_model(path: &str, text: &str) -> CliResult<(ModelSpec, Model)> {
    let spec = ModelSpec::from_json(text).map_err(|source| CliError::Model {
        path: path.into(),
        source,
    })?;
    let model = spec.build().map_err(|source| CliError::Model {
        path: path.into(),
        source,
    })?;
    Ok((spec, model))
}
