//! The input loaders under arbitrary input (the in-suite companion of the
//! cargo-fuzz targets in `fuzz/`): any JSON value or byte string given as a
//! model file, CSV or .npy gives a result or a one-line error, never a
//! panic, and what loads is usable (finite data; a model that evaluates).

use ebm_bench::model_file::parse_model;
use ebm_bench::points_file::{parse_points_csv, parse_points_npy};
use ebm_core::spec::Model;
use proptest::prelude::*;
use serde_json::{Map, Value};

const TYPES: &[&str] = &[
    "gaussian",
    "diag_gaussian",
    "banded_gaussian",
    "gmm",
    "rbm",
    "double_well",
    "banana",
    "funnel",
    "mlp",
    "ising",
    "product",
    "mixture",
    "tempered",
    "clamp",
    "half_space",
    "ball",
    "ring",
    "box",
    "nonsense",
];

const KEYS: &[&str] = &[
    "type",
    "mean",
    "covariance",
    "precision",
    "std",
    "bands",
    "weights",
    "means",
    "stds",
    "w",
    "b",
    "c",
    "dim",
    "barrier",
    "curvature",
    "scale",
    "activation",
    "layers",
    "rows",
    "cols",
    "coupling",
    "field",
    "beta",
    "periodic",
    "experts",
    "components",
    "log_z",
    "base",
    "lo",
    "hi",
    "normal",
    "offset",
    "strength",
    "center",
    "radius",
    "inner",
    "outer",
    "model",
    "extra",
];

/// Numbers a model file might hold, including the awkward ones.
fn number() -> impl Strategy<Value = Value> {
    prop_oneof![
        (-3i64..4).prop_map(Value::from),
        (-5.0f64..5.0).prop_map(Value::from),
        Just(Value::from(0.0)),
        Just(Value::from(-1.0)),
        Just(Value::from(1e300)),
        Just(Value::from(-1e300)),
        Just(Value::from(1e-320)),
        Just(Value::from(u64::MAX)),
        Just(Value::from(i64::MIN)),
        Just(Value::from(4_000_000_000u64)),
        any::<f64>().prop_map(Value::from),
    ]
}

fn leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        4 => number(),
        1 => Just(Value::Null),
        1 => any::<bool>().prop_map(Value::from),
        2 => prop::sample::select(TYPES).prop_map(Value::from),
        1 => "[a-z_]{0,8}".prop_map(Value::from),
    ]
}

/// Any JSON value, biased towards objects that look like model files.
fn json() -> impl Strategy<Value = Value> {
    leaf().prop_recursive(5, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
            prop::collection::vec(number(), 0..5).prop_map(Value::Array),
            (
                prop::sample::select(TYPES),
                prop::collection::vec((prop::sample::select(KEYS), inner.clone()), 0..6)
            )
                .prop_map(|(ty, fields)| {
                    let mut m: Map<String, Value> =
                        fields.into_iter().map(|(k, v)| (k.to_string(), v)).collect();
                    m.insert("type".into(), ty.into());
                    Value::Object(m)
                }),
            prop::collection::vec((prop::sample::select(KEYS), inner), 0..6)
                .prop_map(|f| Value::Object(f.into_iter().map(|(k, v)| (k.to_string(), v)).collect())),
        ]
    })
}

/// Load `text` as a model file; a model that loads must evaluate without
/// panicking, and an error must be one line.
fn load(text: &str) {
    match parse_model("prop.json", text) {
        Ok((spec, model)) => {
            let _ = spec.to_json();
            match model {
                Model::Continuous(e) if e.dim() <= 4096 => {
                    let x = vec![0.25; e.dim()];
                    let mut g = vec![0.0; e.dim()];
                    let _ = e.energy_grad(&x, &mut g);
                }
                Model::Binary(e) if e.dim() <= 4096 => {
                    let _ = e.energy(&vec![1.0; e.dim()]);
                }
                _ => {}
            }
        }
        Err(e) => {
            let m = e.to_string();
            assert!(!m.contains('\n'), "multi-line error: {m}");
            assert!(m.starts_with("prop.json"), "the error names the file: {m}");
        }
    }
}

