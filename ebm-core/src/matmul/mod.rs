//! Row-major products C = A B with a fixed right-hand factor B, in
//! register tiles: what a batch of Gaussian gradients needs (G = X P for
//! the chains' rows X and the precision P).
//!
//! B is stored once as [`PaddedRhs`]: its rows start on cache lines and
//! are padded with zeros to a multiple of eight values (and a cache line
//! more where a row would be a multiple of 512 bytes: [`padded_stride`]),
//! so that every load of a register's worth of a row is aligned. The
//! product then runs in tiles ([`tiles`]) of up to R rows of A by three
//! registers of B's columns, 3R accumulator registers, each k-step one
//! load of three registers of B's row, R broadcasts of A's values and 3R
//! fused multiply-adds: the multiply-add units, not the loads, set the
//! pace. AVX-512 runs 8 rows by 24 columns (24 of its 32 registers), AVX2
//! 4 rows by 12 columns (12 of 16, faer's own AVX2 tile). The tiles sweep
//! B by panels of three registers' columns (all rows of A for one
//! panel), so that a panel (k x 24 values, 19 KB for k = 100) stays in
//! the L1 cache while every row of A passes over it. With AVX2, products
//! deeper than 256 go to faer, whose packing and depth blocking win
//! there.
//!
//! **The bits are faer's.** Every c_ij is the sum over p = 0, 1, ... in
//! order of a_ip b_pj by fused multiply-adds, starting from zero: what
//! faer's AVX-512 and AVX2 kernels compute (one set of accumulators, the
//! depth in one block up to 512), so this kernel and faer's product agree
//! to the bit (the tests compare them) for every product of more than
//! 16^3 multiply-adds; below that faer has kernels of its own that sum
//! in other orders. A row's values never depend on the other rows, so a
//! batch's rows have the same bits whatever the batch. Without AVX2 the
//! product is faer's.
//!
//! On the Intel guest, W2's 32 x 100 x 100 product took 10.1 us through
//! faer (63 GFLOP/s, its microkernel's rows split 48 + 48 + 4) and
//! takes 7.8 us here (docs/performance.md, "W2 and W5 through one product
//! kernel"). On the AMD Zen 3 guest (AVX2) the tiles match faer's speed
//! (42-46 GFLOP/s, 82-90% of the 51 GFLOP/s a core's multiply-adds reach
//! in `ebm suite --roofline`'s kernel) and gain by the fused kick and
//! drift ([`kick_drift`]).
//!
//! ```
//! use ebm_core::matmul::{matmul, PaddedRhs};
//! let b = PaddedRhs::new(&[1.0, 2.0, 3.0, 4.0], 2, 2);
//! let mut c = [0.0; 2];
//! matmul(&[1.0, -1.0], 1, &b, &mut c);
//! assert_eq!(c, [-2.0, -2.0]);
//! ```

use crate::aligned::AlignedVec;
use tiles::{Out, Panels};

#[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
mod tiles;

/// Values in one AVX-512 register of f64 (two AVX2 registers): rows of
/// B are padded to a multiple of it.
const W: usize = 8;

/// The right-hand factor B (`k x n`) of [`matmul`], its rows on cache
/// lines and padded with zeros to `stride` values ([`padded_stride`]: n
/// rounded up to a multiple of eight, plus eight where that is a multiple
/// of 64).
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
        let stride = padded_stride(n);
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

    /// B as a [`Rhs`].
    pub fn view(&self) -> Rhs<'_> {
        Rhs {
            values: &self.values,
            k: self.k,
            n: self.n,
            stride: self.stride,
        }
    }
}

/// The values a row of B takes in a [`PaddedRhs`]: n rounded up to a
/// multiple of eight, and eight more where that is a multiple of 64 (a
/// multiple of 512 bytes). Rows 2^j bytes apart fall into the same few
/// sets of the L1 cache, and a tile's panel (its columns of every row)
/// then evicts itself: 32 x 256 x 256 ran at 34 GFLOP/s with 256 values
/// a row and at 39 with 264 (AVX2, AMD Zen 3; 128^3 38 against 45).
fn padded_stride(n: usize) -> usize {
    let stride = n.div_ceil(W) * W;
    if stride % (8 * W) == 0 {
        stride + W
    } else {
        stride
    }
}

/// The right-hand factor B (`k x n`) of [`product`]: row p at
/// `values[p stride..]`, with `stride` a multiple of eight, so that the
/// product reads each row in whole registers (n rounded up to eight
/// values; the values past n only feed columns it does not store). Rows
/// that start on cache lines (an [`AlignedVec`]) are read fastest.
#[derive(Clone, Copy, Debug)]
pub struct Rhs<'a> {
    values: &'a [f64],
    k: usize,
    n: usize,
    stride: usize,
}

