//! PT: parallel tempering on a 10-D mixture of four well separated
//! Gaussians with unequal weights (means +-5 e_1 and +-5 e_2, 7.1 apart,
//! sd 0.5, weights 0.4, 0.3, 0.2, 0.1; a chain must cross a barrier of
//! about 25 nats to change mode). 16 chains all start in the lightest
//! mode; HMC (10 leapfrog steps) at each of 10 temperatures from the
//! N(0, 4^2 I) reference, the adaptive ladder, 1,000 warm-up scans then
//! 2,000 kept ones (quick: 8 chains, 300 + 500). The timed region is the
//! whole run. HMC alone, with the same budget of kept draws per chain and
//! the same start, is the baseline.
//!
//! Quality: each mode's share of the target chains' draws against its
//! exact weight (the largest absolute error, and in Monte Carlo standard
//! errors sqrt(w (1 - w) / ESS) with the ESS of the mode's indicator), the
//! smallest indicator ESS per second of sampling (the rate at which the
//! weights' error shrinks: error^2 ~ w (1 - w) / (ESS/s x s)), swap rates,
//! round trips and the estimated barrier.

use super::{Record, SuiteCtx, Throughput};
use crate::error::{sampler_err, CliResult};
use crate::progress::Progress;
use ebm_core::energies::{DiagGaussian, Gmm};
use ebm_core::{Energy, Points};
use ebm_samplers::diagnostics::class_shares;
use ebm_samplers::driver::{run, RunConfig, Silent, Start};
use ebm_samplers::tempering::{run_pt, LadderKind, PtConfig, Reference};
use ebm_samplers::{Hmc, Kernel, Target};
use serde_json::json;

/// The mixture, its modes' exact weights, and the index of the lightest.
fn mixture() -> CliResult<(Gmm, Vec<f64>)> {
    let axis = |j: usize, s: f64| {
        (0..10)
            .map(|i| if i == j { s } else { 0.0 })
            .collect::<Vec<f64>>()
    };
    let means = vec![axis(0, 5.0), axis(0, -5.0), axis(1, 5.0), axis(1, -5.0)];
    let w = vec![0.4, 0.3, 0.2, 0.1];
    Ok((Gmm::new(w.clone(), means, vec![0.5; 4])?, w))
}

/// (largest |share - w|, largest in standard errors, smallest indicator ESS).
fn weight_errors(mix: &Gmm, w: &[f64], draws: &[f64], n: usize, m: usize) -> (f64, f64, f64) {
    let labels: Vec<usize> = draws
        .chunks_exact(mix.dim())
        .map(|x| mix.component_of(x))
        .collect();
    class_shares(&labels, n, m, w.len()).iter().zip(w).fold(
        (0.0f64, 0.0f64, f64::INFINITY),
        |(e, z, ess), (&(share, s_ess), &wk)| {
            let err = (share - wk).abs();
            // a mode never visited has no ESS of its own: count its error only
            let se = (wk * (1.0 - wk) / s_ess).sqrt();
            (
                e.max(err),
                if se > 0.0 { z.max(err / se) } else { f64::INFINITY },
                ess.min(s_ess),
            )
        },
    )
}

/// Run the PT workload.
pub fn run_pt_workload(ctx: &SuiteCtx) -> CliResult<(Vec<Record>, Vec<String>)> {
    let (mix, w) = mixture()?;
    let d = mix.dim();
    let (chains, warmup, draws, replicas) = if ctx.quick {
        (8, 300, 500, 10)
    } else {
        (16, 1000, 2000, 10)
    };
    let x0: Vec<f64> = (0..chains).flat_map(|_| mix.component_mean(3).to_vec()).collect();
    let base = DiagGaussian::new(vec![0.0; d], vec![4.0; d])?;
    let cfg = PtConfig {
        run: RunConfig {
            warmup,
            draws,
            seed: ctx.seed,
            ..Default::default()
        },
        replicas,
        ladder: LadderKind::Adaptive,
        beta_min: 0.01,
        swap_every: 1,
    };
    let make = || Ok(Box::new(Hmc::new(0.2, 10)?) as Box<dyn Kernel>);
    let (out, timing) = ctx.timed(|| {
        run_pt(
            &make,
            Target::Continuous(&mix),
            Reference::Base(&base),
            Start::Points(Points::from_vec(x0.clone(), d)?),
            &cfg,
            &mut Progress::new("PT"),
        )
        .map_err(sampler_err)
    })?;
    let seconds = timing.median;
    let (err, err_se, ess) = weight_errors(&mix, &w, &out.run.draws, draws, chains);
    let r = &out.report;
    // HMC alone from the same start and the same kept draws
    let alone = run(
        &mut Hmc::new(0.2, 10).map_err(sampler_err)?,
        &mix,
        Points::from_vec(x0.clone(), d)?,
        &cfg.run,
        &mut Silent,
    )
    .map_err(sampler_err)?;
    let (alone_err, _, _) = weight_errors(&mix, &w, &alone.draws, draws, chains);
    let trips: u64 = r.round_trips.iter().sum();
    Ok((
        vec![Record {
            workload: "PT".into(),
            method: format!("pt, hmc x {replicas} temperatures, adaptive ladder"),
            seconds,
            throughput: Throughput {
                value: r.grad_evals as f64 / seconds,
                unit: "grad-evals/s".into(),
            },
            quality: json!({
                "max_weight_err": err, "max_weight_err_se": err_se, "indicator_ess_min": ess,
                "indicator_ess_per_s": ess / seconds, "hmc_alone_max_weight_err": alone_err,
                "swap_rates": r.swap_rates, "barrier": r.barrier, "round_trips": trips,
                "round_trip_rate": r.round_trip_rate, "predicted_round_trip_rate": r.predicted_round_trip_rate,
                "round_trip_rate_limit": r.round_trip_rate_limit,
                "betas": r.betas, "grad_evals": r.grad_evals,
            }),
            config: json!({"chains": chains, "warmup": warmup, "draws": draws, "replicas": replicas,
                           "inner": "hmc", "leapfrog": 10, "reference": "N(0, 16 I)", "dim": d,
                           "weights": w}),
            timing: Some(timing),
            summary: format!(
                "mode weights within {err:.4} ({err_se:.2} SE; HMC alone {alone_err:.2}); indicator ESS {ess:.0}, {:.0}/s; swap rates {:.2}-{:.2}, Lambda {:.2}, {trips} round trips",
                ess / seconds,
                r.swap_rates.iter().copied().fold(f64::INFINITY, f64::min),
                r.swap_rates.iter().copied().fold(f64::NEG_INFINITY, f64::max),
                r.barrier,
            ),
            digest: Some(super::digest(&out.run.draws)),
        }],
        vec![],
    ))
}
