//! The transpose of a row-major matrix, for the kernels that keep a
//! matrix and its transpose side by side (PCD's persistent chains add
//! rows of W for the hiddens and rows of W^T for the visibles, and
//! transpose W after every update).
//!
//! Square tiles, each read as whole rows and written as whole rows of
//! the transpose, and the edges that do not fill a tile element by
//! element. Only values move, so the result holds the input's bits.
//!
//! * **float64 with AVX-512:** 8 x 8 tiles in eight registers,
//!   transposed with 24 shuffles: pairs of rows interleaved within each
//!   128-bit lane (`unpacklo`/`unpackhi`), then the 128-bit lanes picked
//!   twice (`shuffle_f64x2`). 64 x 64 takes about 0.3 us; the tiles in
//!   arrays below compile to one scalar load and store per value in
//!   float64 (about 1.5 us).
//! * **Otherwise:** tiles of 16 (f32) or 4 (f64) values per side, read
//!   into a fixed-size array and written out by columns, which the
//!   compiler keeps in vector registers for f32 (0.7 us for 64 x 64).
//!
//! ```
//! let m = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]; // 2 x 3
//! let mut t = [0.0; 6];
//! ebm_core::transpose::transpose(&m, 2, 3, &mut t);
//! assert_eq!(t, [1.0, 4.0, 2.0, 5.0, 3.0, 6.0]);
//! ```

use crate::host_float::HostFloat;

/// `out` = the transpose of `m` (`rows` x `cols`, row-major; `out` is
/// `cols` x `rows`): out[j rows + i] = m[i cols + j].
///
/// # Panics
///
/// If `m` or `out` does not hold `rows` x `cols` values.
#[inline]
pub fn transpose<F: HostFloat>(m: &[F], rows: usize, cols: usize, out: &mut [F]) {
    assert!(
        m.len() == rows * cols && out.len() == rows * cols,
        "a {rows} x {cols} transpose of {} values into {}",
        m.len(),
        out.len()
    );
    #[cfg(target_arch = "x86_64")]
    if std::any::TypeId::of::<F>() == std::any::TypeId::of::<f64>() {
        if let Some(simd) = crate::simd::avx512() {
            let (m, out): (&[f64], &mut [f64]) =
                (pulp::bytemuck::cast_slice(m), pulp::bytemuck::cast_slice_mut(out));
            return simd.vectorize(
                #[inline(always)]
                || tiles_avx512(simd, m, rows, cols, out),
            );
        }
    }
    crate::simd::dispatch(
        #[inline(always)]
        || {
            if F::IS_F32 {
                tiles::<F, 16>(m, rows, cols, out)
            } else {
                tiles::<F, 4>(m, rows, cols, out)
            }
        },
    )
}

/// [`transpose`] in T x T tiles held in fixed-size arrays.
#[inline(always)]
fn tiles<F: HostFloat, const T: usize>(m: &[F], rows: usize, cols: usize, out: &mut [F]) {
    let (full_r, full_c) = (rows / T * T, cols / T * T);
    for bj in (0..full_c).step_by(T) {
        for bi in (0..full_r).step_by(T) {
            let mut tile = [[F::zero(); T]; T];
            for (a, t) in tile.iter_mut().enumerate() {
                t.copy_from_slice(&m[(bi + a) * cols + bj..][..T]);
            }
            for b in 0..T {
                let mut col = [F::zero(); T];
                for a in 0..T {
                    col[a] = tile[a][b];
                }
                out[(bj + b) * rows + bi..][..T].copy_from_slice(&col);
            }
        }
    }
    edges(m, rows, cols, full_r, full_c, out);
}

/// The values outside the tiles: rows `full_r..` and columns `full_c..`.
#[inline(always)]
fn edges<F: Copy>(m: &[F], rows: usize, cols: usize, full_r: usize, full_c: usize, out: &mut [F]) {
    for i in full_r..rows {
        for j in 0..full_c {
            out[j * rows + i] = m[i * cols + j];
        }
    }
    for j in full_c..cols {
        for i in 0..rows {
            out[j * rows + i] = m[i * cols + j];
        }
    }
}

/// [`transpose`] of float64 in 8 x 8 tiles of AVX-512 registers.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
fn tiles_avx512(simd: pulp::x86::V4, m: &[f64], rows: usize, cols: usize, out: &mut [f64]) {
    use core::arch::x86_64::__m512d;
    let (full_r, full_c) = (rows / 8 * 8, cols / 8 * 8);
    for bj in (0..full_c).step_by(8) {
        for bi in (0..full_r).step_by(8) {
            let mut tile = [pulp::cast::<[f64; 8], __m512d>([0.0; 8]); 8];
            for (a, t) in tile.iter_mut().enumerate() {
                let row: [f64; 8] = m[(bi + a) * cols + bj..][..8].try_into().expect("a tile row");
                *t = pulp::cast(row);
            }
            for (b, col) in transpose8(simd, tile).into_iter().enumerate() {
                out[(bj + b) * rows + bi..][..8].copy_from_slice(&pulp::cast::<__m512d, [f64; 8]>(col));
            }
        }
    }
    edges(m, rows, cols, full_r, full_c, out);
}

