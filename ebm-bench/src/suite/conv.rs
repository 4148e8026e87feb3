//! CONV: the convolutional energy's short-run maximum-likelihood step on
//! the 8x8 digits, the problem of `scripts/peer_conv_shortrun.py` (plain
//! PyTorch): the first 1,500 digits scaled to [0, 1], the network
//! Conv(1->16, 3, pad 1) - SiLU - Conv(16->32, 3, stride 2, pad 1) - SiLU -
//! Conv(32->32, 3, stride 2, pad 1) - SiLU - Linear(128 -> 1), and one
//! step = K = 20 ULA steps (eps 0.01, noise 0.005) for 64 chains from
//! uniform noise, then the loss on a batch of 64 with the energy
//! regulariser 0.1 and one Adam step (1e-3). Timed in f32 and f64 passes
//! (steps per second); quality: MMD^2 between 297 samples of that chain
//! and the 297 held-out digits, after the run and before it.

use super::{digest, Record, SuiteCtx, Throughput};
use crate::error::{sampler_err, CliResult};
use dfdx::prelude::Cpu;
use ebm_core::energies::Activation;
use ebm_core::spec::Arithmetic;
use ebm_core::{chain_rng, setup_rng, Points};
use ebm_estimators::datasets::digits;
use ebm_estimators::eval::mmd::mmd_test;
use ebm_estimators::models::ConvEnergy;
use ebm_estimators::objectives::{ChainNegatives, Init, MaxLikelihood, NegativeSampler, Negatives};
use ebm_estimators::trainer::{train, TrainConfig};
use ebm_samplers::{Target, Ula};
use serde_json::json;

/// The convolutions (out channels, kernel, stride, padding).
const LAYERS: [(usize, usize, usize, usize); 3] = [(16, 3, 1, 1), (32, 3, 2, 1), (32, 3, 2, 1)];
/// Short-run chain: steps, ULA step size, noise scale.
const K: usize = 20;
const EPS: f64 = 0.01;
const NOISE: f64 = 0.005;

/// The short-run scheme: K ULA steps from uniform noise.
fn chain() -> CliResult<ChainNegatives<Ula>> {
    let scheme = Negatives::ShortRun {
        steps: K,
        init: Init::Uniform,
    };
    Ok(ChainNegatives::new(
        Ula::with_noise(EPS, NOISE).map_err(sampler_err)?,
        scheme,
    )?)
}

/// MMD^2 between 297 short-run samples of `model` and `held_out`.
fn sample_mmd(
    model: &ConvEnergy<f64, Cpu>,
    train_set: &Points,
    held_out: &Points,
    seed: u64,
) -> CliResult<f64> {
    let mut sampler = chain()?;
    sampler.prepare(train_set, seed)?;
    let batch = Points::from_vec(vec![0.0; held_out.as_slice().len()], 64)?;
    let x = sampler.negatives(Target::Continuous(model), &batch, &mut chain_rng(seed, 0))?;
    Ok(mmd_test(&x, held_out, None, 0, seed)?.mmd2)
}

/// Run the CONV rows.
pub fn run_conv(ctx: &SuiteCtx) -> CliResult<(Vec<Record>, Vec<String>)> {
    let (x, _) = digits();
    let scaled: Vec<f64> = x.as_slice().iter().map(|v| v / 16.0).collect();
    let train_set = Points::from_vec(scaled[..1500 * 64].to_vec(), 64)?;
    let held_out = Points::from_vec(scaled[1500 * 64..].to_vec(), 64)?;
    let init = |arithmetic: Arithmetic| -> CliResult<ConvEnergy<f64, Cpu>> {
        let dev = Cpu::default();
        let m = ConvEnergy::<f64, Cpu>::new(
            &dev,
            [1, 8, 8],
            &LAYERS,
            Activation::Silu,
            &mut setup_rng(ctx.seed),
        )?;
        Ok(ConvEnergy::from_core(
            &dev,
            &m.to_core().with_arithmetic(arithmetic),
        ))
    };
    let mmd_initial = sample_mmd(&init(Arithmetic::F64)?, &train_set, &held_out, ctx.seed + 3)?;
    let steps = if ctx.quick { 20 } else { 200 };
    let mut records = Vec::new();
    for (name, arithmetic) in [("f32", Arithmetic::F32), ("f64", Arithmetic::F64)] {
        let (model, timing) = ctx.timed(|| {
            let mut model = init(arithmetic)?;
            let mut ml = MaxLikelihood::new(chain()?).with_regulariser(0.1)?;
            let mut cfg = TrainConfig::steps(steps, 64, 1e-3);
            cfg.seed = ctx.seed + 1;
            train(&mut model, &mut ml, &train_set, &cfg, &mut |_: &_| {})?;
            Ok(model)
        })?;
        let mmd_after = sample_mmd(&model, &train_set, &held_out, ctx.seed + 3)?;
        let seconds = timing.median;
        let params: Vec<f64> = model.to_core().params().concat();
        records.push(Record {
            workload: "CONV".into(),
            method: format!("conv energy, short-run MLE K={K}, batch 64, {name} passes, {steps} steps"),
            seconds,
            throughput: Throughput {
                value: steps as f64 / seconds,
                unit: "steps/s".into(),
            },
            quality: json!({"mmd2_after": mmd_after, "mmd2_initial": mmd_initial, "steps": steps}),
            config: json!({"layers": LAYERS, "k": K, "eps": EPS, "noise": NOISE, "batch": 64, "lr": 1e-3,
                           "alpha": 0.1, "arithmetic": name, "steps": steps}),
            timing: Some(timing),
            summary: format!(
                "MMD^2 of short-run samples to held-out digits {mmd_after:.4} after {steps} steps (initial {mmd_initial:.4})"
            ),
            digest: Some(digest(&params)),
        });
    }
    Ok((records, vec![]))
}
