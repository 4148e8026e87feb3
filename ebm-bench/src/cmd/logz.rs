//! `ebm logz`: the log-partition function of a model.

use crate::error::{CliError, CliResult};
use crate::model_file::load_model;
use clap::{Args, ValueEnum};
use ebm_core::quadrature::{log_partition_grid, log_partition_quadrature, QuadratureOptions};
use ebm_core::spec::Model;
use serde_json::json;
use std::time::Instant;

/// How to compute log Z.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogzMethod {
    /// Closed form, or exact enumeration for binary models.
    Exact,
    /// Numerical integration (1-D and 2-D continuous energies).
    Quadrature,
}

/// Arguments of `ebm logz`.
#[derive(Debug, Args)]
pub struct LogzArgs {
    /// The model file (JSON).
    #[arg(long)]
    pub model: String,
    /// exact: closed form or enumeration; quadrature: adaptive
    /// Gauss-Kronrod over all of R^D (or a midpoint grid with --bounds).
    #[arg(long, value_enum, default_value = "exact")]
    pub method: LogzMethod,
    /// With quadrature: integrate on the box [lo, hi]^D with a midpoint grid
    /// instead of adaptively over R^D, e.g. `--bounds=-8,8`.
    #[arg(long, value_delimiter = ',', num_args = 2, allow_negative_numbers = true)]
    pub bounds: Option<Vec<f64>>,
    /// Cells per axis of the midpoint grid (with --bounds).
    #[arg(long, default_value_t = 400)]
    pub grid: usize,
    /// Relative tolerance of adaptive quadrature.
    #[arg(long, default_value_t = 1e-11)]
    pub tol: f64,
    /// Print one JSON object.
    #[arg(long)]
    pub json: bool,
}

/// Compute log Z as the arguments say.
pub fn run(a: &LogzArgs) -> CliResult<super::Report> {
    let (spec, model) = load_model(&a.model)?;
    let start = Instant::now();
    let log_z = match (a.method, &model) {
        (LogzMethod::Exact, Model::Continuous(e)) => e.log_partition().ok_or_else(|| {
            CliError::Unsupported(format!(
                "model `{}` has no closed-form log Z; use --method quadrature (1-D, 2-D)",
                spec.type_name()
            ))
        })?,
        (LogzMethod::Exact, Model::Binary(b)) => b.log_partition().ok_or_else(|| {
            CliError::Unsupported(format!(
                "model `{}` with {} units is too large to enumerate",
                spec.type_name(),
                b.dim()
            ))
        })?,
        (LogzMethod::Quadrature, Model::Continuous(e)) => match &a.bounds {
            Some(b) => {
                let d = e.dim();
                log_partition_grid(e.as_ref(), &vec![b[0]; d], &vec![b[1]; d], a.grid)?
            }
            None => {
                if !(a.tol > 0.0 && a.tol < 1.0) {
                    return Err(CliError::Unsupported(format!(
                        "--tol must be in (0, 1), got {}",
                        a.tol
                    )));
                }
                let opts = QuadratureOptions {
                    rel_tol: a.tol,
                    ..Default::default()
                };
                log_partition_quadrature(e.as_ref(), &opts)?
            }
        },
        (LogzMethod::Quadrature, Model::Binary(_)) => {
            return Err(CliError::Unsupported(format!(
                "model `{}` is discrete; use --method exact",
                spec.type_name()
            )))
        }
    };
    let seconds = start.elapsed().as_secs_f64();
    let method = match a.method {
        LogzMethod::Exact => "exact",
        LogzMethod::Quadrature => "quadrature",
    };
    Ok(super::Report {
        json: json!({"log_z": log_z, "stderr": null, "method": method, "seconds": seconds}),
        text: format!(
            "log Z = {log_z:.10} ({method}, {}, {seconds:.3} s)",
            spec.type_name()
        ),
    })
}
