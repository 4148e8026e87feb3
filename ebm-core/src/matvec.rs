//! The product of a symmetric matrix and one vector, y = A x, register
//! blocked: what a single point's gradient of a Gaussian (y = P (x - mu)
//! up to a constant) and a dense metric's velocity (v = M^-1 p) need.
//!
//! With A symmetric and row-major, y = sum_i x_i A[i, :], so y is built
//! from contiguous rows: a block of 64 outputs stays in eight AVX-512
//! registers while every row adds x_i times its slice, one fused
//! multiply-add per element and no horizontal sums (then blocks of 32, 16
//! and 8, and the last few). For D = 100 on the AMD guest this takes
//! 0.83 us, against 1.5 us for faer's general product with one column,
//! whose dispatch and packing cost more than the arithmetic at this size.
//! Batches of many points stay matrix products (faer).
//!
//! [`symmetric_matvec_many`] takes several vectors at once, each with the
//! bits [`symmetric_matvec`] gives it alone: every row slice is read once
//! for four vectors, so the product runs nearer the multiply-add units'
//! rate than the L2 cache's (what NUTS's chains in lock-step need, whose
//! trees ask for one gradient each at a time).

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
    dispatch(
        #[inline(always)]
        || {
            let mut j0 = 0;
            while d - j0 >= 64 {
                block::<64>(a, d, x, j0, y);
                j0 += 64;
            }
            if d - j0 >= 32 {
                block::<32>(a, d, x, j0, y);
                j0 += 32;
            }
            if d - j0 >= 16 {
                block::<16>(a, d, x, j0, y);
                j0 += 16;
            }
            if d - j0 >= 8 {
                block::<8>(a, d, x, j0, y);
                j0 += 8;
            }
            if j0 < d {
                tail(a, d, x, j0, y);
            }
        },
    );
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
        many::<4>(a, d, x, y);
    }
    let done = xs.len() / (4 * d) * 4 * d;
    let (x, y) = (&xs[done..], &mut ys[done..]);
    match x.len() / d {
        3 => many::<3>(a, d, x, y),
        2 => many::<2>(a, d, x, y),
        1 => symmetric_matvec(a, d, x, y),
        _ => {}
    }
}

/// `K` vectors (`K * d` values in `xs`) at once: outputs in blocks of 16
/// (`K` x 2 AVX-512 accumulators), then 8, the last few for each vector
/// alone. (Blocks of 32 for four vectors, or of 48 for two, ran at a
/// third of the speed: the compiler no longer kept the accumulators in
/// registers. For D = 100 and four vectors, 0.27 us a vector against 0.77
/// for one at a time, Intel guest.)
fn many<const K: usize>(a: &[f64], d: usize, xs: &[f64], ys: &mut [f64]) {
    dispatch(
        #[inline(always)]
        || {
            let mut j0 = 0;
            while d - j0 >= 16 {
                block_many::<K, 16>(a, d, xs, j0, ys);
                j0 += 16;
            }
            if d - j0 >= 8 {
                block_many::<K, 8>(a, d, xs, j0, ys);
                j0 += 8;
            }
            if j0 < d {
                tail_many::<K>(a, d, xs, j0, ys);
            }
        },
    );
}

/// Outputs `j0..j0 + B` of `K` vectors from every row: each row slice
/// read once for all of them.
#[inline(always)]
fn block_many<const K: usize, const B: usize>(a: &[f64], d: usize, xs: &[f64], j0: usize, ys: &mut [f64]) {
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

/// The last fewer than eight outputs of `K` vectors, as [`tail`] gives
/// each alone.
#[inline(always)]
fn tail_many<const K: usize>(a: &[f64], d: usize, xs: &[f64], j0: usize, ys: &mut [f64]) {
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

/// Outputs `j0..j0 + B` from every row, the accumulators in registers
/// (eight AVX-512 registers at most: a wider array of accumulators, or one
/// pass over all outputs with rows padded to a multiple of eight, was
/// measured slower, its accumulators spilled to the stack).
#[inline(always)]
fn block<const B: usize>(a: &[f64], d: usize, x: &[f64], j0: usize, y: &mut [f64]) {
    let mut acc = [0.0f64; B];
    for (i, &xi) in x.iter().enumerate() {
        let row: &[f64; B] = a[i * d + j0..i * d + j0 + B].try_into().expect("B values");
        for l in 0..B {
            acc[l] = xi.mul_add(row[l], acc[l]);
        }
    }
    y[j0..j0 + B].copy_from_slice(&acc);
}

/// The last fewer than eight outputs.
#[inline(always)]
fn tail(a: &[f64], d: usize, x: &[f64], j0: usize, y: &mut [f64]) {
    let w = d - j0;
    let mut acc = [0.0f64; 8];
    for (i, &xi) in x.iter().enumerate() {
        let row = &a[i * d + j0..i * d + d];
        for l in 0..w {
            acc[l] = xi.mul_add(row[l], acc[l]);
        }
    }
    y[j0..].copy_from_slice(&acc[..w]);
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
