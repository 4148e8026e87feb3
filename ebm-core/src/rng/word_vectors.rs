//! ChaCha's arithmetic on registers of 32-bit words, for the two
//! instruction sets with a fast path: AVX-512 (sixteen words a register;
//! every rotation one `vprold`) and AVX2 (eight words; the rotations by
//! 16 and 8 bits one byte shuffle each, those by 12 and 7 two shifts and
//! an or). The quarter round and the four double rounds are written once
//! over [`WordVector`], so the two block layouts of `chacha8` (four
//! blocks side by side) and `chacha8_lanes` (one stream per lane) run the
//! same rounds on either instruction set.
//!
//! Every function here is `#[inline(always)]`: a kernel calls them inside
//! its own `vectorize`, and one that is not inlined would be compiled
//! without the instruction set (each intrinsic a call).

#![cfg(target_arch = "x86_64")]

use core::arch::x86_64::{__m256i, __m512i};
use pulp::x86::{V3, V4};

/// A register of [`WordVector::LANES`] 32-bit words and the operations of
/// ChaCha's rounds on every lane.
pub(super) trait WordVector: Copy {
    /// The register.
    type W: Copy;
    /// 32-bit words in a register.
    const LANES: usize;
    /// Every lane `w`.
    fn splat(self, w: u32) -> Self::W;
    /// The first [`WordVector::LANES`] words of `words`, lane i word i.
    fn load(self, words: &[u32]) -> Self::W;
    /// The lanes into the first [`WordVector::LANES`] words of `out`.
    fn store(self, w: Self::W, out: &mut [u32]);
    /// a + b, wrapping.
    fn add(self, a: Self::W, b: Self::W) -> Self::W;
    /// a ^ b.
    fn xor(self, a: Self::W, b: Self::W) -> Self::W;
    /// Each word rotated left by 16 bits.
    fn rotl16(self, a: Self::W) -> Self::W;
    /// Each word rotated left by 12 bits.
    fn rotl12(self, a: Self::W) -> Self::W;
    /// Each word rotated left by 8 bits.
    fn rotl8(self, a: Self::W) -> Self::W;
    /// Each word rotated left by 7 bits.
    fn rotl7(self, a: Self::W) -> Self::W;
    /// The four words of each 128-bit lane moved left by one place
    /// (word j takes word j + 1 mod 4).
    fn words_left1(self, a: Self::W) -> Self::W;
    /// ... by two places.
    fn words_left2(self, a: Self::W) -> Self::W;
    /// ... by three places.
    fn words_left3(self, a: Self::W) -> Self::W;
}

/// The quarter round (module docs of `chacha8`) on every lane of a, b, c
/// and d at once.
#[inline(always)]
pub(super) fn quarter<S: WordVector>(s: S, a: &mut S::W, b: &mut S::W, c: &mut S::W, d: &mut S::W) {
    *a = s.add(*a, *b);
    *d = s.rotl16(s.xor(*d, *a));
    *c = s.add(*c, *d);
    *b = s.rotl12(s.xor(*b, *c));
    *a = s.add(*a, *b);
    *d = s.rotl8(s.xor(*d, *a));
    *c = s.add(*c, *d);
    *b = s.rotl7(s.xor(*b, *c));
}

/// ChaCha8's four double rounds on blocks laid out row by row: in each
/// set, register r holds row r of the blocks, one block per 128-bit lane.
/// The column round is one quarter round on the four rows; the diagonal
/// round is the same after moving rows 1, 2 and 3 left by one, two and
/// three words within each lane (and back after it). The sets are
/// independent blocks, interleaved step by step so their chains of
/// dependent instructions overlap.
#[inline(always)]
pub(super) fn double_rounds<S: WordVector, const N: usize>(s: S, sets: &mut [[S::W; 4]; N]) {
    for _ in 0..4 {
        for [a, b, c, d] in sets.iter_mut() {
            quarter(s, a, b, c, d);
            (*b, *c, *d) = (s.words_left1(*b), s.words_left2(*c), s.words_left3(*d));
        }
        for [a, b, c, d] in sets.iter_mut() {
            quarter(s, a, b, c, d);
            (*b, *c, *d) = (s.words_left3(*b), s.words_left2(*c), s.words_left1(*d));
        }
    }
}

impl WordVector for V4 {
    type W = __m512i;
    const LANES: usize = 16;
    #[inline(always)]
    fn splat(self, w: u32) -> __m512i {
        pulp::cast([w; 16])
    }
    #[inline(always)]
    fn load(self, words: &[u32]) -> __m512i {
        let w: [u32; 16] = words[..16].try_into().expect("sixteen words");
        pulp::cast(w)
    }
    #[inline(always)]
    fn store(self, w: __m512i, out: &mut [u32]) {
        out[..16].copy_from_slice(&pulp::cast::<_, [u32; 16]>(w));
    }
    #[inline(always)]
    fn add(self, a: __m512i, b: __m512i) -> __m512i {
        self.avx512f._mm512_add_epi32(a, b)
    }
    #[inline(always)]
    fn xor(self, a: __m512i, b: __m512i) -> __m512i {
        self.avx512f._mm512_xor_si512(a, b)
    }
    #[inline(always)]
    fn rotl16(self, a: __m512i) -> __m512i {
        self.avx512f._mm512_rol_epi32::<16>(a)
    }
    #[inline(always)]
    fn rotl12(self, a: __m512i) -> __m512i {
        self.avx512f._mm512_rol_epi32::<12>(a)
    }
    #[inline(always)]
    fn rotl8(self, a: __m512i) -> __m512i {
        self.avx512f._mm512_rol_epi32::<8>(a)
    }
    #[inline(always)]
    fn rotl7(self, a: __m512i) -> __m512i {
        self.avx512f._mm512_rol_epi32::<7>(a)
    }
    #[inline(always)]
    fn words_left1(self, a: __m512i) -> __m512i {
        self.avx512f._mm512_shuffle_epi32::<0b00_11_10_01>(a)
    }
    #[inline(always)]
    fn words_left2(self, a: __m512i) -> __m512i {
        self.avx512f._mm512_shuffle_epi32::<0b01_00_11_10>(a)
    }
    #[inline(always)]
    fn words_left3(self, a: __m512i) -> __m512i {
        self.avx512f._mm512_shuffle_epi32::<0b10_01_00_11>(a)
    }
}

