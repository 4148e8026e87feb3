//! Categorical models (Potts, a coupling matrix per edge): site Gibbs and
//! Gibbs-with-gradients against exact marginals, AIS and SMC against
//! enumeration, the same bits for any number of threads.

use crate::common;

use common::in_pool;
use ebm_core::categorical::CategoricalEnergy;
use ebm_core::energies::{CategoricalPairwise, EdgeMatrix};
use ebm_core::setup_rng;
use ebm_samplers::ais::smc::{smc, SmcConfig};
use ebm_samplers::ais::{ais_discrete, no_progress, Schedule};
use ebm_samplers::driver::run_categorical;
use ebm_samplers::gibbs::Gibbs;
use ebm_samplers::gwg::Gwg;
use ebm_samplers::tempering::Reference;
use ebm_samplers::{Kernel, Target};
use rand::Rng;

/// A model that hides its pairwise structure: GwG takes the full
/// recomputation of every estimate.
struct Opaque<'a>(&'a dyn CategoricalEnergy);

impl CategoricalEnergy for Opaque<'_> {
    fn dim(&self) -> usize {
        self.0.dim()
    }
    fn states(&self, i: usize) -> usize {
        self.0.states(i)
    }
    fn energy(&self, x: &[f64]) -> f64 {
        self.0.energy(x)
    }
    fn set_delta(&self, x: &[f64], i: usize, a: usize) -> f64 {
        self.0.set_delta(x, i, a)
    }
    fn site_deltas(&self, x: &[f64], i: usize, out: &mut [f64]) {
        self.0.site_deltas(x, i, out)
    }
}

/// Seven sites with 2 to 4 states on a ring with two chords, random
/// coupling matrices (entries in [-1, 1]) and fields.
fn mixed(seed: u64) -> CategoricalPairwise {
    let q = vec![3, 2, 4, 3, 2, 4, 3];
    let n = q.len();
    let mut r = setup_rng(seed);
    let mut matrix = |a: usize, b: usize| -> Vec<Vec<f64>> {
        (0..a)
            .map(|_| (0..b).map(|_| r.random::<f64>() * 2.0 - 1.0).collect())
            .collect()
    };
    let mut edges: Vec<EdgeMatrix> = (0..n)
        .map(|i| (i, (i + 1) % n, matrix(q[i], q[(i + 1) % n])))
        .collect();
    edges.push((0, 3, matrix(q[0], q[3])));
    edges.push((5, 2, matrix(q[5], q[2])));
    let fields: Vec<Vec<f64>> = q
        .iter()
        .map(|&k| (0..k).map(|_| r.random::<f64>() - 0.5).collect())
        .collect();
    CategoricalPairwise::new(q, &edges, Some(&fields)).unwrap()
}

/// Exact P(x_i = a) for every site and state, by enumeration.
fn exact_marginals(m: &CategoricalPairwise) -> Vec<Vec<f64>> {
    let q = m.q().to_vec();
    let log_z = m.log_partition().unwrap();
    let mut p: Vec<Vec<f64>> = q.iter().map(|&k| vec![0.0; k]).collect();
    let total: usize = q.iter().product();
    for k in 0..total {
        let mut rest = k;
        let x: Vec<f64> = q
            .iter()
            .map(|&qi| {
                let v = rest % qi;
                rest /= qi;
                v as f64
            })
            .collect();
        let w = (-m.energy(&x) - log_z).exp();
        for (i, &xi) in x.iter().enumerate() {
            p[i][xi as usize] += w;
        }
    }
    p
}

fn same_bits(a: &[f64], b: &[f64]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.to_bits() == y.to_bits())
}

