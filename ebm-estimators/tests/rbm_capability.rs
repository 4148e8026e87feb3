//! The hand-written RBM (`HandRbm`): its free energies and the gradient of
//! a weighted sum of them against the tape (`Autodiff` on `TrainableRbm`)
//! and against finite differences; `train` runs maximum likelihood with
//! Gibbs negatives and Adam on it (bit for bit what the capability engine
//! does by hand), while PCD with plain SGD runs the model's closed-form
//! step (`PcdStep`, the loops of `rbm_pcd`) through the same engine.

use dfdx::prelude::*;
use ebm_core::{setup_rng, Points};
use ebm_estimators::capability::{CapabilityEngine, EnergyCapability, HandRbm};
use ebm_estimators::datasets::digits_binarized;
use ebm_estimators::engine::StepEngine;
use ebm_estimators::models::TrainableRbm;
use ebm_estimators::objectives::{GibbsNegatives, MaxLikelihood, Negatives};
use ebm_estimators::optim::OptimizerConfig;
use ebm_estimators::rbm_pcd::{RbmPcd, RbmPcdConfig};
use ebm_estimators::trainer::{run_engine, train, History, TrainConfig};
use ebm_estimators::Real;
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

/// PCD-k with plain SGD: the one capability engine hands the step to the
/// model's closed-form `PcdStep`, bit for bit `RbmPcd` on the same
/// batches (f64, and f32 with `HandRbm::in_f32`), with its chains in the
/// checkpoint state; momentum or Adam take the objective's gradient and
/// the optimizer instead.
#[test]
fn pcd_with_plain_sgd_takes_the_models_closed_form_step() {
    closed_form_step_is_rbm_pcd::<f64>();
    closed_form_step_is_rbm_pcd::<f32>();
    let pcd = || MaxLikelihood::new(GibbsNegatives::new(Negatives::Pcd { steps: 1, chains: 10 }).unwrap());
    for (opt, closed) in [
        (
            OptimizerConfig::Sgd {
                lr: 0.05,
                momentum: 0.0,
            },
            true,
        ),
        (
            OptimizerConfig::Sgd {
                lr: 0.05,
                momentum: 0.5,
            },
            false,
        ),
        (OptimizerConfig::adam(0.05), false),
    ] {
        let mut hand = HandRbm::new(rbm_of(64, 16));
        let mut objective = pcd();
        let engine = CapabilityEngine::new(&mut hand, &mut objective, opt).unwrap();
        assert_eq!(engine.is_closed_form(), closed, "{opt:?}");
        assert_eq!(
            engine.objective_name(),
            if closed { "pcd-gibbs-host" } else { "pcd-gibbs" }
        );
    }
    // an energy regulariser is not the closed form
    let mut hand = HandRbm::new(rbm_of(64, 16));
    let mut objective = pcd().with_regulariser(0.1).unwrap();
    let engine = CapabilityEngine::new(
        &mut hand,
        &mut objective,
        OptimizerConfig::Sgd {
            lr: 0.05,
            momentum: 0.0,
        },
    )
    .unwrap();
    assert!(!engine.is_closed_form());
}

fn rbm_of(nv: usize, nh: usize) -> ebm_core::energies::Rbm {
    TrainableRbm::<f64, Cpu>::new(&Cpu::default(), nv, nh, 0.1, &mut setup_rng(5))
        .unwrap()
        .to_core()
}

fn closed_form_step_is_rbm_pcd<F: Real>() {
    let digits = digits_binarized();
    let start = rbm_of(64, 16);
    let (lr, seed) = (0.05, 7);
    let mut hand = if F::IS_F32 {
        HandRbm::in_f32(start.clone())
    } else {
        HandRbm::new(start.clone())
    };
    let mut objective =
        MaxLikelihood::new(GibbsNegatives::new(Negatives::Pcd { steps: 2, chains: 6 }).unwrap());
    let mut engine = CapabilityEngine::new(
        &mut hand,
        &mut objective,
        OptimizerConfig::Sgd { lr, momentum: 0.0 },
    )
    .unwrap();
    let mut direct = RbmPcd::<F>::new(
        &start,
        &RbmPcdConfig {
            lr,
            chains: 6,
            sweeps: 2,
            seed,
        },
    )
    .unwrap();
    engine.prepare(&digits, seed).unwrap();
    let mut rng = setup_rng(0);
    for s in 0..20 {
        let rows: Vec<usize> = (0..10).map(|r| (s * 10 + r) % digits.len()).collect();
        let batch = ebm_estimators::trainer::gather(&digits, &rows);
        let out = engine.step(&batch, &mut rng).unwrap();
        let loss = direct.step(batch.as_slice()).unwrap();
        assert!(out.applied);
        assert_eq!(out.loss.to_bits(), loss.to_bits(), "step {s}");
        assert_eq!(out.grad_norm.to_bits(), direct.last_grad_norm().to_bits());
    }
    let (params, opt, chains) = engine.snapshot().unwrap();
    let (w, b, c) = direct.params();
    let f64s = |v: &[F]| v.iter().map(|x| x.f64()).collect::<Vec<f64>>();
    assert_eq!(params, vec![f64s(w), f64s(b), f64s(c)]);
    assert_eq!(opt.steps, 20);
    assert_eq!(chains.chains, direct.chains().hidden);
    assert_eq!(chains.rngs, direct.chains().rngs);
    assert_eq!(engine.model_spec(), ebm_core::EnergySpec::from(&direct.rbm()));
}
