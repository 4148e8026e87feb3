//! Gaussian with a banded precision matrix (Gaussian Markov chains,
//! AR(p) processes, discretised smoothness priors).

use crate::energy::{Energy, ExactSample, Quadratic};
use crate::error::{check_finite, check_len, check_mean, check_positive_scalar, CoreError, Result};
use crate::math::LN_2PI;
use rand_distr::{Distribution, StandardNormal};

/// Largest dimension for which [`Energy::quadratic`] spells the precision
/// out as a dense D x D matrix (32 MB); above it the energy still has its
/// closed-form log Z, but products with other quadratics do not.
pub const BANDED_DENSE_MAX_DIM: usize = 2048;

/// N(mu, P^-1) with a symmetric positive definite precision P that is
/// zero more than `k` places off the diagonal:
///
/// E(x) = 1/2 (x - mu)^T P (x - mu),
/// (grad E)_i = sum_{|j - i| <= k} P_ij (x_j - mu_j),
/// log Z = D/2 log(2 pi) - 1/2 log det P,
///
/// with log det P = 2 sum_i log L_ii from the banded Cholesky factor
/// P = L L^T (O(D k^2) once, at construction). A gradient costs O(D k)
/// instead of the dense O(D^2): for the tridiagonal precision of an AR(1)
/// chain ([`BandedGaussian::ar1`]), 5 flops per coordinate.
///
/// The precision is given by its diagonals: `bands[0]` is the main
/// diagonal (D entries) and `bands[m]` the m-th off-diagonal
/// P_{i, i+m} = P_{i+m, i} (D - m entries), m = 1..=k.
///
/// ```
/// use ebm_core::{Energy, energies::{BandedGaussian, Gaussian}};
/// // AR(1): covariance rho^|i-j|, tridiagonal precision
/// let d = 5;
/// let banded = BandedGaussian::ar1(vec![0.0; d], 0.9, 1.0).unwrap();
/// let cov: Vec<f64> = (0..d * d).map(|k| 0.9f64.powi((k / d).abs_diff(k % d) as i32)).collect();
/// let dense = Gaussian::from_covariance(vec![0.0; d], &cov).unwrap();
/// let x = [0.3, -1.0, 0.5, 2.0, 0.1];
/// assert!((banded.energy(&x) - dense.energy(&x)).abs() < 1e-12);
/// assert!((banded.log_partition().unwrap() - dense.log_partition().unwrap()).abs() < 1e-12);
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct BandedGaussian {
    mean: Vec<f64>,
    /// The diagonals of P: `bands[m][i] = P_{i, i+m}`.
    bands: Vec<Vec<f64>>,
    /// The Cholesky factor L of P, row i holding L_{i, i-k..=i} (k + 1
    /// entries, those left of column 0 zero).
    chol: Vec<f64>,
    log_det_precision: f64,
}

impl BandedGaussian {
    /// N(mean, P^-1) with P given by its diagonals (see the type's
    /// documentation); P must be positive definite.
    pub fn new(mean: Vec<f64>, bands: Vec<Vec<f64>>) -> Result<Self> {
        check_mean(&mean)?;
        let d = mean.len();
        if bands.is_empty() || bands.len() > d {
            return Err(CoreError::Shape {
                field: "bands".into(),
                expected: format!(
                    "1 to {d} diagonals (the main diagonal, then up to {} off-diagonals)",
                    d - 1
                ),
                got: bands.len().to_string(),
            });
        }
        for (m, band) in bands.iter().enumerate() {
            let field = format!("bands[{m}]");
            check_len(&field, band.len(), d - m)?;
            check_finite(&field, band)?;
        }
        let (chol, log_det_precision) = banded_cholesky(&bands, d)?;
        Ok(Self {
            mean,
            bands,
            chol,
            log_det_precision,
        })
    }

