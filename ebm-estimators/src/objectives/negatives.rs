//! Negative samples for maximum likelihood: where chains start (CD, PCD,
//! replay buffer) and which kernel moves them.

use super::ObjectiveState;
use crate::capability::PcdSettings;
use crate::error::{config, EstimatorError, Result};
use ebm_core::energies::Gaussian;
use ebm_core::{chain_rng, setup_rng, ChainRng, ExactSample, Points, RngPosition};
use ebm_samplers::gibbs::Gibbs;
use ebm_samplers::{Chains, Kernel, Target};
use rand::Rng;

/// The noise that fresh chains start from (replay buffer, short-run).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub enum Init {
    /// N(m, S) with the data's mean and covariance (RBMs: uniform bits).
    #[default]
    FittedGaussian,
    /// Uniform over the data's bounding box, each coordinate between its
    /// smallest and largest value (RBMs: uniform bits).
    Uniform,
}

/// Where the negative chains start at each training step.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Negatives {
    /// CD-k (Hinton 2002): one chain per batch row, restarted at the data
    /// each step, `steps` transitions.
    Cd {
        /// Transitions per training step (k).
        steps: usize,
    },
    /// Persistent CD (Tieleman 2008): `chains` chains carried from step to
    /// step (started at random data rows), `steps` transitions each step.
    Pcd {
        /// Transitions per training step.
        steps: usize,
        /// Number of persistent chains.
        chains: usize,
    },
    /// Replay buffer (Du and Mordatch 2019): each step, one chain per batch
    /// row starts from a random buffer entry, or with probability `reinit`
    /// from fresh noise (`init`; uniform random bits for binary models);
    /// after `steps` transitions the chains go back into the buffer, which
    /// holds `capacity` states (first filled with noise).
    Replay {
        /// Transitions per training step.
        steps: usize,
        /// Buffer size.
        capacity: usize,
        /// Share of chains restarted from noise, in [0, 1].
        reinit: f64,
        /// The noise.
        init: Init,
    },
    /// Short-run, noise-initialised MCMC (Nijkamp et al. 2019): each step,
    /// one chain per batch row starts afresh from the fixed noise `init`
    /// and takes `steps` transitions; nothing persists. The model learns
    /// to make these K-step chains land on the data, whether or not they
    /// would mix.
    ShortRun {
        /// Transitions per training step (K).
        steps: usize,
        /// The noise the chains start from.
        init: Init,
    },
}

impl Negatives {
    /// Transitions per training step.
    pub fn steps(&self) -> usize {
        match *self {
            Negatives::Cd { steps }
            | Negatives::Pcd { steps, .. }
            | Negatives::Replay { steps, .. }
            | Negatives::ShortRun { steps, .. } => steps,
        }
    }

    /// "cd", "pcd", "replay" or "shortrun".
    pub fn name(&self) -> &'static str {
        match self {
            Negatives::Cd { .. } => "cd",
            Negatives::Pcd { .. } => "pcd",
            Negatives::Replay { .. } => "replay",
            Negatives::ShortRun { .. } => "shortrun",
        }
    }

    /// The noise fresh chains start from, for the schemes that have them.
    pub fn init(&self) -> Option<Init> {
        match *self {
            Negatives::Replay { init, .. } | Negatives::ShortRun { init, .. } => Some(init),
            Negatives::Cd { .. } | Negatives::Pcd { .. } => None,
        }
    }

    /// Check the settings.
    pub fn validate(&self) -> Result<()> {
        if self.steps() == 0 {
            return Err(config("k", "negatives need at least 1 transition per step"));
        }
        match *self {
            Negatives::Pcd { chains: 0, .. } => {
                Err(config("chains", "PCD needs at least 1 persistent chain"))
            }
            Negatives::Replay { capacity: 0, .. } => {
                Err(config("buffer", "the replay buffer needs capacity >= 1"))
            }
            Negatives::Replay { reinit, .. } if !(0.0..=1.0).contains(&reinit) => {
                Err(config("reinit", format!("must lie in [0, 1], got {reinit}")))
            }
            _ => Ok(()),
        }
    }
}

/// Fresh starting states for a replay buffer or short-run chains.
enum Fresh {
    Gaussian(Gaussian),
    /// Uniform between `low` and `high`, coordinate by coordinate.
    Uniform {
        low: Vec<f64>,
        high: Vec<f64>,
    },
    Bits,
}

impl Fresh {
    /// The noise `init` of a continuous model, from its data.
    fn continuous(init: Init, data: &Points) -> Result<Self> {
        Ok(match init {
            Init::FittedGaussian => Fresh::Gaussian(super::nce::fit_gaussian(data)?),
            Init::Uniform => {
                let d = data.dim();
                let (mut low, mut high) = (vec![f64::INFINITY; d], vec![f64::NEG_INFINITY; d]);
                for row in data.rows() {
                    for j in 0..d {
                        low[j] = low[j].min(row[j]);
                        high[j] = high[j].max(row[j]);
                    }
                }
                Fresh::Uniform { low, high }
            }
        })
    }

