//! Inputs the fuzzers (`fuzz/`, cargo-fuzz) found troublesome, kept as
//! regression tests: each file under `tests/fuzz-regressions/<target>/`
//! goes through the same loader and checks as in its fuzz target and must
//! give a result or an error promptly, never a panic, an abort or a hang.
//! The model files also go through the fuzz target's own questions to a
//! built model (its `exercise_model.rs`, included here so that CI compiles
//! it), and so do the fuzzers' seeds, one valid file per model format.

#[path = "../../fuzz/fuzz_targets/exercise_model.rs"]
mod exercise_model;

use ebm_bench::model_file::parse_model;
use ebm_bench::points_file::{parse_points_csv, parse_points_npy};
use std::path::Path;
use std::time::{Duration, Instant};

/// The files under `dir` (relative to this crate), sorted, with their bytes.
fn inputs(dir: &str) -> Vec<(String, Vec<u8>)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join(dir);
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
    let all = inputs("tests/fuzz-regressions/model_file");
    assert!(!all.is_empty());
    for (name, bytes) in all {
        let _ = load_and_exercise(&name, &bytes);
    }
}

/// Load a model file as the fuzz target does and, when it loads, ask the
/// model the target's questions; all within [`PROMPT`]. The loader's
/// error, if any, is returned.
fn load_and_exercise(name: &str, bytes: &[u8]) -> Result<(), String> {
    let t = Instant::now();
    let text = String::from_utf8_lossy(bytes);
    let loaded = parse_model(name, &text).map(|(_, model)| {
        assert!(model.dim() > 0, "{name}");
        exercise_model::exercise(&model);
    });
    assert!(t.elapsed() < PROMPT, "{name} took {:?}", t.elapsed());
    loaded.map_err(|e| e.to_string())
}

/// The seeds hold one valid file of each format: every one must load, and
/// answer the fuzz target's questions promptly.
#[test]
fn model_file_seeds_load_and_answer_promptly() {
    let all = inputs("../fuzz/seeds/model_file");
    assert!(all.len() >= 20, "{} seeds", all.len());
    for (name, bytes) in all {
        load_and_exercise(&name, &bytes).unwrap_or_else(|e| panic!("{name}: {e}"));
    }
}

#[test]
fn data_file_inputs_load_or_fail_promptly() {
    for (name, bytes) in inputs("tests/fuzz-regressions/data_file") {
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
