//! A binary unit drawn from its conditional: the one rule of every
//! sampler and trainer of binary models (the RBM's block-Gibbs kernel,
//! PCD's persistent chains, single-site Gibbs on Ising and other binary
//! models).
//!
//! A unit with input x (its conditional log-odds) is on with probability
//! sigmoid(x). Everything here works from x and e = e^-|x| (one
//! exponential per unit, [`weight_of`]):
//!
//! * sigmoid(x) = 1 / (1 + e) for x >= 0 and e / (1 + e) below
//!   ([`sigmoid_of`]);
//! * the unit is on when a 32-bit random word u satisfies
//!   u < 2^32 sigmoid(x), tested without a division as u (1 + e) < 2^32
//!   for x >= 0 and u (1 + e) < 2^32 e below ([`bernoulli`]; neither side
//!   overflows, and p(on) has resolution 2^-32, 2^-24 in f32 where u is
//!   rounded to 24 bits).
//!
//! Every function is `#[inline(always)]`: it compiles with the
//! instruction set of the caller's [`crate::simd::dispatch`] (outside it
//! the exponential's multiply-adds are software calls: the same values,
//! some four times slower).

use crate::host_float::HostFloat;

/// 2^32: a 32-bit word u is below p 2^32 with probability p.
pub const TWO32: f64 = 4_294_967_296.0;

/// e = e^-|x|, the one exponential of a unit's conditional.
#[inline(always)]
pub fn weight_of<F: HostFloat>(x: F) -> F {
    (-x.abs()).exp_nonpositive()
}

/// sigmoid(x) from x and e = e^-|x| ([`weight_of`]).
#[inline(always)]
pub fn sigmoid_of<F: HostFloat>(x: F, e: F) -> F {
    if x >= F::zero() {
        F::one() / (F::one() + e)
    } else {
        e / (F::one() + e)
    }
}

/// A unit of input x drawn from its conditional by the 32-bit word `u`:
/// 1 (on) with probability sigmoid(x), else 0, from e = e^-|x|
/// ([`weight_of`]): on when u (1 + e) < 2^32 for x >= 0, u (1 + e) < 2^32 e
/// for x < 0.
#[inline(always)]
pub fn bernoulli<F: HostFloat>(x: F, e: F, u: u32) -> F {
    let two32 = F::of(TWO32);
    let rhs = if x >= F::zero() { two32 } else { two32 * e };
    if F::of_word(u) * (F::one() + e) < rhs {
        F::one()
    } else {
        F::zero()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// The division-free test agrees with u < 2^32 sigmoid(x) computed
        /// in f64 wherever the two sides are not within rounding of each
        /// other, and sigmoid_of agrees with 1 / (1 + e^-x).
        #[test]
        fn bernoulli_is_u_below_the_probability(x in -40.0f64..40.0, u: u32) {
            let e = crate::simd::dispatch(|| weight_of(x));
            let p = 1.0 / (1.0 + (-x).exp());
            prop_assert!((sigmoid_of(x, e) - p).abs() < 1e-15);
            let threshold = p * TWO32;
            if (u as f64 - threshold).abs() > 1e-6 * threshold.max(1.0) {
                prop_assert_eq!(bernoulli(x, e, u) == 1.0, (u as f64) < threshold);
            }
        }
    }

    #[test]
    fn even_odds_are_half_the_words() {
        assert_eq!(bernoulli(0.0, weight_of(0.0), (1u32 << 31) - 1), 1.0);
        assert_eq!(bernoulli(0.0, weight_of(0.0), 1u32 << 31), 0.0);
        assert_eq!(bernoulli(-1000.0f64, weight_of(-1000.0), 0), 0.0);
        assert_eq!(bernoulli(1000.0f64, weight_of(1000.0), u32::MAX), 1.0);
    }
}
