//! A convolutional energy in dfdx: the trainable twin of
//! [`ebm_core::energies::ConvNet`], and the worked example of an
//! architecture of one's own (see `docs/own-architecture.md`).

use crate::capability::{Autodiff, EnergyCapability, HandConv};
use crate::error::{EstimatorError, Result};
use crate::models::mlp::activate;
use crate::trainable::{to_device, vector, Backend, ParamMut, Rank4, Real, TrainableEnergy, Vector};
use dfdx::prelude::*;
use ebm_core::energies::conv::Geometry;
use ebm_core::energies::{Activation, ConvLayer, ConvNet};
use ebm_core::spec::Arithmetic;
use ebm_core::{Energy, EnergySpec, HostFloat};
use ebm_samplers::Target;
use rand::Rng;

/// E(x) = w . flatten(A_L) + b with A_l = act(conv_l(A_{l-1})), A_0 the
/// image x (channel-major `C x H x W`): each convolution an im2col
/// gather and a batched product in dfdx ops, the bias broadcast over
/// positions, then one linear layer. Same parameters
/// and model file as [`ConvNet`]; the input gradient and the parameter
/// gradients come from dfdx's tape.
///
/// ```
/// use dfdx::prelude::*;
/// use ebm_core::{Energy, energies::Activation};
/// use ebm_estimators::models::ConvEnergy;
/// let mut rng = ebm_core::setup_rng(0);
/// // 1 x 8 x 8 images: 8 filters 3x3 (padding 1), 16 filters 3x3 stride 2
/// let m = ConvEnergy::<f64, Cpu>::new(&Cpu::default(), [1, 8, 8], &[(8, 3, 1, 1), (16, 3, 2, 1)], Activation::Silu, &mut rng).unwrap();
/// let mut g = [0.0; 64];
/// let e = m.energy_grad(&[0.5; 64], &mut g);
/// assert!(e.is_finite() && g.iter().all(|v| v.is_finite()));
/// ```
#[derive(Clone, Debug)]
pub struct ConvEnergy<F: Real, D: Backend<F>> {
    activation: Activation,
    geometry: Geometry,
    /// W_l, `c_out x c_in x k x k`.
    filters: Vec<Rank4<F, D>>,
    /// b_l, `c_out`.
    biases: Vec<Vector<F, D>>,
    /// The final layer's weights, channel-major.
    linear: Vector<F, D>,
    /// The final layer's bias, one entry.
    bias: Vector<F, D>,
    /// Per convolution, the im2col gather (rows of the transposed
    /// activation under each kernel position, position by position) and
    /// its mask (0 where the kernel overhangs the border).
    gathers: Vec<(Indices<D>, Vector<F, D>)>,
    /// The last activation's rows in channel-major order.
    flatten: Indices<D>,
    /// The arithmetic of the hand-written passes (f32 for a model in f32).
    arithmetic: Arithmetic,
    dev: D,
}

/// Row indices for a gather, on the device.
type Indices<D> = Tensor<(usize,), usize, D>;

/// One layer's gather on the host: row indices and the 0/1 mask.
type Gather = (Vec<usize>, Vec<f64>);

/// The gathers of [`ConvEnergy`]'s layers: for output position
/// (oy, ox) and column (ci, ky, kx), the row of input (ci, iy, ix) with
/// iy = oy s + ky - p, ix = ox s + kx - p, in the input's row order
/// (channel-major for the image, position-major after a convolution);
/// mask 0 and row 0 where (iy, ix) is padding. Then the permutation that
/// reads the last activation channel-major.
fn gathers(geo: &Geometry) -> (Vec<Gather>, Vec<usize>) {
    let mut out = Vec::with_capacity(geo.layers.len());
    for (l, g) in geo.layers.iter().enumerate() {
        let row = |ci: usize, iy: usize, ix: usize| {
            if l == 0 {
                (ci * g.h_in + iy) * g.w_in + ix
            } else {
                (iy * g.w_in + ix) * g.c_in + ci
            }
        };
        let (mut index, mut mask) = (Vec::new(), Vec::new());
        for oy in 0..g.h_out {
            for ox in 0..g.w_out {
                for ci in 0..g.c_in {
                    for ky in 0..g.kernel {
                        for kx in 0..g.kernel {
                            let iy = (oy * g.stride + ky)
                                .checked_sub(g.padding)
                                .filter(|&y| y < g.h_in);
                            let ix = (ox * g.stride + kx)
                                .checked_sub(g.padding)
                                .filter(|&x| x < g.w_in);
                            match (iy, ix) {
                                (Some(iy), Some(ix)) => {
                                    index.push(row(ci, iy, ix));
                                    mask.push(1.0);
                                }
                                _ => {
                                    index.push(0);
                                    mask.push(0.0);
                                }
                            }
                        }
                    }
                }
            }
        }
        out.push((index, mask));
    }
    let last = geo.layers[geo.layers.len() - 1];
    let p = last.h_out * last.w_out;
    let flatten = (0..last.c_out)
        .flat_map(|c| (0..p).map(move |q| q * last.c_out + c))
        .collect();
    (out, flatten)
}

