//! Ratio matching (Hyvarinen 2007) for discrete models.

use super::site_changes::{SiteChanges, Sites};
use crate::capability::{CapabilityObjective, EnergyCapability};
use crate::error::Result;
use ebm_core::math::sigmoid;
use ebm_core::{ChainRng, Points};

/// Ratio matching (Hyvarinen 2007): the mean over data of
///
/// sum_i g(p(x) / p(x^(i)))^2,  g(u) = 1 / (1 + u),
///
/// with x^(i) the datum with unit i set to its other value; since
/// p(x) / p(x^(i)) = exp(Delta_i), Delta_i = E(x^(i)) - E(x), each term is
/// sigmoid(-Delta_i)^2 and needs no log Z. For categorical sites every
/// other state a of site i is one such term (Delta_ia = E(x with x_i = a) -
/// E(x)), the binary case being q = 2. The gradient, with s = sigmoid(-Delta),
/// is sum -2 s^2 (1 - s) (grad E(x^(i)) - grad E(x)): weights
/// 2 s^2 (1 - s) / n on the data and the opposite on each changed row,
/// against the energy capability.
#[derive(Clone, Debug, Default)]
pub struct RatioMatching {
    sites: Option<Sites>,
}

impl RatioMatching {
    /// Ratio matching.
    pub fn new() -> Self {
        Self::default()
    }
}

impl CapabilityObjective for RatioMatching {
    fn name(&self) -> String {
        "ratio".into()
    }

    fn prepare(&mut self, model: &mut dyn EnergyCapability, data: &Points, _seed: u64) -> Result<()> {
        self.sites = Some(Sites::prepared(model, data, "ratio matching")?);
        Ok(())
    }

    fn loss_grad(
        &mut self,
        model: &mut dyn EnergyCapability,
        batch: &Points,
        _rng: &mut ChainRng,
        grads: &mut [Vec<f64>],
    ) -> Result<f64> {
        let ch = SiteChanges::of_batch(self.sites.as_ref(), "ratio matching", model, batch)?;
        let n = batch.len() as f64;
        let mut loss = 0.0;
        let mut w0 = vec![0.0; batch.len()];
        let mut w = vec![0.0; ch.delta.len()];
        for ((&d, &(r, _)), wk) in ch.delta.iter().zip(&ch.of).zip(w.iter_mut()) {
            let s = sigmoid(-d);
            loss += s * s;
            let g = 2.0 * s * s * (1.0 - s) / n;
            *wk = -g;
            w0[r] += g;
        }
        ch.add_grad(model, batch, &w0, &w, grads)?;
        Ok(loss / n)
    }
}
