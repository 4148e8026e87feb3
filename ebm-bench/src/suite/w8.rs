//! W8: AIS log Z of the peers' 32 x 32 periodic Ising lattice at beta
//! 0.44 (coupling 1, no field; `examples-data/w8_ising32.json`, copied
//! from `../shared/peers/w8_ising32.model.json`) against Kaufman's exact
//! value ([`ebm_core::energies::Ising::kaufman_log_partition`]): single-site
//! Gibbs in the checkerboard order at every temperature of a linear
//! schedule from the uniform distribution, as the peers' vectorised JAX
//! checkerboard (`w8_ising_ais.py`), at 1,000 temperatures with 100 and
//! 1,000 chains (quick: 200 temperatures x 50 chains). Throughput: spin
//! updates per second.

use super::{Record, SuiteCtx, Throughput};
use crate::error::{sampler_err, CliError, CliResult};
use ebm_compose::ModelSpec;
use ebm_core::energies::Ising;
use ebm_core::spec::Model;
use ebm_samplers::ais::{ais_binary, Schedule};
use serde_json::json;

/// The W8 lattice (see examples-data/README.md).
const W8_ISING: &str = include_str!("../../../examples-data/w8_ising32.json");

/// Run W8.
pub fn run_w8(ctx: &SuiteCtx) -> CliResult<(Vec<Record>, Vec<String>)> {
    let model = ModelSpec::from_json(W8_ISING)?.build()?;
    let Model::Binary(lattice) = &model else {
        return Err(CliError::Unsupported(
            "the embedded W8 model is not binary".into(),
        ));
    };
    let spins = lattice.dim();
    let exact = Ising::new(32, 32, 1.0, 0.0, 0.44, true)?
        .kaufman_log_partition()
        .ok_or_else(|| CliError::Unsupported("no Kaufman value for the W8 lattice".into()))?;
    let grid: &[(usize, usize)] = if ctx.quick {
        &[(200, 50)]
    } else {
        &[(1000, 100), (1000, 1000)]
    };
    let mut records = Vec::new();
    for &(temps, chains) in grid {
        let betas = Schedule::Linear.betas(temps).map_err(sampler_err)?;
        let (r, timing) =
            ctx.timed(|| ais_binary(lattice.as_ref(), &betas, chains, 1, ctx.seed).map_err(sampler_err))?;
        let seconds = timing.median;
        let updates = ((temps - 2) * chains * spins) as f64;
        let err = r.log_z - exact;
        records.push(Record {
            workload: "W8".into(),
            method: format!("ais, site gibbs (checkerboard), {temps} temps x {chains} chains"),
            seconds,
            throughput: Throughput {
                value: updates / seconds,
                unit: "spin-updates/s".into(),
            },
            quality: json!({"log_z": r.log_z, "stderr": r.stderr, "exact_log_z": exact, "error": err,
                            "error_over_se": err / r.stderr, "weight_ess": r.ess}),
            config: json!({"K": temps, "chains": chains, "lattice": "32x32 periodic", "beta": 0.44,
                           "sweeps_per_temp": 1}),
            timing: Some(timing),
            summary: format!(
                "{:.3} +- {:.3} vs Kaufman {exact:.3}: error {err:+.3} ({:+.2} SE), weight ESS {:.1}",
                r.log_z,
                r.stderr,
                err / r.stderr,
                r.ess
            ),
            digest: Some(super::digest(&r.log_weights)),
        });
    }
    Ok((records, vec![]))
}
