//! Runtime SIMD dispatch for the hot loops.
//!
//! The workspace builds for baseline x86-64 (SSE2), so that one binary
//! runs everywhere. [`dispatch`] runs a closure compiled a second and a
//! third time with AVX2 + FMA (x86-64-v3) and AVX-512 (x86-64-v4) enabled,
//! and picks the best version the CPU supports at run time (through
//! `pulp`, the safe dispatcher faer uses). Loops written over slices or
//! fixed-size lane arrays inside the closure are then auto-vectorised
//! 4 or 8 doubles wide instead of 2.
//!
//! Results do not depend on the instruction set: the kernels use only
//! operations with one correctly rounded result each (no fused
//! multiply-add unless written as `mul_add`, which is fused everywhere),
//! and Rust never reassociates floating-point arithmetic, so the scalar,
//! AVX2 and AVX-512 versions produce the same bits.
//!
//! The closure must be marked `#[inline(always)]`, and so must everything
//! it calls on its hot path: a function (or closure) that is not inlined
//! into the dispatched body is compiled for the baseline target only.
//!
//! ```
//! let xs: Vec<f64> = (0..100).map(|i| i as f64 * 0.01).collect();
//! let mut ys = vec![0.0; 100];
//! ebm_core::simd::dispatch(#[inline(always)] || {
//!     for (y, x) in ys.iter_mut().zip(&xs) {
//!         *y = ebm_core::fast_exp::exp(*x);
//!     }
//! });
//! assert_eq!(ys[0], 1.0);
//! ```

/// Lanes in one AVX-512 register of f64 (two AVX2 registers): the unit
/// of the mixture's point blocks and of the lane-wise sums whose order
/// some results depend on (the categorical softmax). The binary samplers'
/// groups of chains have their own width (`ebm_samplers::lanes::LANES`).
pub const LANES: usize = 8;

/// A value per chain: one f64 (one chain) or `[f64; N]` (one per lane),
/// so that a piece of maths written once over `V: LaneValue` runs on one
/// chain and, inside [`dispatch`], on N chains in vector registers, with
/// the same bits in every lane as the one-chain version (each operation
/// is rounded once, no fused multiply-add).
pub trait LaneValue: Copy {
    /// Every lane `v`.
    fn splat(v: f64) -> Self;
    /// self + w s: the product rounded, then the sum.
    fn add_scaled(self, w: f64, s: Self) -> Self;
    /// self + o.
    fn add(self, o: Self) -> Self;
    /// self o.
    fn mul(self, o: Self) -> Self;
    /// -self.
    fn neg(self) -> Self;
}

impl LaneValue for f64 {
    #[inline(always)]
    fn splat(v: f64) -> Self {
        v
    }
    #[inline(always)]
    fn add_scaled(self, w: f64, s: Self) -> Self {
        self + w * s
    }
    #[inline(always)]
    fn add(self, o: Self) -> Self {
        self + o
    }
    #[inline(always)]
    fn mul(self, o: Self) -> Self {
        self * o
    }
    #[inline(always)]
    fn neg(self) -> Self {
        -self
    }
}

impl<const N: usize> LaneValue for [f64; N] {
    #[inline(always)]
    fn splat(v: f64) -> Self {
        [v; N]
    }
    #[inline(always)]
    fn add_scaled(mut self, w: f64, s: Self) -> Self {
        for l in 0..N {
            self[l] += w * s[l];
        }
        self
    }
    #[inline(always)]
    fn add(mut self, o: Self) -> Self {
        for l in 0..N {
            self[l] += o[l];
        }
        self
    }
    #[inline(always)]
    fn mul(mut self, o: Self) -> Self {
        for l in 0..N {
            self[l] *= o[l];
        }
        self
    }
    #[inline(always)]
    fn neg(mut self) -> Self {
        for v in self.iter_mut() {
            *v = -*v;
        }
        self
    }
}

/// Run `f` compiled for the best instruction set this CPU has (AVX-512,
/// AVX2 + FMA, or the baseline), chosen at run time.
#[inline(always)]
pub fn dispatch<R>(f: impl FnOnce() -> R) -> R {
    pulp::Arch::new().dispatch(f)
}

/// Evaluate `$body` with the constant `$D: usize` equal to the dimension
/// `$d` when it is 1 to 4, and to 0 (meaning: read the dimension at run
/// time) otherwise: one copy of the body per small dimension, whose loops
/// over a point's coordinates the compiler unrolls. The constant changes
/// the code, never the arithmetic, so every copy gives the same bits.
///
/// ```
/// fn coords<const D: usize>(d: usize) -> usize {
///     if D == 0 { d } else { D }
/// }
/// for d in [1, 3, 7] {
///     assert_eq!(ebm_core::with_small_dim!(d, D => coords::<D>(d)), d);
/// }
/// ```
#[macro_export]
macro_rules! with_small_dim {
    ($d:expr, $D:ident => $body:expr) => {
        match $d {
            1 => {
                const $D: usize = 1;
                $body
            }
            2 => {
                const $D: usize = 2;
                $body
            }
            3 => {
                const $D: usize = 3;
                $body
            }
            4 => {
                const $D: usize = 4;
                $body
            }
            _ => {
                const $D: usize = 0;
                $body
            }
        }
    };
}

/// The AVX-512 token, detected once, for the few kernels written with
/// pulp's (safe) AVX-512 intrinsics: the ChaCha8 block functions, the
/// float64 transpose, the product's tiles and the mixture's passes.
#[cfg(target_arch = "x86_64")]
#[inline]
pub(crate) fn avx512() -> Option<pulp::x86::V4> {
    static V4: std::sync::OnceLock<Option<pulp::x86::V4>> = std::sync::OnceLock::new();
    *V4.get_or_init(pulp::x86::V4::try_new)
}

