//! The second-order pass of the hand-written MLP: the Laplacian of the
//! energy, T(x) = tr grad_x^2 E(x), and its parameter gradient, for exact
//! (Hyvarinen) score matching.
//!
//! With z_l = W_l h_{l-1} + b_l, h_l = act(z_l) (h_0 = x, hidden layers
//! l = 1..H) and E = w . h_H + b, the backward signals
//! delta_H = w, e_l = delta_l * act'(z_l), delta_{l-1} = W_l^T e_l, and the
//! Jacobians A_l = dz_l/dx (n_l x D): A_1 = W_1, A_l = W_l diag(act'(z_{l-1})) A_{l-1},
//! the weights entering linearly leave only the activations' curvature:
//!
//! grad_x^2 E = sum_l sum_k delta_lk act''(z_lk) a_lk a_lk^T,
//! T = sum_l sum_k delta_lk act''(z_lk) |a_lk|^2   (a_lk: row k of A_l).
//!
//! The parameter gradient is the reverse pass of that computation, in
//! three sweeps over the layers: the backward signals' adjoints upwards
//! (delta_1 first), the Jacobians' downwards, then the forward pass's
//! downwards, each adding to W_l, b_l and w:
//!
//! direct:  delta'_l = act''(z_l) |a_l|^2,  z'_l = delta_l act'''(z_l) |a_l|^2,
//!          A'_l = 2 diag(delta_l act''(z_l)) A_l;
//! signals (l = 2..H): e'_l = W_l delta'_{l-1}, W'_l += e_l delta'_{l-1}^T,
//!          delta'_l += e'_l * act'(z_l), z'_l += e'_l * delta_l * act''(z_l);  w' = delta'_H;
//! Jacobians (l = H..2): B'_{l-1} = W_l^T A'_l, W'_l += A'_l B_{l-1}^T,
//!          A'_{l-1} += diag(act'(z_{l-1})) B'_{l-1},
//!          z'_{l-1} += act''(z_{l-1}) * rowdot(B'_{l-1}, A_{l-1});  W'_1 += A'_1;
//! forward (l = H..1): z'_l += h'_l * act'(z_l), W'_l += z'_l h_{l-1}^T,
//!          b'_l += z'_l, h'_{l-1} = W_l^T z'_l   (h'_H = 0: T does not see E).
//!
//! In batch form, every product one faer call over a part of [`PART`]
//! rows; the parts run in parallel and add their gradients in part
//! order, so the bits do not depend on the number of threads. Checked against central differences
//! of the score (T) and of T (its gradient) in `tests/exact_sm.rs`.

use ebm_core::energies::Mlp;
use ebm_core::Points;
use faer::linalg::matmul::matmul;
use faer::{Accum, MatMut, MatRef, Par};
use rayon::prelude::*;

/// Rows per part of a batch.
const PART: usize = 64;

/// sum_i T(x_i), with `weight` x its parameter gradient added into `grads`
/// ([W_1, b_1, ..., W_L, b_L]).
pub(super) fn add_laplacian_grad(mlp: &Mlp, x: &Points, weight: f64, grads: &mut [Vec<f64>]) -> f64 {
    let d = x.dim();
    let parts: Vec<(f64, Vec<Vec<f64>>)> = x
        .as_slice()
        .par_chunks(PART * d)
        .map(|rows| {
            let mut g: Vec<Vec<f64>> = grads.iter().map(|t| vec![0.0; t.len()]).collect();
            // inside the SIMD dispatch, so that the activation's
            // exponentials and multiply-adds in the elementwise loops are
            // vector instructions, not calls to a software `fma`
            let total = ebm_core::simd::dispatch(
                #[inline(always)]
                || part_pass(mlp, rows, d, weight, &mut g),
            );
            (total, g)
        })
        .collect();
    let mut total = 0.0;
    for (t, g) in parts {
        total += t;
        for (acc, part) in grads.iter_mut().zip(g) {
            acc.iter_mut().zip(part).for_each(|(a, p)| *a += p);
        }
    }
    total
}

