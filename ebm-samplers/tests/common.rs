//! Shared fixtures for the sampler tests.
#![allow(dead_code)]

use ebm_core::energies::{Gaussian, Rbm};
use ebm_samplers::diagnostics::{coordinate_series, ess_mean};
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
/// with the ESS of the products (x_i - m_i)(x_j - m_j) (not of the
/// coordinates: HMC's draws are often antithetic for the mean and not for
/// second moments, where the coordinates' ESS overstated the precision of
/// the covariance and let a fixed seed fail at 4.5 of these SE). 4.5 SE is a two-sided tail of 7e-6 per
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
    let (n, m) = (out.n_draws, out.chains.len());
    for i in 0..d {
        for j in 0..=i {
            // the ESS of the products (x_i - m_i)(x_j - m_j) themselves: a
            // sampler's draws can be far less correlated for the mean than
            // for second moments (HMC's antithetic trajectories)
            let prods: Vec<f64> = out
                .draws
                .chunks_exact(d)
                .map(|x| (x[i] - out_mean[i]) * (x[j] - out_mean[j]))
                .collect();
            let ess = ess_mean(&coordinate_series(&prods, n, m, 1, 0));
            let se = ((cov[i * d + i] * cov[j * d + j] + cov[i * d + j].powi(2)) / ess).sqrt();
            let got = out_cov[i * d + j];
            assert!(
                (got - cov[i * d + j]).abs() < 4.5 * se,
                "cov[{i}][{j}] {got} vs {} (se {se})",
                cov[i * d + j]
            );
        }
    }
}

/// A rotated, ill-conditioned Gaussian: covariance R diag(s^2) R^T with
/// standard deviations s from 0.1 to 1 (log-spaced; condition number 100)
/// and a random rotation R (Gram-Schmidt on Gaussian columns from `seed`).
pub fn rotated_gaussian(d: usize, seed: u64) -> Gaussian {
    let mut r = ebm_core::setup_rng(seed);
    let mut q = vec![0.0; d * d];
    for c in 0..d {
        let mut v: Vec<f64> = (0..d).map(|_| StandardNormal.sample(&mut r)).collect();
        for k in 0..c {
            let dot: f64 = (0..d).map(|i| v[i] * q[i * d + k]).sum();
            for i in 0..d {
                v[i] -= dot * q[i * d + k];
            }
        }
        let norm = v.iter().map(|x| x * x).sum::<f64>().sqrt();
        for i in 0..d {
            q[i * d + c] = v[i] / norm;
        }
    }
    let s2: Vec<f64> = (0..d)
        .map(|i| 10f64.powf(-2.0 + 2.0 * i as f64 / (d - 1).max(1) as f64))
        .collect();
    let cov: Vec<f64> = (0..d * d)
        .map(|k| {
            let (i, j) = (k / d, k % d);
            (0..d).map(|m| q[i * d + m] * s2[m] * q[j * d + m]).sum()
        })
        .collect();
    Gaussian::from_covariance(vec![0.0; d], &cov).unwrap()
}

/// The correlated 2-D Gaussian of the invariance tests (mean (0.5, -1),
/// covariance [[1, 0.9], [0.9, 1.5]]) and `n` exact draws of it
/// (x = m + L z, L its Cholesky factor), row-major.
pub fn exact_2d_draws(n: usize, seed: u64) -> (Gaussian, Vec<f64>) {
    let g = Gaussian::from_covariance(vec![0.5, -1.0], &[1.0, 0.9, 0.9, 1.5]).unwrap();
    let mut r = ebm_core::setup_rng(seed);
    let l22 = (1.5f64 - 0.81).sqrt();
    let mut x = Vec::with_capacity(2 * n);
    for _ in 0..n {
        let (z1, z2): (f64, f64) = (StandardNormal.sample(&mut r), StandardNormal.sample(&mut r));
        x.push(0.5 + z1);
        x.push(-1.0 + 0.9 * z1 + l22 * z2);
    }
    (g, x)
}

/// The mean and covariance of independent 2-D draws `xs` against `g`'s,
/// each within 4.5 standard errors of n independent draws: mean
/// sqrt(S_jj / n), covariance sqrt((S_ii S_jj + S_ij^2) / n).
pub fn check_independent_moments(label: &str, xs: &[f64], g: &Gaussian) {
    let n = xs.len() / 2;
    let cov = g.covariance();
    let mean: Vec<f64> = (0..2)
        .map(|j| xs.iter().skip(j).step_by(2).sum::<f64>() / n as f64)
        .collect();
    for j in 0..2 {
        let se = (cov[3 * j] / n as f64).sqrt();
        assert!(
            (mean[j] - g.mean()[j]).abs() < 4.5 * se,
            "{label}: mean[{j}] {}",
            mean[j]
        );
    }
    for (a, b) in [(0, 0), (1, 0), (1, 1)] {
        let c = xs
            .chunks_exact(2)
            .map(|x| (x[a] - mean[a]) * (x[b] - mean[b]))
            .sum::<f64>()
            / (n - 1) as f64;
        let want = cov[2 * a + b];
        let se = ((cov[3 * a] * cov[3 * b] + want * want) / n as f64).sqrt();
        assert!(
            (c - want).abs() < 4.5 * se,
            "{label}: cov[{a}][{b}] {c} vs {want}"
        );
    }
}
