//! Ranks of a quantity's draws: one sort gives the rank normalisation,
//! the order statistics (quantiles, the median) and, by a merge, the
//! ranks of the folded draws |x - median|.

use rayon::prelude::*;
use std::sync::{Arc, Mutex, OnceLock, PoisonError};

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

/// The draws of a quantity in increasing order, each with its position
/// among the draws of its chains (chain after chain): the one sort that
/// the rank normalisation and the order statistics share.
pub(super) struct Ranking {
    /// (key, position) pairs sorted by key, the key an integer in the
    /// order of f64::total_cmp (compared faster than the floats); the
    /// order among equal values does not matter, as they share their mean
    /// rank.
    order: Vec<(i64, usize)>,
}

/// The integer whose order is `f64::total_cmp`'s.
#[inline(always)]
fn key(v: f64) -> i64 {
    let b = v.to_bits() as i64;
    b ^ (((b >> 63) as u64) >> 1) as i64
}

/// The value of a [`key`].
#[inline(always)]
fn value(k: i64) -> f64 {
    f64::from_bits((k ^ (((k >> 63) as u64) >> 1) as i64) as u64)
}

impl Ranking {
    /// The draws of `chains`, sorted (in parallel: which of equal values
    /// comes first may vary, and nothing computed from a ranking depends
    /// on it).
    pub(super) fn new<C: AsRef<[f64]>>(chains: &[C]) -> Self {
        let mut order: Vec<(i64, usize)> = chains
            .iter()
            .flat_map(|c| c.as_ref().iter())
            .map(|&v| key(v))
            .zip(0..)
            .collect();
        order.par_sort_unstable_by_key(|p| p.0);
        Self { order }
    }

    /// The k-th smallest draw (from 0).
    pub(super) fn at(&self, k: usize) -> f64 {
        value(self.order[k].0)
    }

    /// The number of draws.
    pub(super) fn len(&self) -> usize {
        self.order.len()
    }

    /// Rank normalisation (Vehtari et al. 2021): each draw, at its
    /// position, replaced by Phi^-1((r - 3/8) / (S + 1/4)), r its rank
    /// among all S draws (ties get their average rank; Blom's offsets).
    pub(super) fn normal_scores(&self) -> Vec<f64> {
        let order = &self.order;
        let s = order.len();
        let mut z = vec![0.0; s];
        let scores = RankScores::new(s);
        let mut i = 0;
        while i < s {
            let mut j = i + 1;
            // equal as numbers (0 and -0 too)
            while j < s && value(order[j].0) == value(order[i].0) {
                j += 1;
            }
            let q = scores.of_ranks(i, j);
            for &(_, k) in &order[i..j] {
                z[k] = q;
            }
            i = j;
        }
        z
    }

    /// The rank normalisation of the folded draws |x - `centre`| for a
    /// finite `centre`, from this ranking of finite draws in O(S): the
    /// draws below the centre, walked down from it, and those from it up
    /// each come in increasing folded order (a rounded difference is
    /// monotone in x), so the folded order is the merge of the two walks;
    /// the scores are then those of [`Ranking::normal_scores`] of the
    /// folded draws.
    pub(super) fn folded_normal_scores(&self, centre: f64) -> Vec<f64> {
        let order = &self.order;
        let s = order.len();
        let folded = |i: usize| (value(order[i].0) - centre).abs();
        let mut z = vec![0.0; s];
        let scores = RankScores::new(s);
        // below: order[..lo] (the next is order[lo - 1]); above: order[hi..]
        let (mut lo, mut hi) = {
            let p = order.partition_point(|&(k, _)| value(k) < centre);
            (p, p)
        };
        let mut ranked = 0;
        while ranked < s {
            let f = match (lo > 0, hi < s) {
                (true, true) => folded(lo - 1).min(folded(hi)),
                (true, false) => folded(lo - 1),
                _ => folded(hi),
            };
            // the ties of f lead both walks
            let mut a = lo;
            while a > 0 && folded(a - 1) == f {
                a -= 1;
            }
            let mut b = hi;
            while b < s && folded(b) == f {
                b += 1;
            }
            let next = ranked + (lo - a) + (b - hi);
            let q = scores.of_ranks(ranked, next);
            for &(_, k) in order[a..lo].iter().chain(&order[hi..b]) {
                z[k] = q;
            }
            (ranked, lo, hi) = (next, a, b);
        }
        z
    }

    /// The median of the draws (the mean of the middle two for an even
    /// number).
    pub(super) fn median(&self) -> f64 {
        let s = self.len();
        if s % 2 == 1 {
            self.at(s / 2)
        } else {
            0.5 * (self.at(s / 2 - 1) + self.at(s / 2))
        }
    }