/// The bytes of a .npy file with `header` as its header dictionary.
fn npy(header: &str, body: &[u8]) -> Vec<u8> {
    let mut v = b"\x93NUMPY\x01\x00".to_vec();
    let h = format!("{header}\n");
    v.extend_from_slice(&(h.len() as u16).to_le_bytes());
    v.extend_from_slice(h.as_bytes());
    v.extend_from_slice(body);
    v
}

fn points_ok(p: &ebm_core::Points) {
    assert!(p.dim() > 0 && !p.is_empty());
    assert!(p.as_slice().iter().all(|v| v.is_finite()));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn any_json_value_is_a_model_or_an_error(v in json()) {
        load(&v.to_string());
    }

    #[test]
    fn any_bytes_are_a_model_or_an_error(bytes in prop::collection::vec(any::<u8>(), 0..400)) {
        load(&String::from_utf8_lossy(&bytes));
    }

    #[test]
    fn any_bytes_are_csv_points_or_an_error(bytes in prop::collection::vec(any::<u8>(), 0..400)) {
        if let Ok(p) = parse_points_csv("prop.csv", &bytes[..]) {
            points_ok(&p);
        }
    }

    #[test]
    fn csv_like_text_is_points_or_an_error(
        rows in prop::collection::vec(prop::collection::vec(
            prop_oneof![
                any::<f64>().prop_map(|v| v.to_string()),
                (-9i32..9).prop_map(|v| v.to_string()),
                Just("nan".to_string()), Just("inf".to_string()), Just("".to_string()),
                Just("1e400".to_string()), Just("x".to_string()), Just("#".to_string()),
            ], 0..4), 0..6)
    ) {
        let text: String = rows.iter().map(|r| r.join(",") + "\n").collect();
        if let Ok(p) = parse_points_csv("prop.csv", text.as_bytes()) {
            points_ok(&p);
        }
    }

    #[test]
    fn any_bytes_are_npy_points_or_an_error(bytes in prop::collection::vec(any::<u8>(), 0..400)) {
        if let Ok(p) = parse_points_npy("prop.npy", &bytes) {
            points_ok(&p);
        }
    }

    #[test]
    fn npy_headers_with_any_shape_and_dtype_are_points_or_an_error(
        descr in prop::sample::select(vec!["<f8", "<f4", "<i8", "<i4", "|u1", "|b1", ">f8", "<c16", "|O", "<U3", "<f2"]),
        fortran in any::<bool>(),
        shape in prop::collection::vec(prop_oneof![0u64..5, Just(u32::MAX as u64), Just(u64::MAX / 4), Just(1u64 << 40)], 0..4),
        body in prop::collection::vec(any::<u8>(), 0..200),
    ) {
        let dims: Vec<String> = shape.iter().map(u64::to_string).collect();
        let tuple = if dims.len() == 1 { format!("({},)", dims[0]) } else { format!("({})", dims.join(", ")) };
        let header = format!(
            "{{'descr': '{descr}', 'fortran_order': {}, 'shape': {tuple}, }}",
            if fortran { "True" } else { "False" }
        );
        if let Ok(p) = parse_points_npy("prop.npy", &npy(&header, &body)) {
            points_ok(&p);
        }
    }
}

#[test]
fn nested_compositions_deeper_than_the_parser_allows_are_an_error() {
    let mut v = serde_json::json!({"type": "diag_gaussian", "mean": [0.0], "std": [1.0]});
    for _ in 0..200 {
        v = serde_json::json!({"type": "product", "experts": [v]});
    }
    // serde_json's recursion limit (128) stops this before any of our code
    // recurses; the error still names the file
    let e = parse_model("deep.json", &serde_json::to_string(&v).unwrap())
        .err()
        .unwrap();
    assert!(e.to_string().starts_with("deep.json"), "{e}");
}
