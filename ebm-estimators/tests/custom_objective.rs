//! The energy capability and an objective written against it alone
//! (`examples/custom_objective.rs`): the hand-written MLP's gradient of a
//! weighted sum of energies against finite differences and against the
//! dfdx tape; both models trained with the objective under the trainer;
//! bit-identical resume through the capability engine.

#[path = "../examples/custom_objective.rs"]
mod example;

use dfdx::prelude::*;
use ebm_core::Points;
use ebm_estimators::capability::{Autodiff, CapabilityEngine, EnergyCapability, HandMlp};
use ebm_estimators::checkpoint::TrainCheckpoint;
use ebm_estimators::optim::OptimizerConfig;
use ebm_estimators::trainer::{run_engine, Checkpoints, History, StopFlag, TrainConfig};
use ebm_estimators::EstimatorError;

/// Rows, and a weight per row, from a fixed stream.
fn batch_and_weights(n: usize) -> (Points, Vec<f64>) {
    let mut r = ebm_core::setup_rng(11);
    use rand::Rng;
    let x: Vec<f64> = (0..2 * n).map(|_| r.random::<f64>() * 6.0 - 3.0).collect();
    let w: Vec<f64> = (0..n).map(|_| r.random::<f64>() * 2.0 - 1.0).collect();
    (Points::from_vec(x, 2).unwrap(), w)
}

#[test]
fn hand_written_mlp_gradient_matches_finite_differences_and_the_tape() {
    let (_, mut hand, dfdx) = example::setup();
    let mut tape = Autodiff::new(dfdx);
    let (x, w) = batch_and_weights(37);
    let zeros = |m: &mut dyn EnergyCapability| -> Vec<Vec<f64>> {
        m.params().iter().map(|p| vec![0.0; p.len()]).collect()
    };
    let (mut gh, mut gt) = (zeros(&mut hand), zeros(&mut tape));
    hand.add_weighted_energy_grad(&x, &w, &mut gh).unwrap();
    tape.add_weighted_energy_grad(&x, &w, &mut gt).unwrap();
    // the same network, two implementations: agreement to rounding
    for (a, b) in gh.iter().flatten().zip(gt.iter().flatten()) {
        assert!((a - b).abs() <= 1e-10 * (1.0 + b.abs()), "{a} vs {b}");
    }
    for (a, b) in hand.energies(&x).iter().zip(tape.energies(&x)) {
        assert!((a - b).abs() <= 1e-12 * (1.0 + b.abs()), "{a} vs {b}");
    }
    // central differences of S = sum_i w_i E(x_i) in a spread of
    // parameters of every tensor (step 1e-5: truncation ~1e-10, rounding
    // ~1e-11 relative to S)
    let weighted =
        |m: &mut dyn EnergyCapability| -> f64 { m.energies(&x).iter().zip(&w).map(|(e, wi)| e * wi).sum() };
    let base = hand.params();
    for (t, tensor) in base.iter().enumerate() {
        for k in (0..tensor.len()).step_by(tensor.len().div_ceil(5)) {
            let h = 1e-5;
            let mut plus = base.clone();
            plus[t][k] += h;
            hand.set_params(&plus).unwrap();
            let up = weighted(&mut hand);
            let mut minus = base.clone();
            minus[t][k] -= h;
            hand.set_params(&minus).unwrap();
            let down = weighted(&mut hand);
            let fd = (up - down) / (2.0 * h);
            assert!(
                (fd - gh[t][k]).abs() < 1e-6 * (1.0 + fd.abs()),
                "tensor {t}[{k}]: {fd} vs {}",
                gh[t][k]
            );
        }
    }
    hand.set_params(&base).unwrap();
    // shapes and bad input
    assert_eq!(hand.param_shapes(), tape.param_shapes());
    assert!(hand.add_weighted_energy_grad(&x, &w[1..], &mut gh).is_err());
    let mut bad = base.clone();
    bad[0][0] = f64::NAN;
    assert!(hand.set_params(&bad).is_err());
    assert_eq!(hand.params(), base, "a refused update leaves the model as it was");
}

