//! W1: ULA on the 8-Gaussian ring, 10,000 chains from N(0, 16 I), 1,000
//! steps of 0.01 (quick: 2,000 chains). Chain-steps per second; share of
//! final samples within 1.5 of a mode; occupancy of each mode. Run twice:
//! with the mixture in f64 arithmetic, and in f32
//! ([`Gmm::with_f32_arithmetic`]; the chains stay f64).

use super::{Record, SuiteCtx, Throughput};
use crate::error::sampler_err;
use crate::error::CliResult;
use crate::figure::{Figure, Scatter};
use crate::progress::Progress;
use ebm_core::energies::Gmm;
use ebm_core::{setup_rng, Energy, Points};
use ebm_samplers::driver::{run, RunConfig};
use ebm_samplers::Ula;
use rand_distr::{Distribution, StandardNormal};
use serde_json::json;

/// Run W1.
pub fn run_w1(ctx: &SuiteCtx) -> CliResult<(Vec<Record>, Vec<String>)> {
    let (f64_rec, plots) = run_ula(ctx, &Gmm::eight_gaussians(), true)?;
    let (f32_rec, _) = run_ula(ctx, &Gmm::eight_gaussians().with_f32_arithmetic(), false)?;
    Ok((vec![f64_rec, f32_rec], plots))
}

/// W1 on `gmm`, with the plot of the final states when `plot`.
fn run_ula(ctx: &SuiteCtx, gmm: &Gmm, plot: bool) -> CliResult<(Record, Vec<String>)> {
    let arithmetic = if gmm.f32_arithmetic() { "f32" } else { "f64" };
    let (chains, steps, eps) = (if ctx.quick { 2_000 } else { 10_000 }, 1_000, 0.01);
    let mut r = setup_rng(ctx.seed);
    let x0: Vec<f64> = (0..chains * 2)
        .map(|_| 4.0 * <StandardNormal as Distribution<f64>>::sample(&StandardNormal, &mut r))
        .collect();
    let cfg = RunConfig {
        warmup: 0,
        burn_in: steps - 1,
        draws: 1,
        thin: 1,
        adapt_step_size: false,
        adapt_mass: false,
        store_draws: true,
        seed: ctx.seed,
    };
    let (out, timing) = ctx.timed(|| {
        let mut ula = Ula::new(eps).map_err(sampler_err)?;
        run(
            &mut ula,
            gmm,
            Points::from_vec(x0.clone(), 2)?,
            &cfg,
            &mut Progress::new("W1 ULA"),
        )
        .map_err(sampler_err)
    })?;
    let seconds = timing.median;
    let x = out.chains.x.as_slice();
    let mut occupancy = [0usize; 8];
    let mut within = 0;
    for p in x.chunks_exact(2) {
        let (k, d) = (0..8)
            .map(|k| {
                let m = gmm.component_mean(k);
                (k, ((p[0] - m[0]).powi(2) + (p[1] - m[1]).powi(2)).sqrt())
            })
            .fold((0, f64::INFINITY), |a, b| if b.1 < a.1 { b } else { a });
        if d < 1.5 {
            within += 1;
            occupancy[k] += 1;
        }
    }
    let frac = within as f64 / chains as f64;
    let plots = if plot {
        plot_states(ctx, gmm, x, chains)?
    } else {
        vec![]
    };
    let rec = Record {
        workload: "W1".into(),
        method: if gmm.f32_arithmetic() {
            "ula, f32 arithmetic".into()
        } else {
            "ula".into()
        },
        seconds,
        throughput: Throughput {
            value: (chains * steps) as f64 / seconds,
            unit: "chain-steps/s".into(),
        },
        quality: json!({"frac_within_1p5": frac, "mode_occupancy": occupancy, "divergences": out.divergences.iter().sum::<usize>()}),
        config: json!({"chains": chains, "steps": steps, "step_size": eps, "init": "N(0, 16 I)", "arithmetic": arithmetic}),
        timing: Some(timing),
        summary: format!("{:.4} within 1.5 of a mode; occupancy {:?}", frac, occupancy),
        digest: Some(super::digest(x)),
    };
    Ok((rec, plots))
}

/// The final states `x` over the target density.
fn plot_states(ctx: &SuiteCtx, gmm: &Gmm, x: &[f64], chains: usize) -> CliResult<Vec<String>> {
    let circles = (0..8)
        .flat_map(|k| {
            let m = gmm.component_mean(k);
            [(m[0], m[1], 1.5)]
        })
        .collect();
    // the target density exp(-E) on an 80 x 80 grid behind the samples
    let (n, lo, hi) = (80usize, -7.0, 7.0);
    let h = (hi - lo) / n as f64;
    let grid: Vec<f64> = (0..n * n)
        .flat_map(|k| [lo + ((k % n) as f64 + 0.5) * h, lo + ((k / n) as f64 + 0.5) * h])
        .collect();
    let mut energies = vec![0.0; n * n];
    gmm.energy_batch(&grid, &mut energies);
    let density: Vec<f64> = energies.iter().map(|e| (-e).exp()).collect();
    let plots = ctx.write_plot(
        "w1_ula_samples",
        &Figure::Scatter {
            panels: vec![Scatter {
                points: x,
                lo,
                hi,
                title: format!("W1: ULA final states ({chains} chains) over the target density"),
                circles,
                vlines: vec![],
                background: Some((n, density)),
                contours: vec![],
            }],
            size: 460,
        },
    )?;
    Ok(plots)
}
