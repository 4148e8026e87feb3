//! The convolutional network's passes over a batch, generic over the
//! float they compute in (`f64`, or `f32` for twice the SIMD lanes): the
//! forward pass, the backward pass to the input and to the parameters,
//! and the pieces (im2col, col2im, the activation) that the second-order
//! pass of score matching reuses.
//!
//! **Layout.** Inside a pass an image is stored position-major: an
//! activation of `c` channels on an `h x w` grid is `h w` rows of `c`
//! values, and a batch of `n` images stacks them into `(n h w) x c`, so
//! that a convolution is one matrix product over the whole batch,
//!
//! Z = cols(A) W^T + b,    cols(A): (n h' w') x (c k k),
//!
//! with `cols` the im2col gather. Its column `(ky k + kx) c_in + ci`
//! holds input channel ci under kernel offset (ky, kx), so that a pixel's
//! channels are copied (and added back) as one contiguous run; W is kept
//! in that order too ([`Weights`]), reordered from and to the model's
//! `c_out x c_in x k x k` ([`filter_index`]).
//! The input gradient of a convolution is the scatter back, col2im of
//! dZ W. The model's own input and output use PyTorch's channel-major
//! order; [`to_position_major`] and [`to_channel_major`] convert.

use super::{Geometry, LayerShape};
use crate::energies::Activation;
use crate::HostFloat;
use faer::linalg::matmul::matmul;
use faer::{Accum, MatMut, MatRef, Par};

/// A float the passes compute in: a [`HostFloat`] that faer multiplies,
/// with a [`Workspace`] per thread.
pub trait PassFloat: HostFloat + faer::traits::RealField {
    /// Run `f` on this thread's workspace for this float.
    fn with_workspace<R>(f: impl FnOnce(&mut Workspace<Self>) -> R) -> R;
}

thread_local! {
    static WORKSPACE_F64: std::cell::RefCell<Workspace<f64>> = std::cell::RefCell::new(Workspace::default());
    static WORKSPACE_F32: std::cell::RefCell<Workspace<f32>> = std::cell::RefCell::new(Workspace::default());
}

impl PassFloat for f32 {
    fn with_workspace<R>(f: impl FnOnce(&mut Workspace<Self>) -> R) -> R {
        WORKSPACE_F32.with(|w| match w.try_borrow_mut() {
            Ok(mut w) => f(&mut w),
            // re-entered on this thread (a pass inside a pass): fresh buffers
            Err(_) => f(&mut Workspace::default()),
        })
    }
}

impl PassFloat for f64 {
    fn with_workspace<R>(f: impl FnOnce(&mut Workspace<Self>) -> R) -> R {
        WORKSPACE_F64.with(|w| match w.try_borrow_mut() {
            Ok(mut w) => f(&mut w),
            Err(_) => f(&mut Workspace::default()),
        })
    }
}

/// The parameters in the pass's float: per convolution W (`c_out x
/// k k c_in`, the columns of [`im2col`]) and b, then the final layer's
/// weights in position-major order and its bias.
#[derive(Clone, Debug, PartialEq)]
pub struct Weights<T> {
    /// W_l, row-major `c_out x (c_in k k)`.
    pub convs: Vec<Vec<T>>,
    /// b_l.
    pub biases: Vec<Vec<T>>,
    /// The final layer's weights, position-major (`h w` rows of `c`).
    pub linear: Vec<T>,
    /// The final layer's bias.
    pub bias: T,
}

impl<T: Default> Weights<T> {
    /// No parameters (a placeholder before conversion).
    pub fn empty() -> Self {
        Self {
            convs: Vec::new(),
            biases: Vec::new(),
            linear: Vec::new(),
            bias: T::default(),
        }
    }
}

