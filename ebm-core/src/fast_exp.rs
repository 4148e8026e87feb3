//! e^x for whole slices, written so the compiler vectorises it: no
//! branches, no libm call, integer tricks instead of rounding and exponent
//! instructions. Used where a kernel needs one exponential per unit or
//! component (RBM Gibbs sweeps and AIS, mixture gradients) and libm's
//! scalar `exp` would be most of the time.
//!
//! Method (Cody and Waite range reduction, as in fdlibm): with
//! n = round(x / ln 2) and r = x - n ln 2 (|r| <= ln 2 / 2, ln 2 split into
//! a 32-bit head and a tail so n ln2_hi is exact), e^x = 2^n e^r, where e^r
//! is its Taylor polynomial of degree 13 (truncation below 5e-18
//! relative), evaluated by Estrin's scheme with fused multiply-adds (a
//! short dependency chain; one rounding per step, and the same result from
//! the hardware instruction and from libm's `fma`, so every build agrees). 2^n is built from
//! exponent bits in two halves so results in
//! the subnormal range and overflow to infinity come out right. Accuracy:
//! within 2 ulp of the correctly rounded value for results in the normal
//! range (tested against libm).

const LOG2E: f64 = std::f64::consts::LOG2_E;
/// ln 2 split: the head has 32 significant bits, so n * LN2_HI is exact
/// for |n| < 2^21.
/// (fdlibm's ln2_hi and ln2_lo, given by their bits.)
const LN2_HI: f64 = f64::from_bits(0x3fe6_2e42_fee0_0000);
const LN2_LO: f64 = f64::from_bits(0x3dea_39ef_3579_3c76);
/// 1.5 * 2^52: adding it rounds to an integer held in the low mantissa bits.
const SHIFT: f64 = 6_755_399_441_055_744.0;
/// 1 / k! for k = 2..=13.
const INV_FACT: [f64; 12] = [
    0.5,
    1.0 / 6.0,
    1.0 / 24.0,
    1.0 / 120.0,
    1.0 / 720.0,
    1.0 / 5_040.0,
    1.0 / 40_320.0,
    1.0 / 362_880.0,
    1.0 / 3_628_800.0,
    1.0 / 39_916_800.0,
    1.0 / 479_001_600.0,
    1.0 / 6_227_020_800.0,
];

/// e^r for |r| <= ln 2 / 2: its Taylor polynomial of degree 13 by
/// Estrin's scheme (pairs, then pairs of pairs, so the dependent chain is
/// four multiply-adds deep instead of thirteen).
#[inline(always)]
fn poly(r: f64) -> f64 {
    let c = &INV_FACT; // c[k] = 1 / (k + 2)!
    let r2 = r * r;
    let r4 = r2 * r2;
    let r8 = r4 * r4;
    let a0 = r + 1.0;
    let a1 = c[1].mul_add(r, c[0]);
    let a2 = c[3].mul_add(r, c[2]);
    let a3 = c[5].mul_add(r, c[4]);
    let a4 = c[7].mul_add(r, c[6]);
    let a5 = c[9].mul_add(r, c[8]);
    let a6 = c[11].mul_add(r, c[10]);
    let b0 = a1.mul_add(r2, a0);
    let b1 = a3.mul_add(r2, a2);
    let b2 = a5.mul_add(r2, a4);
    let d0 = b1.mul_add(r4, b0);
    let d1 = a6.mul_add(r4, b2);
    d1.mul_add(r8, d0)
}