    /// The stationary AR(1) chain with marginal standard deviation `sd`
    /// and lag-one correlation `rho` (|rho| < 1) around `mean`: covariance
    /// sd^2 rho^|i-j|, whose precision is tridiagonal,
    /// P = (1 / (sd^2 (1 - rho^2))) tridiag(-rho; 1, 1 + rho^2, ..., 1 + rho^2, 1; -rho).
    pub fn ar1(mean: Vec<f64>, rho: f64, sd: f64) -> Result<Self> {
        if !(rho.is_finite() && rho.abs() < 1.0) {
            return Err(CoreError::InvalidParameter {
                field: "rho".into(),
                reason: format!("must lie strictly between -1 and 1, got {rho}"),
            });
        }
        check_positive_scalar("sd", sd)?;
        let d = mean.len();
        let s = 1.0 / (sd * sd * (1.0 - rho * rho));
        let diag: Vec<f64> = (0..d)
            .map(|i| {
                if i == 0 || i + 1 == d {
                    s
                } else {
                    s * (1.0 + rho * rho)
                }
            })
            .collect();
        let mut bands = vec![diag];
        if d > 1 {
            bands.push(vec![-rho * s; d - 1]);
        }
        Self::new(mean, bands)
    }

    /// The mean mu.
    pub fn mean(&self) -> &[f64] {
        &self.mean
    }

    /// The diagonals of the precision: `bands()[m][i] = P_{i, i+m}`.
    pub fn bands(&self) -> &[Vec<f64>] {
        &self.bands
    }

    /// The number k of off-diagonals.
    pub fn bandwidth(&self) -> usize {
        self.bands.len() - 1
    }

    /// log det P.
    pub fn log_det_precision(&self) -> f64 {
        self.log_det_precision
    }

    /// The precision spelled out, row-major D x D.
    pub fn precision_dense(&self) -> Vec<f64> {
        let d = self.mean.len();
        let mut p = vec![0.0; d * d];
        for (m, band) in self.bands.iter().enumerate() {
            for (i, &v) in band.iter().enumerate() {
                p[i * d + i + m] = v;
                p[(i + m) * d + i] = v;
            }
        }
        p
    }

    /// g = P (x - mu) for one point; returns E(x) = 1/2 (x - mu).g.
    ///
    /// One pass: g_i = P_ii y_i + sum_{m=1..k} (P_{i,i+m} y_{i+m} +
    /// P_{i-m,i} y_{i-m}) with y = x - mu, the terms added in that order,
    /// eight outputs at a time away from the ends (shifted loads of x and
    /// mu, no scratch) and one at a time within k of them; the energy's
    /// terms y_i g_i go to eight lanes (one more for the outputs near the
    /// ends), summed at the end.
    #[inline(always)]
    fn grad_row(&self, x: &[f64], g: &mut [f64]) -> f64 {
        const L: usize = 8;
        let (d, k) = (self.mean.len(), self.bandwidth());
        let (x, g, mu, diag) = (&x[..d], &mut g[..d], &self.mean[..], &self.bands[0][..]);
        let block = |v: &[f64], i: usize| -> [f64; L] { v[i..i + L].try_into().expect("block") };
        let off = &self.bands[1..];
        let (mut acc, mut edges) = ([0.0f64; L], 0.0);
        let mut one = |i: usize, g: &mut [f64]| {
            let y = x[i] - mu[i];
            let mut s = diag[i] * y;
            for (m, band) in off.iter().enumerate().map(|(m, b)| (m + 1, b)) {
                if i + m < d {
                    s = band[i].mul_add(x[i + m] - mu[i + m], s);
                }
                if i >= m {
                    s = band[i - m].mul_add(x[i - m] - mu[i - m], s);
                }
            }
            g[i] = s;
            edges = y.mul_add(s, edges);
        };
        // within k of the start (k < d), blocks of eight in between, then
        // the rest
        let blocks = (d - k).saturating_sub(k) / L;
        for i in 0..k {
            one(i, g);
        }
        for i in (k..k + blocks * L).step_by(L) {
            let (xb, mb, pb) = (block(x, i), block(mu, i), block(diag, i));
            let mut y = [0.0f64; L];
            let mut s = [0.0f64; L];
            for l in 0..L {
                y[l] = xb[l] - mb[l];
                s[l] = pb[l] * y[l];
            }
            for (m, band) in off.iter().enumerate().map(|(m, b)| (m + 1, b)) {
                let (up, xn, mn) = (block(band, i), block(x, i + m), block(mu, i + m));
                for l in 0..L {
                    s[l] = up[l].mul_add(xn[l] - mn[l], s[l]);
                }
                let (lo, xp, mp) = (block(band, i - m), block(x, i - m), block(mu, i - m));
                for l in 0..L {
                    s[l] = lo[l].mul_add(xp[l] - mp[l], s[l]);
                }
            }
            g[i..i + L].copy_from_slice(&s);
            for l in 0..L {
                acc[l] = y[l].mul_add(s[l], acc[l]);
            }
        }
        for i in k + blocks * L..d {
            one(i, g);
        }
        0.5 * (acc.iter().sum::<f64>() + edges)
    }

