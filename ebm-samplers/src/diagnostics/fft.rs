//! The mean autocovariance of many chains by FFT, with the transforms
//! the sum needs and no more.
//!
//! The autocovariance of a centred series x of length n, padded with
//! zeros to N >= 2n (so the circular products do not wrap), is
//! acov(t) = IFFT(|FFT x|^2)(t) / (N n). Three facts make the mean over m
//! chains cheap:
//!
//! - the inverse transform is linear, so the mean of the chains'
//!   autocovariances is one inverse transform of their summed power
//!   spectra;
//! - two real series a and b go through one complex transform as
//!   z = a + i b: with Z = FFT z, |A_k|^2 + |B_k|^2 = (|Z_k|^2 +
//!   |Z_{N-k}|^2) / 2, so the sum over pairs of |Z_k|^2, made symmetric
//!   once at the end, is the sum of every chain's power spectrum;
//! - the power spectrum is elementwise, so the forward transform may
//!   leave its output in bit-reversed order (decimation in frequency)
//!   and the inverse take its input in that order (decimation in time):
//!   no permutation pass at all.
//!
//! So m chains cost m/2 forward transforms and one inverse, against 2m
//! transforms chain by chain. The pairs run in parallel in waves of two
//! per thread, and each wave's spectra are added to the sum in pair
//! order, so the sum is the same whatever the wave's size: the same bits
//! on any number of threads, and about 3 N values of buffers per thread.

use rayon::prelude::*;

/// Radix-2 transforms of one power-of-two size N, their twiddle factors
/// stage by stage: the stage of half-length h (butterflies k and k + h
/// within blocks of 2h) reads w_k = exp(-2 pi i k / (2h)), k < h, at
/// entries h - 1 .. 2h - 1 (contiguous, so the butterflies vectorise).
struct Radix2 {
    size: usize,
    tw_re: Vec<f64>,
    tw_im: Vec<f64>,
}

impl Radix2 {
    fn new(size: usize) -> Self {
        debug_assert!(size.is_power_of_two() && size >= 2);
        let mut tw_re = Vec::with_capacity(size);
        let mut tw_im = Vec::with_capacity(size);
        let mut h = 1;
        while h < size {
            for k in 0..h {
                let angle = -std::f64::consts::PI * k as f64 / h as f64;
                tw_re.push(angle.cos());
                tw_im.push(angle.sin());
            }
            h *= 2;
        }
        Self { size, tw_re, tw_im }
    }

    /// The stage of half-length h's twiddles.
    fn twiddles(&self, h: usize) -> (&[f64], &[f64]) {
        (&self.tw_re[h - 1..2 * h - 1], &self.tw_im[h - 1..2 * h - 1])
    }

    /// The butterflies of the stage of half-length h: `butterfly(a_re,
    /// a_im, b_re, b_im, w_re, w_im)` on every pair (k, k + h) of every
    /// block of 2h, w = w_k.
    #[inline(always)]
    fn stage(
        &self,
        h: usize,
        re: &mut [f64],
        im: &mut [f64],
        butterfly: impl Fn(&mut f64, &mut f64, &mut f64, &mut f64, f64, f64),
    ) {
        let (wr, wi) = self.twiddles(h);
        for (xr, xi) in re.chunks_exact_mut(2 * h).zip(im.chunks_exact_mut(2 * h)) {
            let (ar, br) = xr.split_at_mut(h);
            let (ai, bi) = xi.split_at_mut(h);
            let lanes = ar
                .iter_mut()
                .zip(ai.iter_mut())
                .zip(br.iter_mut().zip(bi.iter_mut()));
            for (((ar, ai), (br, bi)), (&wr, &wi)) in lanes.zip(wr.iter().zip(wi)) {
                butterfly(ar, ai, br, bi, wr, wi);
            }
        }
    }

