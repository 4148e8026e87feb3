//! Mixture of isotropic Gaussians.

use crate::energy::{Energy, ExactSample};
use crate::error::{check_finite, check_len, check_positive, CoreError, Result};
use crate::math::{log_sum_exp, LN_2PI};
use rand::Rng;
use rand_distr::{Distribution, StandardNormal};

#[cfg(target_arch = "x86_64")]
mod registers;
mod single;

/// Mixture of K isotropic Gaussians with weights used as given:
///
/// E(x) = -log sum_k w_k N(x; mu_k, s_k^2 I),
/// grad E = sum_k r_k(x) (x - mu_k) / s_k^2 with responsibilities
/// r_k = w_k N(x; mu_k, s_k^2 I) / sum_j w_j N(x; mu_j, s_j^2 I),
/// log Z = log sum_k w_k (0 when the weights sum to 1).
///
/// Evaluated with the log-sum-exp shifted by its largest term, so it
/// neither overflows nor allocates; batches run 16 points at a time in SIMD lanes
/// (see [`crate::simd`]; in AVX-512 or AVX2 registers written for them
/// where the CPU has them), with the same bits as one point at a time.
/// [`Gmm::with_f32_arithmetic`] evaluates the same sums in f32, 32 points
/// at a time, for sampling where speed matters more than the last digits.
///
/// ```
/// use ebm_core::{Energy, energies::Gmm};
/// let m = Gmm::eight_gaussians();
/// assert!(m.log_partition().unwrap().abs() < 1e-12);
/// let fast = Gmm::eight_gaussians().with_f32_arithmetic();
/// let x = [3.9, 0.2];
/// assert!((fast.energy(&x) - m.energy(&x)).abs() < 1e-5);
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct Gmm {
    dim: usize,
    weights: Vec<f64>,
    /// K x D row-major.
    means: Vec<f64>,
    stds: Vec<f64>,
    /// log w_k - D/2 log(2 pi s_k^2).
    log_norm: Vec<f64>,
    inv_var: Vec<f64>,
    /// The parameters in f32 when the arithmetic is single precision
    /// ([`Gmm::with_f32_arithmetic`]).
    single: Option<single::SingleParams>,
}

impl Gmm {
    /// Mixture with `weights` (K, positive), `means` (K rows of D) and
    /// `stds` (K, positive).
    pub fn new(weights: Vec<f64>, means: Vec<Vec<f64>>, stds: Vec<f64>) -> Result<Self> {
        let k = weights.len();
        if k == 0 {
            return Err(CoreError::Shape {
                field: "weights".into(),
                expected: "at least 1 component".into(),
                got: "0".into(),
            });
        }
        check_positive("weights", &weights)?;
        check_len("means", means.len(), k)?;
        check_len("stds", stds.len(), k)?;
        check_positive("stds", &stds)?;
        let dim = means[0].len();
        if dim == 0 {
            return Err(CoreError::Shape {
                field: "means[0]".into(),
                expected: "at least 1 coordinate".into(),
                got: "0".into(),
            });
        }
        let mut flat = Vec::with_capacity(k * dim);
        for (i, m) in means.iter().enumerate() {
            check_len(&format!("means[{i}]"), m.len(), dim)?;
            check_finite(&format!("means[{i}]"), m)?;
            flat.extend_from_slice(m);
        }
        let log_norm = weights
            .iter()
            .zip(&stds)
            .map(|(w, s)| w.ln() - 0.5 * dim as f64 * (LN_2PI + 2.0 * s.ln()))
            .collect();
        let inv_var = stds.iter().map(|s| 1.0 / (s * s)).collect();
        Ok(Self {
            dim,
            weights,
            means: flat,
            stds,
            log_norm,
            inv_var,
            single: None,
        })
    }

    /// The same mixture evaluated in single-precision arithmetic: the
    /// coordinates and parameters rounded to f32 and every operation of
    /// the log-sum-exp and the gradient in f32 (16 lanes to an AVX-512
    /// register, an exponential of half the cost), the energy finished in
    /// f64. Energies and gradients carry a relative error of about 1e-7
    /// instead of 1e-16, and a point outside the f32 range is evaluated in
    /// f64 instead. For sampling, where that error is far below the
    /// discretisation and Monte Carlo error; the default is f64.
    pub fn with_f32_arithmetic(mut self) -> Self {
        self.single = Some(single::SingleParams::of(&self));
        self
    }

