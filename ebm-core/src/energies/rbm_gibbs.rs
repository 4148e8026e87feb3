//! The Bernoulli RBM's Gibbs conditionals, written once for every kernel
//! that samples or trains an [`Rbm`](super::Rbm): the block-Gibbs sweep
//! of `ebm-samplers` (Gibbs sampling and AIS, sixteen chains in SIMD lanes),
//! the persistent chains of PCD training in `ebm-estimators`, and the
//! model's own [`Rbm::hidden_input`](super::Rbm::hidden_input).
//!
//! A layer's conditional is p(u = 1 | other layer) = sigmoid(x) with the
//! input x = bias + (the other layer) . (its weights): for the hiddens
//! x_j = c_j + (v^T W)_j, for the visibles x_i = b_i + (W h)_i.
//!
//! * The input of a layer is a sum of the rows of the weight matrix whose
//!   unit is on, in unit order ([`add_rows`] over the list [`active`]
//!   makes; [`layer_input`] from a dense state): binary states cost one
//!   addition per active row and column, and 1 x w is exact, so the sum is
//!   the same as the full product's.
//! * A unit is drawn from its input by the binary units' one rule,
//!   [`crate::bernoulli`] (e = e^-|x|, sigmoid(x) from e, and the
//!   division-free test of a 32-bit word).
//!
//! Every function is `#[inline(always)]`: it compiles with the
//! instruction set of the caller's [`crate::simd::dispatch`].

use crate::host_float::HostFloat;

/// The indices of the units of `x` that are not 0, at the front of `on`
/// (at least as long as `x`); returns how many. Each 64 units become a bit
/// mask (a vectorised comparison), whose set bits are then read off one by
/// one, so the work follows the units that are on.
#[inline(always)]
pub fn active<F: HostFloat>(x: &[F], on: &mut [usize]) -> usize {
    let mut n = 0;
    for (w, chunk) in x.chunks(64).enumerate() {
        let mut mask = 0u64;
        for (i, &v) in chunk.iter().enumerate() {
            mask |= ((v != F::zero()) as u64) << i;
        }
        for_each_set_bit(&[mask], |b| {
            on[n] = w * 64 + b;
            n += 1;
        });
    }
    n
}

/// Calls `f` with the index of every set bit of the bit set `words` (bit
/// b of word k is index 64 k + b), in increasing order: each word's
/// lowest set bit, then the word with that bit cleared, so the work
/// follows the bits that are set.
#[inline(always)]
pub fn for_each_set_bit(words: &[u64], mut f: impl FnMut(usize)) {
    for (k, &w) in words.iter().enumerate() {
        let mut m = w;
        while m != 0 {
            f(k * 64 + m.trailing_zeros() as usize);
            m &= m - 1;
        }
    }
}

/// The input of a layer: `out = base + sum_k vals_k m[on_k, ..]` over the
/// rows `on` of the row-major `m` (rows as long as `out`; `vals` None
/// means all 1, a plain sum), the rows added in order onto the bias. In
/// blocks of 64 columns (eight f64 registers of sums, or four f32 ones,
/// independent of each other), then of 8, then one by one.
#[inline(always)]
pub fn add_rows<F: HostFloat>(base: &[F], m: &[F], on: &[usize], vals: Option<&[F]>, out: &mut [F]) {
    let n = out.len();
    let mut j0 = 0;
    while j0 + 64 <= n {
        add_rows_block::<F, 64>(base, m, on, vals, out, j0);
        j0 += 64;
    }
    while j0 + 8 <= n {
        add_rows_block::<F, 8>(base, m, on, vals, out, j0);
        j0 += 8;
    }
    while j0 < n {
        add_rows_block::<F, 1>(base, m, on, vals, out, j0);
        j0 += 1;
    }
}

/// Columns `j0..j0 + B` of [`add_rows`].
#[inline(always)]
fn add_rows_block<F: HostFloat, const B: usize>(
    base: &[F],
    m: &[F],
    on: &[usize],
    vals: Option<&[F]>,
    out: &mut [F],
    j0: usize,
) {
    let n = out.len();
    let mut acc: [F; B] = base[j0..j0 + B].try_into().expect("block");
    match vals {
        Some(vals) => {
            for (&i, &val) in on.iter().zip(vals) {
                let row: &[F; B] = m[i * n + j0..][..B].try_into().expect("block");
                for t in 0..B {
                    acc[t] = val.mul_add(row[t], acc[t]);
                }
            }
        }
        None => {
            for &i in on {
                let row: &[F; B] = m[i * n + j0..][..B].try_into().expect("block");
                for t in 0..B {
                    acc[t] = acc[t] + row[t];
                }
            }
        }
    }
    out[j0..j0 + B].copy_from_slice(&acc);
}

/// The input of a layer from the dense state `x` of the other one:
/// `out = base + x^T m` ([`add_rows`] over the units of `x` that are on;
/// a plain sum when they are all 1, so binary states give exact products).
/// `on` and `vals` are scratch as long as `x`; returns the number of
/// units on, whose indices and values are left at the front of `on` and
/// `vals`, and whether they were all 1.
#[inline(always)]
pub fn layer_input<F: HostFloat>(
    base: &[F],
    m: &[F],
    x: &[F],
    on: &mut [usize],
    vals: &mut [F],
    out: &mut [F],
) -> (usize, bool) {
    let k = active(x, on);
    let (on, vals) = (&on[..k], &mut vals[..k]);
    for (val, &i) in vals.iter_mut().zip(on) {
        *val = x[i];
    }
    let binary = vals.iter().all(|&v| v == F::one());
    add_rows(base, m, on, if binary { None } else { Some(&*vals) }, out);
    (k, binary)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// layer_input matches the naive base + x^T m, exactly for 0/1 states.
        #[test]
        fn layer_input_is_the_product(rows in 1usize..140, cols in 1usize..80, seed: u64, binary: bool) {
            let mut s = seed;
            let mut next = || { s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407); (s >> 11) as f64 / (1u64 << 53) as f64 };
            let m: Vec<f64> = (0..rows * cols).map(|_| next() - 0.5).collect();
            let base: Vec<f64> = (0..cols).map(|_| next() - 0.5).collect();
            let x: Vec<f64> = (0..rows).map(|_| { let u = next(); if u < 0.5 { 0.0 } else if binary { 1.0 } else { u } }).collect();
            let (mut on, mut vals, mut out) = (vec![0; rows], vec![0.0; rows], vec![0.0; cols]);
            let (k, all_ones) = layer_input(&base, &m, &x, &mut on, &mut vals, &mut out);
            prop_assert_eq!(k, x.iter().filter(|&&v| v != 0.0).count());
            prop_assert_eq!(all_ones, x.iter().all(|&v| v == 0.0 || v == 1.0));
            for j in 0..cols {
                let mut want = base[j];
                for i in 0..rows {
                    if x[i] != 0.0 { want = x[i].mul_add(m[i * cols + j], want); }
                }
                if binary {
                    prop_assert_eq!(out[j].to_bits(), want.to_bits());
                } else {
                    prop_assert!((out[j] - want).abs() < 1e-12);
                }
            }
        }
    }
}
