//! Underdamped (kinetic) Langevin dynamics, unadjusted.

use crate::chains::{ChunkMut, Scratch};
use crate::error::{invalid, positive, Result};
use crate::kernel::Kernel;
use crate::normals::{NormalsAhead, StepNormals};
use crate::target::Target;
use crate::unadjusted::{self, flag_divergent, EnergiesBehind};
use ebm_core::rng::STREAM_LANES;
use ebm_core::Energy;
use serde::{Deserialize, Serialize};

/// How a step of [`KineticLangevin`] splits the dynamics.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Splitting {
    /// B A O A B: half kick, half drift, the full friction-and-noise
    /// step, half drift, half kick (Leimkuhler and Matthews 2013); one
    /// normal per coordinate and step.
    #[default]
    Baoab,
    /// O B A B O: half friction-and-noise steps around a leapfrog step
    /// (Bussi and Parrinello 2007); two normals per coordinate and step.
    Obabo,
}

/// Underdamped Langevin dynamics with unit mass, friction gamma and step h,
///
/// dx = p dt,  dp = -grad E(x) dt - gamma p dt + sqrt(2 gamma) dW,
///
/// whose stationary distribution is exp(-E(x) - |p|^2 / 2), integrated by
/// the splitting [`Splitting`] of the kick B (p -= h/2 grad E(x)), the
/// drift A (x += h/2 p) and the exact Ornstein-Uhlenbeck step
/// O (p = c p + sqrt(1 - c^2) xi, c = e^-gamma h, or e^-gamma h / 2 for
/// OBABO's half steps). One gradient evaluation per step (the last
/// kick's gradient is the next step's first).
///
/// Unadjusted: no accept step, so the stationary distribution is biased
/// by O(h^2). For a Gaussian target with curvature w^2, BAOAB samples
/// the position exactly (variance 1 / w^2 for any h < 2 / w) and the
/// momentum with variance 1 / (1 - h^2 w^2 / 4) (Leimkuhler and Matthews
/// 2013; checked in the tests against the exact stationary covariance of
/// the linear recursion).
///
/// The momenta are the kernel's state: they live in the chunks' scratch,
/// drawn from each chain's stream on the first step and carried from step
/// to step (also between the steps of training, where the chains persist).
/// Chains that are cloned or rebuilt start with fresh momenta. A step that
/// lands where the energy or its gradient is not finite is undone and the
/// chain's momentum reversed; it counts as divergent.
///
/// Its cost is ULA's: the normals of a run of steps are drawn ahead in
/// lanes, the steps' passes are vectorised, and on an energy whose
/// gradient alone shows where it is not finite
/// ([`Energy::grad_batch_flags_infinite_energy`]) it takes gradients
/// alone before the run's last step, as [`crate::Ula`] does; none of
/// this changes a bit of the chains' paths.
///
/// ```
/// use ebm_samplers::{KineticLangevin, Chains, Kernel};
/// use ebm_core::{energies::DiagGaussian, Points, chain_rngs};
/// let e = DiagGaussian::standard(2);
/// let mut chains = Chains::new(&e, Points::zeros(4, 2)).unwrap();
/// let mut rngs = chain_rngs(0, 4);
/// let k = KineticLangevin::new(0.2, 1.0).unwrap();
/// k.step(&e, &mut chains, &mut rngs);
/// assert!(chains.x.as_slice().iter().any(|v| *v != 0.0));
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct KineticLangevin {
    step_size: f64,
    friction: f64,
    splitting: Splitting,
}

/// The settings of [`KineticLangevin`] as data (the registry's "kinetic").
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct KineticConfig {
    /// Step size h > 0 (default 0.1).
    pub step_size: f64,
    /// Friction gamma >= 0 (default 1; 0 is Hamiltonian dynamics).
    pub friction: f64,
    /// The splitting (default BAOAB).
    pub splitting: Splitting,
}

impl Default for KineticConfig {
    fn default() -> Self {
        Self {
            step_size: 0.1,
            friction: 1.0,
            splitting: Splitting::Baoab,
        }
    }
}

impl crate::registry::KernelConfig for KineticConfig {
    fn build(&self) -> Result<Box<dyn Kernel>> {
        Ok(Box::new(
            KineticLangevin::new(self.step_size, self.friction)?.with_splitting(self.splitting),
        ))
    }
}

