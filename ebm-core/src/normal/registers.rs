//! [`box_muller_lanes`](super::box_muller_lanes) written over
//! [`F64Register`]: each register's transform is the operations of
//! [`super::pair`] in the same order, so the same bits; the tests check
//! every width and grouping against the portable lanes.
//!
//! What it saves: the logarithm's argument u = 2 - m(a) lies in
//! [2^-52, 1], so it takes [`crate::fast_ln::ln_normal_lanes`], without
//! the selects for zero, subnormal, infinite and NaN arguments that the
//! portable lanes must keep, and the quadrant's swap and signs are taken
//! from b's top two bits where they lie (the swap by the sign of b << 1)
//! instead of from q = b >> 62: together about a fifth of the vector
//! operations besides the broadcasts. On the AVX2
//! guest (Zen 3) this takes a normal from 3.08 to 2.23 ns, one register
//! of four lanes at a time (`REGS = 1`); two or four registers a step
//! (more independent work for the long chain of the division, the
//! multiply-adds and the square root) ran at 2.37 and 2.67 ns, spilling
//! sixteen registers. AVX-512 machines keep the portable lanes until it
//! is measured there; the tests check its bits wherever AVX-512 is.

use super::{COS_C, FRAC_1_SQRT_2, FRAC_PI_2, ONE_BITS, SIN_C};
use crate::fast_ln::ln_normal_lanes;
use crate::register::F64Register;
use crate::rng::{WordLanes, STREAM_LANES};

/// Bit 63.
const SIGN: u64 = 1 << 63;

/// The normals of every pair of `words` into `out`, as
/// [`super::box_muller_lanes`] (shapes checked there), `REGS` registers
/// of `W` lanes at a time (`REGS * W` divides [`STREAM_LANES`]).
#[inline(always)]
pub(super) fn box_muller_registers<S: F64Register<W>, const W: usize, const REGS: usize>(
    s: S,
    words: &[WordLanes],
    out: &mut [[f64; STREAM_LANES]],
) {
    for (w, z) in words.chunks_exact(4).zip(out.chunks_exact_mut(2)) {
        for l0 in (0..STREAM_LANES).step_by(REGS * W) {
            let mut a = [s.zero(); REGS];
            let mut b = [s.zero(); REGS];
            for h in 0..REGS {
                let l = l0 + h * W;
                a[h] = s.words_u64(&w[0][l..], &w[1][l..]);
                b[h] = s.words_u64(&w[2][l..], &w[3][l..]);
            }
            let (z0, z1) = pairs::<S, W, REGS>(s, a, b);
            let (first, second) = z.split_at_mut(1);
            for h in 0..REGS {
                let l = l0 + h * W;
                s.store(z0[h], &mut first[0][l..]);
                s.store(z1[h], &mut second[0][l..]);
            }
        }
    }
}

/// [`super::pair`] of `REGS` registers of word pairs (a, b), each step
/// taken for every register before the next.
#[inline(always)]
fn pairs<S: F64Register<W>, const W: usize, const REGS: usize>(
    s: S,
    a: [S::R; REGS],
    b: [S::R; REGS],
) -> ([S::R; REGS], [S::R; REGS]) {
    let one_bits = s.splat_bits(ONE_BITS);
    // r = sqrt(-2 ln u), u = 2 - m(a)
    let mut r = [s.zero(); REGS];
    for h in 0..REGS {
        let u = s.sub(s.splat(&2.0), s.or_bits(one_bits, s.shr_bits(a[h], 12)));
        r[h] = ln_normal_lanes(s, u);
    }
    for v in r.iter_mut() {
        *v = s.sqrt(s.mul(s.splat(&-2.0), *v));
    }
    // x = (f - 1/2) pi/2, f in [0, 1) from the bits of b below the quadrant
    let mut x = [s.zero(); REGS];
    let mut x2 = [s.zero(); REGS];
    for h in 0..REGS {
        let f = s.sub(
            s.or_bits(one_bits, s.shr_bits(s.shl_bits(b[h], 2), 12)),
            s.splat(&1.0),
        );
        x[h] = s.mul(s.sub(f, s.splat(&0.5)), s.splat(&FRAC_PI_2));
        x2[h] = s.mul(x[h], x[h]);
    }
    let mut ps = [s.splat(&SIN_C[6]); REGS];
    for c in SIN_C[..6].iter().rev() {
        for h in 0..REGS {
            ps[h] = s.mul_add(ps[h], x2[h], s.splat(c));
        }
    }
    let mut pc = [s.splat(&COS_C[7]); REGS];
    for c in COS_C[..7].iter().rev() {
        for h in 0..REGS {
            pc[h] = s.mul_add(pc[h], x2[h], s.splat(c));
        }
    }
    let sign = s.splat_bits(SIGN);
    let mut z0 = [s.zero(); REGS];
    let mut z1 = [s.zero(); REGS];
    for h in 0..REGS {
        let sin_x = s.mul_add(x[h], s.mul(x2[h], ps[h]), x[h]);
        let cos_x = s.mul_add(x2[h], pc[h], s.splat(&1.0));
        // cos and sin of pi/4 + x
        let c = s.mul(s.sub(cos_x, sin_x), s.splat(&FRAC_1_SQRT_2));
        let sn = s.mul(s.add(sin_x, cos_x), s.splat(&FRAC_1_SQRT_2));
        // quadrant q = b >> 62: bit 62 (the sign of b << 1) swaps cos and
        // sin, bit 62 ^ bit 63 flips cos's sign, bit 63 flips sin's
        let b1 = s.shl_bits(b[h], 1);
        let cq = s.select_by_sign(b1, sn, c);
        let sq = s.select_by_sign(b1, c, sn);
        let cos_t = s.xor_bits(cq, s.and_bits(s.xor_bits(b[h], b1), sign));
        let sin_t = s.xor_bits(sq, s.and_bits(b[h], sign));
        z0[h] = s.mul(r[h], cos_t);
        z1[h] = s.mul(r[h], sin_t);
    }
    (z0, z1)
}