/// The transpose of an 8 x 8 tile of float64 rows r, in 24 shuffles.
/// First `unpacklo`/`unpackhi` of the row pairs (2k, 2k + 1): 128-bit lane
/// l of t_2k holds column 2l of both rows, and of t_2k+1 column 2l + 1.
/// Then, for the even columns (t_0, t_2, t_4, t_6; the odd ones alike),
/// `shuffle_f64x2` takes lanes 0, 1 of two row pairs (columns 0 and 2)
/// or lanes 2, 3 (columns 4 and 6), and a second one the first or the
/// second lane of each pair: column c of all eight rows.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
fn transpose8(simd: pulp::x86::V4, r: [core::arch::x86_64::__m512d; 8]) -> [core::arch::x86_64::__m512d; 8] {
    let f = simd.avx512f;
    // columns 2l (in t[0], t[2], t[4], t[6]) and 2l + 1 (t[1], t[3], ...)
    let t = [
        f._mm512_unpacklo_pd(r[0], r[1]),
        f._mm512_unpackhi_pd(r[0], r[1]),
        f._mm512_unpacklo_pd(r[2], r[3]),
        f._mm512_unpackhi_pd(r[2], r[3]),
        f._mm512_unpacklo_pd(r[4], r[5]),
        f._mm512_unpackhi_pd(r[4], r[5]),
        f._mm512_unpacklo_pd(r[6], r[7]),
        f._mm512_unpackhi_pd(r[6], r[7]),
    ];
    let mut out = t;
    for odd in 0..2 {
        let (t0, t2, t4, t6) = (t[odd], t[2 + odd], t[4 + odd], t[6 + odd]);
        // lanes 0, 1 (columns 0, 2 of this parity) and lanes 2, 3 (4, 6)
        let low = (
            f._mm512_shuffle_f64x2::<0x44>(t0, t2),
            f._mm512_shuffle_f64x2::<0x44>(t4, t6),
        );
        let high = (
            f._mm512_shuffle_f64x2::<0xEE>(t0, t2),
            f._mm512_shuffle_f64x2::<0xEE>(t4, t6),
        );
        out[odd] = f._mm512_shuffle_f64x2::<0x88>(low.0, low.1);
        out[2 + odd] = f._mm512_shuffle_f64x2::<0xDD>(low.0, low.1);
        out[4 + odd] = f._mm512_shuffle_f64x2::<0x88>(high.0, high.1);
        out[6 + odd] = f._mm512_shuffle_f64x2::<0xDD>(high.0, high.1);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn naive<F: Copy + Default>(m: &[F], rows: usize, cols: usize) -> Vec<F> {
        let mut out = vec![F::default(); rows * cols];
        for i in 0..rows {
            for j in 0..cols {
                out[j * rows + i] = m[i * cols + j];
            }
        }
        out
    }

    proptest! {
        /// Every shape, with and without whole tiles (8 x 8 for float64 on
        /// AVX-512, 4 and 16 otherwise), against the element-by-element
        /// transpose; distinct values, so any misplaced one shows.
        #[test]
        fn transposes_every_shape(rows in 0usize..40, cols in 0usize..40) {
            let m: Vec<f64> = (0..rows * cols).map(|k| k as f64 + 0.5).collect();
            let mut out = vec![f64::NAN; rows * cols];
            transpose(&m, rows, cols, &mut out);
            prop_assert_eq!(&out, &naive(&m, rows, cols));
            let m32: Vec<f32> = m.iter().map(|&x| x as f32).collect();
            let mut out32 = vec![f32::NAN; rows * cols];
            transpose(&m32, rows, cols, &mut out32);
            prop_assert_eq!(&out32, &naive(&m32, rows, cols));
        }
    }

    #[test]
    fn the_generic_tiles_agree_too() {
        // the path of machines without AVX-512, run here whatever the machine
        let (rows, cols) = (21, 13);
        let m: Vec<f64> = (0..rows * cols).map(|k| k as f64).collect();
        let mut out = vec![0.0; rows * cols];
        tiles::<f64, 4>(&m, rows, cols, &mut out);
        assert_eq!(out, naive(&m, rows, cols));
    }
}
