//! The hand-written RBM (`HandRbm`): its free energies and the gradient of
//! a weighted sum of them against the tape (`Autodiff` on `TrainableRbm`)
//! and against finite differences; `train` runs maximum likelihood with
//! Gibbs negatives and Adam on it (bit for bit what the capability engine
//! does by hand), while PCD with SGD keeps its closed-form host step.

use dfdx::prelude::*;
use ebm_core::{setup_rng, Points};
use ebm_estimators::capability::{CapabilityEngine, EnergyCapability, HandRbm};
use ebm_estimators::datasets::digits_binarized;
use ebm_estimators::models::TrainableRbm;
use ebm_estimators::objectives::{GibbsNegatives, MaxLikelihood, Negatives};
use ebm_estimators::optim::OptimizerConfig;
use ebm_estimators::trainer::{run_engine, train, History, TrainConfig};
use ebm_estimators::TrainableEnergy;
use rand::Rng;

fn rbm() -> TrainableRbm<f64, Cpu> {
    TrainableRbm::<f64, Cpu>::new(&Cpu::default(), 12, 5, 0.5, &mut setup_rng(3)).unwrap()
}

/// Random bits and random weights of both signs.
fn bits_and_weights(n: usize, d: usize) -> (Points, Vec<f64>) {
    let mut r = setup_rng(8);
    let x: Vec<f64> = (0..n * d).map(|_| r.random::<bool>() as u8 as f64).collect();
    let w: Vec<f64> = (0..n).map(|_| r.random::<f64>() * 2.0 - 1.0).collect();
    (Points::from_vec(x, d).unwrap(), w)
}

#[test]
fn hand_written_rbm_matches_the_tape_and_finite_differences() {
    let model = rbm();
    let mut hand = HandRbm::new(model.to_core());
    let mut tape = model.autodiff().unwrap();
    let (x, w) = bits_and_weights(30, 12);
    for (a, b) in hand.energies(&x).iter().zip(tape.energies(&x)) {
        assert!((a - b).abs() < 1e-12 * (1.0 + b.abs()), "{a} vs {b}");
    }
    let zeros = |m: &mut dyn EnergyCapability| -> Vec<Vec<f64>> {
        m.params().iter().map(|p| vec![0.0; p.len()]).collect()
    };
    let (mut gh, mut gt) = (zeros(&mut hand), zeros(&mut *tape));
    hand.add_weighted_energy_grad(&x, &w, &mut gh).unwrap();
    tape.add_weighted_energy_grad(&x, &w, &mut gt).unwrap();
    assert_eq!(hand.param_shapes(), tape.param_shapes());
    for (a, b) in gh.iter().flatten().zip(gt.iter().flatten()) {
        assert!((a - b).abs() < 1e-12 * (1.0 + b.abs()), "{a} vs {b}");
    }
    // central differences of S = sum_i w_i F(v_i) (step 1e-6: truncation
    // ~1e-12, rounding ~1e-10 relative to S ~ 10)
    let base = hand.params();
    let weighted = |m: &mut HandRbm| -> f64 { m.energies(&x).iter().zip(&w).map(|(e, wi)| e * wi).sum() };
    for (t, tensor) in base.iter().enumerate() {
        for k in (0..tensor.len()).step_by(tensor.len().div_ceil(6)) {
            let h = 1e-6;
            let mut at = |d: f64| {
                let mut p = base.clone();
                p[t][k] += d;
                hand.set_params(&p).unwrap();
                weighted(&mut hand)
            };
            let fd = (at(h) - at(-h)) / (2.0 * h);
            assert!(
                (fd - gh[t][k]).abs() < 1e-6 * (1.0 + fd.abs()),
                "tensor {t}[{k}]: {fd} vs {}",
                gh[t][k]
            );
        }
    }
    hand.set_params(&base).unwrap();
    // bad input: an error, and a refused update leaves the model
    assert!(hand.add_weighted_energy_grad(&x, &w[1..], &mut gh).is_err());
    let mut bad = base.clone();
    bad[2][0] = f64::INFINITY;
    assert!(hand.set_params(&bad).is_err());
    assert!(hand.set_params(&base[..2]).is_err());
    assert_eq!(hand.params(), base);
}

/// CD-1 with Gibbs negatives and Adam: `train` takes the hand-written
/// form, bit for bit the capability engine on a `HandRbm`.
#[test]
fn train_takes_the_hand_written_rbm() {
    let digits = digits_binarized();
    let model = || TrainableRbm::<f64, Cpu>::new(&Cpu::default(), 64, 16, 0.01, &mut setup_rng(0)).unwrap();
    let cd = || MaxLikelihood::new(GibbsNegatives::new(Negatives::Cd { steps: 1 }).unwrap());
    let cfg = TrainConfig::steps(40, 20, 1e-2);
    let mut trained = model();
    train(&mut trained, &mut cd(), &digits, &cfg, &mut History::default()).unwrap();
    let mut hand = HandRbm::new(model().to_core());
    let mut objective = cd();
    let mut engine = CapabilityEngine::new(&mut hand, &mut objective, OptimizerConfig::adam(1e-2)).unwrap();
    run_engine(&mut engine, &digits, &cfg, &mut History::default(), None).unwrap();
    assert_ne!(trained.to_core(), model().to_core(), "training moved the model");
    assert_eq!(&trained.to_core(), hand.rbm());
}
