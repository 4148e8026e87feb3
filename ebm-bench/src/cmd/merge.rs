//! `ebm merge`: the shards of a sampling run (`ebm sample --first-chain`)
//! put back together, bit for bit the report and draws of one process
//! with all the chains.
//!
//! A run of M chains cut into shards k..k+n runs each shard's chains
//! exactly (chain i on stream i + 1 of the seed, its start the whole run's
//! i-th), so the merge only has to recompute what pools the chains, in
//! the same order as the driver: the running moments over every draw
//! (chains in order within a draw), the diagnostics of the first
//! [`DIAGNOSTIC_CHAINS`] chains, and the means of the per-chain figures
//! ([`Summary`], the same code as `ebm sample`'s report).

use super::sample::{Summary, DIAGNOSTIC_CHAINS, READ_BACK_BYTES};
use crate::draws_file::{DrawWriter, DrawsReader};
use crate::error::{CliError, CliResult};
use crate::json_num::nums;
use clap::Args;
use ebm_samplers::moments::Moments;
use serde_json::{json, Value};

/// Arguments of `ebm merge`.
#[derive(Debug, Args)]
pub struct MergeArgs {
    /// The shards' reports: the JSON that `ebm sample --first-chain K
    /// --json` printed, one file per shard (comma-separated or repeated).
    #[arg(long = "reports", value_delimiter = ',', required = true)]
    pub reports: Vec<String>,
    /// The shards' draws (each shard's --out, a .npy of shape (draws,
    /// chains, dim)), in the order of --reports; none for AIS shards
    /// (`ebm logz --method ais --first-chain K --json`), whose reports
    /// carry their particles' log weights.
    #[arg(long = "draws", value_delimiter = ',')]
    pub draws: Vec<String>,
    /// Write the merged draws here (.npy or .csv, draws x chains x dim).
    #[arg(long)]
    pub out: Option<String>,
    /// Print one JSON object.
    #[arg(long)]
    pub json: bool,
}

/// One shard: its report's figures and the file of its draws.
struct Shard {
    first: usize,
    chains: usize,
    draws: usize,
    dim: usize,
    settings: Value,
    step_size: Value,
    acceptance: Vec<f64>,
    divergences: Vec<usize>,
    figures: Vec<(String, Vec<f64>)>,
    draws_path: String,
}

/// A number the report wrote (`num`: non-finite values as strings).
fn number(v: &Value) -> Option<f64> {
    match v {
        Value::String(s) if s == "nan" => Some(f64::NAN),
        Value::String(s) if s == "inf" => Some(f64::INFINITY),
        Value::String(s) if s == "-inf" => Some(f64::NEG_INFINITY),
        other => other.as_f64(),
    }
}

fn read_shard(report_path: &str, draws_path: &str) -> CliResult<Shard> {
    let bad = |m: String| CliError::Data {
        path: report_path.into(),
        message: m,
    };
    let text = std::fs::read_to_string(report_path).map_err(|source| CliError::Io {
        path: report_path.into(),
        source,
    })?;
    let r: Value = serde_json::from_str(&text).map_err(|e| bad(format!("not a JSON report: {e}")))?;
    let shard = r
        .get("shard")
        .ok_or_else(|| bad("not the report of a shard (run `ebm sample --first-chain K --json`)".into()))?;
    let field = |v: &Value, k: &str| v.get(k).and_then(Value::as_u64).map(|x| x as usize);
    let (first, chains, draws, dim) = match (
        field(shard, "first_chain"),
        field(shard, "chains"),
        field(shard, "draws"),
        field(shard, "dim"),
    ) {
        (Some(f), Some(c), Some(t), Some(d)) => (f, c, t, d),
        _ => return Err(bad("`shard` lacks first_chain, chains, draws or dim".into())),
    };
    let per = r
        .get("per_chain")
        .ok_or_else(|| bad("no `per_chain` figures".into()))?;
    let floats = |v: Option<&Value>| -> Option<Vec<f64>> { v?.as_array()?.iter().map(number).collect() };
    let acceptance = floats(per.get("acceptance")).ok_or_else(|| bad("per_chain.acceptance".into()))?;
    let divergences: Vec<usize> = per
        .get("divergences")
        .and_then(Value::as_array)
        .and_then(|a| a.iter().map(|v| v.as_u64().map(|x| x as usize)).collect())
        .ok_or_else(|| bad("per_chain.divergences".into()))?;
    let figures = per
        .get("figures")
        .and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .map(|(k, v)| floats(Some(v)).map(|f| (k.clone(), f)))
                .collect::<Option<Vec<_>>>()
        })
        .unwrap_or(Some(Vec::new()))
        .ok_or_else(|| bad("per_chain.figures".into()))?;
    if acceptance.len() != chains
        || divergences.len() != chains
        || figures.iter().any(|f| f.1.len() != chains)
    {
        return Err(bad(format!(
            "per_chain figures for other than its {chains} chains"
        )));
    }
    Ok(Shard {
        first,
        chains,
        draws,
        dim,
        settings: shard.get("settings").cloned().unwrap_or(Value::Null),
        step_size: r.get("step_size").cloned().unwrap_or(Value::Null),
        acceptance,
        divergences,
        figures,
        draws_path: draws_path.into(),
    })
}

