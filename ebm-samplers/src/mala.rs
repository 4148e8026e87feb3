//! The Metropolis-adjusted Langevin algorithm.

use crate::chains::{Chains, ChunkMut, Kernel, StepStats, StepTotals};
use crate::error::{positive, Result};
use ebm_core::{ChainRng, Energy};
use rand::Rng;
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

impl Mala {
    /// One transition of one chunk of chains.
    fn chunk_step<E: Energy + ?Sized>(&self, energy: &E, c: &mut ChunkMut<'_>) {
        let eps = self.step_size;
        let noise = (2.0 * eps).sqrt();
        let (d, n) = (c.d, c.energy.len());
        let dw = c.draw_normals();
        let (x, g, z, px) = (&*c.x, &*c.grad, &*c.noise, &mut *c.px);
        ebm_core::simd::dispatch(
            #[inline(always)]
            || {
                for k in 0..n {
                    let (x, g, y) = (
                        &x[k * d..(k + 1) * d],
                        &g[k * d..(k + 1) * d],
                        &mut px[k * d..(k + 1) * d],
                    );
                    let z = &z[k * dw..k * dw + d];
                    for j in 0..d {
                        y[j] = x[j] - eps * g[j] + noise * z[j];
                    }
                }
            },
        );
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
                for i in r {
                    c.x[i] = c.px[i];
                    c.grad[i] = c.pg[i];
                }
                c.energy[k] = ey;
            }
        }
    }
}

impl Kernel for Mala {
    fn name(&self) -> &'static str {
        "mala"
    }

    fn step<E: Energy + ?Sized>(&self, energy: &E, chains: &mut Chains, rngs: &mut [ChainRng]) -> StepStats {
        chains.step_chunks(rngs, 1, |c| self.chunk_step(energy, c))
    }

    fn steps<E: Energy + ?Sized>(
        &self,
        energy: &E,
        chains: &mut Chains,
        rngs: &mut [ChainRng],
        n: usize,
        totals: StepTotals<'_>,
    ) -> Vec<StepStats> {
        chains.run_chunks(rngs, n, 1, Some(totals), |c| self.chunk_step(energy, c))
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
