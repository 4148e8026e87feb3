//! The score capability of the hand-written MLP: forward pass, score
//! (the explicit backward pass) and the parameter gradient of a loss on
//! the scores in one fused pass on the host, with every matrix product in
//! faer and the elementwise work vectorised; no autodiff graph and no
//! allocation per step once the buffers fit the batch.
//!
//! With z_l = W_l h_{l-1} + b_l, h_l = act(z_l) (h_0 = x, layers 1..L-1
//! hidden) and E = w_L . h_{L-1} + b_L, the input gradient is
//! g_{L-1} = w_L, d_l = g_l * act'(z_l), g_{l-1} = W_l^T d_l, grad_x E = g_0,
//! and the score s = -g_0. For a loss L = sum_i l_i(s_i) (a
//! [`ScoreLoss`]), R = dL/dg_0 = -dl_i/ds_i row by row, and the gradient
//! runs back through the score (upwards) and then through the forward
//! pass (downwards), in batch (row) form:
//!
//! up, l = 1..L-1:   D'_l = G'_{l-1} W_l^T,  dW_l += D_l^T G'_{l-1},
//!                   G'_l = D'_l * act'(Z_l),  Z's_l = D'_l * G_l * act''(Z_l),
//!                   dw_L = sum over rows of G'_{L-1}    (G'_0 = R);
//! down, l = L-1..1: Z'_l = Z's_l + H'_l * act'(Z_l)   (H'_{L-1} = 0),
//!                   dW_l += Z'_l^T H_{l-1},  db_l = sum over rows of Z'_l,
//!                   H'_{l-1} = Z'_l W_l;      db_L = 0.
//!
//! The batch is cut into parts of [`PART`] rows, fixed by the batch size
//! alone; the parts run in parallel (rayon), each in slices of [`SLICE`]
//! rows whose gradients it accumulates in order, and the parts'
//! gradients are added in part order, so a seed gives the same bits on
//! any number of threads. Checked against the dfdx tape (the same loss
//! and gradient to rounding) and against finite differences in
//! `tests/score_capability.rs`.

use super::traits::ScoreLoss;
use ebm_core::aligned::AlignedVec;
use ebm_core::energies::{Activation, Mlp};
use ebm_core::hot_pool::{fork_pays, CHUNK};
use faer::linalg::matmul::matmul;
use faer::{Accum, MatMut, MatRef, Par};
use rayon::prelude::*;

/// Rows per part of a batch: the parts run in parallel, each on one
/// thread, and their gradients are added in part order.
pub const PART: usize = 256;
/// Rows a part processes at a time, so that its work buffers (a dozen
/// rows x width matrices) stay in the core's L2 cache.
pub const SLICE: usize = 128;

/// The precisions the fused kernel computes in: `f64`, or `f32` for the
/// matrix products and work buffers (the parameters, the loss, the
/// gradient sums and the optimizer stay `f64`).
pub(super) trait KernelFloat:
    faer::traits::RealField
    + Copy
    + Default
    + Send
    + Sync
    + std::ops::Add<Output = Self>
    + std::ops::Sub<Output = Self>
    + std::ops::Mul<Output = Self>
    + std::ops::AddAssign
    + 'static
{
    /// From f64 (rounded for f32).
    fn of(v: f64) -> Self;
    /// To f64.
    fn f(self) -> f64;
    /// Layer l's weights in this precision: the model's own (f64), or
    /// the copy in `converted` (f32, made by [`Self::convert_weights`]).
    fn layer_weights<'a>(mlp: &'a Mlp, converted: &'a [AlignedVec<Self>], l: usize) -> &'a [Self];
    /// Round the model's weights into `converted` where this precision
    /// needs a copy (f32; f64 reads the model's).
    fn convert_weights(mlp: &Mlp, converted: &mut Vec<AlignedVec<Self>>);
}

