//! The mixture's two passes over its components for a block of
//! [`BLOCK`] points, written once over [`F64Register`] (AVX-512: the
//! block in two registers of eight; AVX2: in two halves, each in two
//! registers of four), with every value of a point group in registers,
//! one coordinate a register. The same operations in the same order as
//! the portable lanes ([`Gmm::passes`], with
//! [`crate::fast_exp::exp_weight`] inside), so the same bits; the
//! mixture's tests check both register types against the portable
//! passes, and the batch path against single points.
//!
//! Why the passes are written a second time: on the W1 mixture the
//! compiler keeps the portable lanes' gradient sums interleaved by point
//! and permutes them every component (docs/performance.md, the
//! twenty-third session); written here, the W1 mixture's gradients take
//! 10.5 ns a point against 12.5-13.0 on the AVX-512 guest (the
//! twenty-fourth session).

use super::{BlockPasses, BlockSums, Gmm, BLOCK, KEEP, MAX_BLOCK_DIM};
use crate::fast_exp::exp_weight_lanes;
use crate::register::F64Register;

/// Registers in flight per coordinate: two independent chains of the
/// exponential's dependent operations, as in the portable lanes.
const REGS: usize = 2;

impl Gmm {
    /// l_k of a group of points (`xr`: [`REGS`] registers a coordinate),
    /// as [`Gmm::log_term`] computes it.
    #[inline(always)]
    fn log_term_registers<S: F64Register<W>, const W: usize, const D: usize>(
        &self,
        s: S,
        k: usize,
        xr: &[[S::R; REGS]; MAX_BLOCK_DIM],
    ) -> [S::R; REGS] {
        let d = if D == 0 { self.dim } else { D };
        let mu = &self.means[k * d..][..d];
        let c = s.splat(&(-0.5 * self.inv_var[k]));
        let ln = s.splat(&self.log_norm[k]);
        let mut out = [s.zero(); REGS];
        for (h, o) in out.iter_mut().enumerate() {
            let mut sq = s.zero();
            for j in 0..d {
                let t = s.sub(xr[j][h], s.splat(&mu[j]));
                sq = s.mul_add(t, t, sq);
            }
            *o = s.mul_add(c, sq, ln);
        }
        out
    }

    /// [`Gmm::passes`] of a block of [`BLOCK`] points (coordinate-major
    /// `x`, `d <= MAX_BLOCK_DIM`) in registers of `W` lanes, `REGS * W`
    /// points at a time; the gradient sums when `GRAD` (else zeros).
    #[inline(always)]
    fn passes_registers<S: F64Register<W>, const W: usize, const D: usize, const GRAD: bool>(
        &self,
        s: S,
        x: &[f64],
    ) -> BlockSums {
        let d = if D == 0 { self.dim } else { D };
        let mut out = BlockSums {
            m: [0.0; BLOCK],
            s: [0.0; BLOCK],
            acc: [[0.0; BLOCK]; MAX_BLOCK_DIM],
        };
        let group = REGS * W;
        for g0 in (0..BLOCK).step_by(group) {
            let mut xr = [[s.zero(); REGS]; MAX_BLOCK_DIM];
            for (j, xj) in xr.iter_mut().enumerate().take(d) {
                for (h, r) in xj.iter_mut().enumerate() {
                    *r = s.load(&x[j * BLOCK + g0 + h * W..]);
                }
            }
            let mut m = [s.splat(&f64::NEG_INFINITY); REGS];
            let mut kept = [[s.zero(); REGS]; KEEP];
            for k in 0..self.weights.len() {
                let lk = self.log_term_registers::<S, W, D>(s, k, &xr);
                for h in 0..REGS {
                    // lk > m ? lk : m
                    m[h] = s.max(lk[h], m[h]);
                }
                if k < KEEP {
                    kept[k] = lk;
                }
            }
            let mut sum = [s.zero(); REGS];
            let mut acc = [[s.zero(); REGS]; MAX_BLOCK_DIM];
            for k in 0..self.weights.len() {
                let lk = if k < KEEP {
                    kept[k]
                } else {
                    self.log_term_registers::<S, W, D>(s, k, &xr)
                };
                let mu = &self.means[k * d..][..d];
                let iv = s.splat(&self.inv_var[k]);
                for h in 0..REGS {
                    let w = exp_weight_lanes(s, s.sub(lk[h], m[h]));
                    sum[h] = s.add(sum[h], w);
                    if GRAD {
                        let wi = s.mul(w, iv);
                        for j in 0..d {
                            let t = s.mul(wi, s.sub(xr[j][h], s.splat(&mu[j])));
                            acc[j][h] = s.add(acc[j][h], t);
                        }
                    }
                }
            }
            for h in 0..REGS {
                let at = g0 + h * W;
                s.store(m[h], &mut out.m[at..]);
                s.store(sum[h], &mut out.s[at..]);
                for j in 0..d {
                    s.store(acc[j][h], &mut out.acc[j][at..]);
                }
            }
        }
        out
    }
}

