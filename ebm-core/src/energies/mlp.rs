//! A multilayer perceptron energy E: R^D -> R, evaluated in f64 with its
//! exact input gradient (the explicit backward pass).

use crate::energy::Energy;
use crate::error::{check_finite, check_finite_named, CoreError, Result};
use crate::HostFloat;
use faer::{Accum, MatMut, MatRef, Par};
use serde::{Deserialize, Serialize};

/// The nonlinearity between layers, with its derivative.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Activation {
    /// silu(z) = z sigmoid(z); silu'(z) = s (1 + z (1 - s)) with s = sigmoid(z).
    #[default]
    Silu,
    /// softplus(z) = log(1 + e^z); softplus'(z) = sigmoid(z).
    Softplus,
    /// tanh(z); tanh'(z) = 1 - tanh(z)^2.
    Tanh,
}

impl Activation {
    /// Parse `"silu"`, `"softplus"` or `"tanh"`.
    pub fn parse(name: &str) -> Result<Self> {
        match name {
            "silu" => Ok(Self::Silu),
            "softplus" => Ok(Self::Softplus),
            "tanh" => Ok(Self::Tanh),
            other => Err(CoreError::InvalidParameter {
                field: "activation".into(),
                reason: format!("unknown activation `{other}` (expected silu, softplus or tanh)"),
            }),
        }
    }

    /// The name used in model files.
    pub fn name(self) -> &'static str {
        match self {
            Self::Silu => "silu",
            Self::Softplus => "softplus",
            Self::Tanh => "tanh",
        }
    }

    /// (act(z), act'(z)): [`Activation::value_slope_curvature`] without
    /// the curvature (the compiler drops its work where it is unused).
    #[inline(always)]
    pub fn value_and_slope<T: HostFloat>(self, z: T) -> (T, T) {
        let (a, s, _) = self.value_slope_curvature(z);
        (a, s)
    }

    /// (act(z), act'(z), act''(z)) from one exponential of -|z| (no
    /// overflow for any z; branch-free apart from the sign, so loops over
    /// it vectorise), the one definition every MLP and convolutional pass
    /// uses, in f64 or f32:
    ///
    /// - silu: s = sigmoid(z) = 1 / (1 + e^-|z|) (times e^-|z| for z < 0),
    ///   act = z s, act' = s (1 + z (1 - s)), act'' = s (1 - s) (2 + z (1 - 2 s));
    /// - softplus: act = max(z, 0) + ln(1 + e^-|z|), act' = s, act'' = s (1 - s);
    /// - tanh: t = sign(z) (1 - e^-2|z|) / (1 + e^-2|z|), act' = 1 - t^2,
    ///   act'' = -2 t (1 - t^2).
    ///
    /// The exponential and logarithm are [`HostFloat::exp_nonpositive`]
    /// and [`HostFloat::ln_fast`] (in f64 within 2 ulp of libm's).
    #[inline(always)]
    pub fn value_slope_curvature<T: HostFloat>(self, z: T) -> (T, T, T) {
        let (zero, one) = (T::zero(), T::one());
        let two = one + one;
        match self {
            Self::Silu => {
                let e = (-z.abs()).exp_nonpositive();
                let r = one / (one + e);
                let s = if z >= zero { r } else { e * r };
                let q = s * (one - s);
                (z * s, s + z * q, q * (two + z * (one - two * s)))
            }
            Self::Softplus => {
                let e = (-z.abs()).exp_nonpositive();
                let r = one / (one + e);
                let s = if z >= zero { r } else { e * r };
                (z.max(zero) + (one + e).ln_fast(), s, s * (one - s))
            }
            Self::Tanh => {
                let e2 = (-(two * z.abs())).exp_nonpositive();
                let a = (one - e2) / (one + e2);
                let t = if z >= zero { a } else { -a };
                let q = one - t * t;
                (t, q, -two * t * q)
            }
        }
    }
}

impl Activation {
    /// (act'(z), act''(z), act'''(z)) for second-order passes (exact score
    /// matching's Hessian trace): with s = sigmoid(z), q = s (1 - s),
    ///
    /// - silu: act''' = q ((1 - 2 s)(3 + z (1 - 2 s)) - 2 z q);
    /// - softplus: act''' = q (1 - 2 s);
    /// - tanh: act''' = (1 - t^2)(6 t^2 - 2);
    ///
    /// the first two as in [`Activation::value_slope_curvature`].
    #[inline(always)]
    pub fn slope_curvature_jerk(self, z: f64) -> (f64, f64, f64) {
        let (_, slope, curvature) = self.value_slope_curvature(z);
        let sigmoid = || {
            let e = crate::fast_exp::exp(-z.abs());
            let r = 1.0 / (1.0 + e);
            if z >= 0.0 {
                r
            } else {
                e * r
            }
        };
        let jerk = match self {
            Self::Silu => {
                let s = sigmoid();
                let q = s * (1.0 - s);
                let u = 1.0 - 2.0 * s;
                q * (u * (3.0 + z * u) - 2.0 * z * q)
            }
            Self::Softplus => {
                let s = sigmoid();
                s * (1.0 - s) * (1.0 - 2.0 * s)
            }
            Self::Tanh => {
                let t = slope; // 1 - t^2
                let tanh2 = 1.0 - t;
                t * (6.0 * tanh2 - 2.0)
            }
        };
        (slope, curvature, jerk)
    }
}

