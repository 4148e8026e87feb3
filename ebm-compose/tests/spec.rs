//! Composition model files: nesting, round trips, and errors with paths.

use ebm_compose::ModelSpec;
use ebm_core::spec::Model;

fn err(text: &str) -> String {
    match ModelSpec::from_json(text) {
        Err(e) => e.to_string(),
        Ok(s) => s.build().expect_err("expected an error").to_string(),
    }
}

#[test]
fn errors_name_the_path_to_the_bad_field() {
    let cases = [
        (
            r#"{"type":"product","experts":[{"type":"diag_gaussian","mean":[0],"std":[1]},{"type":"gaussian","mean":[0],"covariance":[[-1]]}]}"#,
            "experts[1].covariance: matrix is not positive definite",
        ),
        (
            r#"{"type":"tempered","beta":2,"base":{"type":"mixture","weights":[1],"components":[{"type":"gmm","weights":[1],"means":[[0]],"stds":[0]}]}}"#,
            "base.components[0].stds[0]: must be positive",
        ),
        (
            r#"{"type":"product","experts":[{"type":"product","experts":[{"type":"diag_gaussian","mean":[0]}]}]}"#,
            "experts[0].experts[0]: missing field `std`",
        ),
        (
            r#"{"type":"product","experts":[{"mean":[0]}]}"#,
            "experts[0]: missing field `type`",
        ),
        (
            r#"{"type":"product","experts":[]}"#,
            "experts: expected at least one energy",
        ),
        (
            r#"{"type":"product","experts":[{"type":"diag_gaussian","mean":[0],"std":[1]},{"type":"diag_gaussian","mean":[0,0],"std":[1,1]}]}"#,
            "experts[1]: expected dimension 1",
        ),
        (
            r#"{"type":"product","weights":[1,-1],"experts":[{"type":"diag_gaussian","mean":[0],"std":[1]},{"type":"diag_gaussian","mean":[0],"std":[1]}]}"#,
            "weights[1]: must be positive",
        ),
        (
            r#"{"type":"tempered","beta":0,"base":{"type":"diag_gaussian","mean":[0],"std":[1]}}"#,
            "beta: must be positive",
        ),
        (
            r#"{"type":"tempered","beta":"hot","base":{"type":"diag_gaussian","mean":[0],"std":[1]}}"#,
            "beta: invalid type",
        ),
        (
            r#"{"type":"product","experts":[{"type":"rbm","w":[[1]],"b":[0],"c":[0]}]}"#,
            "experts[0].type: `rbm` is a binary model",
        ),
        (
            r#"{"type":"ring","center":[0,0],"radius":-1,"strength":1}"#,
            "radius: must be positive",
        ),
        (
            r#"{"type":"box","lo":[0,1],"hi":[1,0],"strength":1}"#,
            "lo[1]: lower bound",
        ),
        (
            r#"{"type":"product","experts":[],"extra":1}"#,
            "unknown field `extra`",
        ),
        (
            r#"{"type":"clamp","base":{"type":"diag_gaussian","mean":[0,0],"std":[1,1]},"indices":[5],"values":[0]}"#,
            "indices[0]",
        ),
        (r#"[1,2]"#, "expected a model object"),
    ];
    for (text, want) in cases {
        let got = err(text);
        assert!(got.contains(want), "{text}\n  got: {got}\n  want: {want}");
    }
}

#[test]
fn nested_files_round_trip_and_build() {
    let text = r#"{"type":"mixture","weights":[0.3,0.7],"log_z":[null,1.5],"components":[
        {"type":"product","weights":[1,2],"experts":[
            {"type":"gaussian","mean":[0,0],"precision":[[2,0],[0,2]]},
            {"type":"tempered","beta":0.5,"base":{"type":"diag_gaussian","mean":[1,1],"std":[1,1]}}]},
        {"type":"product","experts":[{"type":"banana","curvature":0.3},{"type":"ring","center":[0,0],"radius":2,"strength":10},
            {"type":"half_space","normal":[1,0],"offset":0,"strength":5},{"type":"ball","center":[0,0],"radius":3,"strength":1},
            {"type":"box","lo":[-4,-4],"hi":[4,4],"strength":1},
            {"type":"clamp","base":{"type":"diag_gaussian","mean":[0,0,0],"std":[1,1,1]},"indices":[2],"values":[0.5]}]}]}"#;
    let spec = ModelSpec::from_json(text).unwrap();
    let again = ModelSpec::from_json(&spec.to_json()).unwrap();
    assert_eq!(spec, again);
    let Model::Continuous(e) = spec.build().unwrap() else {
        panic!("continuous")
    };
    assert_eq!(e.dim(), 2);
    assert!(e.energy(&[0.5, -0.5]).is_finite());
}

#[test]
fn product_of_gaussians_file_has_exact_log_z() {
    let text = r#"{"type":"product","experts":[
        {"type":"diag_gaussian","mean":[0],"std":[1]},
        {"type":"diag_gaussian","mean":[2],"std":[1]}]}"#;
    let Model::Continuous(e) = ModelSpec::from_json(text).unwrap().build().unwrap() else {
        panic!()
    };
    // exp(-x^2/2 - (x-2)^2/2) = exp(-1) exp(-(x-1)^2): log Z = -1 + 1/2 log pi.
    let want = -1.0 + 0.5 * std::f64::consts::PI.ln();
    assert!((e.log_partition().unwrap() - want).abs() < 1e-12);
}
