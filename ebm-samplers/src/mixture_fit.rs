//! A Gaussian mixture fitted to a weighted cloud of particles, as the
//! proposal of population moves ([`crate::independence`]): weighted
//! k-means++ seeding and Lloyd iterations, then each cluster's weight,
//! mean and shrunk, widened covariance.
//!
//! For particles x_i with normalised weights W_i and clusters C_k:
//!
//! w_k = sum_{i in C_k} W_i,  m_k = sum_{i in C_k} W_i x_i / w_k,
//! S_k = sum_{i in C_k} W_i (x_i - m_k)(x_i - m_k)^T / w_k,
//!
//! with n_k = (sum W_i)^2 / sum W_i^2 the cluster's effective size, the
//! covariance shrinks towards its own diagonal and is widened by s^2:
//!
//! Sigma_k = s^2 (n_k / (n_k + 5) S_k + 5 / (n_k + 5) diag(S_k)) + floor I,
//!
//! so a cluster of few particles still gives a positive definite,
//! axis-aligned Gaussian, and the proposal's tails reach a little beyond
//! the particles (an independence sampler is slow where q is much
//! narrower than the target). Above [`FULL_COVARIANCE_MAX_DIM`]
//! dimensions only the diagonal is kept (the fit and the density cost
//! O(D) instead of O(D^2) per component).

use crate::independence::{Covariance, GaussianMixture};
use ebm_core::ChainRng;
use rand::Rng;

/// The largest dimension with full covariances; diagonal ones above.
pub const FULL_COVARIANCE_MAX_DIM: usize = 64;

/// Lloyd iterations at most (they stop earlier when no point changes
/// cluster).
const LLOYD_ITERATIONS: usize = 10;

/// Each component's covariance is widened by this factor squared.
const WIDEN: f64 = 1.2;

/// Settings of [`fit_mixture`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct MixtureFit {
    /// The most components.
    pub max_components: usize,
    /// Components hold at least this many effective particles per
    /// dimension (fewer components when the cloud is small).
    pub particles_per_dim: f64,
}

impl Default for MixtureFit {
    fn default() -> Self {
        Self {
            max_components: 8,
            particles_per_dim: 2.0,
        }
    }
}

/// Fit a Gaussian mixture to the `n = log_w.len()` particles `x` (row-major
/// n x `d`) with log-weights `log_w`; the seeding draws from `rng`. `None`
/// when no particle has a finite weight or a coordinate is not finite.
pub fn fit_mixture(
    x: &[f64],
    d: usize,
    log_w: &[f64],
    settings: &MixtureFit,
    rng: &mut ChainRng,
) -> Option<GaussianMixture> {
    let n = log_w.len();
    let w = normalised(log_w)?;
    let n_eff = 1.0 / w.iter().map(|v| v * v).sum::<f64>();
    let by_size = (n_eff / (settings.particles_per_dim * (d + 1) as f64)).floor() as usize;
    let k = by_size.clamp(1, settings.max_components.max(1));
    let mut centres = seed_centres(x, d, &w, k, rng);
    let mut label = vec![usize::MAX; n];
    for _ in 0..LLOYD_ITERATIONS {
        if !assign(x, d, &centres, &mut label) {
            break;
        }
        centres = weighted_means(x, d, &w, &label, centres.len());
    }
    assign(x, d, &centres, &mut label);
    let (mut log_weights, mut means, mut covariances) = (Vec::new(), Vec::new(), Vec::new());
    for c in 0..centres.len() {
        let members: Vec<usize> = (0..n).filter(|&i| label[i] == c && w[i] > 0.0).collect();
        let wk: f64 = members.iter().map(|&i| w[i]).sum();
        if wk <= 0.0 {
            continue;
        }
        let (mean, cov) = component(x, d, &w, &members, wk);
        log_weights.push(wk.ln());
        means.push(mean);
        covariances.push(cov);
    }
    GaussianMixture::new(log_weights, means, &covariances).ok()
}

/// Normalised weights from log-weights; `None` when none is finite.
fn normalised(log_w: &[f64]) -> Option<Vec<f64>> {
    let top = log_w.iter().copied().filter(|v| v.is_finite()).reduce(f64::max)?;
    let mut w: Vec<f64> = log_w
        .iter()
        .map(|&v| if v.is_finite() { (v - top).exp() } else { 0.0 })
        .collect();
    let total: f64 = w.iter().sum();
    w.iter_mut().for_each(|v| *v /= total);
    Some(w)
}

/// Weighted k-means++ seeding: the first centre drawn in proportion to
/// W_i, each next one to W_i times the squared distance to the nearest
/// centre so far.
fn seed_centres(x: &[f64], d: usize, w: &[f64], k: usize, rng: &mut ChainRng) -> Vec<Vec<f64>> {
    let n = w.len();
    let row = |i: usize| &x[i * d..(i + 1) * d];
    let mut centres = vec![row(pick(w, rng.random::<f64>())).to_vec()];
    let mut near: Vec<f64> = (0..n).map(|i| dist2(row(i), &centres[0])).collect();
    while centres.len() < k {
        let score: Vec<f64> = (0..n).map(|i| w[i] * near[i]).collect();
        let total: f64 = score.iter().sum();
        if total.is_nan() || total <= 0.0 {
            break;
        }
        let u = rng.random::<f64>();
        let next = row(pick(&score.iter().map(|s| s / total).collect::<Vec<_>>(), u)).to_vec();
        for (i, v) in near.iter_mut().enumerate() {
            *v = v.min(dist2(row(i), &next));
        }
        centres.push(next);
    }
    centres
}

