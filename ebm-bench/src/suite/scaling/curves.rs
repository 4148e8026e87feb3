//! The cost curves' targets and what each point runs: sampling throughput
//! against the number of chains, the dimension and the RBM's size, and
//! AIS against the number of temperatures, each at 1 and 2 threads.

use super::measure::{rate, Point, Rate};
use crate::error::{sampler_err, CliResult};
use crate::suite::w2::{ar1_gaussian, start_points};
use ebm_core::energies::{Activation, Gmm, Layer, Mlp, Rbm};
use ebm_core::{setup_rng, Energy, Points};
use ebm_samplers::ais::{ais_rbm, RbmBase, Schedule};
use ebm_samplers::driver::{run_target, RunConfig, Silent, Start};
use ebm_samplers::{Registry, Target};
use rand_distr::{Distribution, Normal};
use serde_json::{json, Value};

/// Settings shared by the curves.
pub struct Scale {
    /// Smaller grids and shorter timers (a smoke run).
    pub quick: bool,
    /// Seconds one timed run must last.
    pub target: f64,
    /// Seed of the targets and starts.
    pub seed: u64,
    /// Thread counts to measure.
    pub threads: Vec<usize>,
}

/// A sampler of a curve: a registry kernel with its settings.
struct Sampler {
    name: &'static str,
    settings: Value,
}

fn sampler(name: &'static str, settings: Value) -> Sampler {
    Sampler { name, settings }
}

/// Chain-steps per second of `s` on `target` with `chains` chains
/// (continuous targets start from N(0, I), binary ones uniformly): no
/// warm-up or adaptation, every step but the last burnt in, nothing
/// stored, so the figure is the kernel's and the driver's cost per step.
fn chain_steps(
    scale: &Scale,
    s: &Sampler,
    target: Target<'_>,
    chains: usize,
    threads: usize,
) -> CliResult<Rate> {
    let kernel = Registry::standard();
    let x0 = match target {
        Target::Continuous(e) => Some(start_points(chains, e.dim(), scale.seed)),
        _ => None,
    };
    let r = rate(scale.target, threads, |n| {
        let mut k = kernel.build(s.name, &s.settings).map_err(sampler_err)?;
        let start = match (&x0, target) {
            (Some(x), Target::Continuous(e)) => Start::Points(Points::from_vec(x.clone(), e.dim())?),
            _ => Start::Uniform { chains },
        };
        let cfg = RunConfig {
            warmup: 0,
            burn_in: n - 1,
            draws: 1,
            thin: 1,
            adapt_step_size: false,
            adapt_mass: false,
            store_draws: false,
            seed: scale.seed,
        };
        run_target(&mut *k, target, start, &cfg, &mut Silent).map_err(sampler_err)?;
        Ok(())
    })?;
    Ok(Rate {
        per_s: r.per_s * chains as f64,
        ..r
    })
}

/// An MLP energy d -> 64 -> 64 -> 1 (SiLU) with weights N(0, 1 / fan-in):
/// a gradient costs about 64 d + 4,200 multiply-adds, twice.
fn mlp(d: usize, seed: u64) -> CliResult<Mlp> {
    let mut r = setup_rng(seed);
    let widths = [d, 64, 64, 1];
    let layers = widths
        .windows(2)
        .map(|w| {
            let normal = Normal::new(0.0, (1.0 / w[0] as f64).sqrt()).expect("finite");
            Layer {
                w: (0..w[0] * w[1]).map(|_| normal.sample(&mut r)).collect(),
                b: vec![0.0; w[1]],
                n_in: w[0],
                n_out: w[1],
            }
        })
        .collect();
    Ok(Mlp::new(Activation::Silu, layers)?)
}

/// A Bernoulli RBM with `nv` visible and `nh` hidden units, weights
/// N(0, 0.05^2) and zero biases (about half the units on).
fn rbm(nv: usize, nh: usize, seed: u64) -> CliResult<Rbm> {
    let mut r = setup_rng(seed);
    let normal = Normal::new(0.0, 0.05).expect("finite");
    let w = (0..nv * nh).map(|_| normal.sample(&mut r)).collect();
    Ok(Rbm::new(nv, nh, w, vec![0.0; nv], vec![0.0; nh])?)
}

fn point(curve: &str, method: &str, x: f64, threads: usize, m: Rate, unit: &str) -> Point {
    Point {
        curve: curve.into(),
        method: method.into(),
        x,
        threads,
        value: m.per_s,
        unit: unit.into(),
        seconds: m.seconds,
        reps: m.n,
        setup_seconds: m.setup,
        peer: false,
    }
}

