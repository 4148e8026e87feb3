//! The peers' figures that fall on a cost curve, from the results file
//! that the peers' scripts write (`../shared/peers`, one JSON object per
//! line), run on the same machine as the curves.

use super::measure::Point;
use crate::error::{CliError, CliResult};
use serde_json::Value;

/// The points of `text` (JSON lines) that match a curve: W1 (ULA on the
/// 2-D ring) on the chains curve, W2 (HMC, L = 10, 100-D dense Gaussian,
/// 64 chains) on the dimension curve, W3's AIS with 1,000 chains on the
/// temperatures curve. Other lines (other workloads, W3's exact
/// enumeration) are skipped; a line that is not JSON is an error naming
/// it.
pub fn peer_points(text: &str, source: &str) -> CliResult<Vec<Point>> {
    let mut points = Vec::new();
    for (k, line) in text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
        let r: Value = serde_json::from_str(line).map_err(|e| {
            CliError::Unsupported(format!("--peers: line {} of {source} is not JSON: {e}", k + 1))
        })?;
        let f = |key: &str| r[key].as_f64();
        let name = |what: &str| {
            format!(
                "{} {} ({what})",
                r["workload"].as_str().unwrap_or("?"),
                r["impl"].as_str().unwrap_or("?")
            )
        };
        let threads = r["env"]["cpu_count"].as_u64().unwrap_or(0) as usize;
        let point = match r["workload"].as_str() {
            Some("W1") => f("n_chains")
                .zip(f("chain_steps_per_s"))
                .map(|(x, y)| ("chains", name("W1"), x, y, "chain-steps/s")),
            Some("W2") => match (
                f("dim"),
                f("n_chains"),
                f("iters"),
                f("median_s"),
                f("leapfrog_steps"),
            ) {
                (Some(d), Some(c), Some(i), Some(s), Some(l)) if l == 10.0 && s > 0.0 => Some((
                    "dim",
                    name(&format!("W2, {c} chains")),
                    d,
                    c * i / s,
                    "chain-steps/s",
                )),
                _ => None,
            },
            Some("W3") => match (f("K"), f("chains"), f("median_s")) {
                (Some(k), Some(c), Some(s)) if c == 1000.0 && s > 0.0 => {
                    Some(("temps", name("W3"), k, k * c / s, "chain-temperatures/s"))
                }
                _ => None,
            },
            _ => None,
        };
        if let Some((curve, method, x, value, unit)) = point {
            if x > 0.0 && value.is_finite() && value > 0.0 {
                points.push(Point {
                    curve: curve.into(),
                    method,
                    x,
                    threads,
                    value,
                    unit: unit.into(),
                    seconds: f("median_s").unwrap_or(0.0),
                    reps: 1,
                    setup_seconds: f("compile_s").unwrap_or(0.0),
                    peer: true,
                });
            }
        }
    }
    Ok(points)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn w1_w2_and_w3_lines_land_on_their_curves() {
        let text = r#"{"workload": "W1", "impl": "jax_ula", "n_chains": 10000, "chain_steps_per_s": 6.7e6, "env": {"cpu_count": 2}}
{"workload": "W2", "impl": "blackjax", "dim": 100, "n_chains": 64, "leapfrog_steps": 10, "iters": 2500, "median_s": 1.6}
{"workload": "W3", "impl": "jax", "K": 1000, "chains": 1000, "median_s": 1.25}
{"workload": "W3", "impl": "jax", "K": 1000, "chains": 100, "median_s": 0.16}
{"workload": "W3", "impl": "exact_enum", "logz_exact": 74.0}
{"workload": "W7", "impl": "nuts_rs", "median_s": 0.66}

"#;
        let p = peer_points(text, "t").unwrap();
        assert_eq!(p.len(), 3);
        assert_eq!(
            (p[0].curve.as_str(), p[0].x, p[0].value, p[0].threads),
            ("chains", 10000.0, 6.7e6, 2)
        );
        assert_eq!(p[1].curve, "dim");
        assert_eq!(p[1].value, 64.0 * 2500.0 / 1.6);
        assert_eq!(
            (p[2].curve.as_str(), p[2].value),
            ("temps", 1000.0 * 1000.0 / 1.25)
        );
        assert!(p.iter().all(|q| q.peer));
        let e = peer_points("{\"workload\": \"W1\"}\nnot json", "f.jsonl")
            .unwrap_err()
            .to_string();
        assert!(e.contains("line 2 of f.jsonl"), "{e}");
    }
}
