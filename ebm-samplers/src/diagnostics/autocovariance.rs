//! Autocovariances of chains: one chain's by FFT, and the mean over
//! chains lag by lag as Geyer's sequence in [`super::ess`] asks for them
//! (by FFT past the first lags).

use rayon::prelude::*;
use std::borrow::Cow;

/// Autocovariances acov(t) = 1/n sum_i (x_i - m)(x_{i+t} - m), t = 0..n-1,
/// by FFT ([`super::fft`]).
pub fn autocovariance(x: &[f64]) -> Vec<f64> {
    let m = x.iter().sum::<f64>() / x.len() as f64;
    let centred: Vec<f64> = x.iter().map(|v| v - m).collect();
    super::fft::mean_autocovariance(&[centred])
}

/// Lags summed directly before [`MeanAutocovariance`] turns to the FFT.
pub(super) const DIRECT_LAGS: usize = 96;

/// Lags [`MeanAutocovariance`] sums in one pass over the chains: a chain
/// is read from memory once for them all (a lag at a time, a long run's
/// chains streamed from memory once per lag, and the sums waited on
/// memory). Computing up to LAG_BLOCK - 1 lags the sequence may never
/// ask for costs less than one more pass.
const LAG_BLOCK: usize = 8;

/// Lags whose sums [`lag_dots`] runs together, sharing each load of the
/// leading chunk: four lags' eight running sums fill eight AVX2 registers
/// (four AVX-512 ones), and the lags' add chains run side by side instead
/// of one waiting on its own latency.
const FUSED: usize = 4;

/// The autocovariance averaged over chains, (1/m) sum_c acov_c(t), lag by
/// lag as Geyer's sequence asks for it.
///
/// The sequence usually stops after a few lags (a few dozen for slowly
/// mixing chains), so the first [`DIRECT_LAGS`] lags are direct sums over
/// the centred chains (m n multiply-adds a lag), [`LAG_BLOCK`] lags per
/// pass with the chains in parallel (each chain's sums kept and added in
/// chain order: the same bits on any number of threads); a lag beyond
/// them has every lag recomputed by FFT ([`super::fft`], O(m n log n),
/// the chains' power spectra summed before one inverse transform), and so
/// does a lag past the first block when that block predicts a sequence
/// far longer than the direct lags (`predicts_long_sequence`).
pub(super) struct MeanAutocovariance<'a> {
    /// The centred chains x_ci - mean_c: a copy, or the chains themselves
    /// centred in place.
    centred: Vec<Cow<'a, [f64]>>,
    /// Lags computed so far.
    lags: Vec<f64>,
    /// Every lag, once the FFT has been used.
    fft: bool,
}

impl<'a> MeanAutocovariance<'a> {
    /// For `chains` of equal lengths n >= 1 with their `means`, centred
    /// in a copy.
    pub(super) fn new<C: AsRef<[f64]>>(chains: &[C], means: &[f64]) -> Self {
        let centred = chains
            .iter()
            .zip(means)
            .map(|(c, mean)| Cow::Owned(c.as_ref().iter().map(|v| v - mean).collect()))
            .collect();
        Self::of_centred(centred)
    }

    /// For `chains` of equal lengths n >= 1 with their `means`, centred
    /// in place.
    pub(super) fn centring(chains: &'a mut [&mut [f64]], means: &[f64]) -> Self {
        let centred = chains
            .iter_mut()
            .zip(means)
            .map(|(c, mean)| {
                c.iter_mut().for_each(|v| *v -= mean);
                Cow::Borrowed(&**c)
            })
            .collect();
        Self::of_centred(centred)
    }

    fn of_centred(centred: Vec<Cow<'a, [f64]>>) -> Self {
        Self {
            centred,
            lags: Vec::new(),
            fft: false,
        }
    }

    /// The chains' length n.
    pub(super) fn len(&self) -> usize {
        self.centred.first().map_or(0, |c| c.len())
    }

    /// (1/m) sum_c (1/n) sum_i (x_ci - mean_c)(x_c,i+t - mean_c), t < n.
    pub(super) fn at(&mut self, t: usize) -> f64 {
        while self.lags.len() <= t && !self.fft {
            let first = self.lags.len();
            if first == DIRECT_LAGS || (first == LAG_BLOCK && self.predicts_long_sequence()) {
                self.all_by_fft();
                break;
            }
            let (m, n) = (self.centred.len(), self.centred[0].len());
            let count = LAG_BLOCK.min(DIRECT_LAGS - first).min(n - first);
            let per_chain: Vec<[f64; LAG_BLOCK]> = self
                .centred
                .par_iter()
                .with_min_len((1 << 14) / n + 1)
                .map(|c| {
                    let mut dots = [0.0; LAG_BLOCK];
                    ebm_core::simd::dispatch(
                        #[inline(always)]
                        || lag_dots(c, first, &mut dots[..count]),
                    );
                    dots
                })
                .collect();
            for l in 0..count {
                let sum: f64 = per_chain.iter().map(|dots| dots[l] / n as f64).sum();
                self.lags.push(sum / m as f64);
            }
        }
        self.lags[t]
    }

