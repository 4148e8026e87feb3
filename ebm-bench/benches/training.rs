//! One training step (loss, backward pass, optimizer update) of each
//! objective (criterion). The engines' steps run in a hot pool
//! (`ebm_core::hot_pool`), as `train` runs them.
//!
//! On the models' tapes (the general path: `Autodiff` under the
//! capability engine):
//! * `w5_dsm/step/512`: DSM (sigma 0.3) on the 2-128-128-1 SiLU MLP, batch
//!   512, Adam; throughput in rows.
//! * `w4_pcd/step/10`: PCD-1 (one Gibbs sweep of 10 persistent chains) on
//!   the 64x64 RBM with the binarised digits, batch 10, SGD.
//!
//! On the paths that `train` picks for these two:
//! * `w5_dsm_fused/step/512` and `w5_dsm_fused_f32/step/512`: DSM on the
//!   hand-written MLP's score capability (its fused pass in f64, and with
//!   f32 matrix products) through the capability engine, with Adam.
//! * `w4_pcd_host/step/10`: the closed-form PCD-1 step.
//! * `gauss_cd/step/256`: CD-5 with MALA on a 3-D Gaussian family, batch 256.
//! * `gauss_nce/step/256`: NCE (ratio 4, fitted Gaussian noise) on the same
//!   family, batch 256.
#![allow(missing_docs)] // criterion_group! generates undocumented items

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use dfdx::prelude::*;
use ebm_core::energies::Activation;
use ebm_core::hot_pool::with_hot_pool;
use ebm_core::{setup_rng, Points};
use ebm_estimators::capability::{CapabilityEngine, HandMlp};
use ebm_estimators::datasets::{digits_binarized, eight_gaussians};
use ebm_estimators::engine::StepEngine;
use ebm_estimators::models::{GaussianEnergy, MlpEnergy, TrainableRbm};
use ebm_estimators::objectives::{
    CapabilityObjective, ChainNegatives, Dsm, GibbsNegatives, MaxLikelihood, Nce, Negatives,
};
use ebm_estimators::optim::OptimizerConfig;
use ebm_estimators::rbm_pcd::{RbmPcd, RbmPcdConfig};
use ebm_estimators::trainer::gather;
use ebm_estimators::TrainableEnergy;
use ebm_samplers::Mala;
use std::hint::black_box;
use std::time::Instant;

fn bench<M, O>(
    c: &mut Criterion,
    name: &str,
    model: M,
    mut obj: O,
    data: &Points,
    batch: usize,
    opt: OptimizerConfig,
) where
    M: TrainableEnergy<f64, Cpu> + Clone,
    O: CapabilityObjective,
{
    // loss, gradient and update on one batch, on the model's tape
    let mut tape = model.autodiff().unwrap();
    let mut engine = CapabilityEngine::new(&mut *tape, &mut obj, opt).unwrap();
    bench_engine(c, name, &mut engine, data, batch);
}

fn training(c: &mut Criterion) {
    let dev = Cpu::default();
    let w5 = eight_gaussians(10_000, 0).unwrap();
    let mlp =
        MlpEnergy::<f64, Cpu>::new(&dev, &[2, 128, 128, 1], Activation::Silu, &mut setup_rng(0)).unwrap();
    bench(
        c,
        "w5_dsm",
        mlp,
        Dsm::new(0.3).unwrap(),
        &w5,
        512,
        OptimizerConfig::adam(1e-3),
    );

    let digits = digits_binarized();
    let rbm = TrainableRbm::<f64, Cpu>::new(&dev, 64, 64, 0.01, &mut setup_rng(0)).unwrap();
    let pcd = MaxLikelihood::new(GibbsNegatives::new(Negatives::Pcd { steps: 1, chains: 10 }).unwrap());
    bench(c, "w4_pcd", rbm, pcd, &digits, 10, OptimizerConfig::sgd(0.05));

    let gauss_data = {
        let mut x = eight_gaussians(5000, 1).unwrap().as_slice().to_vec();
        x.truncate(3 * 3000);
        Points::from_vec(x, 3).unwrap()
    };
    let mala = Mala::new(0.3).unwrap();
    let cd = MaxLikelihood::new(ChainNegatives::new(mala, Negatives::Cd { steps: 5 }).unwrap());
    bench(
        c,
        "gauss_cd",
        GaussianEnergy::<f64, Cpu>::standard(&dev, 3),
        cd,
        &gauss_data,
        256,
        OptimizerConfig::adam(1e-2),
    );
    let nce = Nce::new(4, None).unwrap();
    bench(
        c,
        "gauss_nce",
        GaussianEnergy::<f64, Cpu>::standard(&dev, 3),
        nce,
        &gauss_data,
        256,
        OptimizerConfig::adam(1e-2),
    );
}

/// One step of `engine` on a fixed batch, the steps of each sample run
/// in a hot pool as `train` runs them (`ebm_core::hot_pool`).
fn bench_engine(
    c: &mut Criterion,
    name: &str,
    engine: &mut (dyn StepEngine + Send),
    data: &Points,
    batch: usize,
) {
    engine.prepare(data, 0).unwrap();
    let rows: Vec<usize> = (0..batch).map(|i| (i * 7919) % data.len()).collect();
    let b = gather(data, &rows);
    let mut rng = setup_rng(1);
    let mut g = c.benchmark_group(name);
    g.throughput(Throughput::Elements(batch as u64));
    g.bench_function(format!("step/{batch}"), |bch| {
        bch.iter_custom(|iters| {
            with_hot_pool(|| {
                let start = Instant::now();
                for _ in 0..iters {
                    black_box(engine.step(&b, &mut rng).unwrap());
                }
                start.elapsed()
            })
        })
    });
    g.finish();
}

fn host_engines(c: &mut Criterion) {
    let dev = Cpu::default();
    let w5 = eight_gaussians(10_000, 0).unwrap();
    let core = MlpEnergy::<f64, Cpu>::new(&dev, &[2, 128, 128, 1], Activation::Silu, &mut setup_rng(0))
        .unwrap()
        .to_core();
    for (name, mut hand) in [
        ("w5_dsm_fused", HandMlp::new(core.clone())),
        ("w5_dsm_fused_f32", HandMlp::in_f32(core)),
    ] {
        let mut dsm = Dsm::new(0.3).unwrap();
        let mut engine = CapabilityEngine::new(&mut hand, &mut dsm, OptimizerConfig::adam(1e-3)).unwrap();
        bench_engine(c, name, &mut engine, &w5, 512);
    }

    let digits = digits_binarized();
    let rbm = TrainableRbm::<f64, Cpu>::new(&dev, 64, 64, 0.01, &mut setup_rng(0)).unwrap();
    let cfg = RbmPcdConfig {
        lr: 0.05,
        chains: 10,
        sweeps: 1,
        seed: 0,
    };
    let mut pcd = RbmPcd::<f64>::new(&rbm.to_core(), &cfg).unwrap();
    let mut pcd32 = RbmPcd::<f32>::new(&rbm.to_core(), &cfg).unwrap();
    let rows: Vec<usize> = (0..10).map(|i| (i * 7919) % digits.len()).collect();
    let b = gather(&digits, &rows);
    let mut g = c.benchmark_group("w4_pcd_host");
    g.throughput(Throughput::Elements(10));
    g.bench_function("step/10", |bch| bch.iter(|| pcd.step(b.as_slice()).unwrap()));
    g.bench_function("step_f32/10", |bch| {
        bch.iter(|| pcd32.step(b.as_slice()).unwrap())
    });
    g.finish();
}

criterion_group!(benches, training, host_engines);
criterion_main!(benches);
