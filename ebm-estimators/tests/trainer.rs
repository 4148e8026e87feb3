//! The trainer's guarantees: a non-finite loss stops training and keeps
//! the last good model (and checkpoint); model files written on the way
//! are complete; the same seed gives bit-identical results.

use dfdx::prelude::*;
use ebm_core::energies::Activation;
use ebm_core::{setup_rng, EnergySpec, Points};
use ebm_estimators::models::{GaussianEnergy, MlpEnergy};
use ebm_estimators::objectives::{ChainNegatives, Dsm, Init, MaxLikelihood, Negatives};
use ebm_estimators::optim::{LrSchedule, OptimizerConfig, UpdateRules};
use ebm_estimators::trainer::{train, Checkpoints, History, StepReport, TrainConfig};
use ebm_estimators::{EstimatorError, TrainableEnergy};
use ebm_samplers::Mala;
use rand::Rng;

fn data() -> Points {
    let mut rng = setup_rng(4);
    Points::from_vec((0..2000).map(|_| rng.random_range(-1.0..1.0)).collect(), 2).unwrap()
}

#[test]
fn divergence_stops_with_an_error_and_keeps_the_last_good_model() {
    let dir = std::env::temp_dir().join(format!("ebm-trainer-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let ckpt = dir.join("run.ckpt");
    let model_file = dir.join("model.json");
    let mut model = GaussianEnergy::<f64, Cpu>::standard(&Cpu::default(), 2);
    // plain SGD with an absurd learning rate: the log-diagonal explodes,
    // exp() overflows and the loss turns infinite or NaN within a few steps
    let mut cfg = TrainConfig::steps(1000, 64, 100.0);
    cfg.optimizer = OptimizerConfig::sgd(100.0);
    cfg.checkpoints = Some(Checkpoints {
        path: ckpt.clone(),
        every: 1,
        model: Some(model_file.clone()),
    });
    let mut steps_seen = 0;
    let mut obs = |_: &StepReport| steps_seen += 1;
    let err = train(&mut model, &mut Dsm::new(0.5).unwrap(), &data(), &cfg, &mut obs).unwrap_err();
    let EstimatorError::NonFiniteLoss { step, .. } = err else {
        panic!("expected NonFiniteLoss, got {err}")
    };
    // one good step (SGD at 100 on a standard Gaussian overshoots once,
    // then exp() of the log-diagonal overflows), so there is a checkpoint
    assert!((1..1000).contains(&step), "diverged at step {step}");
    assert_eq!(steps_seen, step, "every good step was reported");
    assert!(model.is_valid(), "the model holds its last good parameters");
    // the model file is complete and loadable, with those parameters
    let text = std::fs::read_to_string(&model_file).unwrap();
    let spec = EnergySpec::from_json(&text).unwrap();
    assert!(spec.build().is_ok());
    assert_eq!(spec, model.to_spec());
    assert!(err.to_string().contains("last good model"));
    // the last checkpoint is the state after the last good step
    let saved = ebm_estimators::checkpoint::TrainCheckpoint::read(&ckpt).unwrap();
    assert_eq!(saved.step, step);
    assert_eq!(saved.model, model.to_spec());
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn same_seed_gives_bit_identical_models() {
    let run = |seed: u64| {
        let mut model = GaussianEnergy::<f64, Cpu>::standard(&Cpu::default(), 2);
        let neg = ChainNegatives::new(
            Mala::new(0.2).unwrap(),
            Negatives::Pcd {
                steps: 2,
                chains: 100,
            },
        );
        let mut ml = MaxLikelihood::new(neg.unwrap()).with_regulariser(0.01).unwrap();
        let mut cfg = TrainConfig::steps(50, 64, 0.01);
        cfg.seed = seed;
        let mut hist = History::default();
        train(&mut model, &mut ml, &data(), &cfg, &mut hist).unwrap();
        assert!(hist.grad_norm.iter().all(|g| g.is_finite() && *g >= 0.0));
        model.to_spec().to_json()
    };
    assert_eq!(run(1), run(1));
    assert_ne!(run(1), run(2));
}

/// W5's shape (an MLP 2-128-128-1, batches of 512: two parts in parallel,
/// a 16,384-value weight whose gradient sum and Adam update are split
/// over the workers when the pool has several): one thread, two and
/// three give the same bits in every parameter and loss.
#[test]
fn mlp_training_is_the_same_bits_on_any_number_of_threads() {
    let data = ebm_estimators::datasets::eight_gaussians(4096, 3).unwrap();
    let run = |threads: usize| {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        pool.install(|| {
            let mut model = MlpEnergy::<f64, Cpu>::new(
                &Cpu::default(),
                &[2, 128, 128, 1],
                Activation::Silu,
                &mut setup_rng(5),
            )
            .unwrap();
            let mut cfg = TrainConfig::steps(12, 512, 1e-3);
            cfg.seed = 6;
            let mut hist = History::default();
            train(&mut model, &mut Dsm::new(0.3).unwrap(), &data, &cfg, &mut hist).unwrap();
            let bits = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
            (model.to_spec().to_json(), bits(&hist.loss), bits(&hist.grad_norm))
        })
    };
    let one = run(1);
    assert_eq!(run(2), one);
    assert_eq!(run(3), one);
}

#[test]
fn bad_settings_are_errors() {
    let mut model = GaussianEnergy::<f64, Cpu>::standard(&Cpu::default(), 2);
    let mut dsm = Dsm::new(0.5).unwrap();
    let mut h = History::default();
    assert!(train(
        &mut model,
        &mut dsm,
        &data(),
        &TrainConfig::steps(10, 0, 0.1),
        &mut h
    )
    .is_err());
    assert!(train(
        &mut model,
        &mut dsm,
        &data(),
        &TrainConfig::steps(10, 8, f64::NAN),
        &mut h
    )
    .is_err());
    let wide = Points::from_vec(vec![0.0; 9], 3).unwrap();
    let err = train(
        &mut model,
        &mut dsm,
        &wide,
        &TrainConfig::steps(10, 8, 0.1),
        &mut h,
    )
    .unwrap_err();
    assert!(err.to_string().contains("3 columns"), "{err}");
    assert!(Dsm::multi(vec![]).is_err());
    assert!(Negatives::Replay {
        steps: 1,
        capacity: 10,
        reinit: 2.0,
        init: Init::FittedGaussian,
    }
    .validate()
    .is_err());
}

/// The rules around the optimizer reach the run: a step schedule that
/// cuts the rate by 1e-12 from the fifth update on freezes the model
/// after four (50 steps end where 4 plain ones did, to 1e-9, where the
/// plain run moves on); a
/// moving average writes a model between the start and the last iterate
/// (rho = 0.9 over 50 steps, the mean moving from 0 towards the data's
/// 2); weight decay of 5 per unit rate pulls the mean towards 0.
#[test]
fn update_rules_reach_the_run() {
    let shifted = Points::from_vec(data().as_slice().iter().map(|v| v + 2.0).collect(), 2).unwrap();
    let mean = |cfg: &TrainConfig| {
        let mut model = GaussianEnergy::<f64, Cpu>::standard(&Cpu::default(), 2);
        let mut dsm = Dsm::new(0.1).unwrap();
        train(&mut model, &mut dsm, &shifted, cfg, &mut History::default()).unwrap();
        model.mean()
    };
    let plain = |steps: usize| TrainConfig::steps(steps, 64, 0.05);
    let with = |steps: usize, rules: UpdateRules| TrainConfig {
        rules,
        ..plain(steps)
    };
    let freeze = UpdateRules {
        schedule: LrSchedule::Step {
            every: 5,
            gamma: 1e-12,
        },
        ..UpdateRules::default()
    };
    let (m5, m50) = (mean(&with(5, freeze)), mean(&with(50, freeze)));
    let (p4, p50) = (mean(&plain(4)), mean(&plain(50)));
    let dist = |a: &[f64], b: &[f64]| a.iter().zip(b).map(|(x, y)| (x - y).abs()).fold(0.0, f64::max);
    assert!(
        dist(&m5, &m50) < 1e-9 && dist(&p4, &m50) < 1e-9,
        "{p4:?} {m5:?} {m50:?}"
    );
    assert!(dist(&p4, &p50) > 0.1, "{p4:?} {p50:?}");
    let ema = mean(&with(
        50,
        UpdateRules {
            ema: Some(0.9),
            ..UpdateRules::default()
        },
    ));
    eprintln!("iterate {p50:?}, average {ema:?}");
    assert!(
        (0..2).all(|j| ema[j].abs() < p50[j].abs() && dist(&ema, &p50) > 0.01),
        "{ema:?} vs {p50:?}"
    );
    let decayed = mean(&with(
        50,
        UpdateRules {
            weight_decay: 5.0,
            ..UpdateRules::default()
        },
    ));
    assert!(
        (0..2).all(|j| decayed[j].abs() < 0.8 * p50[j].abs()),
        "{decayed:?} vs {p50:?}"
    );
}
