//! The mixture in single-precision arithmetic ([`Gmm::with_f32_arithmetic`]).
//!
//! The same two passes as the float64 kernel (largest log-term, then the
//! weights e^(l_k - m) and the gradient sums), with the coordinates
//! rounded to f32 and every operation in f32, so an AVX-512 register holds
//! 16 lanes and the exponential ([`crate::fast_exp_f32`]) needs half the
//! polynomial. The energy -(m + ln s) is finished in f64 from the f32 m and
//! s. Relative error about 1e-7 instead of 1e-16: far below what a
//! sampler's discretisation or Monte Carlo error can see, but not the
//! reference arithmetic, so it is opt-in.
//!
//! A point whose f32 evaluation is not finite (a coordinate beyond the f32
//! range, a squared distance that overflows in f32, NaN) is evaluated
//! again alone in f64, so the f32 mode has the f64 mode's answers for
//! every input that is out of its range; that choice is made per point,
//! so a point gets the same bits alone as in a block.

use super::{Gmm, KEEP, MAX_BLOCK_DIM};

/// Points per block: two AVX-512 registers of f32 lanes.
const BLOCK32: usize = 2 * 2 * crate::simd::LANES;

/// The parameters rounded to f32.
#[derive(Clone, Debug, PartialEq)]
pub(super) struct SingleParams {
    /// K x D row-major.
    means: Vec<f32>,
    /// log w_k - D/2 log(2 pi s_k^2).
    log_norm: Vec<f32>,
    /// -1 / (2 s_k^2).
    neg_half_inv_var: Vec<f32>,
    /// 1 / s_k^2.
    inv_var: Vec<f32>,
}

impl SingleParams {
    pub(super) fn of(g: &Gmm) -> Self {
        Self {
            means: g.means.iter().map(|&v| v as f32).collect(),
            log_norm: g.log_norm.iter().map(|&v| v as f32).collect(),
            neg_half_inv_var: g.inv_var.iter().map(|&v| (-0.5 * v) as f32).collect(),
            inv_var: g.inv_var.iter().map(|&v| v as f32).collect(),
        }
    }
}

impl Gmm {
    /// E (when `ENERGY`) and, when `GRAD`, grad E of `L` points in f32,
    /// coordinate-major as in the f64 kernel; `ok[l]` says whether lane l
    /// came out finite (its energy and gradient are only written then).
    #[inline(always)]
    #[allow(clippy::too_many_arguments)]
    fn lanes32<const L: usize, const D: usize, const GRAD: bool, const ENERGY: bool>(
        &self,
        p: &SingleParams,
        x: &[f32],
        g: &mut [f32],
        e: &mut [f64; L],
        ok: &mut [bool; L],
        kept: &mut [[f32; L]; KEEP],
    ) {
        let d = if D == 0 { self.dim } else { D };
        let k_n = self.weights.len();
        let x = &x[..d * L];
        let mut m = [f32::NEG_INFINITY; L];
        let mut lk = [0.0f32; L];
        for k in 0..k_n {
            self.log_term32::<L, D>(p, k, x, &mut lk);
            for l in 0..L {
                m[l] = if lk[l] > m[l] { lk[l] } else { m[l] };
            }
            if k < KEEP {
                kept[k] = lk;
            }
        }
        let mut s = [0.0f32; L];
        let mut acc = [[0.0f32; L]; MAX_BLOCK_DIM];
        for k in 0..k_n {
            if k < KEEP {
                lk = kept[k];
            } else {
                self.log_term32::<L, D>(p, k, x, &mut lk);
            }
            let mut w = [0.0f32; L];
            for l in 0..L {
                w[l] = crate::fast_exp_f32::exp_weight_f32(lk[l] - m[l]);
                s[l] += w[l];
            }
            if GRAD {
                let mu = &p.means[k * d..][..d];
                let iv = p.inv_var[k];
                for j in 0..d {
                    for l in 0..L {
                        acc[j][l] += (w[l] * iv) * (x[j * L + l] - mu[j]);
                    }
                }
            }
        }
        let mut sd = [0.0f64; L];
        for l in 0..L {
            // s >= 1 when m is finite (its own term is e^0)
            ok[l] = s[l] >= 1.0 && m[l].is_finite();
            if ENERGY {
                sd[l] = s[l] as f64;
                let v = -(m[l] as f64 + crate::fast_ln::ln(sd[l]));
                e[l] = if ok[l] { v } else { e[l] };
            }
        }
        if GRAD {
            let mut inv = [0.0f32; L];
            for l in 0..L {
                inv[l] = 1.0 / s[l];
            }
            for j in 0..d {
                for l in 0..L {
                    let v = acc[j][l] * inv[l];
                    ok[l] &= v.is_finite();
                    g[j * L + l] = v;
                }
            }
        }
    }

