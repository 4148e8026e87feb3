//! Running kernels: warm-up with adaptation, burn-in, thinning, collection,
//! an observer hook, and a diagnostic summary.

use crate::chains::Chains;
use crate::diagnostics::{coordinate_block_series, ChainSeries, QuantityDiagnostics};
use crate::draws::Draws;
use crate::error::{invalid, Result, SamplerError};
use crate::kernel::{Kernel, StepStats, StepTotals};
use crate::moments::{mean_of, moments_of, Moments};
use crate::target::Target;
use crate::warmup::Warmup;
use ebm_core::{chain_rng, BinaryEnergy, CategoricalEnergy, ChainRng, Energy, Points};
use rand::Rng;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

/// Steps without adaptation (warm-up without it, burn-in, draws without
/// thinning) run in blocks per call of [`Kernel::steps`]: the first of
/// this many steps, the next ones sized by [`Blocks`].
const FIRST_BLOCK: usize = 50;
/// The most steps in one block.
const MAX_BLOCK: usize = 1000;
/// About how long a block takes, at the rate of the block before: long
/// enough that the threads' hand-over between blocks costs little (W2's
/// HMC ran 4% faster in blocks of 250 steps than of 50), short enough that
/// a stop request and the progress bar are served promptly.
const BLOCK_SECONDS: f64 = 0.05;

/// The sizes of the blocks of steps of one phase of a run, from the time
/// the blocks before took. Where the blocks end never changes a result
/// (each chunk of chains runs a whole block with the same bits as step by
/// step), so the sizes may follow the clock.
struct Blocks {
    size: usize,
    started: std::time::Instant,
}

impl Blocks {
    fn new() -> Self {
        Self {
            size: FIRST_BLOCK,
            started: std::time::Instant::now(),
        }
    }

    /// The next block's steps: at most `left` and `cap` (at least 1), and
    /// the clock started for it.
    fn next(&mut self, left: usize, cap: usize) -> usize {
        self.started = std::time::Instant::now();
        self.size.min(left).min(cap).max(1)
    }

    /// The block of `steps` steps begun at the last [`Blocks::next`] is
    /// done: size the next one to take about [`BLOCK_SECONDS`].
    fn done(&mut self, steps: usize) {
        let per_step = self.started.elapsed().as_secs_f64() / steps.max(1) as f64;
        self.size = if per_step > 0.0 {
            (BLOCK_SECONDS / per_step).clamp(1.0, MAX_BLOCK as f64) as usize
        } else {
            MAX_BLOCK
        };
    }
}
/// The most values a block of draws buffers when they are not stored.
const RECORD_CAP: usize = 1 << 20;

/// What a run does, in order: `warmup` iterations (adapting the step size
/// and, for HMC, the mass matrix, when enabled), `burn_in` more iterations
/// with the adapted kernel fixed, then `draws * thin` iterations keeping
/// every `thin`-th state.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunConfig {
    /// Adaptation iterations.
    pub warmup: usize,
    /// Discarded iterations after warm-up.
    pub burn_in: usize,
    /// Kept draws per chain.
    pub draws: usize,
    /// Keep every `thin`-th state (>= 1).
    pub thin: usize,
    /// Adapt the step size by dual averaging during warm-up (kernels with
    /// an accept step only).
    pub adapt_step_size: bool,
    /// Adapt a diagonal mass matrix in Stan's windows during warm-up (HMC).
    pub adapt_mass: bool,
    /// Store the draws (needed for ESS and R-hat); otherwise only the final
    /// state and running moments are kept.
    pub store_draws: bool,
    /// The seed; chain i uses stream i + 1.
    pub seed: u64,
}

impl Default for RunConfig {
    fn default() -> Self {
        Self {
            warmup: 500,
            burn_in: 0,
            draws: 1000,
            thin: 1,
            adapt_step_size: true,
            adapt_mass: true,
            store_draws: true,
            seed: 0,
        }
    }
}

