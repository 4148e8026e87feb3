//! PL: training a pairwise binary model by pseudo-likelihood (and by ratio
//! matching beside it) on 5,000 exact samples of the frustrated 16-spin
//! model of `examples-data/frustrated16.json` (27 couplings, 16 fields;
//! samples by inverting the CDF of its 65,536 states with the set-up
//! stream of the suite's seed), from every parameter 0: Adam 0.02, batch
//! 500, 1,000 steps (quick: 200). The timed region is the training.
//! Quality: the largest error of a coupling and of a field against the
//! model that drew the data.

use super::{Record, SuiteCtx, Throughput};
use crate::error::{CliError, CliResult};
use ebm_compose::ModelSpec;
use ebm_core::energies::Pairwise;
use ebm_core::spec::Model;
use ebm_core::{BinaryEnergy, Points};
use ebm_estimators::capability::{CapabilityEngine, CapabilityObjective, EnergyCapability, HandPairwise};
use ebm_estimators::objectives::{PseudoLikelihood, RatioMatching};
use ebm_estimators::trainer::{run_engine, TrainConfig};
use rand::Rng;
use serde_json::json;

/// The frustrated 16-spin model (see examples-data/README.md).
const FRUSTRATED16: &str = include_str!("../../../examples-data/frustrated16.json");

/// `n` exact samples of `m` (at most 2^20 states) by inverse CDF.
fn exact_samples(m: &Pairwise, n: usize, seed: u64) -> Points {
    let d = m.n();
    let (lo, hi) = m.states();
    let state = |k: u32| -> Vec<f64> { (0..d).map(|i| if k >> i & 1 == 1 { hi } else { lo }).collect() };
    let log_z = m.log_partition().unwrap_or(0.0);
    let mut cdf = Vec::with_capacity(1 << d);
    let mut acc = 0.0;
    for k in 0..1u32 << d {
        acc += (-m.energy(&state(k)) - log_z).exp();
        cdf.push(acc);
    }
    let mut r = ebm_core::setup_rng(seed);
    let mut x = Vec::with_capacity(n * d);
    for _ in 0..n {
        let u = r.random::<f64>() * acc;
        let k = cdf.partition_point(|&c| c <= u).min(cdf.len() - 1);
        x.extend(state(k as u32));
    }
    Points::from_vec(x, d).expect("rows of d values")
}

/// Run the PL workload.
pub fn run_pl(ctx: &SuiteCtx) -> CliResult<(Vec<Record>, Vec<String>)> {
    let Model::Binary(b) = ModelSpec::from_json(FRUSTRATED16)?.build()? else {
        return Err(CliError::Unsupported(
            "the embedded PL model is not binary".into(),
        ));
    };
    let truth = b
        .pairwise()
        .cloned()
        .ok_or_else(|| CliError::Unsupported("the embedded PL model is not pairwise".into()))?;
    let data = exact_samples(&truth, 5000, ctx.seed);
    let steps = if ctx.quick { 200 } else { 1000 };
    let cfg = TrainConfig::steps(steps, 500, 0.02);
    let zero: Vec<(usize, usize, f64)> = truth.couplings().iter().map(|&(i, j, _)| (i, j, 0.0)).collect();
    let blank = Pairwise::new(truth.n(), truth.spins(), zero, vec![0.0; truth.n()])?;
    let mut records = Vec::new();
    for name in ["pl", "ratio"] {
        let (model, timing) = ctx.timed(|| {
            let mut model = HandPairwise::new(blank.clone());
            let mut pl = PseudoLikelihood::new();
            let mut ratio = RatioMatching::new();
            let objective: &mut dyn CapabilityObjective = if name == "pl" { &mut pl } else { &mut ratio };
            {
                let mut engine = CapabilityEngine::new(&mut model, objective, cfg.optimizer)?;
                run_engine(&mut engine, &data, &cfg, &mut |_: &_| {}, None)?;
            }
            Ok(model)
        })?;
        let mut model = model;
        let got = model.params();
        let j_err = got[0]
            .iter()
            .zip(truth.couplings())
            .map(|(g, c)| (g - c.2).abs())
            .fold(0.0, f64::max);
        let h_err = got[1]
            .iter()
            .zip(truth.fields())
            .map(|(g, h)| (g - h).abs())
            .fold(0.0, f64::max);
        let seconds = timing.median;
        let label = if name == "pl" {
            "pseudo-likelihood"
        } else {
            "ratio matching"
        };
        records.push(Record {
            workload: "PL".into(),
            method: format!("{label}, frustrated 16-spin model, 5,000 exact samples, {steps} steps of 500"),
            seconds,
            throughput: Throughput {
                value: steps as f64 / seconds,
                unit: "steps/s".into(),
            },
            quality: json!({"max_coupling_error": j_err, "max_field_error": h_err}),
            config: json!({"samples": 5000, "steps": steps, "batch": 500, "optimizer": "adam 0.02",
                           "couplings": truth.couplings().len(), "sites": truth.n()}),
            timing: Some(timing),
            summary: format!("largest coupling error {j_err:.3}, field error {h_err:.3}"),
            digest: Some(super::digest(&got.concat())),
        });
    }
    Ok((records, vec![]))
}
