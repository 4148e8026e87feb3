//! An MLP energy in dfdx, with its input gradient as an explicit backward
//! pass in dfdx ops.

use crate::capability::{Autodiff, EnergyCapability, HandMlp};
use crate::error::{EstimatorError, Result};
use crate::trainable::{
    check_param_len, Backend, Mat, ParamMut, Real, TrainableEnergy, TrainableScore, Vector,
};
use dfdx::prelude::*;
use ebm_core::energies::{Activation, Layer, Mlp};
use ebm_core::HostFloat;
use ebm_core::{Energy, EnergySpec};
use ebm_samplers::Target;
use rand::Rng;

/// E(x) = w_L^T act(W_{L-1} ... act(W_1 x + b_1) ... + b_{L-1}) + b_L, the
/// trainable twin of [`ebm_core::energies::Mlp`] (same parameters, same
/// model file).
///
/// The score is the backward pass written out as ops, so that it is itself
/// differentiable in the parameters: with z_l = W_l h_{l-1} + b_l,
/// h_l = act(z_l), h_0 = x,
///
/// g_{L-1} = w_L, g_{l-1} = W_l^T (act'(z_l) * g_l), s(x) = -g_0.
///
/// ```
/// use dfdx::prelude::*;
/// use ebm_core::{Energy, energies::Activation};
/// use ebm_estimators::models::MlpEnergy;
/// let mut rng = ebm_core::setup_rng(0);
/// let m = MlpEnergy::<f64, Cpu>::new(&Cpu::default(), &[2, 16, 16, 1], Activation::Silu, &mut rng).unwrap();
/// let mut g = [0.0; 2];
/// let e = m.energy_grad(&[0.5, -1.0], &mut g);
/// assert!(e.is_finite() && g.iter().all(|v| v.is_finite()));
/// ```
#[derive(Clone, Debug)]
pub struct MlpEnergy<F: Real, D: Backend<F>> {
    activation: Activation,
    /// W_l, n_out x n_in.
    weights: Vec<Mat<F, D>>,
    /// b_l, n_out.
    biases: Vec<Vector<F, D>>,
    dev: D,
}

impl<F: Real, D: Backend<F>> MlpEnergy<F, D> {
    /// A network with the given widths (input first, last must be 1),
    /// initialised like PyTorch's `nn.Linear`: every weight and bias of a
    /// layer with fan-in k uniform on (-1/sqrt(k), 1/sqrt(k)), drawn from
    /// `rng`.
    pub fn new<R: Rng>(dev: &D, widths: &[usize], activation: Activation, rng: &mut R) -> Result<Self> {
        if widths.len() < 2 || widths.contains(&0) || widths[widths.len() - 1] != 1 {
            return Err(crate::error::config(
                "widths",
                format!(
                    "need at least an input and an output width, all positive, the last 1; got {widths:?}"
                ),
            ));
        }
        let layers = widths
            .windows(2)
            .map(|w| {
                let bound = 1.0 / (w[0] as f64).sqrt();
                let mut draw = |k: usize| {
                    (0..k)
                        .map(|_| rng.random_range(-bound..bound))
                        .collect::<Vec<_>>()
                };
                let wv = draw(w[0] * w[1]);
                Layer {
                    w: wv,
                    b: draw(w[1]),
                    n_in: w[0],
                    n_out: w[1],
                }
            })
            .collect();
        Ok(Self::from_core(dev, &Mlp::new(activation, layers)?))
    }

    /// The trainable copy of a reference MLP.
    pub fn from_core(dev: &D, m: &Mlp) -> Self {
        Self {
            activation: m.activation(),
            weights: m
                .layers()
                .iter()
                .map(|l| dev.tensor_from_vec(l.w.iter().map(|&v| F::of(v)).collect(), (l.n_out, l.n_in)))
                .collect(),
            biases: m
                .layers()
                .iter()
                .map(|l| crate::trainable::vector(dev, &l.b))
                .collect(),
            dev: dev.clone(),
        }
    }

