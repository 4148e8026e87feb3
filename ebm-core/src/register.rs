//! The f64 registers that the hand-scheduled kernels are written over
//! (the product's tiles, [`crate::matmul`], the mixture's passes,
//! [`crate::energies::Gmm`], and Box-Muller in lanes,
//! [`crate::normal::box_muller_lanes`]): one trait, an AVX-512 and an AVX2
//! implementation, so that each kernel's code is written once and each
//! instruction set gets the blocking that fits its register file. Every
//! operation is one correctly rounded IEEE operation (or an exact bit
//! operation) per lane, so a kernel gives the same bits at either width
//! as the portable code that does the same operations in the same order.

#[cfg(target_arch = "x86_64")]
use core::arch::x86_64::{__m256d, __m512d, _CMP_GT_OQ, _CMP_LT_OQ};

/// A register of `W` f64 values and the operations those kernels need. The
/// sums are fused multiply-adds, rounded once whatever the width, so
/// every width gives the same sums; the kick and drift round each
/// product, then each difference or sum, as the scalar code does.
pub(crate) trait F64Register<const W: usize>: Copy {
    /// The register.
    type R: Copy;
    /// Rows of A in a full tile: with up to three registers of B's row a
    /// tile holds `3 x ROWS` accumulators, and the B registers and a
    /// broadcast must fit beside them (AVX-512: 24 + 3 + 1 of 32
    /// registers; AVX2: 12 + 3 + 1 of 16).
    const ROWS: usize;
    /// Every lane 0.
    fn zero(self) -> Self::R;
    /// Every lane `*v`, broadcast straight from memory (loaded first and
    /// broadcast from a register it takes a shuffle port that the
    /// multiply-adds need: 20% slower on AVX-512).
    fn splat(self, v: &f64) -> Self::R;
    /// The first `W` values of `v`, lane i value i.
    fn load(self, v: &[f64]) -> Self::R;
    /// The lanes into the first `W` values of `out`.
    fn store(self, r: Self::R, out: &mut [f64]);
    /// The lanes as values.
    fn lanes(self, r: Self::R) -> [f64; W];
    /// a b + c in every lane, rounded once.
    fn mul_add(self, a: Self::R, b: Self::R, c: Self::R) -> Self::R;
    /// a - b in every lane.
    fn sub(self, a: Self::R, b: Self::R) -> Self::R;
    /// a + b in every lane.
    fn add(self, a: Self::R, b: Self::R) -> Self::R;
    /// a b in every lane.
    fn mul(self, a: Self::R, b: Self::R) -> Self::R;
    /// c - a b in every lane, rounded once (the same as
    /// `(-a).mul_add(b, c)`).
    fn neg_mul_add(self, a: Self::R, b: Self::R, c: Self::R) -> Self::R;
    /// `if a > b { a } else { b }` in every lane (so b where either is
    /// NaN), the x86 `max` instruction's rule.
    fn max(self, a: Self::R, b: Self::R) -> Self::R;
    /// The lanes whose bits, read as an integer and plus `k` (wrapping),
    /// are shifted left by 52: 2^n from the bits of `1.5 * 2^52 + n`
    /// with `k = 1023 - bits(1.5 * 2^52)` ([`crate::fast_exp`]).
    fn add_bits_shl52(self, a: Self::R, k: i64) -> Self::R;
    /// `if x < limit { 0 } else { y }` in every lane (y where x is NaN).
    fn zero_below(self, x: Self::R, limit: f64, y: Self::R) -> Self::R;
    /// a / b in every lane, correctly rounded.
    fn div(self, a: Self::R, b: Self::R) -> Self::R;
    /// The square root of every lane, correctly rounded.
    fn sqrt(self, a: Self::R) -> Self::R;
    /// `if a > b { x } else { y }` in every lane (y where a or b is NaN).
    fn select_gt(self, a: Self::R, b: Self::R, x: Self::R, y: Self::R) -> Self::R;
    /// `if sel's sign bit is set { neg } else { pos }` in every lane, read
    /// from the bits alone.
    fn select_by_sign(self, sel: Self::R, neg: Self::R, pos: Self::R) -> Self::R;

