//! W2: HMC on the 100-D Gaussian with covariance 0.9^|i-j|; 64 chains from
//! N(0, I), 10 leapfrog steps of 0.1 (fixed, no adaptation), 500 warm-up
//! then 2,000 draws (quick: 16 chains, 100 + 400). Nominal gradient
//! evaluations per second, acceptance, min and median ESS, ESS per second.
//!
//! Run three times: with the dense precision (the workload as the peers
//! run it: one 100 x 100 matrix-vector product per gradient), in f64 and
//! with that product in f32 ([`Gaussian::with_f32_arithmetic`]; the
//! chains, the leapfrog and the accept step stay f64), then with the same
//! distribution written as what it is, an AR(1) chain whose precision is
//! tridiagonal ([`BandedGaussian::ar1`], 5 flops per coordinate per
//! gradient), reported as a separate row.

use super::{Record, SuiteCtx, Throughput};
use crate::error::sampler_err;
use crate::error::CliResult;
use crate::progress::Progress;
use ebm_core::energies::{BandedGaussian, Gaussian};
use ebm_core::Energy;
use ebm_core::{setup_rng, Points};
use ebm_samplers::diagnostics::{coordinate_series, ess};
use ebm_samplers::driver::{run, RunConfig};
use ebm_samplers::Hmc;
use rand_distr::{Distribution, StandardNormal};
use serde_json::json;

/// The dimension of W2's target.
pub const W2_DIM: usize = 100;

/// W2's target (also W7's): the 100-D Gaussian with covariance
/// 0.9^|i-j| and mean 0, through its dense precision.
pub fn w2_gaussian() -> CliResult<Gaussian> {
    ar1_gaussian(W2_DIM)
}

/// The Gaussian in dimension `d` with covariance 0.9^|i-j| and mean 0,
/// through its dense precision (a gradient costs d^2 multiply-adds): W2's
/// target at d = 100, and the cost curves' at every d.
pub fn ar1_gaussian(d: usize) -> CliResult<Gaussian> {
    let cov: Vec<f64> = (0..d * d)
        .map(|k| 0.9f64.powi((k / d).abs_diff(k % d) as i32))
        .collect();
    Ok(Gaussian::from_covariance(vec![0.0; d], &cov)?)
}

/// `chains` starting points from N(0, I) in dimension `d`, from the
/// suite's setup stream for `seed` (W2's and W7's).
pub fn start_points(chains: usize, d: usize, seed: u64) -> Vec<f64> {
    let mut r = setup_rng(seed);
    (0..chains * d)
        .map(|_| <StandardNormal as Distribution<f64>>::sample(&StandardNormal, &mut r))
        .collect()
}

/// Run W2.
pub fn run_w2(ctx: &SuiteCtx) -> CliResult<(Vec<Record>, Vec<String>)> {
    let (g, d) = (w2_gaussian()?, W2_DIM);
    let (chains, warmup, draws) = if ctx.quick {
        (16, 100, 400)
    } else {
        (64, 500, 2000)
    };
    let (eps, leapfrog) = (0.1, 10);
    let x0 = start_points(chains, d, ctx.seed);
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
    let dense = hmc_record(ctx, &g, "hmc", "dense", &x0, &cfg, eps, leapfrog)?;
    let dense32 = hmc_record(
        ctx,
        &g.with_f32_arithmetic(),
        "hmc, f32 products",
        "dense",
        &x0,
        &cfg,
        eps,
        leapfrog,
    )?;
    let banded = BandedGaussian::ar1(vec![0.0; d], 0.9, 1.0)?;
    let tridiagonal = hmc_record(
        ctx,
        &banded,
        "hmc, tridiagonal precision",
        "tridiagonal",
        &x0,
        &cfg,
        eps,
        leapfrog,
    )?;
    Ok((vec![dense, dense32, tridiagonal], vec![]))
}

/// One timed HMC run on `target` and its record.
/// The smallest over coordinates of the peers' ESS estimator (BlackJAX's
/// `effective_sample_size`: Stan's, on the chains as they are, not split)
/// of `draws` (`n_draws` per chain, chain-major, `d` values each), so that
/// the compare script sets like against like.
pub(super) fn min_ess_unsplit(draws: &[f64], n_draws: usize, chains: usize, d: usize) -> f64 {
    (0..d)
        .map(|j| ess(&coordinate_series(draws, n_draws, chains, d, j)))
        .fold(f64::INFINITY, f64::min)
}

#[allow(clippy::too_many_arguments)]
fn hmc_record<E: Energy + Arithmetic>(
    ctx: &SuiteCtx,
    target: &E,
    method: &str,
    precision: &str,
    x0: &[f64],
    cfg: &RunConfig,
    eps: f64,
    leapfrog: usize,
) -> CliResult<Record> {
    let d = target.dim();
    let chains = x0.len() / d;
    let (out, timing) = ctx.timed(|| {
        let mut hmc = Hmc::new(eps, leapfrog).map_err(sampler_err)?;
        run(
            &mut hmc,
            target,
            Points::from_vec(x0.to_vec(), d)?,
            cfg,
            &mut Progress::new(match (precision, target.arithmetic()) {
                ("dense", "f64") => "W2 HMC",
                ("dense", _) => "W2 HMC (f32 products)",
                _ => "W2 HMC (tridiagonal)",
            }),
        )
        .map_err(sampler_err)
    })?;
    let seconds = timing.median;
    let diag = out.diagnostics();
    let acc = out.acceptance.iter().sum::<f64>() / chains as f64;
    let (ess_min, ess_med) = (diag.ess_min(), diag.ess_median());
    let unsplit = min_ess_unsplit(&out.draws, out.n_draws, chains, d);
    let grads = (chains * (cfg.warmup + cfg.draws) * leapfrog) as f64;
    Ok(Record {
        workload: "W2".into(),
        method: method.into(),
        seconds,
        throughput: Throughput {
            value: grads / seconds,
            unit: "grad-evals/s".into(),
        },
        quality: json!({"acceptance": acc, "ess_min": ess_min, "ess_median": ess_med,
                        "ess_min_unsplit": unsplit,
                        "min_ess_per_s": ess_min / seconds, "rhat_max": diag.rhat_max(),
                        "divergences": out.divergences.iter().sum::<usize>()}),
        config: json!({"chains": chains, "warmup": cfg.warmup, "draws": cfg.draws, "step_size": eps,
                       "leapfrog": leapfrog, "precision": precision, "arithmetic": target.arithmetic()}),
        timing: Some(timing),
        summary: format!(
            "{precision} precision, {} products: acceptance {acc:.3}; ESS min {ess_min:.0}, median {ess_med:.0}; {:.0} min-ESS/s",
            target.arithmetic(),
            ess_min / seconds
        ),
        digest: Some(super::digest(out.chains.x.as_slice())),
    })
}

/// The arithmetic of a W2 target's gradient, for the records.
trait Arithmetic {
    /// `"f64"` or `"f32"`.
    fn arithmetic(&self) -> &'static str;
}

impl Arithmetic for Gaussian {
    fn arithmetic(&self) -> &'static str {
        if self.f32_arithmetic() {
            "f32"
        } else {
            "f64"
        }
    }
}

impl Arithmetic for BandedGaussian {
    fn arithmetic(&self) -> &'static str {
        "f64"
    }
}
