//! Pairwise binary models (Ising lattices, Boltzmann machines on any
//! graph) through the site kernel that runs sixteen chains in SIMD lanes:
//! the same bits as one chain at a time through `flip_delta`, for any
//! number of threads; Gibbs marginals and pair correlations and AIS log Z
//! against enumeration.

use crate::common;

use common::in_pool;
use ebm_core::energies::{Ising, Pairwise, Spins};
use ebm_core::{setup_rng, BinaryEnergy};
use ebm_samplers::ais::{ais_binary, Schedule};
use ebm_samplers::driver::run_binary;
use ebm_samplers::gibbs::Gibbs;
use ebm_samplers::gwg::Gwg;
use ebm_samplers::Kernel;
use rand::Rng;

/// A model that hides its pairwise structure: the samplers take the
/// one-chain-at-a-time path through `flip_delta` and `energy`.
struct Opaque<'a>(&'a dyn BinaryEnergy);

impl BinaryEnergy for Opaque<'_> {
    fn dim(&self) -> usize {
        self.0.dim()
    }
    fn states(&self) -> (f64, f64) {
        self.0.states()
    }
    fn energy(&self, x: &[f64]) -> f64 {
        self.0.energy(x)
    }
    fn flip_delta(&self, x: &[f64], i: usize) -> f64 {
        self.0.flip_delta(x, i)
    }
    fn sweep_order(&self, order: &mut Vec<usize>) {
        self.0.sweep_order(order)
    }
}

/// A frustrated model: a ring of `n` sites with antiferromagnetic bonds,
/// chords of random sign and random fields.
fn frustrated(n: usize, spins: Spins, seed: u64) -> Pairwise {
    let mut r = setup_rng(seed);
    let mut couplings: Vec<(usize, usize, f64)> = (0..n).map(|i| (i, (i + 1) % n, -0.6)).collect();
    for i in 0..n {
        let j = (i + 3) % n;
        if i < j && j != i + 1 {
            couplings.push((i, j, r.random::<f64>() * 1.4 - 0.7));
        }
    }
    let fields = (0..n).map(|_| r.random::<f64>() * 0.6 - 0.3).collect();
    Pairwise::new(n, spins, couplings, fields).unwrap()
}

fn same_bits(a: &[f64], b: &[f64]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.to_bits() == y.to_bits())
}

#[test]
fn ais_in_lanes_is_one_chain_at_a_time_for_any_thread_count() {
    let ising = Ising::new(6, 6, 1.0, 0.1, 0.4, true).unwrap();
    let bits = frustrated(11, Spins::Bits, 3);
    let models: [&dyn BinaryEnergy; 2] = [&ising, &bits];
    let betas = Schedule::Linear.betas(40).unwrap();
    for m in models {
        assert!(m.pairwise().is_some());
        // 21 chains: a full group of sixteen and a partial one, each
        // annealed in eight pieces of the ladder on any thread count; 150
        // chains: ten groups, whole on one thread and in pieces on two
        // (`ebm_samplers::pieces::pieces_for`)
        for chains in [21, 150] {
            let fast = in_pool(1, || ais_binary(m, &betas, chains, 2, 9).unwrap());
            let two = in_pool(2, || ais_binary(m, &betas, chains, 2, 9).unwrap());
            let slow = ais_binary(&Opaque(m), &betas, chains, 2, 9).unwrap();
            assert!(same_bits(&fast.log_weights, &slow.log_weights), "{chains} chains");
            assert!(same_bits(&fast.log_weights, &two.log_weights), "{chains} chains");
            assert_eq!(fast.log_z.to_bits(), slow.log_z.to_bits());
        }
    }
}

