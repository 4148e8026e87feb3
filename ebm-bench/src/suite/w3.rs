//! W3: AIS log Z of the 64x20 Bernoulli RBM (the peers' parameters,
//! W = 0.5 N(0, 1), b, c = 0.1 N(0, 1), numpy PCG64 seed 7), one Gibbs
//! sweep per intermediate temperature, linear schedule; 1,000 and 10,000
//! temperatures times 100 and 1,000 chains (quick: 100 and 1,000
//! temperatures, 100 chains). Error against exact log Z from enumerating
//! the 2^20 hidden states; standard error; sweeps per second.

use super::{Record, SuiteCtx, Throughput};
use crate::error::sampler_err;
use crate::error::CliError;
use crate::error::CliResult;
use crate::figure::{Figure, Series};
use crate::progress::SharedProgress;
use ebm_compose::ModelSpec;
use ebm_core::energies::Rbm;
use ebm_core::spec::Model;
use ebm_samplers::ais::{ais_rbm_with_progress, RbmBase, Schedule};
use serde_json::json;

/// The W3 parameters, copied from the peers (see examples-data/README.md).
const W3_RBM: &str = include_str!("../../../examples-data/w3_rbm64x20.json");

/// The W3 RBM.
pub fn w3_rbm() -> CliResult<Rbm> {
    match ModelSpec::from_json(W3_RBM)?.build()? {
        Model::Binary(b) => b.rbm().cloned(),
        Model::Continuous(_) | Model::Categorical(_) => None,
    }
    .ok_or_else(|| CliError::Unsupported("the embedded W3 model is not an RBM".into()))
}

/// Run W3.
pub fn run_w3(ctx: &SuiteCtx) -> CliResult<(Vec<Record>, Vec<String>)> {
    let rbm = w3_rbm()?;
    let (exact, exact_timing) = ctx.timed(|| Ok(rbm.exact_log_partition()?))?;
    let exact_s = exact_timing.median;
    let grid: &[(usize, usize)] = if ctx.quick {
        &[(100, 100), (1000, 100)]
    } else {
        &[(1000, 100), (1000, 1000), (10_000, 100), (10_000, 1000)]
    };
    let mut records = vec![Record {
        workload: "W3".into(),
        method: "exact (2^20 hidden states)".into(),
        seconds: exact_s,
        throughput: Throughput {
            value: (1u64 << 20) as f64 / exact_s,
            unit: "states/s".into(),
        },
        quality: json!({"log_z": exact}),
        config: json!({"enumerated": "hidden", "states": 1u64 << 20}),
        timing: Some(exact_timing),
        summary: format!("log Z = {exact:.6}"),
        digest: None,
    }];
    let mut series: Vec<Series> = Vec::new();
    for &(k, n) in grid {
        let betas = Schedule::Linear.betas(k).map_err(sampler_err)?;
        let (r, timing) = ctx.timed(|| {
            let bar = SharedProgress::new("W3 AIS");
            ais_rbm_with_progress(&rbm, &RbmBase::ModelBiases, &betas, n, ctx.seed, &|d, tot| {
                bar.tick(d, tot)
            })
            .map_err(sampler_err)
        })?;
        let seconds = timing.median;
        let err = r.log_z - exact;
        let label = format!("{n} chains");
        match series.iter_mut().find(|s| s.0 == label) {
            Some(s) => s.1.push((k as f64, err, r.stderr)),
            None => series.push((label, vec![(k as f64, err, r.stderr)])),
        }
        records.push(Record {
            workload: "W3".into(),
            method: format!("ais gibbs, {k} temps x {n} chains"),
            seconds,
            throughput: Throughput {
                value: (n * (k - 2)) as f64 / seconds,
                unit: "sweeps/s".into(),
            },
            quality: json!({"log_z": r.log_z, "exact_log_z": exact, "error": err, "stderr": r.stderr,
                            "error_over_se": err / r.stderr, "weight_ess": r.ess}),
            config: json!({"temps": k, "chains": n, "schedule": "linear", "base": "model biases"}),
            timing: Some(timing),
            summary: format!(
                "log Z {:.4} +- {:.4}, error {err:+.4} ({:+.2} SE)",
                r.log_z,
                r.stderr,
                err / r.stderr
            ),
            digest: Some(super::digest(&r.log_weights)),
        });
    }
    let plots = ctx.write_plot(
        "w3_ais_error",
        &Figure::LogX {
            title: "W3: AIS log Z error against exact (bars: +-1 SE)".into(),
            x_label: "temperatures".into(),
            y_label: "log Z error (nats)".into(),
            series,
        },
    )?;
    Ok((records, plots))
}
