//! The training-side trait: energies and scores as tape-tracked dfdx ops.
//!
//! A model keeps its parameters as dfdx tensors of runtime shape. Its
//! [`TrainableEnergy::energy_t`] maps a batch X (n x D) to the energies
//! E(x_i) (n), and [`TrainableScore::score_t`] to the scores
//! s(x_i) = -grad_x E(x_i) (n x D), both recorded on the tape `T` that the
//! input carries. [`crate::capability::Autodiff`] turns these ops into the
//! model capabilities that every objective is written against (a weighted
//! sum of energies, or a sum of functions of the scores, differentiated by
//! `backward()`); the trainer reads and writes the parameters through
//! [`TrainableEnergy::params_mut`]. A model with a form written out by
//! hand ([`TrainableEnergy::hand_written`]) trains on that form instead.
//!
//! **Tape discipline** (dfdx records an op only when one operand carries
//! a tape): every parameter is used as `param.retaped::<T>()`, a
//! tape-carrying copy with the same id, so reshapes, broadcasts and
//! transposes of parameters are recorded; a value used twice is split
//! with `split_tape` and its tape put back on exactly one use.
//!
//! **Devices:** models are generic over the dfdx device `D`. Only the CPU
//! device is built and tested here; the code uses no CPU-only ops, so
//! enabling dfdx's `cuda` feature should need no rewrite, but that is
//! untested (no GPU on the machines this was written on).

use crate::capability::traits::EnergyCapability;
use crate::error::{config, Result};
use dfdx::prelude::*;
use ebm_core::{EnergySpec, HostFloat};
use ebm_samplers::Target;

/// The float types a model can be trained in: `f32` or `f64`, the
/// host kernels' floats ([`HostFloat`]: conversions, random words,
/// exponentials) that dfdx also computes in.
pub trait Real: Dtype + HostFloat {}

impl Real for f32 {}
impl Real for f64 {}

/// A dfdx device that can be shared across threads (the CPU device; CUDA
/// would qualify too).
pub trait Backend<F: Dtype>: Device<F> + Send + Sync + 'static {}
impl<F: Dtype, D: Device<F> + Send + Sync> Backend<F> for D {}

/// A batch matrix (rows x columns) of runtime shape.
pub type Mat<F, D, T = NoneTape> = Tensor<(usize, usize), F, D, T>;
/// A vector of runtime length.
pub type Vector<F, D, T = NoneTape> = Tensor<(usize,), F, D, T>;
/// A rank-4 tensor of runtime shape: convolution filters
/// (out channels x in channels x k x k), or a batch of images
/// (n x channels x height x width).
pub type Rank4<F, D, T = NoneTape> = Tensor<(usize, usize, usize, usize), F, D, T>;

