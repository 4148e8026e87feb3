//! The Gaussian's products in single precision
//! ([`Gaussian::with_f32_arithmetic`]).
//!
//! The batch is rounded to f32 into a per-thread buffer, multiplied by the
//! f32 precision in one faer product (16 lanes to an AVX-512 register),
//! and the product is finished in f64: g = G - P mu and
//! E = 1/2 (x - mu) . g summed in eight lanes, as in the f64 path. The
//! buffers live as long as the thread and only grow, so a sampler's
//! steps allocate nothing.

use super::Gaussian;
use faer::{Accum, MatMut, MatRef, Par};
use std::cell::RefCell;

thread_local! {
    /// The batch in f32 and its product with P, reused from call to call.
    static SCRATCH: RefCell<(Vec<f32>, Vec<f32>)> = const { RefCell::new((Vec::new(), Vec::new())) };
}

impl Gaussian {
    /// E (and grad E into `grads` when given) of the `energies.len()`
    /// points in `xs` through the f32 product with `p32`. A row whose f32
    /// evaluation is not finite (a coordinate or a product beyond the f32
    /// range, NaN) is evaluated again alone in f64, so every input out of
    /// the f32 range gets the f64 mode's answer.
    pub(super) fn batch32(
        &self,
        p32: &[f32],
        xs: &[f64],
        mut grads: Option<&mut [f64]>,
        energies: &mut [f64],
    ) {
        let (d, n) = (self.dim, energies.len());
        SCRATCH.with_borrow_mut(|(x32, g32)| {
            if g32.len() < n * d {
                g32.resize(n * d, 0.0);
            }
            let g32 = &mut g32[..n * d];
            crate::simd::dispatch(
                #[inline(always)]
                || {
                    x32.clear();
                    x32.extend(xs.iter().map(|&v| v as f32));
                },
            );
            faer::linalg::matmul::matmul(
                MatMut::from_row_major_slice_mut(g32, n, d),
                Accum::Replace,
                MatRef::from_row_major_slice(x32, n, d),
                MatRef::from_row_major_slice(p32, d, d),
                1.0f32,
                Par::Seq,
            );
            crate::simd::dispatch(
                #[inline(always)]
                || match grads.as_deref_mut() {
                    Some(grads) => self.finish::<true>(xs, g32, grads, energies),
                    None => self.finish::<false>(xs, g32, &mut [], energies),
                },
            );
        });
        // A product that is not finite leaves its row's energy not finite
        // (each term (x_j - mu_j) g_j is then infinite or NaN), so checking
        // the energies finds every such row.
        for (i, e) in energies.iter_mut().enumerate().filter(|(_, e)| !e.is_finite()) {
            let x = &xs[i * d..(i + 1) * d];
            *e = match grads.as_deref_mut() {
                Some(g) => self.energy_grad64(x, &mut g[i * d..(i + 1) * d]),
                None => self.energy64(x),
            };
        }
    }

    /// From the f32 product `g32` = X P: g = g32 - P mu (written to `grads`
    /// when `GRAD`) and E = 1/2 (x - mu) . g, in f64, the dot product in
    /// eight lanes.
    #[inline(always)]
    fn finish<const GRAD: bool>(&self, xs: &[f64], g32: &[f32], grads: &mut [f64], energies: &mut [f64]) {
        let d = self.dim;
        let (mu, pm) = (&self.mean[..d], &self.precision_mean[..d]);
        let mut block = [0.0f64; 8];
        for (i, (xr, gr)) in xs.chunks_exact(d).zip(g32.chunks_exact(d)).enumerate() {
            let go = if GRAD {
                &mut grads[i * d..(i + 1) * d]
            } else {
                &mut [][..]
            };
            let mut acc = [0.0f64; 8];
            let full = d / 8 * 8;
            for (j, ((xb, mb), (gb, pb))) in xr[..full]
                .chunks_exact(8)
                .zip(mu[..full].chunks_exact(8))
                .zip(gr[..full].chunks_exact(8).zip(pm[..full].chunks_exact(8)))
                .enumerate()
            {
                let g = if GRAD {
                    &mut go[8 * j..8 * j + 8]
                } else {
                    &mut block[..]
                };
                lanes(xb, mb, gb, pb, g, &mut acc);
            }
            let g = if GRAD {
                &mut go[full..]
            } else {
                &mut block[..d - full]
            };
            lanes(&xr[full..], &mu[full..], &gr[full..], &pm[full..], g, &mut acc);
            energies[i] = 0.5 * acc.iter().sum::<f64>();
        }
    }
}