impl KernelFloat for f64 {
    #[inline(always)]
    fn of(v: f64) -> Self {
        v
    }
    #[inline(always)]
    fn f(self) -> f64 {
        self
    }
    #[inline(always)]
    fn layer_weights<'a>(mlp: &'a Mlp, _: &'a [AlignedVec<f64>], l: usize) -> &'a [f64] {
        &mlp.layers()[l].w
    }
    fn convert_weights(_: &Mlp, _: &mut Vec<AlignedVec<f64>>) {}
}

impl KernelFloat for f32 {
    #[inline(always)]
    fn of(v: f64) -> Self {
        v as f32
    }
    #[inline(always)]
    fn f(self) -> f64 {
        self as f64
    }
    #[inline(always)]
    fn layer_weights<'a>(_: &'a Mlp, converted: &'a [AlignedVec<f32>], l: usize) -> &'a [f32] {
        &converted[l]
    }
    fn convert_weights(mlp: &Mlp, converted: &mut Vec<AlignedVec<f32>>) {
        converted.resize_with(mlp.layers().len(), || AlignedVec::zeroed(0));
        for (wt, layer) in converted.iter_mut().zip(mlp.layers()) {
            if wt.len() != layer.w.len() {
                *wt = AlignedVec::zeroed(layer.w.len());
            }
            for (a, b) in wt.iter_mut().zip(&layer.w) {
                *a = *b as f32;
            }
        }
    }
}

/// Buffers for batches of a given size: one [`Part`] per [`PART`] rows,
/// and in f32 the weights rounded (see [`KernelFloat::convert_weights`]).
pub(super) struct Workspace<T> {
    widths: Vec<usize>,
    n: usize,
    parts: Vec<Part<T>>,
    weights: Vec<AlignedVec<T>>,
}

impl<T: KernelFloat> Workspace<T> {
    /// Buffers for an MLP of `widths` (input first, last 1).
    pub(super) fn new(widths: &[usize]) -> Self {
        Self {
            widths: widths.to_vec(),
            n: usize::MAX,
            parts: Vec::new(),
            weights: Vec::new(),
        }
    }

    /// Size the buffers for batches of `n` rows (no-op when they are).
    fn ensure(&mut self, n: usize) {
        if self.n == n {
            return;
        }
        self.n = n;
        let widths = &self.widths;
        self.parts = (0..n.div_ceil(PART))
            .map(|k| Part::new(widths, (((k + 1) * PART).min(n) - k * PART).min(SLICE)))
            .collect();
    }

    /// L = sum_i loss.row(i, s(x_i)) over the rows of `x` for the MLP
    /// `mlp` (whose widths these buffers fit), with grad_theta L added
    /// into `grads` (`[W_1, b_1, ..., W_L, b_L]`): parts in parallel,
    /// their gradients added in part order.
    pub(super) fn score_loss_grad(
        &mut self,
        mlp: &Mlp,
        x: &[f64],
        loss: &dyn ScoreLoss,
        grads: &mut [Vec<f64>],
    ) -> f64 {
        let d = self.widths[0];
        let n = x.len() / d;
        self.ensure(n);
        T::convert_weights(mlp, &mut self.weights);
        let (weights, widths) = (&self.weights, &self.widths);
        self.parts.par_iter_mut().enumerate().for_each(|(k, part)| {
            for g in &mut part.grads {
                g.iter_mut().for_each(|v| *v = T::default());
            }
            part.loss = 0.0;
            let end = ((k + 1) * PART).min(n);
            let mut start = k * PART;
            while start < end {
                let stop = (start + SLICE).min(end);
                let xs = &x[start * d..stop * d];
                let m = stop - start;
                ebm_core::simd::dispatch(
                    #[inline(always)]
                    || part.forward_and_back(mlp, widths, weights, xs, start, loss, m),
                );
                start = stop;
            }
        });
        let parts = &self.parts;
        for (t, g) in grads.iter_mut().enumerate() {
            // value by value, the parts in order: in a hot pool a large
            // tensor's sum is split over the workers, with the same bits
            if fork_pays(g.len()) {
                g.par_chunks_mut(CHUNK)
                    .enumerate()
                    .for_each(|(c, g)| add_parts(g, parts, t, c * CHUNK));
            } else {
                add_parts(g, parts, t, 0);
            }
        }
        parts.iter().fold(0.0, |total, p| total + p.loss)
    }
}

