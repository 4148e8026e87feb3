//! The product of a symmetric matrix and one vector, y = A x, register
//! blocked: what a single point's gradient of a Gaussian (y = P (x - mu)
//! up to a constant) and a dense metric's velocity (v = M^-1 p) need.
//!
//! With A symmetric and row-major, y = sum_i x_i A[i, :], so y is built
//! from contiguous rows: a block of 64 outputs stays in eight AVX-512
//! registers (32 in eight AVX2 registers) while every row adds x_i times
//! its slice, one fused multiply-add per element and no horizontal sums
//! (then blocks of 32, 16 and 8, and the last few). For D = 100 on the
//! AMD Zen 4 guest (AVX-512) this takes 0.83 us, against 1.5 us for
//! faer's general product with one column, whose dispatch and packing
//! cost more than the arithmetic at this size.
//! Batches of many points stay matrix products (faer).
//!
//! [`symmetric_matvec_many`] takes several vectors at once, each with the
//! bits [`symmetric_matvec`] gives it alone: every row slice is read once
//! for four vectors, so the product runs nearer the multiply-add units'
//! rate than the L2 cache's (what NUTS's chains in lock-step need, whose
//! trees ask for one gradient each at a time). Both are one kernel, K
//! vectors in blocks of B outputs, its K x B accumulators in at most eight
//! registers of the machine's width ([`widest_block`]).

use crate::simd::dispatch;

/// y = A x for a symmetric `d x d` row-major `a` (only symmetry makes
/// this A x: in general it is x^T A). Every y_j is the sum over i in order
/// of x_i a_ij by fused multiply-adds, so the bits do not depend on the
/// instruction set.
///
/// ```
/// let a = [2.0, 1.0, 1.0, 3.0];
/// let mut y = [0.0; 2];
/// ebm_core::matvec::symmetric_matvec(&a, 2, &[1.0, -1.0], &mut y);
/// assert_eq!(y, [1.0, -2.0]);
/// ```
///
/// # Panics
///
/// When the shapes do not match.
pub fn symmetric_matvec(a: &[f64], d: usize, x: &[f64], y: &mut [f64]) {
    assert!(
        a.len() == d * d && x.len() == d && y.len() == d,
        "symmetric_matvec: shapes"
    );
    vectors::<1>(a, d, x, y);
}

/// Y = A X for the `k = xs.len() / d` vectors in `xs` (row by row, into
/// the rows of `ys`), each row of `ys` the same bits as
/// [`symmetric_matvec`] of its row of `xs` alone: every output is the sum
/// over i in order of x_i a_ij by fused multiply-adds, whatever the
/// number of vectors.
///
/// ```
/// let a = [2.0, 1.0, 1.0, 3.0];
/// let mut ys = [0.0; 4];
/// ebm_core::matvec::symmetric_matvec_many(&a, 2, &[1.0, -1.0, 0.0, 1.0], &mut ys);
/// assert_eq!(ys, [1.0, -2.0, 1.0, 3.0]);
/// ```
///
/// # Panics
///
/// When the shapes do not match.
pub fn symmetric_matvec_many(a: &[f64], d: usize, xs: &[f64], ys: &mut [f64]) {
    assert!(
        a.len() == d * d && xs.len() == ys.len() && (d == 0 || xs.len() % d == 0),
        "symmetric_matvec_many: shapes"
    );
    if d == 0 {
        return;
    }
    let mut rows = xs.chunks_exact(4 * d).zip(ys.chunks_exact_mut(4 * d));
    for (x, y) in &mut rows {
        vectors::<4>(a, d, x, y);
    }
    let done = xs.len() / (4 * d) * 4 * d;
    let (x, y) = (&xs[done..], &mut ys[done..]);
    match x.len() / d {
        3 => vectors::<3>(a, d, x, y),
        2 => vectors::<2>(a, d, x, y),
        1 => vectors::<1>(a, d, x, y),
        _ => {}
    }
}

