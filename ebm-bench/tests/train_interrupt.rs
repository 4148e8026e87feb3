//! `ebm train` interrupted by Ctrl-C (SIGINT) and resumed: the interrupt
//! writes a checkpoint and exits 130, and `--resume` ends with a model file
//! byte-identical to the one an uninterrupted run with the same seed
//! writes. Checkpoints of other runs are refused with exit status 2.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::common;

use common::{ebm, Scratch};

/// 500 rows of a 2-D Gaussian on a fixed grid of quantiles (no RNG needed).
fn data_csv() -> String {
    (0..500)
        .map(|i| {
            let u = (i as f64 + 0.5) / 500.0;
            let z = (u - 0.5) * 4.0;
            format!(
                "{},{}\n",
                1.0 + z,
                -1.0 + 0.5 * ((i * 7 % 500) as f64 / 125.0 - 2.0)
            )
        })
        .collect()
}

#[test]
fn ctrl_c_checkpoints_exits_130_and_resume_is_byte_identical() {
    let s = Scratch::new("resume");
    let data = s.file("data.csv", data_csv());
    let init = s.file(
        "init.json",
        r#"{"type":"gaussian","mean":[0,0],"covariance":[[1,0],[0,1]]}"#,
    );
    // PCD with MALA: persistent chains, per-chain streams and Adam moments
    // all have to survive the interruption
    let common = |out: &str| -> Vec<String> {
        [
            "train",
            "--data",
            &data,
            "--model",
            &init,
            "--estimator",
            "pcd",
            "--sampler",
            "mala",
            "--steps",
            "20000",
            "--batch",
            "64",
            "--lr",
            "0.01",
            "--seed",
            "3",
            "--out",
            out,
        ]
        .iter()
        .map(|a| a.to_string())
        .collect()
    };

    let full = s.path("full.json");
    let args = common(&full);
    let (code, _, err) = ebm(&args.iter().map(String::as_str).collect::<Vec<_>>());
    assert_eq!(code, 0, "{err}");

    // the same run, interrupted once its first periodic checkpoint exists
    let cut = s.path("cut.json");
    let ckpt = s.path("cut.ckpt");
    let mut args = common(&cut);
    args.extend([
        "--checkpoint".into(),
        ckpt.clone(),
        "--checkpoint-every".into(),
        "200".into(),
    ]);
    let child = Command::new(env!("CARGO_BIN_EXE_ebm"))
        .args(&args)
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let t = Instant::now();
    while !Path::new(&ckpt).exists() {
        assert!(t.elapsed() < Duration::from_secs(60), "no checkpoint appeared");
        std::thread::sleep(Duration::from_millis(5));
    }
    let sent = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(sent.success());
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(130), "stderr: {err}");
    assert!(
        err.contains("interrupted after") && err.contains("--resume"),
        "{err}"
    );
    assert!(!err.contains("panicked"), "{err}");
    let saved: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&ckpt).unwrap()).unwrap();
    let step = saved["step"].as_u64().unwrap();
    assert!(step > 0 && step < 20_000, "stopped at step {step}");
    // the model file was written with the checkpoint, and loads
    let (code, _, err) = ebm(&["logz", "--model", &cut, "--method", "exact"]);
    assert_eq!(code, 0, "{err}");

    // resume: the final model file equals the uninterrupted run's, byte for byte
    let mut args = common(&cut);
    args.extend([
        "--resume".into(),
        ckpt.clone(),
        "--checkpoint".into(),
        ckpt.clone(),
    ]);
    let (code, _, err) = ebm(&args.iter().map(String::as_str).collect::<Vec<_>>());
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        std::fs::read_to_string(&full).unwrap(),
        std::fs::read_to_string(&cut).unwrap(),
        "resumed from step {step}"
    );

    // checkpoints of other runs, and files that are not checkpoints
    let other = s.path("other.json");
    let bad = |changes: &[(&str, &str)], want: &str| {
        let mut args = common(&other);
        args.extend(["--resume".into(), ckpt.clone()]);
        for &(flag, value) in changes {
            match args.iter().position(|a| a == flag) {
                Some(i) => args[i + 1] = value.into(),
                None => args.extend([flag.into(), value.into()]),
            }
        }
        let argv: Vec<&str> = args.iter().map(String::as_str).collect();
        let (code, _, err) = ebm(&argv);
        assert_eq!(code, 2, "{argv:?}: {err}");
        assert!(err.contains(want), "{argv:?}: `{err}` lacks `{want}`");
        assert_eq!(err.trim_end().lines().count(), 1, "{err}");
    };
    bad(&[("--batch", "32")], "batch 64");
    bad(&[("--seed", "4")], "seed 3");
    bad(&[("--lr", "0.02")], "optimizer");
    bad(&[("--estimator", "cd")], "objective pcd-mala");
    // the same objective with other settings: the kernel's step size, the
    // transitions per step
    bad(&[("--step-size", "0.2")], "objective settings");
    bad(&[("--k", "2")], "objective settings");
    bad(&[("--steps", "100")], "nothing is left");
    bad(&[("--resume", &init)], "not a training checkpoint");
    bad(&[("--resume", &s.path("absent.ckpt"))], "absent.ckpt");
    // an MLP cannot continue a Gaussian's run
    let mlp = s.file("mlp.json", mlp_json());
    bad(&[("--model", &mlp)], "different model");
}

/// A 2-8-1 tanh MLP model file.
fn mlp_json() -> String {
    serde_json::json!({
        "type": "mlp",
        "activation": "tanh",
        "layers": [
            {"w": vec![vec![0.1, -0.2]; 8], "b": vec![0.0; 8]},
            {"w": vec![vec![0.3; 8]], "b": [0.0]},
        ],
    })
    .to_string()
}

#[test]
fn resume_without_a_model_takes_it_from_the_checkpoint_and_can_extend_the_run() {
    let s = Scratch::new("extend");
    let data = s.file("data.csv", data_csv());
    let run = |steps: &str, out: &str, extra: &[&str]| {
        let mut args = vec![
            "train",
            "--data",
            &data,
            "--estimator",
            "dsm",
            "--sigma",
            "0.3",
            "--steps",
            steps,
            "--batch",
            "32",
            "--seed",
            "1",
            "--out",
            out,
        ];
        args.extend_from_slice(extra);
        let (code, _, err) = ebm(&args);
        assert_eq!(code, 0, "{args:?}: {err}");
    };
    let init = s.file(
        "init.json",
        r#"{"type":"diag_gaussian","mean":[0,0],"std":[1,1]}"#,
    );
    let long = s.path("long.json");
    run("300", &long, &["--model", &init]);
    let short = s.path("short.json");
    run("120", &short, &["--model", &init]);
    // 120 steps, then 180 more from the end-of-run checkpoint (OUT.ckpt)
    run("300", &short, &["--resume", &format!("{short}.ckpt")]);
    assert_eq!(
        std::fs::read_to_string(&long).unwrap(),
        std::fs::read_to_string(&short).unwrap()
    );
}
