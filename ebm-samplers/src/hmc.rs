//! Hamiltonian Monte Carlo with a diagonal or dense mass matrix.

use crate::chains::{ChunkMut, Scratch, CHUNK};
use crate::error::{in_open_unit, invalid, positive, Result};
use crate::kernel::Kernel;
use crate::metric::{DenseMetric, MetricKind};
use crate::normals::Normals;
use crate::target::Target;
use ebm_core::{ChainRng, Energy};
use rand::Rng;
use serde::{Deserialize, Serialize};

/// HMC (Duane et al. 1987; Neal 2011) with L leapfrog steps of size eps and
/// a mass matrix M, written through its inverse (the covariance estimate
/// of warm-up): diagonal, M^-1 = diag(inv_mass), by default, or dense
/// ([`MetricKind::Dense`], [`DenseMetric`]: p = L^-T z, drifts by M^-1 p):
///
/// H(x, p) = E(x) + 1/2 sum_j inv_mass_j p_j^2,  p ~ N(0, M),
/// leapfrog: p -= eps/2 grad E(x); x += eps M^-1 p; p -= eps/2 grad E(x),
///
/// accepted with probability min(1, exp(-(H' - H))). A trajectory whose
/// energy error H' - H exceeds `max_energy_error` (default 1000) or is not
/// finite is a divergence: rejected and counted per chain.
///
/// Optional jitter (per chain and per iteration, from the chain's own
/// stream): the step size drawn uniformly from eps (1 +- step_jitter), and
/// the number of steps uniformly from 1..=L with `path_jitter`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Hmc {
    step_size: f64,
    n_leapfrog: usize,
    inv_mass: Vec<f64>,
    metric: MetricKind,
    dense: Option<DenseMetric>,
    max_energy_error: f64,
    step_jitter: f64,
    path_jitter: bool,
    target_accept: f64,
}

/// The settings of [`Hmc`] as data (the registry's "hmc").
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct HmcConfig {
    /// Step size eps > 0 (default 0.1).
    pub step_size: f64,
    /// Leapfrog steps per iteration, at least 1 (default 10).
    pub leapfrog: usize,
    /// Step-size jitter fraction in [0, 1) (default 0).
    pub step_jitter: f64,
    /// Draw the number of leapfrog steps from 1..=L (default false).
    pub path_jitter: bool,
    /// Energy error that counts as a divergence (default 1000).
    pub max_energy_error: f64,
    /// Acceptance rate step-size adaptation aims for (default 0.8).
    pub target_accept: f64,
    /// The mass matrix warm-up adapts: diagonal (default) or dense.
    pub metric: MetricKind,
}

impl Default for HmcConfig {
    fn default() -> Self {
        Self {
            step_size: 0.1,
            leapfrog: 10,
            step_jitter: 0.0,
            path_jitter: false,
            max_energy_error: 1000.0,
            target_accept: 0.8,
            metric: MetricKind::Diag,
        }
    }
}

impl crate::registry::KernelConfig for HmcConfig {
    fn build(&self) -> Result<Box<dyn Kernel>> {
        Ok(Box::new(
            Hmc::new(self.step_size, self.leapfrog)?
                .with_step_jitter(self.step_jitter)?
                .with_path_jitter(self.path_jitter)
                .with_max_energy_error(self.max_energy_error)?
                .with_target_accept(self.target_accept)?
                .with_metric(self.metric),
        ))
    }
}

impl Hmc {
    /// HMC with step size `eps > 0` and `n_leapfrog >= 1` steps, identity
    /// mass matrix, no jitter, target acceptance 0.8 for adaptation.
    pub fn new(eps: f64, n_leapfrog: usize) -> Result<Self> {
        positive("step_size", eps)?;
        if n_leapfrog == 0 {
            return Err(invalid("n_leapfrog", "must be at least 1"));
        }
        Ok(Self {
            step_size: eps,
            n_leapfrog,
            inv_mass: Vec::new(),
            metric: MetricKind::Diag,
            dense: None,
            max_energy_error: 1000.0,
            step_jitter: 0.0,
            path_jitter: false,
            target_accept: 0.8,
        })
    }

    /// Jitter the step size uniformly in eps (1 +- `fraction`), `fraction` in [0, 1).
    pub fn with_step_jitter(mut self, fraction: f64) -> Result<Self> {
        if !(0.0..1.0).contains(&fraction) {
            return Err(invalid(
                "step_jitter",
                format!("must be in [0, 1), got {fraction}"),
            ));
        }
        self.step_jitter = fraction;
        Ok(self)
    }