    /// E(x) = 1/2 sum_i P_ii y_i^2 + sum_{m >= 1} sum_i P_{i, i+m} y_i y_{i+m}
    /// with y = x - mu, each sum in eight lanes; no gradient, no scratch.
    #[inline(always)]
    fn energy_row(&self, x: &[f64]) -> f64 {
        let d = self.mean.len();
        let (x, mu) = (&x[..d], &self.mean[..]);
        let mut acc = [0.0f64; 8];
        let mut lanes = |m: usize, band: &[f64], scale: f64| {
            let n = d - m;
            let full = n / 8 * 8;
            let term = |i: usize| scale * band[i] * (x[i] - mu[i]) * (x[i + m] - mu[i + m]);
            for j0 in (0..full).step_by(8) {
                for l in 0..8 {
                    acc[l] += term(j0 + l);
                }
            }
            for j in full..n {
                acc[j - full] += term(j);
            }
        };
        for (m, band) in self.bands.iter().enumerate() {
            lanes(m, band, if m == 0 { 0.5 } else { 1.0 });
        }
        acc.iter().sum::<f64>()
    }
}

/// Where L_{i,j} (i - k <= j <= i) sits in [`BandedGaussian::chol`].
#[inline(always)]
fn chol_index(k: usize, i: usize, j: usize) -> usize {
    i * (k + 1) + j + k - i
}

/// The banded Cholesky factor of P (given by its diagonals) in the layout
/// of [`BandedGaussian::chol`], and log det P; an error naming `bands` when
/// P is not positive definite.
fn banded_cholesky(bands: &[Vec<f64>], d: usize) -> Result<(Vec<f64>, f64)> {
    let k = bands.len() - 1;
    let mut chol = vec![0.0; d * (k + 1)];
    let at = |i: usize, j: usize| chol_index(k, i, j);
    let mut log_det = 0.0;
    for i in 0..d {
        let lo = i.saturating_sub(k);
        for j in lo..=i {
            let mut s = bands[i - j][j];
            for l in lo..j {
                s -= chol[at(i, l)] * chol[at(j, l)];
            }
            if i == j {
                if !(s > 0.0 && s.is_finite()) {
                    return Err(CoreError::NotPositiveDefinite {
                        field: "bands".into(),
                    });
                }
                let l = s.sqrt();
                chol[at(i, i)] = l;
                log_det += 2.0 * l.ln();
            } else {
                chol[at(i, j)] = s / chol[at(j, j)];
            }
        }
    }
    Ok((chol, log_det))
}

impl Energy for BandedGaussian {
    fn exact_sampler(&self) -> Option<&dyn ExactSample> {
        Some(self)
    }

    fn dim(&self) -> usize {
        self.mean.len()
    }

    fn energy(&self, x: &[f64]) -> f64 {
        crate::simd::dispatch(
            #[inline(always)]
            || self.energy_row(x),
        )
    }

    fn energy_grad(&self, x: &[f64], grad: &mut [f64]) -> f64 {
        crate::simd::dispatch(
            #[inline(always)]
            || self.grad_row(x, grad),
        )
    }

