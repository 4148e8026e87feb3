//! The machine's measured peaks: what one core and all cores can do of the
//! few things the workloads are made of, each timed on a kernel that does
//! nothing else.
//!
//! * multiply-adds in f64 and f32: twelve independent accumulators of one
//!   vector register each (enough to cover the multiply-add latency of
//!   both units on current x86 cores), flops = 2 per multiply-add;
//! * reads from a working set of a given size (16 KB to 256 MB: L1, L2,
//!   the last-level cache, memory), summed into eight vector accumulators;
//! * 32-bit words from ChaCha8 ([`ebm_core::rng::ChainRng`]), the stream
//!   every chain draws from, sixteen streams at a time by
//!   [`ebm_core::rng::read_lanes`] as the lane kernels and ULA draw them
//!   (the fastest way: a stream's own `fill`, which the other samplers
//!   use, gives about half the words per second);
//! * f64 exponentials by [`ebm_core::fast_exp::exp_weight`], the
//!   vectorised e^-|x| behind the samplers' sigmoids and mixture weights.
//!
//! Every kernel runs inside [`ebm_core::simd::dispatch`] (the instruction
//! set the workloads get), for about `seconds` each, on one thread and
//! then on every core at once (one copy per thread, the rates added).

use ebm_core::rng::{chain_rngs, read_lanes, STREAM_LANES};
use ebm_core::simd::dispatch;
use serde::Serialize;
use std::hint::black_box;
use std::time::Instant;

/// One measured peak: a rate on one thread and on every core.
#[derive(Clone, Debug, Serialize)]
pub struct Peak {
    /// What was measured, e.g. "f64 multiply-add".
    pub name: String,
    /// The unit of the rates, e.g. "GFLOP/s".
    pub unit: String,
    /// The rate of one thread.
    pub one_thread: f64,
    /// The rate of every core at once (the sum over threads).
    pub all_cores: f64,
}

/// The working sets of the read-bandwidth measurements, in bytes, with
/// the level of a current x86 cache hierarchy each is meant to sit in.
pub const READ_SETS: [(usize, &str); 5] = [
    (16 << 10, "L1"),
    (128 << 10, "L2"),
    (512 << 10, "L2"),
    (8 << 20, "last-level cache"),
    (256 << 20, "memory"),
];

/// Every peak, each kernel run for about `seconds` per thread count, the
/// reads from each of `read_sets` (bytes, level; [`READ_SETS`]).
pub fn measure_peaks(seconds: f64, threads: usize, read_sets: &[(usize, &str)]) -> Vec<Peak> {
    let mut peaks: Vec<Peak> = [("f64 multiply-add", false), ("f32 multiply-add", true)]
        .into_iter()
        .map(|(name, f32)| {
            peak(name, "GFLOP/s", seconds, threads, move |n| {
                let start = Instant::now();
                let (_, flops) = black_box(fma(n, f32));
                flops / start.elapsed().as_secs_f64() / 1e9
            })
        })
        .collect();
    for &(bytes, level) in read_sets {
        let name = format!("reads, {} working set ({level})", size_words(bytes));
        peaks.push(peak(&name, "GB/s", seconds, threads, move |n| {
            let data = vec![1.0f64; bytes / 8];
            black_box(read_sum(&data, 1));
            let t = time(|| black_box(read_sum(&data, n)));
            (n * bytes) as f64 / t / 1e9
        }));
    }
    peaks.push(peak("ChaCha8 32-bit words", "G words/s", seconds, threads, |n| {
        let mut rngs = chain_rngs(n as u64, STREAM_LANES);
        let mut buf = [[0u32; STREAM_LANES]; 64];
        let t = time(|| {
            for _ in 0..n {
                read_lanes(&mut rngs, &mut buf);
                black_box(&buf);
            }
        });
        (n * buf.len() * STREAM_LANES) as f64 / t / 1e9
    }));
    peaks.push(peak(
        "f64 exponentials (exp_weight)",
        "G exp/s",
        seconds,
        threads,
        |n| {
            let xs: Vec<f64> = (0..4096).map(|i| -(i as f64) * 1e-3).collect();
            let mut ys = vec![0.0f64; xs.len()];
            let t = time(|| {
                for _ in 0..n {
                    exp_pass(black_box(&xs), &mut ys);
                    black_box(&ys);
                }
            });
            (n * xs.len()) as f64 / t / 1e9
        },
    ));
    peaks
}

/// A peak from `rate(n)` (the rate of `n` repetitions of a kernel on the
/// calling thread): `n` grown until a run lasts `seconds`, the best of
/// three runs on one thread, then the same `n` on `threads` threads at
/// once (each rate, the sum).
fn peak(name: &str, unit: &str, seconds: f64, threads: usize, rate: impl Fn(usize) -> f64 + Sync) -> Peak {
    let n = repetitions(seconds, &rate);
    let one_thread = (0..3).map(|_| rate(n)).fold(0.0, f64::max);
    let all_cores = (0..3)
        .map(|_| {
            std::thread::scope(|s| {
                let runs: Vec<_> = (0..threads).map(|_| s.spawn(|| rate(n))).collect();
                runs.into_iter().map(|r| r.join().unwrap_or(0.0)).sum::<f64>()
            })
        })
        .fold(0.0, f64::max);
    Peak {
        name: name.into(),
        unit: unit.into(),
        one_thread,
        all_cores,
    }
}

/// Repetitions of the kernel behind `rate` that take about `seconds`.
fn repetitions(seconds: f64, rate: &impl Fn(usize) -> f64) -> usize {
    let mut n = 1usize;
    loop {
        let start = Instant::now();
        rate(n);
        let t = start.elapsed().as_secs_f64();
        if t >= seconds / 4.0 || n >= 1 << 40 {
            return (n as f64 * (seconds / t.max(1e-9)).min(16.0)).ceil() as usize;
        }
        n *= 4;
    }
}