#[test]
fn gibbs_in_lanes_is_one_chain_at_a_time_for_any_thread_count() {
    let ising = Ising::new(5, 4, 0.8, -0.2, 0.5, false).unwrap();
    let m = frustrated(9, Spins::Pm1, 5);
    let models: [&dyn BinaryEnergy; 2] = [&ising, &m];
    for model in models {
        let run = |threads| {
            in_pool(threads, || {
                run_binary(&mut Gibbs::default(), &model, 45, 3, 20, 1, 4).unwrap()
            })
        };
        let (one, two) = (run(1), run(2));
        let slow = run_binary(&mut Gibbs::default(), &Opaque(model), 45, 3, 20, 1, 4).unwrap();
        assert!(same_bits(&one.draws, &slow.draws));
        assert!(same_bits(&one.draws, &two.draws));
    }
}

/// Exact E[s_i] and E[s_i s_j] of every listed pair by enumeration.
fn exact_moments(m: &Pairwise) -> (Vec<f64>, Vec<f64>) {
    let n = m.n();
    let (lo, hi) = m.states();
    let log_z = m.log_partition().unwrap();
    let mut mean = vec![0.0; n];
    let mut pair = vec![0.0; m.couplings().len()];
    for k in 0..1u32 << n {
        let s: Vec<f64> = (0..n).map(|i| if k >> i & 1 == 1 { hi } else { lo }).collect();
        let p = (-m.energy(&s) - log_z).exp();
        for i in 0..n {
            mean[i] += p * s[i];
        }
        for (c, &(i, j, _)) in m.couplings().iter().enumerate() {
            pair[c] += p * s[i] * s[j];
        }
    }
    (mean, pair)
}

/// Site Gibbs and Gibbs-with-gradients (12 proposals a step) on
/// frustrated 12-site models (spins and bits) reproduce the exact
/// marginals and pair correlations. The standard error of each figure
/// comes from the spread of the 256 independent chains' own averages
/// (honest under autocorrelation); every figure must be within 4.5 of
/// them (about 40 figures per model and kernel: a false alarm has
/// probability below 1e-3). GwG reports its acceptance, strictly between
/// 0 and 1 here.
#[test]
fn gibbs_and_gwg_reproduce_exact_marginals_and_pair_correlations() {
    for spins in [Spins::Pm1, Spins::Bits] {
        let m = frustrated(12, spins, 8);
        let (mean, pair) = exact_moments(&m);
        let kernels: [(&str, Box<dyn Kernel>); 2] = [
            ("gibbs", Box::new(Gibbs::default())),
            ("gwg", Box::new(Gwg::new(12).unwrap())),
        ];
        for (name, mut kernel) in kernels {
            let (chains, draws) = (256, 400);
            let out = run_binary(&mut kernel, &m, chains, 50, draws, 1, 21).unwrap();
            if name == "gwg" {
                let acc = out.acceptance.iter().sum::<f64>() / chains as f64;
                assert!(acc > 0.3 && acc < 1.0, "{spins:?} gwg acceptance {acc}");
            }
            let n = m.n();
            let figure = |f: &dyn Fn(&[f64]) -> f64| -> (f64, f64) {
                let per_chain: Vec<f64> = (0..chains)
                    .map(|c| {
                        (0..draws)
                            .map(|t| f(&out.draws[(t * chains + c) * n..][..n]))
                            .sum::<f64>()
                            / draws as f64
                    })
                    .collect();
                let avg = per_chain.iter().sum::<f64>() / chains as f64;
                let var = per_chain.iter().map(|v| (v - avg).powi(2)).sum::<f64>() / (chains - 1) as f64;
                (avg, (var / chains as f64).sqrt())
            };
            for i in 0..n {
                let (got, se) = figure(&|s| s[i]);
                assert!(
                    (got - mean[i]).abs() < 4.5 * se,
                    "{name} {spins:?} E[s_{i}]: {got} vs {} (se {se})",
                    mean[i]
                );
            }
            for (c, &(i, j, _)) in m.couplings().iter().enumerate() {
                let (got, se) = figure(&|s| s[i] * s[j]);
                assert!(
                    (got - pair[c]).abs() < 4.5 * se,
                    "{name} {spins:?} E[s_{i} s_{j}]: {got} vs {} (se {se})",
                    pair[c]
                );
            }
        }
    }
}