/// sum of T over the rows `x` (row-major, `d` columns) of one part,
/// adding `weight` x its parameter gradient into `g`: the module's passes
/// in batch form, each product one faer call. A row's Jacobian A_l is
/// kept transposed, D rows of n_l (row p's at rows p D..(p + 1) D of
/// `jt[l]`), so A_l = W_l B_{l-1} is the product JT_l = BT_{l-1} W_l^T for
/// all rows at once.
#[inline(always)]
fn part_pass(mlp: &Mlp, x: &[f64], d: usize, weight: f64, g: &mut [Vec<f64>]) -> f64 {
    let layers = mlp.layers();
    let act = mlp.activation();
    let hidden = layers.len() - 1;
    let p = x.len() / d;
    let pd = p * d;
    // forward: h[l] (P x n_l, h[0] = x); the slope, curvature and jerk at z_l
    let mut h: Vec<Vec<f64>> = vec![x.to_vec()];
    let (mut s1, mut s2, mut s3) = (Vec::new(), Vec::new(), Vec::new());
    for layer in &layers[..hidden] {
        let (n_in, n_out) = (layer.n_in, layer.n_out);
        let mut z = vec![0.0; p * n_out];
        for row in z.chunks_exact_mut(n_out) {
            row.copy_from_slice(&layer.b);
        }
        product(
            &mut z,
            p,
            n_out,
            &h[h.len() - 1],
            n_in,
            false,
            &layer.w,
            n_in,
            true,
            1.0,
            true,
        );
        let mut hl = vec![0.0; p * n_out];
        let (mut a1, mut a2, mut a3) = (vec![0.0; p * n_out], vec![0.0; p * n_out], vec![0.0; p * n_out]);
        for i in 0..p * n_out {
            hl[i] = act.value_and_slope(z[i]).0;
            (a1[i], a2[i], a3[i]) = act.slope_curvature_jerk(z[i]);
        }
        h.push(hl);
        s1.push(a1);
        s2.push(a2);
        s3.push(a3);
    }
    // Jacobians, transposed: jt[l] (P D x n_l), bt[l] = jt[l] scaled by the slope
    let mut jt: Vec<Vec<f64>> = Vec::with_capacity(hidden);
    let mut bt: Vec<Vec<f64>> = Vec::with_capacity(hidden);
    for (l, layer) in layers[..hidden].iter().enumerate() {
        let (n_in, n_out) = (layer.n_in, layer.n_out);
        let mut j = vec![0.0; pd * n_out];
        if l == 0 {
            // A_1 = W_1: row p's D x n_1 block is W_1^T
            for r in 0..p {
                for a in 0..d {
                    for k in 0..n_out {
                        j[(r * d + a) * n_out + k] = layer.w[k * n_in + a];
                    }
                }
            }
        } else {
            product(
                &mut j,
                pd,
                n_out,
                &bt[l - 1],
                n_in,
                false,
                &layer.w,
                n_in,
                true,
                1.0,
                false,
            );
        }
        let mut b = j.clone();
        for r in 0..p {
            for a in 0..d {
                let row = &mut b[(r * d + a) * n_out..(r * d + a + 1) * n_out];
                row.iter_mut()
                    .zip(&s1[l][r * n_out..(r + 1) * n_out])
                    .for_each(|(v, s)| *v *= s);
            }
        }
        jt.push(j);
        bt.push(b);
    }
    // backward signals delta_l and e_l (P x n_l)
    let mut delta: Vec<Vec<f64>> = vec![Vec::new(); hidden];
    let mut e: Vec<Vec<f64>> = vec![Vec::new(); hidden];
    delta[hidden - 1] = layers[hidden].w.repeat(p);
    for l in (0..hidden).rev() {
        e[l] = delta[l].iter().zip(&s1[l]).map(|(a, b)| a * b).collect();
        if l > 0 {
            let (n_in, n_out) = (layers[l].n_in, layers[l].n_out);
            let mut dl = vec![0.0; p * n_in];
            product(
                &mut dl,
                p,
                n_in,
                &e[l],
                n_out,
                false,
                &layers[l].w,
                n_in,
                false,
                1.0,
                false,
            );
            delta[l - 1] = dl;
        }
    }
    // T and the direct adjoints
    let mut t = 0.0;
    let mut delta_bar: Vec<Vec<f64>> = vec![Vec::new(); hidden];
    let mut z_bar: Vec<Vec<f64>> = vec![Vec::new(); hidden];
    let mut jt_bar: Vec<Vec<f64>> = vec![Vec::new(); hidden];
    for l in 0..hidden {
        let n = layers[l].n_out;
        let mut q = vec![0.0; p * n];
        for r in 0..p {
            for a in 0..d {
                let row = &jt[l][(r * d + a) * n..(r * d + a + 1) * n];
                q[r * n..(r + 1) * n]
                    .iter_mut()
                    .zip(row)
                    .for_each(|(o, v)| *o += v * v);
            }
        }
        let (mut db, mut zb) = (vec![0.0; p * n], vec![0.0; p * n]);
        for i in 0..p * n {
            t += delta[l][i] * s2[l][i] * q[i];
            db[i] = s2[l][i] * q[i];
            zb[i] = delta[l][i] * s3[l][i] * q[i];
        }
        let mut ab = jt[l].clone();
        for r in 0..p {
            for a in 0..d {
                let row = &mut ab[(r * d + a) * n..(r * d + a + 1) * n];
                for k in 0..n {
                    row[k] *= 2.0 * delta[l][r * n + k] * s2[l][r * n + k];
                }
            }
        }
        delta_bar[l] = db;
        z_bar[l] = zb;
        jt_bar[l] = ab;
    }
    // signals, upwards: e'_l = delta'_{l-1} W_l^T, W'_l += e_l^T delta'_{l-1}
    for l in 1..hidden {
        let (n_in, n_out) = (layers[l].n_in, layers[l].n_out);
        let mut e_bar = vec![0.0; p * n_out];
        product(
            &mut e_bar,
            p,
            n_out,
            &delta_bar[l - 1],
            n_in,
            false,
            &layers[l].w,
            n_in,
            true,
            1.0,
            false,
        );
        product(
            &mut g[2 * l],
            n_out,
            n_in,
            &e[l],
            n_out,
            true,
            &delta_bar[l - 1],
            n_in,
            false,
            weight,
            true,
        );
        for i in 0..p * n_out {
            delta_bar[l][i] += e_bar[i] * s1[l][i];
            z_bar[l][i] += e_bar[i] * delta[l][i] * s2[l][i];
        }
    }
    let n_top = layers[hidden - 1].n_out;
    for r in 0..p {
        g[2 * hidden]
            .iter_mut()
            .zip(&delta_bar[hidden - 1][r * n_top..(r + 1) * n_top])
            .for_each(|(o, v)| *o += weight * v);
    }
    // Jacobians, downwards: BT'_{l-1} = JT'_l W_l, W'_l += JT'_l^T BT_{l-1}
    for l in (1..hidden).rev() {
        let (n_in, n_out) = (layers[l].n_in, layers[l].n_out);
        let mut b_bar = vec![0.0; pd * n_in];
        product(
            &mut b_bar,
            pd,
            n_in,
            &jt_bar[l],
            n_out,
            false,
            &layers[l].w,
            n_in,
            false,
            1.0,
            false,
        );
        product(
            &mut g[2 * l],
            n_out,
            n_in,
            &jt_bar[l],
            n_out,
            true,
            &bt[l - 1],
            n_in,
            false,
            weight,
            true,
        );
        for r in 0..p {
            for a in 0..d {
                let at = (r * d + a) * n_in;
                for m in 0..n_in {
                    let bb = b_bar[at + m];
                    jt_bar[l - 1][at + m] += s1[l - 1][r * n_in + m] * bb;
                    z_bar[l - 1][r * n_in + m] += s2[l - 1][r * n_in + m] * bb * jt[l - 1][at + m];
                }
            }
        }
    }
    // W'_1 += A'_1 (row p's block of JT'_1 is A'_1^T)
    let (n1, n_in1) = (layers[0].n_out, layers[0].n_in);
    for r in 0..p {
        for a in 0..d {
            for k in 0..n1 {
                g[0][k * n_in1 + a] += weight * jt_bar[0][(r * d + a) * n1 + k];
            }
        }
    }
    // forward pass, downwards
    let mut h_bar = vec![0.0; p * n_top];
    for l in (0..hidden).rev() {
        let (n_in, n_out) = (layers[l].n_in, layers[l].n_out);
        for i in 0..p * n_out {
            z_bar[l][i] += h_bar[i] * s1[l][i];
        }
        product(
            &mut g[2 * l],
            n_out,
            n_in,
            &z_bar[l],
            n_out,
            true,
            &h[l],
            n_in,
            false,
            weight,
            true,
        );
        for r in 0..p {
            g[2 * l + 1]
                .iter_mut()
                .zip(&z_bar[l][r * n_out..(r + 1) * n_out])
                .for_each(|(o, v)| *o += weight * v);
        }
        if l > 0 {
            let mut hb = vec![0.0; p * n_in];
            product(
                &mut hb,
                p,
                n_in,
                &z_bar[l],
                n_out,
                false,
                &layers[l].w,
                n_in,
                false,
                1.0,
                false,
            );
            h_bar = hb;
        }
    }
    t
}

/// `out` (r x c) = (or, when `add`, +=) alpha op(A) op(B), row-major
/// buffers: A is `a` with `a_cols` columns, transposed when `at`; B is `b`
/// with `b_cols` columns, transposed when `bt`.
#[allow(clippy::too_many_arguments)]
fn product(
    out: &mut [f64],
    r: usize,
    c: usize,
    a: &[f64],
    a_cols: usize,
    at: bool,
    b: &[f64],
    b_cols: usize,
    bt: bool,
    alpha: f64,
    add: bool,
) {
    let am = MatRef::from_row_major_slice(a, a.len() / a_cols.max(1), a_cols);
    let bm = MatRef::from_row_major_slice(b, b.len() / b_cols.max(1), b_cols);
    let am = if at { am.transpose() } else { am };
    let bm = if bt { bm.transpose() } else { bm };
    let accum = if add { Accum::Add } else { Accum::Replace };
    matmul(
        MatMut::from_row_major_slice_mut(out, r, c),
        accum,
        am,
        bm,
        alpha,
        Par::Seq,
    );
}
