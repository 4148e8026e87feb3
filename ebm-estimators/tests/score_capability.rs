//! The score capability: the hand-written MLP's fused DSM pass
//! (`HandMlp`) against the tape's score capability
//! (`Autodiff::with_score`: dfdx differentiating the MLP's score ops),
//! the same loss and parameter gradient on the same noise; against
//! finite differences of its own loss; in f32 against f64; and whole runs
//! on the hand-written form (what `train` picks for an MLP) and on the
//! tape.

use dfdx::prelude::*;
use ebm_core::energies::Activation;
use ebm_core::{setup_rng, Points};
use ebm_estimators::capability::{
    Autodiff, CapabilityEngine, CapabilityObjective, EnergyCapability, HandMlp,
};
use ebm_estimators::models::MlpEnergy;
use ebm_estimators::objectives::Dsm;
use ebm_estimators::optim::OptimizerConfig;
use ebm_estimators::trainer::{run_engine, train, History, TrainConfig};
use proptest::prelude::*;
use rand::Rng;
use rand_distr::StandardNormal;

fn activation() -> impl Strategy<Value = Activation> {
    prop_oneof![
        Just(Activation::Silu),
        Just(Activation::Softplus),
        Just(Activation::Tanh)
    ]
}

fn batch(n: usize, d: usize, seed: u64) -> Points {
    let mut r = setup_rng(seed);
    Points::from_vec(
        (0..n * d)
            .map(|_| 2.0 * r.sample::<f64, _>(StandardNormal))
            .collect(),
        d,
    )
    .unwrap()
}

/// The DSM loss of `model` on `x` and its parameter gradient through the
/// capabilities, the noise drawn from `setup_rng(seed)`.
fn capability_loss_and_grads(
    model: &mut dyn EnergyCapability,
    x: &Points,
    sigmas: &[f64],
    seed: u64,
) -> (f64, Vec<Vec<f64>>) {
    let mut dsm = Dsm::multi(sigmas.to_vec()).unwrap();
    let mut g: Vec<Vec<f64>> = model.params().iter().map(|p| vec![0.0; p.len()]).collect();
    let loss = dsm.loss_grad(model, x, &mut setup_rng(seed), &mut g).unwrap();
    (loss, g)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    /// Same loss and gradient as dfdx's autodiff through the explicit
    /// score ops, to rounding (relative 1e-10 of the largest entry), for
    /// depths 1-3, every activation, one or several noise levels and
    /// batches that span one or two parts.
    #[test]
    fn hand_written_score_gradient_matches_the_tape(
        act in activation(),
        hidden in proptest::collection::vec(1usize..20, 0..3),
        n in 1usize..300,
        several: bool,
        seed in 0u64..1000,
    ) {
        let d = 2;
        let mut widths = vec![d];
        widths.extend(&hidden);
        widths.push(1);
        let m = MlpEnergy::<f64, Cpu>::new(&Cpu::default(), &widths, act, &mut setup_rng(seed)).unwrap();
        let x = batch(n, d, seed + 1);
        let sigmas = if several { vec![0.1, 0.5, 1.0] } else { vec![0.3] };
        let (want_loss, want) = capability_loss_and_grads(&mut Autodiff::with_score(m.clone()), &x, &sigmas, seed + 2);
        let (loss, got) = capability_loss_and_grads(&mut HandMlp::new(m.to_core()), &x, &sigmas, seed + 2);
        prop_assert!((loss - want_loss).abs() <= 1e-10 * want_loss.abs().max(1e-12), "loss {loss} vs {want_loss}");
        for (k, (g, w)) in got.iter().zip(&want).enumerate() {
            let scale = w.iter().fold(1e-12f64, |a, v| a.max(v.abs()));
            for (a, b) in g.iter().zip(w) {
                prop_assert!((a - b).abs() <= 1e-10 * scale, "param {k}: {a} vs {b}");
            }
        }
    }
}

/// Central differences of the fused loss itself: h = 1e-5 max(|theta|, 0.1)
/// gives truncation ~h^2 |L'''| ~ 1e-11 and rounding ~1e-15 |L| / h
/// ~ 1e-9 (the loss is computed to a few ulp), so 1e-6 of the largest
/// entry of that parameter's gradient is a wide bound. The noise is the
/// same at every evaluation (the same seed).
#[test]
fn hand_written_score_gradient_matches_finite_differences() {
    for act in [Activation::Silu, Activation::Softplus, Activation::Tanh] {
        let m = MlpEnergy::<f64, Cpu>::new(&Cpu::default(), &[2, 7, 5, 1], act, &mut setup_rng(3)).unwrap();
        let mut hand = HandMlp::new(m.to_core());
        let x = batch(40, 2, 4);
        let sigmas = [0.2, 0.7];
        let (_, g) = capability_loss_and_grads(&mut hand, &x, &sigmas, 5);
        let base = hand.params();
        for k in 0..g.len() {
            let scale = g[k].iter().fold(1e-9f64, |a, v| a.max(v.abs()));
            for i in 0..g[k].len() {
                let v = base[k][i];
                let h = 1e-5 * v.abs().max(0.1);
                let mut at = |value: f64| {
                    let mut p = base.clone();
                    p[k][i] = value;
                    hand.set_params(&p).unwrap();
                    capability_loss_and_grads(&mut hand, &x, &sigmas, 5).0
                };
                let fd = (at(v + h) - at(v - h)) / (2.0 * h);
                assert!(
                    (fd - g[k][i]).abs() <= 1e-6 * scale.max(fd.abs()),
                    "{act:?} param {k}[{i}]: {fd} vs {}",
                    g[k][i]
                );
            }
        }
        hand.set_params(&base).unwrap();
    }
}