/// One affine layer z = W h + b with W of shape `n_out x n_in` (row-major).
#[derive(Clone, Debug, PartialEq)]
pub struct Layer {
    /// Weights, `n_out x n_in` row-major.
    pub w: Vec<f64>,
    /// Biases, `n_out`.
    pub b: Vec<f64>,
    /// Inputs.
    pub n_in: usize,
    /// Outputs.
    pub n_out: usize,
}

/// E(x) = w_L^T act(... act(W_1 x + b_1) ...) + b_L: hidden layers followed
/// by the activation, then a last affine layer with one output.
///
/// The input gradient is the backward pass written out: with
/// z_l = W_l h_{l-1} + b_l, h_l = act(z_l), h_0 = x,
/// g_L = w_L, g_{l-1} = W_l^T (act'(z_l) * g_l), grad_x E = g_0.
///
/// The batched forms do each layer as one faer product over the batch.
/// log Z is not known (use quadrature in low dimension or AIS).
///
/// ```
/// use ebm_core::{Energy, energies::{Activation, Layer, Mlp}};
/// // E(x) = 2 tanh(x) + 1
/// let m = Mlp::new(Activation::Tanh, vec![
///     Layer { w: vec![1.0], b: vec![0.0], n_in: 1, n_out: 1 },
///     Layer { w: vec![2.0], b: vec![1.0], n_in: 1, n_out: 1 },
/// ]).unwrap();
/// assert!((m.energy(&[0.5]) - (2.0 * 0.5f64.tanh() + 1.0)).abs() < 1e-15);
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct Mlp {
    activation: Activation,
    layers: Vec<Layer>,
}

impl Mlp {
    /// Validate the chain of layers: at least one, each input size equal to
    /// the previous output size, one output at the end, finite parameters.
    pub fn new(activation: Activation, layers: Vec<Layer>) -> Result<Self> {
        if layers.is_empty() {
            return Err(CoreError::Shape {
                field: "layers".into(),
                expected: "at least 1 layer".into(),
                got: "0".into(),
            });
        }
        for (l, layer) in layers.iter().enumerate() {
            let field = format!("layers[{l}]");
            if layer.n_in == 0 || layer.n_out == 0 {
                return Err(CoreError::Shape {
                    field: format!("{field}.w"),
                    expected: "at least 1 row and 1 column".into(),
                    got: format!("{} x {}", layer.n_out, layer.n_in),
                });
            }
            if layer.w.len() != layer.n_out * layer.n_in {
                return Err(CoreError::Shape {
                    field: format!("{field}.w"),
                    expected: format!("{} entries", layer.n_out * layer.n_in),
                    got: layer.w.len().to_string(),
                });
            }
            if layer.b.len() != layer.n_out {
                return Err(CoreError::Shape {
                    field: format!("{field}.b"),
                    expected: format!("{} entries (rows of w)", layer.n_out),
                    got: layer.b.len().to_string(),
                });
            }
            if l > 0 && layer.n_in != layers[l - 1].n_out {
                return Err(CoreError::Shape {
                    field: format!("{field}.w"),
                    expected: format!("{} columns (outputs of layer {})", layers[l - 1].n_out, l - 1),
                    got: layer.n_in.to_string(),
                });
            }
            check_finite(&format!("{field}.w"), &layer.w)?;
            check_finite(&format!("{field}.b"), &layer.b)?;
        }
        let last = layers.len() - 1;
        if layers[last].n_out != 1 {
            return Err(CoreError::Shape {
                field: format!("layers[{last}].w"),
                expected: "1 row (the energy is a scalar)".into(),
                got: format!("{} rows", layers[last].n_out),
            });
        }
        Ok(Self { activation, layers })
    }