    /// Draw the number of leapfrog steps uniformly from 1..=L.
    pub fn with_path_jitter(mut self, on: bool) -> Self {
        self.path_jitter = on;
        self
    }

    /// Energy error above which a trajectory counts as divergent.
    pub fn with_max_energy_error(mut self, threshold: f64) -> Result<Self> {
        positive("max_energy_error", threshold)?;
        self.max_energy_error = threshold;
        Ok(self)
    }

    /// The acceptance rate that step-size adaptation aims for, in (0, 1).
    pub fn with_target_accept(mut self, target: f64) -> Result<Self> {
        in_open_unit("target_accept", target)?;
        self.target_accept = target;
        Ok(self)
    }

    /// Adapt a diagonal or a dense mass matrix during warm-up.
    pub fn with_metric(mut self, metric: MetricKind) -> Self {
        self.metric = metric;
        self
    }

    /// The dense inverse mass matrix, once warm-up has set one.
    pub fn dense_inv_mass(&self) -> Option<&DenseMetric> {
        self.dense.as_ref()
    }

    /// Leapfrog steps per iteration.
    pub fn n_leapfrog(&self) -> usize {
        self.n_leapfrog
    }

    /// The diagonal inverse mass matrix (empty means identity).
    pub fn inv_mass(&self) -> &[f64] {
        &self.inv_mass
    }
}

/// `L` leapfrog steps of size `eps` for one point, in place: `x`, `p` and
/// `grad` (= grad E(x) on entry and exit) are updated; returns E at the
/// final position. `inv_mass` empty means the identity.
///
/// The map is volume-preserving and reversible: negating `p` after the
/// trajectory and integrating again returns to the start (up to rounding).
pub fn leapfrog<E: Energy + ?Sized>(
    energy: &E,
    x: &mut [f64],
    p: &mut [f64],
    grad: &mut [f64],
    eps: f64,
    steps: usize,
    inv_mass: &[f64],
) -> f64 {
    let mut e = f64::NAN;
    for _ in 0..steps {
        for j in 0..x.len() {
            p[j] -= 0.5 * eps * grad[j];
            x[j] += eps * p[j] * inv_mass.get(j).copied().unwrap_or(1.0);
        }
        e = energy.energy_grad(x, grad);
        for j in 0..x.len() {
            p[j] -= 0.5 * eps * grad[j];
        }
    }
    e
}

/// 1/2 sum_j inv_mass_j p_j^2.
pub fn kinetic(p: &[f64], inv_mass: &[f64]) -> f64 {
    0.5 * p
        .iter()
        .enumerate()
        .map(|(j, v)| v * v * inv_mass.get(j).copied().unwrap_or(1.0))
        .sum::<f64>()
}

/// HMC's work buffers for one chunk: the trajectories' states,
/// gradients, energies and momenta, the normals, and the identity's
/// inverse mass as a dense vector.
#[derive(Default)]
struct HmcScratch {
    px: Vec<f64>,
    /// The positions after the next drift ([`Energy::kick_drift_batch`]),
    /// then swapped with `px`.
    px_next: Vec<f64>,
    pg: Vec<f64>,
    pe: Vec<f64>,
    mom: Vec<f64>,
    normals: Normals,
    ones: Vec<f64>,
    /// Velocities M^-1 p (dense metric).
    vel: Vec<f64>,
}

impl HmcScratch {
    /// The trajectories' buffers for `n` chains in dimension `d`.
    fn resize(&mut self, n: usize, d: usize) {
        self.px.resize(n * d, 0.0);
        self.px_next.resize(n * d, 0.0);
        self.pg.resize(n * d, 0.0);
        self.pe.resize(n, 0.0);
        self.mom.resize(n * d, 0.0);
    }
}

impl Hmc {
    /// The inverse mass as a dense vector (identity when unset), so the
    /// leapfrog loops are plain slice arithmetic that vectorises.
    fn inv_mass_vector<'a>(&'a self, d: usize, ones: &'a mut Vec<f64>) -> &'a [f64] {
        if self.unit_mass(d) {
            ones.resize(d, 1.0);
            ones
        } else {
            &self.inv_mass
        }
    }

    /// Whether the mass is the identity in dimension `d` (no inverse mass
    /// of that length set).
    fn unit_mass(&self, d: usize) -> bool {
        self.inv_mass.len() != d
    }

