//! Kernel Stein discrepancy (Liu, Lee and Jordan 2016; Chwialkowski et al.
//! 2016) of points x_1..x_n against a model p ∝ exp(-E) through its score
//! s(x) = -grad E(x) alone (no samples, no log Z), with the inverse
//! multiquadric kernel k(x, y) = (c^2 + |x - y|^2)^beta, c = 1,
//! beta = -1/2, which detects non-convergence (Gorham and Mackey 2017).
//! With r = x - y and q = c^2 + |r|^2, the Stein kernel is
//!
//! u(x, y) = s(x).s(y) k + s(x).grad_y k + s(y).grad_x k + tr(grad_x grad_y k),
//! grad_x k = 2 beta q^(beta-1) r = -grad_y k,
//! tr(grad_x grad_y k) = -2 beta (D q^(beta-1) + 2 (beta-1) q^(beta-2) |r|^2),
//!
//! and KSD^2 = 1/(n(n-1)) sum_{i != j} u(x_i, x_j), the U-statistic
//! (zero in expectation when the points come from p).

use super::{check_points, dist2};
use crate::error::{EstimatorError, Result};
use ebm_core::{Energy, Points};
use serde::Serialize;

/// The IMQ kernel's c.
pub const IMQ_C: f64 = 1.0;
/// The IMQ kernel's exponent beta.
pub const IMQ_BETA: f64 = -0.5;

/// The outcome of [`ksd`].
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Ksd {
    /// The U-statistic KSD^2 (may be slightly negative).
    pub ksd2: f64,
    /// sqrt(max(KSD^2, 0)).
    pub ksd: f64,
    /// The number of points.
    pub points: usize,
}

/// KSD^2 of `x` against `energy`'s score (module documentation).
pub fn ksd(x: &Points, energy: &dyn Energy) -> Result<Ksd> {
    let d = energy.dim();
    check_points("points", x, d, 2)?;
    let n = x.len();
    let mut grad = vec![0.0; n * d];
    let mut e = vec![0.0; n];
    energy.energy_grad_batch(x.as_slice(), &mut grad, &mut e);
    if let Some(i) = grad.iter().position(|g| !g.is_finite()) {
        return Err(EstimatorError::Data(format!(
            "the model's gradient is not finite at point {}",
            i / d
        )));
    }
    let s: Vec<f64> = grad.iter().map(|g| -g).collect();
    let rows = x.as_slice();
    let (c2, beta) = (IMQ_C * IMQ_C, IMQ_BETA);
    let mut total = 0.0;
    for i in 0..n {
        let (xi, si) = (&rows[i * d..(i + 1) * d], &s[i * d..(i + 1) * d]);
        for j in 0..i {
            let (xj, sj) = (&rows[j * d..(j + 1) * d], &s[j * d..(j + 1) * d]);
            let r2 = dist2(xi, xj);
            let q = c2 + r2;
            let k = q.powf(beta);
            let g = 2.0 * beta * q.powf(beta - 1.0);
            // s(x).s(y) k + g (s(x) - s(y)).r ... with r = x - y:
            // s(x).grad_y k = -g s(x).r,  s(y).grad_x k = g s(y).r
            let mut ss = 0.0;
            let mut sr = 0.0;
            for a in 0..d {
                ss += si[a] * sj[a];
                sr += (sj[a] - si[a]) * (xi[a] - xj[a]);
            }
            let trace =
                -2.0 * beta * (d as f64 * q.powf(beta - 1.0) + 2.0 * (beta - 1.0) * q.powf(beta - 2.0) * r2);
            total += ss * k + g * sr + trace;
        }
    }
    let ksd2 = 2.0 * total / (n * (n - 1)) as f64;
    Ok(Ksd {
        ksd2,
        ksd: ksd2.max(0.0).sqrt(),
        points: n,
    })
}
