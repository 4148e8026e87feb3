//! Kinetic (underdamped) Langevin against the exact stationary law of its
//! discretisation, and against a correlated Gaussian's moments.

use crate::common;

use common::{check_moments, in_pool};
use ebm_core::energies::DiagGaussian;
use ebm_core::Points;
use ebm_samplers::driver::{run, RunConfig, Silent};
use ebm_samplers::{Chains, Kernel, KineticLangevin, Registry, Splitting};

/// One step of the splitting on E = w2 x^2 / 2, written out by hand:
/// (x, p) from (x, p) and the normals `z` (one for BAOAB, two for OBABO).
fn reference_step(s: Splitting, h: f64, gamma: f64, w2: f64, x: f64, p: f64, z: [f64; 2]) -> (f64, f64) {
    match s {
        Splitting::Baoab => {
            let c = (-gamma * h).exp();
            let p = p - 0.5 * h * w2 * x;
            let x = x + 0.5 * h * p;
            let p = c * p + (1.0 - c * c).sqrt() * z[0];
            let x = x + 0.5 * h * p;
            (x, p - 0.5 * h * w2 * x)
        }
        Splitting::Obabo => {
            let c = (-gamma * h / 2.0).exp();
            let p = c * p + (1.0 - c * c).sqrt() * z[0];
            let p = p - 0.5 * h * w2 * x;
            let x = x + h * p;
            let p = p - 0.5 * h * w2 * x;
            (x, c * p + (1.0 - c * c).sqrt() * z[1])
        }
    }
}

/// The stationary covariance of the linear recursion
/// (x, p)' = A (x, p) + B z: Sigma = sum_k A^k B B^T (A^k)^T, summed until
/// it stops changing. Returns Var(x).
fn stationary_var_x(s: Splitting, h: f64, gamma: f64, w2: f64) -> f64 {
    let col = |x, p, z| reference_step(s, h, gamma, w2, x, p, z);
    let (a0, a1) = (col(1.0, 0.0, [0.0; 2]), col(0.0, 1.0, [0.0; 2]));
    let a = [[a0.0, a1.0], [a0.1, a1.1]];
    let (b0, b1) = (col(0.0, 0.0, [1.0, 0.0]), col(0.0, 0.0, [0.0, 1.0]));
    let q = [
        [b0.0 * b0.0 + b1.0 * b1.0, b0.0 * b0.1 + b1.0 * b1.1],
        [b0.1 * b0.0 + b1.1 * b1.0, b0.1 * b0.1 + b1.1 * b1.1],
    ];
    let mut sigma = [[0.0; 2]; 2];
    for _ in 0..100_000 {
        // Sigma <- A Sigma A^T + Q
        let mut n = q;
        for i in 0..2 {
            for j in 0..2 {
                for k in 0..2 {
                    for l in 0..2 {
                        n[i][j] += a[i][k] * sigma[k][l] * a[j][l];
                    }
                }
            }
        }
        sigma = n;
    }
    sigma[0][0]
}