    fn energy_batch(&self, xs: &[f64], energies: &mut [f64]) {
        let d = self.mean.len();
        assert_eq!(xs.len(), energies.len() * d, "energy_batch: shape");
        crate::simd::dispatch(
            #[inline(always)]
            || {
                for (x, e) in xs.chunks_exact(d).zip(energies.iter_mut()) {
                    *e = self.energy_row(x);
                }
            },
        );
    }

    fn energy_grad_batch(&self, xs: &[f64], grads: &mut [f64], energies: &mut [f64]) {
        let d = self.mean.len();
        let n = energies.len();
        assert_eq!(xs.len(), n * d, "energy_grad_batch: shape");
        assert_eq!(grads.len(), n * d, "energy_grad_batch: grads shape");
        crate::simd::dispatch(
            #[inline(always)]
            || {
                for ((x, g), e) in xs
                    .chunks_exact(d)
                    .zip(grads.chunks_exact_mut(d))
                    .zip(energies.iter_mut())
                {
                    *e = self.grad_row(x, g);
                }
            },
        );
    }

    fn log_partition(&self) -> Option<f64> {
        Some(0.5 * self.mean.len() as f64 * LN_2PI - 0.5 * self.log_det_precision)
    }

    /// The dense form, for D up to [`BANDED_DENSE_MAX_DIM`].
    fn quadratic(&self) -> Option<Quadratic> {
        (self.mean.len() <= BANDED_DENSE_MAX_DIM).then(|| Quadratic {
            mean: self.mean.clone(),
            precision: self.precision_dense(),
            offset: 0.0,
        })
    }
}

