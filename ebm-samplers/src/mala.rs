//! The Metropolis-adjusted Langevin algorithm.

use crate::chains::{Chains, Kernel, StepStats};
use crate::error::{positive, Result};
use ebm_core::{ChainRng, Energy};
use rand::Rng;
use rand_distr::{Distribution, StandardNormal};
use serde::{Deserialize, Serialize};

/// MALA (Roberts and Tweedie 1996): the ULA proposal
/// y = x - eps grad E(x) + sqrt(2 eps) xi, accepted with probability
///
/// min(1, exp(E(x) - E(y) - |x - y + eps grad E(y)|^2 / (4 eps)
///                         + |y - x + eps grad E(x)|^2 / (4 eps))),
///
/// which makes p ∝ exp(-E) exactly invariant. A proposal with non-finite
/// energy is rejected and counted as a divergence.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Mala {
    step_size: f64,
}

impl Mala {
    /// MALA with step size `eps > 0`.
    pub fn new(eps: f64) -> Result<Self> {
        positive("step_size", eps)?;
        Ok(Self { step_size: eps })
    }
}

impl Kernel for Mala {
    fn name(&self) -> &'static str {
        "mala"
    }

    fn step<E: Energy + ?Sized>(&self, energy: &E, chains: &mut Chains, rngs: &mut [ChainRng]) -> StepStats {
        let eps = self.step_size;
        let noise = (2.0 * eps).sqrt();
        chains.for_each_chunk(rngs, |c| {
            let d = c.d;
            for (k, rng) in c.rngs.iter_mut().enumerate() {
                let r = k * d..(k + 1) * d;
                let (x, g, y) = (&c.x[r.clone()], &c.grad[r.clone()], &mut c.px[r]);
                for j in 0..d {
                    let z: f64 = StandardNormal.sample(rng);
                    y[j] = x[j] - eps * g[j] + noise * z;
                }
            }
            energy.energy_grad_batch(c.px, c.pg, c.pe);
            for (k, rng) in c.rngs.iter_mut().enumerate() {
                let r = k * d..(k + 1) * d;
                let (x, g, y, gy) = (
                    &c.x[r.clone()],
                    &c.grad[r.clone()],
                    &c.px[r.clone()],
                    &c.pg[r.clone()],
                );
                let (ex, ey) = (c.energy[k], c.pe[k]);
                let mut fwd = 0.0; // |y - x + eps g(x)|^2
                let mut bwd = 0.0; // |x - y + eps g(y)|^2
                for j in 0..d {
                    let a = y[j] - x[j] + eps * g[j];
                    let b = x[j] - y[j] + eps * gy[j];
                    fwd += a * a;
                    bwd += b * b;
                }
                let log_alpha = ex - ey - (bwd - fwd) / (4.0 * eps);
                let ok = ey.is_finite() && !log_alpha.is_nan();
                c.divergent[k] = !ok;
                let p = if ok { log_alpha.min(0.0).exp() } else { 0.0 };
                c.accept[k] = p;
                let u: f64 = rng.random();
                if ok && u < p {
                    c.x[r.clone()].copy_from_slice(y);
                    c.grad[r].copy_from_slice(gy);
                    c.energy[k] = ey;
                }
            }
        });
        StepStats::from_chains(chains, 1)
    }

    fn step_size(&self) -> f64 {
        self.step_size
    }

    fn set_step_size(&mut self, eps: f64) {
        self.step_size = eps;
    }

    fn target_accept(&self) -> Option<f64> {
        Some(0.574)
    }
}
