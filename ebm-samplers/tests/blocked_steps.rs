//! `Kernel::steps(n)` (each chunk of chains runs all n steps while in
//! cache) gives the same bits as n calls of `Kernel::step`: states,
//! gradients, energies, per-step statistics, per-chain divergence and
//! acceptance totals, and the random streams' positions.

use crate::common;

use ebm_core::energies::Gmm;
use ebm_core::{chain_rngs, Energy, Points};
use ebm_samplers::{Chains, Hmc, Kernel, KineticLangevin, Mala, Splitting, StepStats, StepTotals, Ula};
use proptest::prelude::*;
use rand::RngCore;

fn start(n: usize, d: usize, seed: u64) -> Points {
    let mut r = ebm_core::setup_rng(seed);
    let v = (0..n * d)
        .map(|_| (r.next_u32() as f64 / 4.3e9 - 0.5) * 6.0)
        .collect();
    Points::from_vec(v, d).unwrap()
}

/// (states, gradients, energies, stats, divergences, acceptance, next
/// words, the states after every step)
type Outcome = (
    Vec<f64>,
    Vec<f64>,
    Vec<f64>,
    Vec<StepStats>,
    Vec<usize>,
    Vec<f64>,
    Vec<u64>,
    Vec<f64>,
);

fn stepwise<K: Kernel, E: Energy>(k: &K, e: &E, x0: Points, n: usize, seed: u64) -> Outcome {
    let m = x0.len();
    let mut ch = Chains::new(e, x0).unwrap();
    let mut rngs = chain_rngs(seed, m);
    let (mut div, mut acc) = (vec![0; m], vec![0.0; m]);
    let mut states = Vec::new();
    let stats = (0..n)
        .map(|_| {
            let s = k.step(e, &mut ch, &mut rngs);
            states.extend_from_slice(ch.x.as_slice());
            for c in 0..m {
                div[c] += ch.divergent[c] as usize;
                acc[c] += ch.accept[c];
            }
            s
        })
        .collect();
    let next = rngs.iter_mut().map(|r| r.next_u64()).collect();
    (
        ch.x.as_slice().to_vec(),
        ch.grad.clone(),
        ch.energy.clone(),
        stats,
        div,
        acc,
        next,
        states,
    )
}

fn blocked<K: Kernel, E: Energy>(k: &K, e: &E, x0: Points, n: usize, seed: u64) -> Outcome {
    let m = x0.len();
    let mut ch = Chains::new(e, x0).unwrap();
    let mut rngs = chain_rngs(seed, m);
    let (mut div, mut acc) = (vec![0; m], vec![0.0; m]);
    let mut rec = vec![0.0; n * ch.x.as_slice().len()];
    let stats = k.steps(
        e,
        &mut ch,
        &mut rngs,
        n,
        StepTotals {
            divergences: &mut div,
            acceptance: &mut acc,
            record: Some(&mut rec),
        },
    );
    let next = rngs.iter_mut().map(|r| r.next_u64()).collect();
    (
        ch.x.as_slice().to_vec(),
        ch.grad.clone(),
        ch.energy.clone(),
        stats,
        div,
        acc,
        next,
        rec,
    )
}