    /// Whether the arithmetic is single precision
    /// ([`Self::with_f32_arithmetic`]).
    pub fn f32_arithmetic(&self) -> bool {
        self.single.is_some()
    }

    /// The W1 benchmark target: 8 equally weighted components with means
    /// 4 (cos(k pi/4), sin(k pi/4)), k = 0..7, and std 0.5.
    pub fn eight_gaussians() -> Self {
        let means = (0..8)
            .map(|k| {
                let a = k as f64 * std::f64::consts::FRAC_PI_4;
                vec![4.0 * a.cos(), 4.0 * a.sin()]
            })
            .collect();
        Self::new(vec![1.0 / 8.0; 8], means, vec![0.5; 8]).expect("valid by construction")
    }

    /// Mixture weights w.
    pub fn weights(&self) -> &[f64] {
        &self.weights
    }

    /// Component means, K rows of D.
    pub fn means(&self) -> Vec<Vec<f64>> {
        self.means.chunks_exact(self.dim).map(<[f64]>::to_vec).collect()
    }

    /// Component standard deviations.
    pub fn stds(&self) -> &[f64] {
        &self.stds
    }

    /// Number of components K.
    pub fn components(&self) -> usize {
        self.weights.len()
    }

    /// Component mean k.
    pub fn component_mean(&self, k: usize) -> &[f64] {
        &self.means[k * self.dim..(k + 1) * self.dim]
    }

    /// The component most responsible for `x`: the k maximising
    /// log w_k - D log s_k - |x - mu_k|^2 / (2 s_k^2), the log of its
    /// posterior responsibility up to a constant (ties to the first). For
    /// counting the draws in each mode of a separated mixture.
    ///
    /// ```
    /// use ebm_core::energies::Gmm;
    /// let m = Gmm::new(vec![0.9, 0.1], vec![vec![-3.0], vec![3.0]], vec![1.0, 1.0]).unwrap();
    /// assert_eq!(m.component_of(&[2.5]), 1);
    /// assert_eq!(m.component_of(&[0.0]), 0); // equidistant: the heavier one
    /// ```
    pub fn component_of(&self, x: &[f64]) -> usize {
        let d = self.dim as f64;
        let score = |k: usize| {
            let s = self.stds[k];
            let r2: f64 = x
                .iter()
                .zip(self.component_mean(k))
                .map(|(a, m)| (a - m) * (a - m))
                .sum();
            self.weights[k].ln() - d * s.ln() - r2 / (2.0 * s * s)
        };
        (1..self.components()).fold(0, |best, k| if score(k) > score(best) { k } else { best })
    }
}

/// Points per block in the vectorised batch path, and the largest
/// dimension it transposes on the stack (higher dimensions go point by
/// point through the same arithmetic).
/// Two AVX-512 registers' worth of lanes (four AVX2), so that two
/// independent chains of dependent operations (the polynomial inside exp)
/// are in flight: 16 lanes take about 30% less time per point than 8 on
/// the W1 mixture, 32 spill registers and lose again.
const BLOCK: usize = 2 * crate::simd::LANES;
const MAX_BLOCK_DIM: usize = 8;
/// Components whose log-terms are kept between the two passes (the
/// others are recomputed, the same operations): enough for the common
/// small mixtures, and small enough that zeroing the scratch each call
/// (1 KB) stays cheap next to the work.
const KEEP: usize = 8;

impl Gmm {
    /// E (when `ENERGY`; else `e` is left as it was) and, when `GRAD`,
    /// grad E of `L` points held coordinate-major:
    /// coordinate j of point l at `x[j * L + l]`, likewise `g`.
    ///
    /// Two passes over the components ([`Self::passes`]), then
    /// E = -(m + ln s) and grad E = the gradient sums times 1/s
    /// ([`Self::finish`]). Every lane does the same operations in the same
    /// order, so a point gets the same bits alone (`L = 1`) as in a block.
    /// `D` is the dimension when it is small enough to unroll (0: read it
    /// at run time); it changes the code, not the arithmetic.
    #[inline(always)]
    fn lanes<const L: usize, const D: usize, const GRAD: bool, const ENERGY: bool>(
        &self,
        x: &[f64],
        g: &mut [f64],
        e: &mut [f64; L],
        kept: &mut [[f64; L]; KEEP],
    ) {
        let d = if D == 0 { self.dim } else { D };
        let (m, s, acc) = self.passes::<L, D, GRAD>(x, g, kept);
        if GRAD && d <= MAX_BLOCK_DIM {
            for j in 0..d {
                g[j * L..][..L].copy_from_slice(&acc[j]);
            }
        }
        self.finish::<L, D, GRAD, ENERGY>(&m, &s, g, e);
    }