/// g += the parts' gradients of tensor `t` from value `at` on, part by
/// part.
fn add_parts<T: KernelFloat>(g: &mut [f64], parts: &[Part<T>], t: usize, at: usize) {
    for part in parts {
        let p = &part.grads[t][at..at + g.len()];
        ebm_core::simd::dispatch(
            #[inline(always)]
            || {
                for (a, b) in g.iter_mut().zip(p) {
                    *a += b.f();
                }
            },
        );
    }
}

/// Lengths of `[W_1, b_1, ..., W_L, b_L]`.
fn grad_shapes(widths: &[usize]) -> Vec<usize> {
    widths.windows(2).flat_map(|w| [w[0] * w[1], w[1]]).collect()
}

/// The work of one part of a batch (rows x width buffers, row-major).
struct Part<T> {
    /// H_l = act(Z_l) for l = 1..L-1 (index l; index 0 unused: H_0 is the input).
    h: Vec<AlignedVec<T>>,
    /// act'(Z_l), act''(Z_l).
    s1: Vec<AlignedVec<T>>,
    s2: Vec<AlignedVec<T>>,
    /// G_l = d E / d h_l for l = 0..L-2 (G_{L-1} = w_L is not stored).
    g: Vec<AlignedVec<T>>,
    /// D_l = G_l * act'(Z_l).
    dl: Vec<AlignedVec<T>>,
    /// Adjoints: G'_l, and Z'_l (first the score part Z's_l).
    gbar: Vec<AlignedVec<T>>,
    zbar: Vec<AlignedVec<T>>,
    /// Scratch of the widest layer: D'_l, then H'_l.
    scratch: AlignedVec<T>,
    scratch2: AlignedVec<T>,
    /// One row's score and the loss's derivative in it (f64).
    score: Vec<f64>,
    dscore: Vec<f64>,
    grads: Vec<AlignedVec<T>>,
    loss: f64,
}

impl<T: KernelFloat> Part<T> {
    fn new(widths: &[usize], m: usize) -> Self {
        let layers = widths.len() - 1;
        let per = |l: usize| AlignedVec::zeroed(m * widths[l]);
        let wide = m * widths.iter().copied().max().unwrap_or(1);
        Self {
            h: (0..layers).map(per).collect(),
            s1: (0..layers).map(per).collect(),
            s2: (0..layers).map(per).collect(),
            g: (0..layers).map(per).collect(),
            dl: (0..layers).map(per).collect(),
            gbar: (0..layers).map(per).collect(),
            zbar: (0..layers).map(per).collect(),
            scratch: AlignedVec::zeroed(wide),
            scratch2: AlignedVec::zeroed(wide),
            score: vec![0.0; widths[0]],
            dscore: vec![0.0; widths[0]],
            grads: grad_shapes(widths)
                .iter()
                .map(|&len| AlignedVec::zeroed(len))
                .collect(),
            loss: 0.0,
        }
    }

