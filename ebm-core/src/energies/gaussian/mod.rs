//! Full-covariance Gaussian.

use crate::energy::{Energy, ExactSample};
use crate::error::{check_finite, check_len, check_mean, CoreError, Result};
use crate::math::LN_2PI;
use crate::matmul::PaddedRhs;
use faer::{Accum, Mat, MatRef, Par, Side};
use rand_distr::{Distribution, StandardNormal};

mod single;

/// Multivariate normal N(mu, Sigma) with precision P = Sigma^-1:
///
/// E(x) = 1/2 (x - mu)^T P (x - mu),  grad E = P (x - mu),
/// log Z = D/2 log(2 pi) - 1/2 log det P.
///
/// The batched gradient is one matrix product, G = X P - 1 (P mu)^T, done by
/// faer. Positive definiteness is checked with a Cholesky factorisation.
/// [`Gaussian::with_f32_arithmetic`] does that product in f32 (twice the
/// flops per instruction), for sampling where speed matters more than the
/// last digits.
///
/// ```
/// use ebm_core::{Energy, energies::Gaussian};
/// let g = Gaussian::from_covariance(vec![0.0, 0.0], &[2.0, 0.0, 0.0, 0.5]).unwrap();
/// // det Sigma = 1, so log Z = (D/2) log 2 pi = log 2 pi.
/// assert!((g.log_partition().unwrap() - (2.0 * std::f64::consts::PI).ln()).abs() < 1e-12);
/// ```
#[derive(Clone, Debug)]
pub struct Gaussian {
    dim: usize,
    mean: Vec<f64>,
    /// Precision P, row-major D x D (symmetric).
    precision: Vec<f64>,
    /// P mu.
    precision_mean: Vec<f64>,
    /// P again, padded for [`crate::matmul`] (the batches' products).
    precision_rhs: PaddedRhs,
    /// Lower Cholesky factor of the covariance, row-major (for exact draws).
    cov_chol: Vec<f64>,
    log_det_precision: f64,
    /// P rounded to f32 when the products are single precision
    /// ([`Gaussian::with_f32_arithmetic`]).
    single: Option<Vec<f32>>,
}

/// Check `m` is a finite, symmetric `d x d` row-major matrix.
fn check_symmetric(field: &str, m: &[f64], d: usize) -> Result<()> {
    check_len(field, m.len(), d * d).map_err(|_| CoreError::Shape {
        field: field.into(),
        expected: format!("a {d}x{d} matrix"),
        got: format!("{} entries", m.len()),
    })?;
    check_finite(field, m)?;
    for i in 0..d {
        for j in 0..i {
            let (a, b) = (m[i * d + j], m[j * d + i]);
            if (a - b).abs() > 1e-10 * (1.0 + a.abs().max(b.abs())) {
                return Err(CoreError::InvalidParameter {
                    field: format!("{field}[{i}][{j}]"),
                    reason: format!("matrix is not symmetric ({a} vs {b} at [{j}][{i}])"),
                });
            }
        }
    }
    Ok(())
}

/// Cholesky factor L (row-major, lower) of a symmetric matrix, or an error
/// naming `field` when it is not positive definite.
fn cholesky(field: &str, m: &[f64], d: usize) -> Result<Mat<f64>> {
    let a = MatRef::from_row_major_slice(m, d, d);
    let llt = a
        .llt(Side::Lower)
        .map_err(|_| CoreError::NotPositiveDefinite { field: field.into() })?;
    let l = llt.L().to_owned();
    if (0..d).any(|i| l[(i, i)].is_nan() || l[(i, i)] <= 0.0 || !l[(i, i)].is_finite()) {
        return Err(CoreError::NotPositiveDefinite { field: field.into() });
    }
    Ok(l)
}

/// The lower Cholesky factor L (row-major, L L^T = m) of the symmetric
/// `d x d` matrix `m` (row-major), or an error naming `field` when it is not
/// positive definite.
pub fn lower_cholesky(field: &str, m: &[f64], d: usize) -> Result<Vec<f64>> {
    check_len(field, m.len(), d * d)?;
    let l = cholesky(field, m, d)?;
    Ok((0..d * d).map(|k| l[(k / d, k % d)]).collect())
}