/// Up to eight coordinates of [`Gaussian::finish`]: g = gb - pb into `g`
/// and (x - mu) g added to lane l of `acc`.
#[inline(always)]
fn lanes(xb: &[f64], mb: &[f64], gb: &[f32], pb: &[f64], g: &mut [f64], acc: &mut [f64; 8]) {
    for l in 0..xb.len() {
        g[l] = gb[l] as f64 - pb[l];
        acc[l] = (xb[l] - mb[l]).mul_add(g[l], acc[l]);
    }
}

#[cfg(test)]
mod tests {
    use crate::energies::Gaussian;
    use crate::Energy;
    use proptest::prelude::*;

    /// A Gaussian in `d` dimensions with precision B B^T + 0.5 I (B's
    /// entries in [-1, 1]) and mean in [-2, 2], from `seed`.
    fn random_gaussian(d: usize, seed: u64) -> Gaussian {
        use rand::Rng;
        let mut r = crate::setup_rng(seed);
        let b: Vec<f64> = (0..d * d).map(|_| r.random_range(-1.0..1.0)).collect();
        let mut p = vec![0.0; d * d];
        for i in 0..d {
            for j in 0..d {
                p[i * d + j] = (0..d).map(|k| b[i * d + k] * b[j * d + k]).sum::<f64>();
            }
            p[i * d + i] += 0.5;
        }
        let mean = (0..d).map(|_| r.random_range(-2.0..2.0)).collect();
        Gaussian::from_precision(mean, &p).unwrap()
    }

    fn points(n: usize, d: usize, scale: f64, seed: u64) -> Vec<f64> {
        use rand::Rng;
        let mut r = crate::setup_rng(seed + 1000);
        (0..n * d).map(|_| scale * r.random_range(-1.0..1.0)).collect()
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        /// The f32 products stay within single-precision error of the f64
        /// values. g_i = sum_j P_ij x_j - (P mu)_i sums d products of
        /// values each rounded to f32 (relative error 2^-24 each, the
        /// product and the d additions adding d + 2 more at most), so
        /// |g32_i - g_i| <= (d + 2) 2^-23 sum_j |P_ij| |x_j| (a factor 2
        /// of margin), and E = 1/2 (x - mu) . g inherits
        /// 1/2 sum_i |x_i - mu_i| times that, plus f64 rounding.
        #[test]
        fn close_to_the_f64_values(d in 1usize..40, n in 1usize..40, scale in 0.1f64..1e3, seed in 0u64..1000) {
            let g64 = random_gaussian(d, seed);
            let g32 = g64.clone().with_f32_arithmetic();
            let xs = points(n, d, scale, seed);
            let (mut ga, mut ea) = (vec![0.0; n * d], vec![0.0; n]);
            let (mut gb, mut eb) = (vec![0.0; n * d], vec![0.0; n]);
            g64.energy_grad_batch(&xs, &mut ga, &mut ea);
            g32.energy_grad_batch(&xs, &mut gb, &mut eb);
            let (p, mu) = (g64.precision(), g64.mean());
            let unit = (d + 2) as f64 * 2f64.powi(-23);
            for i in 0..n {
                let x = &xs[i * d..(i + 1) * d];
                let mut e_tol = 1e-12 * ea[i].abs();
                for r in 0..d {
                    let tol = unit * (0..d).map(|j| (p[r * d + j] * x[j]).abs()).sum::<f64>() + 1e-12;
                    prop_assert!((ga[i * d + r] - gb[i * d + r]).abs() <= tol, "g[{i}][{r}] {} vs {}", ga[i * d + r], gb[i * d + r]);
                    e_tol += 0.5 * (x[r] - mu[r]).abs() * tol;
                }
                prop_assert!((ea[i] - eb[i]).abs() <= e_tol, "E[{i}] {} vs {} (tol {e_tol})", ea[i], eb[i]);
                // the one-point forms are the same f32 evaluation
                let mut g1 = vec![0.0; d];
                let e1 = g32.energy_grad(x, &mut g1);
                prop_assert!((e1 - eb[i]).abs() <= e_tol && (g32.energy(x) - e1).abs() <= e_tol);
            }
            let mut eo = vec![0.0; n];
            g32.energy_batch(&xs, &mut eo);
            prop_assert_eq!(eo, eb);
        }
    }

