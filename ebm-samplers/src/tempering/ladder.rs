//! Ladders of inverse temperatures: the fixed geometric one, and the
//! update that equalises the swap rejection rates (Syed, Bouchard-Côté,
//! Deligiannidis and Doucet 2021, "Non-reversible parallel tempering").

use crate::error::{invalid, Result};
use serde::{Deserialize, Serialize};

/// How the ladder is chosen.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LadderKind {
    /// Fixed: geometric from the smallest positive beta to 1
    /// ([`geometric`]).
    Geometric,
    /// Geometric to start, then moved during warm-up so that every
    /// neighbouring pair rejects swaps at the same rate ([`equalize`]);
    /// the default.
    #[default]
    Adaptive,
}

/// The geometric ladder of `k >= 2` inverse temperatures ending at 1.
///
/// With an exactly sampled reference (`reference_at_zero`), beta_0 = 0 and
/// beta_1 < ... < beta_{k-1} = 1 are spaced geometrically from `beta_min`
/// (beta_j = beta_min^((k-1-j)/(k-2)); two temperatures are just 0 and 1).
/// Without one (a hot chain), beta_j = beta_min^((k-1-j)/(k-1)), so
/// beta_0 = beta_min.
pub fn geometric(k: usize, beta_min: f64, reference_at_zero: bool) -> Result<Vec<f64>> {
    if k < 2 {
        return Err(invalid("replicas", format!("must be at least 2, got {k}")));
    }
    if !(beta_min > 0.0 && beta_min < 1.0) {
        return Err(invalid("beta_min", format!("must be in (0, 1), got {beta_min}")));
    }
    let spaced = |n: usize| -> Vec<f64> {
        // n >= 1 temperatures geometric from beta_min to 1 (just 1 when n = 1)
        (0..n)
            .map(|j| {
                if n == 1 || j == n - 1 {
                    1.0
                } else {
                    beta_min.powf((n - 1 - j) as f64 / (n - 1) as f64)
                }
            })
            .collect()
    };
    Ok(if reference_at_zero {
        std::iter::once(0.0).chain(spaced(k - 1)).collect()
    } else {
        spaced(k)
    })
}

/// The global communication barrier Lambda = sum_k r_k of the rejection
/// rates r_k of neighbouring pairs: the integral of the local barrier
/// lambda(beta) over the path, which a ladder estimates whatever its
/// spacing (Syed et al. 2021, section 4).
pub fn barrier(rejection: &[f64]) -> f64 {
    rejection.iter().sum()
}

/// The round-trip rate of non-reversible (deterministic even-odd)
/// parallel tempering on this ladder when each temperature mixes well
/// between swaps: 1 / (2 + 2 sum_j r_j / (1 - r_j)) round trips per scan,
/// all replicas together, from the rejection rates r_j of the pairs
/// (Syed et al. 2021, theorem 1). Below it, the temperatures' own kernels
/// are the bottleneck.
pub fn predicted_round_trip_rate(rejection: &[f64]) -> f64 {
    1.0 / (2.0 + 2.0 * rejection.iter().map(|r| r / (1.0 - r)).sum::<f64>())
}

/// The rate [`predicted_round_trip_rate`] approaches as the ladder fills
/// in (every r_j -> 0 with their sum -> Lambda): 1 / (2 + 2 Lambda), the
/// most any number of temperatures can give.
pub fn round_trip_rate_limit(barrier: f64) -> f64 {
    1.0 / (2.0 + 2.0 * barrier)
}

