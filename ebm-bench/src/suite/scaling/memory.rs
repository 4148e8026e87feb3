//! Peak memory of `ebm sample` against the number of values it keeps
//! (chains x draws x dimension), with draws kept in memory and streamed
//! to a file with `--out`.

use super::measure::Point;
use crate::error::{CliError, CliResult};
use std::path::{Path, PathBuf};
use std::process::Command;

/// The `ebm` binary to run: `EBM_BIN` if set, else this process when it
/// is `ebm` itself; None otherwise (a test binary calling the library).
pub fn ebm_binary() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("EBM_BIN") {
        return Some(p.into());
    }
    let exe = std::env::current_exe().ok()?;
    let name = exe.file_stem()?.to_string_lossy().to_string();
    (name == "ebm").then_some(exe)
}

/// Peak RSS (from each run's `peak_rss_mib`) of ULA on a 2-D standard
/// Gaussian, 1,000 chains, 10 to 10,000 draws (quick: 10 and 100), with
/// and without `--out`; each run is a fresh process.
pub fn memory_curve(ebm: &Path, dir: &Path, quick: bool) -> CliResult<Vec<Point>> {
    let model = dir.join("scaling_gaussian2.json");
    let draws_file = dir.join("scaling_draws.npy");
    let io = |path: &Path, source| CliError::Io {
        path: path.display().to_string(),
        source,
    };
    std::fs::write(
        &model,
        r#"{"type":"gaussian","mean":[0.0,0.0],"covariance":[[1.0,0.0],[0.0,1.0]]}"#,
    )
    .map_err(|e| io(&model, e))?;
    let (chains, dim) = (1_000usize, 2usize);
    let grid: &[usize] = if quick {
        &[10, 100]
    } else {
        &[10, 100, 1_000, 10_000]
    };
    let mut points = Vec::new();
    for streamed in [false, true] {
        for &draws in grid {
            let mut cmd = Command::new(ebm);
            cmd.args(["sample", "--model"]).arg(&model).args([
                "--sampler",
                "ula",
                "--step-size",
                "0.1",
                "--burn-in",
                "0",
                "--chains",
                &chains.to_string(),
                "--steps",
                &draws.to_string(),
                "--json",
            ]);
            if streamed {
                cmd.arg("--out").arg(&draws_file);
            }
            let t = std::time::Instant::now();
            let out = cmd.output().map_err(|e| io(ebm, e))?;
            let seconds = t.elapsed().as_secs_f64();
            if !out.status.success() {
                return Err(CliError::Unsupported(format!(
                    "the memory curve's `ebm sample` failed: {}",
                    String::from_utf8_lossy(&out.stderr).trim()
                )));
            }
            let report: serde_json::Value = serde_json::from_slice(&out.stdout).map_err(|e| {
                CliError::Unsupported(format!("the memory curve's `ebm sample` printed no JSON: {e}"))
            })?;
            let Some(mib) = report["peak_rss_mib"].as_f64() else {
                // no /proc on this system: no memory curve
                return Ok(Vec::new());
            };
            points.push(Point {
                curve: "memory".into(),
                method: if streamed {
                    "sample --out F.npy"
                } else {
                    "sample, draws in memory"
                }
                .into(),
                x: (chains * draws * dim) as f64,
                threads: rayon::current_num_threads(),
                value: mib,
                unit: "MiB peak RSS".into(),
                seconds,
                reps: 1,
                setup_seconds: 0.0,
                peer: false,
            });
        }
    }
    std::fs::remove_file(&draws_file).ok();
    std::fs::remove_file(&model).ok();
    Ok(points)
}
