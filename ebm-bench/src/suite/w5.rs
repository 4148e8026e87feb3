//! W5: denoising score matching of an MLP energy (2-128-128-1, SiLU) on
//! 100,000 points of the W1 mixture: sigma 0.3, Adam 1e-3, batch 512 drawn
//! with replacement, 5,000 steps (quick: 300), PyTorch-style init, f64.
//! Quality: held-out NLL on 10,000 fresh mixture points, with log Z by the
//! midpoint rule on 400 x 400 cells over [-8, 8]^2, beside the true
//! mixture's NLL. Timed: the training loop (steps per second).

use super::{Record, SuiteCtx, Throughput};
use crate::error::CliResult;
use crate::figure::Figure;
use crate::progress::Progress;
use dfdx::prelude::Cpu;
use ebm_core::energies::{Activation, Gmm};
use ebm_core::quadrature::log_partition_grid;
use ebm_core::{setup_rng, Energy, Points};
use ebm_estimators::datasets::eight_gaussians;
use ebm_estimators::models::MlpEnergy;
use ebm_estimators::objectives::Dsm;
use ebm_estimators::trainer::{train, StepReport, TrainConfig};
use serde_json::json;

/// (mean NLL of `test`, log Z) under exp(-E)/Z on the W5 grid.
pub(super) fn nll<E: Energy>(e: &E, test: &Points) -> CliResult<(f64, f64)> {
    let log_z = log_partition_grid(e, &[-8.0, -8.0], &[8.0, 8.0], 400)?;
    let mut en = vec![0.0; test.len()];
    e.energy_batch(test.as_slice(), &mut en);
    Ok((en.iter().sum::<f64>() / test.len() as f64 + log_z, log_z))
}

/// Density exp(-E)/Z on an n x n grid over [-lim, lim]^2 (row i is y).
fn density<E: Energy>(e: &E, log_z: f64, n: usize, lim: f64) -> Vec<f64> {
    let h = 2.0 * lim / n as f64;
    let mut pts = Vec::with_capacity(2 * n * n);
    for i in 0..n {
        for j in 0..n {
            pts.extend([-lim + (j as f64 + 0.5) * h, -lim + (i as f64 + 0.5) * h]);
        }
    }
    let mut en = vec![0.0; n * n];
    e.energy_batch(&pts, &mut en);
    en.iter().map(|v| (-v - log_z).exp()).collect()
}

/// Train the W5 MLP in precision `F` (f64, or f32 for the fused kernel's
/// matrix products): (the trained reference MLP, tail loss).
fn train_w5<F: ebm_estimators::Real>(
    ctx: &SuiteCtx,
    data: &Points,
    steps: usize,
    label: &'static str,
) -> CliResult<(ebm_core::energies::Mlp, f64)>
where
    Cpu: dfdx::prelude::Device<F>,
{
    let dev = Cpu::default();
    let mut model = MlpEnergy::<F, Cpu>::new(
        &dev,
        &[2, 128, 128, 1],
        Activation::Silu,
        &mut setup_rng(ctx.seed),
    )?;
    let mut cfg = TrainConfig::steps(steps, 512, 1e-3);
    cfg.seed = ctx.seed + 1;
    let mut dsm = Dsm::new(0.3)?;
    let mut bar = Progress::new(label);
    let mut obs = |r: &StepReport| bar.tick(r.step + 1, r.total);
    let summary = train(&mut model, &mut dsm, data, &cfg, &mut obs)?;
    Ok((model.to_core(), summary.mean_loss_tail))
}

/// Run W5: in f64 (the peers' precision), and with f32 matrix products.
pub fn run_w5(ctx: &SuiteCtx) -> CliResult<(Vec<Record>, Vec<String>)> {
    let steps = if ctx.quick { 300 } else { 5000 };
    let data = eight_gaussians(100_000, ctx.seed)?;
    let test = eight_gaussians(10_000, ctx.seed + 1)?;
    let truth = Gmm::eight_gaussians();
    let (nll_true, _) = nll(&truth, &test)?;
    let smoothed = Gmm::new(
        vec![0.125; 8],
        (0..8).map(|k| truth.component_mean(k).to_vec()).collect(),
        vec![(0.25f64 + 0.09).sqrt(); 8],
    )?;
    let (nll_smoothed, _) = nll(&smoothed, &test)?;
    let mut records = Vec::new();
    let mut plots = Vec::new();
    for precision in ["f64", "f32"] {
        let ((learned, tail), timing) = ctx.timed(|| match precision {
            "f64" => train_w5::<f64>(ctx, &data, steps, "W5 DSM f64"),
            _ => train_w5::<f32>(ctx, &data, steps, "W5 DSM f32"),
        })?;
        let seconds = timing.median;
        let (nll_learned, log_z) = nll(&learned, &test)?;
        if precision == "f64" {
            // 64 x 64 cells keep the SVG near 250 kB
            let n = 64;
            plots = ctx.write_plot(
                "w5_density",
                &Figure::Heatmaps {
                    panels: vec![
                        (
                            format!("W5: learned (DSM, {steps} steps)"),
                            density(&learned, log_z, n, 6.0),
                        ),
                        ("true mixture".into(), density(&truth, 0.0, n, 6.0)),
                    ],
                    n,
                    lo: -6.0,
                    hi: 6.0,
                },
            )?;
        }
        records.push(Record {
            workload: "W5".into(),
            method: format!("dsm sigma 0.3, mlp 2-128-128-1 silu, adam 1e-3, batch 512, {precision}"),
            seconds,
            throughput: Throughput {
                value: steps as f64 / seconds,
                unit: "steps/s".into(),
            },
            quality: json!({"nll_test": nll_learned, "nll_true_mixture": nll_true,
                            "nll_sigma_smoothed_mixture": nll_smoothed, "log_z_grid": log_z,
                            "final_loss_mean_last_100": tail}),
            config: json!({"steps": steps, "batch": 512, "sigma": 0.3, "lr": 1e-3, "widths": [2, 128, 128, 1],
                           "activation": "silu", "train_points": 100_000, "test_points": 10_000,
                           "grid": "400x400 midpoint on [-8,8]^2",
                           "precision": if precision == "f64" { "f64" } else { "f32 matrix products and work buffers; f64 parameters, loss and Adam" },
                           "backend": "fused host kernel (faer)"}),
            timing: Some(timing),
            summary: format!(
                "held-out NLL {nll_learned:.4} (true mixture {nll_true:.4}, sigma-smoothed {nll_smoothed:.4})"
            ),
            digest: Some(super::digest(
                &learned
                    .layers()
                    .iter()
                    .flat_map(|l| l.w.iter().chain(&l.b).copied())
                    .collect::<Vec<_>>(),
            )),
        });
    }
    Ok((records, plots))
}
