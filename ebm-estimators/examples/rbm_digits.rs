//! Train a 64-hidden-unit Bernoulli RBM on the binarised 8x8 digits with
//! PCD-1 (the W4 protocol: SGD 0.05, batch 10, 10 persistent chains) and
//! report seconds per epoch and the mean free energy of the data.
//!
//! Run with `cargo run --release -p ebm-estimators --example rbm_digits [EPOCHS]`.

use dfdx::prelude::*;
use ebm_core::setup_rng;
use ebm_estimators::datasets::digits_binarized;
use ebm_estimators::models::TrainableRbm;
use ebm_estimators::objectives::{GibbsNegatives, MaxLikelihood, Negatives};
use ebm_estimators::optim::OptimizerConfig;
use ebm_estimators::trainer::{train, History, Schedule, TrainConfig};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let epochs: usize = std::env::args().nth(1).map_or(Ok(20), |a| a.parse())?;
    let data = digits_binarized();
    let mut rbm = TrainableRbm::<f64, Cpu>::new(&Cpu::default(), 64, 64, 0.01, &mut setup_rng(0))?;
    let mut cfg = TrainConfig::steps(0, 10, 0.05);
    cfg.schedule = Schedule::Epochs(epochs);
    cfg.optimizer = OptimizerConfig::sgd(0.05);
    let mut pcd = MaxLikelihood::new(GibbsNegatives::new(Negatives::Pcd { steps: 1, chains: 10 })?);
    let summary = train(&mut rbm, &mut pcd, &data, &cfg, &mut History::default())?;
    let core = rbm.to_core();
    let mean_free_energy = data.rows().map(|v| core.free_energy(v)).sum::<f64>() / data.len() as f64;
    println!(
        "{epochs} epochs in {:.3} s ({:.4} s/epoch); mean free energy of the data {mean_free_energy:.4}",
        summary.seconds,
        summary.seconds / epochs as f64
    );
    Ok(())
}