/// The widest block of outputs for `k` vectors at once: the `k x B`
/// accumulators in eight registers at most, so that they stay in
/// registers beside the row values.
///
/// * AVX-512 (eight doubles a register): 64 outputs for one vector, 16
///   for more (blocks of 32 for four vectors, or of 48 for two, ran at a
///   third of the speed: the compiler no longer kept the accumulators in
///   registers; D = 100: 0.77 us for one vector, 0.27 us a vector for
///   four, Intel guest).
/// * AVX2 (four doubles a register, sixteen registers in all): 32 for
///   one vector, 16 for two, 8 for three or four (D = 100, AMD EPYC
///   Zen 3 guest: one vector 1.2-2.1 us with blocks of 64, four vectors
///   0.89 us a vector with blocks of 16, their accumulators spilled).
fn widest_block(k: usize) -> usize {
    match (crate::simd::has_avx512(), k) {
        (true, 1) => 64,
        (true, _) => 16,
        (false, 1) => 32,
        (false, 2) => 16,
        (false, _) => 8,
    }
}

/// `K` vectors (`K * d` values in `xs`, into `ys`) at once: outputs in
/// blocks of [`widest_block`]`(K)` while they last, then one block each of
/// the narrower widths down to 8, the last few alone ([`tail`]).
fn vectors<const K: usize>(a: &[f64], d: usize, xs: &[f64], ys: &mut [f64]) {
    let widest = widest_block(K);
    dispatch(
        #[inline(always)]
        || match widest {
            64 => blocks::<K, 64>(a, d, xs, ys),
            32 => blocks::<K, 32>(a, d, xs, ys),
            16 => blocks::<K, 16>(a, d, xs, ys),
            _ => blocks::<K, 8>(a, d, xs, ys),
        },
    );
}

/// [`vectors`] with its widest block `W`.
#[inline(always)]
fn blocks<const K: usize, const W: usize>(a: &[f64], d: usize, xs: &[f64], ys: &mut [f64]) {
    let mut j0 = 0;
    while d - j0 >= W {
        block::<K, W>(a, d, xs, j0, ys);
        j0 += W;
    }
    if W > 32 && d - j0 >= 32 {
        block::<K, 32>(a, d, xs, j0, ys);
        j0 += 32;
    }
    if W > 16 && d - j0 >= 16 {
        block::<K, 16>(a, d, xs, j0, ys);
        j0 += 16;
    }
    if W > 8 && d - j0 >= 8 {
        block::<K, 8>(a, d, xs, j0, ys);
        j0 += 8;
    }
    if j0 < d {
        tail::<K>(a, d, xs, j0, ys);
    }
}

/// Outputs `j0..j0 + B` of `K` vectors from every row, the accumulators
/// in registers: each row slice read once for all of them.
#[inline(always)]
fn block<const K: usize, const B: usize>(a: &[f64], d: usize, xs: &[f64], j0: usize, ys: &mut [f64]) {
    let mut acc = [[0.0f64; B]; K];
    let x: [&[f64]; K] = std::array::from_fn(|k| &xs[k * d..(k + 1) * d]);
    for i in 0..d {
        let row: &[f64; B] = a[i * d + j0..i * d + j0 + B].try_into().expect("B values");
        let xi: [f64; K] = std::array::from_fn(|k| x[k][i]);
        for k in 0..K {
            for l in 0..B {
                acc[k][l] = xi[k].mul_add(row[l], acc[k][l]);
            }
        }
    }
    for (k, acc) in acc.iter().enumerate() {
        ys[k * d + j0..k * d + j0 + B].copy_from_slice(acc);
    }
}

