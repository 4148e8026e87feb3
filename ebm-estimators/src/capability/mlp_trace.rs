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
//! Row by row on the host (the work per row is a few products of the
//! layers with D-column Jacobians); rows in parts of [`PART`] that run in
//! parallel and add their gradients in part order, so the bits do not
//! depend on the number of threads. Checked against central differences
//! of the score (T) and of T (its gradient) in `tests/exact_sm.rs`.

use ebm_core::energies::Mlp;
use ebm_core::Points;
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
            let mut total = 0.0;
            for row in rows.chunks_exact(d) {
                total += row_pass(mlp, row, weight, &mut g);
            }
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

/// T(x) for one row `x`, adding `weight` x dT/dtheta into `g`.
fn row_pass(mlp: &Mlp, x: &[f64], weight: f64, g: &mut [Vec<f64>]) -> f64 {
    let layers = mlp.layers();
    let act = mlp.activation();
    let hidden = layers.len() - 1;
    let d = x.len();
    // forward: h[0] = x, z[l], act', act'', act''' for l = 1..=H (index l - 1)
    let mut h: Vec<Vec<f64>> = vec![x.to_vec()];
    let (mut z, mut s1, mut s2, mut s3) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for layer in &layers[..hidden] {
        let prev = h.last().expect("h_0");
        let zl: Vec<f64> = (0..layer.n_out)
            .map(|k| layer.b[k] + dot(&layer.w[k * layer.n_in..(k + 1) * layer.n_in], prev))
            .collect();
        let mut hl = vec![0.0; layer.n_out];
        let (mut a1, mut a2, mut a3) = (
            vec![0.0; layer.n_out],
            vec![0.0; layer.n_out],
            vec![0.0; layer.n_out],
        );
        for k in 0..layer.n_out {
            hl[k] = act.value_and_slope(zl[k]).0;
            (a1[k], a2[k], a3[k]) = act.slope_curvature_jerk(zl[k]);
        }
        h.push(hl);
        z.push(zl);
        s1.push(a1);
        s2.push(a2);
        s3.push(a3);
    }
    // Jacobians A_l (n_l x D, row-major) and B_l = diag(act'(z_l)) A_l
    let mut a_mats: Vec<Vec<f64>> = Vec::with_capacity(hidden);
    let mut b_mats: Vec<Vec<f64>> = Vec::with_capacity(hidden);
    for (l, layer) in layers[..hidden].iter().enumerate() {
        let a = if l == 0 {
            layer.w.clone()
        } else {
            matmul(&layer.w, layer.n_out, layer.n_in, &b_mats[l - 1], d)
        };
        let b: Vec<f64> = a.iter().enumerate().map(|(i, v)| v * s1[l][i / d]).collect();
        a_mats.push(a);
        b_mats.push(b);
    }
    // backward signals delta_l (index l - 1) and e_l
    let mut delta: Vec<Vec<f64>> = vec![Vec::new(); hidden];
    let mut e: Vec<Vec<f64>> = vec![Vec::new(); hidden];
    delta[hidden - 1] = layers[hidden].w.clone();
    for l in (0..hidden).rev() {
        e[l] = delta[l].iter().zip(&s1[l]).map(|(a, b)| a * b).collect();
        if l > 0 {
            delta[l - 1] = mat_t_vec(&layers[l].w, layers[l].n_out, layers[l].n_in, &e[l]);
        }
    }
    // T and the direct adjoints
    let mut t = 0.0;
    let mut delta_bar: Vec<Vec<f64>> = vec![Vec::new(); hidden];
    let mut z_bar: Vec<Vec<f64>> = vec![Vec::new(); hidden];
    let mut a_bar: Vec<Vec<f64>> = vec![Vec::new(); hidden];
    for l in 0..hidden {
        let n = layers[l].n_out;
        let (mut db, mut zb, mut ab) = (vec![0.0; n], vec![0.0; n], vec![0.0; n * d]);
        for k in 0..n {
            let row = &a_mats[l][k * d..(k + 1) * d];
            let q: f64 = row.iter().map(|v| v * v).sum();
            t += delta[l][k] * s2[l][k] * q;
            db[k] = s2[l][k] * q;
            zb[k] = delta[l][k] * s3[l][k] * q;
            let c = 2.0 * delta[l][k] * s2[l][k];
            ab[k * d..(k + 1) * d]
                .iter_mut()
                .zip(row)
                .for_each(|(o, v)| *o = c * v);
        }
        delta_bar[l] = db;
        z_bar[l] = zb;
        a_bar[l] = ab;
    }
    // signals, upwards: delta_{l-1} = W_l^T e_l
    for l in 1..hidden {
        let layer = &layers[l];
        let e_bar = mat_vec(&layer.w, layer.n_out, layer.n_in, &delta_bar[l - 1]);
        let wg = &mut g[2 * l];
        for k in 0..layer.n_out {
            for m in 0..layer.n_in {
                wg[k * layer.n_in + m] += weight * e[l][k] * delta_bar[l - 1][m];
            }
        }
        for k in 0..layer.n_out {
            delta_bar[l][k] += e_bar[k] * s1[l][k];
            z_bar[l][k] += e_bar[k] * delta[l][k] * s2[l][k];
        }
    }
    g[2 * hidden]
        .iter_mut()
        .zip(&delta_bar[hidden - 1])
        .for_each(|(o, v)| *o += weight * v);
    // Jacobians, downwards: A_l = W_l B_{l-1}
    for l in (1..hidden).rev() {
        let layer = &layers[l];
        let (n_out, n_in) = (layer.n_out, layer.n_in);
        let mut b_bar = vec![0.0; n_in * d];
        for k in 0..n_out {
            let ab = &a_bar[l][k * d..(k + 1) * d];
            for m in 0..n_in {
                let w = layer.w[k * n_in + m];
                b_bar[m * d..(m + 1) * d]
                    .iter_mut()
                    .zip(ab)
                    .for_each(|(o, v)| *o += w * v);
            }
        }
        let wg = &mut g[2 * l];
        for k in 0..n_out {
            let ab = &a_bar[l][k * d..(k + 1) * d];
            for m in 0..n_in {
                wg[k * n_in + m] += weight * dot(ab, &b_mats[l - 1][m * d..(m + 1) * d]);
            }
        }
        for m in 0..n_in {
            let bb = &b_bar[m * d..(m + 1) * d];
            let (slope, curv) = (s1[l - 1][m], s2[l - 1][m]);
            a_bar[l - 1][m * d..(m + 1) * d]
                .iter_mut()
                .zip(bb)
                .for_each(|(o, v)| *o += slope * v);
            z_bar[l - 1][m] += curv * dot(bb, &a_mats[l - 1][m * d..(m + 1) * d]);
        }
    }
    g[0].iter_mut().zip(&a_bar[0]).for_each(|(o, v)| *o += weight * v);
    // forward pass, downwards
    let mut h_bar = vec![0.0; layers[hidden - 1].n_out];
    for l in (0..hidden).rev() {
        let layer = &layers[l];
        for k in 0..layer.n_out {
            z_bar[l][k] += h_bar[k] * s1[l][k];
        }
        let (wg_index, bg_index) = (2 * l, 2 * l + 1);
        for k in 0..layer.n_out {
            let zb = weight * z_bar[l][k];
            g[bg_index][k] += zb;
            g[wg_index][k * layer.n_in..(k + 1) * layer.n_in]
                .iter_mut()
                .zip(&h[l])
                .for_each(|(o, v)| *o += zb * v);
        }
        if l > 0 {
            h_bar = mat_t_vec(&layer.w, layer.n_out, layer.n_in, &z_bar[l]);
        }
    }
    t
}

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// M v for M of shape r x c (row-major).
fn mat_vec(m: &[f64], r: usize, c: usize, v: &[f64]) -> Vec<f64> {
    (0..r).map(|i| dot(&m[i * c..(i + 1) * c], v)).collect()
}

/// M^T v for M of shape r x c (row-major).
fn mat_t_vec(m: &[f64], r: usize, c: usize, v: &[f64]) -> Vec<f64> {
    let mut out = vec![0.0; c];
    for i in 0..r {
        out.iter_mut()
            .zip(&m[i * c..(i + 1) * c])
            .for_each(|(o, w)| *o += w * v[i]);
    }
    out
}

/// M N for M (r x k) and N (k x c), row-major.
fn matmul(m: &[f64], r: usize, k: usize, n: &[f64], c: usize) -> Vec<f64> {
    let mut out = vec![0.0; r * c];
    for i in 0..r {
        for j in 0..k {
            let w = m[i * k + j];
            out[i * c..(i + 1) * c]
                .iter_mut()
                .zip(&n[j * c..(j + 1) * c])
                .for_each(|(o, v)| *o += w * v);
        }
    }
    out
}
