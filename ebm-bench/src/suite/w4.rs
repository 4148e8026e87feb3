//! W4: PCD-1 on the binarised 8x8 digits (1,797 images of 64 pixels) with a
//! 64-hidden-unit Bernoulli RBM, as scikit-learn's `BernoulliRBM` does it:
//! W ~ N(0, 0.01^2), zero biases, 10 persistent chains, batch 10, SGD with
//! learning rate 0.05, 20 epochs. Quality: the average log-likelihood of
//! the data, mean(-F(v)) - log Z, with log Z by AIS (10,000 temperatures x
//! 1,000 chains; quick: 1,000 x 100), before and after training. Timed:
//! the training loop (seconds per epoch).

use super::plot::Figure;
use super::{Record, SuiteCtx, Throughput};
use crate::cmd::sample::sampler_err;
use crate::error::CliResult;
use crate::progress::{Progress, SharedProgress};
use dfdx::prelude::Cpu;
use ebm_core::energies::Rbm;
use ebm_core::{chain_rngs, setup_rng, Points};
use ebm_estimators::datasets::digits_binarized;
use ebm_estimators::models::TrainableRbm;
use ebm_estimators::objectives::{GibbsNegatives, MaxLikelihood, Negatives};
use ebm_estimators::optim::OptimizerConfig;
use ebm_estimators::trainer::{train, Schedule, StepReport, TrainConfig};
use ebm_samplers::ais::{ais_rbm_with_progress, AisResult, RbmBase, Schedule as Betas};
use ebm_samplers::gibbs::{BinaryKernel, RbmGibbs};
use rand::Rng;
use serde_json::json;
use std::time::Instant;

/// (average log-likelihood of `data`, the AIS estimate behind it).
fn log_likelihood(
    rbm: &Rbm,
    data: &Points,
    temps: usize,
    chains: usize,
    seed: u64,
) -> CliResult<(f64, AisResult)> {
    let betas = Betas::Linear.betas(temps).map_err(sampler_err)?;
    let bar = SharedProgress::new("W4 AIS");
    let est = ais_rbm_with_progress(rbm, &RbmBase::ModelBiases, &betas, chains, seed, &|d, t| {
        bar.tick(d, t)
    })
    .map_err(sampler_err)?;
    let f = data.rows().map(|v| rbm.free_energy(v)).sum::<f64>() / data.len() as f64;
    Ok((-f - est.log_z, est))
}

/// Run W4.
pub fn run_w4(ctx: &SuiteCtx) -> CliResult<(Vec<Record>, Vec<String>)> {
    let data = digits_binarized();
    let (temps, chains) = if ctx.quick { (1000, 100) } else { (10_000, 1000) };
    let epochs = 20;
    let dev = Cpu::default();
    let mut rbm = TrainableRbm::<f64, Cpu>::new(&dev, 64, 64, 0.01, &mut setup_rng(ctx.seed))?;
    let (ll_before, _) = log_likelihood(&rbm.to_core(), &data, temps, chains, ctx.seed)?;
    let cfg = TrainConfig {
        schedule: Schedule::Epochs(epochs),
        batch: 10,
        optimizer: OptimizerConfig::sgd(0.05),
        seed: ctx.seed,
        checkpoints: None,
        stop: None,
    };
    let mut pcd = MaxLikelihood::new(GibbsNegatives::new(Negatives::Pcd { steps: 1, chains: 10 })?);
    let mut bar = Progress::new("W4 PCD");
    let mut obs = |r: &StepReport| bar.tick(r.step + 1, r.total);
    let t = Instant::now();
    let summary = train(&mut rbm, &mut pcd, &data, &cfg, &mut obs)?;
    let seconds = t.elapsed().as_secs_f64();
    drop(bar);
    let trained = rbm.to_core();
    let (ll, est) = log_likelihood(&trained, &data, temps, chains, ctx.seed + 1)?;

    // 36 samples: Gibbs chains from random images, 1,000 sweeps
    let n = 36;
    let mut rngs = chain_rngs(ctx.seed + 2, n);
    let x0: Vec<f64> = rngs
        .iter_mut()
        .flat_map(|r| {
            (0..64)
                .map(|_| r.random::<bool>() as u8 as f64)
                .collect::<Vec<_>>()
        })
        .collect();
    let mut x = Points::from_vec(x0, 64)?;
    let gibbs = RbmGibbs::new(trained.clone());
    for _ in 0..1000 {
        gibbs.sweep(&mut x, &mut rngs);
    }
    let images: Vec<Vec<f64>> = x.rows().map(<[f64]>::to_vec).collect();
    let plots = ctx.write_plot(
        "w4_rbm_samples",
        &Figure::Images {
            title: "W4: RBM samples after PCD (1,000 Gibbs sweeps)".into(),
            images,
            side: 8,
            cols: 9,
        },
    )?;
    let record = Record {
        workload: "W4".into(),
        method: "pcd-1 gibbs, rbm 64x64, sgd 0.05, batch 10".into(),
        seconds,
        throughput: Throughput {
            value: epochs as f64 / seconds,
            unit: "epochs/s".into(),
        },
        quality: json!({"ais_log_likelihood": ll, "ais_log_z": est.log_z, "ais_stderr": est.stderr,
                        "initial_log_likelihood": ll_before, "seconds_per_epoch": seconds / epochs as f64,
                        "final_loss": summary.final_loss}),
        config: json!({"hidden": 64, "epochs": epochs, "batch": 10, "lr": 0.05, "optimizer": "sgd",
                       "persistent_chains": 10, "init_std": 0.01, "ais_temps": temps, "ais_chains": chains,
                       "precision": "f64"}),
        summary: format!(
            "AIS log-lik {ll:.3} (+- {:.3}; initial {ll_before:.3}), {:.4} s/epoch",
            est.stderr,
            seconds / epochs as f64
        ),
    };
    Ok((vec![record], plots))
}
