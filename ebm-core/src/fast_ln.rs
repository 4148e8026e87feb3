//! ln x without branches or libm calls, written so the compiler vectorises
//! it (see [`crate::simd`]); the companion of [`crate::fast_exp`].
//!
//! Method: x = 2^e m with m in [sqrt(1/2), sqrt(2)) read from the bits
//! (subnormals are scaled by 2^54 first), then
//! ln m = 2 atanh(s) = 2 (s + s^3/3 + s^5/5 + ...), s = (m - 1)/(m + 1),
//! |s| <= 0.1716, truncated after s^23 (error below 1e-19 relative) and
//! evaluated with fused multiply-adds, and
//! ln x = e ln2_hi + (ln m + e ln2_lo). The exponent is turned into a
//! float with the 2^52 trick instead of an integer conversion, which
//! AVX2 lacks. Accuracy: within 2 ulp of libm (tested).

/// ln 2 split into a head whose products with small integers are exact
/// and a tail (fdlibm's ln2_hi and ln2_lo).
const LN2_HI: f64 = f64::from_bits(0x3fe6_2e42_fee0_0000);
const LN2_LO: f64 = f64::from_bits(0x3dea_39ef_3579_3c76);
/// 1 / (2k + 1) for k = 1..=11.
const ODD_INV: [f64; 11] = [
    1.0 / 3.0,
    1.0 / 5.0,
    1.0 / 7.0,
    1.0 / 9.0,
    1.0 / 11.0,
    1.0 / 13.0,
    1.0 / 15.0,
    1.0 / 17.0,
    1.0 / 19.0,
    1.0 / 21.0,
    1.0 / 23.0,
];
/// 2^52 as the bits of a double whose mantissa then holds an integer.
const TWO52_BITS: u64 = 0x4330_0000_0000_0000;
/// The 52 fraction bits of a double.
const FRACTION_BITS: u64 = 0x000f_ffff_ffff_ffff;
/// The bits of 1.0: or-ed with a fraction, the mantissa m in [1, 2).
const ONE_BITS: u64 = 0x3ff0_0000_0000_0000;
/// 2^52 + 1023: subtracting it from that double leaves the unbiased exponent.
const TWO52_PLUS_BIAS: f64 = 4_503_599_627_371_519.0;

/// ln x: -inf at 0, NaN below 0 or for NaN, +inf at +inf.
#[inline(always)]
pub fn ln(x: f64) -> f64 {
    // subnormals: scale into the normal range, correct the exponent after
    let sub = x < f64::MIN_POSITIVE;
    let xs = if sub { x * 18_014_398_509_481_984.0 } else { x }; // 2^54
    let bits = xs.to_bits();
    let biased = f64::from_bits(TWO52_BITS | (bits >> 52)) - TWO52_PLUS_BIAS;
    let m = f64::from_bits((bits & FRACTION_BITS) | ONE_BITS);
    // m in [1, 2): halve it above sqrt(2) so |s| stays small
    let big = m > std::f64::consts::SQRT_2;
    let m = if big { 0.5 * m } else { m };
    let e = biased + if big { 1.0 } else { 0.0 } - if sub { 54.0 } else { 0.0 };
    let s = (m - 1.0) / (m + 1.0);
    let z = s * s;
    let mut q = ODD_INV[10];
    for c in ODD_INV[..10].iter().rev() {
        q = q.mul_add(z, *c);
    }
    let ln_m = (2.0 * s).mul_add(z * q, 2.0 * s);
    let y = e.mul_add(LN2_HI, e.mul_add(LN2_LO, ln_m));
    if x > 0.0 && x < f64::INFINITY {
        y
    } else if x == 0.0 {
        f64::NEG_INFINITY
    } else if x == f64::INFINITY {
        x
    } else {
        f64::NAN
    }
}

/// [`ln`] of every lane of a register whose lanes are all positive,
/// finite and normal (at least `f64::MIN_POSITIVE`): the same operations
/// in the same order, so the same bits, with the selects that only
/// subnormals, zero, infinities and NaN reach left out (subtracting the
/// unused subnormal correction, +0, leaves every value as it is). For
/// the kernels written over [`crate::register::F64Register`]; whoever
/// changes [`ln`] changes this with it.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
pub(crate) fn ln_normal_lanes<S: crate::register::F64Register<W>, const W: usize>(s: S, x: S::R) -> S::R {
    let biased = s.sub(
        s.or_bits(s.splat_bits(TWO52_BITS), s.shr_bits(x, 52)),
        s.splat(&TWO52_PLUS_BIAS),
    );
    let m = s.or_bits(s.and_bits(x, s.splat_bits(FRACTION_BITS)), s.splat_bits(ONE_BITS));
    let sqrt2 = s.splat(&std::f64::consts::SQRT_2);
    let e = s.add(biased, s.select_gt(m, sqrt2, s.splat(&1.0), s.zero()));
    let m = s.select_gt(m, sqrt2, s.mul(s.splat(&0.5), m), m);
    let one = s.splat(&1.0);
    let t = s.div(s.sub(m, one), s.add(m, one));
    let z = s.mul(t, t);
    let mut q = s.splat(&ODD_INV[10]);
    for c in ODD_INV[..10].iter().rev() {
        q = s.mul_add(q, z, s.splat(c));
    }
    let two_t = s.mul(s.splat(&2.0), t);
    let ln_m = s.mul_add(two_t, s.mul(z, q), two_t);
    s.mul_add(e, s.splat(&LN2_HI), s.mul_add(e, s.splat(&LN2_LO), ln_m))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn ulps(a: f64, b: f64) -> u64 {
        (a.to_bits() as i64 - b.to_bits() as i64).unsigned_abs()
    }

    #[test]
    fn special_values() {
        assert_eq!(ln(1.0), 0.0);
        assert_eq!(ln(0.0), f64::NEG_INFINITY);
        assert_eq!(ln(-0.0), f64::NEG_INFINITY);
        assert_eq!(ln(f64::INFINITY), f64::INFINITY);
        assert!(ln(-1.0).is_nan());
        assert!(ln(f64::NAN).is_nan());
        assert!(ln(f64::NEG_INFINITY).is_nan());
        assert!(ulps(ln(std::f64::consts::E), 1.0) <= 1);
        assert!(ulps(ln(2.0), std::f64::consts::LN_2) <= 1);
        for x in [f64::MIN_POSITIVE, 4.9e-324, 1e-310, f64::MAX, 1e300, 1e-300] {
            assert!(ulps(ln(x), x.ln()) <= 2, "{x}: {} vs {}", ln(x), x.ln());
        }
    }

    proptest! {
        #[test]
        fn within_2_ulp_of_libm(bits in 1u64..0x7ff0_0000_0000_0000) {
            // every positive finite double, normal and subnormal alike
            let x = f64::from_bits(bits);
            prop_assert!(ulps(ln(x), x.ln()) <= 2, "ln({x}) = {} vs {}", ln(x), x.ln());
        }

        #[test]
        fn within_2_ulp_near_one(x in 0.5f64..2.0) {
            let (a, b) = (ln(x), x.ln());
            // near 1 the result is tiny; compare absolutely at the scale of x's ulp
            prop_assert!(ulps(a, b) <= 2 || (a - b).abs() <= 2e-16 * (x - 1.0).abs().max(1e-300), "ln({x}) = {a} vs {b}");
        }
    }
}