    /// The two passes over the components, written without branches so
    /// the lanes vectorise: the first finds m = max_k l_k with
    /// l_k = log w_k - D/2 log(2 pi s_k^2) - |x - mu_k|^2 / (2 s_k^2); the
    /// second sums s = sum_k exp(l_k - m) (terms below e^-708 count as 0:
    /// [`crate::fast_exp::exp_weight`]) and, for the gradient,
    /// sum_k exp(l_k - m) (x - mu_k) / s_k^2, whose exponentials are
    /// independent of each other. Returns (m, s, the gradient sums) when
    /// the dimension is at most [`MAX_BLOCK_DIM`]; above it the gradient
    /// sums are made in `g` instead. The register kernels
    /// (`gmm/registers.rs`) do the same operations in the same order:
    /// change both together (their proptest compares them bit for bit).
    #[inline(always)]
    #[allow(clippy::type_complexity)]
    fn passes<const L: usize, const D: usize, const GRAD: bool>(
        &self,
        x: &[f64],
        g: &mut [f64],
        kept: &mut [[f64; L]; KEEP],
    ) -> ([f64; L], [f64; L], [[f64; L]; MAX_BLOCK_DIM]) {
        let d = if D == 0 { self.dim } else { D };
        let x = &x[..d * L];
        // the gradient sums, in registers when the dimension is unrolled,
        // else in `g`
        let small = d <= MAX_BLOCK_DIM;
        let g = if GRAD && !small { &mut g[..d * L] } else { g };
        // the terms of the first KEEP components are kept for the second
        // pass (in `kept`, scratch that the caller zeroes once rather than
        // once per block), the others recomputed (the same operations, the
        // same bits)
        let mut m = [f64::NEG_INFINITY; L];
        let mut lk = [0.0f64; L];
        for k in 0..self.weights.len() {
            self.log_term::<L, D>(k, x, &mut lk);
            for l in 0..L {
                m[l] = if lk[l] > m[l] { lk[l] } else { m[l] };
            }
            if k < KEEP {
                kept[k] = lk;
            }
        }
        let mut s = [0.0f64; L];
        let mut acc = [[0.0f64; L]; MAX_BLOCK_DIM];
        if GRAD && !small {
            g.iter_mut().for_each(|v| *v = 0.0);
        }
        for k in 0..self.weights.len() {
            if k < KEEP {
                lk = kept[k];
            } else {
                self.log_term::<L, D>(k, x, &mut lk);
            }
            let mut w = [0.0f64; L];
            for l in 0..L {
                w[l] = crate::fast_exp::exp_weight(lk[l] - m[l]);
                s[l] += w[l];
            }
            if GRAD {
                let mu = &self.means[k * d..][..d];
                let iv = self.inv_var[k];
                for j in 0..d {
                    for l in 0..L {
                        let t = (w[l] * iv) * (x[j * L + l] - mu[j]);
                        if small {
                            acc[j][l] += t;
                        } else {
                            g[j * L + l] += t;
                        }
                    }
                }
            }
        }
        (m, s, acc)
    }

    /// From the passes' m and s of `L` points: E = -(m + ln s) (when
    /// `ENERGY`; infinite where s = 0 or m is not finite) and, when
    /// `GRAD`, grad E = the gradient sums times 1/s (NaN where E is
    /// infinite): `g` holds the sums on entry (coordinate j of point l at
    /// `g[j * L + l]`) and the gradients on return.
    #[inline(always)]
    fn finish<const L: usize, const D: usize, const GRAD: bool, const ENERGY: bool>(
        &self,
        m: &[f64; L],
        s: &[f64; L],
        g: &mut [f64],
        e: &mut [f64; L],
    ) {
        let d = if D == 0 { self.dim } else { D };
        let mut ok = [false; L];
        for l in 0..L {
            ok[l] = s[l] > 0.0 && m[l].is_finite();
            if ENERGY {
                let v = -(m[l] + crate::fast_ln::ln(s[l]));
                e[l] = if ok[l] { v } else { f64::INFINITY };
            }
        }
        if GRAD {
            let mut inv = [0.0f64; L];
            for l in 0..L {
                inv[l] = 1.0 / s[l];
            }
            for j in 0..d {
                for l in 0..L {
                    g[j * L + l] = if ok[l] { g[j * L + l] * inv[l] } else { f64::NAN };
                }
            }
        }
    }

