//! A convolutional energy for images: E: R^(C x H x W) -> R.

pub mod pass;

use crate::energies::Activation;
use crate::energy::Energy;
use crate::error::{check_finite, check_finite_scalar, CoreError, Result};
use crate::spec::Arithmetic;
use pass::{PassFloat, Weights};

/// The largest number of values an activation of one image may have
/// (channels x height x width) and the largest weight tensor: beyond
/// them a model file is refused rather than allocating without bound.
pub const CONV_MAX_VALUES: usize = 1 << 22;

/// One convolution: `c_out` filters of `c_in x k x k` with stride and zero
/// padding, then the activation.
#[derive(Clone, Debug, PartialEq)]
pub struct ConvLayer {
    /// Filters, `c_out x c_in x k x k` row-major (PyTorch's `Conv2d.weight`).
    pub w: Vec<f64>,
    /// Biases, `c_out`.
    pub b: Vec<f64>,
    /// Output channels c_out.
    pub out_channels: usize,
    /// Kernel size k (square).
    pub kernel: usize,
    /// Stride s >= 1.
    pub stride: usize,
    /// Zero padding p < k on every side.
    pub padding: usize,
}

/// The shapes of one convolution: input `c_in x h_in x w_in`, output
/// `c_out x h_out x w_out` with h_out = (h_in + 2 p - k) / s + 1.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LayerShape {
    /// Input channels.
    pub c_in: usize,
    /// Input height.
    pub h_in: usize,
    /// Input width.
    pub w_in: usize,
    /// Output channels.
    pub c_out: usize,
    /// Output height.
    pub h_out: usize,
    /// Output width.
    pub w_out: usize,
    /// Kernel size.
    pub kernel: usize,
    /// Stride.
    pub stride: usize,
    /// Padding.
    pub padding: usize,
}

/// The input shape `[C, H, W]` and every convolution's shapes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Geometry {
    /// The input image, `[channels, height, width]`.
    pub input: [usize; 3],
    /// Per convolution, input first.
    pub layers: Vec<LayerShape>,
}

impl Geometry {
    /// The shapes of `convs` on images of `input`, or an error naming the
    /// layer that does not fit (a kernel larger than the padded image,
    /// a zero size, padding not below the kernel, a tensor too large).
    pub fn new(input: [usize; 3], convs: &[(usize, usize, usize, usize)]) -> Result<Self> {
        let bad = |field: String, reason: String| CoreError::InvalidParameter { field, reason };
        if input.contains(&0) {
            return Err(bad(
                "input".into(),
                format!("every size must be positive, got {input:?}"),
            ));
        }
        if convs.is_empty() {
            return Err(bad("convs".into(), "need at least one convolution".into()));
        }
        let [mut c, mut h, mut w] = input;
        let mut layers = Vec::with_capacity(convs.len());
        for (l, &(c_out, kernel, stride, padding)) in convs.iter().enumerate() {
            let field = |name: &str| format!("convs[{l}].{name}");
            if c_out == 0 {
                return Err(bad(field("out_channels"), "must be at least 1".into()));
            }
            if kernel == 0 || stride == 0 {
                return Err(bad(
                    field(if kernel == 0 { "kernel" } else { "stride" }),
                    "must be at least 1".into(),
                ));
            }
            if padding >= kernel {
                return Err(bad(
                    field("padding"),
                    format!("must be below the kernel size {kernel}, got {padding}"),
                ));
            }
            if h + 2 * padding < kernel || w + 2 * padding < kernel {
                return Err(bad(
                    field("kernel"),
                    format!("{kernel} does not fit the {h} x {w} input with padding {padding}"),
                ));
            }
            let (h_out, w_out) = (
                (h + 2 * padding - kernel) / stride + 1,
                (w + 2 * padding - kernel) / stride + 1,
            );
            let too_big = [
                c_out * h_out * w_out,
                c_out * c * kernel * kernel,
                h_out * w_out * c * kernel * kernel,
            ];
            if too_big.iter().any(|&v| v > CONV_MAX_VALUES) {
                return Err(bad(
                    field("out_channels"),
                    format!("the layer is too large (more than {CONV_MAX_VALUES} values per image)"),
                ));
            }
            layers.push(LayerShape {
                c_in: c,
                h_in: h,
                w_in: w,
                c_out,
                h_out,
                w_out,
                kernel,
                stride,
                padding,
            });
            (c, h, w) = (c_out, h_out, w_out);
        }
        Ok(Self { input, layers })
    }

