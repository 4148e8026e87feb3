//! Every energy's gradient against central finite differences, and batched
//! evaluation against the single-point path, over random points and
//! parameters.

use ebm_core::energies::{Banana, BandedGaussian, DiagGaussian, DoubleWell, Funnel, Gaussian, Gmm};
use ebm_core::{BinaryEnergy, Energy};
use proptest::prelude::*;

/// Central difference (E(x + h e_i) - E(x - h e_i)) / 2h has truncation
/// error O(h^2 E''') and rounding error O(eps |E| / h); h = 1e-5 balances
/// them at about 1e-10 relative to the scale of E, so 1e-5 relative
/// agreement is a strict check that still never flakes.
fn check_grad<E: Energy>(e: &E, x: &[f64]) -> Result<(), TestCaseError> {
    let d = e.dim();
    let mut g = vec![0.0; d];
    let v = e.energy_grad(x, &mut g);
    prop_assert!(
        (v - e.energy(x)).abs() <= 1e-10 * (1.0 + v.abs()),
        "energy_grad value differs from energy"
    );
    for i in 0..d {
        let h = 1e-5 * (1.0 + x[i].abs());
        let mut xp = x.to_vec();
        let mut xm = x.to_vec();
        xp[i] += h;
        xm[i] -= h;
        let fd = (e.energy(&xp) - e.energy(&xm)) / (2.0 * h);
        let tol = 1e-5 * (1.0 + fd.abs().max(g[i].abs()) + v.abs());
        prop_assert!(
            (fd - g[i]).abs() <= tol,
            "coord {i}: analytic {} vs fd {fd}",
            g[i]
        );
    }
    Ok(())
}

/// The batched forms must agree with the single-point forms to rounding
/// (the Gaussian's batch goes through a matrix product, so allow a few
/// ulps), and `energy_grad_each` bit for bit.
fn check_batch<E: Energy>(e: &E, xs: &[f64]) -> Result<(), TestCaseError> {
    let d = e.dim();
    let n = xs.len() / d;
    check_each(e, xs)?;
    check_kick_drift(e, xs)?;
    let mut eb = vec![0.0; n];
    let mut gb = vec![0.0; n * d];
    e.energy_grad_batch(xs, &mut gb, &mut eb);
    let mut eb2 = vec![0.0; n];
    e.energy_batch(xs, &mut eb2);
    let mut g = vec![0.0; d];
    for k in 0..n {
        let x = &xs[k * d..(k + 1) * d];
        let v = e.energy_grad(x, &mut g);
        prop_assert!((v - eb[k]).abs() <= 1e-10 * (1.0 + v.abs()));
        prop_assert!((v - eb2[k]).abs() <= 1e-10 * (1.0 + v.abs()));
        for i in 0..d {
            prop_assert!((g[i] - gb[k * d + i]).abs() <= 1e-10 * (1.0 + g[i].abs()));
        }
    }
    Ok(())
}

/// `kick_drift_batch` (a Gaussian's fused in its product) gives the bits
/// of the gradients followed by the kick and the drift.
fn check_kick_drift<E: Energy>(e: &E, xs: &[f64]) -> Result<(), TestCaseError> {
    let (d, eps) = (e.dim(), 0.07);
    let n = xs.len() / d;
    let p0: Vec<f64> = (0..n * d).map(p0_at).collect();
    let (mut p, mut y) = (p0.clone(), vec![f64::NAN; n * d]);
    let (mut g, mut en) = (vec![0.0; n * d], vec![0.0; n]);
    e.kick_drift_batch(xs, eps, &mut p, &mut y, &mut g, &mut en);
    let (mut want_p, mut want_y) = (p0, vec![f64::NAN; n * d]);
    ebm_core::energy::kick_drift_through_gradients(e, xs, eps, &mut want_p, &mut want_y, &mut g, &mut en);
    e.grad_batch(xs, &mut g, &mut en);
    for (k, ((a, b), (wy, x))) in want_p.iter().zip(&p).zip(want_y.iter().zip(xs)).enumerate() {
        // and those are the two lines on grad_batch's gradients
        let pk = (p0_at(k) - eps * g[k]).to_bits();
        prop_assert_eq!(a.to_bits(), pk);
        prop_assert_eq!(wy.to_bits(), (x + eps * a).to_bits());
        prop_assert_eq!(b.to_bits(), pk);
    }
    prop_assert_eq!(
        y.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
        want_y.iter().map(|v| v.to_bits()).collect::<Vec<_>>()
    );
    Ok(())
}

/// The starting momenta of [`check_kick_drift`].
fn p0_at(i: usize) -> f64 {
    (i as f64 * 0.7).sin()
}

