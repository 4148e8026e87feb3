//! Samplers against known moments, with tolerances from the Monte Carlo
//! standard error.

use crate::common;

use ebm_core::energies::DiagGaussian;
use ebm_core::{BinaryEnergy, Energy, Points};
use ebm_samplers::driver::run_binary;
use ebm_samplers::driver::{run, RunConfig, Silent};
use ebm_samplers::gibbs::Gibbs;
use ebm_samplers::{Hmc, Kernel, Mala, Ula};

use common::check_moments;

#[test]
fn mala_recovers_mean_and_covariance_of_correlated_10d_gaussian() {
    let g = common::correlated_gaussian(10, 0.8);
    let mut k = Mala::new(0.1).unwrap();
    let cfg = RunConfig {
        warmup: 1000,
        draws: 4000,
        seed: 11,
        adapt_mass: false,
        ..Default::default()
    };
    let out = run(&mut k, &g, Points::zeros(32, 10), &cfg, &mut Silent).unwrap();
    check_moments(&out, g.mean(), &g.covariance());
    // MALA mixes slowly on this ill-conditioned target (variances 0.25 to
    // 4.4, correlation 0.8): about 17 effective draws per chain, so split
    // R-hat's own noise is a few hundredths; 1.1 flags real non-convergence.
    assert!(out.diagnostics().rhat_max() < 1.1);
}

#[test]
fn hmc_recovers_mean_and_covariance_of_correlated_10d_gaussian() {
    let g = common::correlated_gaussian(10, 0.8);
    let mut k = Hmc::new(0.2, 10).unwrap().with_step_jitter(0.2).unwrap();
    let cfg = RunConfig {
        warmup: 600,
        draws: 1500,
        seed: 12,
        ..Default::default()
    };
    let out = run(&mut k, &g, Points::zeros(16, 10), &cfg, &mut Silent).unwrap();
    check_moments(&out, g.mean(), &g.covariance());
    assert_eq!(out.divergences.iter().sum::<usize>(), 0);
}

#[test]
fn hmc_with_f32_products_recovers_the_moments_of_a_correlated_20d_gaussian() {
    // the f32 gradient is the exact one to ~1e-7 relative and the energy
    // used in the accept step a deterministic function of x, so HMC
    // samples exp(-E~) with |E~ - E| ~ 1e-6 here: no bias the 4.5 SE
    // checks could see
    let g = common::correlated_gaussian(20, 0.8).with_f32_arithmetic();
    let mut k = Hmc::new(0.15, 12).unwrap().with_step_jitter(0.2).unwrap();
    let cfg = RunConfig {
        warmup: 600,
        draws: 1500,
        seed: 14,
        ..Default::default()
    };
    let out = run(&mut k, &g, Points::zeros(40, 20), &cfg, &mut Silent).unwrap();
    check_moments(&out, g.mean(), &g.covariance());
    assert_eq!(out.divergences.iter().sum::<usize>(), 0);
}

#[test]
fn hmc_recovers_the_moments_of_a_banded_precision_gaussian() {
    // an AR(1) chain around a non-zero mean, given by its tridiagonal
    // precision: the covariance is sd^2 rho^|i-j|
    let (d, rho, sd): (usize, f64, f64) = (12, 0.9, 1.5);
    let mean: Vec<f64> = (0..d).map(|i| 0.5 * i as f64 - 2.0).collect();
    let g = ebm_core::energies::BandedGaussian::ar1(mean.clone(), rho, sd).unwrap();
    let cov: Vec<f64> = (0..d * d)
        .map(|k| sd * sd * rho.powi((k / d).abs_diff(k % d) as i32))
        .collect();
    let mut k = Hmc::new(0.15, 12).unwrap().with_step_jitter(0.2).unwrap();
    let cfg = RunConfig {
        warmup: 600,
        draws: 1500,
        seed: 13,
        ..Default::default()
    };
    let out = run(&mut k, &g, Points::zeros(16, d), &cfg, &mut Silent).unwrap();
    check_moments(&out, &mean, &cov);
    assert_eq!(out.divergences.iter().sum::<usize>(), 0);
}