impl KineticLangevin {
    /// Kinetic Langevin with step size `h > 0` and friction `gamma >= 0`,
    /// BAOAB splitting.
    pub fn new(h: f64, friction: f64) -> Result<Self> {
        positive("step_size", h)?;
        if !(friction.is_finite() && friction >= 0.0) {
            return Err(invalid(
                "friction",
                format!("must be finite and at least 0, got {friction}"),
            ));
        }
        Ok(Self {
            step_size: h,
            friction,
            splitting: Splitting::Baoab,
        })
    }

    /// Use `splitting`.
    pub fn with_splitting(mut self, splitting: Splitting) -> Self {
        self.splitting = splitting;
        self
    }

    /// The friction gamma.
    pub fn friction(&self) -> f64 {
        self.friction
    }
}

/// The kernel's work buffers and state for one chunk: the chains'
/// momenta, the step's new momenta and proposals, and the normals drawn
/// ahead.
#[derive(Default)]
struct KineticScratch {
    /// The chains' momenta (the kernel's state).
    p: Vec<f64>,
    /// This step's momenta, taken by the chains whose step is finite.
    pn: Vec<f64>,
    px: Vec<f64>,
    pg: Vec<f64>,
    pe: Vec<f64>,
    normals: NormalsAhead,
    /// Whether this run of steps took gradients alone.
    energies_behind: EnergiesBehind,
}

/// The O step p = c p + s z of every chain (`d` coordinates each, the
/// draw's normals `z` in lanes of sixteen chains). `D` is `d` when small
/// enough to unroll (0: read at run time); it changes the code, not the
/// arithmetic.
#[inline(always)]
fn ou<const D: usize>(p: &mut [f64], z: StepNormals<'_>, d: usize, c: f64, s: f64) {
    let d = if D == 0 { d } else { D };
    for (gi, p) in p.chunks_mut(STREAM_LANES * d).enumerate() {
        let z = &z.group(gi)[..d];
        for (l, p) in p.chunks_exact_mut(d).enumerate() {
            for j in 0..d {
                p[j] = c * p[j] + s * z[j][l];
            }
        }
    }
}

/// The kick, then the drift: p -= h/2 g, then px = x + drift p.
#[inline(always)]
fn kick_drift(p: &mut [f64], px: &mut [f64], g: &[f64], x: &[f64], half: f64, drift: f64) {
    for (((p, px), g), x) in p.iter_mut().zip(px.iter_mut()).zip(g).zip(x) {
        *p -= half * g;
        *px = x + drift * *p;
    }
}

/// v += a w.
#[inline(always)]
fn add_scaled(v: &mut [f64], a: f64, w: &[f64]) {
    for (v, w) in v.iter_mut().zip(w) {
        *v += a * w;
    }
}

/// Take each chain's step (state `px`, gradient `pg`, energy `pe`, new
/// momenta `pn`) unless its energy or gradient is not finite; such a
/// chain keeps its state, its momenta reversed, and is flagged
/// divergent. Without `ENERGIES` the gradient alone decides and the
/// chains' energies are left as they were. Branch-free selects, so it
/// vectorises; `D` as in [`ou`].
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn accept_finite<const D: usize, const ENERGIES: bool>(
    d: usize,
    c: &mut ChunkMut<'_>,
    p: &mut [f64],
    pn: &[f64],
    px: &[f64],
    pg: &[f64],
    pe: &[f64],
) {
    flag_divergent::<D, ENERGIES>(d, c.divergent, c.energy, pe, pg);
    let d = if D == 0 { d } else { D };
    for (((((xk, gk), pk), pnk), (pxk, pgk)), &div) in
        c.x.chunks_exact_mut(d)
            .zip(c.grad.chunks_exact_mut(d))
            .zip(p.chunks_exact_mut(d))
            .zip(pn.chunks_exact(d))
            .zip(px.chunks_exact(d).zip(pg.chunks_exact(d)))
            .zip(c.divergent.iter())
    {
        for j in 0..d {
            xk[j] = if div { xk[j] } else { pxk[j] };
            gk[j] = if div { gk[j] } else { pgk[j] };
            pk[j] = if div { -pk[j] } else { pnk[j] };
        }
    }
}

impl KineticLangevin {
    /// One step of one chunk of chains, its loops unrolled for
    /// dimensions 1-4 (see [`ou`]).
    fn chunk_step(&self, energy: &dyn Energy, c: &mut ChunkMut<'_>, s: &mut KineticScratch) {
        ebm_core::with_small_dim!(c.d, D => self.chunk_step_in::<D>(energy, c, s))
    }