    /// One transition of one chunk of chains (see [`Hmc::chunk_step_in`]),
    /// with the identity mass's loops free of its square roots, divisions
    /// and multiplications by 1 (the same bits: each of those is exact).
    fn chunk_step(&self, energy: &dyn Energy, c: &mut ChunkMut<'_>, s: &mut HmcScratch) {
        if let Some(m) = self.dense.as_ref().filter(|m| m.dim() == c.d) {
            self.chunk_step_dense(energy, m, c, s)
        } else if self.unit_mass(c.d) {
            self.chunk_step_in::<true>(energy, c, s)
        } else {
            self.chunk_step_in::<false>(energy, c, s)
        }
    }

    /// One transition of one chunk of chains. The kicks between drifts are
    /// fused (p -= eps grad once, not two half kicks), and every loop over
    /// the chunk runs vectorised ([`ebm_core::simd`]). `UNIT`: the inverse
    /// mass `im` is all ones.
    #[inline(always)]
    fn chunk_step_in<const UNIT: bool>(&self, energy: &dyn Energy, c: &mut ChunkMut<'_>, s: &mut HmcScratch) {
        let d = c.d;
        let n = c.len();
        s.resize(n, d);
        let HmcScratch {
            px,
            px_next,
            pg,
            pe,
            mom,
            normals,
            ones,
            ..
        } = s;
        let im = self.inv_mass_vector(d, ones);
        let (noise, dw) = normals.draw(c.rngs, d);
        // Per-chain step size, path length and starting Hamiltonian, on the
        // stack for a chunk (CHUNK chains).
        let (eps, len) = self.paths(c.rngs);
        let mut h0 = [0.0; CHUNK];
        let (x, grad, e0) = (&*c.x, &*c.grad, &*c.energy);
        ebm_core::simd::dispatch(
            #[inline(always)]
            || {
                for k in 0..n {
                    let r = k * d..(k + 1) * d;
                    let (p, z) = (&mut mom[r.clone()], &noise[k * dw..k * dw + d]);
                    if UNIT {
                        p.copy_from_slice(z);
                    } else {
                        for j in 0..d {
                            p[j] = z[j] / im[j].sqrt();
                        }
                    }
                    h0[k] = e0[k] + kinetic_lanes::<UNIT>(p, im);
                    pe[k] = e0[k];
                    // the first half kick from the chain's gradient and
                    // the first drift from its position, into the path's
                    // buffers (the gradients' buffer is written whole by
                    // the first leapfrog step: every path has one)
                    let (half, e) = (0.5 * eps[k], eps[k]);
                    let (g, x0, x) = (&grad[r.clone()], &x[r.clone()], &mut px[r]);
                    for j in 0..d {
                        p[j] -= half * g[j];
                        x[j] = x0[j] + if UNIT { e * p[j] } else { e * p[j] * im[j] };
                    }
                }
            },
        );
        let max_len = len[..n].iter().copied().max().unwrap_or(0);
        let same_path = (0..n).all(|k| eps[k] == eps[0] && len[k] == max_len);
        for l in 0..max_len {
            if UNIT && same_path && l + 1 < max_len {
                // every chain kicks and drifts with the same step size, and
                // no path ends: the energy's fused step (a Gaussian's
                // product kicks and drifts its tiles; the same operations
                // as the loop below), into the other positions' buffer
                energy.kick_drift_batch(px, eps[0], &mut mom[..n * d], px_next, pg, pe);
                std::mem::swap(px, px_next);
                continue;
            }
            leapfrog_gradients(energy, l, &len[..n], px, pg, pe);
            ebm_core::simd::dispatch(
                #[inline(always)]
                || {
                    for k in (0..n).filter(|&k| l < len[k]) {
                        let r = k * d..(k + 1) * d;
                        let (p, g, x) = (&mut mom[r.clone()], &pg[r.clone()], &mut px[r]);
                        let e = eps[k];
                        if l + 1 < len[k] {
                            // a full kick and the next drift, in one pass
                            for j in 0..d {
                                p[j] -= e * g[j];
                                x[j] += if UNIT { e * p[j] } else { e * p[j] * im[j] };
                            }
                        } else {
                            // the last half kick
                            let half = 0.5 * e;
                            for j in 0..d {
                                p[j] -= half * g[j];
                            }
                        }
                    }
                },
            );
        }
        let mut h1 = [0.0; CHUNK];
        let (mom, pe) = (&*mom, &*pe);
        ebm_core::simd::dispatch(
            #[inline(always)]
            || {
                for k in 0..n {
                    h1[k] = pe[k] + kinetic_lanes::<UNIT>(&mom[k * d..(k + 1) * d], im);
                }
            },
        );
        self.accept(c, px, pg, pe, &h0, &h1, &len);
    }

