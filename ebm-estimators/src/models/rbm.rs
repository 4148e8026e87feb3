//! The Bernoulli-Bernoulli RBM as a trainable free energy.

use crate::capability::{Autodiff, EnergyCapability, HandRbm};
use crate::error::{EstimatorError, Result};
use crate::trainable::{vector, Backend, Mat, ParamMut, Real, TrainableEnergy, Vector};
use dfdx::prelude::*;
use ebm_core::energies::Rbm;
use ebm_core::EnergySpec;
use ebm_core::HostFloat;
use ebm_samplers::Target;
use rand::Rng;
use rand_distr::{Distribution, Normal};

/// The free energy of a Bernoulli RBM on visible states v in {0,1}^V:
///
/// F(v) = -b.v - sum_j softplus(c_j + (v^T W)_j),
///
/// with W (V x H), b (V), c (H); p(v) = exp(-F(v)) / Z. Negatives for
/// maximum likelihood come from block Gibbs on [`TrainableRbm::to_core`].
///
/// ```
/// use dfdx::prelude::*;
/// use ebm_estimators::models::TrainableRbm;
/// let mut rng = ebm_core::setup_rng(0);
/// let r = TrainableRbm::<f64, Cpu>::new(&Cpu::default(), 6, 3, 0.01, &mut rng).unwrap();
/// assert_eq!(r.to_core().n_hidden(), 3);
/// ```
#[derive(Clone, Debug)]
pub struct TrainableRbm<F: Real, D: Backend<F>> {
    w: Mat<F, D>,
    b: Vector<F, D>,
    c: Vector<F, D>,
    dev: D,
}

impl<F: Real, D: Backend<F>> TrainableRbm<F, D> {
    /// V visible and H hidden units, weights N(0, std^2) from `rng`, zero
    /// biases.
    pub fn new<R: Rng>(dev: &D, nv: usize, nh: usize, std: f64, rng: &mut R) -> Result<Self> {
        let normal =
            Normal::new(0.0, std).map_err(|_| crate::error::config("init_std", "must be finite and >= 0"))?;
        let w: Vec<f64> = (0..nv * nh).map(|_| normal.sample(rng)).collect();
        let rbm = Rbm::new(nv, nh, w, vec![0.0; nv], vec![0.0; nh])?;
        Ok(Self::from_core(dev, &rbm))
    }

    /// The trainable copy of a reference RBM.
    pub fn from_core(dev: &D, r: &Rbm) -> Self {
        Self {
            w: crate::trainable::to_device(dev, r.weights(), r.n_hidden()),
            b: vector(dev, r.visible_bias()),
            c: vector(dev, r.hidden_bias()),
            dev: dev.clone(),
        }
    }

    /// From an `rbm` model file.
    pub fn from_spec(dev: &D, spec: &EnergySpec) -> Result<Self> {
        match spec {
            EnergySpec::Rbm { w, b, c } => {
                Ok(Self::from_core(dev, &Rbm::from_rows(w, b.clone(), c.clone())?))
            }
            other => Err(EstimatorError::Unsupported(format!(
                "expected an `rbm` model, got `{}`",
                other.type_name()
            ))),
        }
    }

    /// The reference RBM with the current parameters (for Gibbs and AIS).
    pub fn to_core(&self) -> Rbm {
        let (nv, nh) = *self.w.shape();
        let host = |t: Vec<F>| t.into_iter().map(HostFloat::f64).collect::<Vec<_>>();
        Rbm::new(
            nv,
            nh,
            host(self.w.as_vec()),
            host(self.b.as_vec()),
            host(self.c.as_vec()),
        )
        .expect("a trained RBM keeps its shapes")
    }

    /// Set the visible biases to log(p / (1 - p)) of the data's unit means
    /// p (clipped to [eps, 1 - eps]): the usual start, which makes the
    /// W = 0 model match the data's marginals.
    pub fn set_visible_bias_from_data(&mut self, means: &[f64], eps: f64) -> Result<()> {
        crate::trainable::check_param_len("b", means.len(), self.b.shape().0)?;
        let b: Vec<F> = means
            .iter()
            .map(|&p| {
                let p = p.clamp(eps, 1.0 - eps);
                F::of((p / (1.0 - p)).ln())
            })
            .collect();
        self.b.copy_from(&b);
        Ok(())
    }
}

impl<F: Real, D: Backend<F>> TrainableEnergy<F, D> for TrainableRbm<F, D> {
    fn dim(&self) -> usize {
        self.w.shape().0
    }

    fn device(&self) -> &D {
        &self.dev
    }

    fn energy_t<T: Tape<F, D>>(&self, v: Mat<F, D, T>) -> Vector<F, D, T> {
        let (n, nv) = *v.shape();
        let nh = self.w.shape().1;
        let (v, tape) = v.split_tape();
        let act = v.clone().put_tape(tape).matmul(self.w.retaped::<T>())
            + self
                .c
                .retaped::<T>()
                .broadcast_like::<(usize, usize), Axis<0>>(&(n, nh));
        // softplus(a) = relu(a) + ln(1 + exp(-|a|))
        let (act, tape) = act.split_tape();
        let tail = (act.retaped::<T>().abs().negate().exp() + F::one()).ln();
        let soft = (act.put_tape(tape).relu() + tail).sum::<(usize,), Axis<1>>();
        let bv = (self
            .b
            .retaped::<T>()
            .broadcast_like::<(usize, usize), Axis<0>>(&(n, nv))
            * v)
            .sum::<(usize,), Axis<1>>();
        (soft + bv).negate()
    }

    fn params_mut(&mut self) -> Vec<ParamMut<'_, F, D>> {
        vec![
            ParamMut::Matrix(&mut self.w),
            ParamMut::Vector(&mut self.b),
            ParamMut::Vector(&mut self.c),
        ]
    }

    /// Only finiteness to check: an RBM with finite weights and biases is always valid (its shapes are fixed at construction); skips building the model file
    /// on every training step.
    fn is_valid(&mut self) -> bool {
        self.is_finite()
    }

    fn to_spec(&self) -> EnergySpec {
        EnergySpec::from(&self.to_core())
    }

    fn autodiff(&self) -> Option<Box<dyn EnergyCapability>> {
        Some(Box::new(Autodiff::new(self.clone())))
    }

    /// ebm-core's RBM with the free energy's gradient in closed form (in
    /// f64 whatever `F`) and its closed-form PCD step in `F`.
    fn hand_written(&self) -> Option<Box<dyn EnergyCapability>> {
        let core = self.to_core();
        Some(Box::new(if F::IS_F32 {
            HandRbm::in_f32(core)
        } else {
            HandRbm::new(core)
        }))
    }

    fn with_target<R>(&self, f: impl FnOnce(Target<'_>) -> R) -> Option<R> {
        Some(f(Target::Binary(&self.to_core())))
    }
}
