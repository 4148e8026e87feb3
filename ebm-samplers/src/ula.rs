//! The unadjusted Langevin algorithm.

use crate::chains::{ChunkMut, Scratch};
use crate::error::{positive, Result};
use crate::kernel::Kernel;
use crate::normals::{map_with_normals, NormalsAhead, StepNormals};
use crate::target::Target;
use crate::unadjusted::{self, flag_divergent, EnergiesBehind};
use ebm_core::Energy;
use serde::{Deserialize, Serialize};

/// ULA (Roberts and Tweedie 1996):
///
/// x' = x - eps grad E(x) + sqrt(2 eps) xi,  xi ~ N(0, I),
///
/// or, with a noise scale s of its own ([`Ula::with_noise`]; the short-run
/// Langevin of EBM training, Nijkamp et al. 2019, decouples the two),
/// x' = x - eps grad E(x) + s xi, which samples exp(-E) at the
/// temperature s^2 / (2 eps) as eps -> 0.
///
/// No accept step, so its stationary distribution is biased by O(eps): for
/// E = x^2 / (2 s^2) it is N(0, s^2 / (1 - eps / (2 s^2))). A move that
/// lands where the energy or its gradient is not finite (past a hard
/// wall, or an overflow) is undone: that chain stays where it was and is
/// reported as divergent in [`crate::StepStats::divergences`], so no chain ever
/// holds a non-finite state. The moves need gradients only: in a run of
/// steps, the energies are computed at the last one (the chains' energies
/// are current when the run returns), and before it only where the
/// energy's gradient cannot show an infinite energy by itself
/// ([`ebm_core::Energy::grad_batch_flags_infinite_energy`]); the chains
/// move the same either way.
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
    /// The noise scale s, when not sqrt(2 eps).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    noise: Option<f64>,
}

/// The settings of [`Ula`] as data (the registry's "ula").
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct UlaConfig {
    /// Step size eps > 0 (default 0.1).
    pub step_size: f64,
    /// The noise scale s > 0 (default: sqrt(2 eps), the Langevin
    /// diffusion at temperature 1).
    pub noise: Option<f64>,
}

impl Default for UlaConfig {
    fn default() -> Self {
        Self {
            step_size: 0.1,
            noise: None,
        }
    }
}

impl crate::registry::KernelConfig for UlaConfig {
    fn build(&self) -> Result<Box<dyn Kernel>> {
        Ok(Box::new(match self.noise {
            Some(s) => Ula::with_noise(self.step_size, s)?,
            None => Ula::new(self.step_size)?,
        }))
    }
}

impl Ula {
    /// ULA with step size `eps > 0`.
    pub fn new(eps: f64) -> Result<Self> {
        positive("step_size", eps)?;
        Ok(Self {
            step_size: eps,
            noise: None,
        })
    }

    /// ULA with step size `eps > 0` and noise scale `noise > 0`
    /// (x' = x - eps grad E + noise xi).
    pub fn with_noise(eps: f64, noise: f64) -> Result<Self> {
        positive("step_size", eps)?;
        positive("noise", noise)?;
        Ok(Self {
            step_size: eps,
            noise: Some(noise),
        })
    }
}

/// ULA's work buffers for one chunk: the proposals (states, gradients,
/// energies) and the normals drawn ahead.
#[derive(Default)]
struct UlaScratch {
    px: Vec<f64>,
    pg: Vec<f64>,
    pe: Vec<f64>,
    normals: NormalsAhead,
    /// Whether this run of steps took gradients alone.
    energies_behind: EnergiesBehind,
}

impl Ula {
    /// One transition of one chunk of chains, its loops unrolled for
    /// dimensions 1-4 (see [`propose`]).
    fn chunk_step(&self, energy: &dyn Energy, c: &mut ChunkMut<'_>, s: &mut UlaScratch) {
        ebm_core::with_small_dim!(c.d, D => self.chunk_step_in::<D>(energy, c, s))
    }

