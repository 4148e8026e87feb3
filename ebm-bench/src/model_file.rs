//! Reading model files (reference energies and compositions, nested to any
//! depth; see [`ebm_compose::spec`]).

use crate::error::{CliError, CliResult};
use ebm_compose::ModelSpec;
use ebm_core::energies::{Ising, Rbm};
use ebm_core::spec::{EnergySpec, Model};

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

/// The concrete binary model a spec describes. `Model::Binary` offers only
/// the `BinaryEnergy` trait; block Gibbs and AIS with the hidden units summed
/// out need the RBM itself, and checkerboard Gibbs the Ising lattice.
pub enum ConcreteBinary {
    /// A Bernoulli RBM.
    Rbm(Rbm),
    /// A 2-D Ising lattice.
    Ising(Ising),
}

/// The concrete binary model of `spec`, or `None` when it is not an RBM or
/// an Ising lattice (for example a composition).
pub fn concrete_binary(spec: &ModelSpec) -> CliResult<Option<ConcreteBinary>> {
    Ok(match spec {
        ModelSpec::Energy(EnergySpec::Rbm { w, b, c }) => {
            Some(ConcreteBinary::Rbm(Rbm::from_rows(w, b.clone(), c.clone())?))
        }
        ModelSpec::Energy(EnergySpec::Ising {
            rows,
            cols,
            coupling,
            field,
            beta,
            periodic,
        }) => Some(ConcreteBinary::Ising(Ising::new(
            *rows, *cols, *coupling, *field, *beta, *periodic,
        )?)),
        _ => None,
    })
}
