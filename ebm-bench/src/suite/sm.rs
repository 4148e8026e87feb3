//! SM: the score-matching objectives side by side on W5's MLP
//! (2-128-128-1, SiLU, PyTorch-style init) and data (100,000 points of
//! the W1 mixture), batch 512, Adam 1e-3: denoising (sigma 0.3), sliced
//! (one Gaussian direction per datum, variance-reduced, central
//! differences of the score) and exact (the hand-written second-order
//! pass) score matching. Timed: a short run of each (steps per second);
//! quality: the held-out NLL after it, on W5's grid, beside the initial
//! model's.

use super::w5::nll;
use super::{digest, Record, SuiteCtx, Throughput};
use crate::error::CliResult;
use dfdx::prelude::Cpu;
use ebm_core::energies::Activation;
use ebm_core::setup_rng;
use ebm_estimators::datasets::eight_gaussians;
use ebm_estimators::models::MlpEnergy;
use ebm_estimators::objectives::{
    CapabilityObjective, Dsm, ExactScoreMatching, Projection, SlicedScoreMatching,
};
use ebm_estimators::trainer::{train, TrainConfig};
use serde_json::json;

/// Run the SM rows.
pub fn run_sm(ctx: &SuiteCtx) -> CliResult<(Vec<Record>, Vec<String>)> {
    let data = eight_gaussians(100_000, ctx.seed)?;
    let test = eight_gaussians(10_000, ctx.seed + 1)?;
    let init = || {
        MlpEnergy::<f64, Cpu>::new(
            &Cpu::default(),
            &[2, 128, 128, 1],
            Activation::Silu,
            &mut setup_rng(ctx.seed),
        )
    };
    let (nll_init, _) = nll(&init()?.to_core(), &test)?;
    let scale = if ctx.quick { 10 } else { 1 };
    let mut records = Vec::new();
    for (name, steps) in [("dsm", 500 / scale), ("ssm", 500 / scale), ("esm", 50 / scale)] {
        let (model, timing) = ctx.timed(|| {
            let mut model = init()?;
            let mut cfg = TrainConfig::steps(steps, 512, 1e-3);
            cfg.seed = ctx.seed + 1;
            let quiet = &mut |_: &_| {};
            match name {
                "dsm" => fit(&mut model, &mut Dsm::new(0.3)?, &data, &cfg, quiet)?,
                "ssm" => fit(
                    &mut model,
                    &mut SlicedScoreMatching::new(Projection::Gaussian, 1, true, 1e-3)?,
                    &data,
                    &cfg,
                    quiet,
                )?,
                _ => fit(&mut model, &mut ExactScoreMatching::new(), &data, &cfg, quiet)?,
            }
            Ok(model)
        })?;
        let core = model.to_core();
        let (nll_after, _) = nll(&core, &test)?;
        let seconds = timing.median;
        let params: Vec<f64> = core
            .layers()
            .iter()
            .flat_map(|l| l.w.iter().chain(&l.b).copied())
            .collect();
        records.push(Record {
            workload: "SM".into(),
            method: format!("{name}, W5's MLP, batch 512, {steps} steps"),
            seconds,
            throughput: Throughput {
                value: steps as f64 / seconds,
                unit: "steps/s".into(),
            },
            quality: json!({"nll_after": nll_after, "nll_initial": nll_init, "steps": steps}),
            config: json!({"objective": name, "steps": steps, "batch": 512, "lr": 1e-3}),
            timing: Some(timing),
            summary: format!("held-out NLL {nll_after:.3} after {steps} steps (initial {nll_init:.3})"),
            digest: Some(digest(&params)),
        });
    }
    Ok((records, vec![]))
}

/// Train `model` by `objective` under `cfg`.
fn fit<O: CapabilityObjective>(
    model: &mut MlpEnergy<f64, Cpu>,
    objective: &mut O,
    data: &ebm_core::Points,
    cfg: &TrainConfig,
    observer: &mut (dyn ebm_estimators::trainer::TrainObserver + Send),
) -> CliResult<()> {
    train(model, objective, data, cfg, observer)?;
    Ok(())
}