/// The ladder with the same end points and number of temperatures whose
/// pairs share the communication barrier equally: with the cumulative
/// barrier Lambda(beta_j) = r_0 + ... + r_{j-1} interpolated linearly
/// between the old temperatures (it is non-decreasing), the new
/// beta'_j = Lambda^{-1}(j Lambda / (k - 1)). Each r_j is floored at 1e-6
/// so that a pair that never rejects still occupies a little of the path;
/// a ladder whose pairs never reject at all is returned unchanged.
pub fn equalize(betas: &[f64], rejection: &[f64]) -> Vec<f64> {
    let k = betas.len();
    assert_eq!(rejection.len() + 1, k, "equalize: one rate per neighbouring pair");
    if k < 3 || rejection.iter().all(|&r| r.is_nan() || r <= 0.0) {
        return betas.to_vec();
    }
    let mut cum = Vec::with_capacity(k);
    cum.push(0.0);
    for &r in rejection {
        let r = if r.is_finite() { r.max(1e-6) } else { 1.0 };
        cum.push(cum.last().copied().unwrap_or(0.0) + r);
    }
    let total = cum[k - 1];
    let mut out = Vec::with_capacity(k);
    out.push(betas[0]);
    let mut seg = 0;
    for j in 1..k - 1 {
        let t = total * j as f64 / (k - 1) as f64;
        while seg + 1 < k - 1 && cum[seg + 1] < t {
            seg += 1;
        }
        let (l0, l1) = (cum[seg], cum[seg + 1]);
        let f = ((t - l0) / (l1 - l0)).clamp(0.0, 1.0);
        out.push(betas[seg] + f * (betas[seg + 1] - betas[seg]));
    }
    out.push(betas[k - 1]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn geometric_ladders_have_their_end_points_and_ratios() {
        let b = geometric(5, 1e-3, true).unwrap();
        assert_eq!(b[0], 0.0);
        assert_eq!(b[4], 1.0);
        assert!((b[1] - 1e-3).abs() < 1e-15);
        // beta_min^(2/3), beta_min^(1/3): equal ratios between positive betas
        assert!((b[2] / b[1] - b[3] / b[2]).abs() < 1e-9);
        let h = geometric(4, 0.01, false).unwrap();
        assert!((h[0] - 0.01).abs() < 1e-15 && h[3] == 1.0);
        assert_eq!(geometric(2, 0.5, true).unwrap(), vec![0.0, 1.0]);
        assert!(geometric(1, 0.5, true).is_err());
        assert!(geometric(3, 1.0, true).is_err());
        assert!(geometric(3, 0.0, true).is_err());
    }

    #[test]
    fn equalizing_moves_temperatures_towards_the_rejecting_pair() {
        // All rejection in the first pair: the new ladder crowds it.
        let b = vec![0.0, 0.25, 0.5, 0.75, 1.0];
        let n = equalize(&b, &[0.9, 0.1, 0.1, 0.1]);
        assert_eq!((n[0], n[4]), (0.0, 1.0));
        assert!(n.windows(2).all(|w| w[0] < w[1]));
        assert!(n[1] < 0.25 && n[2] < 0.5);
        // Lambda = 1.2: each new pair carries 0.3; the first old pair
        // carries 0.9 over beta 0..0.25, so beta'_1 = 0.25 * 0.3 / 0.9.
        assert!((n[1] - 0.25 / 3.0).abs() < 1e-12);
        // Equal rates leave the ladder where it is.
        let same = equalize(&b, &[0.3; 4]);
        for (x, y) in same.iter().zip(&b) {
            assert!((x - y).abs() < 1e-12);
        }
        // No rejection at all: unchanged.
        assert_eq!(equalize(&b, &[0.0; 4]), b);
    }

    #[test]
    fn the_predicted_round_trip_rate_matches_a_simulated_index_process() {
        use super::super::swaps::IndexProcess;
        use rand::Rng;
        assert_eq!(predicted_round_trip_rate(&[0.0; 5]), 0.5);
        assert_eq!(round_trip_rate_limit(0.0), 0.5);
        assert!((round_trip_rate_limit(barrier(&[0.5, 0.5])) - 0.25).abs() < 1e-15);
        // Swaps accepted independently with probability 1 - r (what
        // perfectly mixing temperatures give): 8 temperatures, r = 0.3,
        // 400,000 rounds. Predicted 1 / (2 + 2 * 7 * 0.3/0.7) = 0.125; the
        // count's relative spread over this many rounds is under 1%.
        let (k, r) = (8, 0.3);
        let mut rng = ebm_core::chain_rng(5, 0);
        let mut p = IndexProcess::new(k);
        let rounds = 400_000;
        for round in 0..rounds {
            let swap: Vec<bool> = (0..k - 1)
                .map(|j| j % 2 == round % 2 && rng.random::<f64>() >= r)
                .collect();
            p.apply(&swap);
        }
        let rate = p.round_trips as f64 / rounds as f64;
        let want = predicted_round_trip_rate(&[r; 7]);
        assert!((rate / want - 1.0).abs() < 0.03, "{rate} vs {want}");
    }
}