/// The phase of a run, for observers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phase {
    /// Adaptation.
    Warmup,
    /// Discarded iterations.
    BurnIn,
    /// Kept iterations.
    Sampling,
}

/// Called after every iteration (progress bars, metrics).
pub trait Observer {
    /// Iteration `iter` of `total` (over all phases) finished with `stats`.
    fn on_step(&mut self, phase: Phase, iter: usize, total: usize, stats: &StepStats);

    /// Kept draw `draw` (0-based) of every chain, `states` row `c` being
    /// chain `c`: called in order, so draws can be streamed to disk
    /// instead of held in memory (run with `store_draws: false`).
    fn on_draw(&mut self, _draw: usize, _states: &Points) {}

    /// Whether [`Observer::on_draw`] does anything: an observer that only
    /// watches steps returns false, and [`run`] then skips copying every
    /// draw (m x d values) into the `states` it would be handed.
    fn wants_draws(&self) -> bool {
        true
    }

    /// Whether the run should stop now (an interrupt from the program
    /// embedding the run, such as Ctrl-C in a Python notebook): the driver
    /// then returns [`SamplerError::Interrupted`] after the block of steps
    /// it is in (at most 50 iterations later).
    fn stop_requested(&self) -> bool {
        false
    }
}

/// [`SamplerError::Interrupted`] after `done` of `total` iterations if the
/// observer asks the run to stop.
pub(crate) fn check_stop(observer: &dyn Observer, done: usize, total: usize) -> Result<()> {
    if observer.stop_requested() {
        return Err(SamplerError::Interrupted { done, total });
    }
    Ok(())
}

/// An observer that does nothing.
pub struct Silent;
impl Observer for Silent {
    fn on_step(&mut self, _: Phase, _: usize, _: usize, _: &StepStats) {}
    fn wants_draws(&self) -> bool {
        false
    }
}

/// The result of [`run`].
#[derive(Clone, Debug)]
pub struct RunOutput {
    /// Draws, `[draw][chain][coord]` (empty unless `store_draws`), read
    /// as a slice ([`Draws`]).
    pub draws: Draws,
    /// Number of kept draws per chain.
    pub n_draws: usize,
    /// Chains at the end of the run.
    pub chains: Chains,
    /// Mean acceptance probability of each chain over the kept iterations.
    pub acceptance: Vec<f64>,
    /// Divergent transitions of each chain after warm-up (burn-in and
    /// sampling). Divergences while the step size is still being adapted
    /// are expected (dual averaging probes large steps) and are counted in
    /// `warmup_divergences` instead.
    pub divergences: Vec<usize>,
    /// Divergent transitions during warm-up, all chains together.
    pub warmup_divergences: usize,
    /// The names of the kernel's own per-chain figures
    /// ([`Kernel::figures`]; their sums over the sampling iterations are
    /// in `chains.figures_total`, see [`RunOutput::figure_means`]).
    pub figure_names: Vec<&'static str>,
    /// Iterations after burn-in (`draws * thin`), over which acceptance
    /// and the kernel's figures are averaged.
    pub(crate) sampling_iters: usize,
    /// The step size after warm-up.
    pub step_size: f64,
    /// The running mean and covariance of draws that were not stored
    /// (see [`RunOutput::moments`]).
    pub(crate) streamed: Option<(Vec<f64>, Vec<f64>)>,
}

/// Convergence diagnostics per coordinate (see [`crate::diagnostics`]);
/// the default has no coordinates.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Diagnostics {
    /// ESS for the mean: Stan's estimator on the split chains (ArviZ's
    /// `ess(method="mean")`); the one behind a mean's standard error.
    pub ess: Vec<f64>,
    /// Split R-hat (Gelman et al. 2013).
    pub rhat: Vec<f64>,
    /// Bulk ESS: on the rank-normalised split chains (Vehtari et al. 2021).
    pub ess_bulk: Vec<f64>,
    /// Tail ESS: the smaller ESS of the 5% and 95% quantile indicators.
    pub ess_tail: Vec<f64>,
    /// Rank-normalised split R-hat, the larger of the bulk and folded ones.
    pub rhat_rank: Vec<f64>,
    /// Monte Carlo standard error of the mean (sd / sqrt(ess)).
    pub mcse_mean: Vec<f64>,
}