    /// Overwrite the parameters in place from `[W_1, b_1, ..., W_L, b_L]`
    /// (W_l row-major, outputs x inputs): the same shapes, every value
    /// finite, or an error naming the tensor and nothing changes.
    pub fn set_params(&mut self, values: &[Vec<f64>]) -> Result<()> {
        if values.len() != 2 * self.layers.len() {
            return Err(CoreError::Shape {
                field: "layers".into(),
                expected: format!("{} parameter tensors", 2 * self.layers.len()),
                got: values.len().to_string(),
            });
        }
        for (l, (layer, wb)) in self.layers.iter().zip(values.chunks_exact(2)).enumerate() {
            for (name, have, new) in [("w", &layer.w, &wb[0]), ("b", &layer.b, &wb[1])] {
                if have.len() != new.len() {
                    return Err(CoreError::Shape {
                        field: format!("layers[{l}].{name}"),
                        expected: format!("{} entries", have.len()),
                        got: new.len().to_string(),
                    });
                }
                check_finite_named(|| format!("layers[{l}].{name}"), new)?;
            }
        }
        for (layer, wb) in self.layers.iter_mut().zip(values.chunks_exact(2)) {
            layer.w.copy_from_slice(&wb[0]);
            layer.b.copy_from_slice(&wb[1]);
        }
        Ok(())
    }

    /// From model-file rows: `w` as `n_out` rows of `n_in`.
    pub fn from_rows(activation: Activation, layers: &[(Vec<Vec<f64>>, Vec<f64>)]) -> Result<Self> {
        let mut out = Vec::with_capacity(layers.len());
        for (l, (w, b)) in layers.iter().enumerate() {
            let n_out = w.len();
            let n_in = w.first().map_or(0, Vec::len);
            let flat = crate::spec::flatten_rows(&format!("layers[{l}].w"), w, n_out, n_in)?;
            out.push(Layer {
                w: flat,
                b: b.clone(),
                n_in,
                n_out,
            });
        }
        Self::new(activation, out)
    }

    /// The activation.
    pub fn activation(&self) -> Activation {
        self.activation
    }

    /// The layers, input first.
    pub fn layers(&self) -> &[Layer] {
        &self.layers
    }

    /// Widths from input to output, e.g. `[2, 128, 128, 1]`.
    pub fn widths(&self) -> Vec<usize> {
        std::iter::once(self.layers[0].n_in)
            .chain(self.layers.iter().map(|l| l.n_out))
            .collect()
    }

    /// The forward pass over a batch of rows `xs` (`n` rows of
    /// [`Energy::dim`]), keeping what a backward pass needs: each hidden
    /// layer's activations h_l = act(z_l) and slopes act'(z_l), and the
    /// energies. One layer is one faer product over the batch.
    pub fn forward(&self, xs: &[f64], n: usize) -> MlpTrace {
        let act = self.activation;
        let depth = self.layers.len();
        let mut hidden: Vec<Vec<f64>> = Vec::with_capacity(depth - 1);
        let mut slopes: Vec<Vec<f64>> = Vec::with_capacity(depth - 1);
        for layer in &self.layers[..depth - 1] {
            let mut z = vec![0.0; n * layer.n_out];
            affine(layer, hidden.last().map_or(xs, Vec::as_slice), n, &mut z);
            let mut slope = vec![0.0; z.len()];
            // compiled for this CPU's vector instructions (the exponential
            // needs its fused multiply-adds)
            crate::simd::dispatch(
                #[inline(always)]
                || {
                    for (zv, sv) in z.iter_mut().zip(slope.iter_mut()) {
                        let (a, s) = act.value_and_slope(*zv);
                        *zv = a;
                        *sv = s;
                    }
                },
            );
            slopes.push(slope);
            hidden.push(z);
        }
        let out = &self.layers[depth - 1];
        let mut energies = vec![0.0; n];
        affine(out, hidden.last().map_or(xs, Vec::as_slice), n, &mut energies);
        MlpTrace {
            hidden,
            slopes,
            energies,
        }
    }

    /// Forward and backward over a batch of `n` rows; fills `energies`
    /// and, when given, `grads`.
    fn batch(&self, xs: &[f64], energies: &mut [f64], grads: Option<&mut [f64]>) {
        let n = energies.len();
        if n == 0 {
            return;
        }
        let depth = self.layers.len();
        let trace = self.forward(xs, n);
        energies.copy_from_slice(&trace.energies);
        let Some(grads) = grads else { return };
        let out = &self.layers[depth - 1];
        // g = dE/dh_{L-1}: every row is w_L.
        let mut g: Vec<f64> = out.w.iter().copied().cycle().take(n * out.n_in).collect();
        for (l, layer) in self.layers[..depth - 1].iter().enumerate().rev() {
            for (gv, sv) in g.iter_mut().zip(&trace.slopes[l]) {
                *gv *= sv;
            }
            // g_prev (n x n_in) = delta (n x n_out) W (n_out x n_in)
            let mut prev = vec![0.0; n * layer.n_in];
            faer::linalg::matmul::matmul(
                MatMut::from_row_major_slice_mut(&mut prev, n, layer.n_in),
                Accum::Replace,
                MatRef::from_row_major_slice(&g, n, layer.n_out),
                MatRef::from_row_major_slice(&layer.w, layer.n_out, layer.n_in),
                1.0,
                Par::Seq,
            );
            g = prev;
        }
        grads.copy_from_slice(&g);
    }
}