    /// D = C H W, the dimension of an image.
    pub fn dim(&self) -> usize {
        self.input.iter().product()
    }

    /// c_L h_L w_L, the inputs of the final linear layer.
    pub fn features(&self) -> usize {
        let last = self.layers[self.layers.len() - 1];
        last.c_out * last.h_out * last.w_out
    }
}

/// E(x) = w . flatten(A_L) + b with A_l = act(conv_l(A_{l-1})), A_0 = x:
/// convolutions (stride, zero padding) each followed by the activation,
/// then one linear layer to the scalar energy. The image is channel-major
/// (`C x H x W`, PyTorch's order) and so are the filters (`c_out x c_in x
/// k x k`) and the final layer's weights (flattened `c_L x h_L x w_L`),
/// so a PyTorch `nn.Sequential(Conv2d, act, ..., Flatten, Linear)` maps
/// onto it weight for weight.
///
/// The input gradient is the backward pass written out: with
/// D_L = w * act'(Z_L) and D_{l-1} = conv_l^T(D_l) * act'(Z_{l-1})
/// (the transposed convolution, col2im of D_l W_l), grad_x E =
/// conv_1^T(D_1). Each convolution of a batch is one faer product
/// (im2col); see [`pass`]. With [`Arithmetic::F32`] the passes compute in
/// single precision (the parameters stay f64). log Z is not known (AIS).
///
/// ```
/// use ebm_core::Energy;
/// use ebm_core::energies::{Activation, ConvLayer, ConvNet};
/// // one 1x1 filter of weight 2 on a 1 x 1 x 2 image, then w = (1, 1):
/// // E(x) = tanh(2 x_1) + tanh(2 x_2)
/// let conv = ConvLayer { w: vec![2.0], b: vec![0.0], out_channels: 1, kernel: 1, stride: 1, padding: 0 };
/// let net = ConvNet::new(Activation::Tanh, [1, 1, 2], vec![conv], vec![1.0, 1.0], 0.0).unwrap();
/// assert!((net.energy(&[0.5, 0.0]) - 1f64.tanh()).abs() < 1e-15);
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct ConvNet {
    activation: Activation,
    geometry: Geometry,
    convs: Vec<ConvLayer>,
    linear: Vec<f64>,
    bias: f64,
    arithmetic: Arithmetic,
    /// The parameters in the passes' floats and layout, rebuilt whenever
    /// they change.
    cache: Box<(Weights<f64>, Weights<f32>)>,
}

impl ConvNet {
    /// Validate the network: the layers fit the input (see
    /// [`Geometry::new`]), every tensor has its shape, every value is
    /// finite; `linear` has c_L h_L w_L weights.
    pub fn new(
        activation: Activation,
        input: [usize; 3],
        convs: Vec<ConvLayer>,
        linear: Vec<f64>,
        bias: f64,
    ) -> Result<Self> {
        let shape: Vec<_> = convs
            .iter()
            .map(|c| (c.out_channels, c.kernel, c.stride, c.padding))
            .collect();
        let geometry = Geometry::new(input, &shape)?;
        for (l, (conv, g)) in convs.iter().zip(&geometry.layers).enumerate() {
            crate::error::check_len(
                &format!("convs[{l}].w"),
                conv.w.len(),
                g.c_out * g.c_in * g.kernel * g.kernel,
            )?;
            crate::error::check_len(&format!("convs[{l}].b"), conv.b.len(), g.c_out)?;
            check_finite(&format!("convs[{l}].w"), &conv.w)?;
            check_finite(&format!("convs[{l}].b"), &conv.b)?;
        }
        crate::error::check_len("linear.w", linear.len(), geometry.features())?;
        check_finite("linear.w", &linear)?;
        check_finite_scalar("linear.b", bias)?;
        let mut net = Self {
            activation,
            geometry,
            convs,
            linear,
            bias,
            arithmetic: Arithmetic::F64,
            cache: Box::new((Weights::empty(), Weights::empty())),
        };
        net.cache = Box::new((net.convert(), net.convert()));
        Ok(net)
    }

