//! Denoising score matching of an MLP energy in one fused pass on the
//! host: forward pass, score (the explicit backward pass) and the
//! parameter gradient of the DSM loss, written out by hand with every
//! matrix product in faer and the elementwise work vectorised; no autodiff
//! graph and no allocation per step.
//!
//! With z_l = W_l h_{l-1} + b_l, h_l = act(z_l) (h_0 = x, layers 1..L-1
//! hidden) and E = w_L . h_{L-1} + b_L, the input gradient is
//! g_{L-1} = w_L, d_l = g_l * act'(z_l), g_{l-1} = W_l^T d_l, grad_x E = g_0,
//! and the score s = -g_0. For a batch (rows) with noisy inputs x~ and
//! targets t = -eps / sigma, the loss is
//!
//! L = 1/(2n) sum_i lambda_i ‖s_i - t_i‖^2,   R = dL/dg_0 = lambda/n (g_0 + t).
//!
//! Its gradient runs back through the score (upwards) and then through the
//! forward pass (downwards), in batch (row) form:
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
//! any number of threads.
//! Checked against the dfdx path (the same loss and gradient to rounding)
//! and against finite differences in the tests.

use crate::engine::{StepEngine, StepOutcome};
use crate::error::{EstimatorError, Result};
use crate::objectives::ObjectiveState;
use crate::optim::{Optimizer, OptimizerConfig, OptimizerState};
use crate::trainable::{Backend, ParamMut, Real, TrainableEnergy};
use ebm_core::energies::{Activation, Layer, Mlp};
use ebm_core::fast_exp::exp;
use ebm_core::fast_ln::ln;
use ebm_core::simd::{all_finite, sum_squares};
use ebm_core::{ChainRng, EnergySpec, Points};
use faer::linalg::matmul::matmul;
use faer::{Accum, MatMut, MatRef, Par};
use rayon::prelude::*;
use std::marker::PhantomData;

/// Rows per part of a batch: the parts run in parallel, each on one
/// thread, and their gradients are added in part order.
pub const PART: usize = 256;
/// Rows a part processes at a time, so that its work buffers (a dozen
/// rows x width matrices) stay in the core's L2 cache.
pub const SLICE: usize = 128;

/// The precisions the fused kernel computes in: `f64`, or `f32` for the
/// matrix products and work buffers (the parameters, the loss, the
/// gradient sums and the optimizer stay `f64`).
pub trait KernelFloat:
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
}

/// The parameters of an MLP energy in host buffers, layer by layer:
/// `[W_1, b_1, ..., W_L, b_L]` with W_l row-major (outputs x inputs).
#[derive(Clone, Debug, PartialEq)]
pub struct HostMlp {
    act: Activation,
    /// Widths, input first, last 1.
    widths: Vec<usize>,
    params: Vec<Vec<f64>>,
}

impl HostMlp {
    /// A host copy of `m`.
    pub fn from_core(m: &Mlp) -> Self {
        let mut widths = vec![m.layers()[0].n_in];
        let mut params = Vec::new();
        for l in m.layers() {
            widths.push(l.n_out);
            params.push(l.w.clone());
            params.push(l.b.clone());
        }
        Self {
            act: m.activation(),
            widths,
            params,
        }
    }

    /// The reference MLP with these parameters.
    pub fn to_core(&self) -> Mlp {
        let layers = (0..self.depth())
            .map(|l| Layer {
                w: self.params[2 * l].clone(),
                b: self.params[2 * l + 1].clone(),
                n_in: self.widths[l],
                n_out: self.widths[l + 1],
            })
            .collect();
        Mlp::new(self.act, layers).expect("a trained MLP keeps its shapes")
    }

    /// Layers L.
    pub fn depth(&self) -> usize {
        self.widths.len() - 1
    }

    /// The parameters, `[W_1, b_1, ..., W_L, b_L]`.
    pub fn params(&self) -> &[Vec<f64>] {
        &self.params
    }

    /// The parameters, mutably.
    pub fn params_mut(&mut self) -> &mut [Vec<f64>] {
        &mut self.params
    }