/// What [`Mlp::forward`] keeps of a batch: for each hidden layer l =
/// 1..L-1 (index l - 1) its activations h_l = act(z_l) and slopes
/// act'(z_l), `n x n_out` row-major, and the energies.
#[derive(Clone, Debug, PartialEq)]
pub struct MlpTrace {
    /// h_l per hidden layer.
    pub hidden: Vec<Vec<f64>>,
    /// act'(z_l) per hidden layer.
    pub slopes: Vec<Vec<f64>>,
    /// E per row.
    pub energies: Vec<f64>,
}

/// z (n x n_out) = h (n x n_in) W^T + b.
fn affine(layer: &Layer, h: &[f64], n: usize, z: &mut [f64]) {
    for row in z.chunks_exact_mut(layer.n_out) {
        row.copy_from_slice(&layer.b);
    }
    faer::linalg::matmul::matmul(
        MatMut::from_row_major_slice_mut(z, n, layer.n_out),
        Accum::Add,
        MatRef::from_row_major_slice(h, n, layer.n_in),
        MatRef::from_row_major_slice(&layer.w, layer.n_out, layer.n_in).transpose(),
        1.0,
        Par::Seq,
    );
}

impl Energy for Mlp {
    fn dim(&self) -> usize {
        self.layers[0].n_in
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
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn net(act: Activation, seed: u64) -> Mlp {
        let widths = [3usize, 5, 4, 1];
        let mut s = seed;
        let mut next = || {
            s = s
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((s >> 11) as f64 / (1u64 << 53) as f64) * 2.0 - 1.0
        };
        let layers = widths
            .windows(2)
            .map(|w| Layer {
                w: (0..w[0] * w[1]).map(|_| next()).collect(),
                b: (0..w[1]).map(|_| next()).collect(),
                n_in: w[0],
                n_out: w[1],
            })
            .collect();
        Mlp::new(act, layers).unwrap()
    }

    proptest! {
        /// Central differences with h = 1e-5 have truncation error
        /// O(h^2 |E'''|) ~ 1e-10 and rounding O(eps |E| / h) ~ 1e-11 here;
        /// 1e-6 leaves ample room.
        #[test]
        fn gradient_matches_finite_differences(
            x in proptest::collection::vec(-2.0f64..2.0, 3),
            seed in 0u64..1000,
            act in prop_oneof![Just(Activation::Silu), Just(Activation::Softplus), Just(Activation::Tanh)],
        ) {
            let m = net(act, seed);
            let mut g = vec![0.0; 3];
            m.energy_grad(&x, &mut g);
            for i in 0..3 {
                let (mut xp, mut xm) = (x.clone(), x.clone());
                xp[i] += 1e-5;
                xm[i] -= 1e-5;
                let fd = (m.energy(&xp) - m.energy(&xm)) / 2e-5;
                prop_assert!((fd - g[i]).abs() < 1e-6, "{fd} vs {}", g[i]);
            }
        }
    }

    #[test]
    fn batch_agrees_with_single_points() {
        let m = net(Activation::Silu, 7);
        let xs: Vec<f64> = (0..30).map(|i| (i as f64 * 0.37).sin()).collect();
        let (mut e, mut g) = (vec![0.0; 10], vec![0.0; 30]);
        m.energy_grad_batch(&xs, &mut g, &mut e);
        for (i, x) in xs.chunks(3).enumerate() {
            let mut gi = vec![0.0; 3];
            let ei = m.energy_grad(x, &mut gi);
            assert!((ei - e[i]).abs() < 1e-12);
            for k in 0..3 {
                assert!((gi[k] - g[i * 3 + k]).abs() < 1e-12);
            }
        }
    }

    #[test]
    fn bad_shapes_name_the_layer() {
        let err = Mlp::from_rows(
            Activation::Silu,
            &[
                (vec![vec![1.0, 2.0]], vec![0.0]),
                (vec![vec![1.0, 2.0]], vec![0.0]),
            ],
        )
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "layers[1].w: expected 1 columns (outputs of layer 0), got 2"
        );
        let err =
            Mlp::from_rows(Activation::Silu, &[(vec![vec![1.0], vec![2.0]], vec![0.0, 0.0])]).unwrap_err();
        assert!(
            err.to_string().starts_with("layers[0].w: expected 1 row"),
            "{err}"
        );
    }
}