/// What the forward pass keeps for a backward pass: per convolution the
/// gathered input cols(A_{l-1}), the slopes act'(Z_l) (and, for
/// second-order passes, the curvatures act''(Z_l)), the last activation
/// A_L and the energies. Its buffers are reused from pass to pass.
#[derive(Clone, Debug, Default)]
pub struct Trace<T> {
    /// cols(A_{l-1}), `(n h_l w_l) x (c_{l-1} k k)`.
    pub cols: Vec<Vec<T>>,
    /// act'(Z_l), `(n h_l w_l) x c_l`.
    pub slopes: Vec<Vec<T>>,
    /// act''(Z_l) when asked for, else empty.
    pub curvatures: Vec<Vec<T>>,
    /// A_L, `(n h_L w_L) x c_L`.
    pub last: Vec<T>,
    /// E per image.
    pub energies: Vec<f64>,
}

/// The buffers of the backward passes, reused from pass to pass: after
/// [`backward`] with `input` set, `delta` holds dS/dx (position-major).
#[derive(Clone, Debug, Default)]
pub struct Scratch<T> {
    /// The running adjoint D_l (at the end: the input gradient).
    pub delta: Vec<T>,
    /// dcols = D_l W_l.
    pub dcols: Vec<T>,
    /// A product's result before it is added in f64.
    pub product: Vec<T>,
    /// The input in the pass's float and layout.
    pub x: Vec<T>,
}

/// A thread's buffers for the passes: the forward trace and the backward
/// scratch, kept per thread and per float by [`PassFloat::with_workspace`]
/// so that a sampler's steps allocate nothing once the sizes are reached.
#[derive(Clone, Debug, Default)]
pub struct Workspace<T> {
    /// The forward pass's trace.
    pub trace: Trace<T>,
    /// The backward pass's buffers.
    pub scratch: Scratch<T>,
}

/// Rows `n` images of `geo`'s input (channel-major, f64) as a
/// position-major buffer in `T`.
pub fn to_position_major<T: PassFloat>(geo: &Geometry, x: &[f64], out: &mut Vec<T>) {
    let [c, h, w] = geo.input;
    let p = h * w;
    out.clear();
    out.resize(x.len(), T::zero());
    for (src, dst) in x.chunks_exact(c * p).zip(out.chunks_exact_mut(c * p)) {
        for ch in 0..c {
            for q in 0..p {
                dst[q * c + ch] = T::of(src[ch * p + q]);
            }
        }
    }
}

/// The inverse of [`to_position_major`]: position-major `T` rows of the
/// input's shape into channel-major f64, scaled by `scale`.
pub fn to_channel_major<T: PassFloat>(geo: &Geometry, g: &[T], scale: f64, out: &mut [f64]) {
    let [c, h, w] = geo.input;
    let p = h * w;
    for (src, dst) in g.chunks_exact(c * p).zip(out.chunks_exact_mut(c * p)) {
        for ch in 0..c {
            for q in 0..p {
                dst[ch * p + q] = scale * src[q * c + ch].f64();
            }
        }
    }
}

/// Where filter entry (o, ci, ky, kx) of a model-order tensor
/// (`c_out x c_in x k x k`) sits in the passes' order (`c_out x k k c_in`).
#[inline]
pub fn filter_index(g: &LayerShape, o: usize, ci: usize, ky: usize, kx: usize) -> usize {
    (o * g.kernel * g.kernel + ky * g.kernel + kx) * g.c_in + ci
}

/// The passes' index of every filter entry, in the model's order: zip it
/// with a model-order tensor to reorder it either way.
pub fn filter_order(g: &LayerShape) -> impl Iterator<Item = usize> + '_ {
    (0..g.c_out).flat_map(move |o| {
        (0..g.c_in).flat_map(move |ci| {
            (0..g.kernel).flat_map(move |ky| (0..g.kernel).map(move |kx| filter_index(g, o, ci, ky, kx)))
        })
    })
}

