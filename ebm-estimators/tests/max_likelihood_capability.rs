//! Maximum likelihood written against the energy capability: its
//! gradient on the hand-written MLP against the tape's on the same
//! negatives, `train` running it on the model's hand-written form
//! (bit-identical with the capability engine driven by hand), and bad
//! pairings of negatives and models refused with an error.

use dfdx::prelude::*;
use ebm_core::energies::Activation;
use ebm_core::{setup_rng, Points};
use ebm_estimators::capability::{CapabilityEngine, CapabilityObjective, EnergyCapability, HandMlp};
use ebm_estimators::datasets::{digits_binarized, eight_gaussians};
use ebm_estimators::models::{GaussianEnergy, MlpEnergy, TrainableRbm};
use ebm_estimators::objectives::{ChainNegatives, GibbsNegatives, MaxLikelihood, Negatives};
use ebm_estimators::optim::OptimizerConfig;
use ebm_estimators::trainer::{run_engine, train, History, TrainConfig};
use ebm_estimators::TrainableEnergy;
use ebm_samplers::Ula;

fn mlp() -> MlpEnergy<f64, Cpu> {
    MlpEnergy::<f64, Cpu>::new(
        &Cpu::default(),
        &[2, 16, 16, 1],
        Activation::Silu,
        &mut setup_rng(4),
    )
    .unwrap()
}

fn cd_ula(alpha: f64) -> MaxLikelihood<ChainNegatives<Ula>> {
    MaxLikelihood::new(ChainNegatives::new(Ula::new(0.01).unwrap(), Negatives::Cd { steps: 3 }).unwrap())
        .with_regulariser(alpha)
        .unwrap()
}

/// One step's loss and gradient of CD-3 (ULA) with the energy regulariser,
/// on the hand-written MLP and on the same network through the tape, from
/// the same streams: the negatives are the same chains moved by the same
/// noise (their gradients differ in rounding only), so loss and gradient
/// agree to 1e-9 of their scale.
#[test]
fn hand_written_and_tape_gradients_agree() {
    let data = eight_gaussians(300, 2).unwrap();
    let batch = Points::from_vec(data.as_slice()[..2 * 64].to_vec(), 2).unwrap();
    let model = mlp();
    let mut forms: Vec<Box<dyn EnergyCapability>> =
        vec![Box::new(HandMlp::new(model.to_core())), model.autodiff().unwrap()];
    let mut out = Vec::new();
    for form in &mut forms {
        let mut ml = cd_ula(0.1);
        ml.prepare(&mut **form, &data, 7).unwrap();
        let mut g: Vec<Vec<f64>> = form.params().iter().map(|p| vec![0.0; p.len()]).collect();
        let loss = ml
            .loss_grad(&mut **form, &batch, &mut setup_rng(3), &mut g)
            .unwrap();
        out.push((loss, g));
    }
    let ((l0, g0), (l1, g1)) = (&out[0], &out[1]);
    assert!((l0 - l1).abs() < 1e-9 * (1.0 + l1.abs()), "{l0} vs {l1}");
    for (a, b) in g0.iter().zip(g1) {
        let scale = b.iter().fold(1e-12f64, |s, v| s.max(v.abs()));
        for (x, y) in a.iter().zip(b) {
            assert!((x - y).abs() < 1e-9 * scale, "{x} vs {y}");
        }
    }
    assert!(g0.iter().flatten().any(|v| *v != 0.0), "a gradient, not zeros");
}

/// `train` runs maximum likelihood on an MLP's hand-written form: the
/// parameters are bit for bit those of the capability engine driven by
/// hand on a `HandMlp` (PCD-2 with ULA, Adam).
#[test]
fn train_takes_the_hand_written_form() {
    let data = eight_gaussians(500, 0).unwrap();
    let cfg = TrainConfig::steps(30, 32, 1e-2);
    let scheme = Negatives::Pcd { steps: 2, chains: 40 };
    let make = || MaxLikelihood::new(ChainNegatives::new(Ula::new(0.01).unwrap(), scheme).unwrap());
    let mut model = mlp();
    train(&mut model, &mut make(), &data, &cfg, &mut History::default()).unwrap();
    let mut hand = HandMlp::new(mlp().to_core());
    let mut ml = make();
    let mut engine = CapabilityEngine::new(&mut hand, &mut ml, OptimizerConfig::adam(1e-2)).unwrap();
    run_engine(&mut engine, &data, &cfg, &mut History::default(), None).unwrap();
    assert_ne!(model.to_core(), mlp().to_core(), "training moved the model");
    assert_eq!(&model.to_core(), hand.mlp());
}

/// A continuous kernel on a binary model, block Gibbs on a continuous
/// one: refused with an error naming the mismatch, not a panic.
#[test]
fn negatives_that_do_not_fit_the_model_are_refused() {
    let digits = digits_binarized();
    let rbm = TrainableRbm::<f64, Cpu>::new(&Cpu::default(), 64, 8, 0.01, &mut setup_rng(0)).unwrap();
    let err = train(
        &mut rbm.clone(),
        &mut cd_ula(0.0),
        &digits,
        &TrainConfig::steps(2, 10, 1e-2),
        &mut History::default(),
    )
    .unwrap_err();
    assert!(err.to_string().contains("continuous"), "{err}");
    let data = eight_gaussians(100, 0).unwrap();
    let mut gauss = GaussianEnergy::<f64, Cpu>::standard(&Cpu::default(), 2);
    let mut gibbs = MaxLikelihood::new(GibbsNegatives::new(Negatives::Cd { steps: 1 }).unwrap());
    let err = train(
        &mut gauss,
        &mut gibbs,
        &data,
        &TrainConfig::steps(2, 10, 1e-2),
        &mut History::default(),
    )
    .unwrap_err();
    assert!(err.to_string().contains("RBM"), "{err}");
}