/// Wall seconds of `f`.
fn time<R>(f: impl FnOnce() -> R) -> f64 {
    let start = Instant::now();
    black_box(f());
    start.elapsed().as_secs_f64()
}

/// Independent vector accumulators of the multiply-add kernels.
const ACCUMULATORS: usize = 12;

/// `n` rounds of [`ACCUMULATORS`] independent vector multiply-adds, in f64
/// or f32 (explicit vectors through pulp, the dispatcher behind
/// [`dispatch`]: a loop over lanes of `f32::mul_add` is not vectorised).
struct Fma {
    n: usize,
    f32: bool,
}

impl pulp::WithSimd for Fma {
    type Output = (f64, usize);

    /// The sum of the accumulators and the lanes of one vector.
    #[inline(always)]
    fn with_simd<S: pulp::Simd>(self, simd: S) -> (f64, usize) {
        if self.f32 {
            let a = simd.splat_f32s(black_box(0.999_99));
            let b = simd.splat_f32s(black_box(1e-7));
            let mut acc = [simd.splat_f32s(1.0); ACCUMULATORS];
            for _ in 0..self.n {
                for v in acc.iter_mut() {
                    *v = simd.mul_add_f32s(*v, a, b);
                }
            }
            let sum: f32 = acc.iter().map(|&v| simd.reduce_sum_f32s(v)).sum();
            (sum as f64, size_of::<S::f32s>() / 4)
        } else {
            let a = simd.splat_f64s(black_box(0.999_999_9));
            let b = simd.splat_f64s(black_box(1e-9));
            let mut acc = [simd.splat_f64s(1.0); ACCUMULATORS];
            for _ in 0..self.n {
                for v in acc.iter_mut() {
                    *v = simd.mul_add_f64s(*v, a, b);
                }
            }
            let sum: f64 = acc.iter().map(|&v| simd.reduce_sum_f64s(v)).sum();
            (sum, size_of::<S::f64s>() / 8)
        }
    }
}

/// `n` rounds of the multiply-add kernel: its result and its flops.
fn fma(n: usize, f32: bool) -> (f64, f64) {
    let (sum, lanes) = pulp::Arch::new().dispatch(Fma { n, f32 });
    (sum, (n * ACCUMULATORS * lanes * 2) as f64)
}

/// The sum of `data`, read `passes` times, in eight vector accumulators
/// (explicit vectors, as [`Fma`]).
struct ReadSum<'a> {
    data: &'a [f64],
    passes: usize,
}

impl pulp::WithSimd for ReadSum<'_> {
    type Output = f64;

    #[inline(always)]
    fn with_simd<S: pulp::Simd>(self, simd: S) -> f64 {
        let (vectors, tail) = S::as_simd_f64s(self.data);
        let mut acc = [simd.splat_f64s(0.0); 8];
        let mut rest = 0.0;
        for _ in 0..self.passes {
            let blocks = black_box(vectors).chunks_exact(8);
            let last = blocks.remainder();
            for block in blocks {
                for k in 0..8 {
                    acc[k] = simd.add_f64s(acc[k], block[k]);
                }
            }
            for (a, &v) in acc.iter_mut().zip(last) {
                *a = simd.add_f64s(*a, v);
            }
            rest += tail.iter().sum::<f64>();
        }
        acc.iter().map(|&v| simd.reduce_sum_f64s(v)).sum::<f64>() + rest
    }
}

/// The sum of `data`, read `passes` times.
fn read_sum(data: &[f64], passes: usize) -> f64 {
    pulp::Arch::new().dispatch(ReadSum { data, passes })
}

/// ys = e^-|xs| element by element.
fn exp_pass(xs: &[f64], ys: &mut [f64]) {
    dispatch(
        #[inline(always)]
        || {
            for (y, &x) in ys.iter_mut().zip(xs) {
                *y = ebm_core::fast_exp::exp_weight(x);
            }
        },
    )
}

/// "16 KB", "8 MB".
fn size_words(bytes: usize) -> String {
    if bytes >= 1 << 20 {
        format!("{} MB", bytes >> 20)
    } else {
        format!("{} KB", bytes >> 10)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kernels_compute_what_they_time() {
        // the kernels' results are used (not optimised away) and right
        let n = 3;
        let expect = (0..n).fold(1.0f64, |v, _| v.mul_add(0.999_999_9, 1e-9));
        let (sum, flops) = fma(n, false);
        let values = flops / (2 * n) as f64;
        assert_eq!(values as usize % ACCUMULATORS, 0);
        assert!((sum - expect * values).abs() < 1e-12 * values);
        let (sum, flops) = fma(n, true);
        let values = flops / (2 * n) as f64;
        assert!((sum - values).abs() < 1e-3 * values);
        let data: Vec<f64> = (0..1024).map(|i| i as f64).collect();
        assert_eq!(read_sum(&data, 2), 2.0 * 1023.0 * 1024.0 / 2.0);
        let mut ys = [0.0; 2];
        exp_pass(&[0.0, -1.0], &mut ys);
        assert_eq!(ys[0], 1.0);
        assert!((ys[1] - (-1.0f64).exp()).abs() < 1e-15);
    }

    #[test]
    fn peaks_are_finite_and_positive() {
        for p in measure_peaks(1e-3, 2, &READ_SETS[..2]) {
            assert!(p.one_thread > 0.0 && p.one_thread.is_finite(), "{p:?}");
            assert!(p.all_cores > 0.0 && p.all_cores.is_finite(), "{p:?}");
        }
    }
}