fn same_bits(a: &Outcome, b: &Outcome) -> bool {
    let bits = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
    bits(&a.0) == bits(&b.0)
        && bits(&a.1) == bits(&b.1)
        && bits(&a.2) == bits(&b.2)
        && a.3.len() == b.3.len()
        && a.3.iter().zip(&b.3).all(|(s, t)| {
            s.mean_accept.to_bits() == t.mean_accept.to_bits()
                && s.divergences == t.divergences
                && s.grad_evals == t.grad_evals
        })
        && a.4 == b.4
        && bits(&a.5) == bits(&b.5)
        && a.6 == b.6
        && bits(&a.7) == bits(&b.7)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(12))]

    #[test]
    /// n up to 40: ULA draws its normals for up to 16 steps at a time in
    /// 2-D (5 in 5-D), so several refills and a partial last one are
    /// covered, as is a run shorter than one refill.
    fn blocked_steps_equal_single_steps(chains in 1usize..150, n in 0usize..40, seed in 0u64..1000) {
        let gmm = Gmm::eight_gaussians();
        let x0 = start(chains, 2, seed);
        let ula = Ula::new(0.05).unwrap();
        prop_assert!(same_bits(&stepwise(&ula, &gmm, x0.clone(), n, seed), &blocked(&ula, &gmm, x0.clone(), n, seed)));
        let mala = Mala::new(0.3).unwrap();
        prop_assert!(same_bits(&stepwise(&mala, &gmm, x0.clone(), n, seed), &blocked(&mala, &gmm, x0, n, seed)));
        let g = common::correlated_gaussian(5, 0.8);
        let x0 = start(chains, 5, seed);
        let ula = Ula::new(0.02).unwrap();
        prop_assert!(same_bits(&stepwise(&ula, &g, x0.clone(), n, seed), &blocked(&ula, &g, x0.clone(), n, seed)));
        let hmc = Hmc::new(0.3, 4).unwrap().with_path_jitter(true).with_step_jitter(0.2).unwrap();
        prop_assert!(same_bits(&stepwise(&hmc, &g, x0.clone(), n, seed), &blocked(&hmc, &g, x0, n, seed)));
    }

    #[test]
    /// Kinetic Langevin draws its normals ahead like ULA, one draw a step
    /// for BAOAB and two for OBABO, and the momenta's first draw in the
    /// first step: 2-D (16 draws at a time) and 5-D (5), so refills land
    /// inside a step and between its two draws. Its momenta, carried in
    /// the chunks' scratch, must be the same too (the states after every
    /// step depend on them).
    fn blocked_kinetic_steps_equal_single_steps(chains in 1usize..150, n in 0usize..40, seed in 0u64..1000) {
        let gmm = Gmm::eight_gaussians();
        let g = common::correlated_gaussian(5, 0.8);
        for splitting in [Splitting::Baoab, Splitting::Obabo] {
            let k = KineticLangevin::new(0.2, 0.9).unwrap().with_splitting(splitting);
            let x0 = start(chains, 2, seed);
            prop_assert!(same_bits(&stepwise(&k, &gmm, x0.clone(), n, seed), &blocked(&k, &gmm, x0, n, seed)));
            let x0 = start(chains, 5, seed);
            prop_assert!(same_bits(&stepwise(&k, &g, x0.clone(), n, seed), &blocked(&k, &g, x0, n, seed)));
        }
    }
}

/// W1's mixture behind a wall at x0 = -1: E infinite past it, with a NaN
/// gradient there (so the gradient alone shows where E is not finite),
/// and a `grad_batch` that leaves the energies as they were, as the
/// mixture's own does. ULA then takes gradients alone before the last
/// step of a run and must still undo every move past the wall and end
/// with each chain's energy at its state.
struct WalledMixture(Gmm);

impl WalledMixture {
    fn wall(x: &[f64], grads: &mut [f64], mut energies: Option<&mut [f64]>) {
        for (k, (p, g)) in x.chunks_exact(2).zip(grads.chunks_exact_mut(2)).enumerate() {
            if p[0] <= -1.0 {
                g.fill(f64::NAN);
                if let Some(e) = energies.as_deref_mut() {
                    e[k] = f64::INFINITY;
                }
            }
        }
    }
}

impl Energy for WalledMixture {
    fn dim(&self) -> usize {
        2
    }
    fn energy(&self, x: &[f64]) -> f64 {
        if x[0] <= -1.0 {
            f64::INFINITY
        } else {
            self.0.energy(x)
        }
    }
    fn energy_grad(&self, x: &[f64], grad: &mut [f64]) -> f64 {
        let e = self.0.energy_grad(x, grad);
        let mut es = [e];
        Self::wall(x, grad, Some(&mut es));
        es[0]
    }
    fn energy_grad_batch(&self, xs: &[f64], grads: &mut [f64], energies: &mut [f64]) {
        self.0.energy_grad_batch(xs, grads, energies);
        Self::wall(xs, grads, Some(energies));
    }
    fn grad_batch(&self, xs: &[f64], grads: &mut [f64], energies: &mut [f64]) {
        self.0.grad_batch(xs, grads, energies);
        Self::wall(xs, grads, None);
    }
    fn grad_batch_flags_infinite_energy(&self) -> bool {
        true
    }
}