/// The byte shuffle that rotates each 32-bit word left by `8 k` bits
/// (k = 1, 2): byte i of a word takes byte (i - k) mod 4.
#[inline(always)]
fn rotate_bytes(k: usize) -> __m256i {
    pulp::cast::<[u8; 32], __m256i>(std::array::from_fn(|i| {
        let (word, byte) = (i / 4, i % 4);
        (word * 4 + (byte + 4 - k) % 4) as u8
    }))
}

impl WordVector for V3 {
    type W = __m256i;
    const LANES: usize = 8;
    #[inline(always)]
    fn splat(self, w: u32) -> __m256i {
        pulp::cast([w; 8])
    }
    #[inline(always)]
    fn load(self, words: &[u32]) -> __m256i {
        let w: [u32; 8] = words[..8].try_into().expect("eight words");
        pulp::cast(w)
    }
    #[inline(always)]
    fn store(self, w: __m256i, out: &mut [u32]) {
        out[..8].copy_from_slice(&pulp::cast::<_, [u32; 8]>(w));
    }
    #[inline(always)]
    fn add(self, a: __m256i, b: __m256i) -> __m256i {
        self.avx2._mm256_add_epi32(a, b)
    }
    #[inline(always)]
    fn xor(self, a: __m256i, b: __m256i) -> __m256i {
        self.avx2._mm256_xor_si256(a, b)
    }
    #[inline(always)]
    fn rotl16(self, a: __m256i) -> __m256i {
        self.avx2._mm256_shuffle_epi8(a, rotate_bytes(2))
    }
    #[inline(always)]
    fn rotl12(self, a: __m256i) -> __m256i {
        let f = self.avx2;
        f._mm256_or_si256(f._mm256_slli_epi32::<12>(a), f._mm256_srli_epi32::<20>(a))
    }
    #[inline(always)]
    fn rotl8(self, a: __m256i) -> __m256i {
        self.avx2._mm256_shuffle_epi8(a, rotate_bytes(1))
    }
    #[inline(always)]
    fn rotl7(self, a: __m256i) -> __m256i {
        let f = self.avx2;
        f._mm256_or_si256(f._mm256_slli_epi32::<7>(a), f._mm256_srli_epi32::<25>(a))
    }
    #[inline(always)]
    fn words_left1(self, a: __m256i) -> __m256i {
        self.avx2._mm256_shuffle_epi32::<0b00_11_10_01>(a)
    }
    #[inline(always)]
    fn words_left2(self, a: __m256i) -> __m256i {
        self.avx2._mm256_shuffle_epi32::<0b01_00_11_10>(a)
    }
    #[inline(always)]
    fn words_left3(self, a: __m256i) -> __m256i {
        self.avx2._mm256_shuffle_epi32::<0b10_01_00_11>(a)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each operation against its scalar meaning, on every lane, for
    /// whichever of the two instruction sets this machine has.
    fn check<S: WordVector>(s: S) {
        let n = S::LANES;
        let a: Vec<u32> = (0..n as u32)
            .map(|i| i.wrapping_mul(0x9E37_79B9) ^ 0x0123_4567)
            .collect();
        let b: Vec<u32> = (0..n as u32)
            .map(|i| i.wrapping_mul(0x85EB_CA6B).wrapping_add(0xDEAD_BEEF))
            .collect();
        let (va, vb) = (s.load(&a), s.load(&b));
        let lanes = |w: S::W| {
            let mut out = vec![0; n];
            s.store(w, &mut out);
            out
        };
        let each = |f: &dyn Fn(u32, u32) -> u32| a.iter().zip(&b).map(|(x, y)| f(*x, *y)).collect::<Vec<_>>();
        assert_eq!(lanes(s.add(va, vb)), each(&|x, y| x.wrapping_add(y)));
        assert_eq!(lanes(s.xor(va, vb)), each(&|x, y| x ^ y));
        assert_eq!(lanes(s.rotl16(va)), each(&|x, _| x.rotate_left(16)));
        assert_eq!(lanes(s.rotl12(va)), each(&|x, _| x.rotate_left(12)));
        assert_eq!(lanes(s.rotl8(va)), each(&|x, _| x.rotate_left(8)));
        assert_eq!(lanes(s.rotl7(va)), each(&|x, _| x.rotate_left(7)));
        assert_eq!(lanes(s.splat(7)), vec![7; n]);
        let moved = |k: usize| (0..n).map(|i| a[i / 4 * 4 + (i % 4 + k) % 4]).collect::<Vec<_>>();
        assert_eq!(lanes(s.words_left1(va)), moved(1));
        assert_eq!(lanes(s.words_left2(va)), moved(2));
        assert_eq!(lanes(s.words_left3(va)), moved(3));
    }

    #[test]
    fn operations_mean_what_they_say() {
        if let Some(s) = V3::try_new() {
            s.vectorize(|| check(s));
        }
        if let Some(s) = V4::try_new() {
            s.vectorize(|| check(s));
        }
    }
}
