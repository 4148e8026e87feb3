//! PCD with block-Gibbs negatives trains a Gaussian-Bernoulli RBM: its
//! held-out log-likelihood, exact by enumerating the hidden layer,
//! improves; and the capability's gradient against finite differences.

use ebm_core::energies::GbRbm;
use ebm_core::{setup_rng, Energy, Points};
use ebm_estimators::capability::{CapabilityEngine, EnergyCapability, HandGbRbm};
use ebm_estimators::objectives::{ChainNegatives, MaxLikelihood, Negatives};
use ebm_estimators::trainer::{run_engine, TrainConfig};
use ebm_samplers::gibbs::Gibbs;
use rand::Rng;

/// The data's model: 4 visibles (sigma 1), 3 hiddens, strong weights:
/// a mixture of 8 Gaussians of unit variance.
fn truth() -> GbRbm {
    GbRbm::new(
        4,
        3,
        vec![2.0, -1.5, 0.0, 0.0, 1.8, 1.2, -1.6, 0.0, 1.5, 0.3, -0.4, 2.0],
        vec![0.5, -0.5, 0.0, 0.3],
        vec![-1.0, -0.5, -1.5],
        vec![1.0; 4],
    )
    .unwrap()
}

/// `n` exact draws: h from p(h) by its 8 enumerated probabilities, then
/// v | h ~ N(b + sigma W h, sigma^2).
fn draws(m: &GbRbm, n: usize, seed: u64) -> Points {
    let (nv, nh) = (m.n_visible(), m.n_hidden());
    let (w, b, c) = (m.weights(), m.visible_bias(), m.hidden_bias());
    let hs: Vec<Vec<f64>> = (0..1u32 << nh)
        .map(|k| (0..nh).map(|j| (k >> j & 1) as f64).collect())
        .collect();
    let logp: Vec<f64> = hs
        .iter()
        .map(|h| {
            let u: Vec<f64> = (0..nv)
                .map(|i| (0..nh).map(|j| w[i * nh + j] * h[j]).sum())
                .collect();
            c.iter().zip(h).map(|(c, h)| c * h).sum::<f64>()
                + (0..nv).map(|i| b[i] * u[i] + 0.5 * u[i] * u[i]).sum::<f64>()
        })
        .collect();
    let top = logp.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
    let p: Vec<f64> = logp.iter().map(|l| (l - top).exp()).collect();
    let total: f64 = p.iter().sum();
    let mut r = setup_rng(seed);
    let mut x = Vec::with_capacity(n * nv);
    for _ in 0..n {
        let mut u = r.random::<f64>() * total;
        let mut k = 0;
        while k + 1 < p.len() && u >= p[k] {
            u -= p[k];
            k += 1;
        }
        let mut mean = vec![0.0; nv];
        m.visible_mean(&hs[k], &mut mean);
        for (mu, s) in mean.iter().zip(m.sigma()) {
            let z = ebm_core::normal::pair(r.random(), r.random()).0;
            x.push(mu + s * z);
        }
    }
    Points::from_vec(x, nv).unwrap()
}

fn mean_log_likelihood(m: &GbRbm, x: &Points) -> f64 {
    let log_z = m.log_partition().unwrap();
    x.rows().map(|v| -m.energy(v) - log_z).sum::<f64>() / x.len() as f64
}

/// From a small random start, 3,000 steps of PCD-1 (64 persistent chains,
/// block Gibbs) on 5,000 exact draws raise the held-out mean
/// log-likelihood (2,000 other draws; exact log Z) by more than 1 nat and
/// to within 0.25 nats of the true model's. Observed: from -11.63 to
/// -6.77 against the truth's -6.71.
#[test]
fn pcd_with_block_gibbs_improves_held_out_log_likelihood() {
    let m = truth();
    let (train, test) = (draws(&m, 5000, 1), draws(&m, 2000, 2));
    let mut r = setup_rng(3);
    let w0: Vec<f64> = (0..12).map(|_| 0.1 * (r.random::<f64>() - 0.5)).collect();
    let start = GbRbm::new(4, 3, w0, vec![0.0; 4], vec![0.0; 3], vec![1.0; 4]).unwrap();
    let before = mean_log_likelihood(&start, &test);
    let mut model = HandGbRbm::new(start);
    let sampler = ChainNegatives::new(Gibbs::block(), Negatives::Pcd { steps: 1, chains: 64 }).unwrap();
    let mut objective = MaxLikelihood::new(sampler);
    let cfg = TrainConfig::steps(3000, 64, 0.01);
    {
        let mut engine = CapabilityEngine::new(&mut model, &mut objective, cfg.optimizer).unwrap();
        run_engine(&mut engine, &train, &cfg, &mut |_: &_| {}, None).unwrap();
    }
    let after = mean_log_likelihood(model.model(), &test);
    let best = mean_log_likelihood(&m, &test);
    eprintln!("held-out mean log-likelihood: start {before:.3}, trained {after:.3}, truth {best:.3}");
    assert!(after > before + 1.0, "{before} -> {after}");
    assert!(after > best - 0.25, "{after} vs the truth's {best}");
}

/// The capability's parameter gradient of a weighted sum of free energies
/// against central differences.
#[test]
fn gradient_matches_finite_differences() {
    let m = truth();
    let x = draws(&m, 5, 4);
    let w = [0.5, -1.0, 2.0, 0.3, -0.7];
    let mut hand = HandGbRbm::new(m);
    let shapes = hand.param_shapes();
    let mut g: Vec<Vec<f64>> = shapes.iter().map(|s| vec![0.0; s.iter().product()]).collect();
    hand.add_weighted_energy_grad(&x, &w, &mut g).unwrap();
    let base = hand.params();
    for t in 0..3 {
        for k in 0..base[t].len() {
            let mut at = |d: f64| {
                let mut p = base.clone();
                p[t][k] += d;
                hand.set_params(&p).unwrap();
                hand.energies(&x).iter().zip(&w).map(|(e, w)| e * w).sum::<f64>()
            };
            let fd = (at(1e-5) - at(-1e-5)) / 2e-5;
            assert!(
                (fd - g[t][k]).abs() < 1e-6,
                "tensor {t}[{k}]: {fd} vs {}",
                g[t][k]
            );
        }
    }
}
