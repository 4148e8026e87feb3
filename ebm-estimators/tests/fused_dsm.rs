//! The fused host DSM kernel for MLPs (`mlp_dsm`) against the dfdx path
//! (the same loss and parameter gradient on the same noise) and against
//! finite differences of its own loss, and whole runs of both engines.

use dfdx::prelude::*;
use ebm_core::energies::Activation;
use ebm_core::{setup_rng, Points};
use ebm_estimators::engine::DfdxEngine;
use ebm_estimators::mlp_dsm::HostMlp;
use ebm_estimators::models::MlpEnergy;
use ebm_estimators::objectives::{Dsm, Objective};
use ebm_estimators::optim::OptimizerConfig;
use ebm_estimators::trainable::{ParamMut, TrainableEnergy};
use ebm_estimators::trainer::{run_engine, train, History, TrainConfig};
use proptest::prelude::*;
use rand::Rng;
use rand_distr::StandardNormal;

fn activation() -> impl Strategy<Value = Activation> {
    prop_oneof![
        Just(Activation::Silu),
        Just(Activation::Softplus),
        Just(Activation::Tanh)
    ]
}

fn batch(n: usize, d: usize, seed: u64) -> Points {
    let mut r = setup_rng(seed);
    Points::from_vec(
        (0..n * d)
            .map(|_| 2.0 * r.sample::<f64, _>(StandardNormal))
            .collect(),
        d,
    )
    .unwrap()
}

/// The noise of one DSM step, drawn as `Dsm` draws it: (x~, targets, lambda).
fn noise(x: &Points, sigmas: &[f64], seed: u64) -> (Vec<f64>, Vec<f64>, Vec<f64>) {
    let mut r = setup_rng(seed);
    let (n, d) = (x.len(), x.dim());
    let (mut xt, mut t, mut lam) = (x.as_slice().to_vec(), vec![0.0; n * d], vec![1.0; n]);
    for i in 0..n {
        let s = if sigmas.len() > 1 {
            sigmas[r.random_range(0..sigmas.len())]
        } else {
            sigmas[0]
        };
        if sigmas.len() > 1 {
            lam[i] = s * s;
        }
        for k in 0..d {
            let e: f64 = r.sample(StandardNormal);
            xt[i * d + k] += s * e;
            t[i * d + k] = -e / s;
        }
    }
    (xt, t, lam)
}

fn dfdx_loss_and_grads(
    m: &mut MlpEnergy<f64, Cpu>,
    x: &Points,
    sigmas: &[f64],
    seed: u64,
) -> (f64, Vec<Vec<f64>>) {
    let mut dsm = Dsm::multi(sigmas.to_vec()).unwrap();
    let loss = Objective::<f64, Cpu, _>::loss(&mut dsm, m, x, &mut setup_rng(seed)).unwrap();
    let value = loss.as_vec()[0];
    let mut grads = loss.backward();
    let g = m
        .params_mut()
        .iter()
        .map(|p| match p {
            ParamMut::Matrix(t) => {
                grads.get_or_alloc_mut(&**t).unwrap();
                grads.get(&**t).as_vec()
            }
            ParamMut::Vector(t) => {
                grads.get_or_alloc_mut(&**t).unwrap();
                grads.get(&**t).as_vec()
            }
        })
        .collect();
    (value, g)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    /// Same loss and gradient as dfdx's autodiff through the explicit
    /// score, to rounding (relative 1e-10 of the largest entry), for
    /// depths 1-3, every activation, one or several noise levels and
    /// batches that span one or two parts.
    #[test]
    fn fused_gradient_matches_dfdx(
        act in activation(),
        hidden in proptest::collection::vec(1usize..20, 0..3),
        n in 1usize..300,
        several: bool,
        seed in 0u64..1000,
    ) {
        let d = 2;
        let mut widths = vec![d];
        widths.extend(&hidden);
        widths.push(1);
        let mut m = MlpEnergy::<f64, Cpu>::new(&Cpu::default(), &widths, act, &mut setup_rng(seed)).unwrap();
        let x = batch(n, d, seed + 1);
        let sigmas = if several { vec![0.1, 0.5, 1.0] } else { vec![0.3] };
        let (want_loss, want) = dfdx_loss_and_grads(&mut m, &x, &sigmas, seed + 2);
        let host = HostMlp::from_core(&m.to_core());
        let (xt, t, lam) = noise(&x, &sigmas, seed + 2);
        let mut got: Vec<Vec<f64>> = host.params().iter().map(|p| vec![0.0; p.len()]).collect();
        let loss = host.dsm_loss_grad(&xt, &t, &lam, &mut got);
        prop_assert!((loss - want_loss).abs() <= 1e-10 * want_loss.abs().max(1e-12), "loss {loss} vs {want_loss}");
        for (k, (g, w)) in got.iter().zip(&want).enumerate() {
            let scale = w.iter().fold(1e-12f64, |a, v| a.max(v.abs()));
            for (a, b) in g.iter().zip(w) {
                prop_assert!((a - b).abs() <= 1e-10 * scale, "param {k}: {a} vs {b}");
            }
        }
    }
}