/// The last fewer than eight outputs of `K` vectors.
#[inline(always)]
fn tail<const K: usize>(a: &[f64], d: usize, xs: &[f64], j0: usize, ys: &mut [f64]) {
    let w = d - j0;
    let mut acc = [[0.0f64; 8]; K];
    let x: [&[f64]; K] = std::array::from_fn(|k| &xs[k * d..(k + 1) * d]);
    for i in 0..d {
        let row = &a[i * d + j0..i * d + d];
        for k in 0..K {
            for l in 0..w {
                acc[k][l] = x[k][i].mul_add(row[l], acc[k][l]);
            }
        }
    }
    for (k, acc) in acc.iter().enumerate() {
        ys[k * d + j0..(k + 1) * d].copy_from_slice(&acc[..w]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A symmetric `d x d` matrix whose entry (i, j), i >= j, is `f(i, j)`.
    fn symmetric(d: usize, f: impl Fn(usize, usize) -> f64) -> Vec<f64> {
        let mut a = vec![0.0; d * d];
        for i in 0..d {
            for j in 0..=i {
                a[i * d + j] = f(i, j);
                a[j * d + i] = f(i, j);
            }
        }
        a
    }

    #[test]
    fn many_vectors_have_the_bits_of_each_alone() {
        for d in [1, 5, 8, 13, 16, 24, 31, 32, 40, 64, 100] {
            let a = symmetric(d, |i, j| ((i * 29 + j * 11) % 17) as f64 / 9.0 - 0.8);
            for k in 0..=9 {
                let xs: Vec<f64> = (0..k * d).map(|i| (i as f64 * 0.71).cos() * 1.3).collect();
                let mut ys = vec![f64::NAN; k * d];
                symmetric_matvec_many(&a, d, &xs, &mut ys);
                for (x, y) in xs.chunks_exact(d).zip(ys.chunks_exact(d)) {
                    let mut alone = vec![f64::NAN; d];
                    symmetric_matvec(&a, d, x, &mut alone);
                    assert_eq!(y, &alone[..], "d {d}, {k} vectors");
                }
            }
        }
    }

    /// [`blocks`] for `k` vectors with widest block `w`, whatever this
    /// machine's [`widest_block`] would choose.
    fn blocks_of(k: usize, w: usize, a: &[f64], d: usize, xs: &[f64], ys: &mut [f64]) {
        macro_rules! widths {
            ($k:literal) => {
                match w {
                    64 => blocks::<$k, 64>(a, d, xs, ys),
                    32 => blocks::<$k, 32>(a, d, xs, ys),
                    16 => blocks::<$k, 16>(a, d, xs, ys),
                    _ => blocks::<$k, 8>(a, d, xs, ys),
                }
            };
        }
        match k {
            1 => widths!(1),
            2 => widths!(2),
            3 => widths!(3),
            _ => widths!(4),
        }
    }

    /// Every blocking, the AVX-512 machines' and the AVX2 machines', on
    /// any machine: each output is the ordered sum of its terms, so the
    /// choice of block widths changes no bit.
    #[test]
    fn every_block_width_gives_the_ordered_sums() {
        for d in [1, 7, 8, 9, 16, 31, 33, 63, 64, 65, 100, 130] {
            let a = symmetric(d, |i, j| ((i * 23 + j * 19) % 13) as f64 / 5.0 - 1.1);
            for k in 1..=4 {
                let xs: Vec<f64> = (0..k * d).map(|i| (i as f64 * 0.53).cos()).collect();
                for w in [8, 16, 32, 64] {
                    let mut ys = vec![f64::NAN; k * d];
                    blocks_of(k, w, &a, d, &xs, &mut ys);
                    for (x, y) in xs.chunks_exact(d).zip(ys.chunks_exact(d)) {
                        for j in 0..d {
                            let mut want = 0.0f64;
                            for i in 0..d {
                                want = x[i].mul_add(a[i * d + j], want);
                            }
                            assert_eq!(
                                y[j].to_bits(),
                                want.to_bits(),
                                "d {d}, {k} vectors, width {w}, y[{j}]"
                            );
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn matches_the_plain_product_at_every_block_boundary() {
        for d in [1, 7, 8, 9, 16, 31, 63, 64, 65, 100, 127, 130] {
            let a = symmetric(d, |i, j| ((i * 31 + j * 17) % 13) as f64 / 7.0 - 0.9);
            let x: Vec<f64> = (0..d).map(|i| (i as f64 * 0.37).sin()).collect();
            let mut y = vec![f64::NAN; d];
            symmetric_matvec(&a, d, &x, &mut y);
            for j in 0..d {
                // the same terms in the same order, each rounded once
                let mut want = 0.0f64;
                for i in 0..d {
                    want = x[i].mul_add(a[i * d + j], want);
                }
                assert_eq!(y[j], want, "d {d}, y[{j}]");
            }
        }
    }
}