/// e^x without branches (see the module documentation); +inf above about
/// 709.78, 0 below about -745.13, NaN for NaN. Call it inside
/// [`crate::simd::dispatch`]: there its multiply-adds are single
/// instructions, outside (the baseline x86-64 target) each is a call to
/// libm's `fma`.
#[inline(always)]
pub fn exp(x: f64) -> f64 {
    // beyond these the result is inf or 0 anyway; the clamp keeps n small
    let xc = x.clamp(-746.0, 710.0);
    let t = xc * LOG2E + SHIFT;
    let n = t - SHIFT;
    // the integer n, read from the low mantissa bits of t = 1.5 * 2^52 + n
    let ni = t.to_bits() as i64 - SHIFT.to_bits() as i64;
    let r = (-n).mul_add(LN2_LO, (-n).mul_add(LN2_HI, xc));
    let p = poly(r);
    // 2^n as 2^n1 * 2^n2 with both halves in the normal exponent range
    let n1 = ni >> 1;
    let n2 = ni - n1;
    let s1 = f64::from_bits(((n1 + 1023) as u64) << 52);
    let s2 = f64::from_bits(((n2 + 1023) as u64) << 52);
    let y = p * s1 * s2;
    // NaN in, NaN out (the clamp passes NaN through, the bit tricks do not)
    if x.is_nan() {
        x
    } else {
        y
    }
}

/// e^x for the weights of a log-sum-exp, x <= 0 (a term minus the
/// largest term): the same value as [`exp`] for x >= -708, and 0 below,
/// where [`exp`] would give a subnormal under 3.3e-308 that cannot change
/// a sum that holds the term e^0 = 1. NaN stays NaN. Skipping the
/// subnormal range and the overflow clamp saves a fifth of the work.
/// (Positive x is not checked: it must not occur.) Its register form,
/// `exp_weight_lanes`, does the same operations: change both together.
#[inline(always)]
pub fn exp_weight(x: f64) -> f64 {
    let xc = if x < -708.0 { -708.0 } else { x };
    let t = xc * LOG2E + SHIFT;
    let n = t - SHIFT;
    let ni = t.to_bits() as i64 - SHIFT.to_bits() as i64;
    let r = (-n).mul_add(LN2_LO, (-n).mul_add(LN2_HI, xc));
    let p = poly(r);
    // n >= -1022: 2^n is one normal number
    let y = p * f64::from_bits(((ni + 1023) as u64) << 52);
    if x < -708.0 {
        0.0
    } else {
        y
    }
}

/// [`exp_weight`] of every lane of a register: the same operations in
/// the same order (the polynomial by [`poly`]'s Estrin scheme), so the
/// same bits, for the kernels written over
/// [`crate::register::F64Register`].
#[cfg(target_arch = "x86_64")]
#[inline(always)]
pub(crate) fn exp_weight_lanes<S: crate::register::F64Register<W>, const W: usize>(s: S, x: S::R) -> S::R {
    let c = &INV_FACT;
    // x < -708 ? -708 : x (a NaN stays), as -708 > x ? -708 : x
    let xc = s.max(s.splat(&-708.0), x);
    let t = s.add(s.mul(xc, s.splat(&LOG2E)), s.splat(&SHIFT));
    let n = s.sub(t, s.splat(&SHIFT));
    let r = s.neg_mul_add(n, s.splat(&LN2_LO), s.neg_mul_add(n, s.splat(&LN2_HI), xc));
    let r2 = s.mul(r, r);
    let r4 = s.mul(r2, r2);
    let r8 = s.mul(r4, r4);
    let a0 = s.add(r, s.splat(&1.0));
    let a1 = s.mul_add(s.splat(&c[1]), r, s.splat(&c[0]));
    let a2 = s.mul_add(s.splat(&c[3]), r, s.splat(&c[2]));
    let a3 = s.mul_add(s.splat(&c[5]), r, s.splat(&c[4]));
    let a4 = s.mul_add(s.splat(&c[7]), r, s.splat(&c[6]));
    let a5 = s.mul_add(s.splat(&c[9]), r, s.splat(&c[8]));
    let a6 = s.mul_add(s.splat(&c[11]), r, s.splat(&c[10]));
    let b0 = s.mul_add(a1, r2, a0);
    let b1 = s.mul_add(a3, r2, a2);
    let b2 = s.mul_add(a5, r2, a4);
    let d0 = s.mul_add(b1, r4, b0);
    let d1 = s.mul_add(a6, r4, b2);
    let p = s.mul_add(d1, r8, d0);
    // 2^n: ((bits(t) - bits(SHIFT)) + 1023) << 52
    let scale = s.add_bits_shl52(t, 1023i64.wrapping_sub(SHIFT.to_bits() as i64));
    s.zero_below(x, -708.0, s.mul(p, scale))
}

