//! The product's register tiles, written once over [`F64Register`]: up
//! to `ROWS` rows of A by three registers of B's columns, every
//! accumulator summing its depth in order by fused multiply-adds from
//! zero (the bits of faer's product; module documentation of
//! [`super`]). AVX-512 runs tiles of 8 rows by 24 columns, AVX2 of 4 rows
//! by 12 columns (faer's own AVX2 kernel has this shape).

use super::{kick_drift_value, Lhs, Rhs, Store};
use crate::register::F64Register;

/// Where the product's tiles go: stored into C, or kicking and drifting
/// ([`super::kick_drift`]).
pub(super) enum Out<'a> {
    Store(&'a mut [f64], Store<'a>),
    KickDrift {
        p: &'a mut [f64],
        y: &'a mut [f64],
        shift: &'a [f64],
        eps: f64,
    },
}

/// The product's arguments (registers of `W` values), for [`pulp::Simd::vectorize`] (a struct
/// whose method is inlined into the vectorised function, not a closure:
/// a closure this big was called through a shim compiled without the
/// instruction set, and every intrinsic in it became a function call, 50
/// times slower).
pub(super) struct Panels<'a, S, const W: usize> {
    pub(super) simd: S,
    pub(super) a: Lhs<'a>,
    pub(super) b: Rhs<'a>,
    pub(super) out: Out<'a>,
}

impl<S: F64Register<W>, const W: usize> pulp::WithSimd for Panels<'_, S, W> {
    type Output = ();

    #[inline(always)]
    fn with_simd<T: pulp::Simd>(self, _: T) {
        panels::<S, W>(self)
    }
}

/// The panels of up to three registers of B, each swept by every row of
/// A.
#[inline(always)]
fn panels<S: F64Register<W>, const W: usize>(mut job: Panels<'_, S, W>) {
    let regs = job.b.n.div_ceil(W);
    let mut z0 = 0;
    while z0 < regs {
        // the last four registers as two panels of two: a panel of one
        // register does a broadcast for each multiply-add
        let z = if regs - z0 == 4 { 2 } else { (regs - z0).min(3) };
        match z {
            3 => rows::<S, W, 3>(&mut job, z0 * W),
            2 => rows::<S, W, 2>(&mut job, z0 * W),
            _ => rows::<S, W, 1>(&mut job, z0 * W),
        }
        z0 += z;
    }
}

/// Every row of A over the panel of `Z` registers from column `col0`: in
/// tiles of [`F64Register::ROWS`] rows, then one of the rest.
#[inline(always)]
fn rows<S: F64Register<W>, const W: usize, const Z: usize>(job: &mut Panels<'_, S, W>, col0: usize) {
    let m = job.a.m;
    let mut r0 = 0;
    while r0 < m {
        let r = (m - r0).min(S::ROWS);
        match r {
            8 => tile::<S, W, 8, Z>(job, r0, col0),
            7 => tile::<S, W, 7, Z>(job, r0, col0),
            6 => tile::<S, W, 6, Z>(job, r0, col0),
            5 => tile::<S, W, 5, Z>(job, r0, col0),
            4 => tile::<S, W, 4, Z>(job, r0, col0),
            3 => tile::<S, W, 3, Z>(job, r0, col0),
            2 => tile::<S, W, 2, Z>(job, r0, col0),
            _ => tile::<S, W, 1, Z>(job, r0, col0),
        }
        r0 += r;
    }
}