/// Throughput against the number of chains: ULA on W1's 2-D ring, HMC
/// and NUTS on a 10-D correlated Gaussian, block Gibbs on a 64 x 20 RBM
/// (W3's shape).
pub fn chains_curve(scale: &Scale) -> CliResult<Vec<Point>> {
    let grid: &[usize] = if scale.quick {
        &[1, 100, 1_000]
    } else {
        &[1, 10, 100, 1_000, 10_000, 100_000]
    };
    let ring = Gmm::eight_gaussians();
    let g10 = ar1_gaussian(10)?;
    let r = rbm(64, 20, scale.seed)?;
    let runs: [(&str, Sampler, Target<'_>); 4] = [
        (
            "ula, 2-D ring (W1)",
            sampler("ula", json!({"step_size": 0.01})),
            Target::Continuous(&ring),
        ),
        (
            "hmc L=10, 10-D Gaussian",
            sampler("hmc", json!({"step_size": 0.2, "leapfrog": 10})),
            Target::Continuous(&g10),
        ),
        (
            "nuts, 10-D Gaussian",
            sampler("nuts", json!({"step_size": 0.2, "max_depth": 10})),
            Target::Continuous(&g10),
        ),
        (
            "gibbs, RBM 64x20 (W3)",
            sampler("gibbs", json!({})),
            Target::Binary(&r),
        ),
    ];
    let mut points = Vec::new();
    for (method, s, target) in &runs {
        for &threads in &scale.threads {
            // NUTS keeps about 12 KB of tree buffers per chain (a level of
            // buffers for every depth up to the maximum): 1.2 GB and over
            // a second of page faults at 10^5 chains, so its curve stops
            // at 10^4
            for &chains in grid.iter().filter(|&&c| s.name != "nuts" || c <= 10_000) {
                let m = chain_steps(scale, s, *target, chains, threads)?;
                points.push(point(
                    "chains",
                    method,
                    chains as f64,
                    threads,
                    m,
                    "chain-steps/s",
                ));
            }
        }
    }
    Ok(points)
}

/// Throughput against the dimension, 256 chains: ULA, HMC and NUTS on W2's
/// Gaussian (dense precision), ULA and HMC on an MLP energy.
pub fn dim_curve(scale: &Scale) -> CliResult<Vec<Point>> {
    let grid: &[usize] = if scale.quick {
        &[2, 10, 100]
    } else {
        &[2, 5, 10, 20, 50, 100, 200, 500, 1_000]
    };
    let chains = 256;
    let ula = || sampler("ula", json!({"step_size": 0.01}));
    let hmc = || sampler("hmc", json!({"step_size": 0.1, "leapfrog": 10}));
    let nuts = || sampler("nuts", json!({"step_size": 0.1, "max_depth": 10}));
    let mut points = Vec::new();
    for &d in grid {
        let g = ar1_gaussian(d)?;
        let m = mlp(d, scale.seed)?;
        let runs: [(&str, Sampler, &dyn Energy); 5] = [
            ("ula, Gaussian", ula(), &g),
            ("hmc L=10, Gaussian", hmc(), &g),
            ("nuts, Gaussian", nuts(), &g),
            ("ula, MLP d-64-64-1", ula(), &m),
            ("hmc L=10, MLP d-64-64-1", hmc(), &m),
        ];
        for (method, s, e) in &runs {
            for &threads in &scale.threads {
                let r = chain_steps(scale, s, Target::Continuous(*e), chains, threads)?;
                points.push(point("dim", method, d as f64, threads, r, "chain-steps/s"));
            }
        }
    }
    Ok(points)
}

/// Block-Gibbs sweeps against the RBM's size (V = H units), 1,000 chains.
pub fn rbm_curve(scale: &Scale) -> CliResult<Vec<Point>> {
    let (grid, chains): (&[usize], usize) = if scale.quick {
        (&[16, 64], 100)
    } else {
        (&[16, 32, 64, 128, 256, 512, 1_024], 1_000)
    };
    let gibbs = sampler("gibbs", json!({}));
    let mut points = Vec::new();
    for &n in grid {
        let r = rbm(n, n, scale.seed)?;
        for &threads in &scale.threads {
            let m = chain_steps(scale, &gibbs, Target::Binary(&r), chains, threads)?;
            points.push(point(
                "rbm",
                "gibbs, V = H",
                n as f64,
                threads,
                m,
                "chain-sweeps/s",
            ));
        }
    }
    Ok(points)
}

/// AIS on a 64 x 20 RBM (W3's shape) against the number of temperatures,
/// 1,000 chains: chain-temperatures per second (one sweep each).
pub fn temps_curve(scale: &Scale) -> CliResult<Vec<Point>> {
    let (grid, chains): (&[usize], usize) = if scale.quick {
        (&[10, 100], 100)
    } else {
        (&[10, 100, 1_000, 10_000], 1_000)
    };
    let r = rbm(64, 20, scale.seed)?;
    let mut points = Vec::new();
    for &k in grid {
        let betas = Schedule::Linear.betas(k).map_err(sampler_err)?;
        for &threads in &scale.threads {
            let r = rate(scale.target, threads, |n| {
                for _ in 0..n {
                    ais_rbm(&r, &RbmBase::ModelBiases, &betas, chains, scale.seed).map_err(sampler_err)?;
                }
                Ok(())
            })?;
            let m = Rate {
                per_s: r.per_s * (k * chains) as f64,
                ..r
            };
            points.push(point(
                "temps",
                "ais gibbs, RBM 64x20",
                k as f64,
                threads,
                m,
                "chain-temperatures/s",
            ));
        }
    }
    Ok(points)
}