    /// Add the loss terms and parameter gradient of the `m` rows `x`
    /// (rows `first..first + m` of the batch) to `loss` and `grads`
    /// (`weights`: the W_l in precision T).
    #[inline(always)]
    #[allow(clippy::too_many_arguments)]
    fn forward_and_back(
        &mut self,
        mlp: &Mlp,
        w: &[usize],
        weights: &[AlignedVec<T>],
        x: &[f64],
        first: usize,
        loss: &dyn ScoreLoss,
        m: usize,
    ) {
        let big_l = w.len() - 1;
        let one = T::of(1.0);
        let weights = |l: usize| T::layer_weights(mlp, weights, l);
        let weight = |l: usize| MatRef::from_row_major_slice(weights(l - 1), w[l], w[l - 1]);
        fn view<T>(buf: &[T], m: usize, cols: usize) -> MatRef<'_, T> {
            MatRef::from_row_major_slice(&buf[..m * cols], m, cols)
        }
        // the inputs in the kernel's precision (H_0)
        for (a, b) in self.h[0][..m * w[0]].iter_mut().zip(x) {
            *a = T::of(*b);
        }
        // forward: Z_l = H_{l-1} W_l^T + b_l, then act and its derivatives
        for l in 1..big_l {
            let (lower, upper) = self.h.split_at_mut(l);
            let prev = &lower[l - 1][..m * w[l - 1]];
            let z = &mut upper[0][..m * w[l]];
            let b = &mlp.layers()[l - 1].b;
            for row in z.chunks_exact_mut(w[l]) {
                for (r, v) in row.iter_mut().zip(b) {
                    *r = T::of(*v);
                }
            }
            matmul(
                MatMut::from_row_major_slice_mut(z, m, w[l]),
                Accum::Add,
                MatRef::from_row_major_slice(prev, m, w[l - 1]),
                weight(l).transpose(),
                one,
                Par::Seq,
            );
            let (s1, s2) = (&mut self.s1[l][..m * w[l]], &mut self.s2[l][..m * w[l]]);
            activate(mlp.activation(), z, s1, s2);
        }
        // score: D_l = G_l * act'(Z_l) (G_{L-1} = w_L), G_{l-1} = D_l W_l
        let w_last = weights(big_l - 1);
        if big_l == 1 {
            // no hidden layer: E = w . x + b, g_0 = w
            for row in self.g[0][..m * w[0]].chunks_exact_mut(w[0]) {
                row.copy_from_slice(w_last);
            }
        }
        for l in (1..big_l).rev() {
            let (dl, s1) = (&mut self.dl[l][..m * w[l]], &self.s1[l][..m * w[l]]);
            if l == big_l - 1 {
                let wl = &w_last[..w[l]];
                for (drow, srow) in dl.chunks_exact_mut(w[l]).zip(s1.chunks_exact(w[l])) {
                    for j in 0..w[l] {
                        drow[j] = wl[j] * srow[j];
                    }
                }
            } else {
                let g = &self.g[l][..m * w[l]];
                for j in 0..m * w[l] {
                    dl[j] = g[j] * s1[j];
                }
            }
            let gprev = &mut self.g[l - 1][..m * w[l - 1]];
            matmul(
                MatMut::from_row_major_slice_mut(gprev, m, w[l - 1]),
                Accum::Replace,
                view(&self.dl[l], m, w[l]),
                weight(l),
                one,
                Par::Seq,
            );
        }
        // each row's loss term and R = dl_i/dg_0 = -dl_i/ds_i (s = -g_0)
        let d = w[0];
        {
            let (g0, r) = (&self.g[0][..m * d], &mut self.gbar[0][..m * d]);
            for i in 0..m {
                for k in 0..d {
                    self.score[k] = -g0[i * d + k].f();
                }
                self.loss += loss.row(first + i, &self.score, &mut self.dscore);
                for k in 0..d {
                    r[i * d + k] = T::of(-self.dscore[k]);
                }
            }
        }
        // up through the score
        for l in 1..big_l {
            // D'_l = G'_{l-1} W_l^T
            let dbar = &mut self.scratch[..m * w[l]];
            matmul(
                MatMut::from_row_major_slice_mut(dbar, m, w[l]),
                Accum::Replace,
                view(&self.gbar[l - 1], m, w[l - 1]),
                weight(l).transpose(),
                one,
                Par::Seq,
            );
            // dW_l += D_l^T G'_{l-1}
            matmul(
                MatMut::from_row_major_slice_mut(&mut self.grads[2 * (l - 1)], w[l], w[l - 1]),
                Accum::Add,
                view(&self.dl[l], m, w[l]).transpose(),
                view(&self.gbar[l - 1], m, w[l - 1]),
                one,
                Par::Seq,
            );
            let (s1, s2) = (&self.s1[l][..m * w[l]], &self.s2[l][..m * w[l]]);
            let (gbar, zs) = (&mut self.gbar[l][..m * w[l]], &mut self.zbar[l][..m * w[l]]);
            if l == big_l - 1 {
                let wl = &w_last[..w[l]];
                for i in 0..m {
                    for j in 0..w[l] {
                        let k = i * w[l] + j;
                        gbar[k] = dbar[k] * s1[k];
                        zs[k] = dbar[k] * wl[j] * s2[k];
                    }
                }
            } else {
                let g = &self.g[l][..m * w[l]];
                for k in 0..m * w[l] {
                    gbar[k] = dbar[k] * s1[k];
                    zs[k] = dbar[k] * g[k] * s2[k];
                }
            }
        }
        // dw_L = column sums of G'_{L-1}
        {
            let wl = w[big_l - 1];
            column_sums(
                &mut self.grads[2 * (big_l - 1)][..wl],
                &self.gbar[big_l - 1][..m * wl],
            );
        }
        // down through the forward pass
        for l in (1..big_l).rev() {
            if l < big_l - 1 {
                // Z'_l = Z's_l + H'_l * act'(Z_l), H'_l in scratch2
                let (zb, hb, s1) = (
                    &mut self.zbar[l][..m * w[l]],
                    &self.scratch2[..m * w[l]],
                    &self.s1[l][..m * w[l]],
                );
                for k in 0..m * w[l] {
                    zb[k] += hb[k] * s1[k];
                }
            }
            matmul(
                MatMut::from_row_major_slice_mut(&mut self.grads[2 * (l - 1)], w[l], w[l - 1]),
                Accum::Add,
                view(&self.zbar[l], m, w[l]).transpose(),
                view(&self.h[l - 1], m, w[l - 1]),
                one,
                Par::Seq,
            );
            column_sums(
                &mut self.grads[2 * (l - 1) + 1][..w[l]],
                &self.zbar[l][..m * w[l]],
            );
            if l > 1 {
                let hb = &mut self.scratch2[..m * w[l - 1]];
                matmul(
                    MatMut::from_row_major_slice_mut(hb, m, w[l - 1]),
                    Accum::Replace,
                    view(&self.zbar[l], m, w[l]),
                    weight(l),
                    one,
                    Par::Seq,
                );
            }
        }
    }
}