    fn draw(&self, rng: &mut ChainRng, row: &mut [f64]) {
        match self {
            Fresh::Gaussian(g) => g.sample_into(rng, row),
            Fresh::Uniform { low, high } => row
                .iter_mut()
                .zip(low.iter().zip(high))
                .for_each(|(v, (lo, hi))| *v = lo + (hi - lo) * rng.random::<f64>()),
            Fresh::Bits => row
                .iter_mut()
                .for_each(|v| *v = rng.random::<bool>() as u8 as f64),
        }
    }
}

/// The bookkeeping shared by every sampler: starting states, persistent
/// state, and one random stream per chain slot (so results do not depend
/// on the number of threads).
struct Pool {
    scheme: Negatives,
    seed: u64,
    rngs: Vec<ChainRng>,
    persistent: Option<Points>,
    buffer: Vec<f64>,
    buffer_rows: usize,
    /// Buffer row of each chain in the current step (replay).
    slots: Vec<usize>,
    fresh: Option<Fresh>,
}

impl Pool {
    fn new(scheme: Negatives) -> Result<Self> {
        scheme.validate()?;
        Ok(Self {
            scheme,
            seed: 0,
            rngs: Vec::new(),
            persistent: None,
            buffer: Vec::new(),
            buffer_rows: 0,
            slots: Vec::new(),
            fresh: None,
        })
    }

    fn prepare(&mut self, data: &Points, seed: u64, fresh: Fresh) -> Result<()> {
        if data.is_empty() {
            return Err(EstimatorError::Data("no rows".into()));
        }
        self.seed = seed;
        let mut rng = setup_rng(seed ^ 0x6e65_6761_7469_7665);
        let d = data.dim();
        match self.scheme {
            Negatives::Pcd { chains, .. } => {
                let mut x = Vec::with_capacity(chains * d);
                for _ in 0..chains {
                    x.extend_from_slice(data.row(rng.random_range(0..data.len())));
                }
                self.persistent = Some(Points::from_vec(x, d)?);
            }
            Negatives::Replay { capacity, .. } => {
                self.buffer = vec![0.0; capacity * d];
                for row in self.buffer.chunks_exact_mut(d) {
                    fresh.draw(&mut rng, row);
                }
                self.buffer_rows = capacity;
            }
            Negatives::Cd { .. } | Negatives::ShortRun { .. } => {}
        }
        self.fresh = Some(fresh);
        Ok(())
    }

    fn ensure_rngs(&mut self, n: usize) {
        while self.rngs.len() < n {
            let c = self.rngs.len();
            self.rngs.push(chain_rng(self.seed, c));
        }
    }

    /// The starting states of this step.
    fn starts(&mut self, batch: &Points, rng: &mut ChainRng) -> Result<Points> {
        let d = batch.dim();
        let start = match self.scheme {
            Negatives::Cd { .. } => batch.clone(),
            Negatives::Pcd { .. } => self
                .persistent
                .clone()
                .ok_or_else(|| EstimatorError::Unsupported("negatives used before prepare".into()))?,
            Negatives::ShortRun { .. } => {
                let fresh = self
                    .fresh
                    .as_ref()
                    .ok_or_else(|| EstimatorError::Unsupported("negatives used before prepare".into()))?;
                let mut x = vec![0.0; batch.len() * d];
                for row in x.chunks_exact_mut(d) {
                    fresh.draw(rng, row);
                }
                Points::from_vec(x, d)?
            }
            Negatives::Replay { reinit, .. } => {
                let fresh = self
                    .fresh
                    .as_ref()
                    .ok_or_else(|| EstimatorError::Unsupported("negatives used before prepare".into()))?;
                let mut x = vec![0.0; batch.len() * d];
                self.slots.clear();
                for row in x.chunks_exact_mut(d) {
                    let slot = rng.random_range(0..self.buffer_rows);
                    self.slots.push(slot);
                    if rng.random::<f64>() < reinit {
                        fresh.draw(rng, row);
                    } else {
                        row.copy_from_slice(&self.buffer[slot * d..(slot + 1) * d]);
                    }
                }
                Points::from_vec(x, d)?
            }
        };
        self.ensure_rngs(start.len());
        Ok(start)
    }

