//! Inputs the fuzzers (`fuzz/`, cargo-fuzz) found troublesome, kept as
//! regression tests: each file under `tests/fuzz-regressions/<target>/`
//! goes through the same loader as in its fuzz target and must give a
//! result or an error promptly, never a panic, an abort or a hang.

use ebm_bench::model_file::parse_model;
use ebm_bench::points_file::{parse_points_csv, parse_points_npy};
use std::path::Path;
use std::time::{Duration, Instant};

fn inputs(target: &str) -> Vec<(String, Vec<u8>)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fuzz-regressions")
        .join(target);
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|p| (p.display().to_string(), std::fs::read(&p).unwrap()))
        .collect()
}

/// Each input must load (or fail) within this long; the hangs found took
/// minutes (a quadratic loop), the fixed loaders take milliseconds.
const PROMPT: Duration = Duration::from_secs(5);

#[test]
fn model_file_inputs_load_or_fail_promptly() {
    let all = inputs("model_file");
    assert!(!all.is_empty());
    for (name, bytes) in all {
        let t = Instant::now();
        let text = String::from_utf8_lossy(&bytes);
        if let Ok((_, model)) = parse_model(&name, &text) {
            assert!(model.dim() > 0, "{name}");
        }
        assert!(t.elapsed() < PROMPT, "{name} took {:?}", t.elapsed());
    }
}

#[test]
fn data_file_inputs_load_or_fail_promptly() {
    for (name, bytes) in inputs("data_file") {
        let t = Instant::now();
        for p in [
            parse_points_csv(&name, &bytes[..]),
            parse_points_npy(&name, &bytes),
        ]
        .into_iter()
        .flatten()
        {
            assert!(p.as_slice().iter().all(|v| v.is_finite()), "{name}");
        }
        assert!(t.elapsed() < PROMPT, "{name} took {:?}", t.elapsed());
    }
}