/// Every tap of layer `g`'s kernel that lands inside the image: for each
/// output position (oy, ox) and kernel offset (ky, kx) whose input pixel
/// (iy, ix) = (oy s + ky - p, ox s + kx - p) is not padding, `f(col,
/// pixel)` with `col` the offset of that tap's `c_in` columns in the
/// image's block of cols and `pixel` the offset of the pixel's `c_in`
/// channels in the image's activation. The one place the geometry of
/// stride and padding is written; [`im2col`] and [`col2im`] are its two
/// directions.
#[inline(always)]
fn taps(g: &LayerShape, mut f: impl FnMut(usize, usize)) {
    let width = g.c_in * g.kernel * g.kernel;
    for oy in 0..g.h_out {
        for ox in 0..g.w_out {
            let row = (oy * g.w_out + ox) * width;
            for ky in 0..g.kernel {
                let Some(iy) = (oy * g.stride + ky)
                    .checked_sub(g.padding)
                    .filter(|&y| y < g.h_in)
                else {
                    continue;
                };
                for kx in 0..g.kernel {
                    let Some(ix) = (ox * g.stride + kx)
                        .checked_sub(g.padding)
                        .filter(|&x| x < g.w_in)
                    else {
                        continue;
                    };
                    f(row + (ky * g.kernel + kx) * g.c_in, (iy * g.w_in + ix) * g.c_in);
                }
            }
        }
    }
}

/// cols(A): for every output position of layer `l`, the `k k c_in`
/// inputs under the kernel (zero where the kernel overhangs the padded
/// border), for `n` images of A (position-major).
pub fn im2col<T: PassFloat>(geo: &Geometry, l: usize, a: &[T], n: usize, cols: &mut Vec<T>) {
    let g = &geo.layers[l];
    let (block, image) = (
        g.h_out * g.w_out * g.c_in * g.kernel * g.kernel,
        g.h_in * g.w_in * g.c_in,
    );
    cols.clear();
    cols.resize(n * block, T::zero());
    for (out, src) in cols.chunks_exact_mut(block).zip(a.chunks_exact(image)) {
        taps(g, |col, pixel| {
            out[col..col + g.c_in].copy_from_slice(&src[pixel..pixel + g.c_in])
        });
    }
}

/// col2im: the adjoint of [`im2col`], adding each column entry back onto
/// the input position it was gathered from; `da` (position-major,
/// `n` images of layer `l`'s input) is overwritten.
pub fn col2im<T: PassFloat>(geo: &Geometry, l: usize, dcols: &[T], n: usize, da: &mut Vec<T>) {
    let g = &geo.layers[l];
    let (block, image) = (
        g.h_out * g.w_out * g.c_in * g.kernel * g.kernel,
        g.h_in * g.w_in * g.c_in,
    );
    da.clear();
    da.resize(n * image, T::zero());
    for (dc, dst) in dcols.chunks_exact(block).zip(da.chunks_exact_mut(image)) {
        taps(g, |col, pixel| {
            for (v, &d) in dst[pixel..pixel + g.c_in].iter_mut().zip(&dc[col..col + g.c_in]) {
                *v += d;
            }
        });
    }
}

/// out (rows x c_out) = cols (rows x K) W^T (+ b when given), one faer
/// product.
pub fn conv_product<T: PassFloat>(cols: &[T], w: &[T], bias: Option<&[T]>, c_out: usize, out: &mut Vec<T>) {
    let k = w.len() / c_out;
    let rows = cols.len() / k;
    out.clear();
    match bias {
        Some(b) => (0..rows).for_each(|_| out.extend_from_slice(b)),
        None => out.resize(rows * c_out, T::zero()),
    }
    matmul(
        MatMut::from_row_major_slice_mut(out, rows, c_out),
        Accum::Add,
        MatRef::from_row_major_slice(cols, rows, k),
        MatRef::from_row_major_slice(w, c_out, k).transpose(),
        T::one(),
        Par::Seq,
    );
}

/// dcols (rows x K) = delta (rows x c_out) W (c_out x K).
pub fn back_product<T: PassFloat>(delta: &[T], w: &[T], c_out: usize, dcols: &mut Vec<T>) {
    let k = w.len() / c_out;
    let rows = delta.len() / c_out;
    dcols.clear();
    dcols.resize(rows * k, T::zero());
    matmul(
        MatMut::from_row_major_slice_mut(dcols, rows, k),
        Accum::Replace,
        MatRef::from_row_major_slice(delta, rows, c_out),
        MatRef::from_row_major_slice(w, c_out, k),
        T::one(),
        Par::Seq,
    );
}

