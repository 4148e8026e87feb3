//! Leapfrog invariants (proptest): reversibility and second-order accuracy.

use ebm_core::energies::{Banana, Gaussian};
use ebm_core::Energy;
use ebm_samplers::{kinetic, leapfrog};
use proptest::prelude::*;

fn banana() -> Banana {
    Banana::new(3, 0.5, 1.2).unwrap()
}

proptest! {
    /// Integrate forward, negate the momentum, integrate back: the start
    /// returns up to rounding (about 1e-13 for 20 steps; 1e-9 is a
    /// generous bound that still catches any asymmetric update).
    #[test]
    fn leapfrog_is_reversible(x0 in proptest::collection::vec(-1.5f64..1.5, 3),
                              p0 in proptest::collection::vec(-1.5f64..1.5, 3),
                              eps in 0.01f64..0.1, steps in 1usize..20,
                              m in proptest::collection::vec(0.5f64..2.0, 3)) {
        let e = banana();
        let (mut x, mut p) = (x0.clone(), p0.clone());
        let mut g = vec![0.0; 3];
        e.energy_grad(&x, &mut g);
        leapfrog(&e, &mut x, &mut p, &mut g, eps, steps, &m);
        p.iter_mut().for_each(|v| *v = -*v);
        leapfrog(&e, &mut x, &mut p, &mut g, eps, steps, &m);
        for j in 0..3 {
            prop_assert!((x[j] - x0[j]).abs() < 1e-9, "x {x:?} vs {x0:?}");
            prop_assert!((-p[j] - p0[j]).abs() < 1e-9);
        }
    }

    /// Leapfrog's energy error is O(eps^2): it oscillates (leapfrog
    /// conserves a shadow Hamiltonian H + O(eps^2)), so the error at one
    /// fixed time can sit near a zero crossing, but its maximum over a
    /// trajectory of fixed length T = 1 scales as eps^2. Halving eps divides
    /// the maximum by about 4; 3 to 5.5 allows for higher-order terms.
    #[test]
    fn leapfrog_energy_error_is_second_order(x0 in proptest::collection::vec(-1.0f64..1.0, 3),
                                             p0 in proptest::collection::vec(-1.0f64..1.0, 3)) {
        let e = Gaussian::from_covariance(vec![0.0; 3], &[1.0, 0.5, 0.2, 0.5, 1.0, 0.3, 0.2, 0.3, 0.8]).unwrap();
        let max_err = |eps: f64, n: usize| {
            let (mut x, mut p) = (x0.clone(), p0.clone());
            let mut g = vec![0.0; 3];
            let h0 = e.energy_grad(&x, &mut g) + kinetic(&p, &[]);
            let mut worst: f64 = 0.0;
            for _ in 0..n {
                let e1 = leapfrog(&e, &mut x, &mut p, &mut g, eps, 1, &[]);
                worst = worst.max((e1 + kinetic(&p, &[]) - h0).abs());
            }
            worst
        };
        let (a, b) = (max_err(0.04, 25), max_err(0.02, 50));
        prop_assume!(a > 1e-10);
        let ratio = a / b;
        prop_assert!(ratio > 3.0 && ratio < 5.5, "ratio {ratio}");
    }
}
