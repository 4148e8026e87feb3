//! Shared fixtures for the sampler tests.
#![allow(dead_code)]

use ebm_core::energies::{Gaussian, Rbm};
use ebm_samplers::driver::RunOutput;
use rand::Rng;
use rand_distr::{Distribution, StandardNormal};

/// A correlated D-dimensional Gaussian: covariance 0.9^|i-j| scaled by
/// s_i s_j with s_i = 0.5 + i / D, mean i / 2 - 1.
pub fn correlated_gaussian(d: usize, rho: f64) -> Gaussian {
    let s: Vec<f64> = (0..d).map(|i| 0.5 + i as f64 / d as f64).collect();
    let cov: Vec<f64> = (0..d * d)
        .map(|k| {
            let (i, j) = (k / d, k % d);
            rho.powi(i.abs_diff(j) as i32) * s[i] * s[j]
        })
        .collect();
    let mean = (0..d).map(|i| i as f64 / 2.0 - 1.0).collect();
    Gaussian::from_covariance(mean, &cov).unwrap()
}

/// An RBM with weights `scale` * N(0, 1) and biases 0.1 N(0, 1).
pub fn random_rbm(nv: usize, nh: usize, scale: f64, seed: u64) -> Rbm {
    let mut r = ebm_core::setup_rng(seed);
    let mut n = || -> f64 { StandardNormal.sample(&mut r) };
    let w = (0..nv * nh).map(|_| scale * n()).collect();
    let b = (0..nv).map(|_| 0.1 * n()).collect();
    let c = (0..nh).map(|_| 0.1 * n()).collect();
    let _ = ebm_core::setup_rng(0).random::<u8>();
    Rbm::new(nv, nh, w, b, c).unwrap()
}

/// `f` run on a rayon pool of `threads` threads.
pub fn in_pool<T: Send>(threads: usize, f: impl FnOnce() -> T + Send) -> T {
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .unwrap()
        .install(f)
}

/// Every mean and covariance entry within 4.5 Monte Carlo standard errors.
/// SE(mean_j) = sqrt(Sigma_jj / ESS_j); for a Gaussian the sample
/// covariance has SE(c_ij) ~ sqrt((Sigma_ii Sigma_jj + Sigma_ij^2) / ESS)
/// with the smaller of the two ESS. 4.5 SE is a two-sided tail of 7e-6 per
/// entry, so the 65 entries checked here fail by chance with probability
/// under 5e-4 for a correct sampler; the seed is fixed, so the outcome is too.
pub fn check_moments(out: &RunOutput, mean: &[f64], cov: &[f64]) {
    let d = mean.len();
    let diag = out.diagnostics();
    let (out_mean, out_cov) = out.moments();
    for j in 0..d {
        let se = (cov[j * d + j] / diag.ess[j]).sqrt();
        assert!(
            (out_mean[j] - mean[j]).abs() < 4.5 * se,
            "mean[{j}] {} vs {} (se {se})",
            out_mean[j],
            mean[j]
        );
    }
    for i in 0..d {
        for j in 0..=i {
            let n = diag.ess[i].min(diag.ess[j]);
            let se = ((cov[i * d + i] * cov[j * d + j] + cov[i * d + j].powi(2)) / n).sqrt();
            let got = out_cov[i * d + j];
            assert!(
                (got - cov[i * d + j]).abs() < 4.5 * se,
                "cov[{i}][{j}] {got} vs {} (se {se})",
                cov[i * d + j]
            );
        }
    }
}
