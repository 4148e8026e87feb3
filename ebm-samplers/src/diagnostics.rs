//! Convergence diagnostics: effective sample sizes (for the mean, the
//! bulk and the tails), split and rank-normalised R-hat, and the Monte
//! Carlo standard error of the mean, after Vehtari et al. (2021).
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

/// Lags summed directly before [`MeanAutocovariance`] turns to the FFT.
const DIRECT_LAGS: usize = 96;

/// The autocovariance averaged over chains, (1/m) sum_c acov_c(t), lag by
/// lag as Geyer's sequence asks for it.
///
/// The sequence usually stops after a few lags (a few dozen for slowly
/// mixing chains), so the first [`DIRECT_LAGS`] lags are direct sums over
/// the centred chains (m n multiply-adds a lag); a lag beyond them has
/// every lag recomputed by [`autocovariance`] (FFT, O(m n log n)), so a
/// series is summed one way or the other, never a mixture.
struct MeanAutocovariance<'a> {
    chains: &'a [Vec<f64>],
    /// The centred chains, for the direct sums.
    centred: Vec<Vec<f64>>,
    /// Lags computed so far.
    lags: Vec<f64>,
    /// Every lag, once the FFT has been used.
    fft: bool,
}

impl<'a> MeanAutocovariance<'a> {
    fn new(chains: &'a [Vec<f64>]) -> Self {
        let centred = chains
            .iter()
            .map(|c| {
                let mean = c.iter().sum::<f64>() / c.len() as f64;
                c.iter().map(|v| v - mean).collect()
            })
            .collect();
        Self {
            chains,
            centred,
            lags: Vec::new(),
            fft: false,
        }
    }

    /// (1/m) sum_c (1/n) sum_i (x_ci - mean_c)(x_c,i+t - mean_c).
    fn at(&mut self, t: usize) -> f64 {
        while self.lags.len() <= t && !self.fft {
            let lag = self.lags.len();
            if lag == DIRECT_LAGS {
                self.all_by_fft();
                break;
            }
            let (m, n) = (self.centred.len(), self.centred[0].len());
            let sum: f64 = self
                .centred
                .iter()
                .map(|c| dot(&c[..n - lag], &c[lag..]) / n as f64)
                .sum();
            self.lags.push(sum / m as f64);
        }
        self.lags[t]
    }

    fn all_by_fft(&mut self) {
        let m = self.chains.len() as f64;
        let mut total = vec![0.0; self.chains[0].len()];
        for c in self.chains {
            for (t, a) in total.iter_mut().zip(autocovariance(c)) {
                *t += a;
            }
        }
        self.lags = total.into_iter().map(|v| v / m).collect();
        self.fft = true;
    }
}

/// sum_i a_i b_i, in eight running sums (vectorised).
fn dot(a: &[f64], b: &[f64]) -> f64 {
    let mut acc = [0.0; 8];
    let (ca, cb) = (a.chunks_exact(8), b.chunks_exact(8));
    let tail: f64 = ca
        .remainder()
        .iter()
        .zip(cb.remainder())
        .map(|(x, y)| x * y)
        .sum();
    for (x, y) in ca.zip(cb) {
        for k in 0..8 {
            acc[k] += x[k] * y[k];
        }
    }
    acc.iter().sum::<f64>() + tail
}

