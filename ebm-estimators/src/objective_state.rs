//! What an objective carries from one step to the next besides the
//! model's parameters (for checkpoints).

use crate::error::{EstimatorError, Result};
use ebm_core::RngPosition;
use serde::{Deserialize, Serialize};

/// What an objective carries from one step to the next besides its
/// parameters, for checkpoints: the negative chains' random streams,
/// persistent chains, the replay buffer. Empty for DSM and NCE.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ObjectiveState {
    /// Where each chain's random stream stands.
    pub rngs: Vec<RngPosition>,
    /// PCD's persistent chains, row-major (empty otherwise).
    pub chains: Vec<f64>,
    /// The replay buffer, row-major (empty otherwise).
    pub buffer: Vec<f64>,
    /// Chains reset so far after leaving the finite numbers.
    pub resets: usize,
}

impl ObjectiveState {
    /// Whether nothing is carried.
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }

    /// Refuse a checkpoint that carries sampler state to an objective
    /// (`who`) that keeps none.
    pub fn expect_empty(&self, who: &str) -> Result<()> {
        if self.is_empty() {
            Ok(())
        } else {
            Err(EstimatorError::Checkpoint(format!(
                "it holds sampler state (chains, streams) that the objective `{who}` does not use"
            )))
        }
    }
}
