//! Composition identities: closed forms against independent computations.

use ebm_compose::{Clamp, Mixture, Product, Tempered};
use ebm_core::energies::{Banana, DiagGaussian, Funnel, Gaussian, Gmm};
use ebm_core::quadrature::{log_partition_quadrature, QuadratureOptions};
use ebm_core::Energy;
use std::sync::Arc;

fn quad(e: &dyn Energy) -> f64 {
    log_partition_quadrature(e, &QuadratureOptions::default()).unwrap()
}

/// Adaptive quadrature targets 1e-11 relative error; 1e-7 in log Z leaves
/// room for an optimistic error estimate (the tests in ebm-core see < 5e-9).
const QUAD_TOL: f64 = 1e-7;

fn inv2(m: [f64; 4]) -> [f64; 4] {
    let det = m[0] * m[3] - m[1] * m[2];
    [m[3] / det, -m[1] / det, -m[2] / det, m[0] / det]
}

#[test]
fn product_of_two_gaussians_has_closed_form_mean_precision_and_log_z() {
    let (m1, c1) = ([1.0, -1.0], [2.0, 0.5, 0.5, 1.0]);
    let (m2, c2) = ([-2.0, 0.5], [1.0, -0.3, -0.3, 0.5]);
    let g1 = Gaussian::from_covariance(m1.to_vec(), &c1).unwrap();
    let g2 = Gaussian::from_covariance(m2.to_vec(), &c2).unwrap();
    let p = Product::new(vec![g1, g2]).unwrap();
    // By hand: P = P1 + P2, m = P^-1 (P1 m1 + P2 m2).
    let (p1, p2) = (inv2(c1), inv2(c2));
    let pp = [p1[0] + p2[0], p1[1] + p2[1], p1[2] + p2[2], p1[3] + p2[3]];
    let h = [
        p1[0] * m1[0] + p1[1] * m1[1] + p2[0] * m2[0] + p2[1] * m2[1],
        p1[2] * m1[0] + p1[3] * m1[1] + p2[2] * m2[0] + p2[3] * m2[1],
    ];
    let cov = inv2(pp);
    let m = [cov[0] * h[0] + cov[1] * h[1], cov[2] * h[0] + cov[3] * h[1]];
    let q = p.quadratic().unwrap();
    for i in 0..2 {
        assert!((q.mean[i] - m[i]).abs() < 1e-12);
    }
    for k in 0..4 {
        assert!((q.precision[k] - pp[k]).abs() < 1e-12);
    }
    // The gradient vanishes at the product's mode.
    let mut g = [0.0; 2];
    p.energy_grad(&m, &mut g);
    assert!(g.iter().all(|v| v.abs() < 1e-12));
    // log Z against quadrature of exp(-E1 - E2).
    assert!((p.log_partition().unwrap() - quad(&p)).abs() < QUAD_TOL);
}

#[test]
fn weighted_product_and_diag_experts_stay_exact() {
    let p = Product::weighted(
        vec![
            Arc::new(DiagGaussian::new(vec![0.0, 3.0], vec![1.0, 2.0]).unwrap()) as Arc<dyn Energy>,
            Arc::new(Gaussian::from_covariance(vec![1.0, 1.0], &[1.0, 0.4, 0.4, 2.0]).unwrap()),
        ],
        vec![0.5, 2.0],
    )
    .unwrap();
    assert!((p.log_partition().unwrap() - quad(&p)).abs() < QUAD_TOL);
}

#[test]
fn tempering_a_gaussian_scales_its_covariance_by_one_over_beta() {
    let cov = [2.0, 0.6, 0.6, 1.0];
    let g = Gaussian::from_covariance(vec![0.5, -0.5], &cov).unwrap();
    for beta in [0.25, 1.0, 3.0] {
        let t = Tempered::new(g.clone(), beta).unwrap();
        let q = t.quadratic().unwrap();
        let tcov = Gaussian::from_precision(q.mean.clone(), &q.precision)
            .unwrap()
            .covariance();
        for k in 0..4 {
            assert!((tcov[k] - cov[k] / beta).abs() < 1e-12, "beta {beta}");
        }
        // log Z(beta) = log Z(1) - D/2 log beta.
        let want = g.log_partition().unwrap() - beta.ln();
        assert!((t.log_partition().unwrap() - want).abs() < 1e-12);
        assert!((quad(&t) - want).abs() < QUAD_TOL);
    }
}

#[test]
fn tempered_non_gaussian_has_no_claimed_log_z() {
    let t = Tempered::new(Banana::new(2, 1.0, 1.0).unwrap(), 0.5).unwrap();
    assert!(t.log_partition().is_none());
}

