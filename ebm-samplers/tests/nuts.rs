//! NUTS against known moments (tolerances from the Monte Carlo error),
//! its invariance, its determinism and its divergences.

use crate::common;

use common::{check_moments, in_pool};
use ebm_core::energies::Funnel;
use ebm_core::{Energy, Points};
use ebm_samplers::driver::{run, RunConfig, Silent};
use ebm_samplers::target::Target;
use ebm_samplers::{Chains, ChunkMut, Kernel, MetricKind, Nuts, Registry, Scratch};

#[test]
fn nuts_recovers_mean_and_covariance_of_correlated_10d_gaussian() {
    let g = common::correlated_gaussian(10, 0.8);
    let mut k = Nuts::new(0.1).unwrap();
    let cfg = RunConfig {
        warmup: 500,
        draws: 1000,
        seed: 21,
        ..Default::default()
    };
    let out = run(&mut k, &g, Points::zeros(8, 10), &cfg, &mut Silent).unwrap();
    check_moments(&out, g.mean(), &g.covariance());
    assert_eq!(out.divergences.iter().sum::<usize>(), 0);
    // dual averaging aims the acceptance statistic at 0.8; over 8,000
    // transitions its mean lands within a few hundredths
    let acc = out.acceptance.iter().sum::<f64>() / out.acceptance.len() as f64;
    assert!((acc - 0.8).abs() < 0.06, "mean acceptance {acc}");
    // the trees: with the adapted diagonal metric, a few doublings, and
    // every leapfrog step counted as one gradient evaluation
    let depth = out.figure_means("depth").unwrap();
    let steps = out.figure_means("leapfrog").unwrap();
    for (dp, st) in depth.iter().zip(&steps) {
        assert!((1.0..6.0).contains(dp), "mean depth {dp}");
        assert!(*st >= *dp && *st < 64.0, "mean leapfrog steps {st}");
    }
    // every coordinate's ESS above a quarter of the 8,000 draws (this run:
    // 2,700 to 4,300 with the diagonal metric on correlations of 0.8)
    let ess = out.diagnostics().ess;
    assert!(ess.iter().all(|&e| e > 2000.0), "ESS {ess:?}");
}

/// One transition leaves p invariant: 20,000 chains started from exact
/// draws of a correlated 2-D Gaussian, three NUTS transitions with a large
/// fixed step (0.9, where a wrong weight or a one-sided U-turn check shows
/// as a biased variance), then the sample moments against the exact ones.
/// The chains are independent, so the standard errors are those of 20,000
/// independent draws: mean sqrt(S_jj / n), covariance
/// sqrt((S_ii S_jj + S_ij^2) / n); 4.5 of them.
#[test]
fn nuts_transitions_leave_the_target_invariant() {
    let n = 20_000;
    let (g, x0) = common::exact_2d_draws(n, 5);
    // depth 1 and 10 with the identity metric, then depth 10 with a dense
    // metric that is not the target's covariance (its momentum draws and
    // velocities must leave p invariant too)
    for (depth, dense) in [(1, false), (10, false), (10, true)] {
        let mut k = Nuts::new(0.9).unwrap().with_max_depth(depth).unwrap();
        if dense {
            assert!(k.set_dense_inv_mass(&[0.5, -0.2, -0.2, 2.0]));
        }
        let mut chains = Chains::new(&g, Points::from_vec(x0.clone(), 2).unwrap()).unwrap();
        let mut rngs = ebm_core::chain_rngs(8, n);
        for _ in 0..3 {
            k.step(&g, &mut chains, &mut rngs);
        }
        common::check_independent_moments(&format!("depth {depth}, dense {dense}"), chains.x.as_slice(), &g);
    }
}

#[test]
fn nuts_draws_do_not_depend_on_thread_count() {
    let g = common::correlated_gaussian(5, 0.6);
    // 40 chains: two chunks, so the second thread has work
    let sample = || {
        let mut k = Nuts::new(0.3).unwrap();
        let cfg = RunConfig {
            warmup: 60,
            draws: 40,
            seed: 3,
            ..Default::default()
        };
        let out = run(&mut k, &g, Points::zeros(40, 5), &cfg, &mut Silent).unwrap();
        let steps = out.figure_means("leapfrog").unwrap();
        (out.draws, steps, out.step_size)
    };
    let (a, b) = (in_pool(1, sample), in_pool(2, sample));
    assert!(a == b, "NUTS differs between 1 and 2 threads");
}