    /// From an `mlp` model file.
    pub fn from_spec(dev: &D, spec: &EnergySpec) -> Result<Self> {
        match spec {
            EnergySpec::Mlp { activation, layers } => {
                let rows: Vec<_> = layers.iter().map(|l| (l.w.clone(), l.b.clone())).collect();
                Ok(Self::from_core(dev, &Mlp::from_rows(*activation, &rows)?))
            }
            other => Err(EstimatorError::Unsupported(format!(
                "expected an `mlp` model, got `{}`",
                other.type_name()
            ))),
        }
    }

    /// The reference (f64, dfdx-free) copy of the current parameters.
    pub fn to_core(&self) -> Mlp {
        let layers = self
            .weights
            .iter()
            .zip(&self.biases)
            .map(|(w, b)| Layer {
                w: w.as_vec().into_iter().map(HostFloat::f64).collect(),
                b: b.as_vec().into_iter().map(HostFloat::f64).collect(),
                n_in: w.shape().1,
                n_out: w.shape().0,
            })
            .collect();
        Mlp::new(self.activation, layers).expect("a trained MLP keeps its shapes")
    }

    /// Overwrite the parameters with those of `m` (same widths).
    pub fn load_core(&mut self, m: &Mlp) -> Result<()> {
        check_param_len("layers", m.layers().len(), self.weights.len())?;
        for (l, layer) in m.layers().iter().enumerate() {
            check_param_len(
                &format!("layers[{l}].w"),
                layer.w.len(),
                self.weights[l].shape().0 * self.weights[l].shape().1,
            )?;
            check_param_len(&format!("layers[{l}].b"), layer.b.len(), self.biases[l].shape().0)?;
            self.weights[l].copy_from(&layer.w.iter().map(|&v| F::of(v)).collect::<Vec<_>>());
            self.biases[l].copy_from(&layer.b.iter().map(|&v| F::of(v)).collect::<Vec<_>>());
        }
        Ok(())
    }

    /// The activation.
    pub fn activation(&self) -> Activation {
        self.activation
    }

    /// Forward through the hidden layers: h_{L-1} on the tape, and every
    /// pre-activation z_l (tape split off, same ids) for the backward pass.
    fn hidden<T: Tape<F, D>>(&self, x: Mat<F, D, T>) -> (Mat<F, D, T>, Vec<Mat<F, D>>) {
        let n = x.shape().0;
        let depth = self.weights.len();
        let mut h = x;
        let mut zs = Vec::with_capacity(depth - 1);
        for l in 0..depth - 1 {
            let z = affine(h, &self.weights[l], &self.biases[l], n);
            let (z, tape) = z.split_tape();
            zs.push(z.clone());
            h = activate(self.activation, z.put_tape(tape));
        }
        (h, zs)
    }
}

/// h W^T + b over the batch.
fn affine<F: Real, D: Backend<F>, T: Tape<F, D>>(
    h: Mat<F, D, T>,
    w: &Mat<F, D>,
    b: &Vector<F, D>,
    n: usize,
) -> Mat<F, D, T> {
    let out = w.shape().0;
    let wt = w.retaped::<T>().permute::<(usize, usize), Axes2<1, 0>>();
    h.matmul(wt)
        + b.retaped::<T>()
            .broadcast_like::<(usize, usize), Axis<0>>(&(n, out))
}

/// act(z) elementwise on a tensor of any shape, recorded on z's tape.
pub(crate) fn activate<S: Shape, F: Real, D: Backend<F>, T: Tape<F, D>>(
    act: Activation,
    z: Tensor<S, F, D, T>,
) -> Tensor<S, F, D, T> {
    match act {
        Activation::Silu => {
            let (z, tape) = z.split_tape();
            z.clone().put_tape(tape).sigmoid() * z
        }
        Activation::Softplus => {
            // softplus(z) = relu(z) + ln(1 + exp(-|z|)), stable for all z.
            let (z, tape) = z.split_tape();
            let tail = (z.retaped::<T>().abs().negate().exp() + F::one()).ln();
            z.put_tape(tape).relu() + tail
        }
        Activation::Tanh => z.tanh(),
    }
}

