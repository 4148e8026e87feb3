//! Pseudo-likelihood (Besag 1975) for discrete models.

use super::site_changes::{SiteChanges, Sites};
use crate::capability::{CapabilityObjective, EnergyCapability};
use crate::error::Result;
use ebm_core::{ChainRng, Points};

/// Pseudo-likelihood: the mean over data of -sum_i log p(x_i | x_-i),
/// each site's conditional from energy changes alone (no log Z):
///
/// -log p(x_i | x_-i) = log (1 + sum_{a != x_i} exp(-Delta_ia)),
/// Delta_ia = E(x with x_i = a) - E(x),
///
/// for binary models (one other state: softplus(-Delta_i)) and
/// categorical ones alike. Its gradient is sum_i (grad E(x) -
/// sum_a p_ia grad E(x with x_i = a)) with p_ia = p(x_i = a | x_-i), so it
/// is written against the energy capability: weights sum_{i, a != x_i}
/// p_ia / n on the data and -p_ia / n on each changed row. A consistent
/// estimator of the parameters of a model that contains the data's
/// distribution; each step costs (sum_i (q_i - 1) + 1) energies per datum.
#[derive(Clone, Debug, Default)]
pub struct PseudoLikelihood {
    sites: Option<Sites>,
}

impl PseudoLikelihood {
    /// Pseudo-likelihood.
    pub fn new() -> Self {
        Self::default()
    }
}

impl CapabilityObjective for PseudoLikelihood {
    fn name(&self) -> String {
        "pl".into()
    }

    fn prepare(&mut self, model: &mut dyn EnergyCapability, data: &Points, _seed: u64) -> Result<()> {
        self.sites = Some(Sites::prepared(model, data, "pseudo-likelihood")?);
        Ok(())
    }

    fn loss_grad(
        &mut self,
        model: &mut dyn EnergyCapability,
        batch: &Points,
        _rng: &mut ChainRng,
        grads: &mut [Vec<f64>],
    ) -> Result<f64> {
        let ch = SiteChanges::of_batch(self.sites.as_ref(), "pseudo-likelihood", model, batch)?;
        let n = batch.len() as f64;
        let mut loss = 0.0;
        let mut w0 = vec![0.0; batch.len()];
        let mut w = vec![0.0; ch.delta.len()];
        // the changes of one (row, site) are consecutive
        let mut start = 0;
        while start < ch.of.len() {
            let key = ch.of[start];
            let end = start + ch.of[start..].iter().take_while(|&&k| k == key).count();
            let group = &ch.delta[start..end];
            // log (1 + sum exp(-Delta)), stably
            let top = group.iter().fold(0.0f64, |m, &d| m.max(-d));
            let sum = (-top).exp() + group.iter().map(|&d| (-d - top).exp()).sum::<f64>();
            loss += top + sum.ln();
            for (k, &d) in (start..end).zip(group) {
                let p = (-d - top).exp() / sum;
                w[k] = -p / n;
                w0[key.0] += p / n;
            }
            start = end;
        }
        ch.add_grad(model, batch, &w0, &w, grads)?;
        Ok(loss / n)
    }
}