/// The dense Gaussian, as a plain energy that takes its points one at a
/// time: the same maths without its `energy_grad_each`, so NUTS keeps its
/// chains apart (groups of one) instead of in lock-step groups of four.
struct OneAtATime(ebm_core::energies::Gaussian);

impl Energy for OneAtATime {
    fn dim(&self) -> usize {
        self.0.dim()
    }
    fn energy(&self, x: &[f64]) -> f64 {
        self.0.energy(x)
    }
    fn energy_grad(&self, x: &[f64], grad: &mut [f64]) -> f64 {
        self.0.energy_grad(x, grad)
    }
}

/// Lock-step trees (the Gaussian's chains in groups of four, their
/// gradients four at a time) give every chain the bits it gets alone:
/// the same draws, tree sizes and adapted step size for 13 chains (three
/// groups of four and one of one) as with every chain apart.
#[test]
fn nuts_lock_step_groups_keep_every_chains_bits() {
    let g = common::correlated_gaussian(12, 0.7);
    assert_eq!(g.points_at_once(), 4);
    let sample = |e: &dyn Energy| {
        let mut k = Nuts::new(0.3).unwrap();
        let cfg = RunConfig {
            warmup: 50,
            draws: 30,
            seed: 9,
            ..Default::default()
        };
        let out = run(&mut k, &e, Points::zeros(13, 12), &cfg, &mut Silent).unwrap();
        let steps = out.figure_means("leapfrog").unwrap();
        (out.draws, steps, out.step_size)
    };
    let grouped = sample(&g);
    let apart = OneAtATime(g);
    assert_eq!(apart.points_at_once(), 1);
    assert!(grouped == sample(&apart), "lock-step groups change NUTS's draws");
}

/// NUTS as a kernel that takes a chunk's steps one at a time (it keeps
/// the default `runs_chains_ahead`, false), so every chain waits for the
/// others at every transition.
struct StepByStep(Nuts);

impl Kernel for StepByStep {
    fn name(&self) -> &'static str {
        self.0.name()
    }
    fn figures(&self) -> &'static [&'static str] {
        self.0.figures()
    }
    fn step_chunk(&self, target: Target<'_>, chunk: &mut ChunkMut<'_>, scratch: &mut Scratch) {
        self.0.step_chunk(target, chunk, scratch)
    }
    fn step_size(&self) -> f64 {
        self.0.step_size()
    }
    fn set_step_size(&mut self, eps: f64) {
        self.0.set_step_size(eps)
    }
    fn target_accept(&self) -> Option<f64> {
        self.0.target_accept()
    }
    fn set_inv_mass(&mut self, inv_mass: &[f64]) -> bool {
        self.0.set_inv_mass(inv_mass)
    }
}

/// Chains that run ahead of one another (each chain of a lock-step group
/// going on with its next transition while others finish theirs, through
/// burn-in and sampling in blocks of steps) keep every bit they get
/// step by step: the same draws, acceptance, divergences, tree figures,
/// gradient counts and final states for 13 chains in groups of four.
#[test]
fn nuts_chains_running_ahead_keep_their_bits() {
    let g = common::correlated_gaussian(12, 0.7);
    let cfg = RunConfig {
        warmup: 40,
        burn_in: 25,
        draws: 60,
        seed: 5,
        ..Default::default()
    };
    let sample = |k: &mut dyn Kernel| {
        let out = run(k, &g, Points::zeros(13, 12), &cfg, &mut Silent).unwrap();
        let figures = (
            out.figure_means("depth").unwrap(),
            out.figure_means("leapfrog").unwrap(),
        );
        (
            out.draws,
            out.acceptance,
            out.divergences,
            figures,
            out.chains.grad_evals_total,
            out.chains.x,
            out.step_size,
        )
    };
    let ahead = Nuts::new(0.3).unwrap();
    assert!(ahead.runs_chains_ahead());
    let mut apart = StepByStep(ahead.clone());
    assert!(!apart.runs_chains_ahead());
    let a = sample(&mut ahead.clone());
    assert!(
        a == sample(&mut apart),
        "running chains ahead changes NUTS's results"
    );
    // and the kernel's own run of steps matches its default, step by step
    let mut chains = Chains::new(&g, Points::zeros(13, 12)).unwrap();
    let mut twin = chains.clone();
    let mut rngs = ebm_core::rng::chain_rngs(3, 13);
    let mut twin_rngs = rngs.clone();
    chains.run_kernel(&ahead, Target::Continuous(&g), &mut rngs, 20, None);
    twin.run_kernel(
        &StepByStep(ahead.clone()),
        Target::Continuous(&g),
        &mut twin_rngs,
        20,
        None,
    );
    assert!(chains.x == twin.x && chains.grad == twin.grad && chains.figures_total == twin.figures_total);
}

