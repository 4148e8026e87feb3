//! Batched energy gradients of the benchmark targets (criterion).
//!
//! * `w1_gmm8/energy_grad_batch/10000`: the W1 ring of 8 Gaussians,
//!   energies and gradients of 10,000 points.
//! * `w1_gmm8/grad_batch/10000`: the same points' gradients alone (the
//!   mixture skips its logarithm; what ULA and kinetic Langevin ask for
//!   before the last step of a run).
//! * `w2_gauss100/grad_batch/64`: the W2 100-D Gaussian with covariance
//!   0.9^|i-j|, 64 points, one faer matrix product.
//! * `w2_gauss100/grad_batch_f32/64`: the same with the product in f32
//!   (`Gaussian::with_f32_arithmetic`).
//! * `w2_gauss100/banded_grad_batch/64`: the same distribution given by its
//!   tridiagonal precision (`BandedGaussian::ar1`), 5 flops per coordinate.
//! * `products/{faer,tiles}/32x100x100`: W2's per-thread product (a chunk
//!   of 32 chains times the precision) through faer and through
//!   `ebm_core::matmul` (the same bits).
//!
//! Throughput is reported in points per second. Data is built outside the
//! timed closure from a fixed seed.

#![allow(missing_docs)] // criterion_group! generates undocumented items

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use ebm_core::energies::{BandedGaussian, Gaussian, Gmm};
use ebm_core::{setup_rng, Energy};
use rand::Rng;
use std::hint::black_box;

fn random_points(n: usize, d: usize, scale: f64) -> Vec<f64> {
    let mut r = setup_rng(0);
    (0..n * d)
        .map(|_| scale * (r.random::<f64>() * 2.0 - 1.0))
        .collect()
}

/// C = A B through faer, all row-major, (m, k, n) the shapes.
fn faer_product(c: &mut [f64], a: &[f64], b: &[f64], (m, k, n): (usize, usize, usize)) {
    faer::linalg::matmul::matmul(
        faer::MatMut::from_row_major_slice_mut(c, m, n),
        faer::Accum::Replace,
        faer::MatRef::from_row_major_slice(a, m, k),
        faer::MatRef::from_row_major_slice(b, k, n),
        1.0,
        faer::Par::Seq,
    )
}

fn w2_gaussian() -> Gaussian {
    let d: usize = 100;
    let cov: Vec<f64> = (0..d * d)
        .map(|k| 0.9f64.powi((k / d).abs_diff(k % d) as i32))
        .collect();
    Gaussian::from_covariance(vec![0.0; d], &cov).expect("AR(1) covariance is positive definite")
}

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("w1_gmm8");
    let gmm = Gmm::eight_gaussians();
    let n = 10_000;
    let xs = random_points(n, 2, 6.0);
    let mut grads = vec![0.0; n * 2];
    let mut e = vec![0.0; n];
    g.throughput(Throughput::Elements(n as u64));
    g.bench_with_input(BenchmarkId::new("energy_grad_batch", n), &xs, |b, xs| {
        b.iter(|| gmm.energy_grad_batch(black_box(xs), &mut grads, &mut e))
    });
    g.bench_with_input(BenchmarkId::new("grad_batch", n), &xs, |b, xs| {
        b.iter(|| gmm.grad_batch(black_box(xs), &mut grads, &mut e))
    });
    g.finish();

    let mut g = c.benchmark_group("w2_gauss100");
    let gauss = w2_gaussian();
    let n = 64;
    let xs = random_points(n, 100, 2.0);
    let mut grads = vec![0.0; n * 100];
    let mut e = vec![0.0; n];
    g.throughput(Throughput::Elements(n as u64));
    g.bench_with_input(BenchmarkId::new("grad_batch", n), &xs, |b, xs| {
        b.iter(|| gauss.energy_grad_batch(black_box(xs), &mut grads, &mut e))
    });
    let gauss32 = gauss.clone().with_f32_arithmetic();
    g.bench_with_input(BenchmarkId::new("grad_batch_f32", n), &xs, |b, xs| {
        b.iter(|| gauss32.energy_grad_batch(black_box(xs), &mut grads, &mut e))
    });
    let banded = BandedGaussian::ar1(vec![0.0; 100], 0.9, 1.0).expect("|rho| < 1");
    g.bench_with_input(BenchmarkId::new("banded_grad_batch", n), &xs, |b, xs| {
        b.iter(|| banded.energy_grad_batch(black_box(xs), &mut grads, &mut e))
    });
    // The looped single-point path, for the ratio the matrix product buys.
    g.bench_with_input(BenchmarkId::new("grad_looped", n), &xs, |b, xs| {
        b.iter(|| {
            for (x, gr) in black_box(xs).chunks_exact(100).zip(grads.chunks_exact_mut(100)) {
                black_box(gauss.energy_grad(x, gr));
            }
        })
    });
    g.finish();

    let mut g = c.benchmark_group("products");
    let (m, k, n) = (32, 100, 100);
    let a = random_points(m, k, 2.0);
    let p = random_points(k, n, 1.0);
    let packed = ebm_core::matmul::PaddedRhs::new(&p, k, n);
    let mut out = vec![0.0; m * n];
    g.throughput(Throughput::Elements((2 * m * k * n) as u64));
    g.bench_function(format!("faer/{m}x{k}x{n}"), |b| {
        b.iter(|| faer_product(&mut out, black_box(&a), &p, (m, k, n)))
    });
    g.bench_function(format!("tiles/{m}x{k}x{n}"), |b| {
        b.iter(|| ebm_core::matmul::matmul(black_box(&a), m, &packed, &mut out))
    });
    // a square product the size of W5's 128-wide layer's slices
    let w = 128;
    let (a, bw) = (random_points(w, w, 1.0), random_points(w, w, 1.0));
    let packed = ebm_core::matmul::PaddedRhs::new(&bw, w, w);
    let mut out = vec![0.0; w * w];
    g.throughput(Throughput::Elements((2 * w * w * w) as u64));
    g.bench_function("faer/128x128x128", |b| {
        b.iter(|| faer_product(&mut out, black_box(&a), &bw, (w, w, w)))
    });
    g.bench_function("tiles/128x128x128", |b| {
        b.iter(|| ebm_core::matmul::matmul(black_box(&a), w, &packed, &mut out))
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
