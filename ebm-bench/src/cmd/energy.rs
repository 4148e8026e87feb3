//! `ebm energy`: energies (and gradients) of a model at given points.

use crate::error::{CliError, CliResult};
use crate::json_num::{matrix, nums};
use crate::model_file::load_model;
use crate::points_file::read_points;
use clap::Args;
use ebm_compose::ModelSpec;
use ebm_core::spec::Model;
use ebm_core::Points;
use serde_json::json;
use std::fmt::Write;

/// Arguments of `ebm energy`.
#[derive(Debug, Args)]
pub struct EnergyArgs {
    /// The model file (JSON).
    #[arg(long)]
    pub model: String,
    /// Points, one per row: CSV (an optional header row is skipped) or
    /// .npy of shape (n, d).
    #[arg(long)]
    pub points: String,
    /// Also report grad_x E at each point (continuous models only).
    #[arg(long)]
    pub grad: bool,
    /// Print one JSON object.
    #[arg(long)]
    pub json: bool,
}

/// Evaluate the model at every row of the points file.
pub fn run(a: &EnergyArgs) -> CliResult<super::Report> {
    let (spec, model) = load_model(&a.model)?;
    let pts = read_points(&a.points)?;
    let n = pts.len();
    let (energies, grads) = match (&model, a.grad) {
        (Model::Continuous(e), true) => {
            check_dim(&spec, &model, &pts, &a.points)?;
            let mut g = vec![0.0; n * pts.dim()];
            let mut energies = vec![0.0; n];
            e.energy_grad_batch(pts.as_slice(), &mut g, &mut energies);
            (energies, Some(g))
        }
        (Model::Binary(_) | Model::Categorical(_), true) => {
            return Err(CliError::Unsupported(format!(
                "model `{}` is discrete: the gradient is not defined (drop --grad)",
                spec.type_name()
            )))
        }
        (_, false) => (energies_at(&spec, &model, &pts, &a.points)?, None),
    };
    let d = pts.dim();
    let grad_rows: Option<Vec<&[f64]>> = grads.as_ref().map(|g| g.chunks_exact(d).collect());
    // CSV with a header row, so the report can be read back as a table.
    let mut text = String::from("energy");
    if grad_rows.is_some() {
        for j in 0..d {
            write!(text, ",grad_{j}").expect("write to string");
        }
    }
    text.push('\n');
    for i in 0..n {
        write!(text, "{:.10}", energies[i]).expect("write to string");
        if let Some(g) = &grad_rows {
            for v in g[i] {
                write!(text, ",{v:.10}").expect("write to string");
            }
        }
        text.push('\n');
    }
    text.pop();
    let mut obj = json!({"energies": nums(&energies)});
    if let Some(g) = &grads {
        obj["gradients"] = matrix(g, d);
    }
    Ok(super::Report { json: obj, text })
}

/// Refuse points whose dimension is not the model's (`path` names them).
fn check_dim(spec: &ModelSpec, model: &Model, pts: &Points, path: &str) -> CliResult<()> {
    if pts.dim() != model.dim() {
        return Err(CliError::Data {
            path: path.into(),
            message: format!(
                "points have {} columns but model `{}` has dimension {}",
                pts.dim(),
                spec.type_name(),
                model.dim()
            ),
        });
    }
    Ok(())
}

/// The energies of `pts` under `model`, after checking their dimension
/// and, for discrete models, that every value is one of a site's states;
/// `path` names the points in errors.
pub fn energies_at(spec: &ModelSpec, model: &Model, pts: &Points, path: &str) -> CliResult<Vec<f64>> {
    check_dim(spec, model, pts, path)?;
    match model {
        Model::Continuous(_) => {}
        Model::Binary(b) => {
            let (lo, hi) = b.states();
            if let Some(k) = pts.as_slice().iter().position(|&v| v != lo && v != hi) {
                return Err(CliError::Data {
                    path: path.into(),
                    message: format!(
                        "row {}, column {}: value {} is not a state of `{}` (must be {lo} or {hi})",
                        k / pts.dim() + 1,
                        k % pts.dim() + 1,
                        pts.as_slice()[k],
                        spec.type_name()
                    ),
                });
            }
        }
        Model::Categorical(c) => {
            ebm_core::categorical::check_states(c.as_ref(), pts.as_slice()).map_err(|e| CliError::Data {
                path: path.into(),
                message: format!("{e} of `{}`", spec.type_name()),
            })?;
        }
    }
    Ok(energies(model, pts))
}

/// The energies of `pts` under `model` (points already checked).
pub fn energies(model: &Model, pts: &Points) -> Vec<f64> {
    let mut energies = vec![0.0; pts.len()];
    match model {
        Model::Continuous(e) => e.energy_batch(pts.as_slice(), &mut energies),
        Model::Binary(b) => b.energy_batch(pts.as_slice(), &mut energies),
        Model::Categorical(c) => c.energy_batch(pts.as_slice(), &mut energies),
    }
    energies
}
