//! The dfdx models against finite differences and against the reference
//! f64 implementations in ebm-core.

use dfdx::prelude::*;
use ebm_core::energies::Activation;
use ebm_core::{setup_rng, Energy, Points};
use ebm_estimators::models::{GaussianEnergy, MlpEnergy, TrainableRbm};
use ebm_estimators::objectives::{Dsm, Objective};
use ebm_estimators::trainable::{ParamMut, TrainableEnergy};
use proptest::prelude::*;

fn mlp(act: Activation, seed: u64) -> MlpEnergy<f64, Cpu> {
    MlpEnergy::new(&Cpu::default(), &[3, 8, 6, 1], act, &mut setup_rng(seed)).unwrap()
}

fn activation() -> impl Strategy<Value = Activation> {
    prop_oneof![
        Just(Activation::Silu),
        Just(Activation::Softplus),
        Just(Activation::Tanh)
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(32))]

    /// The explicit backward pass in dfdx ops equals central differences of
    /// the dfdx energy: h = 1e-5 gives truncation ~h^2 |E'''| ~ 1e-10 and
    /// rounding ~1e-16 |E| / h ~ 1e-11, so 1e-6 is a wide bound.
    #[test]
    fn mlp_score_matches_finite_differences(
        x in proptest::collection::vec(-3.0f64..3.0, 3),
        seed in 0u64..500,
        act in activation(),
    ) {
        let m = mlp(act, seed);
        let mut g = [0.0; 3];
        m.energy_grad(&x, &mut g);
        for i in 0..3 {
            let (mut xp, mut xm) = (x.clone(), x.clone());
            xp[i] += 1e-5;
            xm[i] -= 1e-5;
            let fd = (m.energy(&xp) - m.energy(&xm)) / 2e-5;
            prop_assert!((fd - g[i]).abs() < 1e-6, "coordinate {i}: {fd} vs {}", g[i]);
        }
    }

    /// The dfdx model and ebm-core's f64 MLP are the same function (same
    /// parameters, different code), up to rounding.
    #[test]
    fn mlp_matches_the_reference_implementation(
        x in proptest::collection::vec(-3.0f64..3.0, 6),
        seed in 0u64..500,
        act in activation(),
    ) {
        let m = mlp(act, seed);
        let core = m.to_core();
        let (mut e1, mut e2, mut g1, mut g2) = ([0.0; 2], [0.0; 2], [0.0; 6], [0.0; 6]);
        m.energy_grad_batch(&x, &mut g1, &mut e1);
        core.energy_grad_batch(&x, &mut g2, &mut e2);
        for (a, b) in e1.iter().zip(&e2).chain(g1.iter().zip(&g2)) {
            prop_assert!((a - b).abs() < 1e-12 * (1.0 + b.abs()), "{a} vs {b}");
        }
    }
}

/// Parameter gradient of a loss from `backward()`, against central
/// differences of the loss (same noise: the stream is re-seeded).
fn check_param_gradient<M, O>(model: &mut M, objective: &mut O, batch: &Points, tol: f64)
where
    M: TrainableEnergy<f64, Cpu> + Clone,
    O: Objective<f64, Cpu, M>,
{
    let loss_at = |m: &M, o: &mut O| o.loss(m, batch, &mut setup_rng(99)).unwrap().as_vec()[0];
    let mut grads = objective
        .loss(model, batch, &mut setup_rng(99))
        .unwrap()
        .backward();
    let analytic: Vec<Vec<f64>> = model
        .params_mut()
        .into_iter()
        .map(|p| match p {
            // a parameter the loss does not depend on (the MLP's last bias
            // under DSM) has no entry: its gradient is zero
            ParamMut::Vector(t) => {
                grads.get_or_alloc_mut(&*t).unwrap();
                grads.get(&*t).as_vec()
            }
            ParamMut::Matrix(t) => {
                grads.get_or_alloc_mut(&*t).unwrap();
                grads.get(&*t).as_vec()
            }
        })
        .collect();
    let n_params = analytic.len();
    for k in 0..n_params {
        let len = analytic[k].len();
        // a few entries of each parameter tensor
        for j in (0..len).step_by(len.div_ceil(4).max(1)) {
            let shifted = |h: f64| {
                let mut m = model.clone();
                let mut ps = m.params_mut();
                let mut vals = ps[k].values();
                vals[j] += h;
                match &mut ps[k] {
                    ParamMut::Vector(t) => t.copy_from(&vals),
                    ParamMut::Matrix(t) => t.copy_from(&vals),
                }
                drop(ps);
                m
            };
            let h = 1e-5;
            let fd = (loss_at(&shifted(h), objective) - loss_at(&shifted(-h), objective)) / (2.0 * h);
            let a = analytic[k][j];
            assert!(
                (fd - a).abs() < tol * (1.0 + a.abs()),
                "param {k}[{j}]: backward {a}, central difference {fd}"
            );
        }
    }
}