/// Multi-chain effective sample size of one quantity (`chains[c]` is the
/// series of chain c, all of equal length n >= 4), Stan's estimator
/// (Geyer's initial monotone sequence, as in Stan, posterior and ArviZ):
///
/// rho_t = 1 - (W - mean_c acov_c(t)) / var+,  var+ = (n-1)/n W + B/n,
/// the pairs rho_{2k} + rho_{2k+1} summed while positive, each pair capped
/// by the mean of the pair before (the monotone sequence),
/// tau = -1 + 2 sum_t rho_t (plus the first even term dropped, if positive),
/// ESS = m n / max(tau, 1 / log10(m n)).
///
/// The chains are used as given (not split; see [`ess_mean`]). A constant
/// series has ESS m n, as in ArviZ; NaN for fewer than 4 draws or a
/// non-finite value.
pub fn ess(chains: &[Vec<f64>]) -> f64 {
    let m = chains.len();
    let n = chains.first().map_or(0, Vec::len);
    if m == 0
        || n < 4
        || chains
            .iter()
            .any(|c| c.len() != n || c.iter().any(|v| !v.is_finite()))
    {
        return f64::NAN;
    }
    let (lo, hi) = chains
        .iter()
        .flatten()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &v| {
            (a.min(v), b.max(v))
        });
    if hi - lo < 1e-15 {
        return (m * n) as f64;
    }
    let mut acov = MeanAutocovariance::new(chains);
    let nf = n as f64;
    let mut mean_acov = |t: usize| acov.at(t);
    let w = mean_acov(0) * nf / (nf - 1.0);
    let mut var_plus = w * (nf - 1.0) / nf;
    if m > 1 {
        let means: Vec<f64> = chains.iter().map(|c| c.iter().sum::<f64>() / nf).collect();
        let grand = means.iter().sum::<f64>() / m as f64;
        var_plus += means.iter().map(|v| (v - grand).powi(2)).sum::<f64>() / (m as f64 - 1.0);
    }
    let mut rho_at = |t: usize| 1.0 - (w - mean_acov(t)) / var_plus;
    let mut rho = vec![0.0; n];
    rho[0] = 1.0;
    let (mut even, mut odd) = (1.0, rho_at(1));
    rho[1] = odd;
    // Geyer's initial positive sequence
    let mut t = 1;
    while t + 3 < n && even + odd > 0.0 {
        even = rho_at(t + 1);
        odd = rho_at(t + 2);
        if even + odd >= 0.0 {
            rho[t + 1] = even;
            rho[t + 2] = odd;
        }
        t += 2;
    }
    // the last lag of the positive sequence (-1 when it has none)
    let max_t = t as isize - 2;
    if even > 0.0 {
        rho[(max_t + 1) as usize] = even;
    }
    // the initial monotone sequence
    let mut t = 1;
    while t as isize + 2 <= max_t {
        if rho[t + 1] + rho[t + 2] > rho[t - 1] + rho[t] {
            rho[t + 1] = (rho[t - 1] + rho[t]) / 2.0;
            rho[t + 2] = rho[t + 1];
        }
        t += 2;
    }
    let total = (m * n) as f64;
    let last = (max_t + 1) as usize;
    let tau = -1.0 + 2.0 * rho[..last].iter().sum::<f64>() + rho[last];
    total / tau.max(1.0 / total.log10())
}

/// Each chain cut into its first and last halves (the middle draw of an
/// odd length left out), as 2m chains: the split that lets R-hat and ESS
/// see a chain that drifts.
pub fn split_chains(chains: &[Vec<f64>]) -> Vec<Vec<f64>> {
    let n = chains.first().map_or(0, Vec::len);
    let half = n / 2;
    chains
        .iter()
        .flat_map(|c| [c[..half].to_vec(), c[n - half..].to_vec()])
        .collect()
}

/// R-hat of chains as given: with W the mean within-chain variance and B/n
/// the variance of the chain means, sqrt(((n-1)/n W + B/n) / W).
fn rhat(chains: &[Vec<f64>]) -> f64 {
    let m = chains.len() as f64;
    let n = chains.first().map_or(0, Vec::len) as f64;
    if m < 2.0 || n < 2.0 {
        return f64::NAN;
    }
    let means: Vec<f64> = chains.iter().map(|c| c.iter().sum::<f64>() / n).collect();
    let w = chains
        .iter()
        .zip(&means)
        .map(|(c, mu)| c.iter().map(|v| (v - mu).powi(2)).sum::<f64>() / (n - 1.0))
        .sum::<f64>()
        / m;
    let grand = means.iter().sum::<f64>() / m;
    let b_over_n = means.iter().map(|v| (v - grand).powi(2)).sum::<f64>() / (m - 1.0);
    if w.is_nan() || w <= 0.0 {
        return f64::NAN;
    }
    (((n - 1.0) / n * w + b_over_n) / w).sqrt()
}

/// Split R-hat (Gelman et al. 2013): [`split_chains`], then
/// R-hat = sqrt(((n-1)/n W + B/n) / W) over the halves. Close to 1 when
/// chains agree.
pub fn split_rhat(chains: &[Vec<f64>]) -> f64 {
    if chains.first().map_or(0, Vec::len) < 4 {
        return f64::NAN;
    }
    rhat(&split_chains(chains))
}