/// `energy_grad_each` gives every point the bits of `energy_grad` alone.
fn check_each<E: Energy>(e: &E, xs: &[f64]) -> Result<(), TestCaseError> {
    let d = e.dim();
    let n = xs.len() / d;
    let (mut ge, mut ee) = (vec![f64::NAN; n * d], vec![f64::NAN; n]);
    e.energy_grad_each(xs, &mut ge, &mut ee);
    let mut g = vec![0.0; d];
    for k in 0..n {
        let v = e.energy_grad(&xs[k * d..(k + 1) * d], &mut g);
        prop_assert_eq!(v.to_bits(), ee[k].to_bits(), "energy of point {}", k);
        for i in 0..d {
            prop_assert_eq!(
                g[i].to_bits(),
                ge[k * d + i].to_bits(),
                "gradient {} of point {}",
                i,
                k
            );
        }
    }
    Ok(())
}

fn vec_in(n: usize, lo: f64, hi: f64) -> impl Strategy<Value = Vec<f64>> {
    proptest::collection::vec(lo..hi, n)
}

/// A random SPD matrix A = B B^T + 0.5 I.
fn spd(d: usize) -> impl Strategy<Value = Vec<f64>> {
    vec_in(d * d, -1.0, 1.0).prop_map(move |b| {
        let mut a = vec![0.0; d * d];
        for i in 0..d {
            for j in 0..d {
                a[i * d + j] = (0..d).map(|k| b[i * d + k] * b[j * d + k]).sum::<f64>();
            }
            a[i * d + i] += 0.5;
        }
        a
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn gaussian_covariance((cov, mean, xs, d) in (1usize..6).prop_flat_map(|d| (spd(d), vec_in(d, -2.0, 2.0), vec_in(3 * d, -3.0, 3.0), Just(d)))) {
        let g = Gaussian::from_covariance(mean.clone(), &cov).unwrap();
        check_grad(&g, &xs[..d])?;
        check_batch(&g, &xs)?;
        let p = Gaussian::from_precision(mean, &cov).unwrap();
        check_grad(&p, &xs[..d])?;
        check_batch(&p, &xs)?;
    }

    /// Up to nine points at once (groups of four, then three, two or one)
    /// and dimensions across the product's blocks of 16 and 8 and its
    /// last few outputs, in f64 and with f32 products.
    #[test]
    fn gaussian_points_at_once_keep_their_bits(d in 1usize..40, n in 1usize..10, seed in 0u64..1000) {
        let cov: Vec<f64> = (0..d * d).map(|k| 0.6f64.powi((k / d).abs_diff(k % d) as i32)).collect();
        let mean: Vec<f64> = (0..d).map(|i| (i as f64 * 0.3 + seed as f64).sin()).collect();
        let xs: Vec<f64> = (0..n * d).map(|i| (i as f64 * 0.77 + seed as f64 * 0.1).cos() * 2.0).collect();
        let g = Gaussian::from_covariance(mean, &cov).unwrap();
        check_each(&g, &xs)?;
        check_each(&g.clone().with_f32_arithmetic(), &xs)?;
    }

    #[test]
    fn banded_gaussian((d, k) in (1usize..12).prop_flat_map(|d| (Just(d), 0..d.min(4))), raw in vec_in(48, -1.0, 1.0), xs in vec_in(36, -3.0, 3.0)) {
        // diagonals from `raw`, the main one dominant (positive definite)
        let mut bands: Vec<Vec<f64>> = (0..=k).map(|m| raw[m * d..m * d + d - m].to_vec()).collect();
        bands[0].iter_mut().for_each(|v| *v = v.abs() + 2.0 * k as f64 + 0.1);
        let mean: Vec<f64> = raw[40..40 + d.min(8)].iter().chain(std::iter::repeat(&0.5)).take(d).copied().collect();
        let g = BandedGaussian::new(mean, bands).unwrap();
        check_grad(&g, &xs[..d])?;
        check_batch(&g, &xs[..3 * d])?;
    }

    #[test]
    fn diag_gaussian(mean in vec_in(4, -2.0, 2.0), std in vec_in(4, 0.1, 3.0), xs in vec_in(12, -4.0, 4.0)) {
        let g = DiagGaussian::new(mean, std).unwrap();
        check_grad(&g, &xs[..4])?;
        check_batch(&g, &xs)?;
    }

    #[test]
    fn gmm(w in vec_in(3, 0.1, 2.0), m in vec_in(9, -4.0, 4.0), s in vec_in(3, 0.3, 2.0), xs in vec_in(12, -6.0, 6.0)) {
        let means = m.chunks(3).map(<[f64]>::to_vec).collect();
        let g = Gmm::new(w, means, s).unwrap();
        check_grad(&g, &xs[..3])?;
        check_batch(&g, &xs)?;
    }

    #[test]
    fn double_well(a in 0.1f64..5.0, xs in vec_in(9, -2.0, 2.0)) {
        let e = DoubleWell::new(3, a).unwrap();
        check_grad(&e, &xs[..3])?;
        check_batch(&e, &xs)?;
    }

    #[test]
    fn banana(b in -1.0f64..1.0, s in 0.3f64..3.0, xs in vec_in(9, -3.0, 3.0)) {
        let e = Banana::new(3, b, s).unwrap();
        check_grad(&e, &xs[..3])?;
        check_batch(&e, &xs)?;
    }

    #[test]
    fn funnel(s in 0.5f64..4.0, xs in vec_in(12, -3.0, 3.0)) {
        let e = Funnel::new(4, s).unwrap();
        check_grad(&e, &xs[..4])?;
        check_batch(&e, &xs)?;
    }

    /// The binary models' flip_delta against two full energy evaluations.
    #[test]
    fn rbm_and_ising_flip_delta(wv in vec_in(15, -2.0, 2.0), bits in proptest::collection::vec(any::<bool>(), 5), j in -1.0f64..1.0, h in -1.0f64..1.0) {
        let rbm = ebm_core::energies::Rbm::new(5, 3, wv, vec![0.3, -0.2, 0.1, 0.0, 0.5], vec![0.1, -0.4, 0.2]).unwrap();
        let v: Vec<f64> = bits.iter().map(|&b| b as u8 as f64).collect();
        for i in 0..5 {
            let mut f = v.clone();
            f[i] = 1.0 - f[i];
            let want = rbm.energy(&f) - rbm.energy(&v);
            prop_assert!((rbm.flip_delta(&v, i) - want).abs() < 1e-10);
        }
        let ising = ebm_core::energies::Ising::new(3, 3, j, h, 0.7, true).unwrap();
        let s: Vec<f64> = (0..9).map(|i| if bits[i % 5] ^ (i > 4) { 1.0 } else { -1.0 }).collect();
        for i in 0..9 {
            let mut f = s.clone();
            f[i] = -f[i];
            let want = ising.energy(&f) - ising.energy(&s);
            prop_assert!((ising.flip_delta(&s, i) - want).abs() < 1e-10);
        }
    }

    /// The Gaussian-Bernoulli RBM's free-energy gradient.
    #[test]
    fn gb_rbm(wv in vec_in(12, -1.5, 1.5), xs in vec_in(6, -3.0, 3.0), sig in vec_in(3, 0.3, 2.0)) {
        let e = ebm_core::energies::GbRbm::new(3, 4, wv, vec![0.2, -0.1, 0.4], vec![0.1, 0.0, -0.3, 0.2], sig).unwrap();
        check_grad(&e, &xs[..3])?;
        check_batch(&e, &xs)?;
    }

    /// Gibbs-with-gradients' flip-delta estimates: for an RBM, (v_i' -
    /// v_i) dF/dv_i with the free energy's gradient against central
    /// differences of F on real v; for the Ising lattice (multilinear),
    /// the exact deltas.
    #[test]
    fn flip_delta_estimates(wv in vec_in(15, -2.0, 2.0), bits in proptest::collection::vec(any::<bool>(), 9), j in -1.0f64..1.0) {
        let rbm = ebm_core::energies::Rbm::new(5, 3, wv, vec![0.3, -0.2, 0.1, 0.0, 0.5], vec![0.1, -0.4, 0.2]).unwrap();
        let v: Vec<f64> = bits[..5].iter().map(|&b| b as u8 as f64).collect();
        let (mut est, mut work) = (vec![0.0; 5], Vec::new());
        rbm.flip_delta_estimates(&v, &mut est, &mut work);
        for i in 0..5 {
            let h = 1e-5;
            let (mut up, mut down) = (v.clone(), v.clone());
            up[i] += h;
            down[i] -= h;
            let grad = (rbm.energy(&up) - rbm.energy(&down)) / (2.0 * h);
            prop_assert!((est[i] - (1.0 - 2.0 * v[i]) * grad).abs() < 1e-6, "unit {}", i);
        }
        let ising = ebm_core::energies::Ising::new(3, 3, j, 0.2, 0.7, false).unwrap();
        let s: Vec<f64> = bits.iter().map(|&b| if b { 1.0 } else { -1.0 }).collect();
        let mut est = vec![0.0; 9];
        ising.flip_delta_estimates(&s, &mut est, &mut work);
        for i in 0..9 {
            prop_assert_eq!(est[i], ising.flip_delta(&s, i));
        }
    }
}

#[test]
fn gmm_gradient_far_from_every_mode_is_finite() {
    // 200 units from the ring every component density underflows to 0 in
    // linear space; the log-space evaluation must still be exact.
    let g = Gmm::eight_gaussians();
    let mut grad = [0.0; 2];
    let e = g.energy_grad(&[200.0, 0.0], &mut grad);
    assert!(e.is_finite() && grad.iter().all(|v| v.is_finite()));
    // Nearest mode (4, 0) dominates: grad = (x - mu) / s^2.
    assert!((grad[0] - 196.0 / 0.25).abs() < 1e-6);
}
