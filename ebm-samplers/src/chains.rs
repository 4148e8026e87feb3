//! The state of a batch of chains, and the fixed chunking that spreads
//! chains over threads without changing a single bit of the result.
//!
//! Any [`Kernel`], in this crate or another, runs through
//! [`Chains::run_kernel`]: the chains are cut into chunks of [`CHUNK`]
//! (fixed, never derived from the thread count), each chunk is handed to
//! [`Kernel::step_chunk`] as a [`ChunkMut`] with its chains' own random
//! streams and the kernel's own per-chunk [`Scratch`], and chunks run in
//! parallel on rayon's threads. Chains are independent within a
//! transition, so a seed gives the same bits with one thread or many.

use crate::chain_steps::ChainSteps;
use crate::error::{Result, SamplerError};
use crate::kernel::{Kernel, StepStats, StepTotals};
use crate::target::{StateSpace, Target};
use ebm_core::{BinaryEnergy, CategoricalEnergy, ChainRng, Energy, Points};
use rayon::prelude::*;
use std::any::Any;

/// Chains per unit of parallel work. Fixed (not derived from the thread
/// count), so each chain sees exactly the same floating-point operations
/// whether one thread runs or many.
pub const CHUNK: usize = 32;

/// N chains of dimension D: positions, their energies and gradients
/// (continuous targets), and per-chain information about the last step
/// and the run so far. Work buffers are not here: each kernel keeps its
/// own per chunk ([`Scratch`]).
#[derive(Clone, Debug)]
pub struct Chains {
    /// Current positions, N x D row-major.
    pub x: Points,
    /// grad E at the current positions, same layout (empty for binary
    /// targets).
    pub grad: Vec<f64>,
    /// E at the current positions (continuous targets; NaN for binary
    /// ones, whose kernels do not need it).
    pub energy: Vec<f64>,
    /// Acceptance probability of each chain's last step (1 for kernels
    /// without an accept step).
    pub accept: Vec<f64>,
    /// Whether each chain's last step diverged.
    pub divergent: Vec<bool>,
    /// Gradient evaluations of each chain's last step.
    pub grad_evals: Vec<u32>,
    /// Gradient evaluations of each chain since the chains were made.
    pub grad_evals_total: Vec<u64>,
    /// The kernel's own per-chain figures of the last step
    /// ([`Kernel::figures`]: tree depth, swaps, ...), `k` per chain.
    pub figures: Vec<f64>,
    /// Those figures summed over every step since the chains were made
    /// (or since [`Chains::reset_figures`]).
    pub figures_total: Vec<f64>,
    /// Each chunk's scratch, owned and typed by the kernel that uses it.
    scratch: Vec<Scratch>,
}

impl Chains {
    /// Chains on a continuous energy started at `x0`, with energies and
    /// gradients evaluated.
    pub fn new<E: Energy + ?Sized>(energy: &E, x0: Points) -> Result<Self> {
        check_points(energy.dim(), &x0)?;
        if let Some(v) = x0.as_slice().iter().find(|v| !v.is_finite()) {
            return Err(SamplerError::InitialPoints(format!("value {v} is not finite")));
        }
        let nd = x0.len() * x0.dim();
        let mut c = Self::bare(x0, nd);
        c.refresh(energy);
        Ok(c)
    }

    /// Chains on a binary model started at `x0`, whose values must be the
    /// model's two states.
    pub fn binary<M: BinaryEnergy + ?Sized>(model: &M, x0: Points) -> Result<Self> {
        check_points(model.dim(), &x0)?;
        let (lo, hi) = model.states();
        if let Some(v) = x0.as_slice().iter().find(|&&v| v != lo && v != hi) {
            return Err(SamplerError::InitialPoints(format!(
                "value {v} is not one of the model's states {lo} and {hi}"
            )));
        }
        Ok(Self::bare(x0, 0))
    }