fn inverse_from_chol(l: &Mat<f64>) -> Result<Vec<f64>> {
    let d = l.nrows();
    let mut linv = Mat::<f64>::identity(d, d);
    faer::linalg::triangular_solve::solve_lower_triangular_in_place(l.as_ref(), linv.as_mut(), Par::Seq);
    // A^-1 = L^-T L^-1
    let mut inv = Mat::<f64>::zeros(d, d);
    faer::linalg::matmul::matmul(
        inv.as_mut(),
        Accum::Replace,
        linv.transpose(),
        linv.as_ref(),
        1.0,
        Par::Seq,
    );
    let mut out = vec![0.0; d * d];
    for i in 0..d {
        for j in 0..d {
            // symmetrise against rounding
            out[i * d + j] = 0.5 * (inv[(i, j)] + inv[(j, i)]);
        }
    }
    Ok(out)
}

fn row_major(m: &Mat<f64>) -> Vec<f64> {
    let (r, c) = (m.nrows(), m.ncols());
    let mut v = Vec::with_capacity(r * c);
    for i in 0..r {
        for j in 0..c {
            v.push(m[(i, j)]);
        }
    }
    v
}

impl Gaussian {
    /// N(mean, covariance), covariance row-major D x D, symmetric positive
    /// definite.
    pub fn from_covariance(mean: Vec<f64>, covariance: &[f64]) -> Result<Self> {
        let d = mean.len();
        check_mean(&mean)?;
        check_symmetric("covariance", covariance, d)?;
        let lc = cholesky("covariance", covariance, d)?;
        let precision = inverse_from_chol(&lc)?;
        let log_det_cov: f64 = (0..d).map(|i| 2.0 * lc[(i, i)].ln()).sum();
        Ok(Self::assemble(mean, precision, row_major(&lc), -log_det_cov))
    }

    /// N(mean, precision^-1), precision row-major D x D, symmetric positive
    /// definite.
    pub fn from_precision(mean: Vec<f64>, precision: &[f64]) -> Result<Self> {
        let d = mean.len();
        check_mean(&mean)?;
        check_symmetric("precision", precision, d)?;
        let lp = cholesky("precision", precision, d)?;
        let covariance = inverse_from_chol(&lp)?;
        let lc = cholesky("precision", &covariance, d)?;
        let log_det_p: f64 = (0..d).map(|i| 2.0 * lp[(i, i)].ln()).sum();
        Ok(Self::assemble(
            mean,
            precision.to_vec(),
            row_major(&lc),
            log_det_p,
        ))
    }

    fn assemble(mean: Vec<f64>, precision: Vec<f64>, cov_chol: Vec<f64>, log_det_precision: f64) -> Self {
        let d = mean.len();
        let precision_mean = (0..d)
            .map(|i| (0..d).map(|j| precision[i * d + j] * mean[j]).sum())
            .collect();
        Self {
            dim: d,
            precision_rhs: PaddedRhs::new(&precision, d, d),
            mean,
            precision,
            precision_mean,
            cov_chol,
            log_det_precision,
            single: None,
        }
    }

    /// The same Gaussian with its gradients and energies from f32 matrix
    /// products: G = fl32(X) fl32(P) in f32 (an AVX-512 register holds 16
    /// lanes instead of 8), then g = G - P mu and E = 1/2 (x - mu) . g in
    /// f64. Each g_i carries an absolute error of about
    /// 1e-7 sum_j |P_ij| |x_j| instead of 1e-16 times that, and E the
    /// matching error; a point whose f32 evaluation is not finite (a
    /// coordinate or a product beyond the f32 range) is evaluated in f64
    /// instead. log Z, the quadratic form and exact draws stay exact. For
    /// sampling: the energy is still a deterministic function of x, so a
    /// Metropolis-corrected sampler (MALA, HMC) targets exp(-E~) with
    /// |E~ - E| ~ 1e-7 |E|, far below its Monte Carlo error. The default is
    /// f64.
    pub fn with_f32_arithmetic(mut self) -> Self {
        self.single = Some(self.precision.iter().map(|&v| v as f32).collect());
        self
    }

    /// Whether the products are single precision
    /// ([`Self::with_f32_arithmetic`]).
    pub fn f32_arithmetic(&self) -> bool {
        self.single.is_some()
    }

    /// The mean mu.
    pub fn mean(&self) -> &[f64] {
        &self.mean
    }

    /// The precision P, row-major.
    pub fn precision(&self) -> &[f64] {
        &self.precision
    }

    /// The covariance Sigma = L L^T, row-major.
    pub fn covariance(&self) -> Vec<f64> {
        let d = self.dim;
        let l = MatRef::from_row_major_slice(&self.cov_chol, d, d);
        let mut c = Mat::<f64>::zeros(d, d);
        faer::linalg::matmul::matmul(c.as_mut(), Accum::Replace, l, l.transpose(), 1.0, Par::Seq);
        row_major(&c)
    }

