//! Model files: JSON round trips and validation errors that name the field.

use ebm_core::energies::Spins;
use ebm_core::spec::{Arithmetic, EnergySpec, Model};
use proptest::prelude::*;

fn err(json: &str) -> String {
    match EnergySpec::from_json(json) {
        Err(e) => e.to_string(),
        Ok(s) => s.build().expect_err("expected a validation error").to_string(),
    }
}

#[test]
fn each_bad_input_names_its_field() {
    let cases = [
        (
            r#"{"type":"gaussian","mean":[0,0],"covariance":[[1,0],[0]]}"#,
            "covariance[1]",
        ),
        (
            r#"{"type":"gaussian","mean":[0,0],"covariance":[[1,0]]}"#,
            "covariance: expected 2 rows",
        ),
        (
            r#"{"type":"gaussian","mean":[0,0],"covariance":[[1,2],[2,1]]}"#,
            "covariance: matrix is not positive definite",
        ),
        (
            r#"{"type":"gaussian","mean":[0,0],"covariance":[[1,0.5],[0.2,1]]}"#,
            "not symmetric",
        ),
        (r#"{"type":"gaussian","mean":[0,0]}"#, "exactly one of"),
        (
            r#"{"type":"gaussian","mean":[0,0],"precision":[[1,0],[0,-1]]}"#,
            "precision: matrix is not positive definite",
        ),
        (r#"{"type":"gaussian","mean":[],"covariance":[]}"#, "mean"),
        (
            r#"{"type":"diag_gaussian","mean":[0,0],"std":[1]}"#,
            "std: expected 2 entries, got 1",
        ),
        (
            r#"{"type":"diag_gaussian","mean":[0,0],"std":[1,0]}"#,
            "std[1]: must be positive",
        ),
        (
            r#"{"type":"gmm","weights":[1,-1],"means":[[0],[1]],"stds":[1,1]}"#,
            "weights[1]: must be positive",
        ),
        (
            r#"{"type":"gmm","weights":[1,1],"means":[[0,0],[1]],"stds":[1,1]}"#,
            "means[1]",
        ),
        (
            r#"{"type":"gmm","weights":[1,1],"means":[[0],[1]],"stds":[1]}"#,
            "stds",
        ),
        (r#"{"type":"rbm","w":[[1,2],[3]],"b":[0,0],"c":[0,0]}"#, "w[1]"),
        (
            r#"{"type":"rbm","w":[[1,2],[3,4]],"b":[0],"c":[0,0]}"#,
            "b: expected 2 entries",
        ),
        (r#"{"type":"rbm","w":[],"b":[],"c":[]}"#, "w"),
        (
            r#"{"type":"banana","dim":1,"curvature":1}"#,
            "dim: must be at least 2",
        ),
        (
            r#"{"type":"funnel","dim":3,"scale":0}"#,
            "scale: must be positive",
        ),
        (r#"{"type":"double_well","dim":0,"barrier":1}"#, "dim"),
        (r#"{"type":"ising","rows":0,"cols":3}"#, "rows"),
        (r#"{"type":"nonsense"}"#, "unknown variant"),
        (
            r#"{"type":"diag_gaussian","mean":[0],"std":[1],"extra":1}"#,
            "unknown field",
        ),
        (
            r#"{"type":"diag_gaussian","mean":[1e999],"std":[1]}"#,
            "model file",
        ),
        (r#"not json"#, "model file"),
        (r#"{"mean":[0],"std":[1]}"#, "type"),
        (
            r#"{"type":"pairwise","n":3,"couplings":[[0,1,1],[1,3,0.5]]}"#,
            "couplings[1]: site 3 is out of range for n = 3",
        ),
        (
            r#"{"type":"pairwise","n":3,"couplings":[[0,1,1],[1,0,0.5]]}"#,
            "couplings[1]: pair (1, 0) is already listed at couplings[0]",
        ),
        (
            r#"{"type":"pairwise","n":3,"couplings":[[2,2,1]]}"#,
            "couplings[0]: pairs site 2 with itself",
        ),
        (
            r#"{"type":"pairwise","n":3,"couplings":[],"fields":[0,1]}"#,
            "fields: expected 3 entries, got 2",
        ),
        (
            r#"{"type":"pairwise","n":2,"spins":"ud"}"#,
            "unknown variant `ud`",
        ),
        (r#"{"type":"pairwise","n":0}"#, "n: must be at least 1"),
        (
            r#"{"type":"potts","n":3,"q":3,"couplings":[[0,1,1],[1,5,1]]}"#,
            "couplings[1]: site 5 is out of range for 3 sites",
        ),
        (
            r#"{"type":"potts","n":3,"q":1}"#,
            "q: must be from 2 to 4096 states, got 1",
        ),
        (
            r#"{"type":"potts","n":2,"q":2,"fields":[[0,0],[0]]}"#,
            "fields[1]: expected 2 entries, got 1",
        ),
        (
            r#"{"type":"categorical","q":[2,3],"edges":[{"i":0,"j":1,"w":[[0,0,0],[0,0]]}]}"#,
            "edges[0].w[1]: expected 3 entries, got 2",
        ),
        (
            r#"{"type":"categorical","q":[2,3],"edges":[{"i":0,"j":1,"w":[[0,0,0]]}]}"#,
            "edges[0].w: expected 2 rows, got 1",
        ),
        (
            r#"{"type":"categorical","q":[2,0]}"#,
            "q[1]: must be from 2 to 4096 states, got 0",
        ),
    ];
    for (json, want) in cases {
        let got = err(json);
        assert!(
            got.contains(want),
            "{json}\n  got: {got}\n  want substring: {want}"
        );
    }
}

#[test]
fn binary_models_build_as_binary() {
    let s = EnergySpec::from_json(r#"{"type":"ising","rows":2,"cols":3,"periodic":true}"#).unwrap();
    assert!(matches!(s.build().unwrap(), Model::Binary(_)));
    assert!(s.build_continuous().is_err());
}

fn finite() -> impl Strategy<Value = f64> {
    -1e6f64..1e6
}
fn positive() -> impl Strategy<Value = f64> {
    1e-3f64..1e3
}

fn any_spec() -> impl Strategy<Value = EnergySpec> {
    prop_oneof![
        (1usize..4)
            .prop_flat_map(|d| (
                proptest::collection::vec(finite(), d),
                proptest::collection::vec(positive(), d)
            ))
            .prop_map(|(mean, std)| EnergySpec::DiagGaussian { mean, std }),
        // diagonally dominant, so positive definite
        (1usize..5, 0usize..3)
            .prop_flat_map(|(d, k)| (
                proptest::collection::vec(finite(), d),
                proptest::collection::vec(-1.0f64..1.0, (k.min(d - 1) + 1) * d)
            ))
            .prop_map(|(mean, raw)| {
                let d = mean.len();
                let k = raw.len() / d - 1;
                let mut bands: Vec<Vec<f64>> = (0..=k).map(|m| raw[m * d..m * d + d - m].to_vec()).collect();
                bands[0]
                    .iter_mut()
                    .for_each(|v| *v = v.abs() + 2.0 * k as f64 + 0.1);
                EnergySpec::BandedGaussian { mean, bands }
            }),
        (1usize..4, 1usize..3, proptest::bool::ANY)
            .prop_flat_map(|(k, d, single)| (
                proptest::collection::vec(positive(), k),
                proptest::collection::vec(proptest::collection::vec(finite(), d), k),
                proptest::collection::vec(positive(), k),
                Just(single)
            ))
            .prop_map(|(weights, means, stds, single)| EnergySpec::Gmm {
                weights,
                means,
                stds,
                arithmetic: if single { Arithmetic::F32 } else { Arithmetic::F64 }
            }),
        (1usize..4, 1usize..4)
            .prop_flat_map(|(v, h)| (
                proptest::collection::vec(proptest::collection::vec(finite(), h), v),
                proptest::collection::vec(finite(), v),
                proptest::collection::vec(finite(), h)
            ))
            .prop_map(|(w, b, c)| EnergySpec::Rbm { w, b, c }),
        (2usize..5, finite(), positive()).prop_map(|(dim, curvature, scale)| EnergySpec::Banana {
            dim,
            curvature,
            scale
        }),
        (2usize..5, positive()).prop_map(|(dim, scale)| EnergySpec::Funnel { dim, scale }),
        (1usize..5, positive()).prop_map(|(dim, barrier)| EnergySpec::DoubleWell { dim, barrier }),
        (1usize..5, 1usize..5, finite(), finite(), finite(), any::<bool>()).prop_map(
            |(rows, cols, coupling, field, beta, periodic)| EnergySpec::Ising {
                rows,
                cols,
                coupling,
                field,
                beta,
                periodic
            }
        ),
        (2usize..6, any::<bool>())
            .prop_flat_map(|(n, bits)| (
                Just(n),
                Just(bits),
                proptest::collection::vec((0..n, 0..n, finite()), 0..6),
                proptest::collection::vec(finite(), n)
            ))
            .prop_map(|(n, bits, raw, fields)| {
                // keep each pair once and no self-pairs
                let mut seen = std::collections::HashSet::new();
                let couplings = raw
                    .into_iter()
                    .filter(|&(i, j, _)| i != j && seen.insert((i.min(j), i.max(j))))
                    .collect();
                EnergySpec::Pairwise {
                    n,
                    spins: if bits { Spins::Bits } else { Spins::Pm1 },
                    couplings,
                    fields: Some(fields),
                }
            }),
        (1usize..4)
            .prop_flat_map(|d| proptest::collection::vec(finite(), d))
            .prop_map(|mean| {
                let d = mean.len();
                let cov = (0..d)
                    .map(|i| (0..d).map(|j| if i == j { 2.0 } else { 0.5 }).collect())
                    .collect();
                EnergySpec::Gaussian {
                    mean,
                    covariance: Some(cov),
                    precision: None,
                    arithmetic: Default::default(),
                }
            }),
    ]
}

proptest! {
    /// JSON text -> spec -> JSON is lossless (serde_json prints shortest
    /// round-trip f64 representations), and every valid spec builds.
    #[test]
    fn json_round_trip(spec in any_spec()) {
        let text = spec.to_json();
        let back = EnergySpec::from_json(&text).unwrap();
        prop_assert_eq!(&back, &spec);
        let model = spec.build();
        prop_assert!(model.is_ok(), "{:?}", model.err());
    }
}

#[test]
fn energies_convert_back_to_specs() {
    use ebm_core::energies::{Gaussian, Rbm};
    let g = Gaussian::from_covariance(vec![1.0, 2.0], &[2.0, 0.3, 0.3, 1.0]).unwrap();
    let s = EnergySpec::from(&g);
    let Model::Continuous(e) = s.build().unwrap() else {
        panic!()
    };
    let x = [0.3, -0.7];
    assert!((e.energy(&x) - ebm_core::Energy::energy(&g, &x)).abs() < 1e-12);
    let r = Rbm::new(
        2,
        3,
        vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0],
        vec![0.1, 0.2],
        vec![0.0, 0.1, 0.2],
    )
    .unwrap();
    let back = EnergySpec::from(&r);
    assert_eq!(back, EnergySpec::from_json(&back.to_json()).unwrap());
    let EnergySpec::Rbm { w, .. } = back else { panic!() };
    assert_eq!(w, vec![vec![1.0, 2.0, 3.0], vec![4.0, 5.0, 6.0]]);
    let p =
        ebm_core::energies::Pairwise::new(3, Spins::Bits, vec![(2, 0, 0.5)], vec![0.1, 0.0, -0.2]).unwrap();
    let back = EnergySpec::from(&p);
    assert_eq!(back, EnergySpec::from_json(&back.to_json()).unwrap());
    let Model::Binary(b) = back.build().unwrap() else {
        panic!()
    };
    assert_eq!(b.pairwise(), Some(&p));
}

/// A loaded model answers capability questions itself: exact draws, the
/// block structure of an RBM, a lattice's sweep order.
#[test]
fn loaded_models_say_what_they_can_do() {
    let build = |json: &str| EnergySpec::from_json(json).unwrap().build().unwrap();
    let Model::Continuous(g) = build(r#"{"type":"gaussian","mean":[1,-2],"covariance":[[1,0],[0,4]]}"#)
    else {
        panic!("a gaussian is continuous")
    };
    let sampler = g.exact_sampler().expect("a gaussian samples exactly");
    let mut rng = ebm_core::setup_rng(3);
    let n = 20_000;
    let mut sum = [0.0; 2];
    let mut x = [0.0; 2];
    for _ in 0..n {
        sampler.sample_into(&mut rng, &mut x);
        sum[0] += x[0];
        sum[1] += x[1];
    }
    // standard errors 1 / sqrt(n) and 2 / sqrt(n); 4.5 SE each
    let se = [1.0 / (n as f64).sqrt(), 2.0 / (n as f64).sqrt()];
    assert!((sum[0] / n as f64 - 1.0).abs() < 4.5 * se[0]);
    assert!((sum[1] / n as f64 + 2.0).abs() < 4.5 * se[1]);
    for json in [
        r#"{"type":"gmm","weights":[0.5,0.5],"means":[[0],[3]],"stds":[1,1]}"#,
        r#"{"type":"diag_gaussian","mean":[0],"std":[2]}"#,
        r#"{"type":"banana","curvature":0.1}"#,
        r#"{"type":"funnel","dim":3}"#,
    ] {
        let Model::Continuous(e) = build(json) else {
            panic!()
        };
        assert!(e.exact_sampler().is_some(), "{json}");
    }
    let Model::Continuous(w) = build(r#"{"type":"double_well","dim":2,"barrier":1}"#) else {
        panic!()
    };
    assert!(w.exact_sampler().is_none());

    let Model::Binary(r) = build(r#"{"type":"rbm","w":[[1,0],[0,1],[1,1]],"b":[0,0,0],"c":[0,0]}"#) else {
        panic!("an rbm is binary")
    };
    let rbm = r.rbm().expect("an rbm has its bipartite structure");
    assert_eq!((rbm.n_visible(), rbm.n_hidden()), (3, 2));
    let Model::Binary(i) = build(r#"{"type":"ising","rows":2,"cols":3}"#) else {
        panic!()
    };
    assert!(i.rbm().is_none());
    let mut order = Vec::new();
    i.sweep_order(&mut order);
    // the checkerboard: (0,0) (0,2) (1,1), then (0,1) (1,0) (1,2)
    assert_eq!(order, vec![0, 2, 4, 1, 3, 5]);
    // an Ising lattice and a pairwise file both hand the samplers their
    // pairwise form; fields default to 0 and spins to pm1
    assert_eq!(i.pairwise().expect("ising is pairwise").n(), 6);
    let Model::Binary(p) = build(r#"{"type":"pairwise","n":3,"couplings":[[0,2,0.5]]}"#) else {
        panic!()
    };
    let pw = p.pairwise().expect("pairwise");
    assert_eq!((pw.spins(), pw.fields()), (Spins::Pm1, &[0.0; 3][..]));
    assert_eq!(p.energy(&[1.0, -1.0, 1.0]), -0.5);
}
