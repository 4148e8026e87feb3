//! The hand-written Gaussian family: E(x) = 1/2 ‖(x - mu)^T L‖^2 with
//! P = L L^T, L lower triangular with L_ii = exp(s_i), with the energy and
//! score capabilities written out by hand.

use super::traits::{EnergyCapability, ScoreCapability, ScoreLoss};
use crate::error::{EstimatorError, Result};
use ebm_core::energies::Gaussian;
use ebm_core::{EnergySpec, Points};
use ebm_samplers::Target;
use faer::{Accum, MatMut, MatRef, Par};

/// The Gaussian family of [`crate::models::GaussianEnergy`] by hand.
/// Parameters `[mu (D), s (D), A (D x D)]`: L = diag(exp(s)) + the strictly
/// lower part of A. With c = x - mu and r = L^T c (rows: R = C L),
/// E = 1/2 ‖r‖^2 and the score is s(x) = -P c = -L r.
///
/// Energy capability, S = sum_i w_i E(x_i):
/// dS/dmu = -L sum_i w_i r_i, dS/dL = C^T diag(w) R.
///
/// Score capability, T = sum_i g_i . s(x_i) with g_i = dl_i/ds_i and
/// q_i = L^T g_i (rows: Q = G L): dT/dmu = L sum_i q_i,
/// dT/dL = -(G^T R + C^T Q).
///
/// Then dS/ds_i = (dS/dL)_ii exp(s_i), dS/dA_jk = (dS/dL)_jk below the
/// diagonal and 0 elsewhere. As a sampling target it is ebm-core's
/// [`Gaussian`] with mean mu and precision P.
pub struct HandGaussian {
    d: usize,
    mean: Vec<f64>,
    log_diag: Vec<f64>,
    /// A as given (only its strictly lower part is used).
    lower: Vec<f64>,
    /// L, row-major.
    factor: Vec<f64>,
    core: Gaussian,
}

/// L = diag(exp(s)) + the strictly lower part of A (D x D, row-major).
pub(crate) fn factor_of(s: &[f64], a: &[f64]) -> Vec<f64> {
    let d = s.len();
    let mut l = vec![0.0; d * d];
    for i in 0..d {
        l[i * d + i] = s[i].exp();
        l[i * d..i * d + i].copy_from_slice(&a[i * d..i * d + i]);
    }
    l
}

/// P = L L^T for a lower-triangular L (D x D, row-major).
pub(crate) fn precision_of(l: &[f64], d: usize) -> Vec<f64> {
    let mut p = vec![0.0; d * d];
    for i in 0..d {
        for j in 0..d {
            p[i * d + j] = (0..=i.min(j)).map(|k| l[i * d + k] * l[j * d + k]).sum();
        }
    }
    p
}

/// Row-major views and products.
fn mat(v: &[f64], rows: usize, cols: usize) -> MatRef<'_, f64> {
    MatRef::from_row_major_slice(v, rows, cols)
}

impl HandGaussian {
    /// The family with parameters `[mu, s, A]` (the layout of
    /// [`crate::models::GaussianEnergy`]'s parameters).
    pub fn new(params: &[Vec<f64>]) -> Result<Self> {
        let d = params.first().map_or(0, Vec::len);
        let mut g = Self {
            d,
            mean: Vec::new(),
            log_diag: Vec::new(),
            lower: Vec::new(),
            factor: Vec::new(),
            core: Gaussian::from_precision(vec![0.0], &[1.0])?,
        };
        g.set_params(params)?;
        Ok(g)
    }

    /// The reference Gaussian with the current parameters.
    pub fn gaussian(&self) -> &Gaussian {
        &self.core
    }

    /// C = X - mu and R = C L for the rows of `x`.
    fn centred_and_whitened(&self, x: &Points) -> (Vec<f64>, Vec<f64>) {
        let (n, d) = (x.len(), self.d);
        let mut c = x.as_slice().to_vec();
        for row in c.chunks_exact_mut(d) {
            row.iter_mut().zip(&self.mean).for_each(|(v, m)| *v -= m);
        }
        let mut r = vec![0.0; n * d];
        faer::linalg::matmul::matmul(
            MatMut::from_row_major_slice_mut(&mut r, n, d),
            Accum::Replace,
            mat(&c, n, d),
            mat(&self.factor, d, d),
            1.0,
            Par::Seq,
        );
        (c, r)
    }

