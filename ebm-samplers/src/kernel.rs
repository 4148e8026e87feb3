//! The kernel trait: what every sampler implements, in this crate or in
//! another.

use crate::chain_steps::ChainSteps;
use crate::chains::{Chains, ChunkMut, Scratch};
use crate::error::{Result, SamplerError};
use crate::target::{StateSpace, Target};
use ebm_core::{ChainRng, Energy};

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
    /// Gradient evaluations of all chains in this step (per chain:
    /// [`Chains::grad_evals`]).
    pub grad_evals: u64,
}

/// A sampling kernel on a batch of chains (BlackJAX `init`/`step`, argmin
/// `Solver`): it holds validated hyperparameters only, and moves one
/// chunk of chains at a time ([`Kernel::step_chunk`]); the chunked,
/// parallel, bit-reproducible machinery around it is
/// [`Chains::run_kernel`], and the [driver](crate::driver) owns
/// adaptation, burn-in, collection and diagnostics.
///
/// The trait is object-safe: `Box<dyn Kernel>` runs through the driver,
/// and the [registry](crate::registry) hands kernels out that way.
/// A kernel written in another crate implements `step_chunk` (and `name`)
/// and gets the same chunking, threads and determinism as those here;
/// `ebm-samplers/examples/custom_kernel.rs` is one.
pub trait Kernel: Send + Sync {
    /// Short name ("ula", "mala", "hmc", "gibbs").
    fn name(&self) -> &'static str;

    /// The state spaces the kernel works on (continuous by default).
    fn spaces(&self) -> &'static [StateSpace] {
        &[StateSpace::Continuous]
    }

    /// Whether the kernel can move chains on `target`: by default, whether
    /// the target's state space is [`Kernel::space`]. Kernels that need a
    /// structure of the model (block Gibbs needs a bipartite one) say so
    /// here, with an error that names what is missing.
    fn check(&self, target: Target<'_>) -> Result<()> {
        if self.spaces().contains(&target.space()) {
            Ok(())
        } else {
            Err(SamplerError::Unsupported(format!(
                "the {} kernel samples {} models, not {} ones",
                self.name(),
                spaces_name(self.spaces()),
                space_name(target.space())
            )))
        }
    }
    /// Names of the kernel's own per-chain figures, which
    /// [`Kernel::step_chunk`] writes into [`ChunkMut::figures`] every step
    /// (tree depth, leapfrog steps, swaps, ...); none by default.
    fn figures(&self) -> &'static [&'static str] {
        &[]
    }

    /// One transition of the chains of `chunk` on `target`, drawing each
    /// chain's random numbers from its own stream, and setting each
    /// chain's `accept`, `divergent`, `grad_evals` (and `figures`).
    /// `scratch` is this chunk's slot for the kernel's work buffers
    /// ([`Scratch::get`]). `target` has passed [`Kernel::check`].
    fn step_chunk(&self, target: Target<'_>, chunk: &mut ChunkMut<'_>, scratch: &mut Scratch);

    /// Whether the kernel's chains may run ahead of one another through a
    /// run of steps ([`Kernel::step_chunk_run`] is then how
    /// [`Chains::run_kernel`] takes more than one step): true for kernels
    /// whose chains share nothing within a run and whose work per chain
    /// varies from step to step (NUTS's trees), so that a chain done with
    /// a step goes on with its next one instead of waiting for the rest.
    /// False by default.
    fn runs_chains_ahead(&self) -> bool {
        false
    }

    /// `log.steps()` transitions of the chunk's chains, each chain's
    /// outcomes of every step (and its position after it, when the log
    /// keeps states) into its share of `log`; the chunk's fields `accept`,
    /// `divergent`, `grad_evals` and `figures` are then unspecified, and
    /// the positions, gradients and energies are those after the last
    /// step. Every chain's result is the same, bit for bit, as from
    /// `log.steps()` calls of [`Kernel::step_chunk`], which is what this
    /// does by default; kernels that [run chains
    /// ahead](Kernel::runs_chains_ahead) let each chain take its steps
    /// without waiting for the others.
    fn step_chunk_run(
        &self,
        target: Target<'_>,
        chunk: &mut ChunkMut<'_>,
        scratch: &mut Scratch,
        log: &mut ChainSteps,
    ) {
        let n = log.steps();
        for t in 0..n {
            chunk.steps_left = n - t;
            self.step_chunk(target, chunk, scratch);
            log.store_step(t, chunk);
        }
    }

    /// Advance every chain by one transition on a continuous energy.
    fn step(&self, energy: &dyn Energy, chains: &mut Chains, rngs: &mut [ChainRng]) -> StepStats {
        chains.run_kernel(self, Target::Continuous(energy), rngs, 1, None)[0]
    }

    /// Advance every chain by `n` transitions on a continuous energy,
    /// adding to `totals` (each chain's divergences and acceptance
    /// probabilities, and the states after every step when it has a
    /// record); returns each step's statistics. The same result as `n`
    /// calls of [`Kernel::step`], bit for bit: each chunk of chains runs
    /// through all `n` steps while it is in cache.
    fn steps(
        &self,
        energy: &dyn Energy,
        chains: &mut Chains,
        rngs: &mut [ChainRng],
        n: usize,
        totals: StepTotals<'_>,
    ) -> Vec<StepStats> {
        chains.run_kernel(self, Target::Continuous(energy), rngs, n, Some(totals))
    }

    /// The kernel's settings as JSON (for reports and run fingerprints);
    /// `null` by default.
    fn settings(&self) -> serde_json::Value {
        serde_json::Value::Null
    }

    /// The step size epsilon (NaN for kernels without one).
    fn step_size(&self) -> f64 {
        f64::NAN
    }

    /// Set the step size (adaptation); kernels without one ignore it.
    fn set_step_size(&mut self, _eps: f64) {}

    /// The acceptance rate step-size adaptation aims for (`None` for
    /// kernels without an accept step or a step size).
    fn target_accept(&self) -> Option<f64> {
        None
    }

    /// Set the diagonal inverse mass matrix (variance estimates); returns
    /// whether the kernel uses one.
    fn set_inv_mass(&mut self, _inv_mass: &[f64]) -> bool {
        false
    }

    /// Whether the kernel adapts a dense mass matrix (its own setting): the
    /// driver then estimates the full covariance in Stan's windows and
    /// hands it to [`Kernel::set_dense_inv_mass`] instead of the variances.
    fn dense_metric(&self) -> bool {
        false
    }

    /// Set a dense inverse mass matrix (a covariance estimate, D x D
    /// row-major); returns whether the kernel took it.
    fn set_dense_inv_mass(&mut self, _cov: &[f64]) -> bool {
        false
    }
}

