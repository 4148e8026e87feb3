//! Swaps between neighbouring temperatures, and the index process that
//! counts round trips.

use ebm_core::ChainRng;
use rand::Rng;

/// Decide one chain's swaps of a deterministic even-odd round (Okabe et
/// al. 2001; Syed et al. 2021): the pairs (j, j + 1) with j of the round's
/// `parity` are proposed, each accepted with probability
///
/// alpha_j = min(1, exp((beta_{j+1} - beta_j) (V(x_{j+1}) - V(x_j)))),
///
/// where p_beta ∝ exp(-E_0 - beta V) and V = E - E_0 (swapping the states
/// of two temperatures is a Metropolis move on the product of the
/// tempered distributions; the reference energy E_0 cancels). `v[j]` is
/// V at the state at temperature j. One uniform of `rng` per proposed pair;
/// `alpha[j]` and `swap[j]` are written for the proposed pairs only.
pub(crate) fn decide(
    parity: usize,
    betas: &[f64],
    v: &[f64],
    rng: &mut ChainRng,
    alpha: &mut [f64],
    swap: &mut [bool],
) {
    swap.iter_mut().for_each(|s| *s = false);
    for j in (parity..betas.len().saturating_sub(1)).step_by(2) {
        let log_a = (betas[j + 1] - betas[j]) * (v[j + 1] - v[j]);
        let a = if log_a >= 0.0 {
            1.0
        } else if log_a.is_nan() {
            0.0
        } else {
            log_a.exp()
        };
        let u: f64 = rng.random();
        alpha[j] = a;
        swap[j] = u < a;
    }
}

/// Where a replica last turned, for counting round trips.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Heading {
    /// Not yet at the reference.
    Unknown,
    /// Left the reference, has not reached the target.
    Up,
    /// Reached the target since it left the reference.
    Down,
}

/// The index process of one chain of replicas: which replica (a state
/// that travels between temperatures by swaps) holds each temperature,
/// and its round trips: a round trip is a replica's journey from the
/// reference (temperature 0) to the target (the last) and back.
#[derive(Clone, Debug)]
pub(crate) struct IndexProcess {
    at: Vec<usize>,
    heading: Vec<Heading>,
    /// Completed round trips, all replicas together.
    pub round_trips: u64,
}

impl IndexProcess {
    /// Replica j at temperature j; replica 0 starts at the reference.
    pub(crate) fn new(k: usize) -> Self {
        let mut heading = vec![Heading::Unknown; k];
        heading[0] = Heading::Up;
        Self {
            at: (0..k).collect(),
            heading,
            round_trips: 0,
        }
    }

    /// Apply a round's accepted swaps (`swap[j]`: temperatures j and
    /// j + 1 exchanged their states), then note arrivals at the ends.
    pub(crate) fn apply(&mut self, swap: &[bool]) {
        for (j, _) in swap.iter().enumerate().filter(|(_, &s)| s) {
            self.at.swap(j, j + 1);
        }
        let k = self.at.len();
        let (bottom, top) = (self.at[0], self.at[k - 1]);
        if self.heading[top] == Heading::Up {
            self.heading[top] = Heading::Down;
        }
        if self.heading[bottom] == Heading::Down {
            self.round_trips += 1;
        }
        self.heading[bottom] = Heading::Up;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn always_swapping_gives_half_a_round_trip_per_round() {
        // With every proposed swap accepted, deterministic even-odd rounds
        // move each replica straight up and down the ladder: each of the k
        // replicas completes a round trip every 2k rounds, so the system
        // makes 1/2 per round, the rate 1 / (2 + 2 Lambda) at Lambda = 0.
        let k = 4;
        let mut p = IndexProcess::new(k);
        let rounds = 800;
        for round in 0..rounds {
            let parity = round % 2;
            let swap: Vec<bool> = (0..k - 1).map(|j| j % 2 == parity).collect();
            p.apply(&swap);
        }
        // up to k trips are still under way at the end
        assert!(
            (p.round_trips as i64 - rounds as i64 / 2).abs() <= k as i64,
            "{}",
            p.round_trips
        );
        // Never swapping: no round trips.
        let mut q = IndexProcess::new(k);
        for _ in 0..100 {
            q.apply(&[false; 3]);
        }
        assert_eq!(q.round_trips, 0);
    }

    #[test]
    fn swaps_that_lower_the_colder_levels_potential_are_always_accepted() {
        let mut rng = ebm_core::chain_rng(1, 0);
        let betas = [0.0, 0.5, 1.0];
        let (mut alpha, mut swap) = ([f64::NAN; 2], [false; 2]);
        // V lower at the hotter level: handing that state to the colder
        // level is always accepted.
        decide(0, &betas, &[1.0, 5.0, 0.0], &mut rng, &mut alpha, &mut swap);
        assert_eq!(alpha[0], 1.0);
        assert!(swap[0] && !swap[1]);
        // The reverse costs exp(-0.5 * 4).
        decide(0, &betas, &[5.0, 1.0, 0.0], &mut rng, &mut alpha, &mut swap);
        assert!((alpha[0] - (-2.0f64).exp()).abs() < 1e-15);
        decide(1, &betas, &[0.0, f64::NAN, 1.0], &mut rng, &mut alpha, &mut swap);
        assert_eq!(alpha[1], 0.0);
        assert!(!swap[1]);
    }
}