    /// l_k of `L` points in f32 (coordinate-major `x`) for component `k`.
    #[inline(always)]
    fn log_term32<const L: usize, const D: usize>(
        &self,
        p: &SingleParams,
        k: usize,
        x: &[f32],
        out: &mut [f32; L],
    ) {
        let d = if D == 0 { self.dim } else { D };
        let x = &x[..d * L];
        let mu = &p.means[k * d..][..d];
        let mut sq = [0.0f32; L];
        for j in 0..d {
            for l in 0..L {
                let t = x[j * L + l] - mu[j];
                sq[l] = t.mul_add(t, sq[l]);
            }
        }
        let (c, ln) = (p.neg_half_inv_var[k], p.log_norm[k]);
        for l in 0..L {
            out[l] = c.mul_add(sq[l], ln);
        }
    }

    /// Point `i` of `xs` alone: f32 first, then f64 if that is not finite.
    #[inline(always)]
    fn one32<const D: usize, const GRAD: bool, const ENERGY: bool>(
        &self,
        p: &SingleParams,
        xs: &[f64],
        i: usize,
        grads: &mut [f64],
        energies: &mut [f64],
    ) {
        let d = if D == 0 { self.dim } else { D };
        let x = &xs[i * d..(i + 1) * d];
        let mut x32 = [0.0f32; MAX_BLOCK_DIM];
        let mut g32 = [0.0f32; MAX_BLOCK_DIM];
        for j in 0..d {
            x32[j] = x[j] as f32;
        }
        let (mut e, mut ok) = ([0.0f64], [false]);
        let mut kept = [[0.0f32; 1]; KEEP];
        self.lanes32::<1, D, GRAD, ENERGY>(p, &x32[..d], &mut g32[..d], &mut e, &mut ok, &mut kept);
        let g = if GRAD {
            &mut grads[i * d..(i + 1) * d]
        } else {
            &mut [][..]
        };
        if ok[0] {
            for j in 0..g.len() {
                g[j] = g32[j] as f64;
            }
        } else {
            let mut kept = [[0.0f64; 1]; KEEP];
            self.lanes::<1, D, GRAD, ENERGY>(x, g, &mut e, &mut kept);
        }
        if ENERGY {
            energies[i] = e[0];
        }
    }