impl<'a> Rhs<'a> {
    /// B (`k x n`) stored row-major at `stride` values a row.
    ///
    /// # Panics
    ///
    /// If `stride` is not a multiple of eight at least n, or `values`
    /// holds fewer than `k x stride` values.
    pub fn new(values: &'a [f64], k: usize, n: usize, stride: usize) -> Self {
        assert!(
            stride % W == 0 && stride >= n && values.len() >= k * stride,
            "Rhs: a {k} x {n} matrix at stride {stride} (a multiple of {W}, at least {n}) in {} values",
            values.len()
        );
        Self { values, k, n, stride }
    }
}

/// The left-hand factor A (`m x k`) of [`product`], row-major.
#[derive(Clone, Copy, Debug)]
pub struct Lhs<'a> {
    values: &'a [f64],
    m: usize,
    k: usize,
}

impl<'a> Lhs<'a> {
    /// A (`m x k`) from its values row-major: a_ip = `values[i k + p]`.
    ///
    /// # Panics
    ///
    /// If `values` does not hold `m x k` values.
    pub fn rows(values: &'a [f64], m: usize, k: usize) -> Self {
        assert_eq!(
            values.len(),
            m * k,
            "Lhs: a {m} x {k} matrix of {} values",
            values.len()
        );
        Self { values, m, k }
    }
}

/// What [`product`] does with each sum s_ij of C's row-major `m x n`
/// values.
#[derive(Clone, Copy, Debug)]
pub enum Store<'a> {
    /// c_ij = s_ij.
    Replace,
    /// c_ij = s_ij - t_j for the `n` values t (a Gaussian's P x - P mu).
    Shift(&'a [f64]),
}

/// C = A B for `a` (`m x k`, row-major) and `b` (`k x n`), into `c`
/// (`m x n`, row-major): [`product`] with [`Store::Replace`].
///
/// # Panics
///
/// If `a` does not hold `m x k` values or `c` `m x n`.
pub fn matmul(a: &[f64], m: usize, b: &PaddedRhs, c: &mut [f64]) {
    product(c, Store::Replace, Lhs::rows(a, m, b.k), b.view())
}

/// The sums s_ij = sum over p in order of a_ip b_pj, each term added by a
/// fused multiply-add to a sum that starts at zero (the bits of faer's
/// product; module documentation), stored into C (`m x n`, row-major)
/// as `store` says.
///
/// # Panics
///
/// If the depths of `a` and `b` differ, `c` does not hold `m x n` values,
/// or a [`Store::Shift`] does not hold n.
pub fn product(c: &mut [f64], store: Store<'_>, a: Lhs<'_>, b: Rhs<'_>) {
    let (m, k, n) = (a.m, b.k, b.n);
    assert!(
        a.k == k && c.len() == m * n,
        "product: a {m} x {} times {k} x {n} into {} values",
        a.k,
        c.len()
    );
    if let Store::Shift(t) = store {
        assert_eq!(t.len(), n, "product: {} shifts for {n} columns", t.len());
    }
    if m == 0 || n == 0 {
        return;
    }
    let Some(Out::Store(c, store)) = through_tiles(a, b, Out::Store(c, store)) else {
        return;
    };
    let am = faer::MatRef::from_row_major_slice(a.values, m, k);
    let bm = faer::MatRef::from_row_major_slice_with_stride(&b.values[..k * b.stride], k, n, b.stride);
    let cm = faer::MatMut::from_row_major_slice_mut(c, m, n);
    faer::linalg::matmul::matmul(cm, faer::Accum::Replace, am, bm, 1.0, faer::Par::Seq);
    if let Store::Shift(t) = store {
        for row in c.chunks_exact_mut(n) {
            for (v, t) in row.iter_mut().zip(t) {
                *v -= t;
            }
        }
    }
}