    /// [`Ula::chunk_step`] with `D` as in [`propose`].
    #[inline(always)]
    fn chunk_step_in<const D: usize>(&self, energy: &dyn Energy, c: &mut ChunkMut<'_>, s: &mut UlaScratch) {
        let eps = self.step_size;
        let noise = self.noise.unwrap_or_else(|| (2.0 * eps).sqrt());
        let (d, n) = (c.d, c.len());
        s.px.resize(n * d, 0.0);
        s.pg.resize(n * d, 0.0);
        s.pe.resize(n, 0.0);
        let z = s.normals.next(c.rngs, d, c.steps_left);
        // the proposals go to px; a chain whose move lands where the
        // energy or its gradient is not finite (past a hard wall, or
        // overflowing) keeps its current state
        let (x, g, px) = (&*c.x, &*c.grad, &mut s.px[..]);
        ebm_core::simd::dispatch(
            #[inline(always)]
            || propose::<D>(d, eps, noise, x, g, z, px),
        );
        // the gradients alone before a run's last step where they show
        // every proposal past the energy's reach ([`crate::unadjusted`])
        let (px, pg, pe) = (&s.px[..], &mut s.pg[..], &mut s.pe[..]);
        let gradients_alone = unadjusted::evaluate(energy, c, &mut s.energies_behind, px, pg, pe);
        let (x, g, e, div) = (&mut *c.x, &mut *c.grad, &mut *c.energy, &mut *c.divergent);
        let (px, pg, pe) = (&s.px[..], &s.pg[..], &s.pe[..]);
        ebm_core::simd::dispatch(
            #[inline(always)]
            || {
                if gradients_alone {
                    accept_finite::<D, false>(d, x, g, e, div, px, pg, pe)
                } else {
                    accept_finite::<D, true>(d, x, g, e, div, px, pg, pe)
                }
            },
        );
        unadjusted::catch_up(energy, c, &mut s.energies_behind);
        c.grad_evals.fill(1);
        if c.steps_left == 1 {
            s.normals.release_if_spent();
        }
    }
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
    map_with_normals::<D>(d, x, g, z, px, |x, g, z| x + (-eps * g + noise * z));
}

/// Take each chain's proposal (state `px`, gradient `pg`, energy `pe`)
/// unless its energy or gradient is not finite; flag those as divergent.
/// Without `ENERGIES` the proposals' energies were not computed: the
/// gradient alone decides and the chains' energies are left as they were.
/// Branch-free selects, so it vectorises; `D` as in [`propose`].
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn accept_finite<const D: usize, const ENERGIES: bool>(
    d: usize,
    x: &mut [f64],
    g: &mut [f64],
    e: &mut [f64],
    divergent: &mut [bool],
    px: &[f64],
    pg: &[f64],
    pe: &[f64],
) {
    flag_divergent::<D, ENERGIES>(d, divergent, e, pe, pg);
    let d = if D == 0 { d } else { D };
    // then the states and gradients, chain by chain
    for ((((xk, gk), pxk), pgk), &div) in x
        .chunks_exact_mut(d)
        .zip(g.chunks_exact_mut(d))
        .zip(px.chunks_exact(d))
        .zip(pg.chunks_exact(d))
        .zip(divergent.iter())
    {
        for j in 0..d {
            xk[j] = if div { xk[j] } else { pxk[j] };
            gk[j] = if div { gk[j] } else { pgk[j] };
        }
    }
}

impl Kernel for Ula {
    fn name(&self) -> &'static str {
        "ula"
    }

    fn settings(&self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or(serde_json::Value::Null)
    }

    fn step_chunk(&self, target: Target<'_>, chunk: &mut ChunkMut<'_>, scratch: &mut Scratch) {
        if let Some(energy) = target.energy() {
            self.chunk_step(energy, chunk, scratch.get(UlaScratch::default));
        }
    }

    fn step_size(&self) -> f64 {
        self.step_size
    }

    fn set_step_size(&mut self, eps: f64) {
        self.step_size = eps;
    }
}
