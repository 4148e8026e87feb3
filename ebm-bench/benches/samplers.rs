//! Sampler hot paths on the benchmark workloads (criterion).
//!
//! * `w1_ula/step/10000`: one ULA step of 10,000 chains on the 8-Gaussian
//!   ring (eps 0.01); throughput in chain-steps.
//! * `w1_mala/step/10000`: one MALA step (eps 0.05) of the same chains.
//! * `w1_kinetic/step/10000`: one kinetic Langevin step (BAOAB, h 0.1,
//!   friction 1) of the same chains.
//! * `w2_hmc/iteration/64`: one HMC iteration (10 leapfrog steps of 0.1) of
//!   64 chains on the 100-D AR(1) Gaussian; throughput in gradient
//!   evaluations.
//! * `w3_gibbs/sweep/1000`: one block-Gibbs sweep (h|v, v|h) of 1,000 chains
//!   of the 64x20 RBM; throughput in sweeps.
//! * `w3_ais/run/1000temps_100chains`: a full AIS run (1,000 temperatures,
//!   100 chains); throughput in sweeps.
//! * `streams/fill/4096` and `streams/rand_chacha_fill/4096`: 4,096
//!   32-bit words from a chain's stream ([`ebm_core::ChainRng`], our
//!   ChaCha8) and from rand_chacha's `ChaCha8Rng` with the same seed and
//!   stream (the same words); throughput in words.
//! * `streams/read_lanes/4096`: 256 words from each of sixteen streams in
//!   step, read in lanes ([`ebm_core::rng::read_lanes`], the blocks
//!   computed vertically); throughput in words.
//! * `diagnostics/of_series/1000chains_2000draws_2d`: every diagnostic
//!   `ebm sample` reports (ESS for the mean, bulk and tail, split and
//!   rank-normalised R-hat, MCSE) of 1,000 AR(1) chains (phi 0.9) of
//!   2,000 draws in 2 dimensions, kept as series; throughput in values.
//! * `diagnostics/of_series_slow/1000chains_2000draws_2d`: the same with
//!   phi 0.995, whose autocorrelations outlast the direct lags, so that
//!   every ESS takes the FFT path.
#![allow(missing_docs)] // criterion_group! generates undocumented items

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use ebm_core::energies::{Gaussian, Gmm, Rbm};
use ebm_core::{chain_rngs, setup_rng, Points};
use ebm_samplers::ais::{ais_rbm, RbmBase, Schedule};
use ebm_samplers::diagnostics::ChainSeries;
use ebm_samplers::driver::Diagnostics;
use ebm_samplers::gibbs::Gibbs;
use ebm_samplers::{Chains, Hmc, Kernel, KineticLangevin, Mala, Target, Ula};
use rand::Rng;
use rand_distr::{Distribution, StandardNormal};

fn normal_points(n: usize, d: usize, sd: f64) -> Points {
    let mut r = setup_rng(0);
    let v = (0..n * d)
        .map(|_| sd * <StandardNormal as Distribution<f64>>::sample(&StandardNormal, &mut r))
        .collect();
    Points::from_vec(v, d).unwrap()
}

fn w3_rbm() -> Rbm {
    let mut r = setup_rng(3);
    let mut n = || -> f64 { StandardNormal.sample(&mut r) };
    let w = (0..64 * 20).map(|_| 0.5 * n()).collect();
    let b = (0..64).map(|_| 0.1 * n()).collect();
    let c = (0..20).map(|_| 0.1 * n()).collect();
    Rbm::new(64, 20, w, b, c).unwrap()
}