    /// log det P.
    pub fn log_det_precision(&self) -> f64 {
        self.log_det_precision
    }
}

impl Gaussian {
    /// E(x) in f64.
    fn energy64(&self, x: &[f64]) -> f64 {
        let d = self.dim;
        let mut e = 0.0;
        for i in 0..d {
            let di = x[i] - self.mean[i];
            let row = &self.precision[i * d..(i + 1) * d];
            let mut s = 0.0;
            for j in 0..d {
                s += row[j] * (x[j] - self.mean[j]);
            }
            e += di * s;
        }
        0.5 * e
    }

    /// E(x) and grad E(x) in f64 for one point: g = P x by the
    /// register-blocked symmetric product ([`crate::matvec`]), then the
    /// batch's last pass.
    fn energy_grad64(&self, x: &[f64], grad: &mut [f64]) -> f64 {
        let mut e = [0.0];
        crate::matvec::symmetric_matvec(&self.precision, self.dim, x, grad);
        self.finish_rows(x, grad, &mut e);
        e[0]
    }

    /// The batch's gradients, and its energies when `ENERGIES` or when
    /// the products are f32 (shapes checked by the caller).
    fn grad_batch_any<const ENERGIES: bool>(&self, xs: &[f64], grads: &mut [f64], energies: &mut [f64]) {
        match &self.single {
            Some(p32) => self.batch32(p32, xs, Some(grads), energies),
            None => self.grad_batch64::<ENERGIES>(xs, grads, energies),
        }
    }

    /// The batch's gradients in f64, and its energies when `ENERGIES`
    /// (shapes checked by the caller).
    fn grad_batch64<const ENERGIES: bool>(&self, xs: &[f64], grads: &mut [f64], energies: &mut [f64]) {
        // G = X P - 1 (P mu)^T (P symmetric): the product (faer's bits,
        // in AVX-512 tiles) with P mu subtracted as it is stored, then
        // the energies' pass when they are asked for.
        use crate::matmul::{product, Lhs, Store};
        let (n, d) = (energies.len(), self.dim);
        let shift = Store::Shift(&self.precision_mean);
        product(grads, shift, Lhs::rows(xs, n, d), self.precision_rhs.view());
        if ENERGIES {
            self.energy_rows(xs, grads, energies);
        }
    }

    /// From rows g = P x: g -= P mu, then [`Gaussian::energy_rows`].
    fn finish_rows(&self, xs: &[f64], grads: &mut [f64], energies: &mut [f64]) {
        let d = self.dim;
        let pm = &self.precision_mean[..d];
        crate::simd::dispatch(
            #[inline(always)]
            || {
                for gr in grads.chunks_exact_mut(d) {
                    for (g, p) in gr.iter_mut().zip(pm) {
                        *g -= p;
                    }
                }
            },
        );
        self.energy_rows(xs, grads, energies);
    }

    /// E = 1/2 (x - mu) . g per row of gradients g = P (x - mu), summed in
    /// eight lanes (coordinate j in lane j mod 8, the last few in lanes
    /// 0..) so that it vectorises.
    fn energy_rows(&self, xs: &[f64], grads: &[f64], energies: &mut [f64]) {
        let d = self.dim;
        let full = d / 8 * 8;
        let mu = &self.mean[..d];
        crate::simd::dispatch(
            #[inline(always)]
            || {
                for ((xr, gr), e) in xs
                    .chunks_exact(d)
                    .zip(grads.chunks_exact(d))
                    .zip(energies.iter_mut())
                {
                    let mut acc = [0.0f64; 8];
                    let blocks = xr[..full].chunks_exact(8).zip(gr[..full].chunks_exact(8));
                    for ((xb, gb), mb) in blocks.zip(mu[..full].chunks_exact(8)) {
                        for l in 0..8 {
                            acc[l] = (xb[l] - mb[l]).mul_add(gb[l], acc[l]);
                        }
                    }
                    for j in full..d {
                        acc[j - full] = (xr[j] - mu[j]).mul_add(gr[j], acc[j - full]);
                    }
                    *e = 0.5 * acc.iter().sum::<f64>();
                }
            },
        );
    }
}

impl Energy for Gaussian {
    fn exact_sampler(&self) -> Option<&dyn ExactSample> {
        Some(self)
    }

    fn dim(&self) -> usize {
        self.dim
    }

    fn energy(&self, x: &[f64]) -> f64 {
        match &self.single {
            Some(p32) => {
                let mut e = [0.0];
                self.batch32(p32, x, None, &mut e);
                e[0]
            }
            None => self.energy64(x),
        }
    }