    fn check(&self, x: &Points, grads: &[Vec<f64>]) -> Result<()> {
        let d = self.d;
        if x.dim() != d {
            return Err(EstimatorError::Data(format!(
                "rows have {} columns, the Gaussian has dimension {d}",
                x.dim()
            )));
        }
        if grads.len() != 3 || grads[0].len() != d || grads[1].len() != d || grads[2].len() != d * d {
            return Err(EstimatorError::Unsupported(
                "gradient buffers must have the layout of the parameters, [mu, s, A]".into(),
            ));
        }
        Ok(())
    }

    /// grads += the chain rule of dL (D x D) through L = diag(exp(s)) +
    /// strict_lower(A), and dmu.
    fn add_through_factor(&self, dmu: &[f64], dl: &[f64], grads: &mut [Vec<f64>]) {
        let d = self.d;
        grads[0].iter_mut().zip(dmu).for_each(|(g, v)| *g += v);
        for i in 0..d {
            grads[1][i] += dl[i * d + i] * self.factor[i * d + i];
            for j in 0..i {
                grads[2][i * d + j] += dl[i * d + j];
            }
        }
    }

    /// The scores s = -L r of whitened rows `r` (rows: -R L^T).
    fn scores_of(&self, r: &[f64]) -> Vec<f64> {
        let (n, d) = (r.len() / self.d, self.d);
        let mut s = vec![0.0; n * d];
        faer::linalg::matmul::matmul(
            MatMut::from_row_major_slice_mut(&mut s, n, d),
            Accum::Replace,
            mat(r, n, d),
            mat(&self.factor, d, d).transpose(),
            -1.0,
            Par::Seq,
        );
        s
    }

    /// L v for a vector v.
    fn times_factor(&self, v: &[f64]) -> Vec<f64> {
        let d = self.d;
        (0..d)
            .map(|j| (0..=j).map(|k| self.factor[j * d + k] * v[k]).sum())
            .collect()
    }
}

impl EnergyCapability for HandGaussian {
    fn dim(&self) -> usize {
        self.d
    }

    fn param_shapes(&mut self) -> Vec<Vec<usize>> {
        vec![vec![self.d], vec![self.d], vec![self.d, self.d]]
    }

    fn params(&mut self) -> Vec<Vec<f64>> {
        vec![self.mean.clone(), self.log_diag.clone(), self.lower.clone()]
    }

    fn set_params(&mut self, values: &[Vec<f64>]) -> Result<()> {
        let [mean, s, a] = values else {
            return Err(EstimatorError::Unsupported(format!(
                "the Gaussian family has 3 parameter tensors (mu, s, A), got {}",
                values.len()
            )));
        };
        let d = mean.len();
        if d == 0 || s.len() != d || a.len() != d * d {
            return Err(EstimatorError::Unsupported(format!(
                "the Gaussian family needs mu and s of one length D >= 1 and A of D x D entries; got {}, {}, {}",
                d,
                s.len(),
                a.len()
            )));
        }
        let l = factor_of(s, a);
        let p = precision_of(&l, d);
        if !(a.iter().chain(s).all(|v| v.is_finite()) && l.iter().chain(&p).all(|v| v.is_finite())) {
            return Err(EstimatorError::Unsupported(
                "the parameters do not make a finite precision".into(),
            ));
        }
        self.core = Gaussian::from_precision(mean.clone(), &p)?;
        self.d = d;
        self.mean.clone_from(mean);
        self.log_diag.clone_from(s);
        self.lower.clone_from(a);
        self.factor = l;
        Ok(())
    }

    fn energies(&mut self, x: &Points) -> Vec<f64> {
        if x.dim() != self.d {
            return vec![f64::NAN; x.len()];
        }
        let (_, r) = self.centred_and_whitened(x);
        r.chunks_exact(self.d)
            .map(|row| 0.5 * row.iter().map(|v| v * v).sum::<f64>())
            .collect()
    }