impl<F: Real, D: Backend<F>> ConvEnergy<F, D> {
    /// A network on `input` images (`[C, H, W]`) with convolutions
    /// `(out_channels, kernel, stride, padding)`, initialised like
    /// PyTorch's `Conv2d` and `Linear`: every weight and bias of a layer
    /// with fan-in m uniform on (-1/sqrt(m), 1/sqrt(m)), drawn from `rng`.
    pub fn new<R: Rng>(
        dev: &D,
        input: [usize; 3],
        convs: &[(usize, usize, usize, usize)],
        activation: Activation,
        rng: &mut R,
    ) -> Result<Self> {
        let geometry = Geometry::new(input, convs)?;
        let mut draw = |k: usize, fan_in: usize| {
            let bound = 1.0 / (fan_in as f64).sqrt();
            (0..k)
                .map(|_| rng.random_range(-bound..bound))
                .collect::<Vec<f64>>()
        };
        let layers: Vec<ConvLayer> = geometry
            .layers
            .iter()
            .map(|g| {
                let fan_in = g.c_in * g.kernel * g.kernel;
                ConvLayer {
                    w: draw(g.c_out * fan_in, fan_in),
                    b: draw(g.c_out, fan_in),
                    out_channels: g.c_out,
                    kernel: g.kernel,
                    stride: g.stride,
                    padding: g.padding,
                }
            })
            .collect();
        let f = geometry.features();
        let linear = draw(f, f);
        let bias = draw(1, f)[0];
        Ok(Self::from_core(
            dev,
            &ConvNet::new(activation, input, layers, linear, bias)?,
        ))
    }

    /// The trainable copy of a reference network (its hand-written form
    /// keeps the network's arithmetic).
    pub fn from_core(dev: &D, m: &ConvNet) -> Self {
        let (linear, bias) = m.linear();
        let (layers, flatten) = gathers(m.geometry());
        let index = |v: Vec<usize>| {
            let len = v.len();
            dev.tensor_from_vec(v, (len,))
        };
        Self {
            gathers: layers
                .into_iter()
                .map(|(i, mask)| (index(i), vector(dev, &mask)))
                .collect(),
            flatten: index(flatten),
            arithmetic: m.arithmetic(),
            activation: m.activation(),
            geometry: m.geometry().clone(),
            filters: m
                .convs()
                .iter()
                .zip(&m.geometry().layers)
                .map(|(c, g)| {
                    dev.tensor_from_vec(
                        c.w.iter().map(|&v| F::of(v)).collect(),
                        (g.c_out, g.c_in, g.kernel, g.kernel),
                    )
                })
                .collect(),
            biases: m.convs().iter().map(|c| vector(dev, &c.b)).collect(),
            linear: vector(dev, linear),
            bias: vector(dev, &[bias]),
            dev: dev.clone(),
        }
    }

    /// From a `conv` model file.
    pub fn from_spec(dev: &D, spec: &EnergySpec) -> Result<Self> {
        match spec {
            EnergySpec::Conv { .. } => Ok(Self::from_core(dev, &spec.build_conv()?)),
            other => Err(EstimatorError::Unsupported(format!(
                "expected a `conv` model, got `{}`",
                other.type_name()
            ))),
        }
    }

    /// The reference (f64, dfdx-free) copy of the current parameters.
    pub fn to_core(&self) -> ConvNet {
        let host = |t: Vec<F>| t.into_iter().map(HostFloat::f64).collect::<Vec<f64>>();
        let layers = self
            .filters
            .iter()
            .zip(&self.biases)
            .zip(&self.geometry.layers)
            .map(|((w, b), g)| ConvLayer {
                w: host(w.as_vec()),
                b: host(b.as_vec()),
                out_channels: g.c_out,
                kernel: g.kernel,
                stride: g.stride,
                padding: g.padding,
            })
            .collect();
        let arithmetic = if F::IS_F32 {
            Arithmetic::F32
        } else {
            self.arithmetic
        };
        ConvNet::new(
            self.activation,
            self.geometry.input,
            layers,
            host(self.linear.as_vec()),
            host(self.bias.as_vec())[0],
        )
        .expect("a trained network keeps its shapes")
        .with_arithmetic(arithmetic)
    }
}

impl<F: Real, D: Backend<F>> TrainableEnergy<F, D> for ConvEnergy<F, D> {
    fn dim(&self) -> usize {
        self.geometry.dim()
    }

    fn device(&self) -> &D {
        &self.dev
    }