    /// The state to checkpoint (`resets` is kept by the caller).
    fn state(&self, resets: usize) -> ObjectiveState {
        ObjectiveState {
            rngs: self.rngs.iter().map(RngPosition::of).collect(),
            chains: self
                .persistent
                .as_ref()
                .map_or_else(Vec::new, |p| p.as_slice().to_vec()),
            buffer: self.buffer.clone(),
            resets,
        }
    }

    /// Continue from `state`; called after `prepare`, so the persistent
    /// chains and the buffer already have their shapes.
    fn restore(&mut self, state: &ObjectiveState) -> Result<()> {
        let bad = |m: String| Err(EstimatorError::Checkpoint(m));
        let have_chains = self.persistent.as_ref().map_or(0, Points::len);
        let dim = self.persistent.as_ref().map_or(1, Points::dim);
        if state.chains.len() != have_chains * dim {
            return bad(format!(
                "it holds {} persistent-chain values, this run has {have_chains} chains of dimension {dim}",
                state.chains.len()
            ));
        }
        if state.buffer.len() != self.buffer.len() {
            return bad(format!(
                "it holds a replay buffer of {} values, this run's buffer has {}",
                state.buffer.len(),
                self.buffer.len()
            ));
        }
        if state.chains.iter().chain(&state.buffer).any(|v| !v.is_finite()) {
            return bad("its chains or replay buffer hold a non-finite value".into());
        }
        if let Some(p) = &mut self.persistent {
            *p = Points::from_vec(state.chains.clone(), dim)?;
        }
        self.buffer.clone_from(&state.buffer);
        self.rngs = state.rngs.iter().map(RngPosition::restore).collect();
        Ok(())
    }

    /// Keep this step's end states where the scheme needs them.
    fn finish(&mut self, end: &Points) {
        let d = end.dim();
        match self.scheme {
            Negatives::Cd { .. } | Negatives::ShortRun { .. } => {}
            Negatives::Pcd { .. } => self.persistent = Some(end.clone()),
            Negatives::Replay { .. } => {
                for (row, &slot) in end.rows().zip(&self.slots) {
                    self.buffer[slot * d..(slot + 1) * d].copy_from_slice(row);
                }
            }
        }
    }
}

/// Produces negative samples from a sampling target (the model with its
/// current parameters, [`ebm_samplers::Target`]).
pub trait NegativeSampler: Send {
    /// Name of the scheme ("cd", "pcd", "replay", "shortrun").
    fn name(&self) -> String;
    /// The scheme's and the kernel's settings in words (part of the
    /// objective's [`settings`](crate::capability::CapabilityObjective::settings)).
    fn settings(&self) -> String {
        String::new()
    }
    /// Set up persistent state from the data.
    fn prepare(&mut self, data: &Points, seed: u64) -> Result<()>;
    /// Negatives for one training step from `target`.
    fn negatives(&mut self, target: Target<'_>, batch: &Points, rng: &mut ChainRng) -> Result<Points>;
    /// The state to checkpoint: streams, persistent chains, buffer.
    fn state(&self) -> ObjectiveState;
    /// Continue from a checkpointed state (after `prepare`).
    fn restore(&mut self, state: &ObjectiveState) -> Result<()>;
    /// The sweeps per step and chains when these negatives are persistent
    /// block-Gibbs chains (what a model's closed-form
    /// [`PcdStep`](crate::capability::PcdStep) runs itself).
    fn persistent_block_gibbs(&self) -> Option<PcdSettings> {
        None
    }
}

/// Negatives for a continuous model from any ebm-samplers kernel run on
/// the model itself (through its `ebm_core::Energy` implementation). A
/// chain that leaves the finite numbers goes back to its start.
/// `K` is any kernel, `Box<dyn Kernel>` from the registry included.
pub struct ChainNegatives<K: Kernel> {
    kernel: K,
    pool: Pool,
    /// Chains reset after a non-finite state, over the whole run.
    pub resets: usize,
}

impl<K: Kernel> ChainNegatives<K> {
    /// Negatives by `kernel` under `scheme`.
    pub fn new(kernel: K, scheme: Negatives) -> Result<Self> {
        Ok(Self {
            kernel,
            pool: Pool::new(scheme)?,
            resets: 0,
        })
    }
}

impl<K: Kernel + Send> ChainNegatives<K> {
    /// Negatives of a binary or categorical model (a pairwise or Potts
    /// model): the kernel (site Gibbs by default) from the data (CD) or the
    /// persistent chains (PCD). A replay buffer's fresh states would need
    /// the model's own states, which the pool does not know: refused.
    fn discrete_negatives(
        &mut self,
        target: Target<'_>,
        batch: &Points,
        rng: &mut ChainRng,
    ) -> Result<Points> {
        if matches!(
            self.pool.scheme,
            Negatives::Replay { .. } | Negatives::ShortRun { .. }
        ) {
            return Err(EstimatorError::Unsupported(format!(
                "{} negatives are for continuous models and RBMs; train a discrete model with cd or pcd",
                self.pool.scheme.name()
            )));
        }
        self.kernel
            .check(target)
            .map_err(|e| EstimatorError::Unsupported(e.to_string()))?;
        let start = self.pool.starts(batch, rng)?;
        let n = start.len();
        let mut chains = Chains::for_target(target, start)?;
        chains.run_kernel(
            &self.kernel,
            target,
            &mut self.pool.rngs[..n],
            self.pool.scheme.steps(),
            None,
        );
        let end = chains.x;
        self.pool.finish(&end);
        Ok(end)
    }
}

impl<K: Kernel + Send> NegativeSampler for ChainNegatives<K> {
    fn name(&self) -> String {
        format!("{}-{}", self.pool.scheme.name(), self.kernel.name())
    }