impl Diagnostics {
    /// The diagnostics of every coordinate from draws laid out
    /// `[draw][chain][coord]` (`n` draws of `m` chains in `d` dimensions);
    /// NaN when there are none (and R-hat NaN for a single chain).
    pub fn of_draws(draws: &[f64], n: usize, m: usize, d: usize) -> Self {
        let per: Vec<[f64; 6]> = if draws.is_empty() || n * m * d != draws.len() {
            vec![[f64::NAN; 6]; d]
        } else {
            // blocks of coordinates in parallel (each coordinate is
            // independent: the same values for any number of threads),
            // a block's series gathered in one pass over the draws
            const BLOCK: usize = 4;
            (0..d.div_ceil(BLOCK))
                .into_par_iter()
                .flat_map_iter(|b| {
                    let block = b * BLOCK..(b * BLOCK + BLOCK).min(d);
                    coordinate_block_series(draws, n, m, d, block)
                        .iter()
                        .map(|series| QuantityDiagnostics::of(series).to_array())
                        .collect::<Vec<_>>()
                })
                .collect()
        };
        Self::of_rows(&per)
    }

    /// The diagnostics of every coordinate of draws kept as series (the
    /// draws still waiting written first): each coordinate read in place,
    /// the same values as [`Diagnostics::of_draws`] of the same draws.
    ///
    /// A coordinate's diagnostics need about 24 bytes a draw of working
    /// buffers (its sort, then one series of scores) beside the 8 the
    /// series keep, so at most d / 3 coordinates run at once: the buffers
    /// never outgrow the kept draws (a 1- or 2-D run works on one
    /// coordinate at a time, in parallel within it). The values are the
    /// same for any number of threads.
    pub fn of_series(series: &mut ChainSeries) -> Self {
        series.finish();
        let series = &*series;
        let d = series.dim();
        let at_once = (d / 3).clamp(1, rayon::current_num_threads().max(1));
        let per: Vec<[f64; 6]> = (0..d)
            .collect::<Vec<_>>()
            .chunks(at_once)
            .flat_map(|group| {
                group
                    .par_iter()
                    .map(|&j| QuantityDiagnostics::of(&series.series(j)).to_array())
                    .collect::<Vec<_>>()
            })
            .collect();
        Self::of_rows(&per)
    }

    /// Append the diagnostics of further coordinates (`more`'s after
    /// this one's).
    pub fn append(&mut self, more: Diagnostics) {
        self.ess.extend(more.ess);
        self.rhat.extend(more.rhat);
        self.ess_bulk.extend(more.ess_bulk);
        self.ess_tail.extend(more.ess_tail);
        self.rhat_rank.extend(more.rhat_rank);
        self.mcse_mean.extend(more.mcse_mean);
    }

    /// From each coordinate's [`QuantityDiagnostics::to_array`].
    fn of_rows(per: &[[f64; 6]]) -> Self {
        let col = |k: usize| per.iter().map(|p| p[k]).collect();
        Self {
            ess: col(0),
            rhat: col(1),
            ess_bulk: col(2),
            ess_tail: col(3),
            rhat_rank: col(4),
            mcse_mean: col(5),
        }
    }

    /// Smallest bulk ESS (NaN ignored).
    pub fn ess_bulk_min(&self) -> f64 {
        min_of(&self.ess_bulk)
    }

    /// Smallest tail ESS (NaN ignored).
    pub fn ess_tail_min(&self) -> f64 {
        min_of(&self.ess_tail)
    }

    /// Largest rank-normalised R-hat (NaN ignored).
    pub fn rhat_rank_max(&self) -> f64 {
        self.rhat_rank
            .iter()
            .copied()
            .filter(|v| !v.is_nan())
            .fold(f64::NEG_INFINITY, f64::max)
    }