    fn add_weighted_energy_grad(&mut self, x: &Points, w: &[f64], grads: &mut [Vec<f64>]) -> Result<()> {
        self.check(x, grads)?;
        let (n, d) = (x.len(), self.d);
        if w.len() != n {
            return Err(EstimatorError::Data(format!("{} weights for {n} rows", w.len())));
        }
        let (c, mut r) = self.centred_and_whitened(x);
        // diag(w) R
        for (row, wi) in r.chunks_exact_mut(d).zip(w) {
            row.iter_mut().for_each(|v| *v *= wi);
        }
        let mut dl = vec![0.0; d * d];
        faer::linalg::matmul::matmul(
            MatMut::from_row_major_slice_mut(&mut dl, d, d),
            Accum::Replace,
            mat(&c, n, d).transpose(),
            mat(&r, n, d),
            1.0,
            Par::Seq,
        );
        let mut sum_wr = vec![0.0; d];
        for row in r.chunks_exact(d) {
            sum_wr.iter_mut().zip(row).for_each(|(s, v)| *s += v);
        }
        let dmu: Vec<f64> = self.times_factor(&sum_wr).iter().map(|v| -v).collect();
        self.add_through_factor(&dmu, &dl, grads);
        Ok(())
    }

    fn to_spec(&mut self) -> EnergySpec {
        let d = self.d;
        EnergySpec::Gaussian {
            mean: self.mean.clone(),
            covariance: None,
            precision: Some(
                self.core
                    .precision()
                    .chunks_exact(d)
                    .map(<[f64]>::to_vec)
                    .collect(),
            ),
            arithmetic: Default::default(),
        }
    }

    fn score(&mut self) -> Option<&mut dyn ScoreCapability> {
        Some(self)
    }

    fn with_target(&mut self, f: &mut dyn FnMut(Target<'_>) -> Result<Points>) -> Option<Result<Points>> {
        Some(f(Target::Continuous(&self.core)))
    }
}

impl ScoreCapability for HandGaussian {
    fn scores(&mut self, x: &Points) -> Vec<f64> {
        if x.dim() != self.d {
            return vec![f64::NAN; x.as_slice().len()];
        }
        let (_, r) = self.centred_and_whitened(x);
        self.scores_of(&r)
    }

    fn add_score_loss_grad(
        &mut self,
        x: &Points,
        loss: &dyn ScoreLoss,
        grads: &mut [Vec<f64>],
    ) -> Result<f64> {
        self.check(x, grads)?;
        let (n, d) = (x.len(), self.d);
        let (c, r) = self.centred_and_whitened(x);
        let s = self.scores_of(&r);
        let mut g = vec![0.0; n * d];
        let mut total = 0.0;
        for (i, (si, gi)) in s.chunks_exact(d).zip(g.chunks_exact_mut(d)).enumerate() {
            total += loss.row(i, si, gi);
        }
        let mut q = vec![0.0; n * d];
        faer::linalg::matmul::matmul(
            MatMut::from_row_major_slice_mut(&mut q, n, d),
            Accum::Replace,
            mat(&g, n, d),
            mat(&self.factor, d, d),
            1.0,
            Par::Seq,
        );
        // dT/dL = -(G^T R + C^T Q)
        let mut dl = vec![0.0; d * d];
        for (a, b) in [(&g, &r), (&c, &q)] {
            faer::linalg::matmul::matmul(
                MatMut::from_row_major_slice_mut(&mut dl, d, d),
                Accum::Add,
                mat(a, n, d).transpose(),
                mat(b, n, d),
                -1.0,
                Par::Seq,
            );
        }
        let mut sum_q = vec![0.0; d];
        for row in q.chunks_exact(d) {
            sum_q.iter_mut().zip(row).for_each(|(s, v)| *s += v);
        }
        let dmu = self.times_factor(&sum_q);
        self.add_through_factor(&dmu, &dl, grads);
        Ok(total)
    }

    /// The Laplacian tr P = sum_jk L_jk^2, the same at every x: n tr P,
    /// and weight n 2 L for dL.
    fn add_weighted_laplacian_grad(
        &mut self,
        x: &Points,
        weight: f64,
        grads: &mut [Vec<f64>],
    ) -> Option<Result<f64>> {
        if let Err(e) = self.check(x, grads) {
            return Some(Err(e));
        }
        let n = x.len() as f64;
        let trace: f64 = self.factor.iter().map(|v| v * v).sum();
        let dl: Vec<f64> = self.factor.iter().map(|v| 2.0 * n * weight * v).collect();
        self.add_through_factor(&vec![0.0; self.d], &dl, grads);
        Some(Ok(n * trace))
    }
}