/// The standard normal quantile Phi^-1(p), 0 < p < 1: Acklam's rational
/// approximation (relative error 1.2e-9) refined by one Halley step on
/// Phi(x) - p with libm's erfc (to about 1e-15).
pub fn normal_quantile(p: f64) -> f64 {
    const A: [f64; 6] = [
        -3.969683028665376e1,
        2.209460984245205e2,
        -2.759285104469687e2,
        1.38357751867269e2,
        -3.066479806614716e1,
        2.506628277459239,
    ];
    const B: [f64; 5] = [
        -5.447609879822406e1,
        1.615858368580409e2,
        -1.556989798598866e2,
        6.680131188771972e1,
        -1.328068155288572e1,
    ];
    const C: [f64; 6] = [
        -7.784894002430293e-3,
        -3.223964580411365e-1,
        -2.400758277161838,
        -2.549732539343734,
        4.374664141464968,
        2.938163982698783,
    ];
    const D: [f64; 4] = [
        7.784695709041462e-3,
        3.224671290700398e-1,
        2.445134137142996,
        3.754408661907416,
    ];
    if !(p > 0.0 && p < 1.0) {
        return if p == 0.0 {
            f64::NEG_INFINITY
        } else if p == 1.0 {
            f64::INFINITY
        } else {
            f64::NAN
        };
    }
    let tail = |q: f64| {
        (((((C[0] * q + C[1]) * q + C[2]) * q + C[3]) * q + C[4]) * q + C[5])
            / ((((D[0] * q + D[1]) * q + D[2]) * q + D[3]) * q + 1.0)
    };
    let x = if p < 0.02425 {
        tail((-2.0 * p.ln()).sqrt())
    } else if p > 1.0 - 0.02425 {
        -tail((-2.0 * (1.0 - p).ln()).sqrt())
    } else {
        let q = p - 0.5;
        let r = q * q;
        (((((A[0] * r + A[1]) * r + A[2]) * r + A[3]) * r + A[4]) * r + A[5]) * q
            / (((((B[0] * r + B[1]) * r + B[2]) * r + B[3]) * r + B[4]) * r + 1.0)
    };
    // one Halley step: e = Phi(x) - p, u = e / phi(x)
    let e = 0.5 * libm::erfc(-x / std::f64::consts::SQRT_2) - p;
    let u = e * (2.0 * std::f64::consts::PI).sqrt() * (0.5 * x * x).exp();
    x - u / (1.0 + 0.5 * x * u)
}

/// Rank normalisation (Vehtari et al. 2021): every draw of every chain
/// replaced by Phi^-1((r - 3/8) / (S + 1/4)), r its rank among all S
/// draws (ties get their average rank; Blom's offsets).
pub fn z_scale(chains: &[Vec<f64>]) -> Vec<Vec<f64>> {
    let n = chains.first().map_or(0, Vec::len);
    // (key, position) pairs sorted by key, the key an integer in the
    // order of f64::total_cmp (compared faster than the floats); the
    // order among equal values does not matter, as they share their mean
    // rank
    let key = |v: f64| {
        let b = v.to_bits() as i64;
        b ^ (((b >> 63) as u64) >> 1) as i64
    };
    let value = |k: i64| f64::from_bits((k ^ (((k >> 63) as u64) >> 1) as i64) as u64);
    let mut order: Vec<(i64, usize)> = chains.iter().flatten().map(|&v| key(v)).zip(0..).collect();
    let s = order.len();
    order.sort_unstable_by_key(|p| p.0);
    let blom = |r: f64| normal_quantile((r - 0.375) / (s as f64 + 0.25));
    // whole ranks 1..=S take their quantile from a table made once per S
    // and thread (every coordinate of a run has the same S); the average
    // rank of a group of ties is computed once for the group
    let mut z = vec![0.0; s];
    RANK_QUANTILES.with(|t| {
        let mut t = t.borrow_mut();
        if t.0 != s {
            *t = (s, (1..=s).map(|r| blom(r as f64)).collect());
        }
        let mut i = 0;
        while i < s {
            let mut j = i + 1;
            // equal as numbers (0 and -0 too)
            while j < s && value(order[j].0) == value(order[i].0) {
                j += 1;
            }
            // ranks i + 1 ..= j share their mean
            let r = (i + 1 + j) as f64 / 2.0;
            let q = if r.fract() == 0.0 {
                t.1[r as usize - 1]
            } else {
                blom(r)
            };
            for &(_, k) in &order[i..j] {
                z[k] = q;
            }
            i = j;
        }
    });
    z.chunks(n.max(1)).map(<[f64]>::to_vec).collect()
}