    /// Smallest ESS for the mean (NaN ignored).
    pub fn ess_min(&self) -> f64 {
        min_of(&self.ess)
    }
    /// Median ESS.
    pub fn ess_median(&self) -> f64 {
        let mut v: Vec<f64> = self.ess.iter().copied().filter(|v| !v.is_nan()).collect();
        v.sort_by(f64::total_cmp);
        if v.is_empty() {
            f64::NAN
        } else {
            v[v.len() / 2]
        }
    }
    /// Largest R-hat.
    pub fn rhat_max(&self) -> f64 {
        self.rhat
            .iter()
            .copied()
            .filter(|v| !v.is_nan())
            .fold(f64::NEG_INFINITY, f64::max)
    }
}

impl RunOutput {
    /// Mean and covariance (row-major, denominator n - 1) of the kept
    /// draws, pooled over chains. From stored draws they are computed on
    /// each call ([`crate::moments::moments_of`]: O(draws x chains x d^2),
    /// so keep the result), and a run that does not need them does not pay
    /// for them; from a run with `store_draws: false` they are the running
    /// moments kept while the draws streamed past.
    pub fn moments(&self) -> (Vec<f64>, Vec<f64>) {
        match &self.streamed {
            Some(m) => m.clone(),
            None => moments_of(&self.draws, self.chains.dim()),
        }
    }

    /// The mean of [`RunOutput::moments`] (the same values), without
    /// computing the covariance ([`crate::moments::mean_of`]).
    pub fn mean(&self) -> Vec<f64> {
        match &self.streamed {
            Some((mean, _)) => mean.clone(),
            None => mean_of(&self.draws, self.chains.dim()),
        }
    }

    /// The covariance of [`RunOutput::moments`] (the same values).
    pub fn covariance(&self) -> Vec<f64> {
        self.moments().1
    }

    /// ESS and split R-hat of every coordinate from the stored draws.
    pub fn diagnostics(&self) -> Diagnostics {
        Diagnostics::of_draws(&self.draws, self.n_draws, self.chains.len(), self.chains.dim())
    }

    /// Gradient evaluations of each chain over the whole run.
    pub fn grad_evals(&self) -> &[u64] {
        &self.chains.grad_evals_total
    }

    /// Each chain's mean of the kernel's figure `name` over the sampling
    /// iterations, thinned-away ones included, as for the acceptance
    /// (`None` when the kernel has no such figure).
    pub fn figure_means(&self, name: &str) -> Option<Vec<f64>> {
        let k = self.figure_names.len();
        let j = self.figure_names.iter().position(|n| *n == name)?;
        let iters = self.sampling_iters.max(1) as f64;
        Some(
            self.chains
                .figures_total
                .chunks_exact(k)
                .map(|f| f[j] / iters)
                .collect(),
        )
    }

    /// The kept draws of chain `c` as points.
    pub fn chain_draws(&self, c: usize) -> Points {
        let (m, d) = (self.chains.len(), self.chains.dim());
        let mut v = Vec::with_capacity(self.n_draws * d);
        for t in 0..self.n_draws {
            v.extend_from_slice(&self.draws[(t * m + c) * d..(t * m + c + 1) * d]);
        }
        Points::from_vec(v, d).expect("d > 0")
    }
}

/// Where a run's chains start.
#[derive(Clone, Debug)]
pub enum Start {
    /// These points, one row per chain.
    Points(Points),
    /// `chains` chains of a binary or categorical model, each unit drawn
    /// uniformly from its states by a draw from its chain's own stream
    /// (before any step; [`uniform_points`]).
    Uniform {
        /// Number of chains.
        chains: usize,
    },
}

