//! W2: HMC on the 100-D Gaussian with covariance 0.9^|i-j|; 64 chains from
//! N(0, I), 10 leapfrog steps of 0.1 (fixed, no adaptation), 500 warm-up
//! then 2,000 draws (quick: 16 chains, 100 + 400). Nominal gradient
//! evaluations per second, acceptance, min and median ESS, ESS per second.

use super::{Record, SuiteCtx, Throughput};
use crate::cmd::sample::sampler_err;
use crate::error::CliResult;
use crate::progress::Progress;
use ebm_core::energies::Gaussian;
use ebm_core::{setup_rng, Points};
use ebm_samplers::driver::{run, RunConfig};
use ebm_samplers::Hmc;
use rand_distr::{Distribution, StandardNormal};
use serde_json::json;

/// Run W2.
pub fn run_w2(ctx: &SuiteCtx) -> CliResult<(Vec<Record>, Vec<String>)> {
    let d: usize = 100;
    let cov: Vec<f64> = (0..d * d)
        .map(|k| 0.9f64.powi((k / d).abs_diff(k % d) as i32))
        .collect();
    let g = Gaussian::from_covariance(vec![0.0; d], &cov)?;
    let (chains, warmup, draws) = if ctx.quick {
        (16, 100, 400)
    } else {
        (64, 500, 2000)
    };
    let (eps, leapfrog) = (0.1, 10);
    let mut r = setup_rng(ctx.seed);
    let x0: Vec<f64> = (0..chains * d)
        .map(|_| <StandardNormal as Distribution<f64>>::sample(&StandardNormal, &mut r))
        .collect();
    let cfg = RunConfig {
        warmup,
        burn_in: 0,
        draws,
        thin: 1,
        adapt_step_size: false,
        adapt_mass: false,
        store_draws: true,
        seed: ctx.seed,
    };
    let (out, timing) = ctx.timed(|| {
        let mut hmc = Hmc::new(eps, leapfrog).map_err(sampler_err)?;
        run(
            &mut hmc,
            &g,
            Points::from_vec(x0.clone(), d)?,
            &cfg,
            &mut Progress::new("W2 HMC"),
        )
        .map_err(sampler_err)
    })?;
    let seconds = timing.median;
    let diag = out.diagnostics();
    let acc = out.acceptance.iter().sum::<f64>() / chains as f64;
    let (ess_min, ess_med) = (diag.ess_min(), diag.ess_median());
    let grads = (chains * (warmup + draws) * leapfrog) as f64;
    let rec = Record {
        workload: "W2".into(),
        method: "hmc".into(),
        seconds,
        throughput: Throughput {
            value: grads / seconds,
            unit: "grad-evals/s".into(),
        },
        quality: json!({"acceptance": acc, "ess_min": ess_min, "ess_median": ess_med,
                        "min_ess_per_s": ess_min / seconds, "rhat_max": diag.rhat_max(),
                        "divergences": out.divergences.iter().sum::<usize>()}),
        config: json!({"chains": chains, "warmup": warmup, "draws": draws, "step_size": eps, "leapfrog": leapfrog}),
        timing: Some(timing),
        summary: format!(
            "acceptance {acc:.3}; ESS min {ess_min:.0}, median {ess_med:.0}; {:.0} min-ESS/s",
            ess_min / seconds
        ),
    };
    Ok((vec![rec], vec![]))
}