    /// l_k of `L` points (coordinate-major `x`) for component `k`.
    #[inline(always)]
    fn log_term<const L: usize, const D: usize>(&self, k: usize, x: &[f64], out: &mut [f64; L]) {
        let d = if D == 0 { self.dim } else { D };
        let x = &x[..d * L];
        let mu = &self.means[k * d..][..d];
        let mut sq = [0.0f64; L];
        for j in 0..d {
            for l in 0..L {
                let t = x[j * L + l] - mu[j];
                sq[l] = t.mul_add(t, sq[l]);
            }
        }
        let c = -0.5 * self.inv_var[k];
        for l in 0..L {
            out[l] = c.mul_add(sq[l], self.log_norm[k]);
        }
    }

    /// The batch path: blocks of [`BLOCK`] points transposed to
    /// coordinate-major on the stack, their passes by `passes` (in
    /// registers, or the portable lanes), the rest point by point.
    #[inline(always)]
    fn batch<K: BlockPasses, const D: usize, const GRAD: bool, const ENERGY: bool>(
        &self,
        passes: K,
        xs: &[f64],
        grads: &mut [f64],
        energies: &mut [f64],
    ) {
        let d = if D == 0 { self.dim } else { D };
        let n = energies.len();
        let blocks = if d <= MAX_BLOCK_DIM { n / BLOCK } else { 0 };
        let mut xt = [0.0f64; BLOCK * MAX_BLOCK_DIM];
        let mut scratch = K::Scratch::default();
        for b in 0..blocks {
            let rows = b * BLOCK * d..(b + 1) * BLOCK * d;
            for (l, p) in xs[rows.clone()].chunks_exact(d).enumerate() {
                for j in 0..d {
                    xt[j * BLOCK + l] = p[j];
                }
            }
            let e: &mut [f64; BLOCK] = (&mut energies[b * BLOCK..(b + 1) * BLOCK])
                .try_into()
                .expect("block");
            let mut sums = passes.block_passes::<D, GRAD>(self, &xt[..d * BLOCK], &mut scratch);
            // the gradients scaled in place of their sums
            let gt = sums.acc.as_flattened_mut();
            self.finish::<BLOCK, D, GRAD, ENERGY>(&sums.m, &sums.s, gt, e);
            if GRAD {
                for (l, p) in grads[rows].chunks_exact_mut(d).enumerate() {
                    for j in 0..d {
                        p[j] = sums.acc[j][l];
                    }
                }
            }
        }
        let mut kept1 = [[0.0f64; 1]; KEEP];
        for i in blocks * BLOCK..n {
            let mut e = [0.0];
            let g = if GRAD {
                &mut grads[i * d..(i + 1) * d]
            } else {
                &mut [][..]
            };
            self.lanes::<1, D, GRAD, ENERGY>(&xs[i * d..(i + 1) * d], g, &mut e, &mut kept1);
            if ENERGY {
                energies[i] = e[0];
            }
        }
    }

    /// The batch path in the mixture's arithmetic: [`Self::batch`], or the
    /// f32 kernel when [`Self::with_f32_arithmetic`] chose it.
    #[inline(always)]
    fn batch_in_arithmetic<K: BlockPasses, const D: usize, const GRAD: bool, const ENERGY: bool>(
        &self,
        passes: K,
        xs: &[f64],
        grads: &mut [f64],
        energies: &mut [f64],
    ) {
        match &self.single {
            Some(p) => self.batch32::<D, GRAD, ENERGY>(p, xs, grads, energies),
            None => self.batch::<K, D, GRAD, ENERGY>(passes, xs, grads, energies),
        }
    }

