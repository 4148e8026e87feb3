//! Maximum mean discrepancy (Gretton et al. 2012) between samples
//! X = (x_1..x_m) and Y = (y_1..y_n) with the RBF kernel
//! k(a, b) = exp(-|a - b|^2 / (2 h^2)):
//!
//! MMD^2_u = 1/(m(m-1)) sum_{i != j} k(x_i, x_j) + 1/(n(n-1)) sum_{i != j} k(y_i, y_j)
//!         - 2/(mn) sum_{i, j} k(x_i, y_j),
//!
//! the unbiased U-statistic (it can be slightly negative when the two
//! distributions are equal). The bandwidth h is the median heuristic: the
//! median of the pairwise distances |z_a - z_b|, a < b, of the pooled
//! sample Z = (X, Y) (the mean of the two middle values for an even
//! count). The p-value of H0: X and Y come from one distribution is
//! (1 + #{permutations with MMD^2_u >= the observed}) / (1 + B) over B
//! random relabellings of the pooled sample, the kernel matrix computed
//! once.

use super::{check_points, dist2};
use crate::error::{EstimatorError, Result};
use ebm_core::{chain_rng, Points};
use rand::Rng;
use serde::Serialize;

/// The largest pooled sample: the kernel matrix holds its square (4,000
/// points: 128 MB).
pub const MAX_POOLED: usize = 4000;

/// The outcome of [`mmd_test`].
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Mmd {
    /// MMD^2_u.
    pub mmd2: f64,
    /// The bandwidth h.
    pub bandwidth: f64,
    /// The permutation p-value (NaN without permutations).
    pub p_value: f64,
    /// The number of permutations B.
    pub permutations: usize,
}

/// The median heuristic's bandwidth of the pooled sample (module
/// documentation); `None` when every pair coincides.
pub fn median_bandwidth(x: &Points, y: &Points) -> Option<f64> {
    let d = x.dim();
    let rows: Vec<&[f64]> = x
        .as_slice()
        .chunks_exact(d)
        .chain(y.as_slice().chunks_exact(d))
        .collect();
    let mut dists = Vec::with_capacity(rows.len() * (rows.len().saturating_sub(1)) / 2);
    for a in 0..rows.len() {
        for b in a + 1..rows.len() {
            dists.push(dist2(rows[a], rows[b]).sqrt());
        }
    }
    if dists.is_empty() {
        return None;
    }
    dists.sort_by(f64::total_cmp);
    let k = dists.len();
    let median = if k % 2 == 1 {
        dists[k / 2]
    } else {
        0.5 * (dists[k / 2 - 1] + dists[k / 2])
    };
    (median > 0.0).then_some(median)
}

/// MMD^2_u of `x` and `y` with bandwidth `h`, and its permutation p-value
/// over `permutations` relabellings drawn from `seed` (0: no test).
pub fn mmd_test(x: &Points, y: &Points, h: Option<f64>, permutations: usize, seed: u64) -> Result<Mmd> {
    let d = x.dim();
    check_points("samples", x, d, 2)?;
    check_points("data", y, d, 2)?;
    let (m, n) = (x.len(), y.len());
    if m + n > MAX_POOLED {
        return Err(EstimatorError::Data(format!(
            "MMD on {} points in all (at most {MAX_POOLED}): use fewer samples or data rows",
            m + n
        )));
    }
    let h = match h {
        Some(h) if h.is_finite() && h > 0.0 => h,
        Some(h) => {
            return Err(EstimatorError::Data(format!(
                "bandwidth must be positive, got {h}"
            )))
        }
        None => median_bandwidth(x, y)
            .ok_or_else(|| EstimatorError::Data("every point coincides: no bandwidth".into()))?,
    };
    let rows: Vec<&[f64]> = x
        .as_slice()
        .chunks_exact(d)
        .chain(y.as_slice().chunks_exact(d))
        .collect();
    let total = m + n;
    let scale = -0.5 / (h * h);
    let mut k = vec![0.0; total * total];
    for a in 0..total {
        k[a * total + a] = 1.0;
        for b in 0..a {
            let v = (scale * dist2(rows[a], rows[b])).exp();
            k[a * total + b] = v;
            k[b * total + a] = v;
        }
    }
    let mut labels: Vec<usize> = (0..total).collect();
    let observed = statistic(&k, total, &labels, m);
    let mut rng = chain_rng(seed, 0);
    let mut above = 0usize;
    for _ in 0..permutations {
        // Fisher-Yates
        for i in (1..total).rev() {
            let j = rng.random_range(0..=i);
            labels.swap(i, j);
        }
        above += (statistic(&k, total, &labels, m) >= observed) as usize;
    }
    let p_value = if permutations == 0 {
        f64::NAN
    } else {
        (1 + above) as f64 / (1 + permutations) as f64
    };
    Ok(Mmd {
        mmd2: observed,
        bandwidth: h,
        p_value,
        permutations,
    })
}

/// MMD^2_u with the first `m` of `order` as X and the rest as Y, from the
/// pooled kernel matrix `k`.
fn statistic(k: &[f64], total: usize, order: &[usize], m: usize) -> f64 {
    let n = total - m;
    let (xs, ys) = order.split_at(m);
    let within = |set: &[usize]| -> f64 {
        let mut s = 0.0;
        for (i, &a) in set.iter().enumerate() {
            for &b in &set[..i] {
                s += k[a * total + b];
            }
        }
        2.0 * s
    };
    let mut cross = 0.0;
    for &a in xs {
        let row = &k[a * total..(a + 1) * total];
        cross += ys.iter().map(|&b| row[b]).sum::<f64>();
    }
    within(xs) / (m * (m - 1)) as f64 + within(ys) / (n * (n - 1)) as f64 - 2.0 * cross / (m * n) as f64
}