thread_local! {
    /// Phi^-1((r - 3/8) / (S + 1/4)) for r = 1..=S, with its S.
    static RANK_QUANTILES: std::cell::RefCell<(usize, Vec<f64>)> = const { std::cell::RefCell::new((0, Vec::new())) };
}

/// Rank-normalised split R-hat (Vehtari et al. 2021): the larger of split
/// R-hat on the rank-normalised draws (the bulk) and on the
/// rank-normalised folded draws |x - median| (the tails, which catch
/// chains that agree in location but not in scale). Needs 2 chains of 4
/// draws or more (NaN otherwise).
pub fn rank_rhat(chains: &[Vec<f64>]) -> f64 {
    if chains.len() < 2 || chains[0].len() < 4 {
        return f64::NAN;
    }
    let split = split_chains(chains);
    rank_rhat_of_split(&split, &z_scale(&split))
}

/// [`rank_rhat`] from the split chains and their rank normalisation.
fn rank_rhat_of_split(split: &[Vec<f64>], z_split: &[Vec<f64>]) -> f64 {
    let bulk = rhat(z_split);
    let med = median(split.iter().flatten().copied().collect());
    let folded: Vec<Vec<f64>> = split
        .iter()
        .map(|c| c.iter().map(|v| (v - med).abs()).collect())
        .collect();
    bulk.max(rhat(&z_scale(&folded)))
}

fn median(mut v: Vec<f64>) -> f64 {
    let n = v.len();
    let (below, mid, _) = v.select_nth_unstable_by(n / 2, f64::total_cmp);
    if n % 2 == 1 {
        *mid
    } else {
        // the largest of the lower half is the other middle value
        let lower = below.iter().copied().max_by(f64::total_cmp).unwrap_or(*mid);
        0.5 * (lower + *mid)
    }
}

/// The ESS for the mean: [`ess`] of the split chains.
pub fn ess_mean(chains: &[Vec<f64>]) -> f64 {
    if chains.first().map_or(0, Vec::len) < 4 {
        return f64::NAN;
    }
    ess(&split_chains(chains))
}

/// Bulk ESS (Vehtari et al. 2021): [`ess`] of the rank-normalised split
/// chains, the ESS of the distribution's centre whatever its tails.
pub fn ess_bulk(chains: &[Vec<f64>]) -> f64 {
    if chains.first().map_or(0, Vec::len) < 4 {
        return f64::NAN;
    }
    ess(&z_scale(&split_chains(chains)))
}

/// Tail ESS (Vehtari et al. 2021): the smaller ESS of the indicators
/// I(x <= q_0.05) and I(x <= q_0.95) on the split chains, with the
/// quantiles of all draws (type 7: linear between order statistics).
pub fn ess_tail(chains: &[Vec<f64>]) -> f64 {
    if chains.first().map_or(0, Vec::len) < 4 {
        return f64::NAN;
    }
    let mut all: Vec<f64> = chains.iter().flatten().copied().collect();
    let split = split_chains(chains);
    [0.05, 0.95]
        .iter()
        .map(|&p| {
            let q = quantile(&mut all, p);
            let ind: Vec<Vec<f64>> = split
                .iter()
                .map(|c| c.iter().map(|&v| (v <= q) as u8 as f64).collect())
                .collect();
            ess(&ind)
        })
        .fold(f64::INFINITY, f64::min)
}

/// The p-quantile of `values`, type 7 (R's default, numpy's linear):
/// with x_(k) the k-th smallest (from 0) and h = (S - 1) p,
/// x_([h]) + (h - [h]) (x_([h]+1) - x_([h])). The two order statistics
/// are selected (O(S)), not sorted for; `values` is reordered.
fn quantile(values: &mut [f64], p: f64) -> f64 {
    let h = (values.len() - 1) as f64 * p;
    let lo = h.floor() as usize;
    let (_, x_lo, above) = values.select_nth_unstable_by(lo, f64::total_cmp);
    let x_lo = *x_lo;
    // the next order statistic is the smallest of those above
    let x_hi = above.iter().copied().min_by(f64::total_cmp).unwrap_or(x_lo);
    x_lo + (h - lo as f64) * (x_hi - x_lo)
}

/// Monte Carlo standard error of the mean: the standard deviation of all
/// draws over sqrt([`ess_mean`]).
pub fn mcse_mean(chains: &[Vec<f64>]) -> f64 {
    mcse_with(chains, ess_mean(chains))
}