    /// The batch's gradients, and its energies when `ENERGY`, with the
    /// buffers' shapes checked (a panic names `call`).
    fn gradients<const ENERGY: bool>(&self, call: &str, xs: &[f64], grads: &mut [f64], energies: &mut [f64]) {
        assert_eq!(xs.len(), energies.len() * self.dim, "{call}: shape");
        assert_eq!(grads.len(), xs.len(), "{call}: grads shape");
        self.batch_dispatched::<true, ENERGY>(xs, grads, energies);
    }

    /// The batch path compiled for the best registers this CPU has, with
    /// the blocks' passes written for them where there are (AVX-512 or
    /// AVX2: [`registers`]; each compiled version holds only its own
    /// kernel), else the portable lanes under [`crate::simd::dispatch`].
    fn batch_dispatched<const GRAD: bool, const ENERGY: bool>(
        &self,
        xs: &[f64],
        grads: &mut [f64],
        energies: &mut [f64],
    ) {
        #[cfg(target_arch = "x86_64")]
        {
            if let Some(v4) = crate::simd::avx512() {
                return crate::simd::dispatch(
                    #[inline(always)]
                    || self.batch_any::<_, GRAD, ENERGY>(v4, xs, grads, energies),
                );
            }
            if let Some(v3) = crate::simd::avx2() {
                return crate::simd::dispatch(
                    #[inline(always)]
                    || self.batch_any::<_, GRAD, ENERGY>(v3, xs, grads, energies),
                );
            }
        }
        crate::simd::dispatch(
            #[inline(always)]
            || self.batch_any::<_, GRAD, ENERGY>(PortableLanes, xs, grads, energies),
        );
    }

    /// The batch path with the dimension unrolled where it is small.
    #[inline(always)]
    fn batch_any<K: BlockPasses, const GRAD: bool, const ENERGY: bool>(
        &self,
        passes: K,
        xs: &[f64],
        grads: &mut [f64],
        energies: &mut [f64],
    ) {
        crate::with_small_dim!(self.dim, D => {
            self.batch_in_arithmetic::<K, D, GRAD, ENERGY>(passes, xs, grads, energies)
        })
    }
}

/// The passes over the components of a block of [`BLOCK`] points:
/// the largest log-term m, the sum s of the weights and the gradient sums
/// (coordinate j of point l at `acc[j][l]`).
struct BlockSums {
    m: [f64; BLOCK],
    s: [f64; BLOCK],
    acc: [[f64; BLOCK]; MAX_BLOCK_DIM],
}

/// Who computes a block's passes: the portable lanes ([`PortableLanes`],
/// [`Gmm::passes`]) or the kernel written over the CPU's registers
/// ([`registers`]), chosen once per batch. All give the same bits.
trait BlockPasses: Copy {
    /// Scratch a batch's blocks share: the portable lanes' kept terms
    /// (made once a batch, not once a block); nothing for the register
    /// kernels, which keep them in registers.
    type Scratch: Default;
    /// The passes of the block `x` (coordinate-major, `d <=
    /// MAX_BLOCK_DIM`).
    fn block_passes<const D: usize, const GRAD: bool>(
        self,
        gmm: &Gmm,
        x: &[f64],
        scratch: &mut Self::Scratch,
    ) -> BlockSums;
}

/// The portable lanes, vectorised by the compiler ([`Gmm::passes`]).
#[derive(Clone, Copy)]
struct PortableLanes;

impl BlockPasses for PortableLanes {
    type Scratch = [[f64; BLOCK]; KEEP];
    #[inline(always)]
    fn block_passes<const D: usize, const GRAD: bool>(
        self,
        gmm: &Gmm,
        x: &[f64],
        kept: &mut Self::Scratch,
    ) -> BlockSums {
        let (m, s, acc) = gmm.passes::<BLOCK, D, GRAD>(x, &mut [], kept);
        BlockSums { m, s, acc }
    }
}

impl Energy for Gmm {
    fn exact_sampler(&self) -> Option<&dyn ExactSample> {
        Some(self)
    }

    fn dim(&self) -> usize {
        self.dim
    }

    fn energy(&self, x: &[f64]) -> f64 {
        let mut e = [0.0];
        crate::simd::dispatch(
            #[inline(always)]
            || self.batch_any::<_, false, true>(PortableLanes, x, &mut [], &mut e),
        );
        e[0]
    }

