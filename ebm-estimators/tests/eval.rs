//! The evaluation metrics against reference values from an independent
//! implementation (`tests/fixtures/eval_reference.json`, written by
//! `scripts/eval_reference.py`: scipy for MMD, JAX autodiff of the IMQ
//! kernel for KSD's Stein kernel), and their behaviour under the null and
//! an alternative on exact draws.

use ebm_core::energies::Gaussian;
use ebm_core::{chain_rng, Energy, ExactSample, Points};
use ebm_estimators::eval::{fisher::fisher_divergence, ksd::ksd, mmd::mmd_test, nll::nll};

fn fixture() -> serde_json::Value {
    serde_json::from_str(include_str!("fixtures/eval_reference.json")).unwrap()
}

fn points(v: &serde_json::Value) -> Points {
    let rows: Vec<Vec<f64>> = serde_json::from_value(v.clone()).unwrap();
    let d = rows[0].len();
    Points::from_vec(rows.concat(), d).unwrap()
}

fn gaussian(v: &serde_json::Value) -> Gaussian {
    let mean: Vec<f64> = serde_json::from_value(v["mean"].clone()).unwrap();
    let cov: Vec<Vec<f64>> = serde_json::from_value(v["covariance"].clone()).unwrap();
    Gaussian::from_covariance(mean, &cov.concat()).unwrap()
}

fn close(name: &str, got: f64, want: f64, rel: f64) {
    assert!(
        (got - want).abs() <= rel * want.abs().max(1e-12),
        "{name}: {got} vs reference {want}"
    );
}

#[test]
fn metrics_match_the_independent_reference() {
    let f = fixture();
    let (x, y) = (points(&f["x"]), points(&f["y"]));
    let m = mmd_test(&x, &y, None, 0, 0).unwrap();
    close(
        "bandwidth",
        m.bandwidth,
        f["bandwidth_xy"].as_f64().unwrap(),
        1e-12,
    );
    close("MMD^2", m.mmd2, f["mmd2_xy"].as_f64().unwrap(), 1e-10);
    let rows = x.as_slice();
    let (a, b) = (
        Points::from_vec(rows[..20 * 3].to_vec(), 3).unwrap(),
        Points::from_vec(rows[20 * 3..].to_vec(), 3).unwrap(),
    );
    let m = mmd_test(&a, &b, None, 0, 0).unwrap();
    close(
        "bandwidth (halves)",
        m.bandwidth,
        f["bandwidth_x_halves"].as_f64().unwrap(),
        1e-12,
    );
    close(
        "MMD^2 (halves)",
        m.mmd2,
        f["mmd2_x_halves"].as_f64().unwrap(),
        1e-10,
    );
    let g = gaussian(&f["gaussian"]);
    close(
        "KSD^2 of x",
        ksd(&x, &g).unwrap().ksd2,
        f["ksd2_x"].as_f64().unwrap(),
        1e-10,
    );
    close(
        "KSD^2 of y",
        ksd(&y, &g).unwrap().ksd2,
        f["ksd2_y"].as_f64().unwrap(),
        1e-10,
    );
    let r = gaussian(&f["reference"]);
    let fd = fisher_divergence(&x, &g, &r).unwrap();
    close(
        "Fisher divergence",
        fd.divergence,
        f["fisher_x"].as_f64().unwrap(),
        1e-12,
    );
}

/// `n` exact draws of `g`, from stream (seed, 0).
fn draws(g: &Gaussian, n: usize, seed: u64) -> Points {
    let d = g.dim();
    let mut rng = chain_rng(seed, 0);
    let mut x = vec![0.0; n * d];
    x.chunks_exact_mut(d).for_each(|r| g.sample_into(&mut rng, r));
    Points::from_vec(x, d).unwrap()
}

/// Two samples of one Gaussian: the permutation p-value is not small;
/// a mean shifted by half a standard deviation in every coordinate: it
/// is. KSD of the model's own draws is near zero, of the shifted ones
/// well above. The Fisher divergence of a model to itself is 0.
#[test]
fn tests_behave_under_the_null_and_an_alternative() {
    let g = Gaussian::from_covariance(vec![0.0; 2], &[1.0, 0.5, 0.5, 1.0]).unwrap();
    let shifted = Gaussian::from_covariance(vec![0.5, 0.5], &[1.0, 0.5, 0.5, 1.0]).unwrap();
    let (a, b, c) = (draws(&g, 300, 1), draws(&g, 300, 2), draws(&shifted, 300, 3));
    let null = mmd_test(&a, &b, None, 200, 7).unwrap();
    let alt = mmd_test(&a, &c, None, 200, 7).unwrap();
    eprintln!("MMD null {null:?}, alternative {alt:?}");
    assert!(null.p_value > 0.05, "{null:?}");
    assert!(alt.p_value < 0.01 && alt.mmd2 > 10.0 * null.mmd2.abs(), "{alt:?}");
    let (k0, k1) = (ksd(&a, &g).unwrap(), ksd(&c, &g).unwrap());
    eprintln!("KSD^2: own draws {}, shifted {}", k0.ksd2, k1.ksd2);
    assert!(k1.ksd2 > 10.0 * k0.ksd2.abs(), "{k0:?} vs {k1:?}");
    assert_eq!(fisher_divergence(&a, &g, &g).unwrap().divergence, 0.0);
}

/// On its own draws, a Gaussian's NLL is its entropy,
/// D/2 log(2 pi e) + 1/2 log det Sigma, within 4 standard errors; bad
/// input is refused with a message.
#[test]
fn nll_of_a_gaussian_is_its_entropy() {
    let g = Gaussian::from_covariance(vec![1.0, -1.0], &[2.0, 0.3, 0.3, 0.5]).unwrap();
    let x = draws(&g, 5000, 4);
    let mut e = vec![0.0; x.len()];
    g.energy_batch(x.as_slice(), &mut e);
    let r = nll(&e, g.log_partition().unwrap(), 0.0).unwrap();
    let det: f64 = 2.0 * 0.5 - 0.3 * 0.3;
    let entropy = (2.0 * std::f64::consts::PI * std::f64::consts::E).ln() + 0.5 * det.ln();
    eprintln!("NLL {} +- {} vs entropy {entropy}", r.nll, r.stderr);
    assert!((r.nll - entropy).abs() < 4.0 * r.stderr, "{r:?} vs {entropy}");
    assert!(nll(&[1.0, f64::INFINITY], 0.0, 0.0)
        .unwrap_err()
        .to_string()
        .contains("point 1"));
    let short = Points::from_vec(vec![0.0; 2], 2).unwrap();
    assert!(ksd(&short, &g).unwrap_err().to_string().contains("at least 2"));
}