    fn settings(&self) -> String {
        format!(
            "{:?}, {} {}",
            self.pool.scheme,
            self.kernel.name(),
            self.kernel.settings()
        )
    }

    fn prepare(&mut self, data: &Points, seed: u64) -> Result<()> {
        let init = self.pool.scheme.init().unwrap_or_default();
        let fresh = Fresh::continuous(init, data)?;
        self.pool.prepare(data, seed, fresh)
    }

    fn negatives(&mut self, target: Target<'_>, batch: &Points, rng: &mut ChainRng) -> Result<Points> {
        let Target::Continuous(model) = target else {
            return self.discrete_negatives(target, batch, rng);
        };
        let start = self.pool.starts(batch, rng)?;
        let n = start.len();
        let mut chains = Chains::new(model, start.clone())?;
        // all k transitions in one run of the chunk machinery (each chunk
        // takes them while in cache; the same bits as k single steps)
        chains.run_kernel(
            &self.kernel,
            Target::Continuous(model),
            &mut self.pool.rngs[..n],
            self.pool.scheme.steps(),
            None,
        );
        let mut end = chains.x;
        let d = end.dim();
        for (i, row) in end.rows_mut().enumerate() {
            if row.iter().any(|v| !v.is_finite()) {
                row.copy_from_slice(&start.as_slice()[i * d..(i + 1) * d]);
                self.resets += 1;
            }
        }
        self.pool.finish(&end);
        Ok(end)
    }

    fn state(&self) -> ObjectiveState {
        self.pool.state(self.resets)
    }

    fn restore(&mut self, state: &ObjectiveState) -> Result<()> {
        self.pool.restore(state)?;
        self.resets = state.resets;
        Ok(())
    }
}

/// Negatives for an RBM by block Gibbs sweeps (h | v, then v | h) on the
/// current parameters (a binary target whose `BinaryEnergy::rbm()` is
/// the RBM).
pub struct GibbsNegatives {
    pool: Pool,
}

impl GibbsNegatives {
    /// Gibbs negatives under `scheme` (`steps` = sweeps per training step).
    pub fn new(scheme: Negatives) -> Result<Self> {
        Ok(Self {
            pool: Pool::new(scheme)?,
        })
    }
}

impl NegativeSampler for GibbsNegatives {
    fn name(&self) -> String {
        format!("{}-gibbs", self.pool.scheme.name())
    }

    fn settings(&self) -> String {
        format!("{:?}, block gibbs", self.pool.scheme)
    }

    fn prepare(&mut self, data: &Points, seed: u64) -> Result<()> {
        self.pool.prepare(data, seed, Fresh::Bits)
    }

    fn negatives(&mut self, target: Target<'_>, batch: &Points, rng: &mut ChainRng) -> Result<Points> {
        let rbm = match target {
            Target::Binary(b) => b.rbm(),
            Target::Continuous(_) | Target::Categorical(_) => None,
        }
        .ok_or_else(|| EstimatorError::Unsupported("block Gibbs negatives need an RBM".into()))?;
        let x = self.pool.starts(batch, rng)?;
        let n = x.len();
        let mut chains = Chains::binary(rbm, x)?;
        chains.run_kernel(
            &Gibbs::block(),
            Target::Binary(rbm),
            &mut self.pool.rngs[..n],
            self.pool.scheme.steps(),
            None,
        );
        self.pool.finish(&chains.x);
        Ok(chains.x)
    }

    fn state(&self) -> ObjectiveState {
        self.pool.state(0)
    }

    fn restore(&mut self, state: &ObjectiveState) -> Result<()> {
        self.pool.restore(state)
    }

    fn persistent_block_gibbs(&self) -> Option<PcdSettings> {
        match self.pool.scheme {
            Negatives::Pcd { steps, chains } => Some(PcdSettings {
                sweeps: steps,
                chains,
            }),
            _ => None,
        }
    }
}