impl ExactSample for BandedGaussian {
    /// x = mu + L^-T z with z ~ N(0, I) and P = L L^T (covariance
    /// L^-T L^-1 = P^-1), by back substitution in place: O(D k).
    fn sample_into(&self, rng: &mut dyn rand::RngCore, x: &mut [f64]) {
        let (d, k) = (self.mean.len(), self.bandwidth());
        for xi in x[..d].iter_mut() {
            *xi = StandardNormal.sample(rng);
        }
        for i in (0..d).rev() {
            let mut s = x[i];
            for l in i + 1..d.min(i + k + 1) {
                s -= self.chol[chol_index(k, l, i)] * x[l];
            }
            x[i] = s / self.chol[chol_index(k, i, i)];
        }
        for (xi, m) in x[..d].iter_mut().zip(&self.mean) {
            *xi += m;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::energies::Gaussian;
    use crate::rng::setup_rng;

    /// A random symmetric, diagonally dominant (so positive definite)
    /// banded precision.
    fn random_bands(d: usize, k: usize, seed: u64) -> Vec<Vec<f64>> {
        use rand::Rng;
        let mut r = setup_rng(seed);
        let mut bands: Vec<Vec<f64>> = (0..=k)
            .map(|m| (0..d - m).map(|_| r.random_range(-1.0..1.0)).collect())
            .collect();
        for i in 0..d {
            bands[0][i] = 0.5 + r.random_range(0.0..1.0) + 2.0 * k as f64;
        }
        bands
    }

    #[test]
    fn agrees_with_the_dense_gaussian() {
        for (d, k) in [(1, 0), (2, 1), (7, 1), (9, 2), (17, 3), (12, 11)] {
            let bands = random_bands(d, k, d as u64 * 31 + k as u64);
            let mean: Vec<f64> = (0..d).map(|i| 0.1 * i as f64 - 0.3).collect();
            let b = BandedGaussian::new(mean.clone(), bands).unwrap();
            let dense = Gaussian::from_precision(mean, &b.precision_dense()).unwrap();
            // both are O(D k) or O(D^2) sums of terms of size ~1: 1e-12 relative
            let (lb, ld) = (b.log_partition().unwrap(), dense.log_partition().unwrap());
            assert!(
                (lb - ld).abs() < 1e-12 * (1.0 + ld.abs()),
                "d {d} k {k}: {lb} vs {ld}"
            );
            let x: Vec<f64> = (0..d).map(|i| (i as f64 * 0.7).sin()).collect();
            let (mut gb, mut gd) = (vec![0.0; d], vec![0.0; d]);
            let (eb, ed) = (b.energy_grad(&x, &mut gb), dense.energy_grad(&x, &mut gd));
            assert!((eb - ed).abs() < 1e-12 * (1.0 + ed.abs()));
            for i in 0..d {
                assert!(
                    (gb[i] - gd[i]).abs() < 1e-12 * (1.0 + gd[i].abs()),
                    "d {d} k {k} coord {i}"
                );
            }
        }
    }

    #[test]
    fn ar1_is_the_inverse_of_its_covariance() {
        let (d, rho, sd) = (6, -0.7, 1.5);
        let b = BandedGaussian::ar1(vec![0.0; d], rho, sd).unwrap();
        let cov: Vec<f64> = (0..d * d)
            .map(|k| sd * sd * rho.powi((k / d).abs_diff(k % d) as i32))
            .collect();
        let p = b.precision_dense();
        for i in 0..d {
            for j in 0..d {
                let pc: f64 = (0..d).map(|l| p[i * d + l] * cov[l * d + j]).sum();
                let want = if i == j { 1.0 } else { 0.0 };
                assert!((pc - want).abs() < 1e-12, "(P Sigma)[{i}][{j}] = {pc}");
            }
        }
        // det Sigma = sd^(2D) (1 - rho^2)^(D-1)
        let log_det_cov = 2.0 * d as f64 * sd.ln() + (d - 1) as f64 * (1.0 - rho * rho).ln();
        assert!((b.log_det_precision() + log_det_cov).abs() < 1e-12);
    }

    #[test]
    fn bad_parameters_name_the_field() {
        let err = |r: Result<BandedGaussian>| r.unwrap_err().to_string();
        assert!(err(BandedGaussian::new(vec![], vec![vec![]])).starts_with("mean"));
        assert!(err(BandedGaussian::new(vec![0.0; 3], vec![])).starts_with("bands"));
        assert!(err(BandedGaussian::new(vec![0.0; 2], vec![vec![1.0; 2]; 3])).starts_with("bands"));
        assert!(err(BandedGaussian::new(
            vec![0.0; 3],
            vec![vec![1.0; 3], vec![0.1; 3]]
        ))
        .starts_with("bands[1]"));
        assert!(
            err(BandedGaussian::new(vec![0.0; 3], vec![vec![1.0, f64::NAN, 1.0]])).starts_with("bands[0]")
        );
        // |P_01| > sqrt(P_00 P_11): indefinite
        assert!(
            err(BandedGaussian::new(vec![0.0; 2], vec![vec![1.0; 2], vec![2.0]]))
                .contains("positive definite")
        );
        assert!(err(BandedGaussian::ar1(vec![0.0; 3], 1.0, 1.0)).starts_with("rho"));
        assert!(err(BandedGaussian::ar1(vec![0.0; 3], 0.5, 0.0)).starts_with("sd"));
    }

    #[test]
    fn exact_draws_have_the_covariance() {
        // 40,000 draws of a 4-D AR(1) with rho 0.8: each sample covariance
        // entry has standard error sqrt((1 + rho_ij^2) / n) <= 0.0071, so
        // 0.03 is more than 4 standard errors (fixed seed).
        let (d, n, rho) = (4, 40_000, 0.8);
        let b = BandedGaussian::ar1(vec![1.0, 2.0, 3.0, 4.0], rho, 1.0).unwrap();
        let mut r = setup_rng(5);
        let mut x = vec![0.0; d];
        let (mut sum, mut sq) = (vec![0.0; d], vec![0.0; d * d]);
        for _ in 0..n {
            b.sample_into(&mut r, &mut x);
            for i in 0..d {
                sum[i] += x[i];
                for j in 0..d {
                    sq[i * d + j] += (x[i] - b.mean()[i]) * (x[j] - b.mean()[j]);
                }
            }
        }
        for i in 0..d {
            assert!((sum[i] / n as f64 - b.mean()[i]).abs() < 0.03);
            for j in 0..d {
                let want = rho.powi(i.abs_diff(j) as i32);
                assert!((sq[i * d + j] / n as f64 - want).abs() < 0.03, "cov[{i}][{j}]");
            }
        }
    }
}