/// 20,000 independent chains of E = x^2 / 2 (w = 1), 400 steps from x = 0
/// (200 time units at h = 0.5, friction 1: the transient has long
/// decayed), then Var(x) across chains against the exact stationary
/// variance of the discretisation. With n = 20,000 independent draws the
/// variance has SE sqrt(2 / n) Var = 1% of it; tolerance 4.5 SE. BAOAB's
/// position is exact (Var 1); OBABO's is biased, 1 / (1 - h^2 / 4) here,
/// which the run must show.
#[test]
fn stationary_position_variance_is_the_splittings_exact_one() {
    let e = DiagGaussian::standard(1);
    let n = 20_000;
    for (splitting, h) in [
        (Splitting::Baoab, 0.5),
        (Splitting::Baoab, 1.2),
        (Splitting::Obabo, 0.8),
    ] {
        let want = stationary_var_x(splitting, h, 1.0, 1.0);
        if splitting == Splitting::Baoab {
            // Leimkuhler and Matthews: BAOAB's position is exact for a
            // harmonic potential, whatever the step below 2 / w
            assert!((want - 1.0).abs() < 1e-9, "BAOAB h {h}: {want}");
        } else {
            assert!(
                (want - 1.0 / (1.0 - h * h / 4.0)).abs() < 1e-9,
                "OBABO h {h}: {want}"
            );
        }
        let k = KineticLangevin::new(h, 1.0).unwrap().with_splitting(splitting);
        let mut chains = Chains::new(&e, Points::zeros(n, 1)).unwrap();
        let mut rngs = ebm_core::chain_rngs(17, n);
        for _ in 0..400 {
            k.step(&e, &mut chains, &mut rngs);
        }
        let xs = chains.x.as_slice();
        let mean = xs.iter().sum::<f64>() / n as f64;
        let var = xs.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / (n - 1) as f64;
        let se = want * (2.0 / n as f64).sqrt();
        assert!(
            (var - want).abs() < 4.5 * se,
            "{splitting:?} h {h}: Var(x) {var} vs {want}"
        );
        assert!(
            mean.abs() < 4.5 * (want / n as f64).sqrt(),
            "{splitting:?}: mean {mean}"
        );
    }
    // and the bias shrinks as O(h^2): about a quarter for half the step
    // ((h^2/4) / (1 - h^2/4): 4 x 0.99 / 0.96 = 4.125 from h = 0.4 to 0.2)
    let (b1, b2) = (
        stationary_var_x(Splitting::Obabo, 0.4, 1.0, 1.0) - 1.0,
        stationary_var_x(Splitting::Obabo, 0.2, 1.0, 1.0) - 1.0,
    );
    assert!((b1 / b2 - 4.125).abs() < 1e-6, "{b1} / {b2}");
}

/// BAOAB on a correlated 10-D Gaussian: the positions' stationary law is
/// exact for a linear force, so the moments match within Monte Carlo error
/// (the driver's ESS-based tolerances; no adaptation, the kernel has
/// none). h = 0.15 stays below 2 / w_max for this target's stiffest
/// direction.
#[test]
fn baoab_recovers_the_moments_of_a_correlated_gaussian() {
    let g = common::correlated_gaussian(10, 0.8);
    let mut k = KineticLangevin::new(0.15, 1.0).unwrap();
    let cfg = RunConfig {
        warmup: 0,
        burn_in: 1000,
        draws: 4000,
        seed: 9,
        ..Default::default()
    };
    let out = run(&mut k, &g, Points::zeros(32, 10), &cfg, &mut Silent).unwrap();
    check_moments(&out, g.mean(), &g.covariance());
    assert_eq!(out.divergences.iter().sum::<usize>(), 0);
}

#[test]
fn kinetic_draws_do_not_depend_on_thread_count_and_settings_are_checked() {
    let g = common::correlated_gaussian(4, 0.5);
    for splitting in [Splitting::Baoab, Splitting::Obabo] {
        let sample = || {
            let mut k = KineticLangevin::new(0.2, 0.7).unwrap().with_splitting(splitting);
            let cfg = RunConfig {
                warmup: 0,
                burn_in: 30,
                draws: 40,
                seed: 6,
                ..Default::default()
            };
            run(&mut k, &g, Points::zeros(70, 4), &cfg, &mut Silent)
                .unwrap()
                .draws
        };
        assert!(in_pool(1, sample) == in_pool(2, sample), "{splitting:?}");
    }
    assert!(KineticLangevin::new(0.1, -1.0).is_err());
    assert!(KineticLangevin::new(0.0, 1.0).is_err());
    assert!(KineticLangevin::new(0.1, f64::NAN).is_err());
    let reg = Registry::standard();
    let k = reg
        .build(
            "kinetic",
            &serde_json::json!({"friction": 2.0, "splitting": "obabo"}),
        )
        .unwrap();
    assert_eq!(k.settings()["splitting"], "obabo");
    assert!(reg
        .build("kinetic", &serde_json::json!({"friction": -0.5}))
        .is_err());
    // unadjusted: not offered to AIS, which needs an exactly invariant kernel
    assert!(!reg.find("kinetic").unwrap().invariant);
}
