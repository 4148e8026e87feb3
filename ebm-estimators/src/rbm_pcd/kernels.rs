//! The loops of a PCD step that are PCD's own, generic over the float `F`
//! (f64 or f32): the hidden layer's mean and free energy in one pass and
//! the weight update W + scale G (the transpose of W after it is
//! [`ebm_core::transpose`]). The conditionals are the
//! RBM's one set: row sums over the units that are on in
//! [`ebm_core::energies::rbm_gibbs`], e^-|x|, sigmoids and Bernoulli
//! draws from 32-bit words in [`ebm_core::bernoulli`].
//! All are `#[inline(always)]` so that they compile inside the caller's
//! [`ebm_core::simd::dispatch`] with its instruction set.

use super::stats::Stats;
use crate::trainable::Real;
use ebm_core::bernoulli::{sigmoid_of, weight_of};
use ebm_core::energies::rbm_gibbs::add_rows;
use ebm_core::fast_ln::ln;

/// W' = W + scale G into `out` (V x H, rows of `nh`), each block of a row
/// of G gathered in registers ([`Stats::g_block`]); returns whether `out`
/// is finite and the squared norm of G, summed by columns in blocks of
/// 64, 8 and 1 (lane j - j0 of a block), then over the lanes. Finiteness
/// is summed in the same lanes as 0 x out (0 for a finite value, NaN for
/// an infinite or NaN one) while the values are in registers: a pass of
/// its own over `out` had cost a quarter of the update.
#[inline(always)]
pub(super) fn update_rows<F: Real>(
    w: &[F],
    st: &Stats<F>,
    nh: usize,
    scale: F,
    out: &mut [F],
) -> (bool, f64) {
    let (mut sq, mut probe) = ([F::zero(); 64], [F::zero(); 64]);
    for (i, (wr, or)) in w.chunks_exact(nh).zip(out.chunks_exact_mut(nh)).enumerate() {
        let mut j0 = 0;
        while j0 + 64 <= nh {
            update_block::<F, 64>(wr, st, i, scale, or, j0, &mut sq, &mut probe);
            j0 += 64;
        }
        while j0 + 8 <= nh {
            update_block::<F, 8>(wr, st, i, scale, or, j0, &mut sq, &mut probe);
            j0 += 8;
        }
        while j0 < nh {
            update_block::<F, 1>(wr, st, i, scale, or, j0, &mut sq, &mut probe);
            j0 += 1;
        }
    }
    let finite = probe.iter().all(|&p| p == F::zero());
    (finite, sq.iter().map(|v| v.f64()).sum())
}

/// Columns `j0..j0 + B` of row `i` of [`update_rows`].
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn update_block<F: Real, const B: usize>(
    w: &[F],
    st: &Stats<F>,
    i: usize,
    scale: F,
    out: &mut [F],
    j0: usize,
    sq: &mut [F; 64],
    probe: &mut [F; 64],
) {
    let gb = st.g_block::<B>(i, j0);
    let (wb, ob) = (&w[j0..j0 + B], &mut out[j0..j0 + B]);
    for t in 0..B {
        ob[t] = scale.mul_add(gb[t], wb[t]);
        sq[t] = gb[t].mul_add(gb[t], sq[t]);
        probe[t] = ob[t].mul_add(F::zero(), probe[t]);
    }
}

/// The hidden layer given v, from the units of v that are on and their
/// values (`None`: all 1): the inputs x = c + v^T W into `x` (a sum of
/// those rows of W, in order), e = e^-|x| into `e`, the mean hiddens
/// sigmoid(x) into `mean`; returns the free energy
/// F(v) = -b.v - sum_j softplus(c_j + (v^T W)_j), the log-terms summed as
/// in [`softplus_sum_and_sigmoid`].
#[inline(always)]
#[allow(clippy::too_many_arguments)]
pub(super) fn layer_up<F: Real>(
    on: &[usize],
    vals: Option<&[F]>,
    w: &[F],
    c: &[F],
    b: &[F],
    x: &mut [F],
    e: &mut [F],
    mean: &mut [F],
) -> f64 {
    add_rows(c, w, on, vals, x);
    let mut bv = F::zero();
    match vals {
        Some(vals) => {
            for (&i, &val) in on.iter().zip(vals) {
                bv = val.mul_add(b[i], bv);
            }
        }
        None => {
            for &i in on {
                bv += b[i];
            }
        }
    }
    let sp = softplus_sum_and_sigmoid(x, e, mean);
    -bv.f64() - sp
}

/// Returns sum_j softplus(x_j) (in f64) and writes e_j = e^-|x_j| into `e`
/// and sigmoid(x_j) into `mean` (both as long as `x`):
/// softplus(x) = max(x, 0) + ln(1 + e). The sums run in eight lanes (unit
/// j in lane j mod 8) and the log-terms as the ln (in f64) of each lane's
/// product of up to 32 factors 1 + e in (1, 2], so one vector ln serves
/// 256 units.
#[inline(always)]
pub(super) fn softplus_sum_and_sigmoid<F: Real>(x: &[F], e: &mut [F], mean: &mut [F]) -> f64 {
    const L: usize = 8;
    const BLOCK: usize = 32 * L;
    let n = x.len();
    let (e, mean) = (&mut e[..n], &mut mean[..n]);
    for j in 0..n {
        e[j] = weight_of(x[j]);
    }
    let mut lin = [F::zero(); L];
    let mut logs = [0.0f64; L];
    let mut b0 = 0;
    while b0 < n {
        let b1 = (b0 + BLOCK).min(n);
        let mut prod = [F::one(); L];
        let (xs, es) = (&x[b0..b1], &e[b0..b1]);
        let full = xs.len() / L * L;
        for (xc, ec) in xs[..full].chunks_exact(L).zip(es[..full].chunks_exact(L)) {
            for l in 0..L {
                lin[l] += xc[l].max(F::zero());
                prod[l] *= F::one() + ec[l];
            }
        }
        for (l, (xv, ev)) in xs[full..].iter().zip(&es[full..]).enumerate() {
            lin[l] += xv.max(F::zero());
            prod[l] *= F::one() + *ev;
        }
        for l in 0..L {
            logs[l] += ln(prod[l].f64());
        }
        b0 = b1;
    }
    for j in 0..n {
        mean[j] = sigmoid_of(x[j], e[j]);
    }
    let mut sp = 0.0;
    for l in 0..L {
        sp += lin[l].f64() + logs[l];
    }
    sp
}