    /// The same network computing its passes in `arithmetic` (f32: about
    /// twice as fast, energies and gradients to single precision).
    pub fn with_arithmetic(mut self, arithmetic: Arithmetic) -> Self {
        self.arithmetic = arithmetic;
        self
    }

    /// The arithmetic of the passes.
    pub fn arithmetic(&self) -> Arithmetic {
        self.arithmetic
    }

    /// The activation.
    pub fn activation(&self) -> Activation {
        self.activation
    }

    /// The shapes.
    pub fn geometry(&self) -> &Geometry {
        &self.geometry
    }

    /// The convolutions, input first.
    pub fn convs(&self) -> &[ConvLayer] {
        &self.convs
    }

    /// The final layer's weights (channel-major) and bias.
    pub fn linear(&self) -> (&[f64], f64) {
        (&self.linear, self.bias)
    }

    /// Shapes of the parameter tensors in the order of
    /// [`ConvNet::params`]: `[c_out, c_in, k, k]` and `[c_out]` per
    /// convolution, then `[features]` and `[1]`.
    pub fn param_shapes(&self) -> Vec<Vec<usize>> {
        let mut shapes: Vec<Vec<usize>> = self
            .geometry
            .layers
            .iter()
            .flat_map(|g| [vec![g.c_out, g.c_in, g.kernel, g.kernel], vec![g.c_out]])
            .collect();
        shapes.push(vec![self.linear.len()]);
        shapes.push(vec![1]);
        shapes
    }

    /// The parameters `[W_1, b_1, ..., W_L, b_L, w, [b]]`.
    pub fn params(&self) -> Vec<Vec<f64>> {
        let mut out = Vec::new();
        self.params_into(&mut out);
        out
    }

    /// [`ConvNet::params`] copied into `out`, reusing its buffers (no
    /// allocation once they have the sizes).
    pub fn params_into(&self, out: &mut Vec<Vec<f64>>) {
        let depth = self.convs.len();
        out.resize_with(2 * depth + 2, Vec::new);
        for (v, c) in out.chunks_exact_mut(2).zip(&self.convs) {
            v[0].clone_from(&c.w);
            v[1].clone_from(&c.b);
        }
        out[2 * depth].clone_from(&self.linear);
        out[2 * depth + 1].clear();
        out[2 * depth + 1].push(self.bias);
    }

    /// Overwrite the parameters from the layout of [`ConvNet::params`]:
    /// the same shapes, every value finite, or an error naming the tensor
    /// and nothing changes.
    pub fn set_params(&mut self, values: &[Vec<f64>]) -> Result<()> {
        let shapes = self.param_shapes();
        crate::error::check_len("parameter tensors", values.len(), shapes.len())?;
        let depth = self.convs.len();
        for (t, (v, s)) in values.iter().zip(&shapes).enumerate() {
            let name = match t {
                t if t == 2 * depth => "linear.w".to_string(),
                t if t == 2 * depth + 1 => "linear.b".to_string(),
                t => format!("convs[{}].{}", t / 2, if t % 2 == 0 { "w" } else { "b" }),
            };
            crate::error::check_len(&name, v.len(), s.iter().product())?;
            check_finite(&name, v)?;
        }
        for (conv, wb) in self.convs.iter_mut().zip(values.chunks_exact(2)) {
            conv.w.copy_from_slice(&wb[0]);
            conv.b.copy_from_slice(&wb[1]);
        }
        self.linear.copy_from_slice(&values[2 * depth]);
        self.bias = values[2 * depth + 1][0];
        *self.cache = (self.convert(), self.convert());
        Ok(())
    }

