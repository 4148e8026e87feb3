//! A Gaussian family with learnable mean and precision, kept positive
//! definite through a Cholesky-type factor.

use crate::capability::gaussian::{factor_of, precision_of};
use crate::capability::{Autodiff, EnergyCapability, HandGaussian};
use crate::error::{EstimatorError, Result};
use crate::trainable::{vector, Backend, Mat, ParamMut, Real, TrainableEnergy, TrainableScore, Vector};
use dfdx::prelude::*;
use ebm_core::energies::Gaussian;
use ebm_core::HostFloat;
use ebm_core::{Energy, EnergySpec};
use ebm_samplers::Target;

/// E(x) = 1/2 (x - mu)^T P (x - mu) with P = L L^T, where L is lower
/// triangular with L_ii = exp(s_i) > 0 and free entries below the
/// diagonal. Every parameter value gives a positive definite P.
///
/// Parameters: mu (D), s (D), A (D x D, only the strictly lower part is
/// used). score s(x) = -P (x - mu) = -((x - mu) L) L^T row-wise. The
/// model is normalised in closed form, log Z = D/2 log 2 pi - sum_i s_i;
/// this family is not given a free normaliser.
///
/// ```
/// use dfdx::prelude::*;
/// use ebm_core::Energy;
/// use ebm_estimators::models::GaussianEnergy;
/// let g = GaussianEnergy::<f64, Cpu>::standard(&Cpu::default(), 3);
/// assert!((g.energy(&[1.0, 0.0, 0.0]) - 0.5).abs() < 1e-15);
/// ```
#[derive(Clone, Debug)]
pub struct GaussianEnergy<F: Real, D: Backend<F>> {
    mean: Vector<F, D>,
    log_diag: Vector<F, D>,
    lower: Mat<F, D>,
    /// 1 strictly below the diagonal, 0 elsewhere.
    mask: Mat<F, D>,
    eye: Mat<F, D>,
    dev: D,
}

impl<F: Real, D: Backend<F>> GaussianEnergy<F, D> {
    /// N(0, I) in D dimensions.
    pub fn standard(dev: &D, d: usize) -> Self {
        let mut eye = vec![0.0; d * d];
        (0..d).for_each(|i| eye[i * d + i] = 1.0);
        Self::from_parts(dev, &vec![0.0; d], &eye)
    }

    /// From a mean and a lower Cholesky factor L of the precision (row-major).
    fn from_parts(dev: &D, mean: &[f64], l: &[f64]) -> Self {
        let d = mean.len();
        let mut mask = vec![0.0; d * d];
        let mut eye = vec![0.0; d * d];
        let mut lower = vec![0.0; d * d];
        for i in 0..d {
            eye[i * d + i] = 1.0;
            for j in 0..i {
                mask[i * d + j] = 1.0;
                lower[i * d + j] = l[i * d + j];
            }
        }
        let log_diag: Vec<f64> = (0..d).map(|i| l[i * d + i].ln()).collect();
        let mat = |v: &[f64]| crate::trainable::to_device::<F, D>(dev, v, d);
        Self {
            mean: vector(dev, mean),
            log_diag: vector(dev, &log_diag),
            lower: mat(&lower),
            mask: mat(&mask),
            eye: mat(&eye),
            dev: dev.clone(),
        }
    }

    /// The trainable copy of a reference Gaussian (its precision's
    /// Cholesky factor becomes L).
    pub fn from_core(dev: &D, g: &Gaussian) -> Self {
        let d = g.dim();
        let p = g.precision();
        let l = cholesky(p, d).expect("a validated Gaussian has a positive definite precision");
        Self::from_parts(dev, g.mean(), &l)
    }

    /// From a `gaussian` or `diag_gaussian` model file.
    pub fn from_spec(dev: &D, spec: &EnergySpec) -> Result<Self> {
        match spec {
            EnergySpec::Gaussian { .. } | EnergySpec::DiagGaussian { .. } => {
                let e = spec.build_continuous()?;
                let q = e.quadratic().expect("Gaussian specs are quadratic");
                let g = Gaussian::from_precision(q.mean.clone(), &q.precision)?;
                Ok(Self::from_core(dev, &g))
            }
            other => Err(EstimatorError::Unsupported(format!(
                "expected a `gaussian` model, got `{}`",
                other.type_name()
            ))),
        }
    }

    /// The current mean.
    pub fn mean(&self) -> Vec<f64> {
        self.mean.as_vec().into_iter().map(HostFloat::f64).collect()
    }