/// The scores themselves: the hand-written MLP's and the tape's agree;
/// a model without a score is refused by DSM with an error naming what
/// is missing, and gradient buffers of the wrong layout are refused.
#[test]
fn scores_agree_and_bad_requests_are_refused() {
    let m =
        MlpEnergy::<f64, Cpu>::new(&Cpu::default(), &[3, 8, 1], Activation::Tanh, &mut setup_rng(2)).unwrap();
    let x = batch(20, 3, 1);
    let mut hand = HandMlp::new(m.to_core());
    let mut tape = Autodiff::with_score(m.clone());
    let a = hand.score().unwrap().scores(&x);
    let b = tape.score().unwrap().scores(&x);
    assert_eq!(a.len(), 60);
    for (u, v) in a.iter().zip(&b) {
        assert!((u - v).abs() < 1e-12 * (1.0 + v.abs()), "{u} vs {v}");
    }
    let mut energy_only = Autodiff::new(m);
    assert!(energy_only.score().is_none());
    let mut g: Vec<Vec<f64>> = energy_only.params().iter().map(|p| vec![0.0; p.len()]).collect();
    let err = Dsm::new(0.3)
        .unwrap()
        .loss_grad(&mut energy_only, &x, &mut setup_rng(0), &mut g)
        .unwrap_err();
    assert!(err.to_string().contains("score"), "{err}");
    let mut short = vec![vec![0.0; 24]];
    assert!(Dsm::new(0.3)
        .unwrap()
        .loss_grad(&mut hand, &x, &mut setup_rng(0), &mut short)
        .is_err());
    assert!(hand.add_weighted_energy_grad(&x, &[1.0; 20], &mut short).is_err());
}

/// A whole run on the hand-written form (what `train` picks for an MLP)
/// and the same run on the tape: the same noise and the same Adam
/// arithmetic, so the parameters agree to the rounding of the gradients.
#[test]
fn hand_written_and_tape_runs_agree() {
    let data = batch(500, 2, 9);
    let make = || {
        MlpEnergy::<f64, Cpu>::new(
            &Cpu::default(),
            &[2, 16, 16, 1],
            Activation::Silu,
            &mut setup_rng(1),
        )
        .unwrap()
    };
    let cfg = TrainConfig::steps(40, 64, 1e-2);
    let (mut a, b) = (make(), make());
    train(
        &mut a,
        &mut Dsm::new(0.3).unwrap(),
        &data,
        &cfg,
        &mut History::default(),
    )
    .unwrap();
    let mut dsm = Dsm::new(0.3).unwrap();
    let mut tape = Autodiff::with_score(b);
    let mut engine = CapabilityEngine::new(&mut tape, &mut dsm, OptimizerConfig::adam(1e-2)).unwrap();
    run_engine(&mut engine, &data, &cfg, &mut History::default(), None).unwrap();
    drop(engine);
    let (ca, cb) = (a.to_core(), tape.model.to_core());
    assert_ne!(ca, make().to_core(), "the run trained the model");
    for (la, lb) in ca.layers().iter().zip(cb.layers()) {
        for (x, y) in la.w.iter().chain(&la.b).zip(lb.w.iter().chain(&lb.b)) {
            assert!((x - y).abs() < 1e-8, "{x} vs {y}");
        }
    }
}

/// The f32 score pass (f32 products and buffers, f64 sums) gives the f64
/// gradient to f32 accuracy: each entry within 1e-4 of the largest entry
/// of its parameter (sums of 128 products of values ~1 lose ~1e-6).
#[test]
fn f32_score_pass_matches_f64() {
    for act in [Activation::Silu, Activation::Softplus, Activation::Tanh] {
        let m = MlpEnergy::<f64, Cpu>::new(&Cpu::default(), &[2, 32, 24, 1], act, &mut setup_rng(8)).unwrap();
        let x = batch(300, 2, 6);
        let (l64, g64) = capability_loss_and_grads(&mut HandMlp::new(m.to_core()), &x, &[0.3], 7);
        let (l32, g32) = capability_loss_and_grads(&mut HandMlp::in_f32(m.to_core()), &x, &[0.3], 7);
        assert!(
            (l64 - l32).abs() < 1e-5 * l64.abs(),
            "{act:?}: loss {l64} vs {l32}"
        );
        for (a, b) in g64.iter().zip(&g32) {
            let scale = a.iter().fold(1e-12f64, |s, v| s.max(v.abs()));
            for (x, y) in a.iter().zip(b) {
                assert!((x - y).abs() < 1e-4 * scale, "{act:?}: {x} vs {y}");
            }
        }
    }
}
