//! Exact log Z against independent computations: closed forms against
//! quadrature, enumeration of one RBM layer against the other, brute-force
//! sums, and a hand-derived Ising value.

use ebm_core::energies::{
    Banana, BandedGaussian, DiagGaussian, DoubleWell, Funnel, Gaussian, Gmm, Ising, Rbm,
};
use ebm_core::quadrature::{log_partition_grid, log_partition_quadrature, QuadratureOptions};
use ebm_core::{BinaryEnergy, Energy};

fn quad(e: &dyn Energy) -> f64 {
    log_partition_quadrature(e, &QuadratureOptions::default()).unwrap()
}

// Adaptive quadrature targets 1e-11 relative error; 1e-7 in log Z leaves
// ample room for the error estimate being optimistic.
const QUAD_TOL: f64 = 1e-7;

#[test]
fn closed_forms_agree_with_quadrature_in_2d() {
    let cases: Vec<(&str, Box<dyn Energy>)> = vec![
        (
            "correlated gaussian",
            Box::new(Gaussian::from_covariance(vec![1.0, -2.0], &[2.0, 1.2, 1.2, 1.0]).unwrap()),
        ),
        (
            "gaussian by precision",
            Box::new(Gaussian::from_precision(vec![0.5, 0.5], &[4.0, -1.0, -1.0, 0.5]).unwrap()),
        ),
        (
            "banded gaussian",
            Box::new(BandedGaussian::new(vec![0.5, -1.0], vec![vec![1.5, 0.8], vec![-0.6]]).unwrap()),
        ),
        (
            "diag gaussian",
            Box::new(DiagGaussian::new(vec![3.0, 0.0], vec![0.2, 5.0]).unwrap()),
        ),
        ("W1 mixture", Box::new(Gmm::eight_gaussians())),
        (
            "unnormalised mixture",
            Box::new(
                Gmm::new(
                    vec![0.5, 2.0],
                    vec![vec![-3.0, 0.0], vec![2.0, 1.0]],
                    vec![0.7, 1.5],
                )
                .unwrap(),
            ),
        ),
        ("banana", Box::new(Banana::new(2, 1.0, 1.5).unwrap())),
        ("funnel", Box::new(Funnel::new(2, 1.5).unwrap())),
        ("double well", Box::new(DoubleWell::new(2, 3.0).unwrap())),
    ];
    for (name, e) in cases {
        let exact = e.log_partition().unwrap();
        let q = quad(e.as_ref());
        assert!(
            (exact - q).abs() < QUAD_TOL,
            "{name}: exact {exact} vs quadrature {q}"
        );
    }
}

#[test]
fn one_dimensional_closed_forms() {
    let g = DiagGaussian::new(vec![10.0], vec![0.01]).unwrap();
    assert!((g.log_partition().unwrap() - quad(&g)).abs() < QUAD_TOL);
    // Double well in 1-D: compare with a brute midpoint sum on [-4, 4]
    // (the integrand is below e^-100 outside), 2e5 cells: the midpoint
    // rule's error is far below 1e-8 for this smooth integrand.
    let dw = DoubleWell::new(1, 2.0).unwrap();
    let grid = log_partition_grid(&dw, &[-4.0], &[4.0], 200_000).unwrap();
    assert!((dw.log_partition().unwrap() - grid).abs() < 1e-8);
}

#[test]
fn grid_rule_matches_w5_convention() {
    // W5 computes log Z by the midpoint rule on 400x400 cells over [-8, 8]^2.
    let m = Gmm::eight_gaussians();
    let v = log_partition_grid(&m, &[-8.0, -8.0], &[8.0, 8.0], 400).unwrap();
    assert!(v.abs() < 1e-6, "{v}");
}

