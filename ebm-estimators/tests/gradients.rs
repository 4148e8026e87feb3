//! The dfdx models against finite differences and against the reference
//! f64 implementations in ebm-core; the objectives' parameter gradients
//! (through the capabilities) against finite differences.

use dfdx::prelude::*;
use ebm_core::energies::Activation;
use ebm_core::{setup_rng, Energy, Points};
use ebm_estimators::capability::{CapabilityObjective, EnergyCapability};
use ebm_estimators::models::{GaussianEnergy, MlpEnergy, TrainableRbm};
use ebm_estimators::objectives::Dsm;
use ebm_estimators::trainable::TrainableEnergy;
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

/// An objective's parameter gradient (model tensors, then the objective's
/// own) against central differences of its loss, on a model form (the
/// tape's or a hand-written one); the noise repeats because the stream is
/// re-seeded.
fn check_param_gradient(
    form: &mut dyn EnergyCapability,
    objective: &mut dyn CapabilityObjective,
    batch: &Points,
    tol: f64,
) {
    let model0 = form.params();
    let own0 = objective.own_params();
    let n_model = model0.len();
    let mut all0 = model0.clone();
    all0.extend(own0.clone());
    let loss_at = |form: &mut dyn EnergyCapability, o: &mut dyn CapabilityObjective, values: &[Vec<f64>]| {
        form.set_params(&values[..n_model]).unwrap();
        o.set_own_params(&values[n_model..]).unwrap();
        let mut g: Vec<Vec<f64>> = values.iter().map(|v| vec![0.0; v.len()]).collect();
        let loss = o.loss_grad(form, batch, &mut setup_rng(99), &mut g).unwrap();
        (loss, g)
    };
    let (_, analytic) = loss_at(form, objective, &all0);
    assert!(
        analytic.iter().flatten().any(|v| *v != 0.0),
        "a gradient, not zeros"
    );
    for k in 0..analytic.len() {
        let len = analytic[k].len();
        // a few entries of each parameter tensor
        for j in (0..len).step_by(len.div_ceil(4).max(1)) {
            let h = 1e-5;
            let mut at = |shift: f64| {
                let mut v = all0.clone();
                v[k][j] += shift;
                loss_at(form, objective, &v).0
            };
            let fd = (at(h) - at(-h)) / (2.0 * h);
            let a = analytic[k][j];
            assert!(
                (fd - a).abs() < tol * (1.0 + a.abs()),
                "param {k}[{j}]: analytic {a}, central difference {fd}"
            );
        }
    }
    loss_at(form, objective, &all0);
}

fn batch(n: usize, d: usize, seed: u64) -> Points {
    use rand::Rng;
    let mut rng = setup_rng(seed);
    Points::from_vec((0..n * d).map(|_| rng.random_range(-2.0..2.0)).collect(), d).unwrap()
}

/// The DSM loss differentiates through the explicit score, a second-order
/// quantity in the parameters; central differences with h = 1e-5 on a
/// loss of size ~10 agree to ~1e-7 relative, so 1e-5 is a safe bound.
/// On the tape and hand-written forms of the MLP and of the Gaussian
/// family (whose NCE gradient is checked here too).
#[test]
fn dsm_parameter_gradient_matches_finite_differences() {
    for act in [Activation::Silu, Activation::Softplus, Activation::Tanh] {
        let m = MlpEnergy::<f64, Cpu>::new(&Cpu::default(), &[2, 7, 5, 1], act, &mut setup_rng(3)).unwrap();
        for mut form in [m.autodiff().unwrap(), m.hand_written().unwrap()] {
            check_param_gradient(&mut *form, &mut Dsm::new(0.3).unwrap(), &batch(16, 2, 1), 1e-5);
        }
    }
    let mut g = GaussianEnergy::<f64, Cpu>::standard(&Cpu::default(), 3);
    // off the symmetric start, so that every parameter matters
    for (k, p) in g.params_mut().iter_mut().enumerate() {
        let v: Vec<f64> = (0..p.len()).map(|i| 0.1 * ((i + k) % 5) as f64 - 0.2).collect();
        p.set_values(&v).unwrap();
    }
    for mut form in [g.autodiff().unwrap(), g.hand_written().unwrap()] {
        check_param_gradient(&mut *form, &mut Dsm::new(0.5).unwrap(), &batch(16, 3, 2), 1e-5);
        let mut nce = ebm_estimators::objectives::Nce::new(2, None).unwrap();
        nce.prepare(&mut *form, &batch(40, 3, 5), 0).unwrap();
        check_param_gradient(&mut *form, &mut nce, &batch(16, 3, 3), 1e-6);
    }
}

/// NCE's loss (model parameters and the log-normaliser) against central
/// differences, on the MLP's tape and hand-written forms; the noise draws
/// repeat because the stream is re-seeded.
#[test]
fn nce_parameter_gradient_matches_finite_differences() {
    let b = batch(32, 2, 4);
    let m =
        MlpEnergy::<f64, Cpu>::new(&Cpu::default(), &[2, 6, 1], Activation::Tanh, &mut setup_rng(8)).unwrap();
    for mut form in [m.autodiff().unwrap(), m.hand_written().unwrap()] {
        let mut nce = ebm_estimators::objectives::Nce::new(3, None).unwrap();
        nce.prepare(&mut *form, &b, 0).unwrap();
        nce.set_own_params(&[vec![0.4]]).unwrap();
        check_param_gradient(&mut *form, &mut nce, &b, 1e-6);
    }
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
