//! A convolutional energy on the 8x8 digits, trained three ways: short-run
//! maximum likelihood (Nijkamp et al. 2019), the same with a replay buffer
//! (Du and Mordatch 2019), and denoising score matching; each judged by
//! the MMD between its samples and held-out digits, beside the untrained
//! network's (the procedure of `tests/conv_digits.rs`).
//!
//! ```text
//! cargo run --release -p ebm-estimators --example conv_digits [-- STEPS [OUT_DIR]]
//! ```
//!
//! With OUT_DIR, the samples and the held-out digits are written there as
//! .npy files; `ebm plot images` draws them side by side.

use dfdx::prelude::*;
use ebm_core::energies::Activation;
use ebm_core::{chain_rng, Points};
use ebm_estimators::datasets::digits;
use ebm_estimators::eval::mmd::mmd_test;
use ebm_estimators::models::ConvEnergy;
use ebm_estimators::objectives::{ChainNegatives, Dsm, Init, MaxLikelihood, NegativeSampler, Negatives};
use ebm_estimators::trainer::{train, History, TrainConfig};
use ebm_estimators::TrainableEnergy;
use ebm_samplers::{Target, Ula};

/// The network: 8 filters 3x3 (padding 1), then 16 with stride 2 (8x8 ->
/// 4x4), SiLU after each, a linear layer to E.
const LAYERS: [(usize, usize, usize, usize); 2] = [(8, 3, 1, 1), (16, 3, 2, 1)];

/// The digits with pixels in [0, 1]: the first 1,500 to train on, the
/// last 297 held out.
fn split() -> (Points, Points) {
    let (x, _) = digits();
    let scaled: Vec<f64> = x.as_slice().iter().map(|v| v / 16.0).collect();
    let cut = 1500 * 64;
    (
        Points::from_vec(scaled[..cut].to_vec(), 64).unwrap(),
        Points::from_vec(scaled[cut..].to_vec(), 64).unwrap(),
    )
}

/// `n` samples: `k` Langevin steps (eps, noise) from uniform noise on
/// the data's box.
fn samples(model: &ConvEnergy<f64, Cpu>, data: &Points, n: usize, k: usize, eps: f64, noise: f64) -> Points {
    let scheme = Negatives::ShortRun {
        steps: k,
        init: Init::Uniform,
    };
    let mut sampler = ChainNegatives::new(Ula::with_noise(eps, noise).unwrap(), scheme).unwrap();
    sampler.prepare(data, 9).unwrap();
    let batch = Points::from_vec(vec![0.0; n * 64], 64).unwrap();
    sampler
        .negatives(Target::Continuous(model), &batch, &mut chain_rng(9, 0))
        .unwrap()
}

/// Tweedie's denoising step x + sigma^2 s(x) = x - sigma^2 grad E(x):
/// the mean clean image given a sample of the sigma-smoothed density that
/// DSM fits.
fn denoise(model: &ConvEnergy<f64, Cpu>, x: &Points, sigma: f64) -> Points {
    use ebm_core::Energy;
    let mut g = vec![0.0; x.as_slice().len()];
    let mut e = vec![0.0; x.len()];
    model.energy_grad_batch(x.as_slice(), &mut g, &mut e);
    let out = x
        .as_slice()
        .iter()
        .zip(&g)
        .map(|(v, d)| v - sigma * sigma * d)
        .collect();
    Points::from_vec(out, x.dim()).unwrap()
}

/// Maximum likelihood with chain negatives under `scheme` (ULA with the
/// small noise of short-run training), the energy regulariser 0.1.
fn max_likelihood(model: &mut ConvEnergy<f64, Cpu>, scheme: Negatives, data: &Points, cfg: &TrainConfig) {
    let negatives = ChainNegatives::new(Ula::with_noise(EPS, NOISE).unwrap(), scheme).unwrap();
    let mut ml = MaxLikelihood::new(negatives).with_regulariser(0.1).unwrap();
    train(model, &mut ml, data, cfg, &mut History::default()).unwrap();
}

/// The Langevin step and noise of the maximum-likelihood chains.
const EPS: f64 = 0.01;
const NOISE: f64 = 0.005;

