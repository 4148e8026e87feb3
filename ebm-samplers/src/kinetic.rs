//! Underdamped (kinetic) Langevin dynamics, unadjusted.

use crate::chains::{ChunkMut, Scratch};
use crate::error::{invalid, positive, Result};
use crate::kernel::Kernel;
use crate::normals::Normals;
use crate::target::Target;
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
/// momenta, the proposals and the normals.
#[derive(Default)]
struct KineticScratch {
    p: Vec<f64>,
    p_old: Vec<f64>,
    px: Vec<f64>,
    pg: Vec<f64>,
    pe: Vec<f64>,
    normals: Normals,
}

/// p = c p + s z for each chain's `d` momenta (normals with stride `dw`).
fn ou(p: &mut [f64], z: &[f64], d: usize, dw: usize, c: f64, s: f64) {
    for (k, pk) in p.chunks_exact_mut(d).enumerate() {
        for (pj, zj) in pk.iter_mut().zip(&z[k * dw..k * dw + d]) {
            *pj = c * *pj + s * zj;
        }
    }
}

impl KineticLangevin {
    fn chunk_step(&self, energy: &dyn Energy, c: &mut ChunkMut<'_>, s: &mut KineticScratch) {
        let (d, n, h) = (c.d, c.len(), self.step_size);
        if s.p.len() != n * d {
            // the chains' first step: momenta from p ~ N(0, I)
            s.p.resize(n * d, 0.0);
            let (z, dw) = s.normals.draw(c.rngs, d);
            ou(&mut s.p, z, d, dw, 0.0, 1.0);
        }
        s.p_old.clear();
        s.p_old.extend_from_slice(&s.p);
        s.px.resize(n * d, 0.0);
        s.pg.resize(n * d, 0.0);
        s.pe.resize(n, 0.0);
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
        match self.splitting {
            Splitting::Baoab => {
                for j in 0..n * d {
                    s.p[j] -= half * c.grad[j];
                    s.px[j] = c.x[j] + half * s.p[j];
                }
                let (z, dw) = s.normals.draw(c.rngs, d);
                ou(&mut s.p, z, d, dw, cf, sf);
                for j in 0..n * d {
                    s.px[j] += half * s.p[j];
                }
            }
            Splitting::Obabo => {
                let (z, dw) = s.normals.draw(c.rngs, d);
                ou(&mut s.p, z, d, dw, cf, sf);
                for j in 0..n * d {
                    s.p[j] -= half * c.grad[j];
                    s.px[j] = c.x[j] + h * s.p[j];
                }
            }
        }
        energy.energy_grad_batch(&s.px, &mut s.pg, &mut s.pe);
        for j in 0..n * d {
            s.p[j] -= half * s.pg[j];
        }
        if self.splitting == Splitting::Obabo {
            let (z, dw) = s.normals.draw(c.rngs, d);
            ou(&mut s.p, z, d, dw, cf, sf);
        }
        for k in 0..n {
            let r = k * d..(k + 1) * d;
            let finite = s.pe[k].is_finite() && s.pg[r.clone()].iter().all(|v| v.is_finite());
            c.divergent[k] = !finite;
            if finite {
                c.x[r.clone()].copy_from_slice(&s.px[r.clone()]);
                c.grad[r.clone()].copy_from_slice(&s.pg[r]);
                c.energy[k] = s.pe[k];
            } else {
                // undo the step and reverse the momentum
                for (p, q) in s.p[r.clone()].iter_mut().zip(&s.p_old[r]) {
                    *p = -q;
                }
            }
        }
        c.accept.fill(1.0);
        c.grad_evals.fill(1);
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
