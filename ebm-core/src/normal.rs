//! Standard normal draws from raw 64-bit words by the Box-Muller
//! transform, written so that a whole buffer of pairs is transformed in
//! one vectorised pass (see [`crate::simd`]).
//!
//! A pair of words (a, b) gives two independent N(0, 1) values:
//!
//! u = 2 - m(a) in (0, 1], with m(a) in [1, 2) built from the top 52 bits
//! of a; r = sqrt(-2 ln u);
//! theta = 2 pi t with t in [0, 1): the top 2 bits of b pick the quadrant,
//! the next 52 the position in it;
//! (z0, z1) = (r cos theta, r sin theta).
//!
//! The largest |z| is sqrt(2 * 52 ln 2) = 8.49, so the tails beyond 8.49
//! standard deviations (probability 2e-17) are cut off. sin and cos come
//! from Taylor polynomials on [-pi/4, pi/4) (error below 1e-16), ln from
//! [`crate::fast_ln`]. Samplers draw each chain's words from its own
//! ChaCha stream in order, then transform the whole batch, so the values
//! depend on the seed only, never on the vector width or thread count.
//!
//! ```
//! use ebm_core::normal::fill_normals;
//! let mut rng = ebm_core::chain_rng(1, 0);
//! let mut z = vec![0.0; 100_001];
//! fill_normals(&mut rng, &mut z);
//! let mean = z.iter().sum::<f64>() / z.len() as f64;
//! assert!(mean.abs() < 0.02);
//! ```

use rand::RngCore;

#[cfg(target_arch = "x86_64")]
mod registers;

const FRAC_PI_2: f64 = std::f64::consts::FRAC_PI_2;
const FRAC_1_SQRT_2: f64 = std::f64::consts::FRAC_1_SQRT_2;
const ONE_BITS: u64 = 0x3ff0_0000_0000_0000;
/// (-1)^k / (2k + 1)! for k = 1..=7 (sin) and (-1)^k / (2k)! for k = 1..=8 (cos).
const SIN_C: [f64; 7] = [
    -1.0 / 6.0,
    1.0 / 120.0,
    -1.0 / 5_040.0,
    1.0 / 362_880.0,
    -1.0 / 39_916_800.0,
    1.0 / 6_227_020_800.0,
    -1.0 / 1_307_674_368_000.0,
];
const COS_C: [f64; 8] = [
    -0.5,
    1.0 / 24.0,
    -1.0 / 720.0,
    1.0 / 40_320.0,
    -1.0 / 3_628_800.0,
    1.0 / 479_001_600.0,
    -1.0 / 87_178_291_200.0,
    1.0 / 20_922_789_888_000.0,
];

/// The two normals of one pair of words (see the module documentation).
#[inline(always)]
pub fn pair(a: u64, b: u64) -> (f64, f64) {
    let u = 2.0 - f64::from_bits(ONE_BITS | (a >> 12));
    let r = (-2.0 * crate::fast_ln::ln(u)).sqrt();
    // quadrant q (top two bits of b) and the position f in [0, 1) within it
    let q = b >> 62;
    let f = f64::from_bits(ONE_BITS | ((b << 2) >> 12)) - 1.0;
    let x = (f - 0.5) * FRAC_PI_2; // theta = q pi/2 + pi/4 + x
    let x2 = x * x;
    let mut ps = SIN_C[6];
    for c in SIN_C[..6].iter().rev() {
        ps = ps.mul_add(x2, *c);
    }
    let sin_x = x.mul_add(x2 * ps, x);
    let mut pc = COS_C[7];
    for c in COS_C[..7].iter().rev() {
        pc = pc.mul_add(x2, *c);
    }
    let cos_x = x2.mul_add(pc, 1.0);
    // cos and sin of pi/4 + x
    let c = (cos_x - sin_x) * FRAC_1_SQRT_2;
    let s = (sin_x + cos_x) * FRAC_1_SQRT_2;
    // rotate by q quarter turns: (c, s), (-s, c), (-c, -s), (s, -c)
    let odd = q & 1 == 1;
    let (cq, sq) = if odd { (s, c) } else { (c, s) };
    let flip_c = ((q ^ (q >> 1)) & 1) << 63;
    let flip_s = (q >> 1) << 63;
    let cos_t = f64::from_bits(cq.to_bits() ^ flip_c);
    let sin_t = f64::from_bits(sq.to_bits() ^ flip_s);
    (r * cos_t, r * sin_t)
}

