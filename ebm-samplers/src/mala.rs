//! The Metropolis-adjusted Langevin algorithm.

use crate::chains::{ChunkMut, Scratch};
use crate::error::{positive, Result};
use crate::kernel::Kernel;
use crate::normals::Normals;
use crate::target::Target;
use ebm_core::Energy;
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

/// The settings of [`Mala`] as data (the registry's "mala").
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct MalaConfig {
    /// Step size eps > 0 (default 0.1).
    pub step_size: f64,
}

impl Default for MalaConfig {
    fn default() -> Self {
        Self { step_size: 0.1 }
    }
}

impl crate::registry::KernelConfig for MalaConfig {
    fn build(&self) -> Result<Box<dyn Kernel>> {
        Ok(Box::new(Mala::new(self.step_size)?))
    }
}

impl Mala {
    /// MALA with step size `eps > 0`.
    pub fn new(eps: f64) -> Result<Self> {
        positive("step_size", eps)?;
        Ok(Self { step_size: eps })
    }
}

/// MALA's work buffers for one chunk: the proposals (states, gradients,
/// energies) and the normals.
#[derive(Default)]
struct MalaScratch {
    px: Vec<f64>,
    pg: Vec<f64>,
    pe: Vec<f64>,
    normals: Normals,
}

impl Mala {
    /// One transition of one chunk of chains.
    fn chunk_step(&self, energy: &dyn Energy, c: &mut ChunkMut<'_>, s: &mut MalaScratch) {
        let eps = self.step_size;
        let noise = (2.0 * eps).sqrt();
        let (d, n) = (c.d, c.len());
        s.px.resize(n * d, 0.0);
        s.pg.resize(n * d, 0.0);
        s.pe.resize(n, 0.0);
        let (z, dw) = s.normals.draw(c.rngs, d);
        let (x, g, px) = (&*c.x, &*c.grad, &mut s.px[..]);
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
        energy.energy_grad_batch(&s.px, &mut s.pg, &mut s.pe);
        for (k, rng) in c.rngs.iter_mut().enumerate() {
            let r = k * d..(k + 1) * d;
            let (x, g, y, gy) = (
                &c.x[r.clone()],
                &c.grad[r.clone()],
                &s.px[r.clone()],
                &s.pg[r.clone()],
            );
            let (ex, ey) = (c.energy[k], s.pe[k]);
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
                    c.x[i] = s.px[i];
                    c.grad[i] = s.pg[i];
                }
                c.energy[k] = ey;
            }
        }
        c.grad_evals.fill(1);
    }
}

impl Kernel for Mala {
    fn name(&self) -> &'static str {
        "mala"
    }

    fn settings(&self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or(serde_json::Value::Null)
    }

    fn step_chunk(&self, target: Target<'_>, chunk: &mut ChunkMut<'_>, scratch: &mut Scratch) {
        if let Some(energy) = target.energy() {
            self.chunk_step(energy, chunk, scratch.get(MalaScratch::default));
        }
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