/// The hand-written MLP steps its parameters in a copy kept between
/// updates: every update starts from the current parameters, also after
/// `set_params` and after a refused update (which changes nothing).
#[test]
fn hand_written_mlp_updates_start_from_the_current_parameters() {
    let (_, mut hand, _) = example::setup();
    let base = hand.params();
    let shift = |by: f64| move |p: &mut [Vec<f64>]| p.iter_mut().flatten().for_each(|v| *v += by);
    let shifted = |by: &[f64]| -> Vec<Vec<f64>> {
        let mut p = base.clone();
        by.iter().for_each(|&b| shift(b)(&mut p));
        p
    };
    hand.update_params(&mut shift(0.5)).unwrap();
    assert_eq!(hand.params(), shifted(&[0.5]));
    hand.update_params(&mut shift(0.25)).unwrap();
    assert_eq!(
        hand.params(),
        shifted(&[0.5, 0.25]),
        "the second update starts from the first"
    );
    hand.set_params(&base).unwrap();
    hand.update_params(&mut shift(0.5)).unwrap();
    assert_eq!(
        hand.params(),
        shifted(&[0.5]),
        "an update starts from set_params' values"
    );
    let before = hand.params();
    let poison = &mut |p: &mut [Vec<f64>]| p[1][0] = f64::INFINITY;
    assert!(hand.update_params(poison).is_err());
    assert_eq!(hand.params(), before, "a refused update changes nothing");
    let mut seen = Vec::new();
    hand.update_params(&mut |p: &mut [Vec<f64>]| seen = p.to_vec())
        .unwrap();
    assert_eq!(
        seen, before,
        "and the next update starts from the kept parameters"
    );
}

#[test]
fn custom_objective_trains_the_hand_written_mlp_and_a_dfdx_model() {
    let (data, mut hand, dfdx) = example::setup();
    let mut tape = Autodiff::new(dfdx);
    let (c0h, c0t) = (
        example::contrast(&mut hand, &data),
        example::contrast(&mut tape, &data),
    );
    let lh = example::fit(&mut hand, &data, 300);
    let lt = example::fit(&mut tape, &data, 300);
    let (ch, ct) = (
        example::contrast(&mut hand, &data),
        example::contrast(&mut tape, &data),
    );
    // untrained, the energy barely tells the data from its surroundings;
    // trained, the data sit lower by a margin (the noise 0.5 and the
    // penalty 0.1 balance at a contrast near -0.5)
    assert!(c0h.abs() < 0.05 && c0t.abs() < 0.05, "{c0h} {c0t}");
    assert!(
        ch < -0.3 && ct < -0.3,
        "contrast {ch} (hand-written), {ct} (dfdx)"
    );
    // the two implementations of one network take the same steps up to
    // rounding
    let mean_tail = |l: &[f64]| l[l.len() - 50..].iter().sum::<f64>() / 50.0;
    assert!(
        (mean_tail(&lh) - mean_tail(&lt)).abs() < 1e-6,
        "{} vs {}",
        mean_tail(&lh),
        mean_tail(&lt)
    );
    assert!(
        mean_tail(&lh) < lh[0] - 0.1,
        "the loss fell: {} -> {}",
        lh[0],
        mean_tail(&lh)
    );
}

#[test]
fn capability_engine_resumes_bit_identically() {
    let (data, start, _) = example::setup();
    let settings = || example::EnergyDifference {
        noise: 0.5,
        penalty: 0.1,
    };
    let cfg = TrainConfig::steps(40, 64, 1e-2);
    let opt = OptimizerConfig::adam(1e-2);
    // one run of 40 steps
    let mut full = start.clone();
    let mut o = settings();
    let mut e = CapabilityEngine::new(&mut full, &mut o, opt).unwrap();
    run_engine(&mut e, &data, &cfg, &mut History::default(), None).unwrap();
    // the same run stopped after its first step, checkpointed, resumed
    let dir = std::env::temp_dir().join(format!("ebm-cap-resume-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("run.ckpt");
    let stop = StopFlag::new();
    stop.raise();
    let mut cut_cfg = cfg.clone();
    cut_cfg.stop = Some(stop);
    cut_cfg.checkpoints = Some(Checkpoints {
        path: path.clone(),
        every: 100,
        model: None,
    });
    let mut cut = start.clone();
    let mut o = settings();
    let mut e = CapabilityEngine::new(&mut cut, &mut o, opt).unwrap();
    let err = run_engine(&mut e, &data, &cut_cfg, &mut History::default(), None).unwrap_err();
    assert!(
        matches!(err, EstimatorError::Interrupted { step: 1, .. }),
        "{err}"
    );
    let ck = TrainCheckpoint::read(&path).unwrap();
    let mut resumed = start.clone();
    let mut o = settings();
    let mut e = CapabilityEngine::new(&mut resumed, &mut o, opt).unwrap();
    run_engine(&mut e, &data, &cfg, &mut History::default(), Some(&ck)).unwrap();
    let bits = |m: &mut HandMlp| -> Vec<u64> { m.params().into_iter().flatten().map(f64::to_bits).collect() };
    assert_eq!(bits(&mut full), bits(&mut resumed));
    // another objective setting is refused
    let mut o = example::EnergyDifference {
        noise: 0.7,
        penalty: 0.1,
    };
    let mut other = start.clone();
    let mut e = CapabilityEngine::new(&mut other, &mut o, opt).unwrap();
    let err = run_engine(&mut e, &data, &cfg, &mut History::default(), Some(&ck)).unwrap_err();
    assert!(err.to_string().contains("noise 0.5"), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
    let _ = Cpu::default();
}
