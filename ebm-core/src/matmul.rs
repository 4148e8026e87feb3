//! Row-major products C = A B with a fixed right-hand factor B, in
//! AVX-512 register tiles: what a batch of Gaussian gradients needs
//! (G = X P for the chains' rows X and the precision P).
//!
//! B is stored once as [`PaddedRhs`]: its rows start on cache lines and
//! are padded with zeros to a multiple of eight values, so that every
//! load of eight values of a row is one aligned AVX-512 load. The product
//! then runs in tiles of up to 8 rows of A by 24 columns of B, 24
//! accumulator registers, each k-step one load of three registers of B's
//! row, eight broadcasts of A's values and 24 fused multiply-adds: the
//! multiply-add units, not the loads, set the pace. The tiles sweep B by
//! panels of 24 columns (all rows of A for one panel), so that a panel
//! (k x 24 values, 19 KB for k = 100) stays in the L1 cache while every
//! row of A passes over it.
//!
//! **The bits are faer's.** Every c_ij is the sum over p = 0, 1, ... in
//! order of a_ip b_pj by fused multiply-adds, starting from zero: what
//! faer's AVX-512 and AVX2 kernels compute for these shapes (one set of
//! accumulators, the depth in one block), so this kernel and faer's
//! product agree to the bit (the tests compare them). Without AVX-512 the
//! product is faer's.
//!
//! On the Intel guest, W2's 32 x 100 x 100 product took 10.1 us through
//! faer (63 GFLOP/s, its microkernel's rows split 48 + 48 + 4) and
//! takes about 6.5 us here (docs/performance.md, "W2's product").
//!
//! ```
//! use ebm_core::matmul::{matmul, PaddedRhs};
//! let b = PaddedRhs::new(&[1.0, 2.0, 3.0, 4.0], 2, 2);
//! let mut c = [0.0; 2];
//! matmul(&[1.0, -1.0], 1, &b, &mut c);
//! assert_eq!(c, [-2.0, -2.0]);
//! ```

use crate::aligned::AlignedVec;

/// Values in one AVX-512 register of f64.
const W: usize = 8;

/// The right-hand factor B (`k x n`) of [`matmul`], its rows on cache
/// lines and padded with zeros to `stride` = n rounded up to a multiple
/// of eight.
#[derive(Clone, Debug)]
pub struct PaddedRhs {
    values: AlignedVec<f64>,
    k: usize,
    n: usize,
    stride: usize,
}

impl PaddedRhs {
    /// B from its `k x n` values, row-major.
    ///
    /// # Panics
    ///
    /// If `b` does not hold `k x n` values.
    pub fn new(b: &[f64], k: usize, n: usize) -> Self {
        assert_eq!(
            b.len(),
            k * n,
            "PaddedRhs: a {k} x {n} matrix of {} values",
            b.len()
        );
        let stride = n.div_ceil(W) * W;
        let mut values = AlignedVec::zeroed(k * stride);
        if n > 0 {
            for (dst, src) in values.chunks_exact_mut(stride).zip(b.chunks_exact(n)) {
                dst[..n].copy_from_slice(src);
            }
        }
        Self { values, k, n, stride }
    }

    /// Rows of B (the product's depth).
    pub fn rows(&self) -> usize {
        self.k
    }

    /// Columns of B (of the product).
    pub fn cols(&self) -> usize {
        self.n
    }
}

/// C = A B for `a` (`m x k`, row-major) and `b` (`k x n`), into `c`
/// (`m x n`, row-major): c_ij = sum over p in order of a_ip b_pj, each
/// term added by a fused multiply-add to a sum that starts at zero (the
/// bits of faer's product; module documentation).
///
/// # Panics
///
/// If `a` does not hold `m x k` values or `c` `m x n`.
pub fn matmul(a: &[f64], m: usize, b: &PaddedRhs, c: &mut [f64]) {
    product(a, m, b, &[], c)
}

/// C = A B - 1 s^T: [`matmul`]'s sums, then s_j subtracted from every
/// c_ij as it is stored (the bits of the product followed by a pass of
/// subtractions; a Gaussian's gradients P x - P mu without that pass).
///
/// # Panics
///
/// As [`matmul`], and if `shift` does not hold `n` values.
pub fn matmul_shifted(a: &[f64], m: usize, b: &PaddedRhs, shift: &[f64], c: &mut [f64]) {
    assert_eq!(
        shift.len(),
        b.n,
        "matmul_shifted: {} shifts for {} columns",
        shift.len(),
        b.n
    );
    product(a, m, b, shift, c)
}

