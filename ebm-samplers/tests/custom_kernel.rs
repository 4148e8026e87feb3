//! The kernel of `examples/custom_kernel.rs` (random-walk Metropolis,
//! written with the public API only and run as `Box<dyn Kernel>`): its
//! draws do not depend on the thread count, and they have the target's
//! moments.

use crate::common;

#[path = "../examples/custom_kernel.rs"]
mod example;

use common::in_pool;

#[test]
fn custom_kernel_draws_are_bit_identical_with_one_and_two_threads() {
    let bits = |v: ebm_samplers::draws::Draws| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
    let one = in_pool(1, || bits(example::sample(3).draws));
    let two = in_pool(2, || bits(example::sample(3).draws));
    assert_eq!(one.len(), 4000 * 64 * 5);
    assert!(one == two, "draws differ between 1 and 2 threads");
}

#[test]
fn custom_kernel_recovers_the_5d_gaussian() {
    let out = example::sample(4);
    let g = example::target();
    let (mean, cov) = out.moments();
    let (exact_mean, exact_cov) = (g.mean(), g.covariance());
    let ess = out.diagnostics().ess;
    let d = 5;
    // SE(mean_j) = sqrt(Sigma_jj / ESS_j), SE(c_ij) ~ sqrt((Sigma_ii
    // Sigma_jj + Sigma_ij^2) / ESS) for a Gaussian; 4.5 SE is a two-sided
    // tail of 7e-6 per entry, so the 20 entries fail by chance with
    // probability under 1.4e-4 for a correct kernel (and the seed is fixed)
    for j in 0..d {
        let se = (exact_cov[j * d + j] / ess[j]).sqrt();
        assert!(
            (mean[j] - exact_mean[j]).abs() < 4.5 * se,
            "mean[{j}] {} vs {}",
            mean[j],
            exact_mean[j]
        );
    }
    for i in 0..d {
        for j in 0..=i {
            let n = ess[i].min(ess[j]);
            let c = exact_cov[i * d + j];
            let se = ((exact_cov[i * d + i] * exact_cov[j * d + j] + c * c) / n).sqrt();
            assert!(
                (cov[i * d + j] - c).abs() < 4.5 * se,
                "cov[{i}][{j}] {} vs {c}",
                cov[i * d + j]
            );
        }
    }
    // a random walk at scale 1 in 5-D accepts about a third of its moves
    let acc = out.acceptance.iter().sum::<f64>() / 64.0;
    assert!(acc > 0.15 && acc < 0.6, "acceptance {acc}");
    assert!(
        out.grad_evals().iter().all(|&g| g == 4500),
        "one evaluation per step"
    );
    // the kernel's own figure, averaged per chain over the kept draws by
    // the driver: the expected squared jump distance. A move is accepted
    // with probability ~acc and then jumps |s z|^2 ~ 5 s^2 = 5 on average
    // (accepted moves are somewhat shorter), so the mean lies well inside
    // (0, 5 acc]; chains average 4,000 steps, so no chain is far from it
    let esjd = out.figure_means("squared_jump").unwrap();
    assert_eq!(esjd.len(), 64);
    let mean = esjd.iter().sum::<f64>() / 64.0;
    assert!(
        mean > 0.2 * acc && mean <= 5.0 * acc,
        "ESJD {mean}, acceptance {acc}"
    );
    assert!(esjd.iter().all(|&e| (e - mean).abs() < 0.5 * mean), "{esjd:?}");
    assert!(out.figure_means("tree_depth").is_none());
}

#[test]
fn kernel_figures_are_averaged_over_every_sampling_iteration() {
    // with thinning the figures still average over all draws x thin
    // iterations (as the acceptance does), so the expected squared jump
    // distance does not change with thin: 64 chains x 4,500 iterations
    // give its mean to about 1%, so 10% separates it from a mean over the
    // kept draws only (three times as large at thin 3)
    use ebm_core::Points;
    use ebm_samplers::driver::{run, RunConfig, Silent};
    use ebm_samplers::Kernel;
    let esjd = |thin: usize| {
        let mut kernel: Box<dyn Kernel> = Box::new(example::RandomWalk { scale: 1.0 });
        let cfg = RunConfig {
            warmup: 500,
            draws: 4500 / thin,
            thin,
            seed: 6,
            ..Default::default()
        };
        let out = run(
            &mut kernel,
            &example::target(),
            Points::zeros(64, 5),
            &cfg,
            &mut Silent,
        )
        .unwrap();
        let e = out.figure_means("squared_jump").unwrap();
        e.iter().sum::<f64>() / e.len() as f64
    };
    let (one, three) = (esjd(1), esjd(3));
    assert!(
        (three / one - 1.0).abs() < 0.1,
        "ESJD {one} (thin 1) vs {three} (thin 3)"
    );
}

#[test]
fn hmc_counts_gradient_evaluations_per_chain() {
    // with path jitter each chain draws its number of leapfrog steps from
    // 1..=L every iteration, so the per-chain counts differ and lie
    // between the iterations and L times them
    use ebm_core::Points;
    use ebm_samplers::driver::{run, RunConfig, Silent};
    let g = example::target();
    let mut hmc = ebm_samplers::Hmc::new(0.3, 8).unwrap().with_path_jitter(true);
    let cfg = RunConfig {
        warmup: 100,
        draws: 200,
        seed: 2,
        ..Default::default()
    };
    let out = run(&mut hmc, &g, Points::zeros(40, 5), &cfg, &mut Silent).unwrap();
    assert!(
        out.grad_evals().iter().all(|&n| (300..=2400).contains(&n)),
        "{:?}",
        out.grad_evals()
    );
    assert!(out.grad_evals().iter().any(|&n| n != out.grad_evals()[0]));
    // the mean of uniform 1..=8 is 4.5 steps per iteration: over 12,000
    // draws its SE is 2.3 / sqrt(12000) = 0.02, so 0.1 is 5 SE
    let per_iter = out.grad_evals().iter().sum::<u64>() as f64 / (40.0 * 300.0);
    assert!((per_iter - 4.5).abs() < 0.1, "{per_iter}");
}
