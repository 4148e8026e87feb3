//! Mixture energies far from every mode (|x| = 1e6): the energy and its
//! gradient stay finite (log-sum-exp, no underflow of the component
//! densities to 0), and match the component that dominates there.

use ebm_compose::{Mixture, Product};
use ebm_core::energies::{DiagGaussian, Gaussian, Gmm};
use ebm_core::Energy;

/// Points at distance about 1e6 in every direction of the plane.
fn far_points() -> Vec<[f64; 2]> {
    vec![
        [1e6, 0.0],
        [-1e6, 0.0],
        [0.0, 1e6],
        [0.0, -1e6],
        [7e5, -7e5],
        [-1e6, 1e6],
        [1e6, 3.0],
    ]
}

/// |a - b| within `rel` of max(|b|, 1).
fn close(a: f64, b: f64, rel: f64) -> bool {
    (a - b).abs() <= rel * b.abs().max(1.0)
}

#[test]
fn gmm_far_from_every_mode_is_finite_and_follows_the_nearest_widest_component() {
    // eight modes on a circle of radius 4 with std 0.5 (W1): at |x| = 1e6
    // the energy is about |x|^2 / (2 * 0.25) = 2e12
    let g = Gmm::eight_gaussians();
    for x in far_points() {
        let mut grad = [0.0; 2];
        let e = g.energy_grad(&x, &mut grad);
        assert!(e.is_finite() && e > 1e12, "E({x:?}) = {e}");
        assert!(grad.iter().all(|v| v.is_finite()), "grad at {x:?} = {grad:?}");
        // the gradient of the dominating component, (x - mu_k) / s^2, is
        // within 4 / 0.25 of x / 0.25 whichever mode dominates
        for j in 0..2 {
            assert!(
                (grad[j] - x[j] / 0.25).abs() <= 4.0 / 0.25 + 1e-6,
                "{x:?}: {grad:?}"
            );
        }
        assert!(close(g.energy(&x), e, 1e-12));
    }
}

#[test]
fn composed_mixture_far_away_is_dominated_by_its_widest_component() {
    // a narrow and a wide component: far away, the wide one (std 3)
    // dominates, E ~ |x - m|^2 / 18 + const and grad E ~ (x - m) / 9
    let narrow = Gaussian::from_covariance(vec![1.0, -1.0], &[0.04, 0.0, 0.0, 0.04]).unwrap();
    let wide = Gaussian::from_covariance(vec![-2.0, 0.5], &[9.0, 0.0, 0.0, 9.0]).unwrap();
    let m = Mixture::new(vec![narrow, wide.clone()], vec![0.99, 0.01]).unwrap();
    let log_coef = (0.01f64).ln() - wide.log_partition().unwrap();
    for x in far_points() {
        let mut grad = [0.0; 2];
        let e = m.energy_grad(&x, &mut grad);
        let e_wide = wide.energy(&x) - log_coef;
        assert!(
            e.is_finite() && close(e, e_wide, 1e-12),
            "E({x:?}) = {e} vs {e_wide}"
        );
        let want = [(x[0] + 2.0) / 9.0, (x[1] - 0.5) / 9.0];
        for j in 0..2 {
            assert!(
                close(grad[j], want[j], 1e-9),
                "grad at {x:?}: {grad:?} vs {want:?}"
            );
        }
    }
}

#[test]
fn products_and_mixtures_of_mixtures_far_away_stay_finite() {
    let a = DiagGaussian::new(vec![0.0, 0.0], vec![1.0, 0.1]).unwrap();
    let b = DiagGaussian::new(vec![5.0, 5.0], vec![0.01, 2.0]).unwrap();
    let inner = Mixture::new(vec![a.clone(), b.clone()], vec![0.5, 0.5]).unwrap();
    let outer = Mixture::new(vec![inner.clone(), inner], vec![0.2, 0.8]).unwrap();
    let product = Product::new(vec![a, b]).unwrap();
    for x in far_points() {
        for e in [&outer as &dyn Energy, &product as &dyn Energy] {
            let mut grad = [0.0; 2];
            let v = e.energy_grad(&x, &mut grad);
            assert!(v.is_finite() && v > 0.0, "E({x:?}) = {v}");
            assert!(grad.iter().all(|g| g.is_finite()), "grad at {x:?} = {grad:?}");
        }
    }
}
