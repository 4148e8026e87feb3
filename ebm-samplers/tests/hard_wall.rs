//! Samplers on an energy that is infinite in part of the space (a hard
//! wall): no chain ever holds a non-finite state. MALA and HMC reject
//! moves past the wall and still sample the right distribution; ULA undoes
//! them, reports them as divergences, and stays close to the target.

use ebm_core::{Energy, Points};
use ebm_samplers::driver::{run, RunConfig, Silent};
use ebm_samplers::{Hmc, Kernel, Mala, Ula};

/// A standard normal in 2-D restricted to x0 > 0: E = |x|^2 / 2 there,
/// +infinity (with a NaN gradient, the harshest case) elsewhere. The first
/// coordinate is half-normal: mean sqrt(2 / pi), variance 1 - 2 / pi; the
/// second stays N(0, 1).
struct HalfPlaneNormal;

impl Energy for HalfPlaneNormal {
    fn dim(&self) -> usize {
        2
    }
    fn energy(&self, x: &[f64]) -> f64 {
        if x[0] > 0.0 {
            0.5 * (x[0] * x[0] + x[1] * x[1])
        } else {
            f64::INFINITY
        }
    }
    fn energy_grad(&self, x: &[f64], grad: &mut [f64]) -> f64 {
        if x[0] > 0.0 {
            grad.copy_from_slice(x);
        } else {
            grad.fill(f64::NAN);
        }
        self.energy(x)
    }
}

const MEAN0: f64 = 0.797_884_560_802_865_4; // sqrt(2 / pi)
const VAR0: f64 = 0.363_380_227_632_418_6; // 1 - 2 / pi

/// 256 chains started inside the allowed half-plane.
fn start() -> Points {
    let x: Vec<f64> = (0..256)
        .flat_map(|i| [0.2 + (i % 16) as f64 * 0.1, (i / 16) as f64 * 0.2 - 1.5])
        .collect();
    Points::from_vec(x, 2).unwrap()
}

/// Run `kernel` and check that every kept draw is finite and inside the
/// wall; returns (mean of x0, its Monte Carlo standard error, divergences).
fn sample<K: Kernel>(mut kernel: K, adapt: bool) -> (f64, f64, usize) {
    let cfg = RunConfig {
        warmup: 300,
        burn_in: 0,
        draws: 400,
        thin: 1,
        adapt_step_size: adapt,
        adapt_mass: false,
        store_draws: true,
        seed: 5,
    };
    let out = run(&mut kernel, &HalfPlaneNormal, start(), &cfg, &mut Silent).unwrap();
    assert!(
        out.draws.iter().all(|v| v.is_finite()),
        "a non-finite draw was kept"
    );
    assert!(
        out.draws.chunks_exact(2).all(|x| x[0] > 0.0),
        "a draw past the wall was kept"
    );
    assert!(out.chains.energy.iter().all(|e| e.is_finite()));
    assert!(out.chains.grad.iter().all(|g| g.is_finite()));
    let ess = out.diagnostics().ess[0];
    (out.mean()[0], (VAR0 / ess).sqrt(), out.divergences.iter().sum())
}

#[test]
fn mala_rejects_moves_past_the_wall_and_samples_the_half_normal() {
    let (mean, se, rejected) = sample(Mala::new(0.5).unwrap(), true);
    assert!(rejected > 0, "some proposals crossed the wall");
    // 4 standard errors from the ESS: a false alarm once in ~16,000 seeds
    assert!(
        (mean - MEAN0).abs() < 4.0 * se,
        "mean {mean} vs {MEAN0} (se {se})"
    );
}

#[test]
fn hmc_rejects_trajectories_through_the_wall_and_samples_the_half_normal() {
    let (mean, se, rejected) = sample(Hmc::new(0.3, 8).unwrap(), true);
    assert!(rejected > 0, "some trajectories crossed the wall");
    assert!(
        (mean - MEAN0).abs() < 4.0 * se,
        "mean {mean} vs {MEAN0} (se {se})"
    );
}

#[test]
fn ula_undoes_and_reports_moves_past_the_wall() {
    let (mean, se, reset) = sample(Ula::new(0.02).unwrap(), false);
    assert!(reset > 0, "moves past the wall are reported as divergences");
    // ULA is biased by O(eps), and undoing a move past the wall acts as a
    // rejection near it; with eps = 0.02 the bias on the mean is a few
    // hundredths, so allow 0.05 on top of 4 standard errors
    assert!(
        (mean - MEAN0).abs() < 0.05 + 4.0 * se,
        "mean {mean} vs {MEAN0} (se {se})"
    );
}

#[test]
fn ula_resets_a_chain_whose_energy_overflows() {
    // E = exp(x^2): finite near 0, overflows to infinity for |x| > 26.6;
    // a huge step throws chains there, and each must come back
    struct Steep;
    impl Energy for Steep {
        fn dim(&self) -> usize {
            1
        }
        fn energy(&self, x: &[f64]) -> f64 {
            (x[0] * x[0]).exp()
        }
        fn energy_grad(&self, x: &[f64], grad: &mut [f64]) -> f64 {
            let e = self.energy(x);
            grad[0] = 2.0 * x[0] * e;
            e
        }
    }
    let mut chains = ebm_samplers::Chains::new(&Steep, Points::from_vec(vec![0.1; 64], 1).unwrap()).unwrap();
    let mut rngs = ebm_core::chain_rngs(1, 64);
    let ula = Ula::new(400.0).unwrap();
    let mut reported = 0;
    for _ in 0..20 {
        reported += ula.step(&Steep, &mut chains, &mut rngs).divergences;
        assert!(chains
            .x
            .as_slice()
            .iter()
            .all(|v| v.is_finite() && v.abs() < 26.7));
        assert!(chains.energy.iter().all(|e| e.is_finite()));
    }
    assert!(reported > 0);
}

/// The half-plane normal with a zero gradient past the wall instead of
/// NaN: only its infinite energy shows a move past the wall. Such an
/// energy does not claim that its gradient shows it
/// (`grad_batch_flags_infinite_energy` is false by default), so ULA
/// computes the energies at every step of its runs and still undoes every
/// such move.
struct HalfPlaneZeroGradient;

impl Energy for HalfPlaneZeroGradient {
    fn dim(&self) -> usize {
        2
    }
    fn energy(&self, x: &[f64]) -> f64 {
        HalfPlaneNormal.energy(x)
    }
    fn energy_grad(&self, x: &[f64], grad: &mut [f64]) -> f64 {
        if x[0] > 0.0 {
            grad.copy_from_slice(x);
        } else {
            grad.fill(0.0);
        }
        self.energy(x)
    }
}

#[test]
fn ula_undoes_moves_past_a_wall_that_only_the_energy_shows() {
    let cfg = RunConfig {
        warmup: 0,
        burn_in: 200,
        draws: 200,
        thin: 1,
        adapt_step_size: false,
        adapt_mass: false,
        store_draws: true,
        seed: 5,
    };
    let mut ula = Ula::new(0.2).unwrap();
    let out = run(&mut ula, &HalfPlaneZeroGradient, start(), &cfg, &mut Silent).unwrap();
    assert!(
        out.divergences.iter().sum::<usize>() > 0,
        "some moves crossed the wall"
    );
    assert!(
        out.draws.chunks_exact(2).all(|x| x[0] > 0.0),
        "a draw past the wall was kept"
    );
    assert!(out.chains.energy.iter().all(|e| e.is_finite()));
}
