//! Exact score matching's second-order pass against finite differences:
//! the activations' third derivatives against their second; the MLP's
//! Laplacian tr grad_x^2 E against central differences of its score
//! (computed by ebm-core's backward pass, independent of the second-order
//! code); the Laplacian's parameter gradient against central differences
//! of the Laplacian; and the Gaussian family's loss against its closed
//! form.

use ebm_core::energies::{Activation, Layer, Mlp};
use ebm_core::{setup_rng, Points};
use ebm_estimators::capability::{
    CapabilityObjective, EnergyCapability, HandGaussian, HandMlp, ScoreCapability,
};
use ebm_estimators::objectives::ExactScoreMatching;
use rand::Rng;

const ACTIVATIONS: [Activation; 3] = [Activation::Silu, Activation::Softplus, Activation::Tanh];

#[test]
fn third_derivatives_match_central_differences_of_the_second() {
    for act in ACTIVATIONS {
        for z in [-6.0, -1.3, -0.2, 0.0, 0.4, 2.1, 7.5] {
            let h = 1e-5;
            let curv = |z: f64| act.value_slope_curvature(z).2;
            let fd = (curv(z + h) - curv(z - h)) / (2.0 * h);
            let (slope, curvature, jerk) = act.slope_curvature_jerk(z);
            assert_eq!((slope, curvature), (act.value_slope_curvature(z).1, curv(z)));
            assert!((jerk - fd).abs() < 1e-7, "{act:?} at {z}: {jerk} vs {fd}");
        }
    }
}

/// A random 3-5-4-1 MLP with activation `act`, weights N(0, 0.8^2).
fn mlp(act: Activation, seed: u64) -> HandMlp {
    let mut rng = setup_rng(seed);
    let mut layer = |n_in: usize, n_out: usize| Layer {
        w: (0..n_in * n_out)
            .map(|_| 0.8 * rng.sample::<f64, _>(rand_distr::StandardNormal))
            .collect(),
        b: (0..n_out)
            .map(|_| 0.3 * rng.sample::<f64, _>(rand_distr::StandardNormal))
            .collect(),
        n_in,
        n_out,
    };
    let layers = vec![layer(3, 5), layer(5, 4), layer(4, 1)];
    HandMlp::new(Mlp::new(act, layers).unwrap())
}

fn points(seed: u64, n: usize) -> Points {
    let mut rng = setup_rng(seed);
    Points::from_vec((0..3 * n).map(|_| rng.random_range(-2.0..2.0)).collect(), 3).unwrap()
}

fn zeros(m: &mut HandMlp) -> Vec<Vec<f64>> {
    m.params().iter().map(|p| vec![0.0; p.len()]).collect()
}

/// sum_i T(x_i) by the second-order pass.
fn laplacian(m: &mut HandMlp, x: &Points) -> f64 {
    let mut g = zeros(m);
    m.add_weighted_laplacian_grad(x, 1.0, &mut g).unwrap().unwrap()
}

#[test]
fn the_mlp_laplacian_matches_differences_of_its_score() {
    for act in ACTIVATIONS {
        let mut m = mlp(act, 3);
        let x = points(4, 150);
        let h = 1e-5;
        let mut fd = 0.0;
        for row in x.rows() {
            for j in 0..3 {
                let mut at = |sign: f64| {
                    let mut p = row.to_vec();
                    p[j] += sign * h;
                    m.scores(&Points::from_vec(p, 3).unwrap())[j]
                };
                // T = -tr grad_x s
                fd -= (at(1.0) - at(-1.0)) / (2.0 * h);
            }
        }
        let t = laplacian(&mut m, &x);
        assert!((t - fd).abs() < 1e-6 * (1.0 + fd.abs()), "{act:?}: {t} vs {fd}");
    }
}

#[test]
fn the_laplacians_parameter_gradient_matches_central_differences() {
    for act in ACTIVATIONS {
        let mut m = mlp(act, 7);
        let x = points(8, 5);
        let mut g = zeros(&mut m);
        m.add_weighted_laplacian_grad(&x, 0.5, &mut g).unwrap().unwrap();
        let base = m.params();
        let h = 1e-6;
        let mut worst: f64 = 0.0;
        for t in 0..base.len() {
            for k in 0..base[t].len() {
                let mut at = |delta: f64| {
                    let mut p = base.clone();
                    p[t][k] += delta;
                    m.set_params(&p).unwrap();
                    laplacian(&mut m, &x)
                };
                let fd = 0.5 * (at(h) - at(-h)) / (2.0 * h);
                worst = worst.max((g[t][k] - fd).abs() / (1.0 + fd.abs()));
            }
        }
        m.set_params(&base).unwrap();
        assert!(worst < 1e-6, "{act:?}: worst relative error {worst}");
    }
}

/// On the Gaussian family the loss is mean 1/2 |P (x - mu)|^2 - tr P,
/// computed here from the model's own scores and precision.
#[test]
fn the_gaussian_loss_has_its_closed_form() {
    // mu, log diag(L), the strictly lower part of L
    let params = vec![
        vec![0.5, -1.0, 0.2],
        vec![0.3, -0.2, 0.1],
        vec![0.0, 0.0, 0.0, 0.4, 0.0, 0.0, -0.3, 0.2, 0.0],
    ];
    let mut model = HandGaussian::new(&params).unwrap();
    let x = points(9, 40);
    let s = model.score().unwrap().scores(&x);
    let half_sq = s
        .chunks(3)
        .map(|r| 0.5 * r.iter().map(|v| v * v).sum::<f64>())
        .sum::<f64>()
        / 40.0;
    let p = model.gaussian().precision().to_vec();
    let trace = p[0] + p[4] + p[8];
    let mut g: Vec<Vec<f64>> = model.params().iter().map(|p| vec![0.0; p.len()]).collect();
    let loss = ExactScoreMatching::new()
        .loss_grad(&mut model, &x, &mut ebm_core::training_rng(0), &mut g)
        .unwrap();
    assert!(
        (loss - (half_sq - trace)).abs() < 1e-10,
        "{loss} vs {}",
        half_sq - trace
    );
}
