//! Convergence diagnostics: effective sample size and split R-hat.
//!
//! Draws are laid out `[draw][chain][coordinate]`, as the
//! [driver](crate::driver) stores them.

/// In-place iterative radix-2 FFT of (re, im), length a power of two;
/// `inverse` computes the unnormalised inverse transform.
fn fft(re: &mut [f64], im: &mut [f64], inverse: bool) {
    let n = re.len();
    let mut j = 0;
    for i in 1..n {
        let mut bit = n >> 1;
        while j & bit != 0 {
            j ^= bit;
            bit >>= 1;
        }
        j |= bit;
        if i < j {
            re.swap(i, j);
            im.swap(i, j);
        }
    }
    let mut len = 2;
    while len <= n {
        let ang = 2.0 * std::f64::consts::PI / len as f64 * if inverse { 1.0 } else { -1.0 };
        let (wr, wi) = (ang.cos(), ang.sin());
        for start in (0..n).step_by(len) {
            let (mut cr, mut ci) = (1.0, 0.0);
            for k in 0..len / 2 {
                let (a, b) = (start + k, start + k + len / 2);
                let tr = re[b] * cr - im[b] * ci;
                let ti = re[b] * ci + im[b] * cr;
                re[b] = re[a] - tr;
                im[b] = im[a] - ti;
                re[a] += tr;
                im[a] += ti;
                let nr = cr * wr - ci * wi;
                ci = cr * wi + ci * wr;
                cr = nr;
            }
        }
        len <<= 1;
    }
}

/// Autocovariances acov(t) = 1/n sum_i (x_i - m)(x_{i+t} - m), t = 0..n-1,
/// by FFT.
pub fn autocovariance(x: &[f64]) -> Vec<f64> {
    let n = x.len();
    let m = x.iter().sum::<f64>() / n as f64;
    let size = (2 * n).next_power_of_two();
    let mut re = vec![0.0; size];
    let mut im = vec![0.0; size];
    for (r, v) in re.iter_mut().zip(x) {
        *r = v - m;
    }
    fft(&mut re, &mut im, false);
    for k in 0..size {
        re[k] = re[k] * re[k] + im[k] * im[k];
        im[k] = 0.0;
    }
    fft(&mut re, &mut im, true);
    re.truncate(n);
    re.iter_mut().for_each(|v| *v /= size as f64 * n as f64);
    re
}

/// Multi-chain effective sample size of one coordinate (`chains[c]` is the
/// series of chain c, all of equal length n >= 4), with Geyer's initial
/// monotone sequence estimator as in Stan:
///
/// rho_t = 1 - (W - mean_c acov_c(t)) / var+,  var+ = (n-1)/n W + B/n,
/// P_k = rho_{2k} + rho_{2k+1} summed while positive and made monotone,
/// tau = -1 + 2 sum_k P_k,  ESS = m n / tau.
///
/// Returns NaN for constant series or fewer than 4 draws.
pub fn ess(chains: &[Vec<f64>]) -> f64 {
    let m = chains.len();
    let n = chains.first().map_or(0, Vec::len);
    if m == 0 || n < 4 {
        return f64::NAN;
    }
    let acov: Vec<Vec<f64>> = chains.iter().map(|c| autocovariance(c)).collect();
    let means: Vec<f64> = chains.iter().map(|c| c.iter().sum::<f64>() / n as f64).collect();
    let nf = n as f64;
    let w = acov.iter().map(|a| a[0] * nf / (nf - 1.0)).sum::<f64>() / m as f64;
    let grand = means.iter().sum::<f64>() / m as f64;
    let b_over_n = if m > 1 {
        means.iter().map(|v| (v - grand).powi(2)).sum::<f64>() / (m as f64 - 1.0)
    } else {
        0.0
    };
    let var_plus = (nf - 1.0) / nf * w + b_over_n;
    if var_plus.is_nan() || var_plus <= 0.0 {
        return f64::NAN;
    }
    let rho = |t: usize| 1.0 - (w - acov.iter().map(|a| a[t]).sum::<f64>() / m as f64) / var_plus;
    let mut sum = 0.0;
    let mut prev = f64::INFINITY;
    let mut t = 0;
    while t + 1 < n {
        let mut p = rho(t) + rho(t + 1);
        if p <= 0.0 {
            break;
        }
        p = p.min(prev);
        sum += p;
        prev = p;
        t += 2;
    }
    let tau = (-1.0 + 2.0 * sum).max(1.0 / (m as f64 * nf).log10());
    m as f64 * nf / tau
}

/// Split R-hat (Gelman et al. 2013): each chain is halved, and with W the
/// mean within-half variance and B/n the variance of the half means,
/// R-hat = sqrt(((n-1)/n W + B/n) / W). Close to 1 when chains agree.
pub fn split_rhat(chains: &[Vec<f64>]) -> f64 {
    let half = chains.first().map_or(0, Vec::len) / 2;
    if half < 2 {
        return f64::NAN;
    }
    let parts: Vec<&[f64]> = chains
        .iter()
        .flat_map(|c| [&c[..half], &c[half..2 * half]])
        .collect();
    let n = half as f64;
    let m = parts.len() as f64;
    let means: Vec<f64> = parts.iter().map(|p| p.iter().sum::<f64>() / n).collect();
    let vars: Vec<f64> = parts
        .iter()
        .zip(&means)
        .map(|(p, mu)| p.iter().map(|v| (v - mu).powi(2)).sum::<f64>() / (n - 1.0))
        .collect();
    let w = vars.iter().sum::<f64>() / m;
    let grand = means.iter().sum::<f64>() / m;
    let b_over_n = means.iter().map(|v| (v - grand).powi(2)).sum::<f64>() / (m - 1.0);
    if w.is_nan() || w <= 0.0 {
        return f64::NAN;
    }
    (((n - 1.0) / n * w + b_over_n) / w).sqrt()
}

/// Per-coordinate series of each chain from draws `[draw][chain][coord]`.
pub fn coordinate_series(
    draws: &[f64],
    n_draws: usize,
    n_chains: usize,
    dim: usize,
    coord: usize,
) -> Vec<Vec<f64>> {
    (0..n_chains)
        .map(|c| {
            (0..n_draws)
                .map(|t| draws[(t * n_chains + c) * dim + coord])
                .collect()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};

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

    #[test]
    fn ess_of_independent_draws_is_near_their_count_and_ar1_is_lower() {
        let mut r = rand_chacha::ChaCha8Rng::seed_from_u64(3);
        let mut normal = || {
            let u: f64 = r.random::<f64>().max(1e-300);
            let v: f64 = r.random();
            (-2.0 * u.ln()).sqrt() * (2.0 * std::f64::consts::PI * v).cos()
        };
        let iid: Vec<Vec<f64>> = (0..4).map(|_| (0..1000).map(|_| normal()).collect()).collect();
        let e = ess(&iid);
        // 4000 independent draws: the estimator's own spread is a few percent.
        assert!((e / 4000.0 - 1.0).abs() < 0.15, "{e}");
        // AR(1) with phi = 0.9 has ESS/N = (1 - phi)/(1 + phi) = 0.0526.
        let ar: Vec<Vec<f64>> = (0..4)
            .map(|_| {
                let mut x = 0.0;
                (0..5000)
                    .map(|_| {
                        x = 0.9 * x + (1.0f64 - 0.81).sqrt() * normal();
                        x
                    })
                    .collect()
            })
            .collect();
        let ratio = ess(&ar) / 20000.0;
        assert!((ratio - 0.0526).abs() < 0.015, "{ratio}");
        assert!((split_rhat(&ar) - 1.0).abs() < 0.05);
    }
}