#[test]
fn mixture_of_normalised_components_has_log_z_zero_by_quadrature() {
    // Components normalised by their own exact log Z, including
    // non-Gaussian ones (banana, funnel) and a mixture inside a mixture.
    let comps: Vec<Arc<dyn Energy>> = vec![
        Arc::new(Banana::new(2, 0.5, 1.0).unwrap()),
        Arc::new(Funnel::new(2, 1.0).unwrap()),
        Arc::new(Gmm::eight_gaussians()),
        Arc::new(DiagGaussian::new(vec![3.0, -3.0], vec![0.3, 0.7]).unwrap()),
    ];
    let m = Mixture::new(comps, vec![0.1, 0.2, 0.3, 0.4]).unwrap();
    assert!(m.log_partition().unwrap().abs() < 1e-15);
    let q = quad(&m);
    assert!(q.abs() < QUAD_TOL, "quadrature log Z {q}");
}

#[test]
fn mixture_with_given_log_z_estimates_claims_no_exact_value() {
    let b = Tempered::new(Banana::new(2, 0.5, 1.0).unwrap(), 0.5).unwrap();
    let est = quad(&b);
    let m = Mixture::with_log_partitions(vec![b], vec![1.0], vec![Some(est)]).unwrap();
    assert!(m.log_partition().is_none());
    // ...but with a good estimate the density integrates to ~1.
    assert!(quad(&m).abs() < QUAD_TOL);
    let unknown = Mixture::new(
        vec![Tempered::new(Banana::new(2, 0.5, 1.0).unwrap(), 0.5).unwrap()],
        vec![1.0],
    );
    assert!(unknown.unwrap_err().to_string().contains("components[0]"));
}

#[test]
fn clamping_a_gaussian_gives_the_conditional_with_exact_log_z() {
    let g = Gaussian::from_covariance(
        vec![1.0, 2.0, -1.0],
        &[2.0, 0.5, 0.3, 0.5, 1.0, -0.2, 0.3, -0.2, 1.5],
    )
    .unwrap();
    let c = Clamp::new(g, vec![0, 2], vec![0.5, 0.0]).unwrap();
    assert_eq!(c.dim(), 1);
    let exact = c.log_partition().unwrap();
    let numeric = quad(&c);
    assert!((exact - numeric).abs() < QUAD_TOL, "{exact} vs {numeric}");
}

#[test]
fn clamp_rejects_bad_indices() {
    let g = DiagGaussian::standard(2);
    assert!(Clamp::new(g.clone(), vec![2], vec![0.0])
        .unwrap_err()
        .to_string()
        .contains("indices[0]"));
    assert!(Clamp::new(g.clone(), vec![0, 0], vec![0.0, 1.0]).is_err());
    assert!(Clamp::new(g, vec![0, 1], vec![0.0, 1.0]).is_err());
}

#[test]
fn tempering_a_binary_model_scales_its_inverse_temperature() {
    // beta' (beta E) for an Ising model is the model at beta' beta: the
    // enumerated log Z of the tempered model equals the rescaled model's.
    use ebm_core::energies::Ising;
    use ebm_core::BinaryEnergy;
    let t = Tempered::new(Ising::new(3, 3, 0.8, 0.1, 1.0, true).unwrap(), 0.45).unwrap();
    let direct = Ising::new(3, 3, 0.8, 0.1, 0.45, true).unwrap();
    let a = ebm_core::binary::enumerate_log_partition(&t).unwrap();
    assert!((a - direct.log_partition().unwrap()).abs() < 1e-12);
    assert!(BinaryEnergy::log_partition(&t).is_none());
}

#[test]
fn product_of_binary_models_adds_their_energies() {
    // Two Ising models on one lattice: the product has coupling
    // w1 J1 beta1 + w2 J2 beta2 and field likewise; compare enumerated log Z.
    use ebm_core::energies::Ising;
    let a = Ising::new(3, 3, 1.0, 0.2, 0.3, true).unwrap();
    let b = Ising::new(3, 3, -0.5, 0.4, 1.0, true).unwrap();
    let p = Product::binary(vec![a, b], vec![2.0, 0.5]).unwrap();
    // Effective (beta J) = 2 * 0.3 * 1.0 + 0.5 * 1.0 * -0.5 = 0.35,
    // (beta h) = 2 * 0.3 * 0.2 + 0.5 * 1.0 * 0.4 = 0.32.
    let same = Ising::new(3, 3, 0.35, 0.32, 1.0, true).unwrap();
    let lz = ebm_core::binary::enumerate_log_partition(&p).unwrap();
    assert!((lz - ebm_core::BinaryEnergy::log_partition(&same).unwrap()).abs() < 1e-12);
    let bad = Product::binary(
        vec![
            Ising::new(2, 2, 1.0, 0.0, 1.0, false).unwrap(),
            Ising::new(3, 3, 1.0, 0.0, 1.0, false).unwrap(),
        ],
        vec![1.0, 1.0],
    );
    assert!(bad.unwrap_err().to_string().contains("experts[1]"));
}