/// One leapfrog kick and drift of unit-mass Hamiltonian dynamics fused
/// into the product that gives the gradients: for the rows X (`m x d`,
/// row-major, `x`) and g_ij = s_ij - t_j with s = X B (B `d x d`, the
/// sums of [`product`]) and the `d` shifts t,
///
/// p_ij <- p_ij - eps g_ij, then y_ij = x_ij + eps p_ij,
///
/// each value rounded as those two lines say (the multiplications, then
/// the subtraction and the addition), so that the result is to the bit
/// that of [`product`] with [`Store::Shift`] followed by the two loops.
/// With AVX-512 or AVX2 each tile of the product is kicked and drifted as it
/// leaves the registers (the gradients never reach memory, and the
/// momenta and positions are read while the tile's rows of X are in
/// the L1 cache); otherwise the gradients go through `y` first.
///
/// # Panics
///
/// If B is not `d x d` for the `d` columns of `x`, or `p`, `y` or `t`
/// do not match.
pub fn kick_drift(x: Lhs<'_>, b: Rhs<'_>, shift: &[f64], eps: f64, p: &mut [f64], y: &mut [f64]) {
    let (m, d) = (x.m, x.k);
    assert!(
        b.k == d && b.n == d && shift.len() == d && p.len() == m * d && y.len() == m * d,
        "kick_drift: rows {m} x {d}, B {} x {}, {} shifts, {} momenta, {} positions",
        b.k,
        b.n,
        shift.len(),
        p.len(),
        y.len()
    );
    if m == 0 || d == 0 {
        return;
    }
    let Some(Out::KickDrift { p, y, shift, eps }) = through_tiles(x, b, Out::KickDrift { p, y, shift, eps })
    else {
        return;
    };
    // the gradients into y, then the kick and the drift in one pass
    product(y, Store::Shift(shift), x, b);
    for ((pj, yj), xj) in p.iter_mut().zip(y.iter_mut()).zip(x.values) {
        *yj = kick_drift_value(pj, *xj, *yj, eps);
    }
}

/// The product through the register tiles ([`tiles`]) where the machine
/// has AVX-512 or AVX2 with FMA, its sums going where `out` says; gives
/// `out` back on any other machine.
fn through_tiles<'a>(a: Lhs<'a>, b: Rhs<'a>, out: Out<'a>) -> Option<Out<'a>> {
    #[cfg(target_arch = "x86_64")]
    {
        if let Some(simd) = crate::simd::avx512() {
            pulp::Simd::vectorize(simd, Panels { simd, a, b, out });
            return None;
        }
        // AVX2's panels of twelve columns stay in the L1 cache up to a
        // depth of 256 (24 KB); deeper, faer's product, which blocks the
        // depth, is faster (64 x 500 x 500: 42 against 36.5 GFLOP/s on
        // the AMD Zen 3 guest) and has the same bits (a product this deep
        // and larger than 16^3 is the ordered sum in faer too)
        let (m, k, n) = (a.m, b.k, b.n);
        if let Some(simd) = crate::simd::avx2().filter(|_| k <= 256 || m * n * k <= 4096) {
            pulp::Simd::vectorize(simd, Panels { simd, a, b, out });
            return None;
        }
    }
    Some(out)
}

