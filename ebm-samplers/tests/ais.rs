//! AIS log Z against exact values: within 3 standard errors and 0.1 nats.

use crate::common;

use ebm_core::energies::{DiagGaussian, Gmm};
use ebm_core::Energy;
use ebm_samplers::ais::{ais, ais_rbm, RbmBase, Schedule};
use ebm_samplers::{Hmc, Mala, Nuts};

fn assert_close(name: &str, est: &ebm_samplers::ais::AisResult, exact: f64) {
    let err = est.log_z - exact;
    assert!(
        err.abs() < 3.0 * est.stderr,
        "{name}: error {err} vs 3 SE = {}",
        3.0 * est.stderr
    );
    assert!(err.abs() < 0.1, "{name}: error {err}");
    assert!(
        est.stderr < 0.05,
        "{name}: stderr {} too large for a meaningful test",
        est.stderr
    );
}

#[test]
fn ais_rbm_64x20_with_strong_weights_matches_enumeration() {
    // Weights 0.8 N(0, 1), stronger than W3's 0.5: exact log Z by
    // enumerating the 2^20 hidden states.
    let rbm = common::random_rbm(64, 20, 0.8, 31);
    let exact = rbm.exact_log_partition().unwrap();
    let betas = Schedule::Linear.betas(3000).unwrap();
    let r = ais_rbm(&rbm, &RbmBase::ModelBiases, &betas, 500, 9).unwrap();
    assert_close("rbm 64x20", &r, exact);
    // A base fitted to "data" (here: the model's own biases shifted) works too.
    let r2 = ais_rbm(&rbm, &RbmBase::Visible(vec![0.2; 64]), &betas, 500, 10).unwrap();
    assert_close("rbm 64x20, visible base", &r2, exact);
}

#[test]
fn ais_gaussian_5d_with_hmc() {
    let g = common::correlated_gaussian(5, 0.7);
    let base = DiagGaussian::new(vec![0.0; 5], vec![2.0; 5]).unwrap();
    let betas = Schedule::Sigmoid.betas(500).unwrap();
    let r = ais(&g, &base, &Hmc::new(0.15, 5).unwrap(), &betas, 512, 1, 2).unwrap();
    assert_close("gaussian 5-D", &r, g.log_partition().unwrap());
}

#[test]
fn ais_gaussian_5d_with_nuts() {
    // NUTS as the transition: its trees differ per chain and per
    // temperature, yet each transition leaves p_beta invariant, so the
    // weights stay unbiased. A fixed step (AIS does not adapt one) of 0.3
    // and trees up to depth 6.
    let g = common::correlated_gaussian(5, 0.7);
    let base = DiagGaussian::new(vec![0.0; 5], vec![2.0; 5]).unwrap();
    let betas = Schedule::Sigmoid.betas(300).unwrap();
    let r = ais(
        &g,
        &base,
        &Nuts::new(0.3).unwrap().with_max_depth(6).unwrap(),
        &betas,
        256,
        1,
        5,
    )
    .unwrap();
    assert_close("gaussian 5-D, NUTS", &r, g.log_partition().unwrap());
}

#[test]
fn ais_w1_mixture_with_mala() {
    let m = Gmm::eight_gaussians();
    let base = DiagGaussian::new(vec![0.0, 0.0], vec![4.0, 4.0]).unwrap();
    let betas = Schedule::Linear.betas(300).unwrap();
    let r = ais(&m, &base, &Mala::new(0.05).unwrap(), &betas, 512, 2, 3).unwrap();
    assert_close("W1 mixture", &r, m.log_partition().unwrap());
}

#[test]
fn schedules_are_valid() {
    for s in [Schedule::Linear, Schedule::Geometric, Schedule::Sigmoid] {
        let b = s.betas(50).unwrap();
        ebm_samplers::ais::check_betas(&b).unwrap();
    }
    assert!(Schedule::Linear.betas(1).is_err());
    assert!(ebm_samplers::ais::check_betas(&[0.0, 0.7, 0.5, 1.0]).is_err());
}

#[test]
fn ais_ising_4x4_matches_enumeration() {
    let m = ebm_core::energies::Ising::new(4, 4, 1.0, 0.05, 0.4, true).unwrap();
    let exact = ebm_core::BinaryEnergy::log_partition(&m).unwrap();
    let betas = Schedule::Linear.betas(300).unwrap();
    let r = ebm_samplers::ais::ais_binary(&m, &betas, 400, 1, 6).unwrap();
    assert_close("ising 4x4", &r, exact);
}

#[test]
fn rbm_log_weights_depend_on_the_chains_own_stream_only() {
    // Sixteen chains share SIMD lanes; adding chains must not change the
    // weights of the others (partial lane groups included), nor must the
    // pieces a few groups are annealed in (37 chains: three groups in
    // pieces; 400: 25 groups, whole on up to three threads)
    let rbm = common::random_rbm(13, 7, 0.7, 4);
    let betas = Schedule::Linear.betas(60).unwrap();
    let many = ais_rbm(&rbm, &RbmBase::ModelBiases, &betas, 400, 5).unwrap();
    let a = ais_rbm(&rbm, &RbmBase::ModelBiases, &betas, 37, 5).unwrap();
    assert_eq!(many.log_weights[..37], a.log_weights[..]);
    let b = ais_rbm(&rbm, &RbmBase::ModelBiases, &betas, 45, 5).unwrap();
    let c = ais_rbm(&rbm, &RbmBase::ModelBiases, &betas, 3, 5).unwrap();
    for i in 0..37 {
        assert_eq!(
            a.log_weights[i].to_bits(),
            b.log_weights[i].to_bits(),
            "chain {i}"
        );
    }
    for i in 0..3 {
        assert_eq!(
            a.log_weights[i].to_bits(),
            c.log_weights[i].to_bits(),
            "chain {i}"
        );
    }
}

#[test]
fn ais_rbm_honours_sweeps_per_temperature() {
    // one sweep is ais_rbm to the bit; three sweeps per temperature move
    // the chains further (different weights) and still land on the exact
    // log Z (2^12 visible states enumerated), with a smaller spread of the
    // weights than one sweep at the same temperatures
    use ebm_samplers::ais::{ais_rbm_sweeps_with_progress, no_progress};
    let rbm = common::random_rbm(12, 10, 1.0, 7);
    let exact = rbm.exact_log_partition().unwrap();
    let betas = Schedule::Linear.betas(400).unwrap();
    let one = ais_rbm(&rbm, &RbmBase::ModelBiases, &betas, 400, 5).unwrap();
    let same =
        ais_rbm_sweeps_with_progress(&rbm, &RbmBase::ModelBiases, &betas, 400, 1, 5, &no_progress).unwrap();
    assert_eq!(one.log_weights, same.log_weights);
    let three =
        ais_rbm_sweeps_with_progress(&rbm, &RbmBase::ModelBiases, &betas, 400, 3, 5, &no_progress).unwrap();
    assert_ne!(one.log_weights, three.log_weights);
    assert_close("rbm 12x10, 3 sweeps", &three, exact);
    assert!(three.ess >= 0.9 * one.ess, "ess {} vs {}", three.ess, one.ess);
    assert!(
        ais_rbm_sweeps_with_progress(&rbm, &RbmBase::ModelBiases, &betas, 4, 0, 5, &no_progress).is_err()
    );
}