    fn energy_grad(&self, x: &[f64], grad: &mut [f64]) -> f64 {
        let mut e = [0.0];
        crate::simd::dispatch(
            #[inline(always)]
            || self.batch_any::<_, true, true>(PortableLanes, x, grad, &mut e),
        );
        e[0]
    }

    fn energy_batch(&self, xs: &[f64], energies: &mut [f64]) {
        assert_eq!(xs.len(), energies.len() * self.dim, "energy_batch: shape");
        self.batch_dispatched::<false, true>(xs, &mut [], energies);
    }

    fn energy_grad_batch(&self, xs: &[f64], grads: &mut [f64], energies: &mut [f64]) {
        self.gradients::<true>("energy_grad_batch", xs, grads, energies);
    }

    /// The gradients alone: the energies are left as they were (the
    /// logarithm and the energy's lanes skipped, about 6% of W1's ULA
    /// step). Where a point's energy is not finite its gradient is NaN
    /// ([`Energy::grad_batch_flags_infinite_energy`]).
    fn grad_batch(&self, xs: &[f64], grads: &mut [f64], energies: &mut [f64]) {
        self.gradients::<false>("grad_batch", xs, grads, energies);
    }

    /// True: where E = -(m + ln s) is not finite (m = -inf or NaN) the
    /// gradient is NaN, in both arithmetics.
    fn grad_batch_flags_infinite_energy(&self) -> bool {
        true
    }

    fn log_partition(&self) -> Option<f64> {
        Some(log_sum_exp(
            &self.weights.iter().map(|w| w.ln()).collect::<Vec<_>>(),
        ))
    }
}