    /// Forward transform in place, natural order in, bit-reversed order
    /// out (Gentleman-Sande: a, b -> a + b, (a - b) w_k).
    #[inline(always)]
    fn forward_to_bit_reversed(&self, re: &mut [f64], im: &mut [f64]) {
        let mut h = self.size / 2;
        while h >= 4 {
            self.stage(
                h,
                re,
                im,
                #[inline(always)]
                |ar, ai, br, bi, wr, wi| {
                    let (dr, di) = (*ar - *br, *ai - *bi);
                    *ar += *br;
                    *ai += *bi;
                    *br = dr * wr - di * wi;
                    *bi = dr * wi + di * wr;
                },
            );
            h /= 2;
        }
        // the last two stages as one radix-4 pass over blocks of four:
        // w_0 = 1 and, at h = 2, w_1 = -i
        if self.size < 4 {
            return two_point(re, im);
        }
        for (xr, xi) in re.chunks_exact_mut(4).zip(im.chunks_exact_mut(4)) {
            let (r0, r1) = (xr[0] + xr[2], xr[1] + xr[3]);
            let (i0, i1) = (xi[0] + xi[2], xi[1] + xi[3]);
            let (r2, i2) = (xr[0] - xr[2], xi[0] - xi[2]);
            let (r3, i3) = (xi[1] - xi[3], xr[3] - xr[1]);
            (xr[0], xr[1], xr[2], xr[3]) = (r0 + r1, r0 - r1, r2 + r3, r2 - r3);
            (xi[0], xi[1], xi[2], xi[3]) = (i0 + i1, i0 - i1, i2 + i3, i2 - i3);
        }
    }

    /// Unnormalised inverse transform in place, bit-reversed order in,
    /// natural order out (Cooley-Tukey with the conjugate twiddles:
    /// a, b -> a + b conj(w_k), a - b conj(w_k)).
    #[inline(always)]
    fn inverse_from_bit_reversed(&self, re: &mut [f64], im: &mut [f64]) {
        // the first two stages as one radix-4 pass over blocks of four:
        // conj(w_0) = 1 and, at h = 2, conj(w_1) = i
        if self.size < 4 {
            return two_point(re, im);
        }
        for (xr, xi) in re.chunks_exact_mut(4).zip(im.chunks_exact_mut(4)) {
            let (r0, r1) = (xr[0] + xr[1], xr[0] - xr[1]);
            let (i0, i1) = (xi[0] + xi[1], xi[0] - xi[1]);
            let (r2, r3) = (xr[2] + xr[3], xr[2] - xr[3]);
            let (i2, i3) = (xi[2] + xi[3], xi[2] - xi[3]);
            // b = (r3, i3) times i
            (xr[0], xr[2], xr[1], xr[3]) = (r0 + r2, r0 - r2, r1 - i3, r1 + i3);
            (xi[0], xi[2], xi[1], xi[3]) = (i0 + i2, i0 - i2, i1 + r3, i1 - r3);
        }
        let mut h = 4;
        while h < self.size {
            self.stage(
                h,
                re,
                im,
                #[inline(always)]
                |ar, ai, br, bi, wr, wi| {
                    let tr = *br * wr + *bi * wi;
                    let ti = *bi * wr - *br * wi;
                    *br = *ar - tr;
                    *bi = *ai - ti;
                    *ar += tr;
                    *ai += ti;
                },
            );
            h *= 2;
        }
    }
}

/// The transform of two points, the same both ways: a, b -> a + b, a - b.
#[inline(always)]
fn two_point(re: &mut [f64], im: &mut [f64]) {
    let (r, i) = (re[0] - re[1], im[0] - im[1]);
    re[0] += re[1];
    im[0] += im[1];
    (re[1], im[1]) = (r, i);
}

/// The bit reversal of i among `bits` bits.
fn reverse_bits(i: usize, bits: u32) -> usize {
    if bits == 0 {
        0
    } else {
        i.reverse_bits() >> (usize::BITS - bits)
    }
}

/// (1/m) sum_c acov_c(t), t = 0..n-1, for `centred` chains of equal
/// lengths n >= 1 (each already centred on its mean), acov_c(t) = (1/n)
/// sum_i x_ci x_c,i+t.
pub(super) fn mean_autocovariance<C: AsRef<[f64]> + Sync>(centred: &[C]) -> Vec<f64> {
    let m = centred.len();
    let n = centred.first().map_or(0, |c| c.as_ref().len());
    if m == 0 || n == 0 {
        return vec![0.0; n];
    }
    let size = (2 * n).next_power_of_two();
    let radix2 = Radix2::new(size);
    // sum over pairs of |Z_k|^2, bit-reversed order
    let mut power = vec![0.0; size];
    let pairs_per_wave = 2 * rayon::current_num_threads().max(1);
    for wave in centred.chunks(2 * pairs_per_wave) {
        let spectra: Vec<Vec<f64>> = wave
            .par_chunks(2)
            .map(|pair| {
                let (mut re, mut im) = (vec![0.0; size], vec![0.0; size]);
                re[..n].copy_from_slice(pair[0].as_ref());
                if let Some(b) = pair.get(1) {
                    im[..n].copy_from_slice(b.as_ref());
                }
                ebm_core::simd::dispatch(
                    #[inline(always)]
                    || {
                        radix2.forward_to_bit_reversed(&mut re, &mut im);
                        for (r, i) in re.iter_mut().zip(&im) {
                            *r = *r * *r + *i * *i;
                        }
                    },
                );
                re
            })
            .collect();
        for s in &spectra {
            for (p, v) in power.iter_mut().zip(s) {
                *p += v;
            }
        }
    }
    // every chain's power spectrum summed: (S_k + S_{N-k}) / 2, where
    // position p holds frequency reverse_bits(p)
    let bits = size.trailing_zeros();
    let mut re: Vec<f64> = (0..size)
        .map(|p| {
            let k = reverse_bits(p, bits);
            0.5 * (power[p] + power[reverse_bits((size - k) % size, bits)])
        })
        .collect();
    let mut im = vec![0.0; size];
    ebm_core::simd::dispatch(
        #[inline(always)]
        || radix2.inverse_from_bit_reversed(&mut re, &mut im),
    );
    let scale = 1.0 / (size as f64 * n as f64 * m as f64);
    re.truncate(n);
    re.iter_mut().for_each(|v| *v *= scale);
    re
}

