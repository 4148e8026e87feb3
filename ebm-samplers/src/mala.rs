//! The Metropolis-adjusted Langevin algorithm.

use crate::chains::{ChunkMut, Scratch};
use crate::error::{positive, Result};
use crate::kernel::Kernel;
use crate::normals::{map_with_normals, NormalsAhead, StepNormals, StepWords};
use crate::target::Target;
use ebm_core::rng::STREAM_LANES;
use ebm_core::Energy;
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
/// energies) and the normals and accept tests' words drawn ahead.
#[derive(Default)]
struct MalaScratch {
    px: Vec<f64>,
    pg: Vec<f64>,
    pe: Vec<f64>,
    /// Each chain's log acceptance ratio this step.
    log_alpha: Vec<f64>,
    draws: NormalsAhead,
}

/// The proposals y = x - eps g + noise z of every chain, as
/// [`map_with_normals`] walks them (`D` as there).
#[inline(always)]
fn propose<const D: usize>(
    d: usize,
    eps: f64,
    noise: f64,
    x: &[f64],
    g: &[f64],
    z: StepNormals<'_>,
    px: &mut [f64],
) {
    map_with_normals::<D>(d, x, g, z, px, |x, g, z| x - eps * g + noise * z);
}

/// Each chain's log acceptance ratio
/// log alpha = E(x) - E(y) - (|x - y + eps g(y)|^2 - |y - x + eps g(x)|^2) / (4 eps)
/// into `la`, and whether it is divergent (E(y) not finite or the ratio
/// NaN). Vectorises across chains; `D` as in [`propose`].
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn log_alphas<const D: usize>(
    d: usize,
    eps: f64,
    x: &[f64],
    g: &[f64],
    e: &[f64],
    px: &[f64],
    pg: &[f64],
    pe: &[f64],
    la: &mut [f64],
    divergent: &mut [bool],
) {
    let d = if D == 0 { d } else { D };
    for (((((((x, g), &ex), y), gy), &ey), la), div) in x
        .chunks_exact(d)
        .zip(g.chunks_exact(d))
        .zip(e)
        .zip(px.chunks_exact(d))
        .zip(pg.chunks_exact(d))
        .zip(pe)
        .zip(la.iter_mut())
        .zip(divergent.iter_mut())
    {
        let mut fwd = 0.0; // |y - x + eps g(x)|^2
        let mut bwd = 0.0; // |x - y + eps g(y)|^2
        for j in 0..d {
            let a = y[j] - x[j] + eps * g[j];
            let b = x[j] - y[j] + eps * gy[j];
            fwd += a * a;
            bwd += b * b;
        }
        *la = ex - ey - (bwd - fwd) / (4.0 * eps);
        *div = !ey.is_finite() || la.is_nan();
    }
}

/// Move each chain that passes its test u < p (and is not divergent) to
/// its proposal: state, gradient and energy, by branch-free selects.
/// `D` as in [`propose`].
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn take_accepted<const D: usize>(
    d: usize,
    u: StepWords<'_>,
    p: &[f64],
    divergent: &[bool],
    x: &mut [f64],
    g: &mut [f64],
    e: &mut [f64],
    px: &[f64],
    pg: &[f64],
    pe: &[f64],
) {
    let d = if D == 0 { d } else { D };
    let group = STREAM_LANES * d;
    for (gi, ((((((x, g), e), y), gy), ey), (p, div))) in x
        .chunks_mut(group)
        .zip(g.chunks_mut(group))
        .zip(e.chunks_mut(STREAM_LANES))
        .zip(px.chunks(group))
        .zip(pg.chunks(group))
        .zip(pe.chunks(STREAM_LANES))
        .zip(p.chunks(STREAM_LANES).zip(divergent.chunks(STREAM_LANES)))
        .enumerate()
    {
        let u = u.uniforms(gi, 0);
        let mut take = [false; STREAM_LANES];
        for (t, ((&u, &p), &dv)) in take.iter_mut().zip(u.iter().zip(p).zip(div)) {
            *t = !dv & (u < p);
        }
        for (e, (&ey, &t)) in e.iter_mut().zip(ey.iter().zip(&take)) {
            *e = if t { ey } else { *e };
        }
        for ((((x, g), y), gy), &t) in x
            .chunks_exact_mut(d)
            .zip(g.chunks_exact_mut(d))
            .zip(y.chunks_exact(d))
            .zip(gy.chunks_exact(d))
            .zip(&take)
        {
            for j in 0..d {
                x[j] = if t { y[j] } else { x[j] };
                g[j] = if t { gy[j] } else { g[j] };
            }
        }
    }
}

impl Mala {
    /// One transition of one chunk of chains, its loops unrolled for
    /// dimensions 1-4 (see [`propose`]).
    fn chunk_step(&self, energy: &dyn Energy, c: &mut ChunkMut<'_>, s: &mut MalaScratch) {
        ebm_core::with_small_dim!(c.d, D => self.chunk_step_in::<D>(energy, c, s))
    }

    /// [`Mala::chunk_step`] with `D` as in [`propose`].
    #[inline(always)]
    fn chunk_step_in<const D: usize>(&self, energy: &dyn Energy, c: &mut ChunkMut<'_>, s: &mut MalaScratch) {
        let eps = self.step_size;
        let noise = (2.0 * eps).sqrt();
        let (d, n) = (c.d, c.len());
        s.px.resize(n * d, 0.0);
        s.pg.resize(n * d, 0.0);
        s.pe.resize(n, 0.0);
        // each chain's normals, then its accept test's uniform, from its
        // stream, for the steps of the run drawn ahead in lanes
        let (z, u) = s.draws.next_with(c.rngs, d, 1, c.steps_left);
        let (x, g, px) = (&*c.x, &*c.grad, &mut s.px[..]);
        ebm_core::simd::dispatch(
            #[inline(always)]
            || propose::<D>(d, eps, noise, x, g, z, px),
        );
        energy.energy_grad_batch(&s.px, &mut s.pg, &mut s.pe);
        s.log_alpha.resize(n, 0.0);
        let (x, g, e, div) = (&*c.x, &*c.grad, &*c.energy, &mut *c.divergent);
        let (px, pg, pe, la) = (&s.px[..], &s.pg[..], &s.pe[..], &mut s.log_alpha[..]);
        ebm_core::simd::dispatch(
            #[inline(always)]
            || log_alphas::<D>(d, eps, x, g, e, px, pg, pe, la, div),
        );
        // the acceptance probabilities by libm's exp (one call a chain
        // whose log ratio is negative; e^0 = 1 exactly otherwise)
        for ((p, &la), &dv) in c.accept.iter_mut().zip(&s.log_alpha).zip(c.divergent.iter()) {
            *p = if dv {
                0.0
            } else if la >= 0.0 {
                1.0
            } else {
                la.exp()
            };
        }
        let (p, div) = (&*c.accept, &*c.divergent);
        let (x, g, e) = (&mut *c.x, &mut *c.grad, &mut *c.energy);
        ebm_core::simd::dispatch(
            #[inline(always)]
            || take_accepted::<D>(d, u, p, div, x, g, e, px, pg, pe),
        );
        c.grad_evals.fill(1);
        if c.steps_left <= 1 {
            s.draws.release_if_spent();
        }
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