/// Neal's funnel in 10-D: the neck needs steps far smaller than the mouth,
/// so a step size adapted on the whole funnel diverges in the neck. NUTS
/// must say so (divergent transitions counted per chain), keep every draw
/// finite, and still report its trees.
#[test]
fn nuts_reports_divergences_on_neals_funnel() {
    let f = Funnel::new(10, 3.0).unwrap();
    let mut k = Nuts::new(0.5).unwrap();
    let cfg = RunConfig {
        warmup: 300,
        draws: 500,
        seed: 4,
        ..Default::default()
    };
    let out = run(&mut k, &f, Points::zeros(4, 10), &cfg, &mut Silent).unwrap();
    let divergent: usize = out.divergences.iter().sum();
    assert!(divergent > 0, "no divergence reported on the funnel");
    assert!(out.draws.iter().all(|v| v.is_finite()));
    assert!(out.chains.energy.iter().all(|e| e.is_finite()));
}

#[test]
fn nuts_settings_are_checked_and_it_is_in_the_registry() {
    assert!(Nuts::new(0.0).is_err());
    assert!(Nuts::new(f64::NAN).is_err());
    for bad in [0, 31] {
        let e = Nuts::new(0.1)
            .unwrap()
            .with_max_depth(bad)
            .unwrap_err()
            .to_string();
        assert!(e.contains("max_depth"), "{e}");
    }
    assert!(Nuts::new(0.1).unwrap().with_target_accept(1.0).is_err());
    let reg = Registry::standard();
    let k = reg
        .build("nuts", &serde_json::json!({"step_size": 0.2, "max_depth": 6}))
        .unwrap();
    assert_eq!(k.name(), "nuts");
    assert_eq!(k.settings()["max_depth"], 6);
    assert!(reg.build("nuts", &serde_json::json!({"max_depth": 0})).is_err());
    assert!(reg.find("nuts").unwrap().invariant);
    // a depth-1 tree is one leapfrog step at most
    let g = common::correlated_gaussian(3, 0.5);
    let k = Nuts::new(0.2).unwrap().with_max_depth(1).unwrap();
    let mut chains = Chains::new(&g, Points::zeros(3, 3)).unwrap();
    let mut rngs = ebm_core::chain_rngs(1, 3);
    let s = k.step(&g, &mut chains, &mut rngs);
    assert!(s.grad_evals <= 3);
    assert!(g.energy(&chains.x.as_slice()[..3]).is_finite());
}

/// A rotated, ill-conditioned 10-D Gaussian ([`common::rotated_gaussian`]:
/// standard deviations from 0.1 to 1 along random axes). The diagonal metric cannot undo the rotation, so
/// NUTS needs long trajectories; the dense metric estimated in warm-up
/// makes the target nearly isotropic. Both recover the moments (4.5 MC
/// standard errors); the dense metric needs several times fewer
/// gradients per effective draw (this run: see the message).
#[test]
fn dense_metric_beats_the_diagonal_on_a_rotated_gaussian() {
    let d = 10;
    let g = common::rotated_gaussian(d, 77);
    let per_1k_grads = |metric: MetricKind| {
        let mut k = Nuts::new(0.1).unwrap().with_metric(metric);
        let cfg = RunConfig {
            warmup: 1000,
            draws: 1000,
            seed: 31,
            ..Default::default()
        };
        let out = run(&mut k, &g, Points::zeros(4, d), &cfg, &mut Silent).unwrap();
        check_moments(&out, g.mean(), &g.covariance());
        assert_eq!(k.dense_inv_mass().is_some(), metric == MetricKind::Dense);
        let grads: u64 = out.chains.grad_evals_total.iter().sum();
        1000.0 * out.diagnostics().ess_min() / grads as f64
    };
    let (diag, dense) = (per_1k_grads(MetricKind::Diag), per_1k_grads(MetricKind::Dense));
    eprintln!("min ESS per 1k gradients: dense {dense:.2}, diag {diag:.2}");
    assert!(
        dense > 3.0 * diag,
        "min ESS per 1k gradients: dense {dense:.2}, diag {diag:.2}"
    );
}
