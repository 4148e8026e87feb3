//! Parallel tempering (replica exchange) around any kernel, with a fixed
//! geometric ladder or one that adapts to equalise the swap rates.
//!
//! A ladder 0 <= beta_0 < beta_1 < ... < beta_{K-1} = 1 of inverse
//! temperatures joins a reference (beta_0) to the target:
//!
//! p_beta(x) ∝ exp(-E_0(x) - beta V(x)),  V = E - E_0,
//!
//! where E_0 is an exactly sampled base for continuous models
//! ([`Reference::Base`]: the path E_beta = (1 - beta) E_0 + beta E), the
//! uniform distribution for binary ones ([`Reference::Uniform`]: E_0 = 0,
//! beta_0 = 0), or nothing at all for a hot chain ([`Reference::Hot`]:
//! E_beta = beta E from beta_0 = beta_min > 0). Each of N chains is a
//! system of K replicas, one per temperature. An iteration (a *scan*)
//! draws the reference exactly (where it is drawn) and moves every other
//! temperature by one step of its own copy of the inner kernel (HMC, MALA,
//! NUTS or Gibbs; each temperature adapts its own step size and metric
//! during warm-up), then proposes swaps between neighbouring temperatures,
//! accepted with probability min(1, exp((beta_{j+1} - beta_j)(V(x_{j+1}) -
//! V(x_j)))). Swaps alternate between the even pairs and the odd pairs
//! (deterministic even-odd, the non-reversible scheme of Syed et al. 2021),
//! which sends replicas along the ladder instead of letting them diffuse:
//! a replica's round trip from the reference to the target and back takes
//! O(Lambda) scans instead of O(K^2).
//!
//! The adaptive ladder ([`LadderKind::Adaptive`]) spends the first half of
//! warm-up in rounds of doubling length; after each round the rejection
//! rates r_j of the pairs estimate the cumulative communication barrier
//! Lambda(beta), and the new ladder spaces Lambda evenly
//! ([`ladder::equalize`]), so every pair swaps at about the same rate
//! 1 - Lambda / (K - 1). The second half of warm-up adapts each
//! temperature's step size and metric afresh on the final ladder.
//!
//! The draws are the target temperature's states after each scan; the
//! [`PtReport`] has the ladder, the swap rate of each pair, each chain's
//! round trips, the observed and predicted round-trip rates and the
//! estimated barrier Lambda.

pub mod ladder;
pub(crate) mod levels;
mod run;
mod swaps;

pub use ladder::LadderKind;
pub use levels::Reference;
pub use run::run_pt;

use crate::driver::{RunConfig, RunOutput};
use serde::{Deserialize, Serialize};

/// Settings of a parallel-tempering run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PtConfig {
    /// Warm-up, burn-in, draws, thinning, adaptation and seed, as for one
    /// kernel; counted in scans. Chain c's temperature j draws from stream
    /// c (K + 1) + j of the seed, its swaps from stream c (K + 1) + K, so
    /// a chain's numbers do not depend on how many chains run beside it.
    pub run: RunConfig,
    /// K, the number of temperatures, the reference and the target
    /// included (at least 2).
    pub replicas: usize,
    /// Adapted during warm-up (the default), or fixed geometric.
    pub ladder: LadderKind,
    /// The smallest positive beta of the geometric ladder, in (0, 1).
    pub beta_min: f64,
    /// Inner steps between swap rounds (at least 1).
    pub swap_every: usize,
}

impl Default for PtConfig {
    fn default() -> Self {
        Self {
            run: RunConfig::default(),
            replicas: 8,
            ladder: LadderKind::Adaptive,
            beta_min: 0.01,
            swap_every: 1,
        }
    }
}

/// What the replicas did.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PtReport {
    /// The ladder used for the kept scans, beta_0 .. beta_{K-1} = 1.
    pub betas: Vec<f64>,
    /// The ladders of warm-up: the initial one, then the one after each
    /// adaptation round (the last is `betas`).
    pub ladders: Vec<Vec<f64>>,
    /// Mean swap acceptance probability of each neighbouring pair
    /// (j, j + 1) over the kept scans.
    pub swap_rates: Vec<f64>,
    /// The estimated global communication barrier Lambda = sum_j (1 -
    /// swap rate_j).
    pub barrier: f64,
    /// Round trips (reference to target and back) of each chain's
    /// replicas over the kept scans.
    pub round_trips: Vec<u64>,
    /// Round trips per scan, the mean over chains.
    pub round_trip_rate: f64,
    /// The rate deterministic even-odd swaps give on this ladder when
    /// every temperature mixes well between swaps, 1 / (2 + 2 sum_j r_j /
    /// (1 - r_j)) (Syed et al. 2021; [`ladder::predicted_round_trip_rate`]).
    /// Well below it, the temperatures' own kernels limit the round trips.
    pub predicted_round_trip_rate: f64,
    /// Its limit on a dense ladder, 1 / (2 + 2 Lambda): what more
    /// temperatures could give at most.
    pub round_trip_rate_limit: f64,
    /// Each temperature's step size after warm-up (NaN at an exactly drawn
    /// reference and for kernels without one).
    pub step_sizes: Vec<f64>,
    /// Each temperature's mean acceptance of its inner kernel over the
    /// kept scans (NaN at an exactly drawn reference).
    pub acceptance: Vec<f64>,
    /// Gradient evaluations of all temperatures over the whole run (the
    /// inner kernels' and the re-evaluations of swapped states; an exact
    /// reference costs one energy evaluation per draw, not counted).
    pub grad_evals: u64,
}

/// The result of [`run_pt`]: the target temperature's run (draws,
/// acceptance, divergences, diagnostics as for one kernel) and the
/// replicas' report.
#[derive(Clone, Debug)]
pub struct PtOutput {
    /// The target temperature's chains and draws.
    pub run: RunOutput,
    /// Ladder, swaps and round trips.
    pub report: PtReport,
}