/// The standard deviation of all draws over sqrt(`ess`).
fn mcse_with(chains: &[Vec<f64>], ess: f64) -> f64 {
    let all: Vec<f64> = chains.iter().flatten().copied().collect();
    let s = all.len() as f64;
    let mean = all.iter().sum::<f64>() / s;
    let sd = (all.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (s - 1.0)).sqrt();
    sd / ess.sqrt()
}

/// Every diagnostic of one quantity, as [`ess_mean`], [`split_rhat`],
/// [`ess_bulk`], [`ess_tail`], [`rank_rhat`] and [`mcse_mean`] give them
/// (the same values), with the work they share done once: the split, its
/// rank normalisation, the ESS for the mean.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct QuantityDiagnostics {
    /// [`ess_mean`].
    pub ess_mean: f64,
    /// [`split_rhat`].
    pub split_rhat: f64,
    /// [`ess_bulk`].
    pub ess_bulk: f64,
    /// [`ess_tail`].
    pub ess_tail: f64,
    /// [`rank_rhat`].
    pub rank_rhat: f64,
    /// [`mcse_mean`].
    pub mcse_mean: f64,
}

impl QuantityDiagnostics {
    /// The values in field order: ESS for the mean, split R-hat, bulk ESS,
    /// tail ESS, rank R-hat, MCSE.
    pub fn to_array(&self) -> [f64; 6] {
        [
            self.ess_mean,
            self.split_rhat,
            self.ess_bulk,
            self.ess_tail,
            self.rank_rhat,
            self.mcse_mean,
        ]
    }

    /// The diagnostics of the series `chains[c]` (equal lengths).
    pub fn of(chains: &[Vec<f64>]) -> Self {
        if chains.first().map_or(0, Vec::len) < 4 {
            return Self {
                ess_mean: f64::NAN,
                split_rhat: f64::NAN,
                ess_bulk: f64::NAN,
                ess_tail: f64::NAN,
                rank_rhat: f64::NAN,
                mcse_mean: mcse_with(chains, f64::NAN),
            };
        }
        let split = split_chains(chains);
        let z_split = z_scale(&split);
        let ess_mean = ess(&split);
        Self {
            ess_mean,
            split_rhat: rhat(&split),
            ess_bulk: ess(&z_split),
            ess_tail: ess_tail(chains),
            rank_rhat: if chains.len() < 2 {
                f64::NAN
            } else {
                rank_rhat_of_split(&split, &z_split)
            },
            mcse_mean: mcse_with(chains, ess_mean),
        }
    }
}

/// The share of draws in each of `k` classes (a mode, a phase, the sign
/// of a magnetisation) and the ESS of its indicator ([`ess_mean`] of the
/// 0/1 series), from `labels` laid out `[draw][chain]` (`n_draws` x
/// `n_chains`); the share's Monte Carlo standard error is then about
/// sqrt(p (1 - p) / ESS). Labels of `k` or more are counted in no class.
pub fn class_shares(labels: &[usize], n_draws: usize, n_chains: usize, k: usize) -> Vec<(f64, f64)> {
    let total = (n_draws * n_chains).max(1) as f64;
    (0..k)
        .map(|class| {
            let ind: Vec<f64> = labels.iter().map(|&l| (l == class) as u8 as f64).collect();
            let share = ind.iter().sum::<f64>() / total;
            (share, ess_mean(&coordinate_series(&ind, n_draws, n_chains, 1, 0)))
        })
        .collect()
}

/// Per-coordinate series of each chain from draws `[draw][chain][coord]`.
pub fn coordinate_series(
    draws: &[f64],
    n_draws: usize,
    n_chains: usize,
    dim: usize,
    coord: usize,
) -> Vec<Vec<f64>> {
    coordinate_block_series(draws, n_draws, n_chains, dim, coord..coord + 1)
        .pop()
        .unwrap_or_default()
}