#[cfg(test)]
mod tests {
    use super::super::box_muller_lanes_portable;
    use super::*;
    use proptest::prelude::*;

    /// Words whose u64 pairs reach the transform's ends: a = 0 (u = 1,
    /// r = 0), a = all ones (u = 2^-52, the largest radius), and b at
    /// every quadrant's edges.
    fn edge_word(k: u8) -> u64 {
        match k % 8 {
            0 => 0,
            1 => u64::MAX,
            2 => 1 << 62,
            3 => 2 << 62,
            4 => 3 << 62,
            5 => (1 << 62) - 1,
            6 => 1 << 12,
            _ => (1 << 12) - 1,
        }
    }

    /// The register kernel of `s` at its widths gives the portable lanes'
    /// bits for `words`.
    fn check<S: F64Register<W>, const W: usize, const REGS: usize>(
        s: S,
        words: &[WordLanes],
    ) -> Result<(), TestCaseError> {
        let mut want = vec![[0.0; STREAM_LANES]; words.len() / 2];
        let mut got = want.clone();
        box_muller_lanes_portable(words, &mut want);
        crate::simd::dispatch(
            #[inline(always)]
            || box_muller_registers::<S, W, REGS>(s, words, &mut got),
        );
        for (p, (g, w)) in got.iter().zip(&want).enumerate() {
            for l in 0..STREAM_LANES {
                prop_assert_eq!(g[l].to_bits(), w[l].to_bits(), "normal {} of lane {}", p, l);
            }
        }
        Ok(())
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        /// Every register width and grouping this CPU runs gives the
        /// portable lanes' bits, on random words with some lanes' pairs
        /// replaced by the transform's edge cases.
        #[test]
        fn registers_give_the_portable_bits(
            pairs in 1usize..6, seed in 0u64..1000,
            edges in proptest::collection::vec((0usize..STREAM_LANES, 0u8..64), 0..12),
        ) {
            use rand::{Rng, SeedableRng};
            let mut r = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
            let mut words: Vec<WordLanes> = (0..4 * pairs).map(|_| std::array::from_fn(|_| r.random())).collect();
            for (i, &(l, k)) in edges.iter().enumerate() {
                // the pair's a (k / 8 even) or b, as its two 32-bit words
                let p = i % pairs;
                let at = 4 * p + 2 * usize::from(k / 8 % 2 == 1);
                let v = edge_word(k);
                words[at][l] = v as u32;
                words[at + 1][l] = (v >> 32) as u32;
            }
            if let Some(v4) = crate::simd::avx512() {
                check::<_, 8, 2>(v4, &words)?;
                check::<_, 8, 1>(v4, &words)?;
            }
            if let Some(v3) = crate::simd::avx2() {
                check::<_, 4, 4>(v3, &words)?;
                check::<_, 4, 2>(v3, &words)?;
                check::<_, 4, 1>(v3, &words)?;
            }
        }
    }
}