/// Site Gibbs and Gibbs-with-gradients (7 proposals a step) reproduce
/// every site's state probabilities on a mixed model (2-4 states, random
/// matrices) and on a Potts model. Standard errors from the spread of the
/// 256 independent chains' averages; every figure within 4.5 of them
/// (about 45 figures per model and kernel).
#[test]
fn gibbs_and_gwg_reproduce_exact_state_probabilities() {
    let potts = CategoricalPairwise::potts(
        6,
        3,
        &[
            (0, 1, 0.9),
            (1, 2, -0.6),
            (2, 3, 0.8),
            (3, 4, 1.2),
            (4, 5, -0.4),
            (5, 0, 0.7),
            (1, 4, 0.5),
        ],
        Some(&[
            vec![0.3, 0.0, -0.2],
            vec![0.0; 3],
            vec![0.0; 3],
            vec![-0.4, 0.1, 0.0],
            vec![0.0; 3],
            vec![0.0; 3],
        ]),
    )
    .unwrap();
    for (label, m) in [("mixed", mixed(4)), ("potts", potts)] {
        let exact = exact_marginals(&m);
        let n = m.n();
        let kernels: [(&str, Box<dyn Kernel>); 2] = [
            ("gibbs", Box::new(Gibbs::site())),
            ("gwg", Box::new(Gwg::new(n).unwrap())),
        ];
        for (name, mut kernel) in kernels {
            let (chains, draws) = (256, 300);
            let out = run_categorical(&mut kernel, &m, chains, 50, draws, 1, 13).unwrap();
            if name == "gwg" {
                let acc = out.acceptance.iter().sum::<f64>() / chains as f64;
                assert!(acc > 0.3 && acc < 1.0, "{label} gwg acceptance {acc}");
            }
            for (i, probs) in exact.iter().enumerate() {
                for (a, &p) in probs.iter().enumerate() {
                    let per_chain: Vec<f64> = (0..chains)
                        .map(|c| {
                            (0..draws)
                                .filter(|&t| out.draws[(t * chains + c) * n + i] == a as f64)
                                .count() as f64
                                / draws as f64
                        })
                        .collect();
                    let avg = per_chain.iter().sum::<f64>() / chains as f64;
                    let var = per_chain.iter().map(|v| (v - avg).powi(2)).sum::<f64>() / (chains - 1) as f64;
                    let se = (var / chains as f64).sqrt();
                    assert!(
                        (avg - p).abs() < 4.5 * se,
                        "{label} {name}: P(x_{i} = {a}) {avg} vs {p} (se {se})"
                    );
                }
            }
        }
    }
}

#[test]
fn kernels_give_the_same_bits_for_any_thread_count() {
    let m = mixed(9);
    let make: [fn() -> Box<dyn Kernel>; 2] = [|| Box::new(Gibbs::site()), || Box::new(Gwg::new(3).unwrap())];
    for kernel in make {
        let run = |threads| {
            in_pool(threads, || {
                run_categorical(&mut kernel(), &m, 45, 3, 20, 1, 4).unwrap()
            })
        };
        let (one, two) = (run(1), run(2));
        assert!(same_bits(&one.draws, &two.draws));
    }
    // GwG's update of a changed site's neighbourhood gives the bits of the
    // full recomputation
    let fast = run_categorical(&mut Gwg::new(3).unwrap(), &m, 45, 3, 20, 1, 4).unwrap();
    let slow = run_categorical(&mut Gwg::new(3).unwrap(), &Opaque(&m), 45, 3, 20, 1, 4).unwrap();
    assert!(same_bits(&fast.draws, &slow.draws));
}

/// AIS with Gibbs and with GwG transitions, and SMC, on a 10-site Potts
/// ring (q = 4, 4^10 states) against log Z by enumeration: AIS within 3
/// of its standard errors (300 chains), SMC within 4.8 (its standard error
/// comes from the spread of 10 runs, so the error over it is a t with 9
/// degrees of freedom: 4.78 is its two-sided 0.001 quantile).
#[test]
fn ais_and_smc_on_a_potts_ring_match_enumeration() {
    let couplings: Vec<(usize, usize, f64)> = (0..10).map(|i| (i, (i + 1) % 10, 1.1)).collect();
    let m = CategoricalPairwise::potts(10, 4, &couplings, None).unwrap();
    let exact = m.log_partition().unwrap();
    let betas = Schedule::Linear.betas(300).unwrap();
    for kernel in [
        Box::new(Gibbs::site()) as Box<dyn Kernel>,
        Box::new(Gwg::new(10).unwrap()),
    ] {
        let r = ais_discrete(Target::Categorical(&m), &kernel, &betas, 300, 1, 5, &no_progress).unwrap();
        let err = r.log_z - exact;
        assert!(
            err.abs() < 3.0 * r.stderr && r.stderr < 0.05,
            "{}: {err} (se {})",
            kernel.name(),
            r.stderr
        );
    }
    let cfg = SmcConfig {
        particles: 300,
        seed: 3,
        ..Default::default()
    };
    let make = || Ok(Box::new(Gibbs::site()) as Box<dyn Kernel>);
    let r = smc(&make, Target::Categorical(&m), Reference::Uniform, &cfg).unwrap();
    let err = r.log_z - exact;
    assert!(
        err.abs() < 4.8 * r.stderr && r.stderr < 0.1,
        "smc: {err} (se {})",
        r.stderr
    );
}