    #[test]
    fn points_out_of_the_f32_range_get_the_f64_answers() {
        let g64 = random_gaussian(3, 7);
        let g32 = g64.clone().with_f32_arithmetic();
        assert!(g32.f32_arithmetic() && !g64.f32_arithmetic());
        let (mut ga, mut gb) = ([0.0; 3], [0.0; 3]);
        // beyond f32 (1e39), a product past f32's 3.4e38 (3e38 times the
        // diagonal of P, at least 0.5, plus the rest), non-finite input:
        // the f64 answers, bit for bit
        for x in [
            [1e39, 0.0, 0.0],
            [3e38, 3e38, 3e38],
            [f64::NAN, 0.0, 0.0],
            [f64::INFINITY, 1.0, 1.0],
            [1e200, 0.0, 0.0],
        ] {
            let (ea, eb) = (g64.energy_grad(&x, &mut ga), g32.energy_grad(&x, &mut gb));
            assert_eq!(ea.to_bits(), eb.to_bits(), "{x:?}");
            assert_eq!(g64.energy(&x).to_bits(), g32.energy(&x).to_bits(), "{x:?}");
            for j in 0..3 {
                assert_eq!(ga[j].to_bits(), gb[j].to_bits(), "{x:?}");
            }
        }
        // far but within range: finite and close
        let x = [1e6, 0.0, 0.0];
        let (ea, eb) = (g64.energy_grad(&x, &mut ga), g32.energy_grad(&x, &mut gb));
        assert!(eb.is_finite() && (ea - eb).abs() <= 1e-5 * ea.abs());
        // in a batch, a bad row changes nothing for the others
        let good = vec![0.5; 3 * 40];
        let mut bad = good.clone();
        bad[3 * 17] = f64::NAN;
        let (mut gs, mut es) = (vec![0.0; 3 * 40], vec![0.0; 40]);
        let (mut gt, mut et) = (vec![0.0; 3 * 40], vec![0.0; 40]);
        g32.energy_grad_batch(&good, &mut gs, &mut es);
        g32.energy_grad_batch(&bad, &mut gt, &mut et);
        assert!(et[17].is_nan() && gt[3 * 17..3 * 18].iter().all(|v| v.is_nan()));
        for i in (0..40).filter(|&i| i != 17) {
            assert_eq!(es[i].to_bits(), et[i].to_bits());
            assert!((0..3).all(|j| gs[3 * i + j].to_bits() == gt[3 * i + j].to_bits()));
        }
    }

    #[test]
    fn exact_quantities_stay_exact() {
        let g64 = random_gaussian(5, 3);
        let g32 = g64.clone().with_f32_arithmetic();
        assert_eq!(g32.log_partition(), g64.log_partition());
        assert_eq!(g32.quadratic(), g64.quadratic());
        assert_eq!(g32.covariance(), g64.covariance());
    }

    #[test]
    fn the_model_file_says_which_arithmetic() {
        use crate::spec::EnergySpec;
        let json = r#"{"type":"gaussian","mean":[0.5,-1],"precision":[[2,0.5],[0.5,1]],"arithmetic":"f32"}"#;
        let spec = EnergySpec::from_json(json).unwrap();
        let e = spec.build_continuous().unwrap();
        let g = Gaussian::from_precision(vec![0.5, -1.0], &[2.0, 0.5, 0.5, 1.0]).unwrap();
        let g32 = g.clone().with_f32_arithmetic();
        let x = [0.3, 0.2];
        assert_eq!(e.energy(&x).to_bits(), g32.energy(&x).to_bits());
        assert_ne!(e.energy(&x).to_bits(), g.energy(&x).to_bits());
        assert_eq!(EnergySpec::from(&g32), spec);
        // f64 is the default and is not written out
        let plain = EnergySpec::from(&g).to_json();
        assert!(!plain.contains("arithmetic"), "{plain}");
        assert!(EnergySpec::from_json(&json.replace("f32", "f16")).is_err());
    }
}
