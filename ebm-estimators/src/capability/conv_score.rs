//! The score capability of the convolutional energy: the parameter
//! gradient of a loss on the scores by a forward-mode pass through the
//! network and a reverse pass back over it (reverse over forward).
//!
//! For L = sum_i l_i(s_i) with s = -grad_x E and v_i = dl_i/ds_i (held
//! fixed), grad_theta L = -grad_theta sum_i v_i . grad_x E(x_i), and
//! v . grad_x E is the directional derivative of E along v: a tangent
//! T_0 = -v carried forward beside the activations,
//!
//! U_l = cols(T_{l-1}) W_l^T,   T_l = act'(Z_l) * U_l,   F = w . T_L,
//!
//! and grad_theta of sum_i F_i by the reverse pass over both, with the
//! adjoints T'_L = w, A'_L = 0 and, going down,
//!
//! U'_l = T'_l * act'(Z_l),   Z'_l = T'_l * U_l * act''(Z_l) + A'_l * act'(Z_l),
//! dW_l += U'_l^T cols(T_{l-1}) + Z'_l^T cols(A_{l-1}),   db_l += sums of Z'_l,
//! T'_{l-1} = col2im(U'_l W_l),   A'_{l-1} = col2im(Z'_l W_l),
//!
//! and dw += sum_i T_L,i (db of the final layer: 0). The scores come first
//! from the ordinary backward pass. Every product is one faer call over
//! the part's images; checked against finite differences of the loss in
//! `tests/conv_energy.rs`.

use super::traits::ScoreLoss;
use ebm_core::energies::conv::pass::{self, PassFloat, Weights};
use ebm_core::energies::ConvNet;

/// L = sum_i loss.row(first + i, s(x_i)) over the images `x` (rows
/// `first..` of the batch, channel-major), with grad_theta L added into
/// `grads` (the layout of [`ConvNet::params`]); returns L.
pub(super) fn score_loss_grad<T: PassFloat>(
    net: &ConvNet,
    weights: &Weights<T>,
    x: &[f64],
    first: usize,
    loss: &dyn ScoreLoss,
    grads: &mut [Vec<f64>],
) -> f64 {
    let geo = net.geometry();
    let d = geo.dim();
    let n = x.len() / d;
    T::with_workspace(|ws| {
        pass::to_position_major(geo, x, &mut ws.scratch.x);
        pass::forward(
            geo,
            weights,
            net.activation(),
            &ws.scratch.x,
            n,
            true,
            &mut ws.trace,
        );
        let ones = vec![1.0; n];
        pass::backward(geo, weights, &ws.trace, &ones, None, true, &mut ws.scratch);
        // the scores, the loss rows and the tangent -v (channel-major f64)
        let mut scores = vec![0.0; n * d];
        pass::to_channel_major(geo, &ws.scratch.delta, -1.0, &mut scores);
        let mut total = 0.0;
        let mut tangent = vec![0.0; n * d];
        for (i, (s, v)) in scores
            .chunks_exact(d)
            .zip(tangent.chunks_exact_mut(d))
            .enumerate()
        {
            total += loss.row(first + i, s, v);
            v.iter_mut().for_each(|a| *a = -*a);
        }
        reverse_over_forward(net, weights, &ws.trace, &tangent, grads);
        total
    })
}

/// The tangent pass from T_0 = `tangent` (channel-major rows) and the
/// reverse pass over it and the forward `trace` (second order), adding
/// grad_theta sum_i w . T_L,i into `grads`.
fn reverse_over_forward<T: PassFloat>(
    net: &ConvNet,
    weights: &Weights<T>,
    trace: &pass::Trace<T>,
    tangent: &[f64],
    grads: &mut [Vec<f64>],
) {
    let geo = net.geometry();
    let (d, depth) = (geo.dim(), geo.layers.len());
    let n = tangent.len() / d;
    // forward in the tangent
    let mut t = Vec::new();
    pass::to_position_major(geo, tangent, &mut t);
    let mut tcols = Vec::with_capacity(depth);
    let mut us = Vec::with_capacity(depth);
    for (l, g) in geo.layers.iter().enumerate() {
        let mut cols = Vec::new();
        pass::im2col(geo, l, &t, n, &mut cols);
        let mut u = Vec::new();
        pass::conv_product(&cols, &weights.convs[l], None, g.c_out, &mut u);
        t.clear();
        t.extend(u.iter().zip(&trace.slopes[l]).map(|(&a, &s)| a * s));
        tcols.push(cols);
        us.push(u);
    }
    // the final layer: dw += sum_i T_L,i (reordered to channel-major)
    let last = geo.layers[depth - 1];
    let p = last.h_out * last.w_out;
    let per_image = p * last.c_out;
    let mut sums = vec![0.0; per_image];
    for row in t.chunks_exact(per_image) {
        for (s, v) in sums.iter_mut().zip(row) {
            *s += v.f64();
        }
    }
    for q in 0..p {
        for c in 0..last.c_out {
            grads[2 * depth][c * p + q] += sums[q * last.c_out + c];
        }
    }
    // reverse over both passes
    let mut t_bar: Vec<T> = Vec::with_capacity(t.len());
    (0..n).for_each(|_| t_bar.extend_from_slice(&weights.linear));
    let mut a_bar: Option<Vec<T>> = None;
    let (mut u_bar, mut z_bar, mut scratch, mut dcols) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for l in (0..depth).rev() {
        let g = &geo.layers[l];
        let (s1, s2) = (&trace.slopes[l], &trace.curvatures[l]);
        u_bar.clear();
        u_bar.extend(t_bar.iter().zip(s1).map(|(&a, &s)| a * s));
        z_bar.clear();
        z_bar.extend(t_bar.iter().zip(&us[l]).zip(s2).map(|((&a, &u), &c)| a * u * c));
        if let Some(ab) = &a_bar {
            for ((z, &a), &s) in z_bar.iter_mut().zip(ab).zip(s1) {
                *z += a * s;
            }
        }
        pass::add_weight_grad(g, &u_bar, &tcols[l], &mut scratch, &mut grads[2 * l]);
        pass::add_weight_grad(g, &z_bar, &trace.cols[l], &mut scratch, &mut grads[2 * l]);
        pass::add_bias_grad(&z_bar, &mut grads[2 * l + 1]);
        if l > 0 {
            pass::back_product(&u_bar, &weights.convs[l], g.c_out, &mut dcols);
            pass::col2im(geo, l, &dcols, n, &mut t_bar);
            let mut next = Vec::new();
            pass::back_product(&z_bar, &weights.convs[l], g.c_out, &mut dcols);
            pass::col2im(geo, l, &dcols, n, &mut next);
            a_bar = Some(next);
        }
    }
}