/// The index holding the point `u` of the cumulative weights `p` (which
/// sum to 1 up to rounding).
fn pick(p: &[f64], u: f64) -> usize {
    let mut cum = 0.0;
    for (i, &v) in p.iter().enumerate() {
        cum += v;
        if u < cum {
            return i;
        }
    }
    p.iter().rposition(|&v| v > 0.0).unwrap_or(0)
}

fn dist2(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(p, q)| (p - q) * (p - q)).sum()
}

/// Label every point with its nearest centre; whether a label changed.
fn assign(x: &[f64], d: usize, centres: &[Vec<f64>], label: &mut [usize]) -> bool {
    let mut changed = false;
    for (i, l) in label.iter_mut().enumerate() {
        let xi = &x[i * d..(i + 1) * d];
        let best = (0..centres.len())
            .map(|c| (c, dist2(xi, &centres[c])))
            .fold((0, f64::INFINITY), |a, b| if b.1 < a.1 { b } else { a })
            .0;
        changed |= *l != best;
        *l = best;
    }
    changed
}

/// The weighted mean of each cluster (an empty cluster keeps no centre:
/// it is dropped).
fn weighted_means(x: &[f64], d: usize, w: &[f64], label: &[usize], k: usize) -> Vec<Vec<f64>> {
    let mut sums = vec![vec![0.0; d]; k];
    let mut mass = vec![0.0; k];
    for (i, &l) in label.iter().enumerate() {
        mass[l] += w[i];
        for (s, v) in sums[l].iter_mut().zip(&x[i * d..(i + 1) * d]) {
            *s += w[i] * v;
        }
    }
    sums.into_iter()
        .zip(mass)
        .filter(|(_, m)| *m > 0.0)
        .map(|(s, m)| s.into_iter().map(|v| v / m).collect())
        .collect()
}

/// One cluster's mean and covariance (module documentation).
fn component(x: &[f64], d: usize, w: &[f64], members: &[usize], wk: f64) -> (Vec<f64>, Covariance) {
    let mut mean = vec![0.0; d];
    for &i in members {
        for (m, v) in mean.iter_mut().zip(&x[i * d..(i + 1) * d]) {
            *m += w[i] / wk * v;
        }
    }
    let n_k = wk * wk / members.iter().map(|&i| w[i] * w[i]).sum::<f64>();
    let shrink = n_k / (n_k + 5.0);
    let full = d <= FULL_COVARIANCE_MAX_DIM;
    let mut cov = vec![0.0; if full { d * d } else { d }];
    for &i in members {
        let xi = &x[i * d..(i + 1) * d];
        let p = w[i] / wk;
        for a in 0..d {
            let da = xi[a] - mean[a];
            if full {
                for b in 0..=a {
                    cov[a * d + b] += p * da * (xi[b] - mean[b]);
                }
            } else {
                cov[a] += p * da * da;
            }
        }
    }
    let diag = |a: usize| if full { cov[a * d + a] } else { cov[a] };
    let scale = (0..d).map(diag).sum::<f64>() / d as f64;
    let floor = 1e-8 * (1.0 + scale);
    let s2 = WIDEN * WIDEN;
    if full {
        let mut sigma = vec![0.0; d * d];
        for a in 0..d {
            for b in 0..a {
                let v = s2 * shrink * cov[a * d + b];
                sigma[a * d + b] = v;
                sigma[b * d + a] = v;
            }
            sigma[a * d + a] = s2 * cov[a * d + a] + floor;
        }
        (mean, Covariance::Full(sigma))
    } else {
        let var = (0..d).map(|a| s2 * cov[a] + floor).collect();
        (mean, Covariance::Diagonal(var))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ebm_core::chain_rng;

    /// Two well separated clouds with weights 0.25 / 0.75 come back as
    /// components whose weights and means match them.
    #[test]
    fn two_clouds_are_found() {
        let d = 3;
        let mut rng = chain_rng(7, 0);
        let mut x = Vec::new();
        for i in 0..400 {
            let centre = if i < 100 { -10.0 } else { 10.0 };
            for _ in 0..d {
                x.push(centre + rng.random::<f64>() - 0.5);
            }
        }
        let settings = MixtureFit {
            max_components: 2,
            ..Default::default()
        };
        let q = fit_mixture(&x, d, &vec![0.0; 400], &settings, &mut rng).unwrap();
        assert_eq!(q.components(), 2);
        let mut found: Vec<(f64, f64)> = (0..2).map(|c| (q.log_weight(c).exp(), q.mean(c)[0])).collect();
        found.sort_by(|a, b| a.0.total_cmp(&b.0));
        assert!(
            (found[0].0 - 0.25).abs() < 1e-12 && (found[1].0 - 0.75).abs() < 1e-12,
            "{found:?}"
        );
        // the light cluster sits at -10, the heavy one at 10 (uniform noise of half-width 0.5)
        assert!(
            (found[0].1 + 10.0).abs() < 0.1 && (found[1].1 - 10.0).abs() < 0.1,
            "{found:?}"
        );
    }
}