/// A parameter tensor, borrowed mutably (for the optimizer and loading).
pub enum ParamMut<'a, F: Real, D: Backend<F>> {
    /// A vector parameter.
    Vector(&'a mut Vector<F, D>),
    /// A matrix parameter.
    Matrix(&'a mut Mat<F, D>),
    /// A rank-4 parameter (convolution filters).
    Filters(&'a mut Rank4<F, D>),
}

impl<F: Real, D: Backend<F>> ParamMut<'_, F, D> {
    /// Number of scalars.
    pub fn len(&self) -> usize {
        match self {
            ParamMut::Vector(t) => t.shape().0,
            ParamMut::Matrix(t) => t.shape().0 * t.shape().1,
            ParamMut::Filters(t) => t.shape().num_elements(),
        }
    }

    /// Whether the parameter has no entries.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The values, row-major, as f64.
    pub fn values(&self) -> Vec<f64> {
        match self {
            ParamMut::Vector(t) => t.as_vec().into_iter().map(HostFloat::f64).collect(),
            ParamMut::Matrix(t) => t.as_vec().into_iter().map(HostFloat::f64).collect(),
            ParamMut::Filters(t) => t.as_vec().into_iter().map(HostFloat::f64).collect(),
        }
    }

    /// The shape: `[n]` for a vector, `[rows, cols]` for a matrix,
    /// `[out, in, k, k]` for filters.
    pub fn shape(&self) -> Vec<usize> {
        match self {
            ParamMut::Vector(t) => vec![t.shape().0],
            ParamMut::Matrix(t) => vec![t.shape().0, t.shape().1],
            ParamMut::Filters(t) => t.shape().concrete().to_vec(),
        }
    }

    /// Overwrite the values (row-major) in place, keeping the tensor's id
    /// (so optimizer state keyed by it still applies). Fails when the
    /// length differs from [`ParamMut::len`].
    pub fn set_values(&mut self, values: &[f64]) -> crate::Result<()> {
        if values.len() != self.len() {
            return Err(crate::EstimatorError::Checkpoint(format!(
                "a parameter of shape {:?} cannot take {} values",
                self.shape(),
                values.len()
            )));
        }
        let host: Vec<F> = values.iter().map(|&v| F::of(v)).collect();
        match self {
            ParamMut::Vector(t) => t.copy_from(&host),
            ParamMut::Matrix(t) => t.copy_from(&host),
            ParamMut::Filters(t) => t.copy_from(&host),
        }
        Ok(())
    }
}

/// A batch of rows (row-major, `n x d`) as a device matrix.
pub fn to_device<F: Real, D: Backend<F>>(dev: &D, rows: &[f64], d: usize) -> Mat<F, D> {
    let n = rows.len().checked_div(d).unwrap_or(0);
    dev.tensor_from_vec(rows.iter().map(|&v| F::of(v)).collect(), (n, d))
}

/// A vector of f64 as a device vector.
pub fn vector<F: Real, D: Backend<F>>(dev: &D, v: &[f64]) -> Vector<F, D> {
    dev.tensor_from_vec(v.iter().map(|&x| F::of(x)).collect(), (v.len(),))
}

/// An energy whose parameters can be trained: E(x; theta) on a batch as
/// dfdx ops.
pub trait TrainableEnergy<F: Real, D: Backend<F>>: Send + Sync {
    /// Dimension D of a state.
    fn dim(&self) -> usize;

    /// The device the parameters live on.
    fn device(&self) -> &D;

    /// E(x_i; theta) for each row of `x` (n x D), recorded on `x`'s tape.
    fn energy_t<T: Tape<F, D>>(&self, x: Mat<F, D, T>) -> Vector<F, D, T>;

    /// The parameters, in a fixed order.
    fn params_mut(&mut self) -> Vec<ParamMut<'_, F, D>>;

    /// The model as a model file (see `ebm_core::spec`), in f64.
    fn to_spec(&self) -> EnergySpec;

    /// Number of trainable scalars.
    fn n_params(&mut self) -> usize {
        self.params_mut().iter().map(ParamMut::len).sum()
    }

    /// Whether every parameter is finite.
    fn is_finite(&mut self) -> bool {
        self.params_mut()
            .iter()
            .all(|p| p.values().iter().all(|v| v.is_finite()))
    }

    /// The same model written out by hand on host buffers, when there is
    /// such a form ([`crate::capability::HandMlp`] for the MLP): its
    /// parameters in the order and shapes of
    /// [`TrainableEnergy::params_mut`]. The trainer runs the objective on
    /// it and writes the trained parameters back. None by default: the
    /// model trains through its tape ([`TrainableEnergy::autodiff`]).
    fn hand_written(&self) -> Option<Box<dyn EnergyCapability>> {
        None
    }

    /// The model on the capabilities through its tape
    /// ([`crate::capability::Autodiff`], with the score for a model that
    /// has one): what the trainer runs an objective written against the
    /// capabilities on when the model has no hand-written form. A model of
    /// your own implements it in one line,
    /// `Some(Box::new(Autodiff::new(self.clone())))` (`with_score` when
    /// it has a score); None by default, and `train` then refuses the
    /// model with an error saying so.
    fn autodiff(&self) -> Option<Box<dyn EnergyCapability>> {
        None
    }

    /// Call `f` with the model (its current parameters) as a sampling
    /// target, when it can be sampled: maximum likelihood's negatives.
    /// None by default.
    fn with_target<R>(&self, _f: impl FnOnce(Target<'_>) -> R) -> Option<R>
    where
        Self: Sized,
    {
        None
    }

    /// Whether the parameters are finite and give a valid model file (for
    /// example, a Gaussian's precision exp(s) can overflow while s is
    /// finite). The trainer keeps only valid models.
    fn is_valid(&mut self) -> bool {
        self.is_finite() && self.to_spec().build().is_ok()
    }
}

/// A trainable energy on R^D that also gives its score
/// s(x) = -grad_x E(x; theta) as ops, so objectives on the score (score
/// matching) get exact parameter gradients without higher-order autodiff.
pub trait TrainableScore<F: Real, D: Backend<F>>: TrainableEnergy<F, D> {
    /// s(x_i) = -grad_x E(x_i; theta) for each row of `x`, recorded on
    /// `x`'s tape.
    fn score_t<T: Tape<F, D>>(&self, x: Mat<F, D, T>) -> Mat<F, D, T>;
}

/// The `ebm_core::Energy` methods of a [`TrainableScore`] model, through
/// [`host_energy_grad`]: use inside `impl Energy for Model { .. }`.
#[macro_export]
macro_rules! energy_through_ops {
    () => {
        fn dim(&self) -> usize {
            $crate::TrainableEnergy::dim(self)
        }
        fn energy(&self, x: &[f64]) -> f64 {
            let mut e = [0.0];
            $crate::trainable::host_energy_grad(self, x, None, &mut e);
            e[0]
        }
        fn energy_grad(&self, x: &[f64], grad: &mut [f64]) -> f64 {
            let mut e = [0.0];
            $crate::trainable::host_energy_grad(self, x, Some(grad), &mut e);
            e[0]
        }
        fn energy_batch(&self, xs: &[f64], energies: &mut [f64]) {
            $crate::trainable::host_energy_grad(self, xs, None, energies);
        }
        fn energy_grad_batch(&self, xs: &[f64], grads: &mut [f64], energies: &mut [f64]) {
            $crate::trainable::host_energy_grad(self, xs, Some(grads), energies);
        }
    };
}

/// E and grad E on a host batch through the model's ops (no tape): the
/// body of the models' `ebm_core::Energy` implementations.
pub fn host_energy_grad<F: Real, D: Backend<F>, M: TrainableScore<F, D>>(
    model: &M,
    xs: &[f64],
    grads: Option<&mut [f64]>,
    energies: &mut [f64],
) {
    if energies.is_empty() {
        return;
    }
    let x = to_device::<F, D>(model.device(), xs, model.dim());
    let e = model.energy_t(x.clone()).as_vec();
    for (o, v) in energies.iter_mut().zip(e) {
        *o = v.f64();
    }
    if let Some(g) = grads {
        let s = model.score_t(x).as_vec();
        for (o, v) in g.iter_mut().zip(s) {
            *o = -v.f64();
        }
    }
}

/// Check a parameter copy's length before loading it.
pub(crate) fn check_param_len(field: &str, got: usize, expected: usize) -> Result<()> {
    if got != expected {
        return Err(config(field, format!("expected {expected} values, got {got}")));
    }
    Ok(())
}
