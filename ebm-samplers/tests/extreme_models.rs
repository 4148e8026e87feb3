//! Binary models at numerical extremes: an RBM with weights of magnitude
//! 20 and Ising lattices at large beta. Exact log Z stays finite and agrees
//! with an independent brute-force sum; AIS stays finite and agrees with
//! it within its error bars.

use ebm_core::energies::{Ising, Rbm};
use ebm_core::math::log_sum_exp;
use ebm_core::BinaryEnergy;
use ebm_samplers::ais::{ais_binary, ais_rbm, RbmBase, Schedule};

/// An RBM whose weights are all +-20 (signs from a fixed pattern) with
/// biases of magnitude up to 10.
fn rbm_20(nv: usize, nh: usize) -> Rbm {
    let w = (0..nv * nh)
        .map(|k| if (k * 7 + k / 3) % 5 < 2 { 20.0 } else { -20.0 })
        .collect();
    let b = (0..nv)
        .map(|i| (i as f64 - nv as f64 / 2.0) * 10.0 / nv as f64)
        .collect();
    let c = (0..nh).map(|j| if j % 2 == 0 { -10.0 } else { 5.0 }).collect();
    Rbm::new(nv, nh, w, b, c).unwrap()
}

/// log Z by summing exp(-E(v, h)) over every joint state, with one
/// log-sum-exp over all of them.
fn brute_force_log_z(rbm: &Rbm) -> f64 {
    let (nv, nh) = (rbm.n_visible(), rbm.n_hidden());
    let mut terms = Vec::with_capacity(1 << (nv + nh));
    for s in 0u32..(1 << (nv + nh)) {
        let v: Vec<f64> = (0..nv).map(|i| ((s >> i) & 1) as f64).collect();
        let h: Vec<f64> = (0..nh).map(|j| ((s >> (nv + j)) & 1) as f64).collect();
        terms.push(-rbm.joint_energy(&v, &h));
    }
    log_sum_exp(&terms)
}

#[test]
fn rbm_with_weights_of_magnitude_20_has_finite_exact_and_ais_log_z() {
    let rbm = rbm_20(10, 6);
    let exact = rbm.exact_log_partition().unwrap();
    assert!(exact.is_finite() && exact > 100.0, "log Z = {exact}");
    // the free-energy sum (over the 2^6 hidden states) against the full
    // joint sum over 2^16 states: only rounding separates them
    let brute = brute_force_log_z(&rbm);
    assert!((exact - brute).abs() < 1e-9 * brute.abs(), "{exact} vs {brute}");
    // the visible-side sum agrees too
    let other = rbm.log_partition_enumerate_visible().unwrap();
    assert!((exact - other).abs() < 1e-9 * exact.abs(), "{exact} vs {other}");

    let betas = Schedule::Linear.betas(20_000).unwrap();
    // measured: 171.0124 +- 0.0079 against exact 171.0067
    let r = ais_rbm(&rbm, &RbmBase::ModelBiases, &betas, 200, 3).unwrap();
    assert!(r.log_z.is_finite() && r.stderr.is_finite(), "{r:?}");
    // 3 standard errors, plus 0.05 nats for the bias AIS keeps when a
    // landscape this rugged makes the weights heavy-tailed
    let err = r.log_z - exact;
    assert!(
        err.abs() < 3.0 * r.stderr + 0.05,
        "AIS {} +- {} vs exact {exact}",
        r.log_z,
        r.stderr
    );
}

#[test]
fn ising_at_large_beta_has_the_ground_state_log_z() {
    // 4x4 periodic ferromagnet, J = 1, h = 0: 32 bonds, two ground states
    // of energy -32 J, the next states 8 J higher, so
    // log Z = 32 beta + ln 2 + ln(1 + 16 e^{-8 beta} + ...) -> 32 beta + ln 2
    for beta in [5.0, 50.0, 1000.0] {
        let m = Ising::new(4, 4, 1.0, 0.0, beta, true).unwrap();
        let exact = m.log_partition().unwrap();
        let ground = 32.0 * beta + std::f64::consts::LN_2;
        assert!(exact.is_finite());
        // the first correction is 16 e^{-8 beta} (flipping one spin of
        // either ground state: 2 x 16 states, relative weight e^{-8 beta})
        let want = ground + (16.0 * (-8.0 * beta).exp()).ln_1p();
        assert!(
            (exact - want).abs() < 1e-9 * want,
            "beta {beta}: {exact} vs {want}"
        );
    }
}

#[test]
fn ais_on_ising_at_large_beta_stays_finite_and_correct() {
    // beta 50 (critical beta ~ 0.44) with a field that picks one ground
    // state: log Z = 50 (32 + 1.6) = 1680 up to e^{-400}. Measured: AIS
    // 1679.82 +- 0.13 (chains that freeze in a striped state before
    // reaching the ground state widen the error bar, and AIS reports it)
    let m = Ising::new(4, 4, 1.0, 0.1, 50.0, true).unwrap();
    let exact = m.log_partition().unwrap();
    let betas = Schedule::Linear.betas(2000).unwrap();
    let r = ais_binary(&m, &betas, 400, 1, 8).unwrap();
    assert!(r.log_z.is_finite() && r.stderr.is_finite(), "{r:?}");
    let err = r.log_z - exact;
    assert!(
        err.abs() < 3.0 * r.stderr + 0.05,
        "AIS {} +- {} vs exact {exact}",
        r.log_z,
        r.stderr
    );
}