    /// Chains on a categorical model started at `x0`, whose values must be
    /// states of their sites (integers in 0..q_i).
    pub fn categorical<M: CategoricalEnergy + ?Sized>(model: &M, x0: Points) -> Result<Self> {
        check_points(model.dim(), &x0)?;
        ebm_core::categorical::check_states(model, x0.as_slice())
            .map_err(|e| SamplerError::InitialPoints(e.to_string()))?;
        Ok(Self::bare(x0, 0))
    }

    /// Chains on `target` started at `x0` ([`Chains::new`],
    /// [`Chains::binary`] or [`Chains::categorical`]).
    pub fn for_target(target: Target<'_>, x0: Points) -> Result<Self> {
        match target {
            Target::Continuous(e) => Self::new(e, x0),
            Target::Binary(b) => Self::binary(b, x0),
            Target::Categorical(c) => Self::categorical(c, x0),
        }
    }

    fn bare(x0: Points, n_grad: usize) -> Self {
        let n = x0.len();
        Self {
            grad: vec![0.0; n_grad],
            energy: vec![if n_grad > 0 { 0.0 } else { f64::NAN }; n],
            accept: vec![1.0; n],
            divergent: vec![false; n],
            grad_evals: vec![0; n],
            grad_evals_total: vec![0; n],
            figures: Vec::new(),
            figures_total: Vec::new(),
            scratch: (0..n.div_ceil(CHUNK)).map(|_| Scratch::default()).collect(),
            x: x0,
        }
    }