    /// Each chain's step size and number of leapfrog steps for this
    /// transition (jittered from its stream when asked).
    #[inline(always)]
    fn paths(&self, rngs: &mut [ChainRng]) -> ([f64; CHUNK], [usize; CHUNK]) {
        let mut eps = [0.0; CHUNK];
        let mut len = [0usize; CHUNK];
        for (k, rng) in rngs.iter_mut().enumerate() {
            eps[k] = if self.step_jitter > 0.0 {
                self.step_size * (1.0 + self.step_jitter * (2.0 * rng.random::<f64>() - 1.0))
            } else {
                self.step_size
            };
            len[k] = if self.path_jitter {
                rng.random_range(1..=self.n_leapfrog)
            } else {
                self.n_leapfrog
            };
        }
        (eps, len)
    }

    /// The Metropolis step of every chain of the chunk: the trajectory's
    /// end (`px`, `pg`, `pe`) with probability min(1, exp(h0 - h1)), a
    /// divergence when h1 - h0 is not finite or above the threshold.
    #[allow(clippy::too_many_arguments)]
    #[inline(always)]
    fn accept(
        &self,
        c: &mut ChunkMut<'_>,
        px: &[f64],
        pg: &[f64],
        pe: &[f64],
        h0: &[f64; CHUNK],
        h1: &[f64; CHUNK],
        len: &[usize; CHUNK],
    ) {
        let d = c.d;
        for (k, rng) in c.rngs.iter_mut().enumerate() {
            let r = k * d..(k + 1) * d;
            let dh = h1[k] - h0[k];
            let diverged = !dh.is_finite() || dh > self.max_energy_error;
            c.divergent[k] = diverged;
            let p = if diverged { 0.0 } else { (-dh).min(0.0).exp() };
            c.accept[k] = p;
            let u: f64 = rng.random();
            if !diverged && u < p {
                c.x[r.clone()].copy_from_slice(&px[r.clone()]);
                c.grad[r.clone()].copy_from_slice(&pg[r]);
                c.energy[k] = pe[k];
            }
            c.grad_evals[k] = len[k] as u32;
        }
    }

    /// One transition of one chunk with a dense metric: momenta
    /// p = L^-T z, drifts x += eps M^-1 p (a D x D product per chain and
    /// step), kinetic energies 1/2 p . M^-1 p; otherwise as
    /// [`Hmc::chunk_step_in`].
    fn chunk_step_dense(
        &self,
        energy: &dyn Energy,
        m: &DenseMetric,
        c: &mut ChunkMut<'_>,
        s: &mut HmcScratch,
    ) {
        let (d, n) = (c.d, c.len());
        s.resize(n, d);
        s.vel.resize(n * d, 0.0);
        let HmcScratch {
            px,
            pg,
            pe,
            mom,
            normals,
            vel,
            ..
        } = s;
        let (noise, dw) = normals.draw(c.rngs, d);
        let (eps, len) = self.paths(c.rngs);
        let (mut h0, mut h1) = ([0.0; CHUNK], [0.0; CHUNK]);
        for k in 0..n {
            let r = k * d..(k + 1) * d;
            let (p, v) = (&mut mom[r.clone()], &mut vel[r.clone()]);
            m.momentum(&noise[k * dw..k * dw + d], p);
            m.velocity(p, v);
            h0[k] = c.energy[k] + 0.5 * p.iter().zip(v.iter()).map(|(a, b)| a * b).sum::<f64>();
            px[r.clone()].copy_from_slice(&c.x[r.clone()]);
            pg[r.clone()].copy_from_slice(&c.grad[r.clone()]);
            pe[k] = c.energy[k];
            drift(m, eps[k], 0.5, &pg[r.clone()], p, v, &mut px[r]);
        }
        let max_len = len[..n].iter().copied().max().unwrap_or(0);
        for l in 0..max_len {
            leapfrog_gradients(energy, l, &len[..n], px, pg, pe);
            for k in (0..n).filter(|&k| l < len[k]) {
                let r = k * d..(k + 1) * d;
                let (p, v) = (&mut mom[r.clone()], &mut vel[r.clone()]);
                if l + 1 < len[k] {
                    drift(m, eps[k], 1.0, &pg[r.clone()], p, v, &mut px[r]);
                } else {
                    for (pj, gj) in p.iter_mut().zip(&pg[r]) {
                        *pj -= 0.5 * eps[k] * gj;
                    }
                }
            }
        }
        for k in 0..n {
            let r = k * d..(k + 1) * d;
            m.velocity(&mom[r.clone()], &mut vel[r.clone()]);
            h1[k] = pe[k]
                + 0.5
                    * mom[r.clone()]
                        .iter()
                        .zip(&vel[r])
                        .map(|(a, b)| a * b)
                        .sum::<f64>();
        }
        self.accept(c, px, pg, pe, &h0, &h1, &len);
    }
}