    /// The f32 batch path: blocks of [`BLOCK32`] points, the rest point by
    /// point; a point whose f32 result is not finite is redone in f64.
    #[inline(always)]
    pub(super) fn batch32<const D: usize, const GRAD: bool, const ENERGY: bool>(
        &self,
        p: &SingleParams,
        xs: &[f64],
        grads: &mut [f64],
        energies: &mut [f64],
    ) {
        let d = if D == 0 { self.dim } else { D };
        let n = energies.len();
        // dimensions above MAX_BLOCK_DIM keep the f64 kernel
        if d > MAX_BLOCK_DIM {
            return self.batch::<_, D, GRAD, ENERGY>(super::PortableLanes, xs, grads, energies);
        }
        let mut xt = [0.0f32; BLOCK32 * MAX_BLOCK_DIM];
        let mut gt = [0.0f32; BLOCK32 * MAX_BLOCK_DIM];
        let mut kept = [[0.0f32; BLOCK32]; KEEP];
        let blocks = n / BLOCK32;
        for b in 0..blocks {
            let rows = b * BLOCK32 * d..(b + 1) * BLOCK32 * d;
            for (l, pt) in xs[rows.clone()].chunks_exact(d).enumerate() {
                for j in 0..d {
                    xt[j * BLOCK32 + l] = pt[j] as f32;
                }
            }
            let e: &mut [f64; BLOCK32] = (&mut energies[b * BLOCK32..(b + 1) * BLOCK32])
                .try_into()
                .expect("block");
            let mut ok = [false; BLOCK32];
            self.lanes32::<BLOCK32, D, GRAD, ENERGY>(
                p,
                &xt[..d * BLOCK32],
                &mut gt[..d * BLOCK32],
                e,
                &mut ok,
                &mut kept,
            );
            if GRAD {
                for (l, pt) in grads[rows].chunks_exact_mut(d).enumerate() {
                    for j in 0..d {
                        pt[j] = gt[j * BLOCK32 + l] as f64;
                    }
                }
            }
            for (l, &good) in ok.iter().enumerate() {
                if !good {
                    self.one32::<D, GRAD, ENERGY>(p, xs, b * BLOCK32 + l, grads, energies);
                }
            }
        }
        for i in blocks * BLOCK32..n {
            self.one32::<D, GRAD, ENERGY>(p, xs, i, grads, energies);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::{check_batch_equals_single, mixture, points};
    use crate::energies::Gmm;
    use crate::Energy;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        /// Blocks, the tail and single calls give the same bits in f32
        /// mode too (more points than a block, dimensions past the f32
        /// kernel's limit, more components than are kept).
        #[test]
        fn batch_equals_single_points_bit_for_bit(
            d in 1usize..11, k in 1usize..20, n in 0usize..80, scale in 0.1f64..1e3, seed in 0u64..100,
        ) {
            let g = mixture(d, k).with_f32_arithmetic();
            check_batch_equals_single(&g, &points(n, d, scale, seed))?;
        }

        /// f32 arithmetic stays within single-precision error of the f64
        /// values: the energy to 2e-6 of max(1, |E|) (a few f32 roundings
        /// of terms as large as E), each gradient coordinate to 2e-5 of
        /// (|x| + 5) / s_min^2, the scale of the terms (x - mu_k) / s_k^2
        /// whose f32 rounding it inherits.
        #[test]
        fn close_to_the_f64_values(
            d in 1usize..9, k in 1usize..12, scale in 0.1f64..50.0, seed in 0u64..100,
        ) {
            let (g64, g32) = (mixture(d, k), mixture(d, k).with_f32_arithmetic());
            let n = 40;
            let xs = points(n, d, scale, seed);
            let (mut ga, mut ea) = (vec![0.0; n * d], vec![0.0; n]);
            let (mut gb, mut eb) = (vec![0.0; n * d], vec![0.0; n]);
            g64.energy_grad_batch(&xs, &mut ga, &mut ea);
            g32.energy_grad_batch(&xs, &mut gb, &mut eb);
            let inv_var_max = 1.0 / (0.3f64 * 0.3);
            for i in 0..n {
                prop_assert!((ea[i] - eb[i]).abs() <= 2e-6 * ea[i].abs().max(1.0), "{} vs {}", ea[i], eb[i]);
                let xmax = xs[i * d..(i + 1) * d].iter().fold(0.0f64, |a, v| a.max(v.abs()));
                for j in 0..d {
                    let tol = 2e-5 * (xmax + 5.0) * inv_var_max;
                    prop_assert!((ga[i * d + j] - gb[i * d + j]).abs() <= tol, "{} vs {}", ga[i * d + j], gb[i * d + j]);
                }
            }
        }
    }

    #[test]
    fn points_out_of_the_f32_range_get_the_f64_answers() {
        let (g64, g32) = (mixture(3, 5), mixture(3, 5).with_f32_arithmetic());
        assert!(g32.f32_arithmetic() && !g64.f32_arithmetic());
        let (mut ga, mut gb) = ([0.0; 3], [0.0; 3]);
        // beyond f32 (1e39), a squared distance that overflows f32 (1e20),
        // non-finite input: the f64 kernel's answers, bit for bit
        for x in [
            [1e39, 0.0, 0.0],
            [1e20, -3.0, 1.0],
            [f64::NAN, 0.0, 0.0],
            [f64::INFINITY, 1.0, 1.0],
            [1e200, 0.0, 0.0],
        ] {
            let (ea, eb) = (g64.energy_grad(&x, &mut ga), g32.energy_grad(&x, &mut gb));
            assert_eq!(ea.to_bits(), eb.to_bits(), "{x:?}");
            for j in 0..3 {
                assert_eq!(ga[j].to_bits(), gb[j].to_bits(), "{x:?}");
            }
        }
        // far but within range: finite and close
        let x = [1e6, 0.0, 0.0];
        let (ea, eb) = (g64.energy_grad(&x, &mut ga), g32.energy_grad(&x, &mut gb));
        assert!(eb.is_finite() && (ea - eb).abs() <= 1e-6 * ea.abs());
        // in a block: a bad lane among good ones changes nothing for the others
        let mut xs = vec![0.5; 3 * 64];
        xs[3 * 17] = f64::NAN;
        let (mut gs, mut es) = (vec![0.0; 3 * 64], vec![0.0; 64]);
        g32.energy_grad_batch(&xs, &mut gs, &mut es);
        assert_eq!(es[17], f64::INFINITY);
        assert!(gs[3 * 17..3 * 18].iter().all(|v| v.is_nan()));
        assert_eq!(es[16].to_bits(), g32.energy(&[0.5; 3]).to_bits());
    }

    #[test]
    fn the_model_file_says_which_arithmetic() {
        use crate::spec::{Arithmetic, EnergySpec};
        let json =
            r#"{"type":"gmm","weights":[1,1],"means":[[-1,0],[1,0]],"stds":[0.5,0.5],"arithmetic":"f32"}"#;
        let spec = EnergySpec::from_json(json).unwrap();
        let e = spec.build_continuous().unwrap();
        let mut g = [0.0; 2];
        let mixture = Gmm::new(
            vec![1.0, 1.0],
            vec![vec![-1.0, 0.0], vec![1.0, 0.0]],
            vec![0.5, 0.5],
        )
        .unwrap();
        let want = mixture
            .clone()
            .with_f32_arithmetic()
            .energy_grad(&[0.3, 0.2], &mut g);
        assert_eq!(e.energy(&[0.3, 0.2]).to_bits(), want.to_bits());
        assert_eq!(EnergySpec::from(&mixture.clone().with_f32_arithmetic()), spec);
        // f64 is the default and is not written out
        let plain = EnergySpec::from(&mixture).to_json();
        assert!(!plain.contains("arithmetic"), "{plain}");
        assert!(matches!(
            EnergySpec::from_json(&plain).unwrap(),
            EnergySpec::Gmm {
                arithmetic: Arithmetic::F64,
                ..
            }
        ));
        assert!(EnergySpec::from_json(&json.replace("f32", "f16")).is_err());
    }
}