    /// Recompute energies and gradients at the current positions (after
    /// the target changed, as in annealing).
    pub fn refresh<E: Energy + ?Sized>(&mut self, energy: &E) {
        let d = self.x.dim();
        self.grad.resize(self.x.len() * d, 0.0);
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

    /// Set [`Chains::figures_total`] back to zero (the driver does this
    /// when sampling starts, so the totals cover the kept iterations).
    pub fn reset_figures(&mut self) {
        self.figures_total.iter_mut().for_each(|v| *v = 0.0);
    }

    /// Advance every chain by `n` transitions of `kernel` on `target`,
    /// adding to `totals` when given (each chain's divergences and
    /// acceptance probabilities, and the states after every step when it
    /// has a record); returns each step's statistics.
    ///
    /// A chunk takes its `n` steps one after the other while its states,
    /// gradients and random streams stay in cache (temporal blocking), and
    /// a rayon task takes a run of consecutive chunks (about four tasks per
    /// thread). Chains are independent within a transition, so this gives
    /// the same bits as `n` separate steps, whatever the thread count.
    ///
    /// # Panics
    ///
    /// When `kernel` does not accept `target` ([`Kernel::check`]; the
    /// driver checks first and returns an error), or when `rngs` or the
    /// record have the wrong length.
    pub fn run_kernel<K: Kernel + ?Sized>(
        &mut self,
        kernel: &K,
        target: Target<'_>,
        rngs: &mut [ChainRng],
        n: usize,
        totals: Option<StepTotals<'_>>,
    ) -> Vec<StepStats> {
        if let Err(e) = kernel.check(target) {
            panic!("{}: {e}", kernel.name());
        }
        assert_eq!(rngs.len(), self.len(), "run_kernel: one stream per chain");
        assert_eq!(target.dim(), self.dim(), "run_kernel: target dimension");
        if target.space() == StateSpace::Continuous {
            assert_eq!(
                self.grad.len(),
                self.x.as_slice().len(),
                "run_kernel: chains made for a binary model"
            );
        }
        let k = kernel.figures().len();
        if self.figures.len() != self.len() * k {
            self.figures = vec![0.0; self.len() * k];
            self.figures_total = vec![0.0; self.len() * k];
        }
        let d = self.x.dim();
        let cd = CHUNK * d;
        let cg = if self.grad.is_empty() { 0 } else { cd };
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
                    assert_eq!(rec.len(), n * d_all, "run_kernel: record shape");
                    for row in rec.chunks_mut(d_all.max(1)) {
                        for (k, piece) in row.chunks_mut(cd).enumerate() {
                            records[k].push(piece);
                        }
                    }
                }
            }
            None => chain_totals.extend((0..n_chunks).map(|_| None)),
        }
        // per chunk and step: (sum of acceptance probabilities, divergences, gradient evaluations)
        let mut per_step = vec![(0.0, 0usize, 0u64); n_chunks * n];
        let mut grad_chunks: Vec<&mut [f64]> = if cg == 0 {
            (0..n_chunks).map(|_| <&mut [f64]>::default()).collect()
        } else {
            self.grad.chunks_mut(cg).collect()
        };
        let mut fig_chunks: Vec<(&mut [f64], &mut [f64])> = if k == 0 {
            (0..n_chunks)
                .map(|_| (<&mut [f64]>::default(), <&mut [f64]>::default()))
                .collect()
        } else {
            self.figures
                .chunks_mut(CHUNK * k)
                .zip(self.figures_total.chunks_mut(CHUNK * k))
                .collect()
        };
        let chunks: Vec<(ChunkMut<'_>, &mut Scratch)> = self
            .x
            .as_mut_slice()
            .chunks_mut(cd)
            .zip(grad_chunks.drain(..))
            .zip(self.energy.chunks_mut(CHUNK))
            .zip(self.accept.chunks_mut(CHUNK))
            .zip(self.divergent.chunks_mut(CHUNK))
            .zip(self.grad_evals.chunks_mut(CHUNK))
            .zip(self.grad_evals_total.chunks_mut(CHUNK))
            .zip(fig_chunks.drain(..))
            .zip(rngs.chunks_mut(CHUNK))
            .zip(self.scratch.iter_mut())
            .enumerate()
            .map(
                |(
                    index,
                    (
                        (
                            (
                                ((((((x, grad), energy), accept), divergent), grad_evals), evals_total),
                                (figures, figures_total),
                            ),
                            rngs,
                        ),
                        scratch,
                    ),
                )| {
                    (
                        ChunkMut {
                            d,
                            first: index * CHUNK,
                            x,
                            grad,
                            energy,
                            accept,
                            divergent,
                            grad_evals,
                            figures,
                            rngs,
                            steps_left: 0,
                            evals_total,
                            figures_total,
                        },
                        scratch,
                    )
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
            .for_each(|((((mut c, scratch), tot), rec), out)| {
                // the totals of a step, from the chunk's fields after it
                let mut count = |c: &mut ChunkMut<'_>, o: &mut (f64, usize, u64)| {
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
                    *o = c.finish_step();
                };
                if n > 1 && kernel.runs_chains_ahead() {
                    // every chain takes its n steps, then the steps are
                    // totalled in step order, as below
                    let mut log = ChainSteps::new(n, c.len(), d, k, !rec.is_empty());
                    kernel.step_chunk_run(target, &mut c, scratch, &mut log);
                    for (t, o) in out.iter_mut().take(n).enumerate() {
                        log.load_step(t, &mut c);
                        if let Some(r) = rec.get_mut(t) {
                            log.copy_states(t, r);
                        }
                        count(&mut c, o);
                    }
                    return;
                }
                for (t, o) in out.iter_mut().take(n).enumerate() {
                    c.steps_left = n - t;
                    kernel.step_chunk(target, &mut c, scratch);
                    if let Some(r) = rec.get_mut(t) {
                        r.copy_from_slice(c.x);
                    }
                    count(&mut c, o);
                }
            });
        let m = self.len() as f64;
        (0..n)
            .map(|t| {
                let (acc, div, evals) = (0..n_chunks)
                    .map(|k| per_step[k * n + t])
                    .fold((0.0, 0, 0), |(a, d, g), (x, y, z)| (a + x, d + y, g + z));
                StepStats {
                    mean_accept: acc / m,
                    divergences: div,
                    grad_evals: evals,
                }
            })
            .collect()
    }
}

fn check_points(dim: usize, x0: &Points) -> Result<()> {
    if x0.dim() != dim {
        return Err(SamplerError::InitialPoints(format!(
            "points have dimension {}, the model {dim}",
            x0.dim(),
        )));
    }
    if x0.is_empty() {
        return Err(SamplerError::InitialPoints("no chains".into()));
    }
    Ok(())
}