/// [`coordinate_series`] of each coordinate in `coords`, in one pass over
/// the draws in memory order (each cache line read once for the block,
/// not once per chain and coordinate).
pub fn coordinate_block_series(
    draws: &[f64],
    n_draws: usize,
    n_chains: usize,
    dim: usize,
    coords: std::ops::Range<usize>,
) -> Vec<Vec<Vec<f64>>> {
    // built by iterators: `vec![Vec::with_capacity(..); k]` clones, and a
    // clone of an empty Vec keeps no capacity
    let mut out: Vec<Vec<Vec<f64>>> = coords
        .clone()
        .map(|_| (0..n_chains).map(|_| Vec::with_capacity(n_draws)).collect())
        .collect();
    for draw in draws.chunks_exact(n_chains * dim).take(n_draws) {
        for (c, x) in draw.chunks_exact(dim).enumerate() {
            for (series, &v) in out.iter_mut().zip(&x[coords.clone()]) {
                series[c].push(v);
            }
        }
    }
    out
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

    /// AR(1) chains with coefficient `phi` and unit stationary variance.
    fn ar1(chains: usize, n: usize, phi: f64, seed: u64) -> Vec<Vec<f64>> {
        let mut r = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
        (0..chains)
            .map(|_| {
                let mut x = 0.0;
                (0..n)
                    .map(|_| {
                        let (u, v): (f64, f64) = (r.random::<f64>().max(1e-300), r.random());
                        let z = (-2.0 * u.ln()).sqrt() * (2.0 * std::f64::consts::PI * v).cos();
                        x = phi * x + (1.0 - phi * phi).sqrt() * z;
                        x
                    })
                    .collect()
            })
            .collect()
    }

    /// The direct lags agree with the FFT's, and a slowly mixing series
    /// (Geyer's sequence past DIRECT_LAGS) gets the FFT's ESS: phi = 0.98
    /// has ESS / N = (1 - phi) / (1 + phi) = 0.0101.
    #[test]
    fn direct_lags_agree_with_the_fft() {
        let chains = ar1(4, 3001, 0.7, 5);
        let mut direct = MeanAutocovariance::new(&chains);
        let mut fft = MeanAutocovariance::new(&chains);
        fft.all_by_fft();
        for t in 0..DIRECT_LAGS {
            assert!((direct.at(t) - fft.at(t)).abs() < 1e-12, "lag {t}");
        }
        assert!(!direct.fft);
        direct.at(DIRECT_LAGS);
        assert!(direct.fft);
        let slow = ar1(4, 50_000, 0.98, 6);
        let ratio = ess(&slow) / 200_000.0;
        assert!((ratio - 0.0101).abs() < 0.002, "{ratio}");
    }

    /// QuantityDiagnostics::of gives each function's value to the bit, with
    /// ties (repeated values, as rejected proposals make), an odd length
    /// and a single chain.
    #[test]
    fn shared_work_gives_each_function_s_values() {
        let mut chains = ar1(3, 501, 0.5, 7);
        for c in &mut chains {
            for i in (0..c.len()).step_by(3) {
                c[i] = (c[i] * 4.0).round() / 4.0;
            }
            c[10] = c[9];
        }
        for set in [&chains[..], &chains[..1], &[vec![1.0, 2.0, 3.0]][..]] {
            let q = QuantityDiagnostics::of(set);
            let want = [
                ess_mean(set),
                split_rhat(set),
                ess_bulk(set),
                ess_tail(set),
                rank_rhat(set),
                mcse_mean(set),
            ];
            let got = q.to_array();
            assert_eq!(got.map(f64::to_bits), want.map(f64::to_bits), "{got:?} {want:?}");
        }
    }

    /// The block gather is the per-coordinate gather, and selection gives
    /// the quantiles and medians of sorting.
    #[test]
    fn gathers_quantiles_and_medians() {
        let (n, m, d) = (7, 3, 5);
        let draws: Vec<f64> = (0..n * m * d).map(|i| ((i * 37) % 101) as f64).collect();
        let block = coordinate_block_series(&draws, n, m, d, 1..4);
        for (k, j) in (1..4).enumerate() {
            assert_eq!(block[k], coordinate_series(&draws, n, m, d, j));
            assert_eq!(block[k][2][4], draws[(4 * m + 2) * d + j]);
        }
        let mut sorted = draws.clone();
        sorted.sort_by(f64::total_cmp);
        for p in [0.0, 0.05, 0.5, 0.95, 1.0] {
            let h = (sorted.len() - 1) as f64 * p;
            let lo = h.floor() as usize;
            let hi = (lo + 1).min(sorted.len() - 1);
            let want = sorted[lo] + (h - lo as f64) * (sorted[hi] - sorted[lo]);
            assert_eq!(quantile(&mut draws.clone(), p), want, "p = {p}");
        }
        assert_eq!(median(vec![3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(vec![4.0, 1.0, 3.0, 2.0]), 2.5);
    }
}