/// Run `kernel` on the continuous `energy` from `x0` (one row per chain)
/// as `cfg` says ([`run_target`]).
///
/// ```
/// use ebm_samplers::{driver::{run, RunConfig, Silent}, Hmc};
/// use ebm_core::{energies::DiagGaussian, Points};
/// let e = DiagGaussian::new(vec![1.0, -1.0], vec![1.0, 2.0]).unwrap();
/// let mut hmc = Hmc::new(0.5, 8).unwrap();
/// let cfg = RunConfig { warmup: 200, draws: 500, seed: 7, ..Default::default() };
/// let out = run(&mut hmc, &e, Points::zeros(8, 2), &cfg, &mut Silent).unwrap();
/// assert!((out.mean()[0] - 1.0).abs() < 0.2);
/// assert!(out.diagnostics().rhat_max() < 1.05);
/// ```
pub fn run<K: Kernel + ?Sized>(
    kernel: &mut K,
    energy: &dyn Energy,
    x0: Points,
    cfg: &RunConfig,
    observer: &mut dyn Observer,
) -> Result<RunOutput> {
    run_target(
        kernel,
        Target::Continuous(energy),
        Start::Points(x0),
        cfg,
        observer,
    )
}

/// `draws` states of `n_chains` chains of a binary `model`, started
/// uniformly at random ([`Start::Uniform`]), kept one every `thin`
/// steps after `burn_in` discarded ones ([`run_target`], draws stored).
pub fn run_binary<K: Kernel + ?Sized, M: BinaryEnergy>(
    kernel: &mut K,
    model: &M,
    n_chains: usize,
    burn_in: usize,
    draws: usize,
    thin: usize,
    seed: u64,
) -> Result<RunOutput> {
    run_discrete(
        kernel,
        Target::Binary(model),
        n_chains,
        burn_in,
        draws,
        thin,
        seed,
    )
}

/// [`run_binary`] for a categorical `model`.
pub fn run_categorical<K: Kernel + ?Sized, M: CategoricalEnergy>(
    kernel: &mut K,
    model: &M,
    n_chains: usize,
    burn_in: usize,
    draws: usize,
    thin: usize,
    seed: u64,
) -> Result<RunOutput> {
    run_discrete(
        kernel,
        Target::Categorical(model),
        n_chains,
        burn_in,
        draws,
        thin,
        seed,
    )
}

fn run_discrete<K: Kernel + ?Sized>(
    kernel: &mut K,
    target: Target<'_>,
    n_chains: usize,
    burn_in: usize,
    draws: usize,
    thin: usize,
    seed: u64,
) -> Result<RunOutput> {
    let cfg = RunConfig {
        warmup: 0,
        burn_in,
        draws,
        thin,
        adapt_step_size: false,
        adapt_mass: false,
        store_draws: true,
        seed,
    };
    run_target(
        kernel,
        target,
        Start::Uniform { chains: n_chains },
        &cfg,
        &mut Silent,
    )
}

/// The chains at `start` on `target`, and their streams (chain i's is
/// stream first + i + 1 of `seed`, having drawn the start where it is
/// drawn).
fn start_chains(
    target: Target<'_>,
    start: Start,
    seed: u64,
    first: usize,
) -> Result<(Chains, Vec<ChainRng>)> {
    let streams = |n: usize| (first..first + n).map(|c| chain_rng(seed, c)).collect::<Vec<_>>();
    match (start, target) {
        (Start::Points(x0), _) => {
            let rngs = streams(x0.len());
            Ok((Chains::for_target(target, x0)?, rngs))
        }
        (Start::Uniform { .. }, Target::Continuous(_)) => Err(invalid(
            "start",
            "a uniform start needs a binary or categorical model",
        )),
        (Start::Uniform { chains }, _) => {
            if chains == 0 {
                return Err(invalid("chains", "must be at least 1"));
            }
            let mut rngs = streams(chains);
            let x0 = uniform_points(target, &mut rngs)?;
            Ok((Chains::for_target(target, x0)?, rngs))
        }
    }
}

