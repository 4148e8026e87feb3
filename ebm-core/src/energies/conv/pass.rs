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
//! with `cols` the im2col gather (column `(ci k + ky) k + kx`, the order
//! of a weight tensor `c_out x c_in x k x k`, so W is used as stored).
//! The input gradient of a convolution is the scatter back, col2im of
//! dZ W. The model's own input and output use PyTorch's channel-major
//! order; [`to_position_major`] and [`to_channel_major`] convert.

use super::Geometry;
use crate::energies::Activation;
use crate::HostFloat;
use faer::linalg::matmul::matmul;
use faer::{Accum, MatMut, MatRef, Par};

/// A float the passes compute in: a [`HostFloat`] that faer multiplies.
pub trait PassFloat: HostFloat + faer::traits::RealField {}
impl PassFloat for f32 {}
impl PassFloat for f64 {}

/// The parameters in the pass's float: per convolution W (`c_out x
/// c_in k k`) and b, then the final layer's weights in position-major
/// order and its bias.
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

/// What the forward pass keeps for a backward pass: per convolution the
/// gathered input cols(A_{l-1}), the slopes act'(Z_l) (and, for
/// second-order passes, the curvatures act''(Z_l)), the last activation
/// A_L and the energies.
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

/// cols(A): for every output position of layer `l`, the `c_in k k`
/// inputs under the kernel (zero where the kernel overhangs the padded
/// border), for `n` images of A (position-major).
pub fn im2col<T: PassFloat>(geo: &Geometry, l: usize, a: &[T], n: usize, cols: &mut Vec<T>) {
    let g = &geo.layers[l];
    let kk = g.kernel * g.kernel;
    let width = g.c_in * kk;
    cols.clear();
    cols.resize(n * g.h_out * g.w_out * width, T::zero());
    let p_in = g.h_in * g.w_in;
    for (img, out) in cols.chunks_exact_mut(g.h_out * g.w_out * width).enumerate() {
        let src = &a[img * p_in * g.c_in..(img + 1) * p_in * g.c_in];
        for oy in 0..g.h_out {
            for ox in 0..g.w_out {
                let row = &mut out[(oy * g.w_out + ox) * width..][..width];
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
                        let pixel = &src[(iy * g.w_in + ix) * g.c_in..][..g.c_in];
                        for (ci, &v) in pixel.iter().enumerate() {
                            row[ci * kk + ky * g.kernel + kx] = v;
                        }
                    }
                }
            }
        }
    }
}

/// col2im: the adjoint of [`im2col`], adding each column entry back onto
/// the input position it was gathered from; `da` (position-major,
/// `n` images of layer `l`'s input) is overwritten.
pub fn col2im<T: PassFloat>(geo: &Geometry, l: usize, dcols: &[T], n: usize, da: &mut Vec<T>) {
    let g = &geo.layers[l];
    let kk = g.kernel * g.kernel;
    let width = g.c_in * kk;
    let p_in = g.h_in * g.w_in;
    da.clear();
    da.resize(n * p_in * g.c_in, T::zero());
    for (img, dc) in dcols.chunks_exact(g.h_out * g.w_out * width).enumerate() {
        let dst = &mut da[img * p_in * g.c_in..(img + 1) * p_in * g.c_in];
        for oy in 0..g.h_out {
            for ox in 0..g.w_out {
                let row = &dc[(oy * g.w_out + ox) * width..][..width];
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
                        let pixel = &mut dst[(iy * g.w_in + ix) * g.c_in..][..g.c_in];
                        for (ci, v) in pixel.iter_mut().enumerate() {
                            *v += row[ci * kk + ky * g.kernel + kx];
                        }
                    }
                }
            }
        }
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