    /// [`KineticLangevin::chunk_step`] with `D` as in [`ou`].
    #[inline(always)]
    fn chunk_step_in<const D: usize>(
        &self,
        energy: &dyn Energy,
        c: &mut ChunkMut<'_>,
        s: &mut KineticScratch,
    ) {
        let (d, n, h) = (c.d, c.len(), self.step_size);
        let half = 0.5 * h;
        // the O step's decay c = e^-gamma t over its time t (h for BAOAB's
        // one O step, h/2 for each of OBABO's two) and noise sqrt(1 - c^2)
        let cf = (-self.friction
            * if self.splitting == Splitting::Baoab {
                h
            } else {
                half
            })
        .exp();
        let sf = (1.0 - cf * cf).sqrt();
        // the normals of this run's draws are drawn ahead, never past its
        // last draw: one or two a step, and the momenta's first
        let per_step = if self.splitting == Splitting::Baoab { 1 } else { 2 };
        let fresh = s.p.len() != n * d;
        let mut draws_left = per_step * c.steps_left.max(1) + fresh as usize;
        if fresh {
            // the chains' first step: momenta from p ~ N(0, I)
            s.p.clear();
            s.p.resize(n * d, 0.0);
            let z = s.normals.next(c.rngs, d, draws_left);
            draws_left -= 1;
            let p = &mut s.p[..];
            ebm_core::simd::dispatch(
                #[inline(always)]
                || ou::<D>(p, z, d, 0.0, 1.0),
            );
        }
        s.px.resize(n * d, 0.0);
        s.pg.resize(n * d, 0.0);
        s.pe.resize(n, 0.0);
        // this step's momenta start from the chains' (kept for a step
        // that is undone)
        s.pn.clear();
        s.pn.extend_from_slice(&s.p);
        let (pn, px, g, x) = (&mut s.pn[..], &mut s.px[..], &*c.grad, &*c.x);
        let z = s.normals.next(c.rngs, d, draws_left);
        match self.splitting {
            Splitting::Baoab => ebm_core::simd::dispatch(
                #[inline(always)]
                || {
                    kick_drift(pn, px, g, x, half, half);
                    ou::<D>(pn, z, d, cf, sf);
                    add_scaled(px, half, pn);
                },
            ),
            Splitting::Obabo => ebm_core::simd::dispatch(
                #[inline(always)]
                || {
                    ou::<D>(pn, z, d, cf, sf);
                    kick_drift(pn, px, g, x, half, h);
                },
            ),
        }
        // the gradients alone before a run's last step where they show
        // every proposal past the energy's reach ([`crate::unadjusted`])
        let (px, pg, pe) = (&s.px[..], &mut s.pg[..], &mut s.pe[..]);
        let gradients_alone = unadjusted::evaluate(energy, c, &mut s.energies_behind, px, pg, pe);
        let (pn, pg) = (&mut s.pn[..], &s.pg[..]);
        ebm_core::simd::dispatch(
            #[inline(always)]
            || add_scaled(pn, -half, pg),
        );
        if self.splitting == Splitting::Obabo {
            let z = s.normals.next(c.rngs, d, draws_left - 1);
            let pn = &mut s.pn[..];
            ebm_core::simd::dispatch(
                #[inline(always)]
                || ou::<D>(pn, z, d, cf, sf),
            );
        }
        let (p, pn, px, pg, pe) = (&mut s.p[..], &s.pn[..], &s.px[..], &s.pg[..], &s.pe[..]);
        ebm_core::simd::dispatch(
            #[inline(always)]
            || {
                if gradients_alone {
                    accept_finite::<D, false>(d, c, p, pn, px, pg, pe)
                } else {
                    accept_finite::<D, true>(d, c, p, pn, px, pg, pe)
                }
            },
        );
        unadjusted::catch_up(energy, c, &mut s.energies_behind);
        c.accept.fill(1.0);
        c.grad_evals.fill(1);
        if c.steps_left <= 1 {
            s.normals.release_if_spent();
        }
    }
}

impl Kernel for KineticLangevin {
    fn name(&self) -> &'static str {
        "kinetic"
    }

    fn settings(&self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or(serde_json::Value::Null)
    }

    fn step_chunk(&self, target: Target<'_>, chunk: &mut ChunkMut<'_>, scratch: &mut Scratch) {
        if let Some(energy) = target.energy() {
            self.chunk_step(energy, chunk, scratch.get(KineticScratch::default));
        }
    }

    fn step_size(&self) -> f64 {
        self.step_size
    }

    fn set_step_size(&mut self, eps: f64) {
        self.step_size = eps;
    }
}