/// Transform `words` (pairs, `words.len() == out.len()`, even) into as many
/// normals: pair k of words gives `out[2k]` and `out[2k + 1]`. Call it
/// inside [`crate::simd::dispatch`] to have it vectorised.
///
/// # Panics
/// If the lengths differ or are odd.
#[inline(always)]
pub fn box_muller(words: &[u64], out: &mut [f64]) {
    assert!(
        words.len() == out.len() && words.len() % 2 == 0,
        "box_muller: shape"
    );
    for (w, z) in words.chunks_exact(2).zip(out.chunks_exact_mut(2)) {
        let (z0, z1) = pair(w[0], w[1]);
        z[0] = z0;
        z[1] = z1;
    }
}

/// [`box_muller`] on the words of up to sixteen streams laid out in lanes
/// (as [`crate::rng::read_lanes`] reads them: `words[k][l]` is the k-th
/// 32-bit word of stream l): each lane's u64 words are its 32-bit words
/// in pairs, the first the low half (as `next_u64` reads them), and each
/// pair of u64 gives two normals, so `out[2p][l]` and `out[2p + 1][l]`
/// are the normals of lane l's pair p, the values [`box_muller`] gives
/// for that stream's words.
///
/// Compiled for the best registers this CPU has: on AVX2 without
/// AVX-512 written over its registers (`normal/registers.rs`: the
/// logarithm without the selects for arguments it never sees, 28% faster
/// on a Zen 3), else the portable lanes under [`crate::simd::dispatch`];
/// every path gives the same bits.
///
/// # Panics
/// If `words.len() != 2 * out.len()` or `out.len()` is odd.
pub fn box_muller_lanes(words: &[crate::rng::WordLanes], out: &mut [[f64; crate::rng::STREAM_LANES]]) {
    assert!(
        words.len() == 2 * out.len() && out.len() % 2 == 0,
        "box_muller_lanes: shape"
    );
    #[cfg(target_arch = "x86_64")]
    if crate::simd::avx512().is_none() {
        if let Some(v3) = crate::simd::avx2() {
            return crate::simd::dispatch(
                #[inline(always)]
                || registers::box_muller_registers::<_, 4, 1>(v3, words, out),
            );
        }
    }
    crate::simd::dispatch(
        #[inline(always)]
        || box_muller_lanes_portable(words, out),
    );
}

/// [`box_muller_lanes`] in the portable lanes (vectorised when called
/// inside [`crate::simd::dispatch`]): [`pair`] lane by lane.
#[inline(always)]
fn box_muller_lanes_portable(words: &[crate::rng::WordLanes], out: &mut [[f64; crate::rng::STREAM_LANES]]) {
    for (w, z) in words.chunks_exact(4).zip(out.chunks_exact_mut(2)) {
        for l in 0..crate::rng::STREAM_LANES {
            let a = u64::from(w[0][l]) | u64::from(w[1][l]) << 32;
            let b = u64::from(w[2][l]) | u64::from(w[3][l]) << 32;
            (z[0][l], z[1][l]) = pair(a, b);
        }
    }
}

/// Words a chain draws for `n` normals: `n` rounded up to even (an odd
/// count uses the first value of its last pair).
pub fn words_for(n: usize) -> usize {
    n + (n & 1)
}