fn bench(c: &mut Criterion) {
    let gmm = Gmm::eight_gaussians();
    let mut g = c.benchmark_group("w1_ula");
    let n = 10_000;
    let mut chains = Chains::new(&gmm, normal_points(n, 2, 4.0)).unwrap();
    let mut rngs = chain_rngs(0, n);
    let ula = Ula::new(0.01).unwrap();
    g.throughput(Throughput::Elements(n as u64));
    g.bench_function(BenchmarkId::new("step", n), |b| {
        b.iter(|| ula.step(&gmm, &mut chains, &mut rngs))
    });
    g.finish();

    let mut g = c.benchmark_group("w1_mala");
    let mut chains = Chains::new(&gmm, normal_points(n, 2, 4.0)).unwrap();
    let mala = Mala::new(0.05).unwrap();
    g.throughput(Throughput::Elements(n as u64));
    g.bench_function(BenchmarkId::new("step", n), |b| {
        b.iter(|| mala.step(&gmm, &mut chains, &mut rngs))
    });
    g.finish();

    let mut g = c.benchmark_group("w1_kinetic");
    let mut chains = Chains::new(&gmm, normal_points(n, 2, 4.0)).unwrap();
    let kinetic = KineticLangevin::new(0.1, 1.0).unwrap();
    g.throughput(Throughput::Elements(n as u64));
    g.bench_function(BenchmarkId::new("step", n), |b| {
        b.iter(|| kinetic.step(&gmm, &mut chains, &mut rngs))
    });
    g.finish();

    let d: usize = 100;
    let cov: Vec<f64> = (0..d * d)
        .map(|k| 0.9f64.powi((k / d).abs_diff(k % d) as i32))
        .collect();
    let gauss = Gaussian::from_covariance(vec![0.0; d], &cov).unwrap();
    let mut g = c.benchmark_group("w2_hmc");
    let n = 64;
    let mut chains = Chains::new(&gauss, normal_points(n, d, 1.0)).unwrap();
    let mut rngs = chain_rngs(0, n);
    let hmc = Hmc::new(0.1, 10).unwrap();
    g.throughput(Throughput::Elements((n * 10) as u64));
    g.bench_function(BenchmarkId::new("iteration", n), |b| {
        b.iter(|| hmc.step(&gauss, &mut chains, &mut rngs))
    });
    g.finish();

    let rbm = w3_rbm();
    let mut g = c.benchmark_group("w3_gibbs");
    let n = 1000;
    let mut r = setup_rng(1);
    let v: Vec<f64> = (0..n * 64).map(|_| r.random::<bool>() as u8 as f64).collect();
    let mut chains = Chains::binary(&rbm, Points::from_vec(v, 64).unwrap()).unwrap();
    let mut rngs = chain_rngs(0, n);
    let gibbs = Gibbs::block();
    g.throughput(Throughput::Elements(n as u64));
    g.bench_function(BenchmarkId::new("sweep", n), |b| {
        b.iter(|| chains.run_kernel(&gibbs, Target::Binary(&rbm), &mut rngs, 1, None))
    });
    g.finish();

    let mut g = c.benchmark_group("w3_ais");
    g.sample_size(10);
    let betas = Schedule::Linear.betas(1000).unwrap();
    g.throughput(Throughput::Elements(100 * 998));
    g.bench_function("run/1000temps_100chains", |b| {
        b.iter(|| ais_rbm(&rbm, &RbmBase::ModelBiases, &betas, 100, 0).unwrap())
    });
    g.finish();

    let mut g = c.benchmark_group("streams");
    let mut words = vec![0u32; 4096];
    g.throughput(Throughput::Elements(words.len() as u64));
    let mut ours = ebm_core::chain_rng(0, 0);
    g.bench_function(BenchmarkId::new("fill", words.len()), |b| {
        b.iter(|| ours.fill(&mut words[..]))
    });
    let mut theirs = <rand_chacha::ChaCha8Rng as rand::SeedableRng>::seed_from_u64(0);
    theirs.set_stream(1);
    g.bench_function(BenchmarkId::new("rand_chacha_fill", words.len()), |b| {
        b.iter(|| theirs.fill(&mut words[..]))
    });
    let mut group = chain_rngs(0, ebm_core::rng::STREAM_LANES);
    let mut lanes = [[0u32; ebm_core::rng::STREAM_LANES]; 256];
    g.bench_function(BenchmarkId::new("read_lanes", words.len()), |b| {
        b.iter(|| ebm_core::rng::read_lanes(&mut group, &mut lanes))
    });
    g.finish();

    let mut g = c.benchmark_group("diagnostics");
    g.sample_size(10);
    let (chains, draws, d) = (1000, 2000, 2);
    for (name, phi) in [("of_series", 0.9f64), ("of_series_slow", 0.995)] {
        let mut r = setup_rng(5);
        let mut x = vec![0.0; chains * d];
        let mut series = ChainSeries::new(draws, chains, d);
        for _ in 0..draws {
            for v in &mut x {
                let z: f64 = StandardNormal.sample(&mut r);
                *v = phi * *v + (1.0 - phi * phi).sqrt() * z;
            }
            series.push_draw(&x);
        }
        g.throughput(Throughput::Elements((chains * draws * d) as u64));
        g.bench_function(format!("{name}/1000chains_2000draws_2d"), |b| {
            b.iter(|| Diagnostics::of_series(&mut series))
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
