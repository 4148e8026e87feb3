//! Convergence diagnostics: effective sample sizes (for the mean, the
//! bulk and the tails), split and rank-normalised R-hat, and the Monte
//! Carlo standard error of the mean, after Vehtari et al. (2021).
//!
//! The functions take one quantity's chains (`chains[c]` the series of
//! chain c); [`coordinate_series`] gathers them from draws laid out
//! `[draw][chain][coordinate]`, as the [driver](crate::driver) stores
//! them, and [`ChainSeries`] keeps a run's draws as series from the
//! start. [`QuantityDiagnostics::of`] computes all of a quantity's
//! diagnostics with the work they share done once: the split (views),
//! one sort (the `rank` module's ranking) and the ESS for the mean; the
//! mean autocovariances are the `autocovariance` module's.

mod autocovariance;
mod fft;
mod rank;
mod series;

pub use autocovariance::autocovariance;
use autocovariance::MeanAutocovariance;
pub use rank::{normal_quantile, z_scale};
pub use series::{coordinate_block_series, coordinate_series, ChainSeries};

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
pub fn ess<C: AsRef<[f64]> + Sync>(chains: &[C]) -> f64 {
    match ess_start(chains) {
        EssStart::Done(ess) => ess,
        EssStart::Means(means) => geyer(&mut MeanAutocovariance::new(chains, &means), &means),
    }
}

/// [`ess`] of chains it may overwrite: they are centred in place for the
/// autocovariances (no copy; the same value).
fn ess_overwriting(chains: &mut [&mut [f64]]) -> f64 {
    match ess_start(chains) {
        EssStart::Done(ess) => ess,
        EssStart::Means(means) => geyer(&mut MeanAutocovariance::centring(chains, &means), &means),
    }
}

/// What [`ess`] knows before the autocovariances.
enum EssStart {
    /// NaN (fewer than 4 draws, unequal lengths, a non-finite value) or,
    /// for a constant series, m n.
    Done(f64),
    /// Each chain's mean.
    Means(Vec<f64>),
}

fn ess_start<C: AsRef<[f64]>>(chains: &[C]) -> EssStart {
    let m = chains.len();
    let n = first_len(chains);
    if m == 0
        || n < 4
        || chains
            .iter()
            .map(AsRef::as_ref)
            .any(|c| c.len() != n || c.iter().any(|v| !v.is_finite()))
    {
        return EssStart::Done(f64::NAN);
    }
    let (lo, hi) = chains
        .iter()
        .flat_map(|c| c.as_ref().iter())
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &v| {
            (a.min(v), b.max(v))
        });
    if hi - lo < 1e-15 {
        return EssStart::Done((m * n) as f64);
    }
    let nf = n as f64;
    EssStart::Means(
        chains
            .iter()
            .map(|c| c.as_ref().iter().sum::<f64>() / nf)
            .collect(),
    )
}