    /// The DSM loss of a batch of noisy inputs `x` (rows) with targets `t`
    /// and row weights `lambda`, and its gradient with respect to every
    /// parameter (same layout as [`HostMlp::params`]), added into `grads`
    /// (which must be zero or hold a gradient to add to).
    pub fn dsm_loss_grad(&self, x: &[f64], t: &[f64], lambda: &[f64], grads: &mut [Vec<f64>]) -> f64 {
        self.dsm_loss_grad_in::<f64>(x, t, lambda, grads)
    }

    /// [`HostMlp::dsm_loss_grad`] with the matrix products and work
    /// buffers in precision `T`.
    pub fn dsm_loss_grad_in<T: KernelFloat>(
        &self,
        x: &[f64],
        t: &[f64],
        lambda: &[f64],
        grads: &mut [Vec<f64>],
    ) -> f64 {
        let n = lambda.len();
        let mut work = Workspace::<T>::new(&self.widths, n);
        self.dsm_into(x, t, lambda, &mut work);
        for (g, w) in grads.iter_mut().zip(&work.grads) {
            for (a, b) in g.iter_mut().zip(w) {
                *a += b;
            }
        }
        work.loss
    }

    /// The loss and gradient of a whole batch into `work` (parts in
    /// parallel, gradients summed in part order).
    fn dsm_into<T: KernelFloat>(&self, x: &[f64], t: &[f64], lambda: &[f64], work: &mut Workspace<T>) {
        let d = self.widths[0];
        let n = lambda.len();
        work.ensure(&self.widths, n);
        for (wt, p) in work.weights.iter_mut().zip(self.params.iter().step_by(2)) {
            for (a, b) in wt.iter_mut().zip(p) {
                *a = T::of(*b);
            }
        }
        let inv_n = 1.0 / n as f64;
        let weights = &work.weights;
        work.parts.par_iter_mut().enumerate().for_each(|(k, part)| {
            for g in &mut part.grads {
                g.iter_mut().for_each(|v| *v = T::default());
            }
            part.loss = 0.0;
            let end = ((k + 1) * PART).min(n);
            let mut start = k * PART;
            while start < end {
                let stop = (start + SLICE).min(end);
                let (xs, ts, ls) = (
                    &x[start * d..stop * d],
                    &t[start * d..stop * d],
                    &lambda[start..stop],
                );
                let m = stop - start;
                ebm_core::simd::dispatch(
                    #[inline(always)]
                    || part.forward_and_back(self, weights, xs, ts, ls, inv_n, m),
                );
                start = stop;
            }
        });
        for (g, lens) in work.grads.iter_mut().zip(self.params.iter().map(Vec::len)) {
            g.clear();
            g.resize(lens, 0.0);
        }
        work.loss = 0.0;
        for part in &work.parts {
            work.loss += part.loss;
            for (g, p) in work.grads.iter_mut().zip(&part.grads) {
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
    }
}

/// Buffers for a batch of a given size: one [`Part`] per [`PART`] rows,
/// the weights in the kernel's precision, and the summed gradient.
struct Workspace<T> {
    n: usize,
    parts: Vec<Part<T>>,
    weights: Vec<Vec<T>>,
    grads: Vec<Vec<f64>>,
    loss: f64,
}

impl<T: KernelFloat> Workspace<T> {
    fn new(widths: &[usize], n: usize) -> Self {
        let mut w = Self {
            n: usize::MAX,
            parts: Vec::new(),
            weights: widths
                .windows(2)
                .map(|p| vec![T::default(); p[0] * p[1]])
                .collect(),
            grads: Vec::new(),
            loss: 0.0,
        };
        w.ensure(widths, n);
        w
    }

    /// Size the buffers for batches of `n` rows (no-op when they are).
    fn ensure(&mut self, widths: &[usize], n: usize) {
        if self.n == n {
            return;
        }
        self.n = n;
        self.parts = (0..n.div_ceil(PART))
            .map(|k| Part::new(widths, (((k + 1) * PART).min(n) - k * PART).min(SLICE)))
            .collect();
        self.grads = grad_shapes(widths).iter().map(|&len| vec![0.0; len]).collect();
    }
}

/// Lengths of `[W_1, b_1, ..., W_L, b_L]`.
fn grad_shapes(widths: &[usize]) -> Vec<usize> {
    widths.windows(2).flat_map(|w| [w[0] * w[1], w[1]]).collect()
}

/// The work of one part of a batch (rows x width buffers, row-major).
struct Part<T> {
    /// H_l = act(Z_l) for l = 1..L-1 (index l; index 0 unused: H_0 is the input).
    h: Vec<Vec<T>>,
    /// act'(Z_l), act''(Z_l).
    s1: Vec<Vec<T>>,
    s2: Vec<Vec<T>>,
    /// G_l = d E / d h_l for l = 0..L-2 (G_{L-1} = w_L is not stored).
    g: Vec<Vec<T>>,
    /// D_l = G_l * act'(Z_l).
    dl: Vec<Vec<T>>,
    /// Adjoints: G'_l, and Z'_l (first the score part Z's_l).
    gbar: Vec<Vec<T>>,
    zbar: Vec<Vec<T>>,
    /// Scratch of the widest layer: D'_l, then H'_l.
    scratch: Vec<T>,
    scratch2: Vec<T>,
    grads: Vec<Vec<T>>,
    loss: f64,
}

impl<T: KernelFloat> Part<T> {
    fn new(widths: &[usize], m: usize) -> Self {
        let layers = widths.len() - 1;
        let per = |l: usize| vec![T::default(); m * widths[l]];
        let wide = m * widths.iter().copied().max().unwrap_or(1);
        Self {
            h: (0..layers).map(per).collect(),
            s1: (0..layers).map(per).collect(),
            s2: (0..layers).map(per).collect(),
            g: (0..layers).map(per).collect(),
            dl: (0..layers).map(per).collect(),
            gbar: (0..layers).map(per).collect(),
            zbar: (0..layers).map(per).collect(),
            scratch: vec![T::default(); wide],
            scratch2: vec![T::default(); wide],
            grads: grad_shapes(widths)
                .iter()
                .map(|&len| vec![T::default(); len])
                .collect(),
            loss: 0.0,
        }
    }

    /// Add the loss (this slice's share of the batch mean) and parameter
    /// gradient of `m` rows to `loss` and `grads` (`weights`: the W_l in
    /// precision T).
    #[inline(always)]
    #[allow(clippy::too_many_arguments)]
    fn forward_and_back(
        &mut self,
        mlp: &HostMlp,
        weights: &[Vec<T>],
        x: &[f64],
        t: &[f64],
        lambda: &[f64],
        inv_n: f64,
        m: usize,
    ) {
        let w = &mlp.widths;
        let big_l = w.len() - 1;
        let one = T::of(1.0);
        let weight = |l: usize| MatRef::from_row_major_slice(&weights[l - 1], w[l], w[l - 1]);
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
            let b = &mlp.params[2 * (l - 1) + 1];
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
            activate(mlp.act, z, s1, s2);
        }
        // score: D_l = G_l * act'(Z_l) (G_{L-1} = w_L), G_{l-1} = D_l W_l
        let w_last = &weights[big_l - 1];
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
        // loss (in f64) and R = lambda/n (g_0 + t)
        let d = w[0];
        let mut loss = 0.0;
        {
            let (g0, r) = (&self.g[0][..m * d], &mut self.gbar[0][..m * d]);
            for i in 0..m {
                let mut sq = 0.0;
                for k in 0..d {
                    let e = g0[i * d + k].f() + t[i * d + k];
                    sq += e * e;
                    r[i * d + k] = T::of(lambda[i] * inv_n * e);
                }
                loss += lambda[i] * sq;
            }
        }
        self.loss += 0.5 * inv_n * loss;
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
            let gl = &mut self.grads[2 * (big_l - 1)];
            let wl = w[big_l - 1];
            for row in self.gbar[big_l - 1][..m * wl].chunks_exact(wl) {
                for j in 0..wl {
                    gl[j] += row[j];
                }
            }
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
            let gb = &mut self.grads[2 * (l - 1) + 1];
            for row in self.zbar[l][..m * w[l]].chunks_exact(w[l]) {
                for j in 0..w[l] {
                    gb[j] += row[j];
                }
            }
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

/// Replace every pre-activation z by act(z), and write act'(z) and
/// act''(z) into `s1` and `s2`, from one exponential per value:
///
/// silu: s = sigmoid(z), act = z s, act' = s (1 + z (1 - s)),
/// act'' = s (1 - s) (2 + z (1 - 2 s));
/// softplus: act = max(z, 0) + ln(1 + e^-|z|), act' = s, act'' = s (1 - s);
/// tanh: t = sign(z) (1 - e^-2|z|) / (1 + e^-2|z|), act' = 1 - t^2,
/// act'' = -2 t (1 - t^2).
#[inline(always)]
fn activate<T: KernelFloat>(act: Activation, z: &mut [T], s1: &mut [T], s2: &mut [T]) {
    match act {
        Activation::Silu => {
            for k in 0..z.len() {
                let v = z[k].f();
                let e = exp(-v.abs());
                let r = 1.0 / (1.0 + e);
                let s = if v >= 0.0 { r } else { e * r };
                let q = s * (1.0 - s);
                z[k] = T::of(v * s);
                s1[k] = T::of(s + v * q);
                s2[k] = T::of(q * (2.0 + v * (1.0 - 2.0 * s)));
            }
        }
        Activation::Softplus => {
            for k in 0..z.len() {
                let v = z[k].f();
                let e = exp(-v.abs());
                let r = 1.0 / (1.0 + e);
                let s = if v >= 0.0 { r } else { e * r };
                z[k] = T::of(v.max(0.0) + ln(1.0 + e));
                s1[k] = T::of(s);
                s2[k] = T::of(s * (1.0 - s));
            }
        }
        Activation::Tanh => {
            for k in 0..z.len() {
                let v = z[k].f();
                let e2 = exp(-2.0 * v.abs());
                let a = (1.0 - e2) / (1.0 + e2);
                let t = if v >= 0.0 { a } else { -a };
                let q = 1.0 - t * t;
                z[k] = T::of(t);
                s1[k] = T::of(q);
                s2[k] = T::of(-2.0 * t * q);
            }
        }
    }
}

/// The kernel's work buffers in the model's precision.
enum Precision {
    F64(Workspace<f64>),
    F32(Workspace<f32>),
}

impl Precision {
    /// (loss, gradient) of a batch.
    fn run(&mut self, mlp: &HostMlp, x: &[f64], t: &[f64], lambda: &[f64]) -> (f64, &[Vec<f64>]) {
        match self {
            Precision::F64(w) => {
                mlp.dsm_into(x, t, lambda, w);
                (w.loss, &w.grads)
            }
            Precision::F32(w) => {
                mlp.dsm_into(x, t, lambda, w);
                (w.loss, &w.grads)
            }
        }
    }
}

/// The [`StepEngine`] for denoising score matching of an MLP energy:
/// the noise drawn exactly as [`crate::objectives::Dsm`] draws it, the
/// loss and gradient from [`HostMlp`], and the optimizer on the host
/// ([`Optimizer`], dfdx's arithmetic). The trainer picks it for a
/// `Dsm` objective on an `mlp` model; the trained parameters are written
/// back into the model when the run ends. A model in f32 gets f32 matrix
/// products and work buffers (f64 parameters, loss sums and optimizer);
/// one in f64 computes in f64 throughout.
pub struct MlpDsmEngine<'a, F: Real, D: Backend<F>, M> {
    model: &'a mut M,
    mlp: HostMlp,
    sigmas: Vec<f64>,
    opt: Optimizer,
    work: Precision,
    noisy: Vec<f64>,
    target: Vec<f64>,
    lambda: Vec<f64>,
    backup: Vec<Vec<f64>>,
    _fd: PhantomData<(F, D)>,
}

impl<'a, F: Real, D: Backend<F>, M: TrainableEnergy<F, D>> MlpDsmEngine<'a, F, D, M> {
    /// The engine for `model` (whose model file must be an `mlp`) with
    /// noise levels `sigmas` (one: lambda = 1; several: a level drawn per
    /// row and lambda = sigma^2) and `optimizer`.
    pub fn new(model: &'a mut M, sigmas: Vec<f64>, optimizer: OptimizerConfig) -> Result<Self> {
        let mlp = match model.to_spec() {
            EnergySpec::Mlp { activation, layers } => {
                let rows: Vec<_> = layers.iter().map(|l| (l.w.clone(), l.b.clone())).collect();
                HostMlp::from_core(&Mlp::from_rows(activation, &rows)?)
            }
            other => {
                return Err(EstimatorError::Unsupported(format!(
                    "the DSM engine needs an `mlp` model, got `{}`",
                    other.type_name()
                )))
            }
        };
        let shapes: Vec<usize> = model.params_mut().iter().map(ParamMut::len).collect();
        let lens: Vec<usize> = mlp.params.iter().map(Vec::len).collect();
        if shapes != lens {
            return Err(EstimatorError::Unsupported(
                "the DSM engine needs the MLP's parameters as [W_1, b_1, ..., W_L, b_L]".into(),
            ));
        }
        let opt = Optimizer::new(optimizer, &lens)?;
        let work = if std::any::TypeId::of::<F>() == std::any::TypeId::of::<f32>() {
            Precision::F32(Workspace::new(&mlp.widths, 0))
        } else {
            Precision::F64(Workspace::new(&mlp.widths, 0))
        };
        Ok(Self {
            work,
            backup: mlp.params.clone(),
            model,
            mlp,
            sigmas,
            opt,
            noisy: Vec::new(),
            target: Vec::new(),
            lambda: Vec::new(),
            _fd: PhantomData,
        })
    }
}

impl<F: Real, D: Backend<F>, M: TrainableEnergy<F, D>> StepEngine for MlpDsmEngine<'_, F, D, M> {
    fn objective_name(&self) -> String {
        "dsm-host".into()
    }

    fn param_shapes(&mut self) -> Vec<Vec<usize>> {
        self.mlp
            .widths
            .windows(2)
            .flat_map(|w| [vec![w[1], w[0]], vec![w[1]]])
            .collect()
    }

    fn prepare(&mut self, _data: &Points, _seed: u64) -> Result<()> {
        Ok(())
    }

    fn step(&mut self, batch: &Points, rng: &mut ChainRng) -> Result<StepOutcome> {
        // the noise, draw for draw as the dfdx objective makes it
        crate::objectives::draw_dsm_noise(
            &self.sigmas,
            batch,
            rng,
            &mut self.noisy,
            &mut self.target,
            &mut self.lambda,
        );
        let (loss, grads) = self.work.run(&self.mlp, &self.noisy, &self.target, &self.lambda);
        let norm = grads.iter().map(|g| sum_squares(g)).sum::<f64>().sqrt();
        if !(loss.is_finite() && norm.is_finite()) {
            return Ok(StepOutcome {
                loss,
                grad_norm: norm,
                applied: false,
            });
        }
        for (b, p) in self.backup.iter_mut().zip(&self.mlp.params) {
            b.copy_from_slice(p);
        }
        self.opt.update(&mut self.mlp.params, grads);
        if !self.mlp.params.iter().all(|p| all_finite(p)) {
            for (p, b) in self.mlp.params.iter_mut().zip(&self.backup) {
                p.copy_from_slice(b);
            }
            return Ok(StepOutcome {
                loss,
                grad_norm: norm,
                applied: false,
            });
        }
        Ok(StepOutcome {
            loss,
            grad_norm: norm,
            applied: true,
        })
    }

    fn is_valid(&mut self) -> bool {
        self.mlp.params.iter().all(|p| all_finite(p))
    }

    fn model_spec(&mut self) -> EnergySpec {
        EnergySpec::from(&self.mlp.to_core())
    }

    fn snapshot(&mut self) -> Result<(Vec<Vec<f64>>, OptimizerState, ObjectiveState)> {
        Ok((
            self.mlp.params.clone(),
            self.opt.state(),
            ObjectiveState::default(),
        ))
    }

    fn restore(
        &mut self,
        params: &[Vec<f64>],
        optimizer: &OptimizerState,
        objective: &ObjectiveState,
    ) -> Result<()> {
        objective.expect_empty("dsm")?;
        if params.len() != self.mlp.params.len()
            || params
                .iter()
                .zip(&self.mlp.params)
                .any(|(a, b)| a.len() != b.len())
        {
            return Err(EstimatorError::Checkpoint(
                "its parameters do not fit this MLP's widths".into(),
            ));
        }
        for (p, v) in self.mlp.params.iter_mut().zip(params) {
            p.copy_from_slice(v);
        }
        self.opt.restore(optimizer)
    }

    fn finish(&mut self) -> Result<()> {
        for (p, v) in self.model.params_mut().iter_mut().zip(&self.mlp.params) {
            p.set_values(v)?;
        }
        Ok(())
    }
}
