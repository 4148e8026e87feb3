//! One table of bad `ebm` invocations across every command: missing and
//! unreadable files, wrong types, wrong shapes, empty data, NaN and
//! infinity, non-positive step sizes, zero chains, sizes that would
//! exhaust memory, unknown types, nesting past the parser's limit and
//! checkpoints that are not. Each must exit 2 with one line on stderr
//! naming the problem, print nothing on stdout, and never panic or abort.

use std::process::Command;

use crate::common;

use common::{npy, Scratch};

/// A model nested `depth` times in `wrap`, around `leaf`.
fn nested(
    depth: usize,
    leaf: serde_json::Value,
    wrap: impl Fn(serde_json::Value) -> serde_json::Value,
) -> String {
    (0..depth).fold(leaf, |v, _| wrap(v)).to_string()
}

#[test]
fn bad_invocations_exit_2_with_one_line_naming_the_problem() {
    let s = Scratch::new("bad-invocations");
    let gauss = s.file("g.json", r#"{"type":"diag_gaussian","mean":[0,0],"std":[1,1]}"#);
    let gmm = s.file(
        "gmm.json",
        r#"{"type":"gmm","weights":[1,1],"means":[[-1,0],[1,0]],"stds":[0.5,0.5]}"#,
    );
    let data = s.file("d.csv", "0.1,0.2\n-0.3,0.4\n0.5,-0.6\n1.0,0.0\n");
    let out = s.path("o.json");
    let dir = s.0.to_string_lossy().into_owned();
    let missing = s.path("missing.json");
    let model = |name: &str, text: &str| s.file(name, text);
    let leaf = serde_json::json!({"type": "diag_gaussian", "mean": [0.0], "std": [1.0]});
    let bad_leaf = serde_json::json!({"type": "diag_gaussian", "mean": [0.0], "std": [-1.0]});

    let logz = |m: &str| vec!["logz".to_string(), "--model".into(), m.into()];
    let sample = |m: &str, extra: &[&str]| {
        let mut v: Vec<String> = ["sample", "--model", m, "--sampler", "ula", "--steps", "10"]
            .iter()
            .map(|a| a.to_string())
            .collect();
        v.extend(extra.iter().map(|a| a.to_string()));
        v
    };
    let ais = |m: &str, extra: &[&str]| {
        let mut v = logz(m);
        v.extend(["--method", "ais"].iter().chain(extra).map(|a| a.to_string()));
        v
    };
    let train = |d: &str, extra: &[&str]| {
        let mut v: Vec<String> = [
            "train", "--data", d, "--model", &gauss, "--out", &out, "--steps", "5",
        ]
        .iter()
        .map(|a| a.to_string())
        .collect();
        v.extend(extra.iter().map(|a| a.to_string()));
        v
    };
    let long_train = |extra: &[&str]| {
        let mut v: Vec<String> = [
            "train",
            "--data",
            &data,
            "--model",
            &gauss,
            "--estimator",
            "dsm",
            "--steps",
            "1000000000",
        ]
        .iter()
        .map(|a| a.to_string())
        .collect();
        v.extend(extra.iter().map(|a| a.to_string()));
        v
    };
    let energy = |m: &str, p: &str| {
        ["energy", "--model", m, "--points", p]
            .iter()
            .map(|a| a.to_string())
            .collect::<Vec<_>>()
    };

    let cases: Vec<(&str, Vec<String>, &str)> = vec![
        // missing or unreadable files
        ("missing model", logz(&missing), "No such file"),
        ("model is a directory", logz(&dir), "Is a directory"),
        ("points is a directory", energy(&gauss, &dir), "Is a directory"),
        (
            "missing data",
            train(&s.path("none.csv"), &["--estimator", "dsm"]),
            "none.csv",
        ),
        (
            "missing checkpoint",
            train(&data, &["--estimator", "dsm", "--resume", &s.path("c.ckpt")]),
            "c.ckpt",
        ),
        // wrong types
        (
            "string for a vector",
            logz(&model(
                "t1.json",
                r#"{"type":"diag_gaussian","mean":"zero","std":[1]}"#,
            )),
            "invalid type",
        ),
        (
            "negative size",
            logz(&model("t2.json", r#"{"type":"ising","rows":-3,"cols":2}"#)),
            "invalid value",
        ),
        (
            "array for a model",
            logz(&model("t3.json", "[1,2]")),
            "`type` field",
        ),
        (
            "no type",
            logz(&model("t4.json", r#"{"mean":[0]}"#)),
            "missing field `type`",
        ),
        (
            "unknown type",
            logz(&model("t5.json", r#"{"type":"unicorn"}"#)),
            "unknown variant `unicorn`",
        ),
        (
            "unknown type inside",
            logz(&model(
                "t6.json",
                r#"{"type":"product","experts":[{"type":"unicorn"}]}"#,
            )),
            "experts[0]",
        ),
        (
            "unknown field",
            logz(&model("t7.json", r#"{"type":"funnel","dim":2,"depth":1}"#)),
            "unknown field `depth`",
        ),
        (
            "binary model, continuous sampler",
            sample(
                &model("r.json", r#"{"type":"rbm","w":[[1]],"b":[0],"c":[0]}"#),
                &[],
            ),
            "use --sampler gibbs",
        ),
        // wrong shapes
        (
            "covariance shape",
            logz(&model(
                "s1.json",
                r#"{"type":"gaussian","mean":[0,0],"covariance":[[1,0,0],[0,1,0]]}"#,
            )),
            "covariance[0]",
        ),
        (
            "ragged weights",
            logz(&model(
                "s2.json",
                r#"{"type":"rbm","w":[[1,2],[3]],"b":[0,0],"c":[0,0]}"#,
            )),
            "w[1]",
        ),
        (
            "mixture weights",
            logz(&model(
                "s3.json",
                r#"{"type":"mixture","components":[{"type":"funnel","dim":2}],"weights":[1,2]}"#,
            )),
            "weights",
        ),
        (
            "points too wide",
            energy(&gauss, &s.file("w.csv", "1,2,3\n")),
            "3 columns",
        ),
        (
            "data too wide",
            train(&s.file("w3.csv", "1,2,3\n4,5,6\n"), &["--estimator", "dsm"]),
            "3 columns",
        ),
        (
            "an EMA rate of 1.5",
            train(&data, &["--estimator", "dsm", "--ema", "1.5"]),
            "--ema",
        ),
        (
            "a negative weight decay",
            train(&data, &["--estimator", "dsm", "--weight-decay", "-0.1"]),
            "--weight-decay",
        ),
        (
            "an unknown learning-rate schedule",
            train(&data, &["--estimator", "dsm", "--lr-schedule", "linear"]),
            "--lr-schedule",
        ),
        (
            "a step schedule without its gamma",
            train(&data, &["--estimator", "dsm", "--lr-schedule", "step:10"]),
            "--lr-schedule",
        ),
        (
            "a zero clipping norm",
            train(&data, &["--estimator", "dsm", "--clip-grad", "0"]),
            "--clip-grad",
        ),
        (
            "f32 outside DSM on an MLP",
            train(&data, &["--estimator", "dsm", "--precision", "f32"]),
            "--precision f32",
        ),
        (
            "4-D .npy",
            train(
                &s.file("c.npy", npy("(2, 1, 1, 2)", &[0.0; 4])),
                &["--estimator", "dsm"],
            ),
            "2-D array",
        ),
        // empty data
        ("empty model file", logz(&model("e.json", "")), "model file"),
        (
            "empty CSV",
            train(&s.file("e.csv", ""), &["--estimator", "dsm"]),
            "no data rows",
        ),
        (
            "header only",
            energy(&gauss, &s.file("h.csv", "x,y\n")),
            "no data rows",
        ),
        (
            "empty .npy",
            train(&s.file("e.npy", npy("(0, 2)", &[])), &["--estimator", "dsm"]),
            "no data",
        ),
        // NaN and infinity
        (
            "infinite number in a model",
            logz(&model(
                "n1.json",
                r#"{"type":"diag_gaussian","mean":[0,1e999],"std":[1,1]}"#,
            )),
            "out of range",
        ),
        (
            "NaN as text in a model",
            logz(&model(
                "n2.json",
                r#"{"type":"diag_gaussian","mean":["NaN",0],"std":[1,1]}"#,
            )),
            "invalid type",
        ),
        (
            "indefinite banded precision",
            logz(&model(
                "n4.json",
                r#"{"type":"banded_gaussian","mean":[0,0],"bands":[[1,1],[2]]}"#,
            )),
            "bands: matrix is not positive definite",
        ),
        (
            "banded precision diagonal of the wrong length",
            logz(&model(
                "n5.json",
                r#"{"type":"banded_gaussian","mean":[0,0,0],"bands":[[1,1,1],[0.1,0.1,0.1]]}"#,
            )),
            "bands[1]",
        ),
        (
            "zero std",
            logz(&model(
                "n3.json",
                r#"{"type":"diag_gaussian","mean":[0,0],"std":[0,1]}"#,
            )),
            "std[0]",
        ),
        (
            "NaN in CSV data",
            train(&s.file("n.csv", "1,2\nnan,3\n"), &["--estimator", "dsm"]),
            "not finite",
        ),
        (
            "infinity in points",
            energy(&gauss, &s.file("i.csv", "1,inf\n")),
            "not finite",
        ),
        (
            "infinity in .npy",
            train(
                &s.file("i.npy", npy("(2, 2)", &[0.0, 1.0, f64::INFINITY, 2.0])),
                &["--estimator", "dsm"],
            ),
            "row 2, column 1",
        ),
        (
            "NaN learning rate",
            train(&data, &["--estimator", "dsm", "--lr", "NaN"]),
            "lr",
        ),
        // negative or zero step sizes
        (
            "zero step size",
            sample(&gauss, &["--step-size", "0"]),
            "--step-size",
        ),
        (
            "negative step size",
            sample(&gauss, &["--step-size", "-0.1"]),
            "--step-size",
        ),
        (
            "NaN AIS step size",
            ais(&gauss, &["--step-size", "nan"]),
            "--step-size",
        ),
        (
            "negative CD step size",
            train(&data, &["--estimator", "cd", "--step-size", "-1"]),
            "step",
        ),
        (
            "zero DSM sigma",
            train(&data, &["--estimator", "dsm", "--sigma", "0"]),
            "noise levels",
        ),
        (
            "negative learning rate",
            train(&data, &["--estimator", "dsm", "--lr", "-1"]),
            "lr",
        ),
        // chains = 0
        ("zero chains", sample(&gauss, &["--chains", "0"]), "--chains"),
        (
            "zero GwG proposals",
            sample(&gauss, &["--proposals", "0"]),
            "--proposals must be at least 1",
        ),
        (
            "GwG proposals for another sampler",
            sample(&gauss, &["--proposals", "2"]),
            "--proposals applies to gwg, not ula",
        ),
        ("zero AIS chains", ais(&gauss, &["--chains", "0"]), "--chains"),
        (
            "zero Gibbs sweeps per temperature",
            ais(
                &model("r0.json", r#"{"type":"rbm","w":[[1]],"b":[0],"c":[0]}"#),
                &["--steps-per-temp", "0"],
            ),
            "--steps-per-temp",
        ),
        (
            "AIS with a kernel that does not fit",
            ais(&gauss, &["--sampler", "gibbs"]),
            "use mala, hmc or nuts",
        ),
        (
            "zero PCD chains",
            train(&data, &["--estimator", "pcd", "--chains", "0"]),
            "chains",
        ),
        // sizes that would exhaust memory
        (
            "huge dimension",
            sample(
                &model("big1.json", r#"{"type":"funnel","dim":1000000000000}"#),
                &[],
            ),
            "too large",
        ),
        (
            "huge chains",
            sample(&gmm, &["--chains", "1000000000000"]),
            "too large",
        ),
        (
            "huge AIS chains",
            ais(&gmm, &["--chains", "100000000000"]),
            "too large",
        ),
        (
            "huge AIS dimension",
            ais(
                &model(
                    "big2.json",
                    r#"{"type":"double_well","dim":100000000000,"barrier":1}"#,
                ),
                &[],
            ),
            "too large",
        ),
        (
            "huge lattice",
            logz(&model(
                "big3.json",
                r#"{"type":"ising","rows":100000,"cols":100000}"#,
            )),
            "too large",
        ),
        (
            "huge batch",
            train(&data, &["--estimator", "dsm", "--batch", "1000000000000"]),
            "too large",
        ),
        (
            "huge replay buffer",
            train(&data, &["--estimator", "replay", "--buffer", "1000000000000"]),
            "too large",
        ),
        (
            "huge NCE noise",
            train(&data, &["--estimator", "nce", "--noise-ratio", "1000000000000"]),
            "too large",
        ),
        (
            "huge MLP",
            vec![
                "train".into(),
                "--data".into(),
                data.clone(),
                "--mlp".into(),
                "2,1000000000,1".into(),
                "--estimator".into(),
                "dsm".into(),
                "--out".into(),
                out.clone(),
            ],
            "too large",
        ),
        // nesting
        (
            "nesting past the parser's limit",
            logz(&model(
                "deep.json",
                &nested(
                    200,
                    leaf.clone(),
                    |v| serde_json::json!({"type": "product", "experts": [v]}),
                ),
            )),
            "recursion limit",
        ),
        (
            "a bad leaf 40 levels down",
            logz(&model(
                "deep40.json",
                &nested(
                    40,
                    bad_leaf,
                    |v| serde_json::json!({"type": "tempered", "base": v, "beta": 0.5}),
                ),
            )),
            "base.base.base",
        ),
        // checkpoints and output files
        (
            "model file as checkpoint",
            train(&data, &["--estimator", "dsm", "--resume", &gauss]),
            "not a training checkpoint",
        ),
        (
            "JSON garbage as checkpoint",
            train(&data, &["--estimator", "dsm", "--resume", &model("x.ckpt", "{")]),
            "not JSON",
        ),
        (
            "zero checkpoint interval",
            train(&data, &["--estimator", "dsm", "--checkpoint-every", "0"]),
            "--checkpoint-every",
        ),
        (
            "draws to an unknown format",
            sample(&gauss, &["--out", &s.path("d.txt")]),
            ".csv or .npy",
        ),
        (
            "draws into a missing directory",
            sample(&gauss, &["--out", "/nonexistent-dir/d.npy"]),
            "/nonexistent-dir/d.npy",
        ),
        ("zero thinning", sample(&gauss, &["--thin", "0"]), "--thin"),
        // checked before training: with 10^9 steps, a check at the end
        // would never be reached
        (
            "model into a missing directory",
            long_train(&["--out", "/nonexistent-dir/m.json"]),
            "/nonexistent-dir/m.json",
        ),
        (
            "checkpoint into a missing directory",
            long_train(&["--out", &out, "--checkpoint", "/nonexistent-dir/c.ckpt"]),
            "/nonexistent-dir/c.ckpt",
        ),
        (
            "Gibbs draws into a missing directory",
            vec![
                "sample".into(),
                "--model".into(),
                model("r2.json", r#"{"type":"rbm","w":[[1]],"b":[0],"c":[0]}"#),
                "--sampler".into(),
                "gibbs".into(),
                "--out".into(),
                "/nonexistent-dir/d.csv".into(),
            ],
            "/nonexistent-dir/d.csv",
        ),
    ];
    assert!(cases.len() >= 30);
    for (name, args, want) in &cases {
        let o = Command::new(env!("CARGO_BIN_EXE_ebm"))
            .args(args)
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{name}: {args:?}\nstderr: {err}");
        assert!(err.contains(want), "{name}: `{err}` lacks `{want}`");
        assert_eq!(err.trim_end().lines().count(), 1, "{name}: {err}");
        assert!(!err.contains("panicked"), "{name}: {err}");
        assert!(
            o.stdout.is_empty(),
            "{name}: printed {}",
            String::from_utf8_lossy(&o.stdout)
        );
    }
    assert!(
        !std::path::Path::new(&out).exists(),
        "a failed run wrote its output"
    );
}
