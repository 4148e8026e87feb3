//! The convolutional energy: the hand-written passes against dfdx's tape
//! (an independent formulation: gathers and batched products), the score
//! pass against finite differences, f32 against f64, and the same bits on
//! any number of threads.

use dfdx::prelude::*;
use ebm_core::energies::{Activation, ConvNet};
use ebm_core::spec::Arithmetic;
use ebm_core::{setup_rng, Energy, Points};
use ebm_estimators::capability::{Autodiff, EnergyCapability, HandConv, ScoreLoss};
use ebm_estimators::models::ConvEnergy;
use rand::Rng;

/// 2 x 7 x 6 images; 3x3 padding 1, then 3x3 stride 2 padding 1 (7 -> 4,
/// 6 -> 3), then 2x2 stride 1 without padding: every case of the gather.
fn model(act: Activation, seed: u64) -> ConvEnergy<f64, Cpu> {
    let mut rng = setup_rng(seed);
    ConvEnergy::new(
        &Cpu::default(),
        [2, 7, 6],
        &[(4, 3, 1, 1), (3, 3, 2, 1), (2, 2, 1, 0)],
        act,
        &mut rng,
    )
    .unwrap()
}

fn images(n: usize, seed: u64) -> Points {
    let mut rng = setup_rng(seed);
    Points::from_vec((0..n * 84).map(|_| rng.random_range(-1.5..1.5)).collect(), 84).unwrap()
}

fn zeros(m: &mut dyn EnergyCapability) -> Vec<Vec<f64>> {
    m.params().iter().map(|p| vec![0.0; p.len()]).collect()
}

fn close(a: &[f64], b: &[f64], tol: f64, what: &str) {
    assert_eq!(a.len(), b.len(), "{what}: lengths");
    for (i, (x, y)) in a.iter().zip(b).enumerate() {
        assert!((x - y).abs() <= tol * (1.0 + x.abs()), "{what}[{i}]: {x} vs {y}");
    }
}

/// Energies, input gradients and parameter gradients of a weighted sum
/// agree between the hand-written passes and dfdx's tape to rounding
/// (1e-11 relative: both in f64, different summation orders).
#[test]
fn hand_written_passes_match_the_tape() {
    for (act, seed) in [
        (Activation::Silu, 1),
        (Activation::Softplus, 2),
        (Activation::Tanh, 3),
    ] {
        let m = model(act, seed);
        let x = images(9, seed + 10);
        let net = m.to_core();
        let (mut e_tape, mut e_hand) = (vec![0.0; 9], vec![0.0; 9]);
        let (mut g_tape, mut g_hand) = (vec![0.0; 9 * 84], vec![0.0; 9 * 84]);
        m.energy_grad_batch(x.as_slice(), &mut g_tape, &mut e_tape);
        net.energy_grad_batch(x.as_slice(), &mut g_hand, &mut e_hand);
        close(&e_tape, &e_hand, 1e-11, "energy");
        close(&g_tape, &g_hand, 1e-11, "input gradient");
        let w: Vec<f64> = (0..9).map(|i| (i as f64 - 4.0) * 0.3).collect();
        let mut tape = Autodiff::new(m.clone());
        let mut hand = HandConv::new(net);
        let (mut gt, mut gh) = (zeros(&mut tape), zeros(&mut hand));
        assert_eq!(tape.param_shapes(), hand.param_shapes());
        tape.add_weighted_energy_grad(&x, &w, &mut gt).unwrap();
        hand.add_weighted_energy_grad(&x, &w, &mut gh).unwrap();
        for (t, (a, b)) in gt.iter().zip(&gh).enumerate() {
            close(a, b, 1e-11, &format!("{act:?} parameter tensor {t}"));
        }
        assert_eq!(hand.to_spec(), tape.to_spec());
    }
}

/// l_i(s) = 1/2 |s - c_i|^2 with fixed targets c_i.
struct ToTargets(Vec<f64>);

impl ScoreLoss for ToTargets {
    fn row(&self, i: usize, score: &[f64], ds: &mut [f64]) -> f64 {
        let c = &self.0[i * score.len()..(i + 1) * score.len()];
        let mut l = 0.0;
        for ((d, s), t) in ds.iter_mut().zip(score).zip(c) {
            *d = s - t;
            l += 0.5 * (s - t) * (s - t);
        }
        l
    }
}

