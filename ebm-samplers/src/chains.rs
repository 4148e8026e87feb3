//! The state of a batch of chains, and the fixed chunking that spreads
//! chains over threads without changing a single bit of the result.

use crate::error::{Result, SamplerError};
use ebm_core::{ChainRng, Energy, Points};
use rayon::prelude::*;

/// Chains per unit of parallel work. Fixed (not derived from the thread
/// count), so each chain sees exactly the same floating-point operations
/// whether one thread runs or many.
pub const CHUNK: usize = 32;

/// N chains of dimension D: positions, their energies and gradients, the
/// last step's per-chain acceptance probability and divergence flag, and
/// work buffers for proposals (allocated once, reused every step).
#[derive(Clone, Debug)]
pub struct Chains {
    /// Current positions, N x D row-major.
    pub x: Points,
    /// grad E at the current positions, same layout.
    pub grad: Vec<f64>,
    /// E at the current positions.
    pub energy: Vec<f64>,
    /// Acceptance probability of each chain's last step (1 for ULA).
    pub accept: Vec<f64>,
    /// Whether each chain's last step diverged.
    pub divergent: Vec<bool>,
    pub(crate) px: Vec<f64>,
    pub(crate) pg: Vec<f64>,
    pub(crate) pe: Vec<f64>,
    pub(crate) mom: Vec<f64>,
}

impl Chains {
    /// Chains started at `x0`, with energies and gradients evaluated.
    pub fn new<E: Energy + ?Sized>(energy: &E, x0: Points) -> Result<Self> {
        if x0.dim() != energy.dim() {
            return Err(SamplerError::InitialPoints(format!(
                "points have dimension {}, the energy {}",
                x0.dim(),
                energy.dim()
            )));
        }
        if x0.is_empty() {
            return Err(SamplerError::InitialPoints("no chains".into()));
        }
        if let Some(v) = x0.as_slice().iter().find(|v| !v.is_finite()) {
            return Err(SamplerError::InitialPoints(format!("value {v} is not finite")));
        }
        let n = x0.len();
        let nd = n * x0.dim();
        let mut c = Self {
            grad: vec![0.0; nd],
            energy: vec![0.0; n],
            accept: vec![1.0; n],
            divergent: vec![false; n],
            px: vec![0.0; nd],
            pg: vec![0.0; nd],
            pe: vec![0.0; n],
            mom: vec![0.0; nd],
            x: x0,
        };
        c.refresh(energy);
        Ok(c)
    }

    /// Recompute energies and gradients at the current positions (after
    /// the target changed, as in annealing).
    pub fn refresh<E: Energy + ?Sized>(&mut self, energy: &E) {
        let d = self.x.dim();
        self.x
            .as_slice()
            .par_chunks(CHUNK * d)
            .zip(self.grad.par_chunks_mut(CHUNK * d))
            .zip(self.energy.par_chunks_mut(CHUNK))
            .for_each(|((x, g), e)| energy.energy_grad_batch(x, g, e));
    }

    /// Number of chains.
    pub fn len(&self) -> usize {
        self.x.len()
    }

    /// True when there are no chains (never, once constructed).
    pub fn is_empty(&self) -> bool {
        self.x.is_empty()
    }

    /// Dimension.
    pub fn dim(&self) -> usize {
        self.x.dim()
    }

    /// Run `f` on every chunk of [`CHUNK`] chains, in parallel.
    pub(crate) fn for_each_chunk<F>(&mut self, rngs: &mut [ChainRng], f: F)
    where
        F: Fn(ChunkMut<'_>) + Sync + Send,
    {
        let d = self.x.dim();
        let cd = CHUNK * d;
        let chunks: Vec<ChunkMut<'_>> = self
            .x
            .as_mut_slice()
            .chunks_mut(cd)
            .zip(self.grad.chunks_mut(cd))
            .zip(self.energy.chunks_mut(CHUNK))
            .zip(self.accept.chunks_mut(CHUNK))
            .zip(self.divergent.chunks_mut(CHUNK))
            .zip(self.px.chunks_mut(cd))
            .zip(self.pg.chunks_mut(cd))
            .zip(self.pe.chunks_mut(CHUNK))
            .zip(self.mom.chunks_mut(cd))
            .zip(rngs.chunks_mut(CHUNK))
            .map(
                |(((((((((x, grad), energy), accept), divergent), px), pg), pe), mom), rngs)| ChunkMut {
                    d,
                    x,
                    grad,
                    energy,
                    accept,
                    divergent,
                    px,
                    pg,
                    pe,
                    mom,
                    rngs,
                },
            )
            .collect();
        chunks.into_par_iter().for_each(f);
    }
}

/// One chunk of chains, borrowed for a step.
pub(crate) struct ChunkMut<'a> {
    pub d: usize,
    pub x: &'a mut [f64],
    pub grad: &'a mut [f64],
    pub energy: &'a mut [f64],
    pub accept: &'a mut [f64],
    pub divergent: &'a mut [bool],
    pub px: &'a mut [f64],
    pub pg: &'a mut [f64],
    pub pe: &'a mut [f64],
    pub mom: &'a mut [f64],
    pub rngs: &'a mut [ChainRng],
}

/// What one step did, summed over chains.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct StepStats {
    /// Mean acceptance probability over chains.
    pub mean_accept: f64,
    /// Chains whose step diverged.
    pub divergences: usize,
    /// Gradient evaluations per chain in this step.
    pub grad_evals: usize,
}

impl StepStats {
    pub(crate) fn from_chains(c: &Chains, grad_evals: usize) -> Self {
        Self {
            mean_accept: c.accept.iter().sum::<f64>() / c.len() as f64,
            divergences: c.divergent.iter().filter(|&&d| d).count(),
            grad_evals,
        }
    }
}

/// A sampling kernel on a batch of chains (BlackJAX `init`/`step`): holds
/// validated hyperparameters only; the [driver](crate::driver) owns
/// adaptation, burn-in and collection.
pub trait Kernel: Send + Sync {
    /// Short name ("ula", "mala", "hmc").
    fn name(&self) -> &'static str;

    /// Advance every chain by one transition.
    fn step<E: Energy + ?Sized>(&self, energy: &E, chains: &mut Chains, rngs: &mut [ChainRng]) -> StepStats;

    /// The step size epsilon.
    fn step_size(&self) -> f64;

    /// Set the step size (adaptation).
    fn set_step_size(&mut self, eps: f64);

    /// The acceptance rate step-size adaptation aims for (`None` for
    /// kernels without an accept step).
    fn target_accept(&self) -> Option<f64> {
        None
    }

    /// Set the diagonal inverse mass matrix (variance estimates); returns
    /// whether the kernel uses one.
    fn set_inv_mass(&mut self, _inv_mass: &[f64]) -> bool {
        false
    }
}