/// One AIS shard's report: its particles' log weights and settings.
struct AisShard {
    first: usize,
    chains: usize,
    settings: Value,
    log_z_base: f64,
    log_weights: Vec<f64>,
}

/// Merge AIS shards (`ebm logz --method ais --first-chain K --json`): the
/// log weights in particle order, then the one-process summary
/// (`ebm_samplers::ais::summarize`).
fn merge_ais(paths: &[String]) -> CliResult<super::Report> {
    let mut shards = Vec::new();
    for path in paths {
        let bad = |m: &str| CliError::Data {
            path: path.clone(),
            message: m.into(),
        };
        let text = std::fs::read_to_string(path).map_err(|source| CliError::Io {
            path: path.clone(),
            source,
        })?;
        let r: Value = serde_json::from_str(&text).map_err(|e| bad(&format!("not a JSON report: {e}")))?;
        let shard = r.get("shard").ok_or_else(|| bad("not the report of a shard"))?;
        let log_weights: Vec<f64> = r
            .get("log_weights")
            .and_then(Value::as_array)
            .and_then(|a| a.iter().map(number).collect())
            .ok_or_else(|| bad("no log_weights"))?;
        let first = shard
            .get("first_chain")
            .and_then(Value::as_u64)
            .ok_or_else(|| bad("shard.first_chain"))? as usize;
        let chains = shard
            .get("chains")
            .and_then(Value::as_u64)
            .ok_or_else(|| bad("shard.chains"))? as usize;
        if log_weights.len() != chains {
            return Err(bad("log_weights for other than its particles"));
        }
        shards.push(AisShard {
            first,
            chains,
            settings: shard.get("settings").cloned().unwrap_or(Value::Null),
            log_z_base: r
                .get("log_z_base")
                .and_then(number)
                .ok_or_else(|| bad("log_z_base"))?,
            log_weights,
        });
    }
    shards.sort_by_key(|s| s.first);
    let mut next = 0;
    for s in &shards {
        if s.first != next {
            return Err(CliError::Unsupported(format!(
                "the shards do not cover particles 0.. without gaps or overlaps: one starts at {} where {next} was expected",
                s.first
            )));
        }
        if s.settings != shards[0].settings || s.log_z_base.to_bits() != shards[0].log_z_base.to_bits() {
            return Err(CliError::Unsupported(format!(
                "the shard at particle {} was run with other settings (model, schedule, kernel or seed) than the one at 0",
                s.first
            )));
        }
        next += s.chains;
    }
    let log_w: Vec<f64> = shards
        .iter()
        .flat_map(|s| s.log_weights.iter().copied())
        .collect();
    let r = ebm_samplers::ais::summarize(log_w, shards[0].log_z_base);
    let warnings = r.warnings();
    let json = json!({"log_z": crate::json_num::num(r.log_z), "stderr": crate::json_num::num(r.stderr), "method": "ais",
                      "ess": crate::json_num::num(r.ess), "log_z_base": r.log_z_base, "chains": next,
                      "warnings": warnings, "log_weights": nums(&r.log_weights),
                      "shard": {"first_chain": 0, "chains": next, "settings": shards[0].settings},
                      "merged_shards": shards.len()});
    let text = format!(
        "{} AIS shards merged: log Z = {:.6} +- {:.6} ({next} particles, weight ESS {:.1})",
        shards.len(),
        r.log_z,
        r.stderr,
        r.ess
    );
    Ok(super::Report { json, text })
}