fn mmd(x: &Points, y: &Points) -> f64 {
    mmd_test(x, y, None, 0, 0).unwrap().mmd2
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let steps: usize = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(300);
    let out = args.get(2);
    let (train_set, held_out) = split();
    let dev = Cpu::default();
    let mut rng = ebm_core::setup_rng(1);
    let initial = ConvEnergy::<f64, Cpu>::new(&dev, [1, 8, 8], &LAYERS, Activation::Silu, &mut rng).unwrap();
    let mut cfg = TrainConfig::steps(steps, 64, 2e-3);
    cfg.seed = 2;
    let before = samples(&initial, &train_set, 297, 20, EPS, NOISE);
    println!(
        "untrained network: MMD^2 to held-out digits {:.4}",
        mmd(&before, &held_out)
    );

    // short-run MLE (Nijkamp et al. 2019): K = 20 Langevin steps from
    // uniform noise each step, nothing kept; that chain is the sampler
    let mut short_run = initial.clone();
    let scheme = Negatives::ShortRun {
        steps: 20,
        init: Init::Uniform,
    };
    max_likelihood(&mut short_run, scheme, &train_set, &cfg);
    let short_run_samples = samples(&short_run, &train_set, 297, 20, EPS, NOISE);
    println!(
        "short-run MLE, {steps} steps: MMD^2 {:.4}",
        mmd(&short_run_samples, &held_out)
    );

    // the replay buffer (Du and Mordatch 2019): chains resume from a buffer
    // of past negatives, 5% restarted from noise; sampled by chains three
    // times as long from noise
    let mut replay = initial.clone();
    let scheme = Negatives::Replay {
        steps: 20,
        capacity: 10_000,
        reinit: 0.05,
        init: Init::Uniform,
    };
    max_likelihood(&mut replay, scheme, &train_set, &cfg);
    let replay_samples = samples(&replay, &train_set, 297, 60, EPS, NOISE);
    println!(
        "short-run MLE with a replay buffer, {steps} steps: MMD^2 {:.4}",
        mmd(&replay_samples, &held_out)
    );

    // denoising score matching at sigma = 0.1; samples by Langevin on the
    // smoothed density, then Tweedie's step to a clean image
    let mut dsm = initial.clone();
    train(
        &mut dsm,
        &mut Dsm::new(0.1).unwrap(),
        &train_set,
        &cfg,
        &mut History::default(),
    )
    .unwrap();
    let noisy = samples(&dsm, &train_set, 297, 200, 1e-3, (2.0f64 * 1e-3).sqrt());
    let dsm_samples = denoise(&dsm, &noisy, 0.1);
    println!(
        "denoising score matching, {steps} steps: MMD^2 {:.4}",
        mmd(&dsm_samples, &held_out)
    );

    if let Some(dir) = out {
        let dir = std::path::Path::new(dir);
        std::fs::create_dir_all(dir).unwrap();
        for (name, p) in [
            ("held_out", &held_out),
            ("short_run_samples", &short_run_samples),
            ("replay_samples", &replay_samples),
            ("dsm_samples", &dsm_samples),
            ("untrained_samples", &before),
        ] {
            std::fs::write(dir.join(format!("{name}.npy")), npy(p)).unwrap();
        }
        for (name, m) in [("short_run", &short_run), ("replay", &replay), ("dsm", &dsm)] {
            std::fs::write(dir.join(format!("{name}.json")), m.to_spec().to_json()).unwrap();
        }
        println!("written to {}", dir.display());
    }
}

/// A float64 .npy file of shape (n, d).
fn npy(p: &Points) -> Vec<u8> {
    let header = format!(
        "{{'descr': '<f8', 'fortran_order': False, 'shape': ({}, {}), }}",
        p.len(),
        p.dim()
    );
    let pad = 64 - (10 + header.len() + 1) % 64;
    let mut out = b"\x93NUMPY\x01\x00".to_vec();
    out.extend_from_slice(&((header.len() + pad + 1) as u16).to_le_bytes());
    out.extend_from_slice(header.as_bytes());
    out.extend(std::iter::repeat_n(b' ', pad));
    out.push(b'\n');
    for v in p.as_slice() {
        out.extend_from_slice(&v.to_le_bytes());
    }
    out
}