impl ExactSample for Gmm {
    /// Pick component k with probability w_k / sum w, then x ~ N(mu_k, s_k^2 I).
    fn sample_into(&self, rng: &mut dyn rand::RngCore, x: &mut [f64]) {
        let total: f64 = self.weights.iter().sum();
        let mut u = rng.random::<f64>() * total;
        let mut k = self.weights.len() - 1;
        for (i, w) in self.weights.iter().enumerate() {
            if u < *w {
                k = i;
                break;
            }
            u -= w;
        }
        let mu = self.component_mean(k);
        for j in 0..self.dim {
            let z: f64 = StandardNormal.sample(rng);
            x[j] = mu[j] + self.stds[k] * z;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// A mixture with unequal weights and widths in `d` dimensions.
    pub(super) fn mixture(d: usize, k: usize) -> Gmm {
        let means = (0..k)
            .map(|c| (0..d).map(|j| ((c * 7 + j * 3) % 11) as f64 - 5.0).collect())
            .collect();
        let weights = (0..k).map(|c| 0.5 + c as f64).collect();
        let stds = (0..k).map(|c| 0.3 + 0.2 * c as f64).collect();
        Gmm::new(weights, means, stds).unwrap()
    }

    /// `n` points in `d` dimensions, uniform on [-scale/2, scale/2]^d.
    pub(super) fn points(n: usize, d: usize, scale: f64, seed: u64) -> Vec<f64> {
        let mut r = crate::setup_rng(seed);
        (0..n * d)
            .map(|_| (rand::Rng::random::<f64>(&mut r) - 0.5) * scale)
            .collect()
    }

    /// The batch calls (with and without gradients) give each point the
    /// same bits as single calls; the gradients alone (`grad_batch`) are
    /// the same bits, leave the energies as they were, and are not finite
    /// wherever the energy is not.
    pub(super) fn check_batch_equals_single(g: &Gmm, xs: &[f64]) -> Result<(), TestCaseError> {
        let d = g.dim();
        let n = xs.len() / d;
        let (mut gb, mut eb, mut eo) = (vec![0.0; n * d], vec![0.0; n], vec![0.0; n]);
        g.energy_grad_batch(xs, &mut gb, &mut eb);
        g.energy_batch(xs, &mut eo);
        let (mut ga, mut kept) = (vec![0.0; n * d], vec![-7.5; n]);
        g.grad_batch(xs, &mut ga, &mut kept);
        prop_assert!(kept.iter().all(|&e| e == -7.5), "grad_batch wrote energies");
        for i in 0..n {
            for j in 0..d {
                prop_assert_eq!(ga[i * d + j].to_bits(), gb[i * d + j].to_bits());
            }
            if !eb[i].is_finite() {
                prop_assert!(ga[i * d..(i + 1) * d].iter().any(|v| !v.is_finite()));
            }
        }
        for i in 0..n {
            let x = &xs[i * d..(i + 1) * d];
            let mut gi = vec![0.0; d];
            let e = g.energy_grad(x, &mut gi);
            prop_assert_eq!(e.to_bits(), eb[i].to_bits());
            prop_assert_eq!(g.energy(x).to_bits(), eo[i].to_bits());
            for j in 0..d {
                prop_assert_eq!(gi[j].to_bits(), gb[i * d + j].to_bits());
            }
        }
        Ok(())
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        /// Blocks of lanes, the tail point by point and single calls give
        /// the same bits, for unrolled and run-time dimensions and for more
        /// components than are kept between the passes; the energy is the
        /// same whether or not the gradient is asked for.
        #[test]
        fn batch_equals_single_points_bit_for_bit(
            d in 1usize..11, k in 1usize..20, n in 0usize..40, scale in 0.1f64..1e3, seed in 0u64..100,
        ) {
            let g = mixture(d, k);
            let xs = points(n, d, scale, seed);
            check_batch_equals_single(&g, &xs)?;
            for x in xs.chunks_exact(d) {
                let mut gi = vec![0.0; d];
                prop_assert_eq!(g.energy_grad(x, &mut gi).to_bits(), g.energy(x).to_bits());
            }
        }
    }

    #[test]
    fn matches_the_direct_formula_and_handles_extremes() {
        let g = mixture(3, 5);
        let x = [0.3, -1.2, 2.0];
        // direct: -log sum_k w_k N(x; mu_k, s_k^2 I), gradient by central differences
        let direct = |x: &[f64]| {
            -(0..5)
                .map(|c| {
                    let (mu, s) = (g.component_mean(c), g.stds()[c]);
                    let sq: f64 = x.iter().zip(mu).map(|(a, b)| (a - b) * (a - b)).sum();
                    g.weights()[c] * (-0.5 * sq / (s * s)).exp()
                        / (2.0 * std::f64::consts::PI * s * s).powf(1.5)
                })
                .sum::<f64>()
                .ln()
        };
        let mut gr = [0.0; 3];
        let e = g.energy_grad(&x, &mut gr);
        assert!((e - direct(&x)).abs() < 1e-13 * e.abs().max(1.0));
        for j in 0..3 {
            let (mut a, mut b) = (x, x);
            a[j] += 1e-6;
            b[j] -= 1e-6;
            let fd = (direct(&a) - direct(&b)) / 2e-6;
            assert!((gr[j] - fd).abs() < 1e-6, "{j}: {} vs {fd}", gr[j]);
        }
        // far out: finite, the nearest (dominating) component's gradient
        let far = [1e6, 0.0, 0.0];
        let e = g.energy_grad(&far, &mut gr);
        assert!(e.is_finite() && gr.iter().all(|v| v.is_finite()));
        // overflowing or NaN input: infinite energy, NaN gradient
        for bad in [[1e200, 0.0, 0.0], [f64::NAN, 0.0, 0.0], [f64::INFINITY, 1.0, 1.0]] {
            let e = g.energy_grad(&bad, &mut gr);
            assert_eq!(e, f64::INFINITY, "{bad:?}");
            assert!(gr.iter().all(|v| v.is_nan()));
        }
        // the gradients alone show those points by themselves (in a block
        // of lanes and in the tail, in both arithmetics)
        for g in [g.clone(), g.clone().with_f32_arithmetic()] {
            let mut xs = points(40, 3, 4.0, 9);
            xs[3 * 5] = 1e200;
            xs[3 * 20 + 1] = f64::NAN;
            xs[3 * 39 + 2] = f64::NEG_INFINITY;
            let (mut gs, mut es) = (vec![0.0; 120], vec![0.0; 40]);
            g.grad_batch(&xs, &mut gs, &mut es);
            for (i, gi) in gs.chunks_exact(3).enumerate() {
                let bad = [5, 20, 39].contains(&i);
                assert_eq!(gi.iter().all(|v| v.is_finite()), !bad, "point {i}");
            }
            assert!(g.grad_batch_flags_infinite_energy());
        }
    }
}