/// [`matmul`] with `shift` empty, [`matmul_shifted`] otherwise.
fn product(a: &[f64], m: usize, b: &PaddedRhs, shift: &[f64], c: &mut [f64]) {
    let (k, n) = (b.k, b.n);
    assert!(
        a.len() == m * k && c.len() == m * n,
        "matmul: a {m} x {k} times {k} x {n} from {} and into {} values",
        a.len(),
        c.len()
    );
    if m == 0 || n == 0 {
        return;
    }
    #[cfg(target_arch = "x86_64")]
    if let Some(simd) = crate::simd::avx512() {
        // through pulp's `WithSimd` (a struct whose method is inlined
        // into the AVX-512 function), not a closure: a closure this big
        // was called through a shim compiled without AVX-512, and every
        // intrinsic in it became a function call (50 times slower)
        let out = Out { c, shift };
        return pulp::Simd::vectorize(simd, Panels { simd, a, m, b, out });
    }
    let a = faer::MatRef::from_row_major_slice(a, m, k);
    let bm = faer::MatRef::from_row_major_slice_with_stride(&b.values, k, n, b.stride);
    let cm = faer::MatMut::from_row_major_slice_mut(c, m, n);
    faer::linalg::matmul::matmul(cm, faer::Accum::Replace, a, bm, 1.0, faer::Par::Seq);
    if !shift.is_empty() {
        for row in c.chunks_exact_mut(n) {
            for (v, s) in row.iter_mut().zip(shift) {
                *v -= s;
            }
        }
    }
}

/// Where a product's tiles go: C, and the values subtracted from each
/// row (none when empty).
#[cfg(target_arch = "x86_64")]
struct Out<'a> {
    c: &'a mut [f64],
    shift: &'a [f64],
}

/// The product's arguments, for [`pulp::Simd::vectorize`].
#[cfg(target_arch = "x86_64")]
struct Panels<'a> {
    simd: pulp::x86::V4,
    a: &'a [f64],
    m: usize,
    b: &'a PaddedRhs,
    out: Out<'a>,
}

#[cfg(target_arch = "x86_64")]
impl pulp::WithSimd for Panels<'_> {
    type Output = ();

    #[inline(always)]
    fn with_simd<S: pulp::Simd>(self, _: S) {
        let Self {
            simd,
            a,
            m,
            b,
            mut out,
        } = self;
        panels(simd, a, m, b, &mut out)
    }
}

/// The panels of up to three registers (24 columns) of B, each swept by
/// every row of A.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
fn panels(simd: pulp::x86::V4, a: &[f64], m: usize, b: &PaddedRhs, c: &mut Out<'_>) {
    let regs = b.stride / W;
    let mut z0 = 0;
    while z0 < regs {
        // the last four registers as two panels of two: a panel of one
        // register does eight broadcasts for eight multiply-adds
        let z = if regs - z0 == 4 { 2 } else { (regs - z0).min(3) };
        match z {
            3 => rows::<3>(simd, a, m, b, z0 * W, c),
            2 => rows::<2>(simd, a, m, b, z0 * W, c),
            _ => rows::<1>(simd, a, m, b, z0 * W, c),
        }
        z0 += z;
    }
}

/// Every row of A over the panel of `Z` registers from column `col0`: in
/// tiles of eight rows, then one of the rest.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
fn rows<const Z: usize>(
    simd: pulp::x86::V4,
    a: &[f64],
    m: usize,
    b: &PaddedRhs,
    col0: usize,
    c: &mut Out<'_>,
) {
    let mut r0 = 0;
    while m - r0 >= 8 {
        tile::<8, Z>(simd, a, r0, b, col0, c);
        r0 += 8;
    }
    match m - r0 {
        7 => tile::<7, Z>(simd, a, r0, b, col0, c),
        6 => tile::<6, Z>(simd, a, r0, b, col0, c),
        5 => tile::<5, Z>(simd, a, r0, b, col0, c),
        4 => tile::<4, Z>(simd, a, r0, b, col0, c),
        3 => tile::<3, Z>(simd, a, r0, b, col0, c),
        2 => tile::<2, Z>(simd, a, r0, b, col0, c),
        1 => tile::<1, Z>(simd, a, r0, b, col0, c),
        _ => {}
    }
}

/// Rows `r0..r0 + R` of C, columns `col0..col0 + 8 Z` (those below n):
/// R x Z accumulators over the whole depth, then stored.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
fn tile<const R: usize, const Z: usize>(
    simd: pulp::x86::V4,
    a: &[f64],
    r0: usize,
    b: &PaddedRhs,
    col0: usize,
    out: &mut Out<'_>,
) {
    use core::arch::x86_64::__m512d;
    let f = simd.avx512f;
    let (k, n) = (b.k, b.n);
    let lhs: [&[f64]; R] = std::array::from_fn(
        #[inline(always)]
        |r| &a[(r0 + r) * k..][..k],
    );
    let mut acc: [[__m512d; Z]; R] = [[f._mm512_setzero_pd(); Z]; R];
    // two steps a turn: half the loop's own instructions
    let mut p = 0;
    while p + 2 <= k {
        step(simd, lhs, b, col0, p, &mut acc);
        step(simd, lhs, b, col0, p + 1, &mut acc);
        p += 2;
    }
    if p < k {
        step(simd, lhs, b, col0, p, &mut acc);
    }
    // Out of the registers in a loop of nothing else, so that the
    // compiler unrolls it and keeps `acc` in registers through the depth
    // loop (stores of variable width here had it spill every accumulator
    // to the stack at every step, 30% slower).
    let mut tile = [[[0.0f64; W]; Z]; R];
    for r in 0..R {
        for z in 0..Z {
            tile[r][z] = pulp::cast(acc[r][z]);
        }
    }
    let width = (n - col0).min(Z * W);
    let shift = out.shift.get(col0..col0 + width);
    for (r, values) in tile.iter().enumerate() {
        let row = &mut out.c[(r0 + r) * n + col0..][..width];
        let values = &values.as_flattened()[..width];
        match shift {
            Some(s) => {
                for ((o, v), s) in row.iter_mut().zip(values).zip(s) {
                    *o = v - s;
                }
            }
            None if width == Z * W => {
                // a copy of fixed size is Z moves, of variable size a
                // call to memmove (6% of the product)
                row.copy_from_slice(&values[..Z * W]);
            }
            None => row.copy_from_slice(values),
        }
    }
}