/// Chains started on the allowed side of the wall, a few steps from it.
fn walled_start(n: usize, seed: u64) -> Points {
    let x = start(n, 2, seed);
    let v = x
        .as_slice()
        .chunks_exact(2)
        .flat_map(|p| [p[0].abs() * 0.3 - 0.8, p[1]])
        .collect();
    Points::from_vec(v, 2).unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(12))]

    /// ULA behind a wall, its runs of steps taking gradients alone before
    /// their last step: the same bits as step by step (each of which
    /// computes the energies), divergences and final energies included.
    #[test]
    fn blocked_ula_behind_a_wall_equals_single_steps(chains in 1usize..150, n in 0usize..40, seed in 0u64..1000) {
        let e = WalledMixture(Gmm::eight_gaussians());
        let ula = Ula::new(0.05).unwrap();
        let (a, b) = (stepwise(&ula, &e, walled_start(chains, seed), n, seed), blocked(&ula, &e, walled_start(chains, seed), n, seed));
        prop_assert!(same_bits(&a, &b));
        // every chain's energy is its state's
        for (x, en) in b.0.chunks_exact(2).zip(&b.2) {
            prop_assert_eq!(en.to_bits(), e.energy(x).to_bits());
        }
    }

    /// Kinetic Langevin behind the wall, which takes gradients alone the
    /// same way: the bits of single steps, and every energy its state's.
    #[test]
    fn blocked_kinetic_behind_a_wall_equals_single_steps(chains in 1usize..150, n in 0usize..40, seed in 0u64..1000) {
        let e = WalledMixture(Gmm::eight_gaussians());
        for splitting in [Splitting::Baoab, Splitting::Obabo] {
            let k = KineticLangevin::new(0.5, 1.0).unwrap().with_splitting(splitting);
            let (a, b) = (stepwise(&k, &e, walled_start(chains, seed), n, seed), blocked(&k, &e, walled_start(chains, seed), n, seed));
            prop_assert!(same_bits(&a, &b));
            for (x, en) in b.0.chunks_exact(2).zip(&b.2) {
                prop_assert_eq!(en.to_bits(), e.energy(x).to_bits());
            }
        }
    }
}

/// The case above with moves past the wall in the run, the last step's
/// included: 200 chains, 30 steps.
#[test]
fn moves_past_the_wall_are_undone_in_a_run_of_steps() {
    let e = WalledMixture(Gmm::eight_gaussians());
    let ula = Ula::new(0.05).unwrap();
    let (a, b) = (
        stepwise(&ula, &e, walled_start(200, 3), 30, 3),
        blocked(&ula, &e, walled_start(200, 3), 30, 3),
    );
    assert!(same_bits(&a, &b));
    let last = b.3.last().expect("30 steps");
    assert!(
        b.4.iter().sum::<usize>() > 30 && last.divergences > 0,
        "divergences {:?}, last step {}",
        b.4.iter().sum::<usize>(),
        last.divergences
    );
    assert!(b.0.chunks_exact(2).all(|x| x[0] > -1.0));
}

/// Kinetic Langevin's steps into the wall, the last step's included, are
/// undone (the momenta reversed) in a run of steps as step by step, and
/// each chain ends with its state's energy: 200 chains, 30 steps.
#[test]
fn kinetic_moves_past_the_wall_are_undone_in_a_run_of_steps() {
    let e = WalledMixture(Gmm::eight_gaussians());
    for splitting in [Splitting::Baoab, Splitting::Obabo] {
        let k = KineticLangevin::new(0.5, 1.0).unwrap().with_splitting(splitting);
        let (a, b) = (
            stepwise(&k, &e, walled_start(200, 3), 30, 3),
            blocked(&k, &e, walled_start(200, 3), 30, 3),
        );
        assert!(same_bits(&a, &b), "{splitting:?}");
        let last = b.3.last().expect("30 steps");
        assert!(
            b.4.iter().sum::<usize>() > 30 && last.divergences > 0,
            "{splitting:?}: divergences {:?}, last step {}",
            b.4.iter().sum::<usize>(),
            last.divergences
        );
        assert!(b.0.chunks_exact(2).all(|x| x[0] > -1.0));
        for (x, en) in b.0.chunks_exact(2).zip(&b.2) {
            assert_eq!(en.to_bits(), e.energy(x).to_bits());
        }
    }
}