fn small_rbm(nv: usize, nh: usize, scale: f64, seed: u64) -> Rbm {
    use rand::Rng;
    let mut r = ebm_core::setup_rng(seed);
    let w = (0..nv * nh)
        .map(|_| scale * (r.random::<f64>() * 2.0 - 1.0))
        .collect();
    let b = (0..nv).map(|_| r.random::<f64>() - 0.5).collect();
    let c = (0..nh).map(|_| r.random::<f64>() - 0.5).collect();
    Rbm::new(nv, nh, w, b, c).unwrap()
}

/// All 2^n binary vectors.
fn all_states(n: usize) -> Vec<Vec<f64>> {
    (0..1u64 << n)
        .map(|k| (0..n).map(|j| ((k >> j) & 1) as f64).collect())
        .collect()
}

#[test]
fn rbm_enumerating_visibles_equals_enumerating_hiddens() {
    for (nv, nh) in [(12, 8), (5, 14), (10, 10)] {
        let rbm = small_rbm(nv, nh, 1.5, nv as u64 * 31 + nh as u64);
        let a = rbm.log_partition_enumerate_visible().unwrap();
        let b = rbm.log_partition_enumerate_hidden().unwrap();
        assert!((a - b).abs() < 1e-10 * a.abs().max(1.0), "{nv}x{nh}: {a} vs {b}");
        assert_eq!(rbm.log_partition().unwrap(), rbm.exact_log_partition().unwrap());
    }
}

#[test]
fn rbm_free_energy_and_log_z_equal_brute_force_sums() {
    let rbm = small_rbm(6, 4, 2.0, 5);
    let hs = all_states(4);
    let mut total = Vec::new();
    for v in all_states(6) {
        let joint: Vec<f64> = hs.iter().map(|h| -rbm.joint_energy(&v, h)).collect();
        let f = -ebm_core::math::log_sum_exp(&joint);
        assert!((rbm.free_energy(&v) - f).abs() < 1e-12);
        total.extend(joint);
    }
    let log_z = ebm_core::math::log_sum_exp(&total);
    assert!((rbm.log_partition().unwrap() - log_z).abs() < 1e-12);
    // The hidden free energy sums out the visibles the same way.
    let vs = all_states(6);
    for h in &hs {
        let joint: Vec<f64> = vs.iter().map(|v| -rbm.joint_energy(v, h)).collect();
        assert!((rbm.free_energy_hidden(h) + ebm_core::math::log_sum_exp(&joint)).abs() < 1e-12);
    }
}

#[test]
fn rbm_conditionals_match_joint_energy() {
    let rbm = small_rbm(4, 3, 1.0, 9);
    let v = [1.0, 0.0, 1.0, 1.0];
    let mut p = [0.0; 3];
    rbm.hidden_probs(&v, &mut p);
    for j in 0..3 {
        // p(h_j = 1 | v) / p(h_j = 0 | v) = exp(E(v, h0) - E(v, h1)).
        let mut h1 = [0.0; 3];
        h1[j] = 1.0;
        let logit = rbm.joint_energy(&v, &[0.0; 3]) - rbm.joint_energy(&v, &h1);
        assert!((p[j] - 1.0 / (1.0 + (-logit).exp())).abs() < 1e-12);
    }
    let h = [1.0, 0.0, 1.0];
    let mut q = [0.0; 4];
    rbm.visible_probs(&h, &mut q);
    for i in 0..4 {
        let mut v1 = [0.0; 4];
        v1[i] = 1.0;
        let logit = rbm.joint_energy(&[0.0; 4], &h) - rbm.joint_energy(&v1, &h);
        assert!((q[i] - 1.0 / (1.0 + (-logit).exp())).abs() < 1e-12);
    }
}

#[test]
fn rbm_64x20_enumerates_2_pow_20_hidden_states() {
    // The W3 size: fast enough to be an ordinary test in release mode.
    let rbm = small_rbm(64, 20, 0.3, 3);
    let v = rbm.log_partition().unwrap();
    assert!(v.is_finite());
}

