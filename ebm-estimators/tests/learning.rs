//! The W4 and W5 workloads at test size: DSM learns the 8-Gaussian mixture
//! with an MLP; PCD learns the binarised digits with an RBM.

use dfdx::prelude::*;
use ebm_core::energies::{Activation, Gmm};
use ebm_core::quadrature::log_partition_grid;
use ebm_core::{setup_rng, Energy};
use ebm_estimators::datasets::{digits_binarized, eight_gaussians};
use ebm_estimators::models::{MlpEnergy, TrainableRbm};
use ebm_estimators::objectives::{Dsm, GibbsNegatives, MaxLikelihood, Negatives};
use ebm_estimators::trainer::{train, History, Schedule, TrainConfig};
use ebm_samplers::ais::{ais_rbm, RbmBase, Schedule as Betas};

/// Mean negative log-likelihood of `test` under exp(-E)/Z, Z by the W5
/// midpoint rule (400 x 400 cells over [-8, 8]^2).
fn nll<E: Energy>(e: &E, test: &ebm_core::Points) -> f64 {
    let log_z = log_partition_grid(e, &[-8.0, -8.0], &[8.0, 8.0], 400).unwrap();
    let mut en = vec![0.0; test.len()];
    e.energy_batch(test.as_slice(), &mut en);
    en.iter().sum::<f64>() / test.len() as f64 + log_z
}

/// W5 at reduced length (1,500 steps instead of 5,000, on the same
/// 2-128-128-1 SiLU network, sigma 0.3, Adam 1e-3, batch 512). The issue's
/// bar: held-out NLL within 0.3 nats of the true mixture's. The
/// infinite-capacity optimum of DSM at sigma 0.3 is the sigma-smoothed
/// mixture, 0.047 nats above the truth on this test set (peers: 3.5543 vs
/// 3.5075), so the bar leaves 0.25 nats for finite training.
#[test]
fn dsm_learns_the_eight_gaussians() {
    let data = eight_gaussians(100_000, 0).unwrap();
    let test = eight_gaussians(10_000, 1).unwrap();
    let dev = Cpu::default();
    let mut model =
        MlpEnergy::<f64, Cpu>::new(&dev, &[2, 128, 128, 1], Activation::Silu, &mut setup_rng(0)).unwrap();
    let mut cfg = TrainConfig::steps(1500, 512, 1e-3);
    cfg.seed = 1;
    train(
        &mut model,
        &mut Dsm::new(0.3).unwrap(),
        &data,
        &cfg,
        &mut History::default(),
    )
    .unwrap();
    let truth = nll(&Gmm::eight_gaussians(), &test);
    let learned = nll(&model.to_core(), &test);
    eprintln!("W5 (1500 steps): NLL {learned:.4}, true mixture {truth:.4}");
    assert!((truth - 3.5).abs() < 0.05, "true NLL {truth}");
    assert!(learned - truth < 0.3, "learned {learned}, truth {truth}");
}

/// W4 at reduced AIS size: PCD-1 with 64 hidden units, batch 10, lr 0.05
/// (SGD, as scikit-learn), 20 epochs, in f64 and in f32. The AIS
/// log-likelihood of the data must rise by a wide margin over the initial
/// model (W ~ N(0, 0.01^2), zero biases, about -44.4 nats = 64 log 2 + ...).
/// AIS with 1,000 temperatures x 200 chains has a standard error of a few
/// hundredths of a nat here, so a margin of 15 nats is not noise.
#[test]
fn pcd_learns_the_digits() {
    pcd_learns_the_digits_in::<f64>();
    pcd_learns_the_digits_in::<f32>();
}

fn pcd_learns_the_digits_in<F: ebm_estimators::Real>()
where
    Cpu: Device<F>,
{
    let data = digits_binarized();
    let dev = Cpu::default();
    let mut rbm = TrainableRbm::<F, Cpu>::new(&dev, 64, 64, 0.01, &mut setup_rng(0)).unwrap();
    let ll = |r: &ebm_core::energies::Rbm| {
        let est = ais_rbm(
            r,
            &RbmBase::ModelBiases,
            &Betas::Linear.betas(1000).unwrap(),
            200,
            3,
        )
        .unwrap();
        let f: f64 = data.rows().map(|v| r.free_energy(v)).sum::<f64>() / data.len() as f64;
        -f - est.log_z
    };
    let before = ll(&rbm.to_core());
    let mut cfg = TrainConfig::steps(0, 10, 0.05);
    cfg.schedule = Schedule::Epochs(20);
    cfg.optimizer = ebm_estimators::optim::OptimizerConfig::sgd(0.05);
    let mut pcd = MaxLikelihood::new(GibbsNegatives::new(Negatives::Pcd { steps: 1, chains: 10 }).unwrap());
    train(&mut rbm, &mut pcd, &data, &cfg, &mut History::default()).unwrap();
    let after = ll(&rbm.to_core());
    let bits = 8 * std::mem::size_of::<F>();
    eprintln!("W4 (PCD-1, 20 epochs, f{bits}): AIS log-likelihood {before:.3} -> {after:.3}");
    assert!(after > before + 15.0, "f{bits}: before {before}, after {after}");
}
