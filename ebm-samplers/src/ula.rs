//! The unadjusted Langevin algorithm.

use crate::chains::{Chains, Kernel, StepStats};
use crate::error::{positive, Result};
use ebm_core::{ChainRng, Energy};
use rand_distr::{Distribution, StandardNormal};
use serde::{Deserialize, Serialize};

/// ULA (Roberts and Tweedie 1996):
///
/// x' = x - eps grad E(x) + sqrt(2 eps) xi,  xi ~ N(0, I).
///
/// No accept step, so its stationary distribution is biased by O(eps): for
/// E = x^2 / (2 s^2) it is N(0, s^2 / (1 - eps / (2 s^2))). A move that
/// lands where the energy or its gradient is not finite (past a hard
/// wall, or an overflow) is undone: that chain stays where it was and is
/// reported as divergent in [`StepStats::divergences`], so no chain ever
/// holds a non-finite state.
///
/// ```
/// use ebm_samplers::{Ula, Chains, Kernel};
/// use ebm_core::{energies::DiagGaussian, Points, chain_rngs};
/// let e = DiagGaussian::standard(2);
/// let mut chains = Chains::new(&e, Points::zeros(4, 2)).unwrap();
/// let mut rngs = chain_rngs(0, 4);
/// let ula = Ula::new(0.1).unwrap();
/// ula.step(&e, &mut chains, &mut rngs);
/// assert!(chains.x.as_slice().iter().any(|v| *v != 0.0));
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Ula {
    step_size: f64,
}

impl Ula {
    /// ULA with step size `eps > 0`.
    pub fn new(eps: f64) -> Result<Self> {
        positive("step_size", eps)?;
        Ok(Self { step_size: eps })
    }
}

impl Kernel for Ula {
    fn name(&self) -> &'static str {
        "ula"
    }

    fn step<E: Energy + ?Sized>(&self, energy: &E, chains: &mut Chains, rngs: &mut [ChainRng]) -> StepStats {
        let eps = self.step_size;
        let noise = (2.0 * eps).sqrt();
        chains.for_each_chunk(rngs, |c| {
            let d = c.d;
            // keep the current state: a chain whose move lands where the
            // energy or its gradient is not finite (past a hard wall, or
            // overflowing) goes back to it
            c.px.copy_from_slice(c.x);
            c.pg.copy_from_slice(c.grad);
            c.pe.copy_from_slice(c.energy);
            for (k, rng) in c.rngs.iter_mut().enumerate() {
                let x = &mut c.x[k * d..(k + 1) * d];
                let g = &c.grad[k * d..(k + 1) * d];
                for j in 0..d {
                    let z: f64 = StandardNormal.sample(rng);
                    x[j] += -eps * g[j] + noise * z;
                }
            }
            energy.energy_grad_batch(c.x, c.grad, c.energy);
            for k in 0..c.energy.len() {
                let row = k * d..(k + 1) * d;
                let bad = !c.energy[k].is_finite() || c.grad[row.clone()].iter().any(|g| !g.is_finite());
                c.divergent[k] = bad;
                if bad {
                    c.x[row.clone()].copy_from_slice(&c.px[row.clone()]);
                    c.grad[row.clone()].copy_from_slice(&c.pg[row]);
                    c.energy[k] = c.pe[k];
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
}