/// Gibbs-with-gradients on an RBM proposes from the free energy's
/// gradient (estimates, not exact deltas) and still leaves p(v)
/// invariant: the visible marginals of a 10 x 6 RBM with strong weights
/// against enumeration of its 2^10 visible states, with the same
/// chain-spread standard errors and 4.5 of them.
#[test]
fn gwg_on_an_rbm_reproduces_exact_marginals() {
    let rbm = common::random_rbm(10, 6, 1.5, 2);
    let nv = 10;
    let log_z = rbm.log_partition().unwrap();
    let mut exact = vec![0.0; nv];
    for k in 0..1u32 << nv {
        let v: Vec<f64> = (0..nv).map(|i| (k >> i & 1) as f64).collect();
        let p = (-rbm.energy(&v) - log_z).exp();
        for i in 0..nv {
            exact[i] += p * v[i];
        }
    }
    let (chains, draws) = (128, 600);
    let out = run_binary(&mut Gwg::new(10).unwrap(), &rbm, chains, 50, draws, 1, 6).unwrap();
    for i in 0..nv {
        let per_chain: Vec<f64> = (0..chains)
            .map(|c| {
                (0..draws)
                    .map(|t| out.draws[(t * chains + c) * nv + i])
                    .sum::<f64>()
                    / draws as f64
            })
            .collect();
        let avg = per_chain.iter().sum::<f64>() / chains as f64;
        let se = (per_chain.iter().map(|v| (v - avg).powi(2)).sum::<f64>() / ((chains - 1) * chains) as f64)
            .sqrt();
        assert!(
            (avg - exact[i]).abs() < 4.5 * se,
            "unit {i}: {avg} vs {} (se {se})",
            exact[i]
        );
    }
}

/// GwG gives the same bits for any thread count, and its update of
/// only the flipped unit's neighbourhood on pairwise models gives the
/// bits of the full recomputation of every estimate.
#[test]
fn gwg_is_the_same_for_any_thread_count_and_through_flip_delta() {
    let m = frustrated(9, Spins::Pm1, 5);
    let run = |threads| {
        in_pool(threads, || {
            run_binary(&mut Gwg::new(3).unwrap(), &m, 45, 3, 20, 1, 4).unwrap()
        })
    };
    let (one, two) = (run(1), run(2));
    let slow = run_binary(&mut Gwg::new(3).unwrap(), &Opaque(&m), 45, 3, 20, 1, 4).unwrap();
    assert!(same_bits(&one.draws, &two.draws));
    assert!(same_bits(&one.acceptance, &two.acceptance));
    assert!(same_bits(&one.draws, &slow.draws));
}

/// AIS on a frustrated 18-site Boltzmann machine (bits) and its spin
/// form lands within 3 of its own standard errors of log Z by enumeration
/// (and the two conventions' estimates differ by the conversion constant
/// within their errors).
#[test]
fn ais_on_pairwise_models_matches_enumeration() {
    let bits = frustrated(18, Spins::Bits, 12);
    let (spins, offset) = bits.convert(Spins::Pm1).unwrap();
    let betas = Schedule::Linear.betas(400).unwrap();
    for (label, m, shift) in [("bits", &bits, 0.0), ("pm1", &spins, offset)] {
        let exact = m.log_partition().unwrap();
        let r = ais_binary(m, &betas, 400, 1, 17).unwrap();
        let err = r.log_z - exact;
        assert!(
            err.abs() < 3.0 * r.stderr,
            "{label}: error {err}, se {}",
            r.stderr
        );
        assert!(
            r.stderr < 0.05,
            "{label}: se {} too large to mean anything",
            r.stderr
        );
        assert!((exact + shift - bits.log_partition().unwrap()).abs() < 1e-10);
    }
}