/// The gradients at leapfrog step `l` of chains whose paths have
/// `len` steps, and the energies only when some path ends at this step
/// ([`Energy::grad_batch`] otherwise): a chain's energy is read only at
/// its path's end, and a chain whose path ended earlier keeps its
/// energy, computed at the point where it stays.
#[inline]
fn leapfrog_gradients(
    energy: &dyn Energy,
    l: usize,
    len: &[usize],
    px: &[f64],
    pg: &mut [f64],
    pe: &mut [f64],
) {
    if len.iter().any(|&n| n == l + 1) {
        energy.energy_grad_batch(px, pg, pe);
    } else {
        energy.grad_batch(px, pg, pe);
    }
}

/// A kick p -= kick eps g followed by a drift x += eps M^-1 p (`v` is
/// scratch for the velocity).
fn drift(m: &DenseMetric, eps: f64, kick: f64, g: &[f64], p: &mut [f64], v: &mut [f64], x: &mut [f64]) {
    for (pj, gj) in p.iter_mut().zip(g) {
        *pj -= kick * eps * gj;
    }
    m.velocity(p, v);
    for (xj, vj) in x.iter_mut().zip(v.iter()) {
        *xj += eps * vj;
    }
}

/// 1/2 sum_j inv_mass_j p_j^2 with the sum in eight lanes (j mod 8), so
/// that it vectorises; the lanes are added in order. `UNIT`: `im` is all
/// ones, and p_j^2 is added as it is (fma(p^2, 1, a) rounds p^2 + a once,
/// the same bits).
#[inline(always)]
fn kinetic_lanes<const UNIT: bool>(p: &[f64], im: &[f64]) -> f64 {
    let mut acc = [0.0f64; 8];
    let full = p.len() / 8 * 8;
    for (pc, mc) in p[..full].chunks_exact(8).zip(im[..full].chunks_exact(8)) {
        for l in 0..8 {
            acc[l] = if UNIT {
                pc[l] * pc[l] + acc[l]
            } else {
                (pc[l] * pc[l]).mul_add(mc[l], acc[l])
            };
        }
    }
    for (l, (pv, mv)) in p[full..].iter().zip(&im[full..]).enumerate() {
        acc[l] = if UNIT {
            pv * pv + acc[l]
        } else {
            (pv * pv).mul_add(*mv, acc[l])
        };
    }
    0.5 * acc.iter().sum::<f64>()
}

impl Kernel for Hmc {
    fn name(&self) -> &'static str {
        "hmc"
    }

    fn settings(&self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or(serde_json::Value::Null)
    }

    fn step_chunk(&self, target: Target<'_>, chunk: &mut ChunkMut<'_>, scratch: &mut Scratch) {
        if let Some(energy) = target.energy() {
            self.chunk_step(energy, chunk, scratch.get(HmcScratch::default));
        }
    }

    fn step_size(&self) -> f64 {
        self.step_size
    }

    fn set_step_size(&mut self, eps: f64) {
        self.step_size = eps;
    }

    fn target_accept(&self) -> Option<f64> {
        Some(self.target_accept)
    }

    fn set_inv_mass(&mut self, inv_mass: &[f64]) -> bool {
        self.inv_mass = inv_mass.to_vec();
        true
    }

    fn dense_metric(&self) -> bool {
        self.metric == MetricKind::Dense
    }

    fn set_dense_inv_mass(&mut self, cov: &[f64]) -> bool {
        DenseMetric::replace(&mut self.dense, cov)
    }
}