#[cfg(test)]
mod tests {
    use super::*;

    /// (1/m) sum_c (1/n) sum_i x_ci x_c,i+t by the definition.
    fn direct(chains: &[Vec<f64>]) -> Vec<f64> {
        let n = chains[0].len();
        (0..n)
            .map(|t| {
                chains
                    .iter()
                    .map(|x| (0..n - t).map(|i| x[i] * x[i + t]).sum::<f64>() / n as f64)
                    .sum::<f64>()
                    / chains.len() as f64
            })
            .collect()
    }

    /// Against the definition for odd and even numbers of chains (one
    /// alone, pairs, several waves) and lengths from 1 to past a power of
    /// two: every lag within 1e-12 of the lag-0 value.
    #[test]
    fn mean_autocovariance_is_the_definition() {
        for m in [1usize, 2, 3, 5, 35] {
            for n in [1usize, 2, 3, 8, 37, 100, 513] {
                let chains: Vec<Vec<f64>> = (0..m)
                    .map(|c| {
                        let x: Vec<f64> = (0..n)
                            .map(|i| (((i * 7 + c * 13) % 11) as f64 - 5.0) * (1.0 + c as f64 / 3.0))
                            .collect();
                        let mean = x.iter().sum::<f64>() / n as f64;
                        x.iter().map(|v| v - mean).collect()
                    })
                    .collect();
                let want = direct(&chains);
                let got = mean_autocovariance(&chains);
                assert_eq!(got.len(), n);
                let scale = want[0].abs().max(1.0);
                for (t, (g, w)) in got.iter().zip(&want).enumerate() {
                    assert!(
                        (g - w).abs() < 1e-12 * scale,
                        "m {m}, n {n}, lag {t}: {g} against {w}"
                    );
                }
            }
        }
    }

    /// The same bits on one thread as on three (waves of 2 and 6 pairs).
    #[test]
    fn the_same_bits_on_any_number_of_threads() {
        let chains: Vec<Vec<f64>> = (0..23)
            .map(|c| {
                (0..301)
                    .map(|i| (((i * 11 + c * 5) % 17) as f64 - 8.0) / 3.0)
                    .collect()
            })
            .collect();
        let on = |threads: usize| {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap();
            pool.install(|| mean_autocovariance(&chains))
        };
        let (one, three) = (on(1), on(3));
        assert!(one.iter().zip(&three).all(|(a, b)| a.to_bits() == b.to_bits()));
    }

    /// A transform there and back is the identity times N (every size the
    /// stages' special cases touch).
    #[test]
    fn inverse_undoes_forward() {
        for size in [2usize, 4, 8, 64, 1024] {
            let radix2 = Radix2::new(size);
            let x: Vec<f64> = (0..size).map(|i| ((i * 5) % 7) as f64 - 3.0).collect();
            let y: Vec<f64> = (0..size).map(|i| ((i * 3) % 5) as f64 - 2.0).collect();
            let (mut re, mut im) = (x.clone(), y.clone());
            radix2.forward_to_bit_reversed(&mut re, &mut im);
            radix2.inverse_from_bit_reversed(&mut re, &mut im);
            for k in 0..size {
                assert!((re[k] / size as f64 - x[k]).abs() < 1e-12, "size {size}");
                assert!((im[k] / size as f64 - y[k]).abs() < 1e-12, "size {size}");
            }
        }
    }
}