/// One state per stream of `rngs` of a binary or categorical `target`
/// ([`uniform_row`]); an error for a continuous one.
pub(crate) fn uniform_points(target: Target<'_>, rngs: &mut [ChainRng]) -> Result<Points> {
    if target.space() == crate::StateSpace::Continuous {
        return Err(invalid(
            "start",
            "a uniform start needs a binary or categorical model",
        ));
    }
    let d = target.dim();
    let mut x = vec![0.0; rngs.len() * d];
    for (row, r) in x.chunks_exact_mut(d.max(1)).zip(rngs.iter_mut()) {
        uniform_row(target, r, &mut row[..d]);
    }
    Points::from_vec(x, d).map_err(|e| invalid("dim", e.to_string()))
}

/// One state drawn uniformly into `row` from the stream `r`: each unit of a
/// binary model either of its two states with probability 1/2 (one
/// `bool` draw per unit), each site i of a categorical model one of its
/// q_i states (one `random_range` draw per site); nothing for a
/// continuous target.
pub(crate) fn uniform_row(target: Target<'_>, r: &mut ChainRng, row: &mut [f64]) {
    match target {
        Target::Binary(model) => {
            let (lo, hi) = model.states();
            for v in row.iter_mut() {
                *v = if r.random::<bool>() { hi } else { lo };
            }
        }
        Target::Categorical(model) => {
            for (i, v) in row.iter_mut().enumerate() {
                *v = r.random_range(0..model.states(i)) as f64;
            }
        }
        Target::Continuous(_) => {}
    }
}

/// The one driver, for continuous energies and binary models alike: run
/// `kernel` on `target` from `start` as `cfg` says (warm-up with step-size
/// and mass adaptation where the kernel has them, burn-in, thinning,
/// stored or streamed draws, observers). Chain i draws from stream i + 1
/// of `cfg.seed`.
pub fn run_target<K: Kernel + ?Sized>(
    kernel: &mut K,
    target: Target<'_>,
    start: Start,
    cfg: &RunConfig,
    observer: &mut dyn Observer,
) -> Result<RunOutput> {
    run_target_shard(kernel, target, start, cfg, 0, observer)
}

