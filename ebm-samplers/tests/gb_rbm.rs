//! The Gaussian-Bernoulli RBM: block Gibbs against its exact visible
//! moments, and SMC against its exact log Z.

use crate::common;

use common::in_pool;
use ebm_core::energies::{DiagGaussian, GbRbm};
use ebm_core::{Energy, Points};
use ebm_samplers::ais::smc::{smc, SmcConfig};
use ebm_samplers::driver::{run, RunConfig, Silent};
use ebm_samplers::gibbs::Gibbs;
use ebm_samplers::tempering::Reference;
use ebm_samplers::{Hmc, Kernel, Target};

/// Three visibles, five hiddens, strong weights, unequal scales.
fn model() -> GbRbm {
    GbRbm::new(
        3,
        5,
        vec![
            1.1, -0.7, 0.4, 0.9, -1.2, //
            -0.5, 0.8, 1.0, -0.3, 0.6, //
            0.7, 0.2, -0.9, 1.3, 0.1,
        ],
        vec![0.5, -0.4, 0.0],
        vec![-0.2, 0.1, 0.3, -0.5, 0.0],
        vec![0.8, 1.2, 0.5],
    )
    .unwrap()
}

/// Exact E[v_i] and E[v_i^2]: p(v) is the mixture over h of
/// N(b + sigma (W h), sigma^2) with p(h) ∝ exp(c.h + sum_i (b_i / sigma_i) (W h)_i
/// + 1/2 ||W h||^2).
fn exact_moments(m: &GbRbm) -> (Vec<f64>, Vec<f64>) {
    let (nv, nh) = (m.n_visible(), m.n_hidden());
    let (w, b, c, s) = (m.weights(), m.visible_bias(), m.hidden_bias(), m.sigma());
    let mut terms = Vec::new();
    for k in 0..1u32 << nh {
        let h: Vec<f64> = (0..nh).map(|j| (k >> j & 1) as f64).collect();
        let u: Vec<f64> = (0..nv)
            .map(|i| (0..nh).map(|j| w[i * nh + j] * h[j]).sum())
            .collect();
        let log_w: f64 = c.iter().zip(&h).map(|(c, h)| c * h).sum::<f64>()
            + (0..nv)
                .map(|i| b[i] / s[i] * u[i] + 0.5 * u[i] * u[i])
                .sum::<f64>();
        let mean: Vec<f64> = (0..nv).map(|i| b[i] + s[i] * u[i]).collect();
        terms.push((log_w, mean));
    }
    let top = terms.iter().map(|t| t.0).fold(f64::NEG_INFINITY, f64::max);
    let z: f64 = terms.iter().map(|t| (t.0 - top).exp()).sum();
    let mut m1 = vec![0.0; nv];
    let mut m2 = vec![0.0; nv];
    for (lw, mean) in &terms {
        let p = (lw - top).exp() / z;
        for i in 0..nv {
            m1[i] += p * mean[i];
            m2[i] += p * (mean[i] * mean[i] + s[i] * s[i]);
        }
    }
    (m1, m2)
}

/// Block Gibbs (h | v, then v | h) reproduces E[v_i] and E[v_i^2]: 128
/// chains x 500 draws after 100 burn-in sweeps; standard errors from the
/// spread of the chains' own averages, every figure within 4.5 of them.
/// And the same bits for 1 and 2 threads.
#[test]
fn block_gibbs_reproduces_exact_visible_moments() {
    let m = model();
    let (m1, m2) = exact_moments(&m);
    let (chains, draws) = (128, 500);
    let cfg = RunConfig {
        burn_in: 100,
        draws,
        seed: 5,
        adapt_step_size: false,
        adapt_mass: false,
        ..Default::default()
    };
    let go = |threads| {
        in_pool(threads, || {
            run(
                &mut Gibbs::default(),
                &m,
                Points::zeros(chains, 3),
                &cfg,
                &mut Silent,
            )
            .unwrap()
        })
    };
    let (out, two) = (go(1), go(2));
    assert!(out
        .draws
        .iter()
        .zip(&two.draws)
        .all(|(a, b)| a.to_bits() == b.to_bits()));
    for i in 0..3 {
        for (power, want) in [(1, m1[i]), (2, m2[i])] {
            let per_chain: Vec<f64> = (0..chains)
                .map(|c| {
                    (0..draws)
                        .map(|t| out.draws[(t * chains + c) * 3 + i].powi(power))
                        .sum::<f64>()
                        / draws as f64
                })
                .collect();
            let avg = per_chain.iter().sum::<f64>() / chains as f64;
            let var = per_chain.iter().map(|v| (v - avg).powi(2)).sum::<f64>() / (chains - 1) as f64;
            let se = (var / chains as f64).sqrt();
            assert!(
                (avg - want).abs() < 4.5 * se,
                "E[v_{i}^{power}]: {avg} vs {want} (se {se})"
            );
        }
    }
    // the chains' energies are the free energy's at the final states
    let x = out.chains.x.as_slice();
    assert_eq!(out.chains.energy[0], m.energy(&x[..3]));
}

/// SMC with HMC moves from N(0, 3^2 I) lands within 3 standard errors of
/// the exact log Z (hidden layer enumerated).
#[test]
fn smc_matches_the_exact_log_z() {
    let m = model();
    let exact = m.log_partition().unwrap();
    let base = DiagGaussian::new(vec![0.0; 3], vec![3.0; 3]).unwrap();
    let make = || Ok(Box::new(Hmc::new(0.3, 5)?) as Box<dyn Kernel>);
    let cfg = SmcConfig {
        particles: 400,
        seed: 8,
        ..Default::default()
    };
    let r = smc(&make, Target::Continuous(&m), Reference::Base(&base), &cfg).unwrap();
    let err = r.log_z - exact;
    assert!(
        err.abs() < 3.0 * r.stderr && r.stderr < 0.1,
        "{err} (se {})",
        r.stderr
    );
}
