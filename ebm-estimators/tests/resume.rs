//! Interrupted and resumed training: a run stopped after k steps and
//! resumed from its checkpoint ends bit-identical to the same run never
//! stopped, for every objective and model kind (optimizer moments, random
//! streams, epoch order, persistent chains and replay buffers all carry
//! over). A checkpoint of a different run is refused with a clear error.

use dfdx::prelude::*;
use ebm_core::energies::Activation;
use ebm_core::{setup_rng, Points};
use ebm_estimators::checkpoint::TrainCheckpoint;
use ebm_estimators::datasets::{digits_binarized, eight_gaussians};
use ebm_estimators::models::{GaussianEnergy, MlpEnergy, TrainableRbm};
use ebm_estimators::objectives::{ChainNegatives, Dsm, GibbsNegatives, Init, MaxLikelihood, Nce, Negatives};
use ebm_estimators::optim::{LrSchedule, OptimizerConfig, UpdateRules};
use ebm_estimators::trainer::{resume, train, Checkpoints, Schedule, StepReport, StopFlag, TrainConfig};
use ebm_estimators::{CapabilityObjective, EstimatorError, Real, TrainableEnergy};
use ebm_samplers::{Hmc, Mala, Ula};
use std::path::PathBuf;

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("ebm-resume-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

/// Every trained parameter's exact bit pattern (the model's, then the
/// objective's, such as NCE's log-normaliser).
fn bits<F: Real, M: TrainableEnergy<F, Cpu>, O: CapabilityObjective>(
    model: &mut M,
    objective: &mut O,
) -> Vec<u64>
where
    Cpu: Device<F>,
{
    let params = model.params_mut();
    let mut values: Vec<f64> = params.iter().flat_map(|p| p.values()).collect();
    values.extend(objective.own_params().into_iter().flatten());
    values.into_iter().map(f64::to_bits).collect()
}

/// Train `build()` for the whole of `cfg` in one go, and again stopped
/// after `stop_at` steps and resumed from the checkpoint into a freshly
/// built model and objective; the two must agree bit for bit (in the
/// model's float type `F`).
fn check_resume<F, M, O>(
    name: &str,
    data: &Points,
    cfg: &TrainConfig,
    stop_at: usize,
    build: impl Fn() -> (M, O),
) where
    F: Real,
    Cpu: Device<F>,
    M: TrainableEnergy<F, Cpu> + Clone,
    O: CapabilityObjective,
{
    let (mut whole, mut whole_objective) = build();
    let full = train(
        &mut whole,
        &mut whole_objective,
        data,
        cfg,
        &mut |_: &StepReport| {},
    )
    .unwrap();

    let path = scratch(&format!("{name}.ckpt"));
    let stop = StopFlag::new();
    let mut cut = cfg.clone();
    cut.stop = Some(stop.clone());
    cut.checkpoints = Some(Checkpoints {
        path: path.clone(),
        every: 7,
        model: None,
    });
    let (mut first, mut objective) = build();
    let mut raise = |r: &StepReport| {
        if r.step + 1 == stop_at {
            stop.raise();
        }
    };
    let err = train(&mut first, &mut objective, data, &cut, &mut raise).unwrap_err();
    assert!(
        matches!(err, EstimatorError::Interrupted { step, .. } if step == stop_at),
        "{name}: {err}"
    );
    let ckpt = TrainCheckpoint::read(&path).unwrap();
    assert_eq!(
        ckpt.step, stop_at,
        "{name}: the stop wrote a checkpoint at its step"
    );
    // (with a moving average the model ends averaged; the checkpoint keeps
    // the iterate and the average)
    if cfg.rules.ema.is_none() {
        assert_eq!(
            bits(&mut first, &mut objective),
            ckpt.params
                .iter()
                .flatten()
                .map(|v| v.to_bits())
                .collect::<Vec<_>>()
        );
    } else {
        assert!(
            !ckpt.optimizer.ema.is_empty(),
            "{name}: the average is checkpointed"
        );
    }

    let (mut second, mut objective) = build();
    let mut go_on = cfg.clone();
    go_on.checkpoints = cut.checkpoints.clone();
    let resumed = resume(
        &mut second,
        &mut objective,
        data,
        &go_on,
        &mut |_: &StepReport| {},
        &ckpt,
    )
    .unwrap();
    assert_eq!(
        bits(&mut whole, &mut whole_objective),
        bits(&mut second, &mut objective),
        "{name}: resumed parameters differ"
    );
    assert_eq!(whole.to_spec(), second.to_spec(), "{name}");
    assert_eq!(full.final_loss.to_bits(), resumed.final_loss.to_bits(), "{name}");
    assert_eq!(
        full.mean_loss_tail.to_bits(),
        resumed.mean_loss_tail.to_bits(),
        "{name}"
    );
    // the end-of-run checkpoint holds the final model
    assert_eq!(TrainCheckpoint::read(&path).unwrap().model, whole.to_spec());
}

fn blob() -> Points {
    eight_gaussians(600, 3).unwrap()
}

fn gaussian() -> GaussianEnergy<f64, Cpu> {
    GaussianEnergy::standard(&Cpu::default(), 2)
}

#[test]
fn pcd_with_mala_and_adam_resumes_bit_identically() {
    let mut cfg = TrainConfig::steps(40, 32, 0.02);
    cfg.seed = 11;
    check_resume("pcd", &blob(), &cfg, 13, || {
        let kernel = Mala::new(0.3).unwrap();
        let neg = ChainNegatives::new(kernel, Negatives::Pcd { steps: 2, chains: 50 }).unwrap();
        (
            gaussian(),
            MaxLikelihood::new(neg).with_regulariser(0.01).unwrap(),
        )
    });
}

#[test]
fn replay_buffer_with_ula_and_momentum_resumes_bit_identically() {
    let mut cfg = TrainConfig::steps(40, 32, 0.01);
    cfg.optimizer = OptimizerConfig::Sgd {
        lr: 0.01,
        momentum: 0.9,
    };
    check_resume("replay", &blob(), &cfg, 21, || {
        let kernel = Ula::new(0.05).unwrap();
        let scheme = Negatives::Replay {
            steps: 3,
            capacity: 200,
            reinit: 0.1,
            init: Init::FittedGaussian,
        };
        (
            gaussian(),
            MaxLikelihood::new(ChainNegatives::new(kernel, scheme).unwrap()),
        )
    });
}

#[test]
fn cd_with_hmc_resumes_bit_identically() {
    check_resume("cd", &blob(), &TrainConfig::steps(30, 16, 0.01), 5, || {
        let kernel = Hmc::new(0.2, 3).unwrap();
        (
            gaussian(),
            MaxLikelihood::new(ChainNegatives::new(kernel, Negatives::Cd { steps: 1 }).unwrap()),
        )
    });
}

#[test]
fn dsm_on_an_mlp_resumes_bit_identically() {
    check_resume("dsm", &blob(), &TrainConfig::steps(30, 64, 1e-3), 17, || {
        let mut rng = setup_rng(5);
        let mlp =
            MlpEnergy::<f64, Cpu>::new(&Cpu::default(), &[2, 16, 16, 1], Activation::Silu, &mut rng).unwrap();
        (mlp, Dsm::multi(vec![0.1, 0.3]).unwrap())
    });
}

/// Every rule around the optimizer at once (warm-up, cosine decay to a
/// floor, clipping that bites, decoupled weight decay, the moving average
/// written as the model): still bit-identical after a resume.
#[test]
fn dsm_with_every_update_rule_resumes_bit_identically() {
    let mut cfg = TrainConfig::steps(30, 64, 1e-2);
    cfg.rules = UpdateRules {
        schedule: LrSchedule::Cosine { floor: 0.1 },
        warmup: 5,
        clip_grad: Some(0.5),
        weight_decay: 0.01,
        ema: Some(0.9),
    };
    check_resume("dsm-rules", &blob(), &cfg, 17, || {
        let mut rng = setup_rng(5);
        let mlp =
            MlpEnergy::<f64, Cpu>::new(&Cpu::default(), &[2, 16, 16, 1], Activation::Silu, &mut rng).unwrap();
        (mlp, Dsm::multi(vec![0.1, 0.3]).unwrap())
    });
}

/// PCD with plain SGD on an RBM normally takes the model's closed-form
/// step; with a step schedule and a moving average it takes the
/// objective's gradient and the optimizer, and resumes bit-identically
/// there too.
#[test]
fn rbm_pcd_with_rules_resumes_bit_identically() {
    let data = digits_binarized();
    let mut cfg = TrainConfig::steps(60, 10, 0.05);
    cfg.optimizer = OptimizerConfig::sgd(0.05);
    cfg.rules = UpdateRules {
        schedule: LrSchedule::Step {
            every: 20,
            gamma: 0.5,
        },
        ema: Some(0.95),
        ..UpdateRules::default()
    };
    check_resume("rbm-rules", &data, &cfg, 33, || {
        let mut rng = setup_rng(2);
        let rbm = TrainableRbm::<f64, Cpu>::new(&Cpu::default(), 64, 16, 0.01, &mut rng).unwrap();
        let neg = GibbsNegatives::new(Negatives::Pcd { steps: 1, chains: 10 }).unwrap();
        (rbm, MaxLikelihood::new(neg))
    });
}

#[test]
fn nce_with_its_learned_normaliser_resumes_bit_identically() {
    check_resume("nce", &blob(), &TrainConfig::steps(30, 64, 0.01), 9, || {
        (gaussian(), Nce::new(2, None).unwrap())
    });
}

#[test]
fn rbm_pcd_by_epochs_resumes_bit_identically_mid_epoch() {
    let data = digits_binarized();
    let mut cfg = TrainConfig::steps(0, 10, 0.05);
    cfg.schedule = Schedule::Epochs(2);
    cfg.optimizer = OptimizerConfig::sgd(0.05);
    // 180 batches per epoch: stopping at 250 lands inside the second epoch,
    // so the shuffled order and the position in it must carry over
    check_resume("rbm", &data, &cfg, 250, || {
        let mut rng = setup_rng(2);
        let rbm = TrainableRbm::<f64, Cpu>::new(&Cpu::default(), 64, 16, 0.01, &mut rng).unwrap();
        let neg = GibbsNegatives::new(Negatives::Pcd { steps: 1, chains: 10 }).unwrap();
        (rbm, MaxLikelihood::new(neg))
    });
    // in f32, on the f32 closed-form step: the checkpoint's f64 values hold
    // the f32 parameters exactly
    check_resume("rbm-f32", &data, &cfg, 250, || {
        let mut rng = setup_rng(2);
        let rbm = TrainableRbm::<f32, Cpu>::new(&Cpu::default(), 64, 16, 0.01, &mut rng).unwrap();
        let neg = GibbsNegatives::new(Negatives::Pcd { steps: 1, chains: 10 }).unwrap();
        (rbm, MaxLikelihood::new(neg))
    });
}

/// Stop a DSM run on a 2-D Gaussian after 3 steps and return its checkpoint.
fn gaussian_checkpoint(cfg: &TrainConfig) -> TrainCheckpoint {
    let path = scratch("other.ckpt");
    let mut cut = cfg.clone();
    let stop = StopFlag::new();
    stop.raise();
    cut.stop = Some(stop);
    cut.checkpoints = Some(Checkpoints {
        path: path.clone(),
        every: 100,
        model: None,
    });
    let err = train(
        &mut gaussian(),
        &mut Dsm::new(0.2).unwrap(),
        &blob(),
        &cut,
        &mut |_: &StepReport| {},
    )
    .unwrap_err();
    assert!(
        matches!(err, EstimatorError::Interrupted { step: 1, .. }),
        "{err}"
    );
    TrainCheckpoint::read(&path).unwrap()
}

#[test]
fn a_checkpoint_of_another_run_is_refused_naming_the_difference() {
    let cfg = TrainConfig::steps(20, 32, 0.01);
    let ckpt = gaussian_checkpoint(&cfg);
    let none = &mut |_: &StepReport| {};
    let message = |r: Result<_, EstimatorError>| r.map(|_| ()).unwrap_err().to_string();

    // another model: a 2-16-1 MLP has other parameter shapes
    let mut rng = setup_rng(1);
    let mut mlp =
        MlpEnergy::<f64, Cpu>::new(&Cpu::default(), &[2, 16, 1], Activation::Tanh, &mut rng).unwrap();
    let m = message(resume(
        &mut mlp,
        &mut Dsm::new(0.2).unwrap(),
        &blob(),
        &cfg,
        none,
        &ckpt,
    ));
    assert!(
        m.contains("parameter shapes") && m.contains("different model"),
        "{m}"
    );

    // same model, another objective, batch, seed or data
    let mut nce = Nce::new(1, None).unwrap();
    let m = message(resume(&mut gaussian(), &mut nce, &blob(), &cfg, none, &ckpt));
    // NCE trains its log-normaliser too, so the parameter list differs
    assert!(m.contains("parameter shapes"), "{m}");
    let pcd = ChainNegatives::new(Mala::new(0.1).unwrap(), Negatives::Pcd { steps: 1, chains: 8 });
    let m = message(resume(
        &mut gaussian(),
        &mut MaxLikelihood::new(pcd.unwrap()),
        &blob(),
        &cfg,
        none,
        &ckpt,
    ));
    assert!(m.contains("objective dsm") && m.contains("pcd-mala"), "{m}");
    let m = message(resume(
        &mut gaussian(),
        &mut Dsm::new(0.2).unwrap(),
        &blob(),
        &TrainConfig::steps(20, 64, 0.01),
        none,
        &ckpt,
    ));
    assert!(m.contains("batch 32") && m.contains("64"), "{m}");
    // the same objective with another noise level
    let m = message(resume(
        &mut gaussian(),
        &mut Dsm::new(0.3).unwrap(),
        &blob(),
        &cfg,
        none,
        &ckpt,
    ));
    assert!(
        m.contains("objective settings sigma [0.2]") && m.contains("sigma [0.3]"),
        "{m}"
    );
    let mut seeded = cfg.clone();
    seeded.seed = 9;
    let m = message(resume(
        &mut gaussian(),
        &mut Dsm::new(0.2).unwrap(),
        &blob(),
        &seeded,
        none,
        &ckpt,
    ));
    assert!(m.contains("seed"), "{m}");
    let other = eight_gaussians(600, 4).unwrap();
    let m = message(resume(
        &mut gaussian(),
        &mut Dsm::new(0.2).unwrap(),
        &other,
        &cfg,
        none,
        &ckpt,
    ));
    assert!(m.contains("data"), "{m}");
    // a run already at its end has nothing left to do
    let m = message(resume(
        &mut gaussian(),
        &mut Dsm::new(0.2).unwrap(),
        &blob(),
        &TrainConfig::steps(1, 32, 0.01),
        none,
        &ckpt,
    ));
    assert!(m.contains("nothing is left"), "{m}");
}

#[test]
fn files_that_are_not_checkpoints_are_refused() {
    let spec = gaussian().to_spec().to_json();
    let m = TrainCheckpoint::from_json(&spec).unwrap_err().to_string();
    assert!(m.contains("not a training checkpoint"), "{m}");
    assert!(TrainCheckpoint::from_json("{")
        .unwrap_err()
        .to_string()
        .contains("not JSON"));
    let mut v: serde_json::Value = serde_json::from_str(
        &gaussian_checkpoint(&TrainConfig::steps(20, 32, 0.01))
            .to_json()
            .unwrap(),
    )
    .unwrap();
    v["version"] = 99.into();
    let m = TrainCheckpoint::from_json(&v.to_string())
        .unwrap_err()
        .to_string();
    assert!(m.contains("version 99"), "{m}");
    v["version"] = 1.into();
    v["params"][0] = serde_json::json!([1.0]);
    let m = TrainCheckpoint::from_json(&v.to_string())
        .unwrap_err()
        .to_string();
    assert!(m.contains("do not match"), "{m}");
    let missing = TrainCheckpoint::read(&scratch("absent.ckpt")).unwrap_err();
    assert!(matches!(missing, EstimatorError::Io { .. }));
}