/// One chunk of at most [`CHUNK`] chains, borrowed for a step: what
/// [`Kernel::step_chunk`] reads and writes. Chain `k` of the chunk has
/// its coordinates at `x[k * d..(k + 1) * d]` (its gradient likewise in
/// `grad`), its energy at `energy[k]` and its own stream `rngs[k]`.
pub struct ChunkMut<'a> {
    /// Dimension D.
    pub d: usize,
    /// The index of the chunk's first chain among all chains (chain `k`
    /// of the chunk is chain `first + k`).
    pub first: usize,
    /// Positions, row-major.
    pub x: &'a mut [f64],
    /// grad E at the positions (empty for binary targets).
    pub grad: &'a mut [f64],
    /// E at the positions (continuous targets).
    pub energy: &'a mut [f64],
    /// Set by the kernel: each chain's acceptance probability this step.
    pub accept: &'a mut [f64],
    /// Set by the kernel: whether each chain's step diverged.
    pub divergent: &'a mut [bool],
    /// Set by the kernel: each chain's gradient evaluations this step.
    pub grad_evals: &'a mut [u32],
    /// Set by the kernel: its own per-chain figures this step
    /// ([`Kernel::figures`], that many per chain).
    pub figures: &'a mut [f64],
    /// The chains' random streams.
    pub rngs: &'a mut [ChainRng],
    /// Steps of this run still to take on the chunk, the current one
    /// included (a kernel may draw random numbers ahead for up to this
    /// many steps).
    pub steps_left: usize,
    /// The chains' running totals of gradient evaluations and figures
    /// ([`ChunkMut::finish_step`] adds to them).
    pub(crate) evals_total: &'a mut [u64],
    pub(crate) figures_total: &'a mut [f64],
}

impl ChunkMut<'_> {
    /// Number of chains in the chunk.
    pub fn len(&self) -> usize {
        self.rngs.len()
    }

    /// True when the chunk holds no chain (never, as handed to a kernel).
    pub fn is_empty(&self) -> bool {
        self.rngs.is_empty()
    }

    /// Add the step's per-chain counts to the running totals; returns
    /// (sum of acceptance probabilities, divergences, gradient
    /// evaluations) of the chunk.
    fn finish_step(&mut self) -> (f64, usize, u64) {
        let mut evals = 0u64;
        for (t, &g) in self.evals_total.iter_mut().zip(self.grad_evals.iter()) {
            *t += g as u64;
            evals += g as u64;
        }
        for (t, &f) in self.figures_total.iter_mut().zip(self.figures.iter()) {
            *t += f;
        }
        (
            self.accept.iter().sum(),
            self.divergent.iter().filter(|&&d| d).count(),
            evals,
        )
    }
}

/// A kernel's work buffers for one chunk of chains, kept with the chains
/// between steps so they are allocated once: the kernel decides their type
/// and contents ([`Scratch::get`]); the chains only hold the slot. A slot
/// holding another kernel's buffers is replaced on first use.
#[derive(Default)]
pub struct Scratch(Option<Box<dyn Any + Send>>);

impl Scratch {
    /// The buffers of type `T` in this slot, made by `init` when the slot
    /// is empty or holds another type.
    pub fn get<T: Any + Send>(&mut self, init: impl FnOnce() -> T) -> &mut T {
        if !self.0.as_ref().is_some_and(|b| b.is::<T>()) {
            self.0 = Some(Box::new(init()));
        }
        match self.0.as_mut().and_then(|b| b.downcast_mut::<T>()) {
            Some(t) => t,
            None => unreachable!("the slot was just filled with a T"),
        }
    }
}

/// Cloned chains start with empty slots (scratch is rebuilt on first use).
impl Clone for Scratch {
    fn clone(&self) -> Self {
        Self(None)
    }
}

impl std::fmt::Debug for Scratch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.is_some() {
            "Scratch(used)"
        } else {
            "Scratch(empty)"
        })
    }
}