    // Bit operations: a lane's 64 bits read as an unsigned integer.

    /// Every lane the bits `b`.
    fn splat_bits(self, b: u64) -> Self::R;
    /// Lane l's bits `lo[l] | hi[l] << 32` (two 32-bit words of a stream
    /// as `next_u64` joins them), for the first `W` values of each.
    fn words_u64(self, lo: &[u32], hi: &[u32]) -> Self::R;
    /// Every lane's bits shifted right by `n` (below 64), zeros in.
    fn shr_bits(self, a: Self::R, n: u64) -> Self::R;
    /// Every lane's bits shifted left by `n` (below 64), zeros in.
    fn shl_bits(self, a: Self::R, n: u64) -> Self::R;
    /// a | b, bit by bit.
    fn or_bits(self, a: Self::R, b: Self::R) -> Self::R;
    /// a & b, bit by bit.
    fn and_bits(self, a: Self::R, b: Self::R) -> Self::R;
    /// a ^ b, bit by bit.
    fn xor_bits(self, a: Self::R, b: Self::R) -> Self::R;
}

#[cfg(target_arch = "x86_64")]
impl F64Register<8> for pulp::x86::V4 {
    type R = __m512d;
    const ROWS: usize = 8;
    #[inline(always)]
    fn zero(self) -> __m512d {
        self.avx512f._mm512_setzero_pd()
    }
    #[inline(always)]
    fn splat(self, v: &f64) -> __m512d {
        self.avx512f._mm512_set1_pd(*v)
    }
    #[inline(always)]
    fn load(self, v: &[f64]) -> __m512d {
        let v: [f64; 8] = v[..8].try_into().expect("a register's values");
        pulp::cast(v)
    }
    #[inline(always)]
    fn store(self, r: __m512d, out: &mut [f64]) {
        out[..8].copy_from_slice(&self.lanes(r));
    }
    #[inline(always)]
    fn lanes(self, r: __m512d) -> [f64; 8] {
        pulp::cast(r)
    }
    #[inline(always)]
    fn mul_add(self, a: __m512d, b: __m512d, c: __m512d) -> __m512d {
        self.avx512f._mm512_fmadd_pd(a, b, c)
    }
    #[inline(always)]
    fn sub(self, a: __m512d, b: __m512d) -> __m512d {
        self.avx512f._mm512_sub_pd(a, b)
    }
    #[inline(always)]
    fn add(self, a: __m512d, b: __m512d) -> __m512d {
        self.avx512f._mm512_add_pd(a, b)
    }
    #[inline(always)]
    fn mul(self, a: __m512d, b: __m512d) -> __m512d {
        self.avx512f._mm512_mul_pd(a, b)
    }
    #[inline(always)]
    fn neg_mul_add(self, a: __m512d, b: __m512d, c: __m512d) -> __m512d {
        self.avx512f._mm512_fnmadd_pd(a, b, c)
    }
    #[inline(always)]
    fn max(self, a: __m512d, b: __m512d) -> __m512d {
        self.avx512f._mm512_max_pd(a, b)
    }
    #[inline(always)]
    fn add_bits_shl52(self, a: __m512d, k: i64) -> __m512d {
        let f = self.avx512f;
        let sum = f._mm512_add_epi64(f._mm512_castpd_si512(a), f._mm512_set1_epi64(k));
        f._mm512_castsi512_pd(f._mm512_slli_epi64::<52>(sum))
    }
    #[inline(always)]
    fn zero_below(self, x: __m512d, limit: f64, y: __m512d) -> __m512d {
        let f = self.avx512f;
        let below = f._mm512_cmp_pd_mask::<_CMP_LT_OQ>(x, f._mm512_set1_pd(limit));
        f._mm512_mask_mov_pd(y, below, f._mm512_setzero_pd())
    }
    #[inline(always)]
    fn div(self, a: __m512d, b: __m512d) -> __m512d {
        self.avx512f._mm512_div_pd(a, b)
    }
    #[inline(always)]
    fn sqrt(self, a: __m512d) -> __m512d {
        self.avx512f._mm512_sqrt_pd(a)
    }
    #[inline(always)]
    fn select_gt(self, a: __m512d, b: __m512d, x: __m512d, y: __m512d) -> __m512d {
        let f = self.avx512f;
        f._mm512_mask_blend_pd(f._mm512_cmp_pd_mask::<_CMP_GT_OQ>(a, b), y, x)
    }
    #[inline(always)]
    fn select_by_sign(self, sel: __m512d, neg: __m512d, pos: __m512d) -> __m512d {
        let f = self.avx512f;
        let negative = f._mm512_cmplt_epi64_mask(f._mm512_castpd_si512(sel), f._mm512_setzero_si512());
        f._mm512_mask_blend_pd(negative, pos, neg)
    }
    #[inline(always)]
    fn splat_bits(self, b: u64) -> __m512d {
        let f = self.avx512f;
        f._mm512_castsi512_pd(f._mm512_set1_epi64(b as i64))
    }
    #[inline(always)]
    fn words_u64(self, lo: &[u32], hi: &[u32]) -> __m512d {
        let f = self.avx512f;
        let lo: [u32; 8] = lo[..8].try_into().expect("a register's words");
        let hi: [u32; 8] = hi[..8].try_into().expect("a register's words");
        let lo = f._mm512_cvtepu32_epi64(pulp::cast(lo));
        let hi = f._mm512_slli_epi64::<32>(f._mm512_cvtepu32_epi64(pulp::cast(hi)));
        f._mm512_castsi512_pd(f._mm512_or_si512(lo, hi))
    }
    #[inline(always)]
    fn shr_bits(self, a: __m512d, n: u64) -> __m512d {
        let f = self.avx512f;
        let a = f._mm512_castpd_si512(a);
        f._mm512_castsi512_pd(f._mm512_srlv_epi64(a, f._mm512_set1_epi64(n as i64)))
    }
    #[inline(always)]
    fn shl_bits(self, a: __m512d, n: u64) -> __m512d {
        let f = self.avx512f;
        let a = f._mm512_castpd_si512(a);
        f._mm512_castsi512_pd(f._mm512_sllv_epi64(a, f._mm512_set1_epi64(n as i64)))
    }
    #[inline(always)]
    fn or_bits(self, a: __m512d, b: __m512d) -> __m512d {
        self.avx512dq._mm512_or_pd(a, b)
    }
    #[inline(always)]
    fn and_bits(self, a: __m512d, b: __m512d) -> __m512d {
        self.avx512dq._mm512_and_pd(a, b)
    }
    #[inline(always)]
    fn xor_bits(self, a: __m512d, b: __m512d) -> __m512d {
        self.avx512dq._mm512_xor_pd(a, b)
    }
}

