//! W7: NUTS on W2's 100-D Gaussian (covariance 0.9^|i-j|, dense
//! precision), 8 chains from N(0, I), 1,000 tuning iterations (dual
//! averaging to an acceptance statistic of 0.8, Stan's windowed diagonal
//! metric) then 1,000 kept draws, maximum depth 10 (quick: 4 chains,
//! 200 + 200). The timed region is the whole tune + sample run, as the
//! peers time theirs (BlackJAX NUTS, nuts-rs).
//!
//! Quality: min and median ESS for the mean (Stan's estimator on split
//! chains), the min ESS on the chains as they are (the peers' estimator,
//! BlackJAX's `effective_sample_size`), min bulk ESS, min-ESS per second and per 1,000 gradient
//! evaluations, the largest error of the means in units of the standard
//! deviation and of the variances, divergences, mean tree depth and
//! leapfrog steps per draw.

use super::w2::{min_ess_unsplit, start_points, w2_gaussian, W2_DIM};
use super::{Record, SuiteCtx, Throughput};
use crate::error::{sampler_err, CliResult};
use crate::progress::Progress;
use ebm_core::Points;
use ebm_samplers::driver::{run, RunConfig};
use ebm_samplers::Nuts;
use serde_json::json;

/// Run W7.
pub fn run_w7(ctx: &SuiteCtx) -> CliResult<(Vec<Record>, Vec<String>)> {
    let (g, d) = (w2_gaussian()?, W2_DIM);
    let (chains, warmup, draws) = if ctx.quick { (4, 200, 200) } else { (8, 1000, 1000) };
    let x0 = start_points(chains, d, ctx.seed);
    let cfg = RunConfig {
        warmup,
        burn_in: 0,
        draws,
        thin: 1,
        adapt_step_size: true,
        adapt_mass: true,
        store_draws: true,
        seed: ctx.seed,
    };
    let (out, timing) = ctx.timed(|| {
        let mut nuts = Nuts::new(0.1).map_err(sampler_err)?;
        run(
            &mut nuts,
            &g,
            Points::from_vec(x0.clone(), d)?,
            &cfg,
            &mut Progress::new("W7 NUTS"),
        )
        .map_err(sampler_err)
    })?;
    let seconds = timing.median;
    let diag = out.diagnostics();
    let (ess_min, ess_med) = (diag.ess_min(), diag.ess_median());
    let unsplit = min_ess_unsplit(&out.draws, out.n_draws, chains, d);
    // gradient evaluations of the whole run (tuning included), all chains
    let grads = out.chains.grad_evals_total.iter().sum::<u64>() as f64;
    let per_chain_mean = |name: &str| {
        out.figure_means(name)
            .map_or(f64::NAN, |v| v.iter().sum::<f64>() / v.len() as f64)
    };
    let (depth, leapfrog) = (per_chain_mean("depth"), per_chain_mean("leapfrog"));
    let (mean, covariance) = out.moments();
    let mean_err = (0..d).map(|j| mean[j].abs()).fold(0.0, f64::max);
    let var_err = (0..d)
        .map(|j| (covariance[j * d + j] - 1.0).abs())
        .fold(0.0, f64::max);
    let acc = out.acceptance.iter().sum::<f64>() / chains as f64;
    let divergences: usize = out.divergences.iter().sum();
    Ok((
        vec![Record {
            workload: "W7".into(),
            method: "nuts, diagonal metric".into(),
            seconds,
            throughput: Throughput {
                value: grads / seconds,
                unit: "grad-evals/s".into(),
            },
            quality: json!({
                "acceptance": acc, "ess_min": ess_min, "ess_median": ess_med,
                "ess_bulk_min": diag.ess_bulk_min(), "rhat_max": diag.rhat_max(),
                "min_ess_per_s": ess_min / seconds, "min_ess_per_1k_grads": 1000.0 * ess_min / grads,
                "ess_min_unsplit": unsplit, "min_ess_unsplit_per_s": unsplit / seconds,
                "min_ess_unsplit_per_1k_grads": 1000.0 * unsplit / grads,
                "grad_evals": grads, "mean_depth": depth, "leapfrog_per_draw": leapfrog,
                "max_abs_mean_err_sd": mean_err, "max_abs_var_err": var_err,
                "divergences": divergences, "warmup_divergences": out.warmup_divergences,
                "step_size": out.step_size,
            }),
            config: json!({"chains": chains, "warmup": warmup, "draws": draws, "max_depth": 10,
                           "target_accept": 0.8, "metric": "diag"}),
            timing: Some(timing),
            summary: format!(
                "ESS min {ess_min:.0}, median {ess_med:.0}; {:.0} min-ESS/s, {:.2} per 1k grads; depth {depth:.2}, {leapfrog:.1} leapfrog/draw; mean err {mean_err:.3} sd, var err {var_err:.3}",
                ess_min / seconds,
                1000.0 * ess_min / grads
            ),
            digest: Some(super::digest(out.chains.x.as_slice())),
        }],
        vec![],
    ))
}