/// dW (c_out x K) += delta^T cols for layer shape `g`, accumulated in
/// `T` and added to the f64 gradient `grad` (the model's order,
/// `c_out x c_in x k x k`); `scratch` holds the product.
pub fn add_weight_grad<T: PassFloat>(
    g: &LayerShape,
    delta: &[T],
    cols: &[T],
    scratch: &mut Vec<T>,
    grad: &mut [f64],
) {
    let c_out = g.c_out;
    let k = grad.len() / c_out;
    let rows = delta.len() / c_out;
    scratch.clear();
    scratch.resize(c_out * k, T::zero());
    matmul(
        MatMut::from_row_major_slice_mut(scratch, c_out, k),
        Accum::Replace,
        MatRef::from_row_major_slice(delta, rows, c_out).transpose(),
        MatRef::from_row_major_slice(cols, rows, k),
        T::one(),
        Par::Seq,
    );
    for (v, i) in grad.iter_mut().zip(filter_order(g)) {
        *v += scratch[i].f64();
    }
}

/// db += the column sums of delta (rows x c_out).
pub fn add_bias_grad<T: PassFloat>(delta: &[T], grad: &mut [f64]) {
    let c_out = grad.len();
    let mut sums = vec![T::zero(); c_out];
    for row in delta.chunks_exact(c_out) {
        for (s, &d) in sums.iter_mut().zip(row) {
            *s += d;
        }
    }
    for (g, s) in grad.iter_mut().zip(sums) {
        *g += s.f64();
    }
}

/// Z -> act(Z) in place, keeping act'(Z) in `slopes` and, when
/// `curvatures` is given, act''(Z) there (each through the one
/// definition, [`Activation::value_slope_curvature`], in `T`).
pub fn activate<T: PassFloat>(
    act: Activation,
    z: &mut [T],
    slopes: &mut Vec<T>,
    curvatures: Option<&mut Vec<T>>,
) {
    slopes.clear();
    slopes.resize(z.len(), T::zero());
    // one loop per activation, so that each compiles to straight vector code
    match (act, curvatures) {
        (Activation::Silu, None) => first_order(z, slopes, |v| Activation::Silu.value_and_slope(v)),
        (Activation::Softplus, None) => first_order(z, slopes, |v| Activation::Softplus.value_and_slope(v)),
        (Activation::Tanh, None) => first_order(z, slopes, |v| Activation::Tanh.value_and_slope(v)),
        (act, Some(c)) => {
            c.clear();
            c.resize(z.len(), T::zero());
            match act {
                Activation::Silu => second_order(z, slopes, c, |v| Activation::Silu.value_slope_curvature(v)),
                Activation::Softplus => {
                    second_order(z, slopes, c, |v| Activation::Softplus.value_slope_curvature(v))
                }
                Activation::Tanh => second_order(z, slopes, c, |v| Activation::Tanh.value_slope_curvature(v)),
            }
        }
    }
}

/// z -> f(z).0 in place, slopes = f(z).1, compiled for this CPU's vector
/// instructions.
#[inline(always)]
fn first_order<T: PassFloat>(z: &mut [T], slopes: &mut [T], f: impl Fn(T) -> (T, T)) {
    crate::simd::dispatch(
        #[inline(always)]
        || {
            for (zv, sv) in z.iter_mut().zip(slopes.iter_mut()) {
                (*zv, *sv) = f(*zv);
            }
        },
    );
}

/// z -> f(z).0 in place with the slopes and curvatures f(z).1, f(z).2.
#[inline(always)]
fn second_order<T: PassFloat>(
    z: &mut [T],
    slopes: &mut [T],
    curvatures: &mut [T],
    f: impl Fn(T) -> (T, T, T),
) {
    crate::simd::dispatch(
        #[inline(always)]
        || {
            for ((zv, sv), cv) in z.iter_mut().zip(slopes.iter_mut()).zip(curvatures.iter_mut()) {
                (*zv, *sv, *cv) = f(*zv);
            }
        },
    );
}