/// Central differences of the fused loss itself: h = 1e-5 max(|theta|, 0.1)
/// gives truncation ~h^2 |L'''| ~ 1e-11 and rounding ~1e-15 |L| / h
/// ~ 1e-9 (the loss is computed to a few ulp), so 1e-6 of the largest
/// entry of that parameter's gradient is a wide bound.
#[test]
fn fused_gradient_matches_finite_differences() {
    for act in [Activation::Silu, Activation::Softplus, Activation::Tanh] {
        let m = MlpEnergy::<f64, Cpu>::new(&Cpu::default(), &[2, 7, 5, 1], act, &mut setup_rng(3)).unwrap();
        let mut host = HostMlp::from_core(&m.to_core());
        let x = batch(40, 2, 4);
        let (xt, t, lam) = noise(&x, &[0.2, 0.7], 5);
        let mut g: Vec<Vec<f64>> = host.params().iter().map(|p| vec![0.0; p.len()]).collect();
        host.dsm_loss_grad(&xt, &t, &lam, &mut g);
        let loss = |h: &HostMlp| {
            let mut scratch: Vec<Vec<f64>> = h.params().iter().map(|p| vec![0.0; p.len()]).collect();
            h.dsm_loss_grad(&xt, &t, &lam, &mut scratch)
        };
        for k in 0..g.len() {
            let scale = g[k].iter().fold(1e-9f64, |a, v| a.max(v.abs()));
            for i in 0..g[k].len() {
                let v = host.params()[k][i];
                let h = 1e-5 * v.abs().max(0.1);
                host.params_mut()[k][i] = v + h;
                let up = loss(&host);
                host.params_mut()[k][i] = v - h;
                let down = loss(&host);
                host.params_mut()[k][i] = v;
                let fd = (up - down) / (2.0 * h);
                assert!(
                    (fd - g[k][i]).abs() <= 1e-6 * scale.max(fd.abs()),
                    "{act:?} param {k}[{i}]: {fd} vs {}",
                    g[k][i]
                );
            }
        }
    }
}

/// A whole run on the host engine (what `train` picks) and the same run
/// forced through dfdx: the same noise and the same Adam arithmetic, so
/// the parameters agree to the rounding of the gradients.
#[test]
fn host_and_dfdx_runs_agree() {
    let data = batch(500, 2, 9);
    let make = || {
        MlpEnergy::<f64, Cpu>::new(
            &Cpu::default(),
            &[2, 16, 16, 1],
            Activation::Silu,
            &mut setup_rng(1),
        )
        .unwrap()
    };
    let cfg = TrainConfig::steps(40, 64, 1e-2);
    let (mut a, mut b) = (make(), make());
    train(
        &mut a,
        &mut Dsm::new(0.3).unwrap(),
        &data,
        &cfg,
        &mut History::default(),
    )
    .unwrap();
    let mut dsm = Dsm::new(0.3).unwrap();
    let mut engine = DfdxEngine::new(&mut b, &mut dsm, OptimizerConfig::adam(1e-2)).unwrap();
    run_engine(&mut engine, &data, &cfg, &mut History::default(), None).unwrap();
    let (ca, cb) = (a.to_core(), b.to_core());
    for (la, lb) in ca.layers().iter().zip(cb.layers()) {
        for (x, y) in la.w.iter().chain(&la.b).zip(lb.w.iter().chain(&lb.b)) {
            assert!((x - y).abs() < 1e-8, "{x} vs {y}");
        }
    }
}

/// The f32 kernel (f32 products and buffers, f64 sums) gives the f64
/// gradient to f32 accuracy: each entry within 1e-4 of the largest entry
/// of its parameter (sums of 128 products of values ~1 lose ~1e-6).
#[test]
fn f32_kernel_matches_f64() {
    for act in [Activation::Silu, Activation::Softplus, Activation::Tanh] {
        let m = MlpEnergy::<f64, Cpu>::new(&Cpu::default(), &[2, 32, 24, 1], act, &mut setup_rng(8)).unwrap();
        let host = HostMlp::from_core(&m.to_core());
        let x = batch(300, 2, 6);
        let (xt, t, lam) = noise(&x, &[0.3], 7);
        let zeros = || -> Vec<Vec<f64>> { host.params().iter().map(|p| vec![0.0; p.len()]).collect() };
        let (mut g64, mut g32) = (zeros(), zeros());
        let l64 = host.dsm_loss_grad_in::<f64>(&xt, &t, &lam, &mut g64);
        let l32 = host.dsm_loss_grad_in::<f32>(&xt, &t, &lam, &mut g32);
        assert!(
            (l64 - l32).abs() < 1e-5 * l64.abs(),
            "{act:?}: loss {l64} vs {l32}"
        );
        for (a, b) in g64.iter().zip(&g32) {
            let scale = a.iter().fold(1e-12f64, |s, v| s.max(v.abs()));
            for (x, y) in a.iter().zip(b) {
                assert!((x - y).abs() < 1e-4 * scale, "{act:?}: {x} vs {y}");
            }
        }
    }
}