/// Add the column sums of the row-major `rows` (width `sums.len()`) into
/// `sums`, row after row (each column's sum in row order). Zipped
/// slices, so the loop has no bounds checks and vectorises across the
/// columns (indexed, it had stayed scalar).
#[inline(always)]
fn column_sums<T: KernelFloat>(sums: &mut [T], rows: &[T]) {
    for row in rows.chunks_exact(sums.len()) {
        for (a, &b) in sums.iter_mut().zip(row) {
            *a += b;
        }
    }
}

/// Replace every pre-activation z by act(z), and write act'(z) and
/// act''(z) into `s1` and `s2` ([`Activation::value_slope_curvature`]; the
/// match is outside the loops so that each loop vectorises).
#[inline(always)]
fn activate<T: KernelFloat>(act: Activation, z: &mut [T], s1: &mut [T], s2: &mut [T]) {
    #[inline(always)]
    fn each<T: KernelFloat>(act: Activation, z: &mut [T], s1: &mut [T], s2: &mut [T]) {
        for k in 0..z.len() {
            let (a, d1, d2) = act.value_slope_curvature(z[k].f());
            z[k] = T::of(a);
            s1[k] = T::of(d1);
            s2[k] = T::of(d2);
        }
    }
    match act {
        Activation::Silu => each(Activation::Silu, z, s1, s2),
        Activation::Softplus => each(Activation::Softplus, z, s1, s2),
        Activation::Tanh => each(Activation::Tanh, z, s1, s2),
    }
}
