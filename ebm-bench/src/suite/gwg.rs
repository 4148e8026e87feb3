//! GWG: Gibbs-with-gradients against plain site Gibbs on a frustrated
//! pairwise model, a 10 x 10 periodic +-J spin glass (Edwards-Anderson:
//! each bond's sign from the set-up stream of seed 7, |J| = 0.8, no
//! field; spins +-1). 64 chains from uniform random states; Gibbs runs
//! 200 burn-in sweeps and 2,000 kept ones, GwG (100 proposals a step, one
//! per site as a sweep has) 200 and 2,000 steps (quick: 8 chains, 50 +
//! 200). The timed region is the whole run.
//!
//! Figure of merit: the ESS of the magnetisation m = mean_i s_i (split
//! chains, Stan's estimator) per second and per sweep (a GwG step of 100
//! proposals counting as one), and GwG's acceptance.

use super::{Record, SuiteCtx, Throughput};
use crate::error::{sampler_err, CliResult};
use ebm_core::energies::{Pairwise, Spins};
use ebm_samplers::diagnostics::ess_mean;
use ebm_samplers::driver::run_binary;
use ebm_samplers::gibbs::Gibbs;
use ebm_samplers::gwg::Gwg;
use ebm_samplers::Kernel;
use rand::Rng;
use serde_json::json;

/// The 10 x 10 periodic +-J glass.
fn glass() -> CliResult<Pairwise> {
    let side = 10;
    let mut r = ebm_core::setup_rng(7);
    let mut couplings = Vec::new();
    for row in 0..side {
        for col in 0..side {
            let i = row * side + col;
            for j in [row * side + (col + 1) % side, ((row + 1) % side) * side + col] {
                let sign = if r.random::<bool>() { 1.0 } else { -1.0 };
                couplings.push((i, j, 0.8 * sign));
            }
        }
    }
    Ok(Pairwise::new(
        side * side,
        Spins::Pm1,
        couplings,
        vec![0.0; side * side],
    )?)
}

/// Run the GWG workload.
pub fn run_gwg(ctx: &SuiteCtx) -> CliResult<(Vec<Record>, Vec<String>)> {
    let model = glass()?;
    let n = model.n();
    let (chains, burn_in, draws) = if ctx.quick { (8, 50, 200) } else { (64, 200, 2000) };
    let kernels: [(&str, Box<dyn Kernel>); 2] = [
        ("site gibbs (chains in SIMD lanes)", Box::new(Gibbs::site())),
        (
            "gibbs-with-gradients, 100 proposals a step",
            Box::new(Gwg::new(n).map_err(sampler_err)?),
        ),
    ];
    let mut records = Vec::new();
    for (name, mut kernel) in kernels {
        let (out, timing) = ctx.timed(|| {
            run_binary(&mut kernel, &model, chains, burn_in, draws, 1, ctx.seed).map_err(sampler_err)
        })?;
        let seconds = timing.median;
        let series: Vec<Vec<f64>> = (0..chains)
            .map(|c| {
                (0..draws)
                    .map(|t| out.draws[(t * chains + c) * n..][..n].iter().sum::<f64>() / n as f64)
                    .collect()
            })
            .collect();
        let ess = ess_mean(&series);
        let acceptance = out.acceptance.iter().sum::<f64>() / chains as f64;
        let sweeps = ((burn_in + draws) * chains) as f64;
        records.push(Record {
            workload: "GWG".into(),
            method: format!("{name}, 10x10 +-J glass, {chains} chains x {draws} draws"),
            seconds,
            throughput: Throughput {
                value: ess / seconds,
                unit: "magnetisation-ESS/s".into(),
            },
            quality: json!({"magnetisation_ess": ess, "ess_per_sweep": ess / sweeps,
                            "acceptance": acceptance, "sweeps_per_s": sweeps / seconds}),
            config: json!({"chains": chains, "burn_in": burn_in, "draws": draws, "lattice": "10x10 periodic",
                           "coupling": "+-0.8, signs from seed 7", "kernel": kernel.settings()}),
            timing: Some(timing),
            summary: format!(
                "magnetisation ESS {ess:.0} ({:.4} per sweep), acceptance {acceptance:.3}, {:.3e} sweeps/s",
                ess / sweeps,
                sweeps / seconds
            ),
            digest: Some(super::digest(&out.draws)),
        });
    }
    Ok((records, vec![]))
}