/// [`run_target`] for a shard of a larger run: the chains are chains
/// `first..first + n` of the whole run, chain i of the shard drawing from
/// stream first + i + 1 of `cfg.seed` (a uniform start drawn from those
/// streams too). Without adaptation (which pools the chains), a shard's
/// chains are exactly those chains of the whole run, bit for bit.
pub fn run_target_shard<K: Kernel + ?Sized>(
    kernel: &mut K,
    target: Target<'_>,
    start: Start,
    cfg: &RunConfig,
    first: usize,
    observer: &mut dyn Observer,
) -> Result<RunOutput> {
    if cfg.thin == 0 {
        return Err(invalid("thin", "must be at least 1"));
    }
    kernel.check(target)?;
    let (mut chains, mut rngs) = start_chains(target, start, cfg.seed, first)?;
    let (m, d) = (chains.len(), chains.dim());
    let total = cfg.warmup + cfg.burn_in + cfg.draws * cfg.thin;
    let mut divergences = vec![0usize; m];
    let count = |chains: &Chains, div: &mut [usize]| {
        for (a, &b) in div.iter_mut().zip(&chains.divergent) {
            *a += b as usize;
        }
    };

    // Warm-up.
    let mut warmup = Warmup::new(kernel, cfg.warmup, d, cfg.adapt_step_size, cfg.adapt_mass);
    let mut warmup_divergences = 0;
    // Without adaptation, warm-up is burn-in by another name: blocks.
    let adapting = warmup.adapting();
    let (mut scratch_div, mut scratch_acc) = (vec![0usize; m], vec![0.0; m]);
    let mut it = 0;
    let mut blocks = Blocks::new();
    while !adapting && it < cfg.warmup {
        let b = blocks.next(cfg.warmup - it, MAX_BLOCK);
        let totals = StepTotals {
            divergences: &mut scratch_div,
            acceptance: &mut scratch_acc,
            record: None,
        };
        for (i, s) in chains
            .run_kernel(kernel, target, &mut rngs, b, Some(totals))
            .iter()
            .enumerate()
        {
            warmup_divergences += s.divergences;
            observer.on_step(Phase::Warmup, it + i, total, s);
        }
        blocks.done(b);
        it += b;
        check_stop(observer, it, total)?;
    }
    for it in (0..cfg.warmup).filter(|_| adapting) {
        let s = chains.run_kernel(kernel, target, &mut rngs, 1, None)[0];
        warmup_divergences += s.divergences;
        warmup.after_step(it, kernel, &chains, s.mean_accept);
        observer.on_step(Phase::Warmup, it, total, &s);
        check_stop(observer, it + 1, total)?;
    }
    warmup.finish(kernel);

    // Burn-in in blocks of steps: each chunk of chains runs a whole block
    // while it is in cache (Kernel::steps), with the same result as step
    // by step.
    let mut it = 0;
    while it < cfg.burn_in {
        let b = blocks.next(cfg.burn_in - it, MAX_BLOCK);
        let totals = StepTotals {
            divergences: &mut divergences,
            acceptance: &mut scratch_acc,
            record: None,
        };
        let stats = chains.run_kernel(kernel, target, &mut rngs, b, Some(totals));
        for (i, s) in stats.iter().enumerate() {
            observer.on_step(Phase::BurnIn, cfg.warmup + it + i, total, s);
        }
        blocks.done(b);
        it += b;
        check_stop(observer, cfg.warmup + it, total)?;
    }

    chains.reset_figures();
    // Sampling. Without thinning, blocks of draws recorded as they are
    // made (into the stored draws, or a block buffer for the observer and
    // the running moments); with thinning, the thin - 1 discarded steps of
    // each draw as a block, then the kept step.
    // The stored draws zeroed in one allocation (fresh pages from the
    // system, huge where it grants them, zeroed as the chunks first write
    // them, in parallel), not grown and zeroed block by block on this
    // thread.
    let mut draws = if cfg.store_draws {
        Draws::zeroed(cfg.draws * m * d)
    } else {
        Draws::default()
    };
    let mut acceptance = vec![0.0; m];
    let mut moments = Moments::new(d);
    let wants_draws = observer.wants_draws();
    let mut view = Points::zeros(if wants_draws { m } else { 0 }, d);
    let mut block = Vec::new();
    let mut draw = 0;
    while cfg.thin == 1 && draw < cfg.draws {
        let cap = if cfg.store_draws {
            MAX_BLOCK
        } else {
            (RECORD_CAP / (m * d)).clamp(1, MAX_BLOCK)
        };
        let b = blocks.next(cfg.draws - draw, cap);
        let rec: &mut [f64] = if cfg.store_draws {
            &mut draws[draw * m * d..(draw + b) * m * d]
        } else {
            block.resize(b * m * d, 0.0);
            &mut block[..]
        };
        let totals = StepTotals {
            divergences: &mut divergences,
            acceptance: &mut acceptance,
            record: Some(&mut *rec),
        };
        let stats = chains.run_kernel(kernel, target, &mut rngs, b, Some(totals));
        for (i, s) in stats.iter().enumerate() {
            let states = &rec[i * m * d..(i + 1) * m * d];
            if wants_draws {
                view.as_mut_slice().copy_from_slice(states);
                observer.on_draw(draw + i, &view);
            }
            if !cfg.store_draws {
                moments.add_rows(states);
            }
            observer.on_step(Phase::Sampling, cfg.warmup + cfg.burn_in + draw + i, total, s);
        }
        blocks.done(b);
        draw += b;
        check_stop(observer, cfg.warmup + cfg.burn_in + draw, total)?;
    }
    for draw in (0..cfg.draws).filter(|_| cfg.thin > 1) {
        let first = cfg.warmup + cfg.burn_in + draw * cfg.thin;
        let totals = StepTotals {
            divergences: &mut divergences,
            acceptance: &mut acceptance,
            record: None,
        };
        let mut stats = chains.run_kernel(kernel, target, &mut rngs, cfg.thin - 1, Some(totals));
        let s = chains.run_kernel(kernel, target, &mut rngs, 1, None)[0];
        count(&chains, &mut divergences);
        for (a, b) in acceptance.iter_mut().zip(&chains.accept) {
            *a += b;
        }
        observer.on_draw(draw, &chains.x);
        if cfg.store_draws {
            draws[draw * m * d..(draw + 1) * m * d].copy_from_slice(chains.x.as_slice());
        } else {
            moments.add_rows(chains.x.as_slice());
        }
        stats.push(s);
        for (i, s) in stats.iter().enumerate() {
            observer.on_step(Phase::Sampling, first + i, total, s);
        }
        check_stop(observer, first + cfg.thin, total)?;
    }
    let sampling_iters = cfg.draws * cfg.thin;
    let iters = sampling_iters.max(1) as f64;
    acceptance.iter_mut().for_each(|a| *a /= iters);
    // the moments of stored draws are computed when asked for (RunOutput::moments)
    let streamed = (!cfg.store_draws).then(|| moments.finish());
    Ok(RunOutput {
        draws,
        n_draws: cfg.draws,
        step_size: kernel.step_size(),
        chains,
        acceptance,
        divergences,
        warmup_divergences,
        figure_names: kernel.figures().to_vec(),
        sampling_iters,
        streamed,
    })
}