/// The reverse-over-forward score pass: its loss is the loss of the
/// scores, and its gradient matches central differences of that loss in
/// every parameter (h = 1e-5: truncation ~1e-10 |L'''|, rounding ~1e-11
/// |L| / h; 1e-6 relative leaves room) for each activation, across
/// parts (40 images: two parts of 32 and 8).
#[test]
fn score_pass_matches_finite_differences() {
    for (act, seed) in [
        (Activation::Silu, 4),
        (Activation::Softplus, 5),
        (Activation::Tanh, 6),
    ] {
        let mut hand = HandConv::new(model(act, seed).to_core());
        let x = images(40, seed + 20);
        let targets = ToTargets(images(40, seed + 30).as_slice().iter().map(|v| 0.5 * v).collect());
        let loss_at = |h: &mut HandConv| {
            let s = ebm_estimators::capability::ScoreCapability::scores(h, &x);
            let mut ds = vec![0.0; 84];
            (0..40)
                .map(|i| targets.row(i, &s[i * 84..(i + 1) * 84], &mut ds))
                .sum::<f64>()
        };
        let mut g = zeros(&mut hand);
        let l = hand
            .score()
            .unwrap()
            .add_score_loss_grad(&x, &targets, &mut g)
            .unwrap();
        assert!((l - loss_at(&mut hand)).abs() < 1e-10 * l.abs());
        let params = hand.params();
        for (t, p) in params.iter().enumerate() {
            // every bias and the final layer in full, a spread of filter weights
            let step = if p.len() > 40 { 7 } else { 1 };
            for j in (0..p.len()).step_by(step) {
                let mut v = params.clone();
                v[t][j] += 1e-5;
                hand.set_params(&v).unwrap();
                let up = loss_at(&mut hand);
                v[t][j] -= 2e-5;
                hand.set_params(&v).unwrap();
                let down = loss_at(&mut hand);
                let fd = (up - down) / 2e-5;
                assert!(
                    (fd - g[t][j]).abs() < 1e-6 * (1.0 + fd.abs()),
                    "{act:?} tensor {t}[{j}]: {fd} vs {}",
                    g[t][j]
                );
            }
        }
        hand.set_params(&params).unwrap();
    }
}

/// The f32 passes agree with the f64 ones to single precision (1e-4
/// relative on sums of ~100 terms of size ~1).
#[test]
fn single_precision_passes_are_close() {
    let net = model(Activation::Silu, 7).to_core();
    let mut h64 = HandConv::new(net.clone());
    let mut h32 = HandConv::new(net.with_arithmetic(Arithmetic::F32));
    let x = images(16, 8);
    let targets = ToTargets(vec![0.1; 16 * 84]);
    let (mut a, mut b) = (zeros(&mut h64), zeros(&mut h32));
    let la = h64
        .score()
        .unwrap()
        .add_score_loss_grad(&x, &targets, &mut a)
        .unwrap();
    let lb = h32
        .score()
        .unwrap()
        .add_score_loss_grad(&x, &targets, &mut b)
        .unwrap();
    assert!((la - lb).abs() < 1e-4 * la.abs());
    for (p, q) in a.iter().zip(&b) {
        let scale = p.iter().map(|v| v.abs()).fold(0.0, f64::max);
        for (u, v) in p.iter().zip(q) {
            assert!((u - v).abs() < 1e-4 * (1.0 + scale), "{u} vs {v}");
        }
    }
    assert!(h32.to_spec().to_json().contains("\"arithmetic\":\"f32\""));
}

/// Parts run in parallel and are added in part order: one thread and two
/// give the same bits.
#[test]
fn gradients_are_the_same_bits_on_any_number_of_threads() {
    let net: ConvNet = model(Activation::Softplus, 9).to_core();
    let x = images(100, 10);
    let w: Vec<f64> = (0..100).map(|i| (i as f64).sin()).collect();
    let targets = ToTargets(vec![0.2; 100 * 84]);
    let run = |threads: usize| {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        pool.install(|| {
            let mut hand = HandConv::new(net.clone());
            let mut g = zeros(&mut hand);
            hand.add_weighted_energy_grad(&x, &w, &mut g).unwrap();
            hand.score()
                .unwrap()
                .add_score_loss_grad(&x, &targets, &mut g)
                .unwrap();
            g
        })
    };
    let (one, two) = (run(1), run(2));
    for (a, b) in one.iter().zip(&two) {
        assert!(a.iter().zip(b).all(|(u, v)| u.to_bits() == v.to_bits()));
    }
}

#[test]
fn bad_batches_are_refused() {
    let mut hand = HandConv::new(model(Activation::Tanh, 11).to_core());
    let mut g = zeros(&mut hand);
    let wrong = Points::from_vec(vec![0.0; 10], 10).unwrap();
    let msg = hand
        .add_weighted_energy_grad(&wrong, &[1.0], &mut g)
        .unwrap_err()
        .to_string();
    assert!(msg.contains("rows have 10 columns"), "{msg}");
    let x = images(2, 1);
    assert!(hand.add_weighted_energy_grad(&x, &[1.0], &mut g).is_err());
    g.pop();
    assert!(hand.add_weighted_energy_grad(&x, &[1.0, 1.0], &mut g).is_err());
}