#[test]
fn ising_2x2_matches_hand_derived_value() {
    // Open 2x2 lattice, 4 bonds forming a square, K = beta J, no field:
    // all aligned (2 states): sum s_i s_j = 4; one spin flipped (8): 0;
    // two adjacent flipped (4): 0; two diagonal flipped (2): -4.
    // Z = 2 e^{4K} + 12 + 2 e^{-4K}.
    for (j, beta) in [(1.0, 0.3), (0.5, 2.0), (-1.0, 0.7)] {
        let m = Ising::new(2, 2, j, 0.0, beta, false).unwrap();
        let k: f64 = j * beta;
        let exact = (2.0 * (4.0 * k).exp() + 12.0 + 2.0 * (-4.0 * k).exp()).ln();
        assert!((m.log_partition().unwrap() - exact).abs() < 1e-12);
    }
}

#[test]
fn ising_enumeration_equals_brute_force_with_field() {
    let m = Ising::new(3, 4, 0.8, 0.3, 0.6, true).unwrap();
    let terms: Vec<f64> = all_states(12)
        .into_iter()
        .map(|s| {
            let spins: Vec<f64> = s.iter().map(|b| 2.0 * b - 1.0).collect();
            -m.energy(&spins)
        })
        .collect();
    let brute = ebm_core::math::log_sum_exp(&terms);
    assert!((m.log_partition().unwrap() - brute).abs() < 1e-10);
}

#[test]
fn ising_5x5_is_enumerated_6x6_with_a_field_refused_and_without_one_closed_form() {
    let m = Ising::new(5, 5, 1.0, 0.1, 0.44, true).unwrap();
    assert!(m.log_partition().unwrap().is_finite());
    assert!(Ising::new(6, 6, 1.0, 0.1, 0.44, true)
        .unwrap()
        .log_partition()
        .is_none());
    // periodic without a field: Kaufman's closed form (checked against
    // enumeration in ebm-samplers/tests/kaufman.rs); open lattices refused
    let k = Ising::new(6, 6, 1.0, 0.0, 0.44, true).unwrap();
    assert_eq!(k.log_partition(), k.kaufman_log_partition());
    assert!(k.log_partition().unwrap().is_finite());
    assert!(Ising::new(6, 6, 1.0, 0.0, 0.44, false)
        .unwrap()
        .log_partition()
        .is_none());
}

#[test]
fn too_large_rbm_is_an_error_not_a_hang() {
    let rbm = Rbm::new(40, 40, vec![0.0; 1600], vec![0.0; 40], vec![0.0; 40]).unwrap();
    assert!(rbm.log_partition().is_none());
    assert!(rbm.exact_log_partition().unwrap_err().to_string().contains("AIS"));
}

#[test]
fn quadrature_refuses_higher_dimensions() {
    let g = DiagGaussian::standard(3);
    assert!(log_partition_quadrature(&g, &QuadratureOptions::default()).is_err());
}

/// The Gaussian-Bernoulli RBM's log Z (hidden layer enumerated, visibles
/// integrated in closed form) against adaptive quadrature of exp(-F(v))
/// over the visibles, in one and two dimensions, with strong weights,
/// off-centre biases and unequal scales.
#[test]
fn gb_rbm_log_z_agrees_with_quadrature() {
    use ebm_core::energies::GbRbm;
    let one = GbRbm::new(
        1,
        3,
        vec![1.2, -0.8, 0.5],
        vec![0.4],
        vec![0.1, -0.3, 0.2],
        vec![0.7],
    )
    .unwrap();
    let two = GbRbm::new(
        2,
        4,
        vec![0.9, -0.6, 0.3, 1.1, -0.4, 0.8, -1.0, 0.2],
        vec![-0.5, 0.3],
        vec![0.2, -0.1, 0.0, 0.3],
        vec![1.3, 0.6],
    )
    .unwrap();
    for (name, m) in [("1-D", one), ("2-D", two)] {
        let exact = m.log_partition().unwrap();
        let q = quad(&m);
        assert!((exact - q).abs() < QUAD_TOL, "{name}: {exact} vs quadrature {q}");
    }
}