#[test]
fn ula_has_the_known_biased_stationary_variance() {
    // E = x^2 / (2 s^2): ULA is the AR(1) x' = (1 - eps/s^2) x + sqrt(2 eps) xi,
    // with stationary variance s^2 / (1 - eps / (2 s^2)) = 1.1111 for s = 1,
    // eps = 0.2 (an 11% bias). 40,000 chains run 300 steps (the contraction
    // 0.8^300 erases the start), so their final states are independent draws:
    // SE(var) = var sqrt(2 / (N - 1)) = 0.0079. Within 4 SE of the biased
    // value, and more than 6 SE away from the unbiased one: the bias itself
    // is what is checked.
    let e = DiagGaussian::standard(1);
    let mut k = Ula::new(0.2).unwrap();
    let n = 40_000;
    let cfg = RunConfig {
        warmup: 0,
        burn_in: 299,
        draws: 1,
        adapt_step_size: false,
        adapt_mass: false,
        seed: 3,
        ..Default::default()
    };
    let out = run(&mut k, &e, Points::zeros(n, 1), &cfg, &mut Silent).unwrap();
    let (mean, cov) = out.moments();
    let var = cov[0];
    let biased = 1.0 / (1.0 - 0.2 / 2.0);
    let se = biased * (2.0 / (n as f64 - 1.0)).sqrt();
    assert!((var - biased).abs() < 4.0 * se, "{var} vs {biased}");
    assert!((var - 1.0).abs() > 6.0 * se, "{var} shows no bias");
    assert!(mean[0].abs() < 4.0 * (biased / n as f64).sqrt());
}

#[test]
fn gibbs_reproduces_exact_visible_marginals_of_12x8_rbm() {
    let rbm = common::random_rbm(12, 8, 0.8, 21);
    // Exact p(v_i = 1) by enumerating the 2^12 visible states.
    let log_z = rbm.log_partition().unwrap();
    let mut exact = [0.0; 12];
    for m in 0..1u32 << 12 {
        let v: Vec<f64> = (0..12).map(|i| (m >> i & 1) as f64).collect();
        let p = (-rbm.energy(&v) - log_z).exp();
        for i in 0..12 {
            exact[i] += p * v[i];
        }
    }
    let out = run_binary(&mut Gibbs::block(), &rbm, 64, 200, 2000, 1, 5).unwrap();
    let ess = out.diagnostics().ess;
    let mean = out.mean();
    for i in 0..12 {
        // Bernoulli variance p (1 - p) over the effective number of draws;
        // 4.5 SE as in check_moments.
        let se = (exact[i] * (1.0 - exact[i]) / ess[i]).sqrt();
        assert!(
            (mean[i] - exact[i]).abs() < 4.5 * se,
            "unit {i}: {} vs {}",
            mean[i],
            exact[i]
        );
    }
}

#[test]
fn checkerboard_gibbs_reproduces_ising_magnetisation_correlations() {
    // 3x4 periodic lattice with a field: exact E[s_0] and E[s_0 s_1] by
    // enumeration of 2^12 states, against single-site Gibbs.
    let m = ebm_core::energies::Ising::new(4, 4, 0.4, 0.1, 1.0, true).unwrap();
    let lz = m.log_partition().unwrap();
    let (mut m0, mut c01) = (0.0, 0.0);
    for k in 0..1u32 << 16 {
        let s: Vec<f64> = (0..16)
            .map(|i| if k >> i & 1 == 1 { 1.0 } else { -1.0 })
            .collect();
        let p = (-m.energy(&s) - lz).exp();
        m0 += p * s[0];
        c01 += p * s[0] * s[1];
    }
    // the site scan visits an Ising lattice as a checkerboard
    let out = run_binary(&mut Gibbs::site(), &m, 64, 200, 2000, 1, 8).unwrap();
    let diag = out.diagnostics();
    let (mean, covariance) = out.moments();
    let d = 16;
    let se = ((1.0 - m0 * m0) / diag.ess[0]).sqrt();
    assert!((mean[0] - m0).abs() < 4.5 * se, "{} vs {m0}", mean[0]);
    let emp = covariance[1] + mean[0] * mean[1];
    let _ = d;
    let se2 = ((1.0 - c01 * c01) / diag.ess[0].min(diag.ess[1])).sqrt();
    assert!((emp - c01).abs() < 4.5 * se2 + 4.5 * se, "{emp} vs {c01}");
}

#[test]
fn step_size_adaptation_reaches_target_acceptance_on_w2_gaussian() {
    // W2: 100-D Gaussian with covariance 0.9^|i-j|, 64 chains, HMC L = 10.
    let d: usize = 100;
    let cov: Vec<f64> = (0..d * d)
        .map(|k| 0.9f64.powi((k / d).abs_diff(k % d) as i32))
        .collect();
    let g = ebm_core::energies::Gaussian::from_covariance(vec![0.0; d], &cov).unwrap();
    let mut k = Hmc::new(0.1, 10).unwrap();
    let cfg = RunConfig {
        warmup: 500,
        draws: 500,
        adapt_mass: false,
        seed: 4,
        ..Default::default()
    };
    let out = run(&mut k, &g, Points::zeros(64, d), &cfg, &mut Silent).unwrap();
    let acc = out.acceptance.iter().sum::<f64>() / 64.0;
    // The mean acceptance of 64 x 500 transitions has an SE near 0.003, so
    // the 0.05 window measures the adaptation, not the noise.
    assert!(
        (acc - 0.8).abs() < 0.05,
        "acceptance {acc} at step size {}",
        k.step_size()
    );
    assert!(g.dim() == d);
}