impl BlockPasses for pulp::x86::V4 {
    type Scratch = ();
    #[inline(always)]
    fn block_passes<const D: usize, const GRAD: bool>(self, gmm: &Gmm, x: &[f64], _: &mut ()) -> BlockSums {
        gmm.passes_registers::<_, 8, D, GRAD>(self, x)
    }
}

impl BlockPasses for pulp::x86::V3 {
    type Scratch = ();
    #[inline(always)]
    fn block_passes<const D: usize, const GRAD: bool>(self, gmm: &Gmm, x: &[f64], _: &mut ()) -> BlockSums {
        gmm.passes_registers::<_, 4, D, GRAD>(self, x)
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::{mixture, points};
    use super::super::PortableLanes;
    use super::*;
    use proptest::prelude::*;

    /// The passes of `passes` on block `xt` equal the portable lanes' bit
    /// for bit (m, s and the gradient sums of the first `d` rows).
    fn check_against_portable<K: BlockPasses>(passes: K, g: &Gmm, xt: &[f64]) -> Result<(), TestCaseError> {
        let d = g.dim;
        let mut kept = [[0.0; BLOCK]; KEEP];
        let want = crate::with_small_dim!(d, D => PortableLanes.block_passes::<D, true>(g, xt, &mut kept));
        let mut scratch = K::Scratch::default();
        let got = crate::with_small_dim!(d, D => passes.block_passes::<D, true>(g, xt, &mut scratch));
        let bits = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        prop_assert_eq!(bits(&got.m), bits(&want.m));
        prop_assert_eq!(bits(&got.s), bits(&want.s));
        for j in 0..d {
            prop_assert_eq!(bits(&got.acc[j]), bits(&want.acc[j]), "coordinate {}", j);
        }
        Ok(())
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        /// Both register widths (whichever this CPU has; the batch path
        /// uses only the widest) give the portable lanes' bits, in every
        /// blockable dimension, with more components than are kept,
        /// points far out (weights below e^-708) and points that are not
        /// finite.
        #[test]
        fn both_widths_give_the_portable_bits(
            d in 1usize..=MAX_BLOCK_DIM, k in 1usize..20, scale in 0.1f64..1e3, seed in 0u64..100,
            bad in proptest::option::of((0usize..BLOCK, prop_oneof![
                Just(f64::NAN), Just(f64::INFINITY), Just(1e200), Just(-1e300)])),
        ) {
            let g = mixture(d, k);
            let mut xt = points(BLOCK, d, scale, seed);
            if let Some((l, v)) = bad {
                xt[l] = v;
            }
            if let Some(v4) = crate::simd::avx512() {
                check_against_portable(v4, &g, &xt)?;
            }
            if let Some(v3) = crate::simd::avx2() {
                check_against_portable(v3, &g, &xt)?;
            }
        }
    }
}