    /// Whether the first block of lags says that Geyer's sequence will run
    /// well past the direct lags, so that summing them would be spent for
    /// nothing: with phi = rho(7)^(1/7) (the decay of an AR(1) chain of
    /// that lag-7 autocorrelation), the sequence ends about where phi^t
    /// falls to the noise of the estimated autocorrelations, sqrt(tau /
    /// (m n)) with tau = (1 + phi) / (1 - phi); the FFT is taken at once
    /// when that lag is past twice [`DIRECT_LAGS`]. The lags are the same
    /// to about 1e-15 either way; only which of the two sums a sequence
    /// ending before DIRECT_LAGS uses could differ, and then in the last
    /// bits.
    fn predicts_long_sequence(&self) -> bool {
        let (m, n) = (self.centred.len() as f64, self.len() as f64);
        let rho = self.lags[LAG_BLOCK - 1] / self.lags[0];
        if !(rho > 0.0 && rho < 1.0) {
            return false;
        }
        let phi = rho.powf(1.0 / (LAG_BLOCK - 1) as f64);
        let noise = ((1.0 + phi) / (1.0 - phi) / (m * n)).sqrt();
        noise < 1.0 && noise.ln() / phi.ln() > (2 * DIRECT_LAGS) as f64
    }

    /// Every lag by FFT ([`super::fft::mean_autocovariance`]), replacing
    /// the direct sums.
    pub(super) fn all_by_fft(&mut self) {
        self.lags = super::fft::mean_autocovariance(&self.centred);
        self.fft = true;
    }

    /// Whether the lags are the FFT's.
    #[cfg(test)]
    pub(super) fn by_fft(&self) -> bool {
        self.fft
    }
}

/// sum_i a_i b_i, in eight running sums (vectorised).
#[inline(always)]
fn dot(a: &[f64], b: &[f64]) -> f64 {
    finish_dot([0.0; 8], a, b, 0)
}

/// [`dot`] of `a` and `b` whose eight running sums `acc` already hold
/// the first `done` chunks of eight: the remaining chunks added in order,
/// then the tail, so that the result is dot's to the bit.
#[inline(always)]
fn finish_dot(mut acc: [f64; 8], a: &[f64], b: &[f64], done: usize) -> f64 {
    let (ca, cb) = (a.chunks_exact(8), b.chunks_exact(8));
    let tail: f64 = ca
        .remainder()
        .iter()
        .zip(cb.remainder())
        .map(|(x, y)| x * y)
        .sum();
    for (x, y) in ca.zip(cb).skip(done) {
        for k in 0..8 {
            acc[k] += x[k] * y[k];
        }
    }
    acc.iter().sum::<f64>() + tail
}

/// dots[l] = [`dot`]`(&c[..n - t], &c[t..])` for t = first + l: each
/// to the bit as dot gives it, [`FUSED`] lags at a time in one pass that
/// loads each leading chunk c[8j..8j + 8] once for them all (the chunks
/// every lag of the group has in full), each lag then finishing its own
/// chunks and tail.
#[inline(always)]
fn lag_dots(c: &[f64], first: usize, dots: &mut [f64]) {
    let n = c.len();
    let mut groups = dots.chunks_exact_mut(FUSED);
    let mut lag0 = first;
    for group in &mut groups {
        let shared = (n - (lag0 + FUSED - 1)) / 8;
        let mut acc = [[0.0; 8]; FUSED];
        let from = |t: usize| c[t..].chunks_exact(8);
        let lanes = c
            .chunks_exact(8)
            .zip(from(lag0))
            .zip(from(lag0 + 1))
            .zip(from(lag0 + 2))
            .zip(from(lag0 + 3))
            .take(shared);
        for ((((x, y0), y1), y2), y3) in lanes {
            for k in 0..8 {
                acc[0][k] += x[k] * y0[k];
                acc[1][k] += x[k] * y1[k];
                acc[2][k] += x[k] * y2[k];
                acc[3][k] += x[k] * y3[k];
            }
        }
        for (l, (out, acc)) in group.iter_mut().zip(acc).enumerate() {
            let t = lag0 + l;
            *out = finish_dot(acc, &c[..n - t], &c[t..], shared);
        }
        lag0 += FUSED;
    }
    for (l, out) in groups.into_remainder().iter_mut().enumerate() {
        let t = lag0 + l;
        *out = dot(&c[..n - t], &c[t..]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fft_autocovariance_matches_direct_sum() {
        let x: Vec<f64> = (0..37).map(|i| ((i * 7) % 11) as f64 - 3.0).collect();
        let a = autocovariance(&x);
        let m = x.iter().sum::<f64>() / 37.0;
        for t in [0, 1, 5, 36] {
            let direct: f64 = (0..37 - t).map(|i| (x[i] - m) * (x[i + t] - m)).sum::<f64>() / 37.0;
            assert!((a[t] - direct).abs() < 1e-10);
        }
    }

    /// The fused lags are dot's to the bit, whatever the chain's length
    /// (tails of 0-7, chains shorter than the group) and the first lag.
    #[test]
    fn fused_lags_are_dot_to_the_bit() {
        for n in [1usize, 5, 8, 13, 40, 67, 1000] {
            let c: Vec<f64> = (0..n).map(|i| ((i * 37 % 101) as f64 - 50.0) / 7.0).collect();
            for first in [0, 1, 3, 8] {
                let count = LAG_BLOCK.min(n.saturating_sub(first));
                let mut dots = [0.0; LAG_BLOCK];
                lag_dots(&c, first, &mut dots[..count]);
                for (l, got) in dots[..count].iter().enumerate() {
                    let t = first + l;
                    let want = dot(&c[..n - t], &c[t..]);
                    assert_eq!(got.to_bits(), want.to_bits(), "n {n}, lag {t}");
                }
            }
        }
    }
}