/// Whether the report at `path` is an AIS shard's.
fn is_ais(path: &str) -> bool {
    std::fs::read_to_string(path)
        .ok()
        .and_then(|t| serde_json::from_str::<Value>(&t).ok())
        .is_some_and(|r| r.get("method").and_then(Value::as_str) == Some("ais"))
}

/// Run `ebm merge`.
pub fn run(a: &MergeArgs) -> CliResult<super::Report> {
    let bad = |m: String| Err(CliError::Unsupported(m));
    if a.reports.first().is_some_and(|p| is_ais(p)) {
        if !a.draws.is_empty() || a.out.is_some() {
            return bad("AIS shards merge from their reports alone: drop --draws and --out".into());
        }
        return merge_ais(&a.reports);
    }
    if a.reports.len() != a.draws.len() {
        return bad(format!(
            "--reports has {} files and --draws {}: give one draws file per report",
            a.reports.len(),
            a.draws.len()
        ));
    }
    let mut shards = a
        .reports
        .iter()
        .zip(&a.draws)
        .map(|(r, d)| read_shard(r, d))
        .collect::<CliResult<Vec<_>>>()?;
    shards.sort_by_key(|s| s.first);
    let head = &shards[0];
    let mut next = 0;
    for (s, path) in shards.iter().zip(&a.reports) {
        if s.first != next {
            return bad(format!(
                "the shards do not cover chains 0.. without gaps or overlaps: one starts at chain {} where {next} was expected ({path} among them)",
                s.first
            ));
        }
        if s.settings != head.settings
            || s.draws != head.draws
            || s.dim != head.dim
            || s.step_size != head.step_size
        {
            return bad(format!(
                "the shard at chain {} was run with other settings (model, sampler, seed, schedule or step size) than the one at chain {}",
                s.first, head.first
            ));
        }
        next += s.chains;
    }
    let (m, t, d) = (next, head.draws, head.dim);
    crate::limits::check_size(&format!("the merged draws' {m} chains x dimension {d}"), m, d)?;
    // one pass over the shards' files, draw by draw with the chains in
    // order: the moments, and the merged draws streamed to --out
    let files: Vec<(&str, usize)> = shards.iter().map(|s| (s.draws_path.as_str(), s.chains)).collect();
    let mut draws = DrawsReader::open_shards(&files, t, d)?;
    let mut out = a
        .out
        .as_deref()
        .map(|p| DrawWriter::create(p, t, m, d))
        .transpose()?;
    let mut moments = Moments::new(d);
    draws.for_each_draw(m, |draw, states| {
        moments.add_rows(states);
        out.as_mut().map_or(Ok(()), |w| w.write_draw(draw, states))
    })?;
    if let Some(w) = out {
        w.finish()?;
    }
    let (mean, cov) = moments.finish();
    // the diagnostics' chains read back from the shards, a group of
    // coordinates at a time
    let diag = draws.diagnostics(m.min(DIAGNOSTIC_CHAINS), READ_BACK_BYTES)?;
    let acceptance: Vec<f64> = shards.iter().flat_map(|s| s.acceptance.iter().copied()).collect();
    let divergences: Vec<usize> = shards
        .iter()
        .flat_map(|s| s.divergences.iter().copied())
        .collect();
    let figures: Vec<(String, Vec<f64>)> = head
        .figures
        .iter()
        .map(|(name, _)| {
            let all = shards
                .iter()
                .flat_map(|s| {
                    s.figures
                        .iter()
                        .find(|f| &f.0 == name)
                        .map_or(&[][..], |f| &f.1[..])
                        .iter()
                        .copied()
                })
                .collect();
            (name.clone(), all)
        })
        .collect();
    let summary = Summary {
        mean: &mean,
        cov: &cov,
        acceptance: &acceptance,
        divergences: &divergences,
        diag: &diag,
        step_size: number(&head.step_size),
        figures: &figures,
    };
    let mut json = summary.json(d);
    json["per_chain"] = summary.per_chain();
    json["shard"] = json!({"first_chain": 0, "chains": m, "draws": t, "dim": d, "settings": head.settings});
    json["merged_shards"] = json!(shards.len());
    if let Some(out) = &a.out {
        json["out"] = json!(out);
    }
    let text = format!(
        "{} shards merged: {m} chains x {t} draws\nmean        {}\nESS bulk    {:.1} (min)\nR-hat       {:.4} (rank-normalised, max)",
        shards.len(),
        nums(&mean[..d.min(8)]),
        diag.ess_bulk_min(),
        diag.rhat_rank_max()
    );
    Ok(super::Report { json, text })
}