/// Replace every value of `xs` by its exponential ([`exp`]), vectorised
/// through [`crate::simd::dispatch`] (call [`exp`] in your own dispatched
/// loop instead where the slice is short: the dispatch costs a call).
pub fn exp_in_place(xs: &mut [f64]) {
    crate::simd::dispatch(
        #[inline(always)]
        || {
            for x in xs.iter_mut() {
                *x = exp(*x);
            }
        },
    );
}

/// Replace every value z of `zs` by the logistic sigmoid 1 / (1 + e^-z),
/// computed from e = e^-|z| on either side (no overflow, no cancellation)
/// and vectorised like [`exp_in_place`].
pub fn sigmoid_in_place(zs: &mut [f64]) {
    crate::simd::dispatch(
        #[inline(always)]
        || {
            for z in zs.iter_mut() {
                let e = exp(-z.abs());
                let r = 1.0 / (1.0 + e);
                *z = if *z >= 0.0 { r } else { e * r };
            }
        },
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Distance in units in the last place.
    fn ulps(a: f64, b: f64) -> u64 {
        (a.to_bits() as i64 - b.to_bits() as i64).unsigned_abs()
    }

    #[test]
    fn special_values() {
        assert_eq!(exp(0.0), 1.0);
        assert_eq!(exp(710.0), f64::INFINITY);
        assert_eq!(exp(f64::INFINITY), f64::INFINITY);
        assert_eq!(exp(-746.0), 0.0);
        assert_eq!(exp(f64::NEG_INFINITY), 0.0);
        assert!(exp(f64::NAN).is_nan());
        assert!(ulps(exp(1.0), std::f64::consts::E) <= 1);
        assert!(ulps(exp(709.7), 709.7f64.exp()) <= 2);
        // subnormal results: tiny absolute error
        for x in [-708.5, -720.0, -740.0, -745.0] {
            assert!(
                (exp(x) - x.exp()).abs() <= 2.0 * 4.9e-324 + 2e-16 * x.exp(),
                "{x}"
            );
        }
    }

    #[test]
    fn weights_match_exp_down_to_the_subnormal_range() {
        for i in 0..=70_800 {
            let x = -(i as f64) * 0.01;
            assert_eq!(exp_weight(x).to_bits(), exp(x).to_bits(), "{x}");
        }
        assert_eq!(exp_weight(-708.5), 0.0);
        assert_eq!(exp_weight(f64::NEG_INFINITY), 0.0);
        assert!(exp_weight(f64::NAN).is_nan());
    }

    #[test]
    fn slices_match_the_scalar() {
        let mut v: Vec<f64> = (-50..50).map(|i| i as f64 * 0.37).collect();
        let want: Vec<f64> = v.iter().map(|&x| exp(x)).collect();
        exp_in_place(&mut v);
        assert_eq!(v, want);
    }

    #[test]
    fn sigmoid_matches_the_scalar_definition() {
        let mut z: Vec<f64> = (-80..80).map(|i| i as f64 * 0.61).collect();
        let want: Vec<f64> = z.iter().map(|&a| crate::math::sigmoid(a)).collect();
        sigmoid_in_place(&mut z);
        for (a, b) in z.iter().zip(&want) {
            assert!((a - b).abs() <= 4e-16 * b.max(1e-300), "{a} vs {b}");
        }
        let mut ends = [f64::INFINITY, f64::NEG_INFINITY, 800.0, -800.0];
        sigmoid_in_place(&mut ends);
        assert_eq!(ends, [1.0, 0.0, 1.0, 0.0]);
    }

    proptest! {
        #[test]
        fn within_2_ulp_of_libm_in_the_normal_range(x in -708.0f64..709.7) {
            let (a, b) = (exp(x), x.exp());
            // libm is within 1 ulp of the true value, so 2 ulp from libm
            // bounds our error by 3 ulp of the truth
            prop_assert!(ulps(a, b) <= 2, "exp({x}) = {a}, libm {b}");
        }

        #[test]
        fn within_2_ulp_near_zero(x in -1.0f64..1.0) {
            prop_assert!(ulps(exp(x), x.exp()) <= 2);
        }
    }
}