fn batch(n: usize, d: usize, seed: u64) -> Points {
    use rand::Rng;
    let mut rng = setup_rng(seed);
    Points::from_vec((0..n * d).map(|_| rng.random_range(-2.0..2.0)).collect(), d).unwrap()
}

/// The DSM loss differentiates through the explicit score, a second-order
/// quantity in the parameters; central differences with h = 1e-5 on a
/// loss of size ~10 agree to ~1e-7 relative, so 1e-5 is a safe bound.
#[test]
fn dsm_parameter_gradient_matches_finite_differences() {
    for act in [Activation::Silu, Activation::Softplus, Activation::Tanh] {
        let mut m =
            MlpEnergy::<f64, Cpu>::new(&Cpu::default(), &[2, 7, 5, 1], act, &mut setup_rng(3)).unwrap();
        check_param_gradient(&mut m, &mut Dsm::new(0.3).unwrap(), &batch(16, 2, 1), 1e-5);
    }
    let mut g = GaussianEnergy::<f64, Cpu>::standard(&Cpu::default(), 3);
    // move off the symmetric start so every parameter matters
    let mut dsm = Dsm::new(0.5).unwrap();
    check_param_gradient(&mut g, &mut dsm, &batch(16, 3, 2), 1e-5);
}

/// NCE's loss (model parameters and the log-normaliser) against central
/// differences; the noise draws repeat because the stream is re-seeded.
#[test]
fn nce_parameter_gradient_matches_finite_differences() {
    let b = batch(32, 2, 4);
    let mut m =
        MlpEnergy::<f64, Cpu>::new(&Cpu::default(), &[2, 6, 1], Activation::Tanh, &mut setup_rng(8)).unwrap();
    let mut nce = ebm_estimators::objectives::Nce::<f64, Cpu>::new(&Cpu::default(), 3, None).unwrap();
    nce.prepare(&m, &b, 0).unwrap();
    check_param_gradient(&mut m, &mut nce, &b, 1e-6);
}

/// The RBM's free energy as dfdx ops equals ebm-core's.
#[test]
fn rbm_free_energy_matches_the_reference() {
    let r = TrainableRbm::<f64, Cpu>::new(&Cpu::default(), 6, 4, 0.5, &mut setup_rng(5)).unwrap();
    let core = r.to_core();
    let v: Vec<f64> = (0..24).map(|i| ((i * 7) % 3 == 0) as u8 as f64).collect();
    let x = ebm_estimators::trainable::to_device::<f64, Cpu>(&Cpu::default(), &v, 6);
    let e = r.energy_t(x).as_vec();
    for (i, row) in v.chunks(6).enumerate() {
        assert!((e[i] - core.free_energy(row)).abs() < 1e-12);
    }
}

/// f32 models run and agree with f64 to single precision.
#[test]
fn f32_mlp_agrees_with_f64() {
    let m64 = mlp(Activation::Silu, 11);
    let m32 = MlpEnergy::<f32, Cpu>::from_core(&Cpu::default(), &m64.to_core());
    let x = [0.3, -1.2, 2.0];
    let (mut g64, mut g32) = ([0.0; 3], [0.0; 3]);
    let (e64, e32) = (m64.energy_grad(&x, &mut g64), m32.energy_grad(&x, &mut g32));
    assert!((e64 - e32).abs() < 1e-5 * (1.0 + e64.abs()));
    for (a, b) in g64.iter().zip(&g32) {
        assert!((a - b).abs() < 1e-5 * (1.0 + a.abs()));
    }
}