/// Depth step `p` of a tile: B's row p (Z registers from column
/// `col0`) times each row's value, added into the accumulators.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
fn step<const R: usize, const Z: usize>(
    simd: pulp::x86::V4,
    lhs: [&[f64]; R],
    b: &PaddedRhs,
    col0: usize,
    p: usize,
    acc: &mut [[core::arch::x86_64::__m512d; Z]; R],
) {
    use core::arch::x86_64::__m512d;
    let f = simd.avx512f;
    let row = &b.values[p * b.stride + col0..][..Z * W];
    let bv: [__m512d; Z] = std::array::from_fn(
        #[inline(always)]
        |z| {
            let v: [f64; W] = row[z * W..][..W].try_into().expect("eight values");
            pulp::cast(v)
        },
    );
    for r in 0..R {
        let av = f._mm512_set1_pd(lhs[r][p]);
        for z in 0..Z {
            acc[r][z] = f._mm512_fmadd_pd(av, bv[z], acc[r][z]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn faer_product(a: &[f64], m: usize, b: &[f64], k: usize, n: usize) -> Vec<f64> {
        let mut c = vec![f64::NAN; m * n];
        faer::linalg::matmul::matmul(
            faer::MatMut::from_row_major_slice_mut(&mut c, m, n),
            faer::Accum::Replace,
            faer::MatRef::from_row_major_slice(a, m, k),
            faer::MatRef::from_row_major_slice(b, k, n),
            1.0,
            faer::Par::Seq,
        );
        c
    }

    /// Every tile shape (rows 1..8 and their sums, one to three
    /// registers, partial last registers) against faer's product and the
    /// plain sum, to the bit.
    #[test]
    fn the_bits_of_faer_and_of_the_ordered_sum() {
        for m in [1, 2, 3, 7, 8, 9, 15, 16, 17, 32, 33] {
            for k in [1, 2, 5, 17, 64, 100] {
                for n in [1, 3, 8, 9, 16, 23, 24, 25, 40, 48, 100] {
                    let a: Vec<f64> = (0..m * k).map(|i| (i as f64 * 0.37).sin() * 1.7).collect();
                    let b: Vec<f64> = (0..k * n).map(|i| (i as f64 * 0.61).cos() - 0.2).collect();
                    let mut c = vec![f64::NAN; m * n];
                    matmul(&a, m, &PaddedRhs::new(&b, k, n), &mut c);
                    for i in 0..m {
                        for j in 0..n {
                            let mut want = 0.0f64;
                            for p in 0..k {
                                want = a[i * k + p].mul_add(b[p * n + j], want);
                            }
                            assert_eq!(c[i * n + j], want, "{m} x {k} x {n}: c[{i}, {j}]");
                        }
                    }
                    if m * n * k > 4096 {
                        // faer's own kernels above its small-product path
                        assert_eq!(c, faer_product(&a, m, &b, k, n), "{m} x {k} x {n} against faer");
                    }
                }
            }
        }
    }

    #[test]
    fn shifted_is_the_product_then_the_subtraction() {
        for (m, k, n) in [(1, 3, 1), (9, 17, 23), (32, 100, 100), (5, 8, 48)] {
            let a: Vec<f64> = (0..m * k).map(|i| (i as f64 * 0.29).sin()).collect();
            let b: Vec<f64> = (0..k * n).map(|i| (i as f64 * 0.43).cos()).collect();
            let s: Vec<f64> = (0..n).map(|j| j as f64 * 0.37 - 2.0).collect();
            let b = PaddedRhs::new(&b, k, n);
            let (mut want, mut got) = (vec![f64::NAN; m * n], vec![f64::NAN; m * n]);
            matmul(&a, m, &b, &mut want);
            for row in want.chunks_exact_mut(n) {
                for (v, s) in row.iter_mut().zip(&s) {
                    *v -= s;
                }
            }
            matmul_shifted(&a, m, &b, &s, &mut got);
            assert_eq!(got, want, "{m} x {k} x {n}");
        }
    }

    #[test]
    fn empty_shapes_write_nothing() {
        let b = PaddedRhs::new(&[], 0, 3);
        let mut c = [f64::NAN; 6];
        matmul(&[], 2, &b, &mut c);
        assert_eq!(c, [0.0; 6]);
        let b = PaddedRhs::new(&[], 4, 0);
        matmul(&[1.0; 8], 2, &b, &mut []);
    }
}