    /// The p-quantile of the draws, type 7 ([`type7`]).
    pub(super) fn quantile(&self, p: f64) -> f64 {
        let s = self.len();
        type7(s, p, |lo| (self.at(lo), self.at((lo + 1).min(s - 1))))
    }
}

/// The p-quantile of S values, type 7 (R's default, numpy's linear):
/// with x_(k) the k-th smallest (from 0) and h = (S - 1) p,
/// x_([h]) + (h - [h]) (x_([h]+1) - x_([h])); `pair(k)` gives
/// (x_(k), x_(k+1)), x_(k) twice for the largest.
pub(super) fn type7(s: usize, p: f64, pair: impl FnOnce(usize) -> (f64, f64)) -> f64 {
    let h = (s - 1) as f64 * p;
    let lo = h.floor() as usize;
    let (x_lo, x_hi) = pair(lo);
    x_lo + (h - lo as f64) * (x_hi - x_lo)
}

/// Blom's scores Phi^-1((r - 3/8) / (S + 1/4)) of the ranks of S draws.
struct RankScores {
    s: usize,
    /// The scores of the whole ranks 1..=S.
    whole: Arc<RankTable>,
}

/// The scores of the whole ranks 1..=S, made once per S and shared by
/// every thread (every coordinate of a run has the same S, and a table
/// per thread would double the diagnostics' largest buffer).
struct RankTable {
    s: usize,
    scores: OnceLock<Vec<f64>>,
}

/// The last table made.
static RANK_TABLE: Mutex<Option<Arc<RankTable>>> = Mutex::new(None);

impl RankScores {
    fn new(s: usize) -> Self {
        let table = {
            let mut last = RANK_TABLE.lock().unwrap_or_else(PoisonError::into_inner);
            match &*last {
                Some(t) if t.s == s => t.clone(),
                _ => {
                    let t = Arc::new(RankTable {
                        s,
                        scores: OnceLock::new(),
                    });
                    *last = Some(t.clone());
                    t
                }
            }
        };
        table.scores.get_or_init(|| Self::whole_ranks(s));
        Self { s, whole: table }
    }

    /// The scores of ranks 1..=s, on as many threads as rayon has, but
    /// threads of their own: the table is made inside a `OnceLock` that
    /// other coordinates wait on, and a rayon job here could have its
    /// thread pick up another coordinate's wait for this very table.
    fn whole_ranks(s: usize) -> Vec<f64> {
        let fill = move |first: usize, chunk: &mut [f64]| {
            for (i, v) in chunk.iter_mut().enumerate() {
                *v = Self::blom(s, (first + i + 1) as f64);
            }
        };
        let mut scores = vec![0.0; s];
        let part = s.div_ceil(rayon::current_num_threads().max(1)).max(1 << 16);
        let spawned = std::thread::scope(|scope| {
            scores.chunks_mut(part).enumerate().all(|(k, chunk)| {
                std::thread::Builder::new()
                    .spawn_scoped(scope, move || fill(k * part, chunk))
                    .is_ok()
            })
        });
        if !spawned {
            // no thread to be had: on this one
            fill(0, &mut scores);
        }
        scores
    }

    fn blom(s: usize, r: f64) -> f64 {
        normal_quantile((r - 0.375) / (s as f64 + 0.25))
    }

    /// The score shared by ranks i + 1 ..= j (a group of ties gets their
    /// mean rank).
    #[inline]
    fn of_ranks(&self, i: usize, j: usize) -> f64 {
        // a whole mean rank when i + 1 + j is even
        match self.whole.scores.get() {
            Some(table) if (i + 1 + j) % 2 == 0 => table[(i + 1 + j) / 2 - 1],
            _ => Self::blom(self.s, (i + 1 + j) as f64 / 2.0),
        }
    }
}

/// Rank normalisation (Vehtari et al. 2021): every draw of every chain
/// replaced by Phi^-1((r - 3/8) / (S + 1/4)), r its rank among all S
/// draws (ties get their average rank; Blom's offsets).
pub fn z_scale<C: AsRef<[f64]>>(chains: &[C]) -> Vec<Vec<f64>> {
    let n = chains.first().map_or(0, |c| c.as_ref().len());
    Ranking::new(chains)
        .normal_scores()
        .chunks(n.max(1))
        .map(<[f64]>::to_vec)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The whole-rank table made in parts on threads of its own is the
    /// scores one by one, past one part.
    #[test]
    fn whole_rank_table_is_each_score() {
        let s = 3 * (1 << 16) + 5;
        let table = RankScores::whole_ranks(s);
        assert_eq!(table.len(), s);
        for r in [1, 2, 1 << 16, (1 << 16) + 1, 2 * (1 << 16) + 7, s] {
            assert_eq!(
                table[r - 1].to_bits(),
                RankScores::blom(s, r as f64).to_bits(),
                "rank {r}"
            );
        }
    }
}