    fn energy_grad(&self, x: &[f64], grad: &mut [f64]) -> f64 {
        match &self.single {
            Some(p32) => {
                let mut e = [0.0];
                self.batch32(p32, x, Some(grad), &mut e);
                e[0]
            }
            None => self.energy_grad64(x, grad),
        }
    }

    fn energy_batch(&self, xs: &[f64], energies: &mut [f64]) {
        let d = self.dim;
        assert_eq!(xs.len(), energies.len() * d, "energy_batch: shape");
        match &self.single {
            Some(p32) => self.batch32(p32, xs, None, energies),
            None => {
                for (x, e) in xs.chunks_exact(d).zip(energies.iter_mut()) {
                    *e = self.energy64(x);
                }
            }
        }
    }

    fn energy_grad_batch(&self, xs: &[f64], grads: &mut [f64], energies: &mut [f64]) {
        let n = energies.len();
        assert_eq!(xs.len(), n * self.dim, "energy_grad_batch: shape");
        assert_eq!(grads.len(), xs.len(), "energy_grad_batch: grads shape");
        self.grad_batch_any::<true>(xs, grads, energies)
    }

    /// In f64 the gradients alone, `energies` untouched (their dot
    /// products are a pass of their own); with f32 products, the energies
    /// too.
    fn grad_batch(&self, xs: &[f64], grads: &mut [f64], energies: &mut [f64]) {
        let n = energies.len();
        assert_eq!(xs.len(), n * self.dim, "grad_batch: shape");
        assert_eq!(grads.len(), xs.len(), "grad_batch: grads shape");
        self.grad_batch_any::<false>(xs, grads, energies)
    }

    /// In f64 the product's tiles kick and drift as they are computed
    /// ([`crate::matmul::kick_drift`], the bits of `grad_batch` and the
    /// two loops); with f32 products through the gradients.
    fn kick_drift_batch(
        &self,
        xs: &[f64],
        eps: f64,
        p: &mut [f64],
        ys: &mut [f64],
        grads: &mut [f64],
        energies: &mut [f64],
    ) {
        if self.single.is_some() {
            return crate::energy::kick_drift_through_gradients(self, xs, eps, p, ys, grads, energies);
        }
        let (n, d) = (energies.len(), self.dim);
        assert_eq!(xs.len(), n * d, "kick_drift_batch: shape");
        let rows = crate::matmul::Lhs::rows(xs, n, d);
        crate::matmul::kick_drift(rows, self.precision_rhs.view(), &self.precision_mean, eps, p, ys)
    }

    /// In f64: the precision read once for up to four points
    /// ([`crate::matvec::symmetric_matvec_many`]), then the batch's last
    /// pass, each row the bits of [`Energy::energy_grad`] alone. With f32
    /// products, point by point.
    fn energy_grad_each(&self, xs: &[f64], grads: &mut [f64], energies: &mut [f64]) {
        let n = energies.len();
        assert_eq!(xs.len(), n * self.dim, "energy_grad_each: shape");
        assert_eq!(grads.len(), xs.len(), "energy_grad_each: grads shape");
        match &self.single {
            Some(p32) => {
                for ((x, g), e) in xs
                    .chunks_exact(self.dim)
                    .zip(grads.chunks_exact_mut(self.dim))
                    .zip(energies.chunks_exact_mut(1))
                {
                    self.batch32(p32, x, Some(g), e);
                }
            }
            None => {
                crate::matvec::symmetric_matvec_many(&self.precision, self.dim, xs, grads);
                self.finish_rows(xs, grads, energies);
            }
        }
    }

    fn points_at_once(&self) -> usize {
        if self.single.is_some() {
            1
        } else {
            4
        }
    }

    fn log_partition(&self) -> Option<f64> {
        Some(0.5 * self.dim as f64 * LN_2PI - 0.5 * self.log_det_precision)
    }

    fn quadratic(&self) -> Option<crate::energy::Quadratic> {
        Some(crate::energy::Quadratic {
            mean: self.mean.clone(),
            precision: self.precision.clone(),
            offset: 0.0,
        })
    }
}

impl ExactSample for Gaussian {
    /// x = mu + L z with z ~ N(0, I) and Sigma = L L^T.
    fn sample_into(&self, rng: &mut dyn rand::RngCore, x: &mut [f64]) {
        let d = self.dim;
        let z: Vec<f64> = (0..d).map(|_| StandardNormal.sample(rng)).collect();
        for i in 0..d {
            let row = &self.cov_chol[i * d..(i + 1) * d];
            x[i] = self.mean[i] + (0..=i).map(|j| row[j] * z[j]).sum::<f64>();
        }
    }
}
