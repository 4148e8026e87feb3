//! The state of a batch of chains, and the fixed chunking that spreads
//! chains over threads without changing a single bit of the result.

use crate::error::{Result, SamplerError};
use ebm_core::normal::{box_muller, words_for};
use ebm_core::{ChainRng, Energy, Points};
use rand::{Rng, RngCore};
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
    /// Random words for the normals of a step, `words_for(D)` per chain.
    pub(crate) words: Vec<u64>,
    /// The normals made from them, same layout.
    pub(crate) noise: Vec<f64>,
}

/// Words a chain may draw ahead for normals-only kernels (ULA): 32, so
/// a chain's draws for many steps come from one bulk copy out of its
/// stream's buffer instead of a call per word.
const AHEAD_WORDS: usize = 32;

/// Steps whose normals [`ChunkMut::normals_ahead`] draws at once in
/// dimension `d` (at least 1).
fn ahead_steps(d: usize) -> usize {
    (AHEAD_WORDS / words_for(d)).max(1)
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
        let nw = n * words_for(x0.dim());
        let mut c = Self {
            grad: vec![0.0; nd],
            energy: vec![0.0; n],
            accept: vec![1.0; n],
            divergent: vec![false; n],
            px: vec![0.0; nd],
            pg: vec![0.0; nd],
            pe: vec![0.0; n],
            mom: vec![0.0; nd],
            words: vec![0; nw],
            noise: vec![0.0; nw],
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

    /// Run `f` (one transition of one chunk) `n` times on every chunk of
    /// [`CHUNK`] chains, in parallel, and return each step's statistics.
    /// With `totals`, each chain's divergences and acceptance
    /// probabilities are added to its counters, and the states after each
    /// step written to its record when it has one.
    ///
    /// A chunk takes its `n` steps one after the other while its states,
    /// gradients and random streams stay in cache (temporal blocking), and
    /// a rayon task takes a run of consecutive chunks (about four tasks per
    /// thread). Chains are independent within a transition, so this gives
    /// the same bits as `n` separate steps, whatever the thread count.
    pub(crate) fn run_chunks<F>(
        &mut self,
        rngs: &mut [ChainRng],
        n: usize,
        grad_evals: usize,
        totals: Option<StepTotals<'_>>,
        f: F,
    ) -> Vec<StepStats>
    where
        F: Fn(&mut ChunkMut<'_>) + Sync + Send,
    {
        let d = self.x.dim();
        let cd = CHUNK * d;
        let cw = CHUNK * words_for(d);
        let n_chunks = self.len().div_ceil(CHUNK);
        let d_all = self.len() * d;
        let mut chain_totals: Vec<Option<(&mut [usize], &mut [f64])>> = Vec::with_capacity(n_chunks);
        let mut records: Vec<Vec<&mut [f64]>> = (0..n_chunks).map(|_| Vec::new()).collect();
        match totals {
            Some(t) => {
                chain_totals.extend(
                    t.divergences
                        .chunks_mut(CHUNK)
                        .zip(t.acceptance.chunks_mut(CHUNK))
                        .map(Some),
                );
                if let Some(rec) = t.record {
                    assert_eq!(rec.len(), n * d_all, "run_chunks: record shape");
                    for row in rec.chunks_mut(d_all.max(1)) {
                        for (k, piece) in row.chunks_mut(cd).enumerate() {
                            records[k].push(piece);
                        }
                    }
                }
            }
            None => chain_totals.extend((0..n_chunks).map(|_| None)),
        }
        // per chunk and step: (sum of acceptance probabilities, divergences)
        let mut per_step = vec![(0.0, 0usize); n_chunks * n];
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
            .zip(self.words.chunks_mut(cw))
            .zip(self.noise.chunks_mut(cw))
            .zip(rngs.chunks_mut(CHUNK))
            .map(
                |(
                    ((((((((((x, grad), energy), accept), divergent), px), pg), pe), mom), words), noise),
                    rngs,
                )| ChunkMut {
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
                    words,
                    noise,
                    rngs,
                    steps_left: 0,
                    ahead_words: Vec::new(),
                    ahead_noise: Vec::new(),
                    ahead: 0,
                    ahead_used: 0,
                },
            )
            .collect();
        let per_task = n_chunks.div_ceil(4 * rayon::current_num_threads()).max(1);
        chunks
            .into_par_iter()
            .zip(chain_totals.par_iter_mut())
            .zip(records.par_iter_mut())
            .zip(per_step.par_chunks_mut(n.max(1)))
            .with_min_len(per_task)
            .for_each(|(((mut c, tot), rec), out)| {
                for (t, o) in out.iter_mut().take(n).enumerate() {
                    c.steps_left = n - t;
                    f(&mut c);
                    if let Some(r) = rec.get_mut(t) {
                        r.copy_from_slice(c.x);
                    }
                    if let Some((div, acc)) = tot {
                        for ((t, &dv), (a, &p)) in div
                            .iter_mut()
                            .zip(c.divergent.iter())
                            .zip(acc.iter_mut().zip(c.accept.iter()))
                        {
                            *t += dv as usize;
                            *a += p;
                        }
                    }
                    *o = chunk_totals(c.accept, c.divergent);
                }
            });
        let m = self.len() as f64;
        (0..n)
            .map(|t| {
                let (acc, div) = (0..n_chunks)
                    .map(|k| per_step[k * n + t])
                    .fold((0.0, 0), |(a, d), (x, y)| (a + x, d + y));
                StepStats {
                    mean_accept: acc / m,
                    divergences: div,
                    grad_evals,
                }
            })
            .collect()
    }

    /// One transition of every chunk (see [`Chains::run_chunks`]).
    pub(crate) fn step_chunks<F>(&mut self, rngs: &mut [ChainRng], grad_evals: usize, f: F) -> StepStats
    where
        F: Fn(&mut ChunkMut<'_>) + Sync + Send,
    {
        self.run_chunks(rngs, 1, grad_evals, None, f)[0]
    }
}

/// (sum of acceptance probabilities, divergent chains) of one chunk.
fn chunk_totals(accept: &[f64], divergent: &[bool]) -> (f64, usize) {
    (accept.iter().sum(), divergent.iter().filter(|&&d| d).count())
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
    pub words: &'a mut [u64],
    pub noise: &'a mut [f64],
    pub rngs: &'a mut [ChainRng],
    /// Steps of this run still to take on the chunk, the current one
    /// included.
    pub steps_left: usize,
    /// The words and normals [`ChunkMut::normals_ahead`] drew for several
    /// steps: the chunk's own, allocated on first use and freed with it,
    /// so only the chunks in flight hold them (not one per chain).
    ahead_words: Vec<u64>,
    pub ahead_noise: Vec<f64>,
    /// Steps whose normals [`ChunkMut::normals_ahead`] drew last time,
    /// and how many of them were used.
    ahead: usize,
    ahead_used: usize,
}

impl ChunkMut<'_> {
    /// Fill `noise` with D standard normals per chain, chain k's at
    /// `noise[k * stride..][..D]`, each from its own stream (Box-Muller,
    /// [`ebm_core::normal`]); returns the stride `words_for(D)`.
    pub fn draw_normals(&mut self) -> usize {
        let dw = words_for(self.d);
        let n = self.energy.len();
        for (w, rng) in self.words.chunks_exact_mut(dw).zip(self.rngs.iter_mut()) {
            for v in w {
                *v = rng.next_u64();
            }
        }
        normals_of(&self.words[..n * dw], &mut self.noise[..n * dw]);
        dw
    }

    /// For kernels that draw nothing but these normals from the chains'
    /// streams (ULA): the same D standard normals per chain and step as
    /// [`ChunkMut::draw_normals`], to the bit, but drawn for up to
    /// [`ahead_steps`]`(D)` steps at a time (never past the run's last
    /// step, so the streams end where step-by-step drawing leaves them),
    /// each chain's words by one bulk `fill`. Returns (offset, stride):
    /// chain k's normals for this step are
    /// `ahead_noise[offset + k * stride..][..D]`.
    pub fn normals_ahead(&mut self) -> (usize, usize) {
        let dw = words_for(self.d);
        if self.ahead_used == self.ahead {
            let m = ahead_steps(self.d).min(self.steps_left.max(1));
            let n = self.energy.len();
            self.ahead_words.resize(n * m * dw, 0);
            self.ahead_noise.resize(n * m * dw, 0.0);
            for (w, rng) in self
                .ahead_words
                .chunks_exact_mut(m * dw)
                .zip(self.rngs.iter_mut())
            {
                // the same words either way; a call per word is faster
                // for a step's few
                if m == 1 {
                    w.iter_mut().for_each(|v| *v = rng.next_u64());
                } else {
                    rng.fill(w);
                }
            }
            normals_of(&self.ahead_words, &mut self.ahead_noise);
            self.ahead = m;
            self.ahead_used = 0;
        }
        let offset = self.ahead_used * dw;
        self.ahead_used += 1;
        (offset, self.ahead * dw)
    }
}

/// Standard normals from random words, pair by pair (Box-Muller,
/// vectorised).
fn normals_of(words: &[u64], noise: &mut [f64]) {
    ebm_core::simd::dispatch(
        #[inline(always)]
        || box_muller(words, noise),
    );
}

/// What [`Kernel::steps`] adds to besides the chains themselves.
pub struct StepTotals<'a> {
    /// Divergent transitions per chain.
    pub divergences: &'a mut [usize],
    /// Summed acceptance probabilities per chain.
    pub acceptance: &'a mut [f64],
    /// The states after each step, `[step][chain][coord]` (`n` x N x D
    /// values), when they are wanted.
    pub record: Option<&'a mut [f64]>,
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

/// A sampling kernel on a batch of chains (BlackJAX `init`/`step`): holds
/// validated hyperparameters only; the [driver](crate::driver) owns
/// adaptation, burn-in and collection.
pub trait Kernel: Send + Sync {
    /// Short name ("ula", "mala", "hmc").
    fn name(&self) -> &'static str;

    /// Advance every chain by one transition.
    fn step<E: Energy + ?Sized>(&self, energy: &E, chains: &mut Chains, rngs: &mut [ChainRng]) -> StepStats;

    /// Advance every chain by `n` transitions, adding to `totals` (each
    /// chain's divergences and acceptance probabilities, and the states
    /// after every step when it has a record); returns each step's
    /// statistics. The same result as `n` calls of [`Kernel::step`], bit
    /// for bit; the kernels of this crate run each chunk of chains through
    /// all `n` steps while it is in cache, which is faster for many chains.
    fn steps<E: Energy + ?Sized>(
        &self,
        energy: &E,
        chains: &mut Chains,
        rngs: &mut [ChainRng],
        n: usize,
        totals: StepTotals<'_>,
    ) -> Vec<StepStats> {
        let StepTotals {
            divergences,
            acceptance,
            mut record,
        } = totals;
        let size = chains.x.as_slice().len();
        (0..n)
            .map(|t| {
                let s = self.step(energy, chains, rngs);
                for ((c, &d), (a, &p)) in divergences
                    .iter_mut()
                    .zip(&chains.divergent)
                    .zip(acceptance.iter_mut().zip(&chains.accept))
                {
                    *c += d as usize;
                    *a += p;
                }
                if let Some(r) = record.as_deref_mut() {
                    r[t * size..(t + 1) * size].copy_from_slice(chains.x.as_slice());
                }
                s
            })
            .collect()
    }

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