/// Fill `out` with standard normals from `rng`, drawing
/// [`words_for`]`(out.len())` words in order (the transform vectorised
/// through [`crate::simd::dispatch`]).
pub fn fill_normals<R: RngCore + ?Sized>(rng: &mut R, out: &mut [f64]) {
    let n = out.len();
    let words: Vec<u64> = (0..words_for(n)).map(|_| rng.next_u64()).collect();
    let mut z = vec![0.0; words.len()];
    crate::simd::dispatch(
        #[inline(always)]
        || box_muller(&words, &mut z),
    );
    out.copy_from_slice(&z[..n]);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lanes_give_each_streams_normals() {
        use crate::rng::{chain_rngs, read_lanes};
        let mut group = chain_rngs(4, 11);
        let mut alone = group.clone();
        let mut words = vec![[0u32; 16]; 24];
        read_lanes(&mut group, &mut words);
        let mut lanes = vec![[0.0; 16]; 12];
        box_muller_lanes(&words, &mut lanes);
        for (l, r) in alone.iter_mut().enumerate() {
            let w: Vec<u64> = (0..12).map(|_| r.next_u64()).collect();
            let mut z = vec![0.0; 12];
            crate::simd::dispatch(|| box_muller(&w, &mut z));
            for (k, zk) in z.iter().enumerate() {
                assert_eq!(lanes[k][l].to_bits(), zk.to_bits(), "lane {l}, normal {k}");
            }
        }
    }

    #[test]
    fn extremes_are_finite_and_bounded() {
        for a in [0u64, 1, u64::MAX, 1 << 12, (1 << 12) - 1] {
            for b in [0u64, u64::MAX, 1 << 62, 2 << 62, 3 << 62, (1 << 62) - 1] {
                let (z0, z1) = pair(a, b);
                assert!(z0.is_finite() && z1.is_finite());
                assert!(z0.abs() <= 8.5 && z1.abs() <= 8.5, "{a} {b}: {z0} {z1}");
            }
        }
        // a = all ones gives u = 2^-52 at the far tail; a = 0 gives u = 1, r = 0
        assert_eq!(pair(0, 12345), (0.0, 0.0));
        let (z0, z1) = pair(u64::MAX, 0);
        assert!((z0.hypot(z1) - (2.0 * 52.0 * std::f64::consts::LN_2).sqrt()).abs() < 1e-9);
    }

    #[test]
    fn angle_matches_libm() {
        // b selects theta = 2 pi t; compare with libm's sin and cos
        for k in 0..4096u64 {
            let b = k.wrapping_mul(0x9E37_79B9_7F4A_7C15);
            let t = (b >> 12) as f64 / (1u64 << 52) as f64;
            let theta = 2.0 * std::f64::consts::PI * t;
            let a = 0x8000_0000_0000_0000; // u = 1/2, r = sqrt(2 ln 2)
            let r = (2.0 * std::f64::consts::LN_2).sqrt();
            let (z0, z1) = pair(a, b);
            assert!((z0 - r * theta.cos()).abs() < 1e-14, "{t}");
            assert!((z1 - r * theta.sin()).abs() < 1e-14, "{t}");
        }
    }

    #[test]
    fn buffers_match_single_pairs_and_odd_lengths_use_a_whole_pair() {
        let mut r1 = crate::chain_rng(3, 0);
        let mut r2 = crate::chain_rng(3, 0);
        let words: Vec<u64> = (0..8).map(|_| r1.next_u64()).collect();
        let mut out = vec![0.0; 8];
        box_muller(&words, &mut out);
        let mut z = vec![0.0; 7];
        fill_normals(&mut r2, &mut z);
        assert_eq!(&out[..7], &z[..]);
        assert_eq!(words_for(7), 8);
        assert_eq!(r1.next_u64(), r2.next_u64());
    }

    #[test]
    fn vectorised_and_baseline_builds_give_the_same_bits() {
        let mut rng = crate::chain_rng(5, 2);
        let words: Vec<u64> = (0..4096).map(|_| rng.next_u64()).collect();
        let (mut a, mut b) = (vec![0.0; 4096], vec![0.0; 4096]);
        box_muller(&words, &mut a);
        crate::simd::dispatch(
            #[inline(always)]
            || box_muller(&words, &mut b),
        );
        assert!(a.iter().zip(&b).all(|(x, y)| x.to_bits() == y.to_bits()));
    }

    #[test]
    fn moments_and_tails_of_a_million_draws() {
        // 10^6 draws: the standard error of the mean is 1e-3, of the
        // variance 1.4e-3, of the kurtosis 2.4e-3 times sqrt(24) ~ 4.9e-3;
        // 5 standard errors each. Tail frequencies against the normal's,
        // 5 binomial standard errors.
        let mut rng = crate::chain_rng(11, 0);
        let n = 1_000_000;
        let mut z = vec![0.0; n];
        fill_normals(&mut rng, &mut z);
        let m = z.iter().sum::<f64>() / n as f64;
        let v = z.iter().map(|x| (x - m).powi(2)).sum::<f64>() / n as f64;
        let k = z.iter().map(|x| (x - m).powi(4)).sum::<f64>() / n as f64 / (v * v);
        assert!(m.abs() < 5e-3, "mean {m}");
        assert!((v - 1.0).abs() < 7e-3, "variance {v}");
        assert!((k - 3.0).abs() < 0.025, "kurtosis {k}");
        for (t, p) in [
            (1.0, 0.317_310_507_862_914_1),
            (2.0, 0.045_500_263_896_358_4),
            (3.0, 0.002_699_796_063_260_2),
        ] {
            let f = z.iter().filter(|x| x.abs() > t).count() as f64 / n as f64;
            let se = (p * (1.0 - p) / n as f64).sqrt();
            assert!((f - p).abs() < 5.0 * se, "P(|z| > {t}) = {f}, want {p}");
        }
    }
}