    /// The convolutions as gathers and batched products (dfdx's own
    /// `conv2d` needs a nightly compiler): the batch is kept transposed,
    /// one column per image, and layer l gathers the rows under each
    /// kernel position (im2col, padding by a 0/1 mask), then multiplies
    /// every output position's `K x n` block by W_l (`c_out x K`).
    fn energy_t<T: Tape<F, D>>(&self, x: crate::trainable::Mat<F, D, T>) -> Vector<F, D, T> {
        let n = x.shape().0;
        let mut a: crate::trainable::Mat<F, D, T> = x.permute::<(usize, usize), Axes2<1, 0>>();
        for (l, g) in self.geometry.layers.iter().enumerate() {
            let (p, k) = (g.h_out * g.w_out, g.c_in * g.kernel * g.kernel);
            let (index, mask) = &self.gathers[l];
            let cols: crate::trainable::Mat<F, D, T> = a.gather(index.clone());
            let cols = cols
                * mask
                    .clone()
                    .broadcast_like::<(usize, usize), Axis<1>>(&(p * k, n));
            let cols: Tensor<(usize, usize, usize), F, D, T> = cols.reshape_like(&(p, k, n));
            let w = self.filters[l]
                .retaped::<T>()
                .reshape_like(&(g.c_out, k))
                .broadcast_like::<(usize, usize, usize), Axis<0>>(&(p, g.c_out, k));
            let b = self.biases[l]
                .retaped::<T>()
                .broadcast_like::<(usize, usize, usize), Axes2<0, 2>>(&(p, g.c_out, n));
            let z = activate(self.activation, w.matmul(cols) + b);
            a = z.reshape_like(&(p * g.c_out, n));
        }
        // channel-major rows, then E = w . A_L + b
        let f = self.geometry.features();
        let flat: crate::trainable::Mat<F, D, T> = a.gather(self.flatten.clone());
        let e: Vector<F, D, T> = self
            .linear
            .retaped::<T>()
            .reshape_like(&(1, f))
            .matmul(flat)
            .reshape_like(&(n,));
        e + self
            .bias
            .retaped::<T>()
            .reshape_like(&())
            .broadcast_like::<(usize,), Axis<0>>(&(n,))
    }

    fn params_mut(&mut self) -> Vec<ParamMut<'_, F, D>> {
        let mut out = Vec::with_capacity(2 * self.filters.len() + 2);
        for (w, b) in self.filters.iter_mut().zip(self.biases.iter_mut()) {
            out.push(ParamMut::Filters(w));
            out.push(ParamMut::Vector(b));
        }
        out.push(ParamMut::Vector(&mut self.linear));
        out.push(ParamMut::Vector(&mut self.bias));
        out
    }

    /// Finite parameters always make a valid network (its shapes are
    /// fixed at construction).
    fn is_valid(&mut self) -> bool {
        self.is_finite()
    }

    fn to_spec(&self) -> EnergySpec {
        EnergySpec::from(&self.to_core())
    }

    /// ebm-core's network with the hand-written capabilities (its passes
    /// in f32 for a model in f32).
    fn hand_written(&self) -> Option<Box<dyn EnergyCapability>> {
        Some(Box::new(HandConv::new(self.to_core())))
    }

    fn autodiff(&self) -> Option<Box<dyn EnergyCapability>> {
        Some(Box::new(Autodiff::new(self.clone())))
    }

    fn with_target<R>(&self, f: impl FnOnce(Target<'_>) -> R) -> Option<R> {
        Some(f(Target::Continuous(self)))
    }
}

/// E and grad_x E through the tape: the batch traced, its energies summed
/// and differentiated.
impl<F: Real, D: Backend<F>> Energy for ConvEnergy<F, D> {
    fn dim(&self) -> usize {
        self.geometry.dim()
    }

    fn energy(&self, x: &[f64]) -> f64 {
        let mut e = [0.0];
        self.energy_batch(x, &mut e);
        e[0]
    }

    fn energy_grad(&self, x: &[f64], grad: &mut [f64]) -> f64 {
        let mut e = [0.0];
        self.energy_grad_batch(x, grad, &mut e);
        e[0]
    }

    fn energy_batch(&self, xs: &[f64], energies: &mut [f64]) {
        let x = to_device::<F, D>(&self.dev, xs, self.geometry.dim());
        for (o, v) in energies.iter_mut().zip(self.energy_t(x).as_vec()) {
            *o = v.f64();
        }
    }

    fn energy_grad_batch(&self, xs: &[f64], grads: &mut [f64], energies: &mut [f64]) {
        let x = to_device::<F, D>(&self.dev, xs, self.geometry.dim());
        let (e, tape) = self.energy_t(x.leaky_trace()).split_tape();
        for (o, v) in energies.iter_mut().zip(e.as_vec()) {
            *o = v.f64();
        }
        let g = e.put_tape(tape).sum::<(), _>().backward();
        for (o, v) in grads.iter_mut().zip(g.get(&x).as_vec()) {
            *o = v.f64();
        }
    }
}