/// The forward pass over `n` images `x` (position-major, in `T`) into
/// `trace` (its buffers reused): every convolution one product over the
/// batch, then E_i = w . A_L,i + b. With `second_order`, the trace keeps
/// the curvatures too.
pub fn forward<T: PassFloat>(
    geo: &Geometry,
    weights: &Weights<T>,
    act: Activation,
    x: &[T],
    n: usize,
    second_order: bool,
    trace: &mut Trace<T>,
) {
    let depth = geo.layers.len();
    trace.cols.resize_with(depth, Vec::new);
    trace.slopes.resize_with(depth, Vec::new);
    trace
        .curvatures
        .resize_with(if second_order { depth } else { 0 }, Vec::new);
    for (l, g) in geo.layers.iter().enumerate() {
        let input = if l == 0 { x } else { &trace.last };
        im2col(geo, l, input, n, &mut trace.cols[l]);
        conv_product(
            &trace.cols[l],
            &weights.convs[l],
            Some(&weights.biases[l]),
            g.c_out,
            &mut trace.last,
        );
        let curvatures = if second_order {
            Some(&mut trace.curvatures[l])
        } else {
            None
        };
        activate(act, &mut trace.last, &mut trace.slopes[l], curvatures);
    }
    let per_image = weights.linear.len();
    trace.energies.clear();
    trace
        .energies
        .extend(trace.last.chunks_exact(per_image).map(|row| {
            let mut s = T::zero();
            for (&w, &v) in weights.linear.iter().zip(row) {
                s += w * v;
            }
            s.f64() + weights.bias.f64()
        }));
}

/// The backward pass of S = sum_i r_i E(x_i) from a forward `trace`:
/// with D_L = r_i w * act'(Z_L) and, going down,
/// dW_l += D_l^T cols(A_{l-1}), db_l += column sums of D_l,
/// D_{l-1} = col2im(D_l W_l) * act'(Z_{l-1}),
/// it adds the parameter gradient into `grads` when given (the layout of
/// [`super::ConvNet::params`]) and, when `input` is set, leaves dS/dx
/// (position-major) in `scratch.delta`.
pub fn backward<T: PassFloat>(
    geo: &Geometry,
    weights: &Weights<T>,
    trace: &Trace<T>,
    r: &[f64],
    mut grads: Option<&mut [Vec<f64>]>,
    input: bool,
    scratch: &mut Scratch<T>,
) {
    let depth = geo.layers.len();
    let per_image = weights.linear.len();
    if let Some(grads) = grads.as_deref_mut() {
        // dS/dw = sum_i r_i A_L,i (position-major here; the model's
        // layout is channel-major), dS/db = sum_i r_i
        let last = &geo.layers[depth - 1];
        let p = last.h_out * last.w_out;
        for (&ri, row) in r.iter().zip(trace.last.chunks_exact(per_image)) {
            for q in 0..p {
                for c in 0..last.c_out {
                    grads[2 * depth][c * p + q] += ri * row[q * last.c_out + c].f64();
                }
            }
        }
        grads[2 * depth + 1][0] += r.iter().sum::<f64>();
    }
    let Scratch {
        delta,
        dcols,
        product,
        ..
    } = scratch;
    delta.clear();
    for &ri in r {
        let ri = T::of(ri);
        delta.extend(weights.linear.iter().map(|&w| ri * w));
    }
    for l in (0..depth).rev() {
        let g = &geo.layers[l];
        for (d, &s) in delta.iter_mut().zip(&trace.slopes[l]) {
            *d *= s;
        }
        if let Some(grads) = grads.as_deref_mut() {
            add_weight_grad(g, delta, &trace.cols[l], product, &mut grads[2 * l]);
            add_bias_grad(delta, &mut grads[2 * l + 1]);
        }
        if l == 0 && !input {
            return;
        }
        back_product(delta, &weights.convs[l], g.c_out, dcols);
        col2im(geo, l, dcols, r.len(), delta);
    }
}
