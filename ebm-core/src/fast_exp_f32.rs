//! e^x in single precision for the weights of a log-sum-exp, written like
//! [`crate::fast_exp`] so that the compiler vectorises it, 16 lanes to an
//! AVX-512 register.
//!
//! Method: n = round(x / ln 2) by the 1.5 * 2^23 shift, r = x - n ln 2
//! with ln 2 split into a 9-bit head (so n ln2_hi is exact for |n| < 2^15)
//! and a tail, |r| <= ln 2 / 2; e^r by its Taylor polynomial of degree 7
//! (truncation below 6e-9 relative, a tenth of an ulp of f32) in Estrin's
//! scheme with fused multiply-adds; then 2^n from the exponent bits. The
//! argument must be at most 0 (a term minus the largest term); results
//! below e^-87 (under the smallest normal f32, 1.2e-38) count as 0.
//! Accuracy: within 2 ulp of the correctly rounded f32 value (tested
//! against the f64 exponential).

const LOG2E: f32 = std::f32::consts::LOG2_E;
/// ln 2 = LN2_HI + LN2_LO, LN2_HI = 0.693359375 (9 significant bits).
const LN2_HI: f32 = 0.693_359_4;
const LN2_LO: f32 = -2.121_944_4e-4;
/// 1.5 * 2^23: adding it rounds to an integer held in the low mantissa bits.
const SHIFT: f32 = 12_582_912.0;
/// Below this, e^x is under the smallest normal f32 and counts as 0.
const FLOOR: f32 = -87.0;

/// e^x for x <= 0 in single precision (see the module documentation):
/// 0 below -87, NaN for NaN. Call it inside [`crate::simd::dispatch`], where
/// its multiply-adds are single instructions.
#[inline(always)]
pub fn exp_weight_f32(x: f32) -> f32 {
    let xc = if x < FLOOR { FLOOR } else { x };
    let t = xc * LOG2E + SHIFT;
    let n = t - SHIFT;
    let ni = t.to_bits() as i32 - SHIFT.to_bits() as i32;
    let r = (-n).mul_add(LN2_LO, (-n).mul_add(LN2_HI, xc));
    let r2 = r * r;
    let r4 = r2 * r2;
    let a0 = r + 1.0;
    let a1 = (1.0 / 6.0f32).mul_add(r, 0.5);
    let a2 = (1.0 / 120.0f32).mul_add(r, 1.0 / 24.0);
    let a3 = (1.0 / 5_040.0f32).mul_add(r, 1.0 / 720.0);
    let b0 = a1.mul_add(r2, a0);
    let b1 = a3.mul_add(r2, a2);
    let p = b1.mul_add(r4, b0);
    // n >= -126: 2^n is one normal number
    let y = p * f32::from_bits(((ni + 127) as u32) << 23);
    if x < FLOOR {
        0.0
    } else {
        y
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Distance in units in the last place of f32.
    fn ulps(a: f32, b: f32) -> u32 {
        (a.to_bits() as i64 - b.to_bits() as i64).unsigned_abs() as u32
    }

    #[test]
    fn special_values() {
        assert_eq!(exp_weight_f32(0.0), 1.0);
        assert_eq!(exp_weight_f32(-87.5), 0.0);
        assert_eq!(exp_weight_f32(f32::NEG_INFINITY), 0.0);
        assert!(exp_weight_f32(f32::NAN).is_nan());
        // the smallest results that count are normal numbers
        assert!(exp_weight_f32(-87.0).is_normal());
    }

    proptest! {
        #[test]
        fn within_2_ulp_of_the_rounded_exponential(x in -87.0f32..0.0) {
            let want = (x as f64).exp() as f32;
            let got = exp_weight_f32(x);
            prop_assert!(ulps(got, want) <= 2, "exp({x}) = {got}, want {want}");
        }
    }

    #[test]
    fn within_2_ulp_on_a_grid() {
        for i in 0..=87_000 {
            let x = -(i as f32) * 1e-3;
            if x < FLOOR {
                assert_eq!(exp_weight_f32(x), 0.0);
                continue;
            }
            let want = (x as f64).exp() as f32;
            assert!(ulps(exp_weight_f32(x), want) <= 2, "{x}");
        }
    }
}