/// dW (c_out x K) += delta^T cols, accumulated in `T` and added to the
/// f64 gradient `grad`; `scratch` holds the product.
pub fn add_weight_grad<T: PassFloat>(
    delta: &[T],
    cols: &[T],
    c_out: usize,
    scratch: &mut Vec<T>,
    grad: &mut [f64],
) {
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
    for (g, v) in grad.iter_mut().zip(scratch.iter()) {
        *g += v.f64();
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
/// `curvatures` is given, act''(Z) there (each through the one f64
/// definition, [`Activation::value_slope_curvature`]).
pub fn activate<T: PassFloat>(
    act: Activation,
    z: &mut [T],
    slopes: &mut Vec<T>,
    curvatures: Option<&mut Vec<T>>,
) {
    slopes.clear();
    slopes.resize(z.len(), T::zero());
    match curvatures {
        Some(c) => {
            c.clear();
            c.resize(z.len(), T::zero());
            crate::simd::dispatch(
                #[inline(always)]
                || {
                    for ((zv, sv), cv) in z.iter_mut().zip(slopes.iter_mut()).zip(c.iter_mut()) {
                        let (a, s, q) = act.value_slope_curvature(zv.f64());
                        *zv = T::of(a);
                        *sv = T::of(s);
                        *cv = T::of(q);
                    }
                },
            );
        }
        None => crate::simd::dispatch(
            #[inline(always)]
            || {
                for (zv, sv) in z.iter_mut().zip(slopes.iter_mut()) {
                    let (a, s) = act.value_and_slope(zv.f64());
                    *zv = T::of(a);
                    *sv = T::of(s);
                }
            },
        ),
    }
}

/// The forward pass over `n` images `x` (position-major, in `T`): every
/// convolution one product over the batch, then E_i = w . A_L,i + b.
/// With `second_order`, the trace keeps the curvatures too.
pub fn forward<T: PassFloat>(
    geo: &Geometry,
    weights: &Weights<T>,
    act: Activation,
    x: &[T],
    n: usize,
    second_order: bool,
) -> Trace<T> {
    let depth = geo.layers.len();
    let mut trace = Trace {
        cols: Vec::with_capacity(depth),
        slopes: Vec::with_capacity(depth),
        curvatures: Vec::new(),
        last: Vec::new(),
        energies: vec![0.0; n],
    };
    let mut a: Vec<T> = x.to_vec();
    for (l, g) in geo.layers.iter().enumerate() {
        let mut cols = Vec::new();
        im2col(geo, l, &a, n, &mut cols);
        conv_product(
            &cols,
            &weights.convs[l],
            Some(&weights.biases[l]),
            g.c_out,
            &mut a,
        );
        let mut slopes = Vec::new();
        if second_order {
            let mut curv = Vec::new();
            activate(act, &mut a, &mut slopes, Some(&mut curv));
            trace.curvatures.push(curv);
        } else {
            activate(act, &mut a, &mut slopes, None);
        }
        trace.cols.push(cols);
        trace.slopes.push(slopes);
    }
    let per_image = weights.linear.len();
    for (e, row) in trace.energies.iter_mut().zip(a.chunks_exact(per_image)) {
        let mut s = T::zero();
        for (&w, &v) in weights.linear.iter().zip(row) {
            s += w * v;
        }
        *e = s.f64() + weights.bias.f64();
    }
    trace.last = a;
    trace
}

/// The backward pass of S = sum_i r_i E(x_i) from a forward `trace`:
/// with D_L = r_i w * act'(Z_L) and, going down,
/// dW_l += D_l^T cols(A_{l-1}), db_l += column sums of D_l,
/// D_{l-1} = col2im(D_l W_l) * act'(Z_{l-1}),
/// it adds the parameter gradient into `grads` when given (the layout of
/// [`super::ConvNet::params`]) and returns dS/dx (position-major) when
/// `input` is set.
pub fn backward<T: PassFloat>(
    geo: &Geometry,
    weights: &Weights<T>,
    trace: &Trace<T>,
    r: &[f64],
    mut grads: Option<&mut [Vec<f64>]>,
    input: bool,
) -> Option<Vec<T>> {
    let depth = geo.layers.len();
    let per_image = weights.linear.len();
    if let Some(grads) = grads.as_deref_mut() {
        // dS/dw = sum_i r_i A_L,i (position-major here; the model's
        // layout is channel-major), dS/db = sum_i r_i
        let mut sums = vec![0.0; per_image];
        for (&ri, row) in r.iter().zip(trace.last.chunks_exact(per_image)) {
            for (s, v) in sums.iter_mut().zip(row) {
                *s += ri * v.f64();
            }
        }
        let last = &geo.layers[depth - 1];
        let p = last.h_out * last.w_out;
        for q in 0..p {
            for c in 0..last.c_out {
                grads[2 * depth][c * p + q] += sums[q * last.c_out + c];
            }
        }
        grads[2 * depth + 1][0] += r.iter().sum::<f64>();
    }
    let mut delta: Vec<T> = Vec::with_capacity(trace.last.len());
    for (&ri, _) in r.iter().zip(trace.last.chunks_exact(per_image)) {
        let ri = T::of(ri);
        delta.extend(weights.linear.iter().map(|&w| ri * w));
    }
    let (mut dcols, mut scratch) = (Vec::new(), Vec::new());
    for l in (0..depth).rev() {
        let g = &geo.layers[l];
        for (d, &s) in delta.iter_mut().zip(&trace.slopes[l]) {
            *d *= s;
        }
        if let Some(grads) = grads.as_deref_mut() {
            add_weight_grad(&delta, &trace.cols[l], g.c_out, &mut scratch, &mut grads[2 * l]);
            add_bias_grad(&delta, &mut grads[2 * l + 1]);
        }
        if l == 0 && !input {
            return None;
        }
        back_product(&delta, &weights.convs[l], g.c_out, &mut dcols);
        col2im(geo, l, &dcols, r.len(), &mut delta);
    }
    Some(delta)
}