/// The smallest value that is not NaN (infinity when there is none).
fn min_of(v: &[f64]) -> f64 {
    v.iter()
        .copied()
        .filter(|v| !v.is_nan())
        .fold(f64::INFINITY, f64::min)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Diagnostics of kept series are those of the draws, to the bit, for
    /// one coordinate at a time and for several at once.
    #[test]
    fn series_and_draws_give_the_same_diagnostics() {
        let (n, m) = (203, 3);
        for d in [1, 2, 7] {
            let mut x = vec![0.0; m * d];
            let mut draws = Vec::new();
            let mut series = ChainSeries::new(n, m, d);
            for t in 0..n {
                for (i, v) in x.iter_mut().enumerate() {
                    // a slowly turning walk with ties, per chain and coordinate
                    *v = 0.9 * *v + (((t * 31 + i * 17) % 23) as f64 - 11.0) / 4.0;
                }
                draws.extend_from_slice(&x);
                series.push_draw(&x);
            }
            let want = Diagnostics::of_draws(&draws, n, m, d);
            let got = Diagnostics::of_series(&mut series);
            let bits = |v: &Diagnostics| {
                [
                    &v.ess,
                    &v.rhat,
                    &v.ess_bulk,
                    &v.ess_tail,
                    &v.rhat_rank,
                    &v.mcse_mean,
                ]
                .map(|c| c.iter().map(|x| x.to_bits()).collect::<Vec<_>>())
            };
            assert_eq!(bits(&got), bits(&want), "d = {d}");
            assert!(got.ess.iter().all(|e| e.is_finite()));
        }
    }

    /// A block never exceeds the steps left or the cap, never is empty,
    /// and follows the rate of the block before (a fast block makes the
    /// next one as long as allowed, a slow one makes it a single step).
    #[test]
    fn blocks_stay_within_their_bounds() {
        let mut b = Blocks::new();
        assert_eq!(b.next(10_000, MAX_BLOCK), FIRST_BLOCK);
        assert_eq!(b.next(3, MAX_BLOCK), 3);
        assert_eq!(b.next(0, MAX_BLOCK), 1);
        b.done(1_000_000);
        assert_eq!(b.next(5_000, MAX_BLOCK), MAX_BLOCK);
        assert_eq!(b.next(5_000, 7), 7);
        std::thread::sleep(std::time::Duration::from_secs_f64(2.0 * BLOCK_SECONDS));
        b.done(1);
        assert_eq!(b.next(5_000, MAX_BLOCK), 1);
    }
}
