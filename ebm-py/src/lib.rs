//! The Python package of ebm-rs, `ebm_rs`: what its extension module
//! `ebm_rs._ebm_rs` does, in plain Rust.
//!
//! Two doors into the toolkit:
//!
//! - [`command`]: any `ebm` command line run in this process (sampling,
//!   log Z, training, evaluation, data, plots), with the command's
//!   validation and its one-line messages, so a Python call and the
//!   command refuse the same input with the same words. The Python
//!   functions `sample`, `log_z`, `train`, ... build the command line from
//!   their keyword arguments.
//! - [`LoadedModel`]: a model file built once, whose energies (and
//!   gradients) a caller evaluates on batches of rows in place.
//!
//! Built without the `python` feature (as `cargo test --workspace` does)
//! the crate needs no Python; maturin builds the module with it
//! (`pip install ./ebm-py`).
//!
//! ```
//! let report = ebm_rs::command(&["energy", "--model", "../examples-data/gaussian2.json",
//!     "--points", "../examples-data/points2.csv", "--json"]).unwrap();
//! assert!(report["energies"].is_array());
//! let refused = ebm_rs::command(&["sample", "--chains", "4"]).unwrap_err();
//! assert_eq!(refused.status, 2);
//! ```

use ebm_bench::cmd::{run_argv, Refusal};
use ebm_compose::ModelSpec;
use ebm_core::spec::Model;

#[cfg(feature = "python")]
mod python;

/// Run the `ebm` command line `args` (without the program name) in this
/// process: its JSON report, or its refusal (message and exit status).
pub fn command<S: AsRef<str>>(args: &[S]) -> Result<serde_json::Value, Refusal> {
    let argv = std::iter::once("ebm".to_string()).chain(args.iter().map(|a| a.as_ref().to_string()));
    run_argv(argv).map(|r| r.json)
}

/// A model file, validated and built: a continuous energy, a binary or a
/// categorical model.
pub struct LoadedModel {
    model: Model,
}

impl LoadedModel {
    /// Parse, validate and build the model file `json` (reference energies
    /// and compositions); the error is the command's one-line message.
    pub fn from_json(json: &str) -> Result<Self, String> {
        let spec = ModelSpec::from_json(json).map_err(|e| format!("model: {e}"))?;
        let model = spec.build().map_err(|e| format!("model: {e}"))?;
        Ok(Self { model })
    }

    /// Dimension of a state.
    pub fn dim(&self) -> usize {
        self.model.dim()
    }

    /// `"continuous"`, `"binary"` or `"categorical"`.
    pub fn kind(&self) -> &'static str {
        match self.model {
            Model::Continuous(_) => "continuous",
            Model::Binary(_) => "binary",
            Model::Categorical(_) => "categorical",
        }
    }

    /// E(x_i) for the rows of `x` (row-major, `dim` columns), and
    /// grad_x E into `grads` when given (continuous models only). States
    /// of a binary or categorical model must be ones it has.
    pub fn energies(&self, x: &[f64], grads: Option<&mut [f64]>) -> Result<Vec<f64>, String> {
        let d = self.dim();
        if d == 0 || x.len() % d != 0 {
            return Err(format!(
                "points: rows must have {d} columns (got {} values)",
                x.len()
            ));
        }
        let n = x.len() / d;
        let mut e = vec![0.0; n];
        match (&self.model, grads) {
            (Model::Continuous(m), Some(g)) => m.energy_grad_batch(x, g, &mut e),
            (Model::Continuous(m), None) => m.energy_batch(x, &mut e),
            (Model::Binary(_) | Model::Categorical(_), Some(_)) => {
                return Err(format!(
                    "a {} model has no gradient; ask for energies only",
                    self.kind()
                ))
            }
            (Model::Binary(b), None) => {
                let (lo, hi) = b.states();
                for (row, out) in x.chunks_exact(d).zip(e.iter_mut()) {
                    if let Some(v) = row.iter().find(|&&v| v != lo && v != hi) {
                        return Err(format!(
                            "points: a binary model's states are {lo} or {hi}, found {v}"
                        ));
                    }
                    *out = b.energy(row);
                }
            }
            (Model::Categorical(c), None) => {
                for (row, out) in x.chunks_exact(d).zip(e.iter_mut()) {
                    for (i, &v) in row.iter().enumerate() {
                        if v.fract() != 0.0 || v < 0.0 || v >= c.states(i) as f64 {
                            return Err(format!(
                                "points: site {i} takes states 0..{}, found {v}",
                                c.states(i) - 1
                            ));
                        }
                    }
                    *out = c.energy(row);
                }
            }
        }
        Ok(e)
    }
}