/// One value of a unit-mass leapfrog's kick and drift: p <- p - eps g,
/// then the new position x + eps p, each rounded as written (the
/// multiplications, then the subtraction and the addition). The one
/// place this step's arithmetic is written: [`kick_drift`]'s tiles and
/// its fallback, and [`crate::energy::kick_drift_through_gradients`].
#[inline(always)]
pub fn kick_drift_value(p: &mut f64, x: f64, g: f64, eps: f64) -> f64 {
    *p -= eps * g;
    x + eps * *p
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
    /// plain sum, to the bit (AVX-512 runs tiles of up to 8 rows, AVX2 of
    /// up to 4). Without AVX2 the product is faer's, whose kernels for
    /// products of up to 16^3 multiply-adds sum in other orders: there
    /// only the larger products are held to the plain sum.
    #[test]
    fn the_bits_of_faer_and_of_the_ordered_sum() {
        let tiles = crate::simd::instruction_set() != "baseline";
        for m in [1, 2, 3, 7, 8, 9, 15, 16, 17, 32, 33] {
            for k in [1, 2, 5, 17, 64, 100] {
                for n in [1, 3, 8, 9, 16, 23, 24, 25, 40, 48, 100] {
                    let a: Vec<f64> = (0..m * k).map(|i| (i as f64 * 0.37).sin() * 1.7).collect();
                    let b: Vec<f64> = (0..k * n).map(|i| (i as f64 * 0.61).cos() - 0.2).collect();
                    let mut c = vec![f64::NAN; m * n];
                    matmul(&a, m, &PaddedRhs::new(&b, k, n), &mut c);
                    if !tiles && m * n * k <= 4096 {
                        continue;
                    }
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
                        // faer's own kernels; its small-product ones (up
                        // to 16^3 multiply-adds) sum in other orders
                        assert_eq!(c, faer_product(&a, m, &b, k, n), "{m} x {k} x {n} against faer");
                    }
                }
            }
        }
    }

    /// The fused kick and drift against the product with its shift
    /// followed by the two loops, to the bit, on every tile shape (rows
    /// 1..8 and their sums, one to three registers, partial registers).
    #[test]
    fn kick_drift_is_the_product_then_the_two_loops() {
        for m in [1, 3, 8, 9, 17, 32, 33] {
            for d in [1, 5, 8, 9, 16, 23, 24, 25, 40, 100, 300] {
                let x: Vec<f64> = (0..m * d).map(|i| (i as f64 * 0.31).sin()).collect();
                let b: Vec<f64> = (0..d * d).map(|i| (i as f64 * 0.47).cos()).collect();
                let t: Vec<f64> = (0..d).map(|j| j as f64 * 0.23 - 1.0).collect();
                let p0: Vec<f64> = (0..m * d).map(|i| (i as f64 * 0.17).cos() * 2.0).collect();
                let padded = PaddedRhs::new(&b, d, d);
                let eps = 0.1;
                let mut g = vec![0.0; m * d];
                product(&mut g, Store::Shift(&t), Lhs::rows(&x, m, d), padded.view());
                let (mut want_p, mut want_y) = (p0.clone(), x.clone());
                for ((p, y), g) in want_p.iter_mut().zip(&mut want_y).zip(&g) {
                    *p -= eps * g;
                    *y += eps * *p;
                }
                let (mut p, mut y) = (p0.clone(), vec![f64::NAN; m * d]);
                kick_drift(Lhs::rows(&x, m, d), padded.view(), &t, eps, &mut p, &mut y);
                assert_eq!(p, want_p, "{m} x {d}: momenta");
                assert_eq!(y, want_y, "{m} x {d}: positions");
            }
        }
    }

    #[test]
    #[should_panic(expected = "kick_drift")]
    fn kick_drift_needs_a_square_rhs() {
        let b = PaddedRhs::new(&[1.0; 6], 2, 3);
        let (mut p, mut y) = ([0.0; 2], [0.0; 2]);
        kick_drift(
            Lhs::rows(&[1.0, 2.0], 1, 2),
            b.view(),
            &[0.0; 2],
            0.1,
            &mut p,
            &mut y,
        );
    }

    /// Both stores against faer's product (and the shift as a pass after
    /// it) and against the ordered sums, to the bit.
    #[test]
    fn stores_have_faers_bits() {
        for (m, k, n) in [
            (1, 3, 1),
            (9, 17, 23),
            (32, 100, 100),
            (5, 8, 48),
            (128, 128, 128),
            (40, 512, 16),
        ] {
            let a: Vec<f64> = (0..m * k).map(|i| (i as f64 * 0.29).sin()).collect();
            let b: Vec<f64> = (0..k * n).map(|i| (i as f64 * 0.43).cos()).collect();
            let t: Vec<f64> = (0..n).map(|j| j as f64 * 0.37 - 2.0).collect();
            let padded = PaddedRhs::new(&b, k, n);
            for store in [Store::Replace, Store::Shift(&t)] {
                let mut want = faer_product(&a, m, &b, k, n);
                if let Store::Shift(t) = store {
                    for row in want.chunks_exact_mut(n) {
                        for (v, t) in row.iter_mut().zip(t) {
                            *v -= t;
                        }
                    }
                }
                let mut got = vec![f64::NAN; m * n];
                product(&mut got, store, Lhs::rows(&a, m, k), padded.view());
                if m * n * k > 4096 {
                    assert_eq!(got, want, "{m} x {k} x {n}, {store:?}");
                }
                // and the ordered sums themselves
                for i in 0..m {
                    for j in 0..n {
                        let mut s = 0.0f64;
                        for p in 0..k {
                            s = a[i * k + p].mul_add(b[p * n + j], s);
                        }
                        let v = match store {
                            Store::Replace => s,
                            Store::Shift(t) => s - t[j],
                        };
                        assert_eq!(got[i * n + j], v, "{m} x {k} x {n} [{i}, {j}], {store:?}");
                    }
                }
            }
        }
    }

    #[test]
    fn a_rhs_view_reads_rows_at_its_stride() {
        // B 3 x 5 at stride 8 inside a longer buffer, padding garbage
        let mut buf = vec![f64::NAN; 3 * 8];
        for p in 0..3 {
            for j in 0..5 {
                buf[p * 8 + j] = (p * 5 + j) as f64;
            }
        }
        let a = [1.0, 2.0, -1.0];
        let mut c = [0.0; 5];
        product(
            &mut c,
            Store::Replace,
            Lhs::rows(&a, 1, 3),
            Rhs::new(&buf, 3, 5, 8),
        );
        let want: Vec<f64> = (0..5)
            .map(|j| j as f64 + 2.0 * (5 + j) as f64 - (10 + j) as f64)
            .collect();
        assert_eq!(c.to_vec(), want);
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