/// act'(z) for a pre-activation whose forward use is already recorded: a
/// fresh tape carries these ops and merges later.
fn slope<F: Real, D: Backend<F>, T: Tape<F, D>>(act: Activation, z: &Mat<F, D>) -> Mat<F, D, T> {
    match act {
        Activation::Silu => {
            // s (1 + z (1 - s)), s = sigmoid(z)
            let (s, tape) = z.retaped::<T>().sigmoid().split_tape();
            let one_minus = s.clone().put_tape(tape).negate() + F::one();
            (one_minus * z.clone() + F::one()) * s
        }
        Activation::Softplus => z.retaped::<T>().sigmoid(),
        Activation::Tanh => z.retaped::<T>().tanh().square().negate() + F::one(),
    }
}

impl<F: Real, D: Backend<F>> TrainableEnergy<F, D> for MlpEnergy<F, D> {
    fn dim(&self) -> usize {
        self.weights[0].shape().1
    }

    fn device(&self) -> &D {
        &self.dev
    }

    fn energy_t<T: Tape<F, D>>(&self, x: Mat<F, D, T>) -> Vector<F, D, T> {
        let n = x.shape().0;
        let last = self.weights.len() - 1;
        let (h, _) = self.hidden(x);
        affine(h, &self.weights[last], &self.biases[last], n).reshape_like(&(n,))
    }

    fn params_mut(&mut self) -> Vec<ParamMut<'_, F, D>> {
        let mut out = Vec::with_capacity(2 * self.weights.len());
        for (w, b) in self.weights.iter_mut().zip(self.biases.iter_mut()) {
            out.push(ParamMut::Matrix(w));
            out.push(ParamMut::Vector(b));
        }
        out
    }

    /// Only finiteness to check: an MLP with finite weights and biases is always valid (its widths are fixed at construction); skips building the model file
    /// on every training step.
    fn is_valid(&mut self) -> bool {
        self.is_finite()
    }

    fn to_spec(&self) -> EnergySpec {
        EnergySpec::from(&self.to_core())
    }

    /// ebm-core's MLP with the hand-written capabilities; a model in f32
    /// gets the fused score pass in f32 (f64 parameters and sums).
    fn hand_written(&self) -> Option<Box<dyn EnergyCapability>> {
        let core = self.to_core();
        Some(Box::new(if F::IS_F32 {
            HandMlp::in_f32(core)
        } else {
            HandMlp::new(core)
        }))
    }

    fn autodiff(&self) -> Option<Box<dyn EnergyCapability>> {
        Some(Box::new(Autodiff::with_score(self.clone())))
    }

    fn with_target<R>(&self, f: impl FnOnce(Target<'_>) -> R) -> Option<R> {
        Some(f(Target::Continuous(self)))
    }
}

impl<F: Real, D: Backend<F>> TrainableScore<F, D> for MlpEnergy<F, D> {
    fn score_t<T: Tape<F, D>>(&self, x: Mat<F, D, T>) -> Mat<F, D, T> {
        let n = x.shape().0;
        let last = self.weights.len() - 1;
        let (h, zs) = self.hidden(x);
        // The forward ops live on h's tape; carry them on with w_L.
        let (_, tape) = h.split_tape();
        let width = self.weights[last].shape().1;
        let mut g: Mat<F, D, T> = self.weights[last]
            .clone()
            .put_tape(tape)
            .reshape_like(&(width,))
            .broadcast_like::<(usize, usize), Axis<0>>(&(n, width));
        for l in (0..last).rev() {
            let delta = g * slope::<F, D, T>(self.activation, &zs[l]);
            g = delta.matmul(self.weights[l].retaped::<T>());
        }
        g.negate()
    }
}

impl<F: Real, D: Backend<F>> Energy for MlpEnergy<F, D> {
    crate::energy_through_ops!();
}