#[cfg(target_arch = "x86_64")]
impl F64Register<4> for pulp::x86::V3 {
    type R = __m256d;
    const ROWS: usize = 4;
    #[inline(always)]
    fn zero(self) -> __m256d {
        self.avx._mm256_setzero_pd()
    }
    #[inline(always)]
    fn splat(self, v: &f64) -> __m256d {
        self.avx._mm256_set1_pd(*v)
    }
    #[inline(always)]
    fn load(self, v: &[f64]) -> __m256d {
        let v: [f64; 4] = v[..4].try_into().expect("a register's values");
        pulp::cast(v)
    }
    #[inline(always)]
    fn store(self, r: __m256d, out: &mut [f64]) {
        out[..4].copy_from_slice(&self.lanes(r));
    }
    #[inline(always)]
    fn lanes(self, r: __m256d) -> [f64; 4] {
        pulp::cast(r)
    }
    #[inline(always)]
    fn mul_add(self, a: __m256d, b: __m256d, c: __m256d) -> __m256d {
        self.fma._mm256_fmadd_pd(a, b, c)
    }
    #[inline(always)]
    fn sub(self, a: __m256d, b: __m256d) -> __m256d {
        self.avx._mm256_sub_pd(a, b)
    }
    #[inline(always)]
    fn add(self, a: __m256d, b: __m256d) -> __m256d {
        self.avx._mm256_add_pd(a, b)
    }
    #[inline(always)]
    fn mul(self, a: __m256d, b: __m256d) -> __m256d {
        self.avx._mm256_mul_pd(a, b)
    }
    #[inline(always)]
    fn neg_mul_add(self, a: __m256d, b: __m256d, c: __m256d) -> __m256d {
        self.fma._mm256_fnmadd_pd(a, b, c)
    }
    #[inline(always)]
    fn max(self, a: __m256d, b: __m256d) -> __m256d {
        self.avx._mm256_max_pd(a, b)
    }
    #[inline(always)]
    fn add_bits_shl52(self, a: __m256d, k: i64) -> __m256d {
        let sum = self
            .avx2
            ._mm256_add_epi64(self.avx._mm256_castpd_si256(a), self.avx._mm256_set1_epi64x(k));
        self.avx
            ._mm256_castsi256_pd(self.avx2._mm256_slli_epi64::<52>(sum))
    }
    #[inline(always)]
    fn zero_below(self, x: __m256d, limit: f64, y: __m256d) -> __m256d {
        let below = self
            .avx
            ._mm256_cmp_pd::<_CMP_LT_OQ>(x, self.avx._mm256_set1_pd(limit));
        self.avx._mm256_andnot_pd(below, y)
    }
    #[inline(always)]
    fn div(self, a: __m256d, b: __m256d) -> __m256d {
        self.avx._mm256_div_pd(a, b)
    }
    #[inline(always)]
    fn sqrt(self, a: __m256d) -> __m256d {
        self.avx._mm256_sqrt_pd(a)
    }
    #[inline(always)]
    fn select_gt(self, a: __m256d, b: __m256d, x: __m256d, y: __m256d) -> __m256d {
        let gt = self.avx._mm256_cmp_pd::<_CMP_GT_OQ>(a, b);
        self.avx._mm256_blendv_pd(y, x, gt)
    }
    #[inline(always)]
    fn select_by_sign(self, sel: __m256d, neg: __m256d, pos: __m256d) -> __m256d {
        self.avx._mm256_blendv_pd(pos, neg, sel)
    }
    #[inline(always)]
    fn splat_bits(self, b: u64) -> __m256d {
        self.avx
            ._mm256_castsi256_pd(self.avx._mm256_set1_epi64x(b as i64))
    }
    #[inline(always)]
    fn words_u64(self, lo: &[u32], hi: &[u32]) -> __m256d {
        let x = self.avx2;
        let lo: [u32; 4] = lo[..4].try_into().expect("a register's words");
        let hi: [u32; 4] = hi[..4].try_into().expect("a register's words");
        let lo = x._mm256_cvtepu32_epi64(pulp::cast(lo));
        let hi = x._mm256_slli_epi64::<32>(x._mm256_cvtepu32_epi64(pulp::cast(hi)));
        self.avx._mm256_castsi256_pd(x._mm256_or_si256(lo, hi))
    }
    #[inline(always)]
    fn shr_bits(self, a: __m256d, n: u64) -> __m256d {
        let a = self.avx._mm256_castpd_si256(a);
        let n = self.avx._mm256_set1_epi64x(n as i64);
        self.avx._mm256_castsi256_pd(self.avx2._mm256_srlv_epi64(a, n))
    }
    #[inline(always)]
    fn shl_bits(self, a: __m256d, n: u64) -> __m256d {
        let a = self.avx._mm256_castpd_si256(a);
        let n = self.avx._mm256_set1_epi64x(n as i64);
        self.avx._mm256_castsi256_pd(self.avx2._mm256_sllv_epi64(a, n))
    }
    #[inline(always)]
    fn or_bits(self, a: __m256d, b: __m256d) -> __m256d {
        self.avx._mm256_or_pd(a, b)
    }
    #[inline(always)]
    fn and_bits(self, a: __m256d, b: __m256d) -> __m256d {
        self.avx._mm256_and_pd(a, b)
    }
    #[inline(always)]
    fn xor_bits(self, a: __m256d, b: __m256d) -> __m256d {
        self.avx._mm256_xor_pd(a, b)
    }
}