    /// The current L, row-major.
    pub fn factor(&self) -> Vec<f64> {
        let host = |t: &Vector<F, D>| t.as_vec().into_iter().map(HostFloat::f64).collect::<Vec<_>>();
        let lower: Vec<f64> = self.lower.as_vec().into_iter().map(HostFloat::f64).collect();
        factor_of(&host(&self.log_diag), &lower)
    }

    /// The current precision P = L L^T, row-major.
    pub fn precision(&self) -> Vec<f64> {
        precision_of(&self.factor(), self.mean.shape().0)
    }

    /// The reference Gaussian with the current parameters.
    pub fn to_core(&self) -> Result<Gaussian> {
        Ok(Gaussian::from_precision(self.mean(), &self.precision())?)
    }

    /// L as ops on the tape T.
    fn factor_t<T: Tape<F, D>>(&self) -> Mat<F, D, T> {
        let d = self.mean.shape().0;
        let off = self.lower.retaped::<T>() * self.mask.clone();
        let diag = self
            .log_diag
            .retaped::<T>()
            .exp()
            .broadcast_like::<(usize, usize), Axis<0>>(&(d, d))
            * self.eye.clone();
        off + diag
    }

    /// (x - mu) L on x's tape.
    fn whitened<T: Tape<F, D>>(&self, x: Mat<F, D, T>) -> Mat<F, D, T> {
        let (n, d) = *x.shape();
        let centred = x - self
            .mean
            .retaped::<T>()
            .broadcast_like::<(usize, usize), Axis<0>>(&(n, d));
        centred.matmul(self.factor_t::<T>())
    }
}

/// Lower Cholesky factor of a symmetric positive definite matrix.
fn cholesky(a: &[f64], d: usize) -> Option<Vec<f64>> {
    let mut l = vec![0.0; d * d];
    for i in 0..d {
        for j in 0..=i {
            let s: f64 = a[i * d + j] - (0..j).map(|k| l[i * d + k] * l[j * d + k]).sum::<f64>();
            if i == j {
                if s <= 0.0 {
                    return None;
                }
                l[i * d + i] = s.sqrt();
            } else {
                l[i * d + j] = s / l[j * d + j];
            }
        }
    }
    Some(l)
}

impl<F: Real, D: Backend<F>> TrainableEnergy<F, D> for GaussianEnergy<F, D> {
    fn dim(&self) -> usize {
        self.mean.shape().0
    }

    fn device(&self) -> &D {
        &self.dev
    }

    fn energy_t<T: Tape<F, D>>(&self, x: Mat<F, D, T>) -> Vector<F, D, T> {
        self.whitened(x).square().sum::<(usize,), Axis<1>>() * F::of(0.5)
    }

    fn params_mut(&mut self) -> Vec<ParamMut<'_, F, D>> {
        vec![
            ParamMut::Vector(&mut self.mean),
            ParamMut::Vector(&mut self.log_diag),
            ParamMut::Matrix(&mut self.lower),
        ]
    }

    fn to_spec(&self) -> EnergySpec {
        let d = self.mean.shape().0;
        let p = self.precision();
        EnergySpec::Gaussian {
            mean: self.mean(),
            covariance: None,
            precision: Some(p.chunks_exact(d).map(<[f64]>::to_vec).collect()),
            arithmetic: Default::default(),
        }
    }

    fn autodiff(&self) -> Option<Box<dyn EnergyCapability>> {
        Some(Box::new(Autodiff::with_score(self.clone())))
    }

    /// The family with its gradients in closed form (in f64 whatever `F`).
    fn hand_written(&self) -> Option<Box<dyn EnergyCapability>> {
        let mut me = self.clone();
        let params: Vec<Vec<f64>> = me.params_mut().iter().map(ParamMut::values).collect();
        HandGaussian::new(&params)
            .ok()
            .map(|g| Box::new(g) as Box<dyn EnergyCapability>)
    }

    fn with_target<R>(&self, f: impl FnOnce(Target<'_>) -> R) -> Option<R> {
        Some(f(Target::Continuous(self)))
    }
}

impl<F: Real, D: Backend<F>> TrainableScore<F, D> for GaussianEnergy<F, D> {
    fn score_t<T: Tape<F, D>>(&self, x: Mat<F, D, T>) -> Mat<F, D, T> {
        let lt = self.factor_t::<T>().permute::<(usize, usize), Axes2<1, 0>>();
        self.whitened(x).matmul(lt).negate()
    }
}

impl<F: Real, D: Backend<F>> Energy for GaussianEnergy<F, D> {
    crate::energy_through_ops!();

    fn log_partition(&self) -> Option<f64> {
        let d = TrainableEnergy::dim(self) as f64;
        let s: f64 = self.log_diag.as_vec().into_iter().map(HostFloat::f64).sum();
        Some(0.5 * d * ebm_core::math::LN_2PI - s)
    }
}