    /// The parameters in the passes' float (kept converted), the final
    /// layer's weights reordered to position-major.
    pub fn weights<T: PassFloat>(&self) -> &Weights<T> {
        let cache: &dyn std::any::Any = if T::IS_F32 { &self.cache.1 } else { &self.cache.0 };
        cache.downcast_ref().expect("the cache holds both floats")
    }

    /// The parameters converted to `T` and the passes' layout.
    fn convert<T: PassFloat>(&self) -> Weights<T> {
        let cast = |v: &[f64]| v.iter().map(|&x| T::of(x)).collect::<Vec<T>>();
        let last = self.geometry.layers[self.geometry.layers.len() - 1];
        let p = last.h_out * last.w_out;
        let mut linear = vec![T::zero(); self.linear.len()];
        for q in 0..p {
            for c in 0..last.c_out {
                linear[q * last.c_out + c] = T::of(self.linear[c * p + q]);
            }
        }
        let filters = |c: &ConvLayer, g: &LayerShape| {
            let mut w = vec![T::zero(); c.w.len()];
            for (&v, i) in c.w.iter().zip(pass::filter_order(g)) {
                w[i] = T::of(v);
            }
            w
        };
        Weights {
            convs: self
                .convs
                .iter()
                .zip(&self.geometry.layers)
                .map(|(c, g)| filters(c, g))
                .collect(),
            biases: self.convs.iter().map(|c| cast(&c.b)).collect(),
            linear,
            bias: T::of(self.bias),
        }
    }

    /// E and, when `grads` is given, grad_x E for the rows of `xs`, in
    /// `T`, in this thread's workspace.
    fn batch_in<T: PassFloat>(&self, xs: &[f64], energies: &mut [f64], grads: Option<&mut [f64]>) {
        let n = energies.len();
        if n == 0 {
            return;
        }
        let weights = self.weights::<T>();
        T::with_workspace(|ws| {
            pass::to_position_major(&self.geometry, xs, &mut ws.scratch.x);
            pass::forward(
                &self.geometry,
                weights,
                self.activation,
                &ws.scratch.x,
                n,
                false,
                &mut ws.trace,
            );
            energies.copy_from_slice(&ws.trace.energies);
            if let Some(g) = grads {
                let ones = vec![1.0; n];
                pass::backward(
                    &self.geometry,
                    weights,
                    &ws.trace,
                    &ones,
                    None,
                    true,
                    &mut ws.scratch,
                );
                pass::to_channel_major(&self.geometry, &ws.scratch.delta, 1.0, g);
            }
        })
    }

    fn batch(&self, xs: &[f64], energies: &mut [f64], grads: Option<&mut [f64]>) {
        match self.arithmetic {
            Arithmetic::F64 => self.batch_in::<f64>(xs, energies, grads),
            Arithmetic::F32 => self.batch_in::<f32>(xs, energies, grads),
        }
    }
}

impl Energy for ConvNet {
    fn dim(&self) -> usize {
        self.geometry.dim()
    }

    fn energy(&self, x: &[f64]) -> f64 {
        let mut e = [0.0];
        self.batch(x, &mut e, None);
        e[0]
    }

    fn energy_grad(&self, x: &[f64], grad: &mut [f64]) -> f64 {
        let mut e = [0.0];
        self.batch(x, &mut e, Some(grad));
        e[0]
    }

    fn energy_batch(&self, xs: &[f64], energies: &mut [f64]) {
        self.batch(xs, energies, None);
    }

    fn energy_grad_batch(&self, xs: &[f64], grads: &mut [f64], energies: &mut [f64]) {
        self.batch(xs, energies, Some(grads));
    }
}

#[cfg(test)]
mod tests;
