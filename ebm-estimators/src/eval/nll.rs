//! Held-out negative log-likelihood per point,
//!
//! NLL = 1/n sum_i E(x_i) + log Z,
//!
//! with log Z from wherever it is known (closed form, enumeration,
//! quadrature) or estimated (AIS, SMC) with a standard error. Its
//! standard error combines the mean energy's (over the points) and log
//! Z's: SE = sqrt(var(E) / n + SE(log Z)^2), the second term being the
//! estimator's and shared by every model scored with that log Z.

use crate::error::{EstimatorError, Result};
use serde::Serialize;

/// The outcome of [`nll`].
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Nll {
    /// The NLL per point.
    pub nll: f64,
    /// Its standard error.
    pub stderr: f64,
    /// The mean energy of the points.
    pub mean_energy: f64,
    /// The log Z used.
    pub log_z: f64,
    /// log Z's standard error (0 when exact).
    pub log_z_stderr: f64,
    /// The number of points.
    pub points: usize,
}

/// The NLL of points with energies `energies` under log Z = `log_z` +-
/// `log_z_stderr`.
pub fn nll(energies: &[f64], log_z: f64, log_z_stderr: f64) -> Result<Nll> {
    let n = energies.len();
    if n < 2 {
        return Err(EstimatorError::Data(format!("need at least 2 points, got {n}")));
    }
    if let Some(i) = energies.iter().position(|e| !e.is_finite()) {
        return Err(EstimatorError::Data(format!(
            "the energy of point {i} is {}: the model gives it no probability",
            energies[i]
        )));
    }
    if !log_z.is_finite() {
        return Err(EstimatorError::Data(format!("log Z is {log_z}")));
    }
    let mean = energies.iter().sum::<f64>() / n as f64;
    let var = energies.iter().map(|e| (e - mean).powi(2)).sum::<f64>() / (n - 1) as f64;
    let se_z = if log_z_stderr.is_finite() {
        log_z_stderr
    } else {
        0.0
    };
    Ok(Nll {
        nll: mean + log_z,
        stderr: (var / n as f64 + se_z * se_z).sqrt(),
        mean_energy: mean,
        log_z,
        log_z_stderr: se_z,
        points: n,
    })
}
