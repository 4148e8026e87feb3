//! The floats the host kernels compute in: `f64`, and `f32` where a
//! kernel offers single precision (twice the SIMD lanes per instruction).

/// A float of the host kernels (`f32` or `f64`): conversions, a 32-bit
/// random word as a float, and the vectorisable exponential of a
/// non-positive argument. Every method is `#[inline(always)]` so that it
/// compiles with the instruction set of the caller's
/// [`crate::simd::dispatch`].
pub trait HostFloat:
    num_traits::Float + Default + std::fmt::Debug + Send + Sync + pulp::bytemuck::Pod + 'static
{
    /// Whether this is `f32`.
    const IS_F32: bool;
    /// Convert from f64 (rounding for f32).
    fn of(v: f64) -> Self;
    /// Convert to f64 (exact).
    fn f64(self) -> f64;
    /// A 32-bit random word u as this float (exact in f64, rounded to 24
    /// bits in f32), for comparisons u < p 2^32 that hold with
    /// probability p.
    fn of_word(u: u32) -> Self;
    /// e^x for x <= 0: [`crate::fast_exp::exp_weight`] in f64 (0 below
    /// -708), [`crate::fast_exp_f32::exp_weight_f32`] in f32 (0 below -87).
    /// Call it inside [`crate::simd::dispatch`].
    fn exp_nonpositive(self) -> Self;
    /// ln x for x > 0: [`crate::fast_ln::ln`] (in f32 through f64, so it
    /// vectorises too). Call it inside [`crate::simd::dispatch`].
    fn ln_fast(self) -> Self;
}

impl HostFloat for f32 {
    const IS_F32: bool = true;
    #[inline(always)]
    fn of(v: f64) -> Self {
        v as f32
    }
    #[inline(always)]
    fn f64(self) -> f64 {
        self as f64
    }
    #[inline(always)]
    fn of_word(u: u32) -> Self {
        u as f32
    }
    #[inline(always)]
    fn exp_nonpositive(self) -> Self {
        crate::fast_exp_f32::exp_weight_f32(self)
    }
    #[inline(always)]
    fn ln_fast(self) -> Self {
        crate::fast_ln::ln(self as f64) as f32
    }
}

impl HostFloat for f64 {
    const IS_F32: bool = false;
    #[inline(always)]
    fn of(v: f64) -> Self {
        v
    }
    #[inline(always)]
    fn f64(self) -> f64 {
        self
    }
    #[inline(always)]
    fn of_word(u: u32) -> Self {
        u as f64
    }
    #[inline(always)]
    fn exp_nonpositive(self) -> Self {
        crate::fast_exp::exp_weight(self)
    }
    #[inline(always)]
    fn ln_fast(self) -> Self {
        crate::fast_ln::ln(self)
    }
}