/// Geyer's initial monotone sequence of [`ess`] from the chains' mean
/// autocovariance and their `means`.
fn geyer(acov: &mut MeanAutocovariance, means: &[f64]) -> f64 {
    let (m, n) = (means.len(), acov.len());
    let nf = n as f64;
    let mut mean_acov = |t: usize| acov.at(t);
    let w = mean_acov(0) * nf / (nf - 1.0);
    let mut var_plus = w * (nf - 1.0) / nf;
    if m > 1 {
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
pub fn split_chains<C: AsRef<[f64]>>(chains: &[C]) -> Vec<Vec<f64>> {
    split_views(chains).into_iter().map(<[f64]>::to_vec).collect()
}

/// [`split_chains`] as views of the chains (no copy).
fn split_views<C: AsRef<[f64]>>(chains: &[C]) -> Vec<&[f64]> {
    let n = chains.first().map_or(0, |c| c.as_ref().len());
    let half = n / 2;
    chains
        .iter()
        .flat_map(|c| {
            let c = c.as_ref();
            [&c[..half], &c[n - half..]]
        })
        .collect()
}

/// The length of the first chain (0 for none).
fn first_len<C: AsRef<[f64]>>(chains: &[C]) -> usize {
    chains.first().map_or(0, |c| c.as_ref().len())
}

/// R-hat of chains as given: with W the mean within-chain variance and B/n
/// the variance of the chain means, sqrt(((n-1)/n W + B/n) / W).
fn rhat<C: AsRef<[f64]>>(chains: &[C]) -> f64 {
    let m = chains.len() as f64;
    let n = first_len(chains) as f64;
    if m < 2.0 || n < 2.0 {
        return f64::NAN;
    }
    let means: Vec<f64> = chains
        .iter()
        .map(|c| c.as_ref().iter().sum::<f64>() / n)
        .collect();
    let w = chains
        .iter()
        .zip(&means)
        .map(|(c, mu)| c.as_ref().iter().map(|v| (v - mu).powi(2)).sum::<f64>() / (n - 1.0))
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
pub fn split_rhat<C: AsRef<[f64]>>(chains: &[C]) -> f64 {
    if first_len(chains) < 4 {
        return f64::NAN;
    }
    rhat(&split_views(chains))
}

/// Rank-normalised split R-hat (Vehtari et al. 2021): the larger of split
/// R-hat on the rank-normalised draws (the bulk) and on the
/// rank-normalised folded draws |x - median| (the tails, which catch
/// chains that agree in location but not in scale). Needs 2 chains of 4
/// draws or more (NaN otherwise).
pub fn rank_rhat<C: AsRef<[f64]>>(chains: &[C]) -> f64 {
    if chains.len() < 2 || first_len(chains) < 4 {
        return f64::NAN;
    }
    let split = split_views(chains);
    let med = median(split.iter().flat_map(|c| c.iter()).copied().collect());
    let folded: Vec<Vec<f64>> = split
        .iter()
        .map(|c| c.iter().map(|v| (v - med).abs()).collect())
        .collect();
    rhat(&z_scale(&split)).max(rhat(&z_scale(&folded)))
}

/// The median of `v` by selection (the mean of the middle two for an
/// even length); `v` is reordered.
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
pub fn ess_mean<C: AsRef<[f64]>>(chains: &[C]) -> f64 {
    if first_len(chains) < 4 {
        return f64::NAN;
    }
    ess(&split_views(chains))
}

/// Bulk ESS (Vehtari et al. 2021): [`ess`] of the rank-normalised split
/// chains, the ESS of the distribution's centre whatever its tails.
pub fn ess_bulk<C: AsRef<[f64]>>(chains: &[C]) -> f64 {
    if first_len(chains) < 4 {
        return f64::NAN;
    }
    ess(&z_scale(&split_views(chains)))
}

/// Tail ESS (Vehtari et al. 2021): the smaller ESS of the indicators
/// I(x <= q_0.05) and I(x <= q_0.95) on the split chains, with the
/// quantiles of all draws (type 7: linear between order statistics).
pub fn ess_tail<C: AsRef<[f64]>>(chains: &[C]) -> f64 {
    if first_len(chains) < 4 {
        return f64::NAN;
    }
    let mut all: Vec<f64> = chains.iter().flat_map(|c| c.as_ref().iter()).copied().collect();
    let q = TAIL_PROBS.map(|p| quantile(&mut all, p));
    tail_ess_at(&split_views(chains), q)
}

/// The tail probabilities of [`ess_tail`].
const TAIL_PROBS: [f64; 2] = [0.05, 0.95];

/// The smaller [`ess`] of the indicators I(x <= q) of the split chains
/// `split` at the two tail quantiles `q`.
fn tail_ess_at(split: &[&[f64]], q: [f64; 2]) -> f64 {
    let half = first_len(split);
    q.iter()
        .map(|&q| {
            let mut ind: Vec<f64> = split
                .iter()
                .flat_map(|c| c.iter())
                .map(|&v| (v <= q) as u8 as f64)
                .collect();
            ess_overwriting(&mut ind.chunks_mut(half.max(1)).collect::<Vec<_>>())
        })
        .fold(f64::INFINITY, f64::min)
}

/// The p-quantile of `values`, type 7 ([`rank::type7`]), its two order
/// statistics selected (O(S)), not sorted for; `values` is reordered.
fn quantile(values: &mut [f64], p: f64) -> f64 {
    rank::type7(values.len(), p, |lo| {
        let (_, x_lo, above) = values.select_nth_unstable_by(lo, f64::total_cmp);
        // the next order statistic is the smallest of those above
        let x_hi = above.iter().copied().min_by(f64::total_cmp).unwrap_or(*x_lo);
        (*x_lo, x_hi)
    })
}

/// Monte Carlo standard error of the mean: the standard deviation of all
/// draws over sqrt([`ess_mean`]).
pub fn mcse_mean<C: AsRef<[f64]>>(chains: &[C]) -> f64 {
    mcse_with(chains, ess_mean(chains))
}

/// The standard deviation of all draws over sqrt(`ess`).
fn mcse_with<C: AsRef<[f64]>>(chains: &[C], ess: f64) -> f64 {
    let all = || chains.iter().flat_map(|c| c.as_ref().iter());
    let s = all().count() as f64;
    let mean = all().sum::<f64>() / s;
    let sd = (all().map(|v| (v - mean).powi(2)).sum::<f64>() / (s - 1.0)).sqrt();
    sd / ess.sqrt()
}

/// Every diagnostic of one quantity, as [`ess_mean`], [`split_rhat`],
/// [`ess_bulk`], [`ess_tail`], [`rank_rhat`] and [`mcse_mean`] give them
/// (the same values, to the bit), with the work they share done once and
/// nothing copied that a view will do: the split, one sort of its draws
/// (the rank normalisation, the tail quantiles, the median and, by a
/// merge, the ranks of the folded draws), the ESS for the mean.
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
    pub fn of<C: AsRef<[f64]> + Sync>(chains: &[C]) -> Self {
        let n = first_len(chains);
        if n < 4 {
            return Self {
                ess_mean: f64::NAN,
                split_rhat: f64::NAN,
                ess_bulk: f64::NAN,
                ess_tail: f64::NAN,
                rank_rhat: f64::NAN,
                mcse_mean: mcse_with(chains, f64::NAN),
            };
        }
        if chains.iter().any(|c| c.as_ref().iter().any(|v| !v.is_finite())) {
            // a diverged chain: the functions themselves (the merge of the
            // folded ranks assumes finite draws)
            return Self {
                ess_mean: ess_mean(chains),
                split_rhat: split_rhat(chains),
                ess_bulk: ess_bulk(chains),
                ess_tail: ess_tail(chains),
                rank_rhat: rank_rhat(chains),
                mcse_mean: mcse_mean(chains),
            };
        }
        let split = split_views(chains);
        let ess_mean = ess(&split);
        let ranking = rank::Ranking::new(&split);
        let (ess_bulk, bulk_rhat) = {
            let mut z = ranking.normal_scores();
            let bulk_rhat = rhat(&z.chunks(n / 2).collect::<Vec<_>>());
            (
                ess_overwriting(&mut z.chunks_mut(n / 2).collect::<Vec<_>>()),
                bulk_rhat,
            )
        };
        // with an even length the split holds every draw, so its order
        // statistics are the quantiles of all draws
        let ess_tail = if n % 2 == 0 {
            tail_ess_at(&split, TAIL_PROBS.map(|p| ranking.quantile(p)))
        } else {
            ess_tail(chains)
        };
        let rank_rhat = if chains.len() < 2 {
            f64::NAN
        } else {
            let z = ranking.folded_normal_scores(ranking.median());
            let z_split: Vec<&[f64]> = z.chunks(n / 2).collect();
            bulk_rhat.max(rhat(&z_split))
        };
        Self {
            ess_mean,
            split_rhat: rhat(&split),
            ess_bulk,
            ess_tail,
            rank_rhat,
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

#[cfg(test)]
mod tests {
    use super::autocovariance::DIRECT_LAGS;
    use super::*;
    use rand::{Rng, SeedableRng};

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

    /// The direct lags agree with the FFT's, a far slower series goes to
    /// the FFT after the first block of lags, and a slowly mixing series
    /// (Geyer's sequence past DIRECT_LAGS) gets the FFT's ESS: phi = 0.98
    /// has ESS / N = (1 - phi) / (1 + phi) = 0.0101.
    #[test]
    fn direct_lags_agree_with_the_fft() {
        let chains = ar1(4, 3001, 0.7, 5);
        let means: Vec<f64> = chains.iter().map(|c| c.iter().sum::<f64>() / 3001.0).collect();
        let mut direct = MeanAutocovariance::new(&chains, &means);
        let mut fft = MeanAutocovariance::new(&chains, &means);
        fft.all_by_fft();
        for t in 0..DIRECT_LAGS {
            assert!((direct.at(t) - fft.at(t)).abs() < 1e-12, "lag {t}");
        }
        assert!(!direct.by_fft());
        direct.at(DIRECT_LAGS);
        assert!(direct.by_fft());
        // a chain far slower than the direct lags goes to the FFT after
        // the first block; one that mixes does not
        let very_slow = ar1(4, 20_000, 0.999, 7);
        let very_slow_means: Vec<f64> = very_slow
            .iter()
            .map(|c| c.iter().sum::<f64>() / 20_000.0)
            .collect();
        let mut early = MeanAutocovariance::new(&very_slow, &very_slow_means);
        for t in 0..=8 {
            early.at(t);
        }
        assert!(early.by_fft());
        let mut every = MeanAutocovariance::new(&very_slow, &very_slow_means);
        every.all_by_fft();
        assert_eq!(early.at(500).to_bits(), every.at(500).to_bits());
        let mut fast = MeanAutocovariance::new(&chains, &means);
        for t in 0..=8 {
            fast.at(t);
        }
        assert!(!fast.by_fft());
        let slow = ar1(4, 50_000, 0.98, 6);
        let ratio = ess(&slow) / 200_000.0;
        assert!((ratio - 0.0101).abs() < 0.002, "{ratio}");
        // centred in place, by the direct lags and by the FFT: ess's bits
        for set in [&chains, &slow] {
            let mut owned = set.clone();
            let mut views: Vec<&mut [f64]> = owned.iter_mut().map(Vec::as_mut_slice).collect();
            assert_eq!(ess_overwriting(&mut views).to_bits(), ess(set).to_bits());
        }
    }

    /// QuantityDiagnostics::of gives each function's value to the bit, with
    /// ties (repeated values, as rejected proposals make), odd and even
    /// lengths (the tail quantiles from the ranking or by selection),
    /// folded draws tied across the median, signed zeros, a constant
    /// quantity, a diverged chain and a single chain.
    #[test]
    fn shared_work_gives_each_function_s_values() {
        let mut chains = ar1(3, 501, 0.5, 7);
        for c in &mut chains {
            for i in (0..c.len()).step_by(3) {
                c[i] = (c[i] * 4.0).round() / 4.0;
            }
            c[10] = c[9];
        }
        let even: Vec<Vec<f64>> = chains.iter().map(|c| c[..500].to_vec()).collect();
        let mirrored = [
            vec![-1.0, 1.0, 0.0, -0.0, 2.0, -2.0, 0.5, -0.5, 3.0, -0.25],
            vec![1.0, -1.0, -0.0, 0.0, 0.25, -2.0, 2.0, 1.0, -3.0, 0.5],
        ];
        let mut diverged = even.clone();
        diverged[1][7] = f64::INFINITY;
        let constant = vec![vec![3.0; 8]; 2];
        let sets = [
            &chains[..],
            &even[..],
            &chains[..1],
            &mirrored[..],
            &diverged[..],
            &constant[..],
            &[vec![1.0, 2.0, 3.0]][..],
        ];
        for set in sets {
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

    /// The same on random chains of few distinct values (ties within and
    /// across the median's sides), of every length from 4 to 41 and 1 to
    /// 4 chains.
    #[test]
    fn shared_work_agrees_on_random_ties() {
        let mut r = rand_chacha::ChaCha8Rng::seed_from_u64(11);
        for n in 4..42 {
            let m = 1 + n % 4;
            let chains: Vec<Vec<f64>> = (0..m)
                .map(|_| (0..n).map(|_| r.random_range(-3..=3) as f64 * 0.5).collect())
                .collect();
            let got = QuantityDiagnostics::of(&chains).to_array();
            let want = [
                ess_mean(&chains),
                split_rhat(&chains),
                ess_bulk(&chains),
                ess_tail(&chains),
                rank_rhat(&chains),
                mcse_mean(&chains),
            ];
            assert_eq!(
                got.map(f64::to_bits),
                want.map(f64::to_bits),
                "n {n}: {got:?} {want:?}"
            );
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