/// Whether this machine runs [`dispatch`]'s AVX-512 version: kernels
/// whose best blocking depends on the register file (32 registers of
/// eight f64 against AVX2's 16 of four) choose by it.
#[inline]
pub fn has_avx512() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        avx512().is_some()
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// The AVX2 token (with FMA), detected once, for the kernels written
/// with pulp's AVX2 intrinsics where AVX-512 is missing: the ChaCha8
/// block functions, the product's tiles, the mixture's passes and
/// Box-Muller in lanes.
#[cfg(target_arch = "x86_64")]
#[inline]
pub(crate) fn avx2() -> Option<pulp::x86::V3> {
    static V3: std::sync::OnceLock<Option<pulp::x86::V3>> = std::sync::OnceLock::new();
    *V3.get_or_init(pulp::x86::V3::try_new)
}

/// The instruction set [`dispatch`] uses on this machine: `"avx512"`,
/// `"avx2"` or `"baseline"` (for reports).
pub fn instruction_set() -> &'static str {
    #[cfg(target_arch = "x86_64")]
    {
        match pulp::Arch::new() {
            pulp::Arch::V4(_) => "avx512",
            pulp::Arch::V3(_) => "avx2",
            _ => "baseline",
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        "baseline"
    }
}

/// sum_i x_i^2, accumulated in [`LANES`] lanes (value i in lane i mod 8)
/// and the lanes then added in order: vectorised, and the same bits on
/// every instruction set.
pub fn sum_squares(xs: &[f64]) -> f64 {
    dispatch(
        #[inline(always)]
        || sum_squares_inline(xs),
    )
}

/// [`sum_squares`] without its own dispatch, for use inside a dispatched
/// closure.
#[inline(always)]
pub fn sum_squares_inline(xs: &[f64]) -> f64 {
    let mut acc = [0.0f64; LANES];
    let mut chunks = xs.chunks_exact(LANES);
    for c in &mut chunks {
        for l in 0..LANES {
            acc[l] = c[l].mul_add(c[l], acc[l]);
        }
    }
    for (l, v) in chunks.remainder().iter().enumerate() {
        acc[l] = v.mul_add(*v, acc[l]);
    }
    acc.iter().sum()
}

/// sum_i a_i b_i, accumulated in [`LANES`] lanes by fused multiply-adds
/// (term i in lane i mod 8) and the lanes then added in order: vectorised,
/// and the same bits on every instruction set.
///
/// ```
/// assert_eq!(ebm_core::simd::dot(&[1.0, 2.0, 3.0], &[4.0, 5.0, 6.0]), 32.0);
/// ```
pub fn dot(a: &[f64], b: &[f64]) -> f64 {
    dispatch(
        #[inline(always)]
        || dot_inline(a, b),
    )
}

/// [`dot`] without its own dispatch, for use inside a dispatched closure.
#[inline(always)]
pub fn dot_inline(a: &[f64], b: &[f64]) -> f64 {
    let mut acc = [0.0f64; LANES];
    let (mut ca, mut cb) = (a.chunks_exact(LANES), b.chunks_exact(LANES));
    for (x, y) in (&mut ca).zip(&mut cb) {
        for l in 0..LANES {
            acc[l] = x[l].mul_add(y[l], acc[l]);
        }
    }
    for (l, (x, y)) in ca.remainder().iter().zip(cb.remainder()).enumerate() {
        acc[l] = x.mul_add(*y, acc[l]);
    }
    acc.iter().sum()
}

/// Whether every value is finite (0 x is 0 for finite x and NaN for an
/// infinity or NaN; summed in lanes, so it vectorises, unlike a test per
/// value).
pub fn all_finite(xs: &[f64]) -> bool {
    dispatch(
        #[inline(always)]
        || all_finite_inline(xs),
    )
}

/// [`all_finite`] without its own dispatch, for use inside a dispatched
/// closure; for f64 or f32 (any float type whose `Default` is 0).
#[inline(always)]
pub fn all_finite_inline<T>(xs: &[T]) -> bool
where
    T: Copy + Default + PartialEq + std::ops::Add<Output = T> + std::ops::Mul<Output = T>,
{
    let zero = T::default();
    let mut acc = [zero; LANES];
    let mut chunks = xs.chunks_exact(LANES);
    for c in &mut chunks {
        for l in 0..LANES {
            acc[l] = acc[l] + c[l] * zero;
        }
    }
    for (l, &v) in chunks.remainder().iter().enumerate() {
        acc[l] = acc[l] + v * zero;
    }
    acc.iter().all(|&a| a == zero)
}

#[cfg(test)]
mod tests {
    #[test]
    fn dispatch_returns_the_closures_value() {
        let v: Vec<f64> = (0..37).map(|i| i as f64).collect();
        let s = super::dispatch(
            #[inline(always)]
            || v.iter().sum::<f64>(),
        );
        assert_eq!(s, 666.0);
        assert!(["avx512", "avx2", "baseline"].contains(&super::instruction_set()));
    }

    #[test]
    fn sums_of_squares_and_finiteness() {
        let v: Vec<f64> = (0..21).map(|i| i as f64).collect();
        assert_eq!(
            super::sum_squares(&v),
            (0..21).map(|i| (i * i) as f64).sum::<f64>()
        );
        assert_eq!(super::sum_squares(&[]), 0.0);
        assert!(super::all_finite(&v) && super::all_finite(&[]));
        for bad in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
            for at in [0, 7, 8, 20] {
                let mut w = v.clone();
                w[at] = bad;
                assert!(!super::all_finite(&w), "{bad} at {at}");
            }
        }
    }
}