/// Rows `r0..r0 + R` of C, columns `col0..col0 + Z W` (those below
/// n): R x Z accumulators over the whole depth, then stored.
#[inline(always)]
fn tile<S: F64Register<W>, const W: usize, const R: usize, const Z: usize>(
    job: &mut Panels<'_, S, W>,
    r0: usize,
    col0: usize,
) {
    let (simd, a, b) = (job.simd, job.a, job.b);
    let (k, n) = (b.k, b.n);
    let mut acc: [[S::R; Z]; R] = [[simd.zero(); Z]; R];
    let rows: [&[f64]; R] = std::array::from_fn(
        #[inline(always)]
        |r| &a.values[(r0 + r) * k..][..k],
    );
    for p in 0..k {
        let av = std::array::from_fn(
            #[inline(always)]
            |r| simd.splat(&rows[r][p]),
        );
        step(simd, av, b, col0, p, &mut acc);
    }
    // Out of the registers into an array of fixed size, every value
    // written, in a loop of nothing else, and every use below reads the
    // array: so the compiler keeps `acc` in registers through the depth
    // loop. Stores of variable width here had it spill every accumulator
    // at every step (AVX-512, 30% slower); on AVX2, whose tile takes all
    // sixteen registers, so did the kick and drift read straight from
    // `acc` (19.6 against 43 GFLOP/s) and stores register by register
    // (38). A wider array than the tile's was zeroed at every tile.
    let mut tile = [[[0.0f64; W]; Z]; R];
    for r in 0..R {
        for z in 0..Z {
            tile[r][z] = simd.lanes(acc[r][z]);
        }
    }
    let width = (n - col0).min(Z * W);
    let (c, store) = match &mut job.out {
        Out::Store(c, store) => (c, *store),
        Out::KickDrift { p, y, shift, eps } if width == Z * W => {
            // whole registers, kicked and drifted in registers with the
            // roundings of `kick_drift_value` (each product, then the
            // difference or the sum); A is X (rows, k = n), and the
            // tile's rows of X are in cache
            let e = simd.splat(eps);
            for (r, values) in tile.iter().enumerate() {
                for (z, v) in values.iter().enumerate() {
                    let (j, at) = (col0 + z * W, (r0 + r) * n + col0 + z * W);
                    let g = simd.sub(simd.load(v), simd.load(&shift[j..]));
                    let pv = simd.sub(simd.load(&p[at..]), simd.mul(e, g));
                    let yv = simd.add(simd.load(&a.values[at..]), simd.mul(e, pv));
                    simd.store(pv, &mut p[at..]);
                    simd.store(yv, &mut y[at..]);
                }
            }
            return;
        }
        Out::KickDrift { p, y, shift, eps } => {
            // the last panel's part registers, value by value
            let (shift, eps) = (&shift[col0..][..width], *eps);
            for (r, values) in tile.iter().enumerate() {
                let at = (r0 + r) * n + col0;
                let (p, y) = (&mut p[at..][..width], &mut y[at..][..width]);
                let x = &a.values[at..][..width];
                for ((((pj, yj), xj), v), t) in
                    p.iter_mut().zip(y).zip(x).zip(values.as_flattened()).zip(shift)
                {
                    *yj = kick_drift_value(pj, *xj, v - t, eps);
                }
            }
            return;
        }
    };
    for (r, values) in tile.iter().enumerate() {
        let row = &mut c[(r0 + r) * n + col0..][..width];
        let values = &values.as_flattened()[..width];
        match store {
            Store::Shift(t) => {
                for ((o, v), t) in row.iter_mut().zip(values).zip(&t[col0..]) {
                    *o = v - t;
                }
            }
            Store::Replace if width == Z * W => {
                // a copy of fixed size is Z moves, of variable size a
                // call to memmove (6% of the product)
                row.copy_from_slice(&values[..Z * W]);
            }
            Store::Replace => row.copy_from_slice(values),
        }
    }
}

/// Depth step `p` of a tile: B's row p (Z registers from column
/// `col0`) times each of the tile's rows' values `av` (broadcast), added
/// into the accumulators.
#[inline(always)]
fn step<S: F64Register<W>, const W: usize, const R: usize, const Z: usize>(
    simd: S,
    av: [S::R; R],
    b: Rhs<'_>,
    col0: usize,
    p: usize,
    acc: &mut [[S::R; Z]; R],
) {
    let row = &b.values[p * b.stride + col0..][..Z * W];
    let bv: [S::R; Z] = std::array::from_fn(
        #[inline(always)]
        |z| simd.load(&row[z * W..]),
    );
    for r in 0..R {
        for z in 0..Z {
            acc[r][z] = simd.mul_add(av[r], bv[z], acc[r][z]);
        }
    }
}