/// The spaces joined by "and" ("binary and categorical").
pub(crate) fn spaces_name(spaces: &[StateSpace]) -> String {
    spaces
        .iter()
        .map(|&s| space_name(s))
        .collect::<Vec<_>>()
        .join(" and ")
}

pub(crate) fn space_name(s: StateSpace) -> &'static str {
    match s {
        StateSpace::Continuous => "continuous",
        StateSpace::Binary => "binary",
        StateSpace::Categorical => "categorical",
    }
}

impl<K: Kernel + ?Sized> Kernel for Box<K> {
    fn name(&self) -> &'static str {
        (**self).name()
    }
    fn spaces(&self) -> &'static [StateSpace] {
        (**self).spaces()
    }
    fn check(&self, target: Target<'_>) -> Result<()> {
        (**self).check(target)
    }
    fn figures(&self) -> &'static [&'static str] {
        (**self).figures()
    }
    fn step_chunk(&self, target: Target<'_>, chunk: &mut ChunkMut<'_>, scratch: &mut Scratch) {
        (**self).step_chunk(target, chunk, scratch)
    }
    fn runs_chains_ahead(&self) -> bool {
        (**self).runs_chains_ahead()
    }
    fn step_chunk_run(
        &self,
        target: Target<'_>,
        chunk: &mut ChunkMut<'_>,
        scratch: &mut Scratch,
        log: &mut ChainSteps,
    ) {
        (**self).step_chunk_run(target, chunk, scratch, log)
    }
    fn settings(&self) -> serde_json::Value {
        (**self).settings()
    }
    fn step_size(&self) -> f64 {
        (**self).step_size()
    }
    fn set_step_size(&mut self, eps: f64) {
        (**self).set_step_size(eps)
    }
    fn target_accept(&self) -> Option<f64> {
        (**self).target_accept()
    }
    fn set_inv_mass(&mut self, inv_mass: &[f64]) -> bool {
        (**self).set_inv_mass(inv_mass)
    }
    fn dense_metric(&self) -> bool {
        (**self).dense_metric()
    }
    fn set_dense_inv_mass(&mut self, cov: &[f64]) -> bool {
        (**self).set_dense_inv_mass(cov)
    }
}
