//! The hand-written Gaussian family (`HandGaussian`) against the tape
//! (`Autodiff::with_score` on `GaussianEnergy`): energies, scores, the
//! gradient of a weighted sum of energies, and the DSM gradient through
//! the score capability; `train` runs on it (bit for bit the capability
//! engine driven by hand).

use dfdx::prelude::*;
use ebm_core::{setup_rng, ExactSample, Points};
use ebm_estimators::capability::{CapabilityEngine, CapabilityObjective, EnergyCapability, HandGaussian};
use ebm_estimators::models::GaussianEnergy;
use ebm_estimators::objectives::{Dsm, Nce};
use ebm_estimators::optim::OptimizerConfig;
use ebm_estimators::trainer::{run_engine, train, History, TrainConfig};
use ebm_estimators::TrainableEnergy;
use rand::Rng;

/// A 3-D member of the family away from the symmetric start: a mean,
/// log-diagonal and lower entries of both signs (and junk above the
/// diagonal, which the family ignores).
fn model() -> GaussianEnergy<f64, Cpu> {
    let mut g = GaussianEnergy::<f64, Cpu>::standard(&Cpu::default(), 3);
    let mut r = setup_rng(5);
    for p in g.params_mut().iter_mut() {
        let v: Vec<f64> = (0..p.len()).map(|_| r.random::<f64>() - 0.5).collect();
        p.set_values(&v).unwrap();
    }
    g
}

fn rows(n: usize) -> (Points, Vec<f64>) {
    let mut r = setup_rng(6);
    let x: Vec<f64> = (0..3 * n).map(|_| 3.0 * r.random::<f64>() - 1.5).collect();
    let w: Vec<f64> = (0..n).map(|_| r.random::<f64>() * 2.0 - 1.0).collect();
    (Points::from_vec(x, 3).unwrap(), w)
}

fn close(a: &[f64], b: &[f64], what: &str) {
    let scale = b.iter().fold(1e-12f64, |s, v| s.max(v.abs()));
    for (x, y) in a.iter().zip(b) {
        assert!((x - y).abs() <= 1e-12 * scale.max(1.0), "{what}: {x} vs {y}");
    }
}

#[test]
fn hand_written_gaussian_matches_the_tape() {
    let m = model();
    let mut hand = m.hand_written().unwrap();
    let mut tape = m.autodiff().unwrap();
    let (x, w) = rows(25);
    assert_eq!(hand.param_shapes(), tape.param_shapes());
    assert_eq!(hand.params(), tape.params());
    close(&hand.energies(&x), &tape.energies(&x), "energies");
    close(
        &hand.score().unwrap().scores(&x),
        &tape.score().unwrap().scores(&x),
        "scores",
    );
    let zeros = |m: &mut dyn EnergyCapability| -> Vec<Vec<f64>> {
        m.params().iter().map(|p| vec![0.0; p.len()]).collect()
    };
    let (mut gh, mut gt) = (zeros(&mut *hand), zeros(&mut *tape));
    hand.add_weighted_energy_grad(&x, &w, &mut gh).unwrap();
    tape.add_weighted_energy_grad(&x, &w, &mut gt).unwrap();
    for (a, b) in gh.iter().zip(&gt) {
        close(a, b, "energy gradient");
    }
    // DSM through the score capability, the same noise on both
    for sigmas in [vec![0.3], vec![0.2, 0.7]] {
        let (mut gh, mut gt) = (zeros(&mut *hand), zeros(&mut *tape));
        let lh = Dsm::multi(sigmas.clone())
            .unwrap()
            .loss_grad(&mut *hand, &x, &mut setup_rng(1), &mut gh)
            .unwrap();
        let lt = Dsm::multi(sigmas)
            .unwrap()
            .loss_grad(&mut *tape, &x, &mut setup_rng(1), &mut gt)
            .unwrap();
        assert!((lh - lt).abs() < 1e-12 * lt.abs(), "{lh} vs {lt}");
        for (a, b) in gh.iter().zip(&gt) {
            close(a, b, "DSM gradient");
        }
    }
    // the sampling target is the same Gaussian
    let mut h = HandGaussian::new(&tape.params()).unwrap();
    let g = h.gaussian().clone();
    close(g.mean(), &m.mean(), "mean");
    close(g.precision(), &m.precision(), "precision");
    // an overflowing diagonal is refused, the model kept
    let mut bad = h.params();
    bad[1][0] = 800.0;
    assert!(h.set_params(&bad).is_err());
    assert!(h.set_params(&bad[..2]).is_err());
    assert_eq!(h.params(), tape.params());
}

/// NCE with Adam: `train` takes the hand-written form, bit for bit the
/// capability engine on a `HandGaussian`.
#[test]
fn train_takes_the_hand_written_gaussian() {
    let truth = ebm_core::energies::Gaussian::from_covariance(
        vec![1.0, -1.0, 0.5],
        &[1.0, 0.3, 0.0, 0.3, 0.8, 0.1, 0.0, 0.1, 0.5],
    )
    .unwrap();
    let mut r = setup_rng(2);
    let mut x = vec![0.0; 3 * 1000];
    x.chunks_exact_mut(3)
        .for_each(|row| truth.sample_into(&mut r, row));
    let data = Points::from_vec(x, 3).unwrap();
    let cfg = TrainConfig::steps(50, 64, 1e-2);
    let mut trained = model();
    let mut nce = Nce::new(2, None).unwrap();
    train(&mut trained, &mut nce, &data, &cfg, &mut History::default()).unwrap();
    let mut hand = model().hand_written().unwrap();
    let mut nce2 = Nce::new(2, None).unwrap();
    let mut engine = CapabilityEngine::new(&mut *hand, &mut nce2, OptimizerConfig::adam(1e-2)).unwrap();
    run_engine(&mut engine, &data, &cfg, &mut History::default(), None).unwrap();
    drop(engine);
    let got: Vec<Vec<f64>> = trained.params_mut().iter().map(|p| p.values()).collect();
    assert_ne!(
        got,
        model()
            .params_mut()
            .iter()
            .map(|p| p.values())
            .collect::<Vec<_>>()
    );
    assert_eq!(got, hand.params());
    assert_eq!(nce.log_normaliser(), nce2.log_normaliser());
}
