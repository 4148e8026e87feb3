//! Gradients of random nested compositions against central finite
//! differences, and batched against looped evaluation.

use ebm_compose::{expr, Clamp, Expr, Mixture, Product, SoftConstraint, Tempered};
use ebm_core::energies::{Banana, DiagGaussian, Gaussian, Gmm};
use ebm_core::Energy;
use proptest::prelude::*;

type Dyn = Expr;

/// Leaves in 3-D with exact log Z (so mixtures accept them).
fn leaf() -> impl Strategy<Value = Dyn> {
    prop_oneof![
        (
            proptest::collection::vec(-2.0f64..2.0, 3),
            proptest::collection::vec(0.3f64..2.0, 3)
        )
            .prop_map(|(m, s)| expr(DiagGaussian::new(m, s).unwrap())),
        (-1.0f64..1.0, 0.5f64..2.0).prop_map(|(b, s)| expr(Banana::new(3, b, s).unwrap())),
        proptest::collection::vec(-3.0f64..3.0, 6).prop_map(|m| {
            expr(
                Gmm::new(
                    vec![0.4, 0.6],
                    vec![m[..3].to_vec(), m[3..].to_vec()],
                    vec![0.7, 1.3],
                )
                .unwrap(),
            )
        }),
        (-0.5f64..0.5).prop_map(|r| {
            let cov = [1.0, r, 0.0, r, 1.0, 0.2, 0.0, 0.2, 1.0];
            expr(Gaussian::from_covariance(vec![0.0, 1.0, -1.0], &cov).unwrap())
        }),
    ]
}

/// Nested products, mixtures and temperings (mixtures only of leaves and
/// tempered Gaussians-free parts whose log Z is known).
fn composite() -> impl Strategy<Value = Dyn> {
    leaf().prop_recursive(3, 12, 3, |inner| {
        prop_oneof![
            (proptest::collection::vec(inner.clone(), 1..3), 0.2f64..2.0).prop_map(|(ex, w)| {
                let n = ex.len();
                expr(Product::weighted(ex, vec![w; n]).unwrap())
            }),
            (inner.clone(), 0.3f64..3.0).prop_map(|(e, b)| expr(Tempered::new(e, b).unwrap())),
            (leaf(), leaf(), 0.1f64..0.9)
                .prop_map(|(a, b, w)| { expr(Mixture::new(vec![a, b], vec![w, 1.0 - w]).unwrap()) }),
            (inner, proptest::collection::vec(-1.0f64..1.0, 3)).prop_map(|(e, n)| {
                let c = SoftConstraint::half_space(n, 0.1, 5.0).unwrap();
                expr(Product::new(vec![e, expr(c)]).unwrap())
            }),
        ]
    })
}

/// Central differences with h = 1e-5: truncation O(h^2) and rounding
/// O(eps |E| / h) put the error near 1e-9 relative; 1e-5 is strict yet
/// never flaky. (Soft constraints are C^1, not C^2, at the boundary: the
/// central difference is still O(h) accurate there.)
fn check(e: &dyn Energy, x: &[f64]) -> Result<(), TestCaseError> {
    let d = e.dim();
    let mut g = vec![0.0; d];
    let v = e.energy_grad(x, &mut g);
    prop_assert!((v - e.energy(x)).abs() <= 1e-9 * (1.0 + v.abs()));
    for i in 0..d {
        let h = 1e-5;
        let (mut a, mut b) = (x.to_vec(), x.to_vec());
        a[i] += h;
        b[i] -= h;
        let fd = (e.energy(&a) - e.energy(&b)) / (2.0 * h);
        prop_assert!(
            (fd - g[i]).abs() <= 1e-5 * (1.0 + fd.abs() + v.abs()),
            "coord {i}: {} vs {fd}",
            g[i]
        );
    }
    let xs: Vec<f64> = x
        .iter()
        .chain(x.iter().map(|v| v * 0.5).collect::<Vec<_>>().iter())
        .copied()
        .collect();
    let (mut gb, mut eb) = (vec![0.0; 2 * d], vec![0.0; 2]);
    e.energy_grad_batch(&xs, &mut gb, &mut eb);
    prop_assert!((eb[0] - v).abs() <= 1e-10 * (1.0 + v.abs()));
    for i in 0..d {
        prop_assert!((gb[i] - g[i]).abs() <= 1e-10 * (1.0 + g[i].abs()));
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn nested_composition_gradients(e in composite(), x in proptest::collection::vec(-2.5f64..2.5, 3)) {
        check(&e, &x)?;
    }

    #[test]
    fn clamp_and_constraint_gradients(e in composite(), x in proptest::collection::vec(-2.5f64..2.5, 2), v in -1.0f64..1.0) {
        let c = Clamp::new(e, vec![1], vec![v]).unwrap();
        check(&c, &x)?;
        for s in [
            SoftConstraint::ball(vec![0.2, -0.1], 1.0, 3.0).unwrap(),
            SoftConstraint::ring(vec![0.0, 0.3], 1.5, 0.2, 3.0).unwrap(),
            SoftConstraint::boxed(vec![-1.0, -0.5], vec![0.5, 1.0], 3.0).unwrap(),
            SoftConstraint::custom(2, 2.0, |x, g| { g[0] = 2.0 * x[0]; g[1] = 1.0; x[0] * x[0] + x[1] - 1.0 }).unwrap(),
        ] {
            check(&s, &x)?;
        }
    }

    #[test]
    fn path_interpolates_energies_and_gradients(e in composite(), x in proptest::collection::vec(-2.5f64..2.5, 3), beta in 0.0f64..1.0) {
        let base = DiagGaussian::standard(3);
        let path = ebm_compose::Path::new(base.clone(), e.clone()).unwrap();
        let at = path.at(beta);
        let want = (1.0 - beta) * base.energy(&x) + beta * e.energy(&x);
        prop_assert!((at.energy(&x) - want).abs() <= 1e-12 * (1.0 + want.abs()));
        check(&at, &x)?;
    }
}
