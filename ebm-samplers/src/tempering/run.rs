//! The parallel-tempering loop: scans, swap rounds, ladder adaptation,
//! collection.

use super::ladder::{self, LadderKind};
use super::levels::{base_path, potentials, BasePath, LevelModel, Reference};
use super::swaps::{decide, IndexProcess};
use super::{PtConfig, PtOutput, PtReport};
use crate::chains::{Chains, CHUNK};
use crate::draws::Draws;
use crate::driver::{check_stop, uniform_points, Observer, Phase, RunOutput, Start};
use crate::error::{invalid, Result};
use crate::kernel::{Kernel, StepStats, StepTotals};
use crate::moments::Moments;
use crate::target::Target;
use crate::warmup::Warmup;
use ebm_core::{chain_rng, ChainRng, ExactSample};
use rayon::prelude::*;

/// One temperature of every chain.
struct Level {
    chains: Chains,
    rngs: Vec<ChainRng>,
    /// The inner kernel (none at an exactly drawn reference).
    kernel: Option<Box<dyn Kernel>>,
    warmup: Option<Warmup>,
    /// V = E - E_0 of each chain's state, for the swap round.
    v: Vec<f64>,
    /// Chains whose state arrived by a swap this round.
    swapped: Vec<bool>,
    /// Divergences and summed acceptance of each chain since the last reset.
    div: Vec<usize>,
    acc: Vec<f64>,
    warmup_divergences: usize,
}

/// The K temperatures of N chains, and the swap machinery between them.
struct System<'a> {
    target: Target<'a>,
    base: Option<&'a dyn ExactSample>,
    path: Option<&'a BasePath<'a>>,
    betas: Vec<f64>,
    models: Vec<LevelModel<'a>>,
    levels: Vec<Level>,
    swap_rngs: Vec<ChainRng>,
    index: Vec<IndexProcess>,
    swap_every: usize,
    scans: usize,
    parity: usize,
    /// Per pair since the last reset: summed acceptance probabilities and proposals.
    alpha_sum: Vec<f64>,
    attempts: Vec<u64>,
    /// Work buffers of the swap round: V chain-major, and each chain's
    /// acceptance probabilities and decisions per pair.
    v_by_chain: Vec<f64>,
    alpha: Vec<f64>,
    swap: Vec<bool>,
    d: usize,
}

impl System<'_> {
    fn n(&self) -> usize {
        self.levels[0].chains.len()
    }

    /// One scan: the reference drawn exactly (where it is), every other
    /// temperature moved by its kernel (temperatures in parallel), then a
    /// swap round every `swap_every` scans. Returns the target
    /// temperature's step statistics, with the gradient evaluations and
    /// divergences of all temperatures.
    fn scan(&mut self, warm_it: Option<usize>) -> StepStats {
        let d = self.d;
        let stats: Vec<StepStats> = self
            .levels
            .par_iter_mut()
            .zip(self.models.par_iter())
            .map(|(lv, m)| match (m.target(), lv.kernel.as_mut()) {
                (Some(t), Some(k)) => {
                    let totals = StepTotals {
                        divergences: &mut lv.div,
                        acceptance: &mut lv.acc,
                        record: None,
                    };
                    let s = lv.chains.run_kernel(&**k, t, &mut lv.rngs, 1, Some(totals))[0];
                    if let (Some(it), Some(w)) = (warm_it, lv.warmup.as_mut()) {
                        w.after_step(it, &mut **k, &lv.chains, s.mean_accept);
                        lv.warmup_divergences += s.divergences;
                    }
                    s
                }
                _ => {
                    m.draw_reference(lv.chains.x.as_mut_slice(), d, &mut lv.rngs);
                    StepStats::default()
                }
            })
            .collect();
        self.scans += 1;
        let mut refreshed = 0;
        if self.scans % self.swap_every == 0 {
            self.swap_round();
            refreshed = self.refresh_swapped();
        }
        let last = stats[stats.len() - 1];
        StepStats {
            mean_accept: last.mean_accept,
            divergences: stats.iter().map(|s| s.divergences).sum(),
            grad_evals: stats.iter().map(|s| s.grad_evals).sum::<u64>() + refreshed,
        }
    }

    /// A deterministic even-odd swap round: V at every temperature, each
    /// chain's decisions from its own swap stream (chains in parallel),
    /// then the accepted exchanges, the tallies and the index processes
    /// in chain order.
    fn swap_round(&mut self) {
        let (n, d, k) = (self.n(), self.d, self.levels.len());
        for (j, (lv, m)) in self.levels.iter_mut().zip(&self.models).enumerate() {
            potentials(
                m,
                self.betas[j],
                self.target,
                self.base,
                lv.chains.x.as_slice(),
                &lv.chains.energy,
                d,
                &mut lv.v,
            );
        }
        for (j, lv) in self.levels.iter().enumerate() {
            for (c, &v) in lv.v.iter().enumerate() {
                self.v_by_chain[c * k + j] = v;
            }
        }
        let (parity, betas) = (self.parity, &self.betas);
        self.alpha
            .par_chunks_mut(k - 1)
            .zip(self.swap.par_chunks_mut(k - 1))
            .zip(self.v_by_chain.par_chunks(k))
            .zip(self.swap_rngs.par_iter_mut())
            .for_each(|(((a, s), v), r)| decide(parity, betas, v, r, a, s));
        for c in 0..n {
            for j in (parity..k - 1).step_by(2) {
                let p = c * (k - 1) + j;
                self.attempts[j] += 1;
                self.alpha_sum[j] += self.alpha[p];
                if self.swap[p] {
                    let (lo, hi) = self.levels.split_at_mut(j + 1);
                    let (a, b) = (&mut lo[j], &mut hi[0]);
                    a.chains.x.as_mut_slice()[c * d..(c + 1) * d]
                        .swap_with_slice(&mut b.chains.x.as_mut_slice()[c * d..(c + 1) * d]);
                    std::mem::swap(&mut a.v[c], &mut b.v[c]);
                    a.swapped[c] = true;
                    b.swapped[c] = true;
                }
            }
            self.index[c].apply(&self.swap[c * (k - 1)..(c + 1) * (k - 1)]);
        }
        self.parity ^= 1;
    }

    /// Energies and gradients of the states that arrived by a swap, at
    /// their new temperature (continuous temperatures moved by a kernel;
    /// each row on its own, so the values do not depend on which other
    /// chains swapped). Returns the gradient evaluations.
    fn refresh_swapped(&mut self) -> u64 {
        let d = self.d;
        let mut evals = 0;
        for (lv, m) in self.levels.iter_mut().zip(&self.models) {
            let (Some(Target::Continuous(e)), Some(_)) = (m.target(), lv.kernel.as_ref()) else {
                lv.swapped.iter_mut().for_each(|s| *s = false);
                continue;
            };
            let ch = &mut lv.chains;
            evals += lv.swapped.iter().filter(|&&s| s).count() as u64;
            ch.x.as_slice()
                .par_chunks(CHUNK * d)
                .zip(ch.grad.par_chunks_mut(CHUNK * d))
                .zip(ch.energy.par_chunks_mut(CHUNK))
                .zip(ch.grad_evals_total.par_chunks_mut(CHUNK))
                .zip(lv.swapped.par_chunks_mut(CHUNK))
                .for_each(|((((x, g), en), tot), sw)| {
                    for i in 0..sw.len() {
                        if sw[i] {
                            en[i] = e.energy_grad(&x[i * d..(i + 1) * d], &mut g[i * d..(i + 1) * d]);
                            tot[i] += 1;
                            sw[i] = false;
                        }
                    }
                });
        }
        evals
    }

    /// Move the ladder to equalise the rejection rates tallied since the
    /// last reset, re-evaluate the moved temperatures' chains, and reset
    /// the tallies.
    fn adapt_ladder(&mut self) {
        let rejection: Vec<f64> = self
            .alpha_sum
            .iter()
            .zip(&self.attempts)
            .map(|(&s, &a)| if a > 0 { 1.0 - s / a as f64 } else { f64::NAN })
            .collect();
        self.betas = ladder::equalize(&self.betas, &rejection);
        self.models = self
            .betas
            .iter()
            .map(|&b| LevelModel::at(b, self.target, self.path))
            .collect();
        for (lv, m) in self.levels.iter_mut().zip(&self.models) {
            if let (Some(Target::Continuous(e)), Some(_)) = (m.target(), lv.kernel.as_ref()) {
                lv.chains.refresh(e);
                lv.chains.grad_evals_total.iter_mut().for_each(|t| *t += 1);
            }
        }
        self.reset_tallies();
    }

    fn reset_tallies(&mut self) {
        self.alpha_sum.iter_mut().for_each(|s| *s = 0.0);
        self.attempts.iter_mut().for_each(|a| *a = 0);
    }

    /// Start each temperature's warm-up over `n` scans (step size and,
    /// when `metric`, the metric).
    fn start_warmup(&mut self, n: usize, step_size: bool, metric: bool) {
        let d = self.d;
        for lv in &mut self.levels {
            lv.warmup = lv
                .kernel
                .as_ref()
                .map(|k| Warmup::new(&**k, n, d, step_size, metric));
        }
    }

    fn finish_warmup(&mut self) {
        for lv in &mut self.levels {
            if let (Some(w), Some(k)) = (lv.warmup.take(), lv.kernel.as_mut()) {
                w.finish(&mut **k);
            }
        }
    }
}

/// The scans (within the first `a` of warm-up) at which the adaptive
/// ladder's rounds end: R rounds of doubling length, the first at least
/// 16 scans where `a` allows, the last ending at `a`.
fn round_ends(a: usize) -> Vec<usize> {
    if a == 0 {
        return Vec::new();
    }
    let rounds = ((a as f64 / 16.0 + 1.0).log2().floor() as u32).clamp(1, 20);
    let first = (a / ((1usize << rounds) - 1)).max(1);
    let mut ends: Vec<usize> = (0..rounds).map(|r| first * ((2usize << r) - 1)).collect();
    if let Some(last) = ends.last_mut() {
        *last = a;
    }
    ends
}

/// Run parallel tempering on `target` (see [the module](super)): K =
/// `cfg.replicas` temperatures from `reference` to the target, each moved
/// by its own kernel from `make_kernel` (one that leaves its target
/// exactly invariant: HMC, MALA, NUTS, Gibbs), swaps between neighbours
/// every `cfg.swap_every` scans, the ladder fixed or adapted during
/// warm-up. Every temperature of chain c starts at the same point
/// (`Start::Points`) or uniformly at random from its own stream
/// (`Start::Uniform`). The draws are the target temperature's.
///
/// ```
/// use ebm_samplers::{driver::{RunConfig, Silent, Start}, tempering::{run_pt, PtConfig, Reference}};
/// use ebm_samplers::{Hmc, Kernel, Target};
/// use ebm_core::{energies::{DiagGaussian, Gmm}, Points};
/// // two modes 8 apart, weights 0.7 and 0.3; HMC alone keeps its mode
/// let mix = Gmm::new(vec![0.7, 0.3], vec![vec![-4.0], vec![4.0]], vec![0.5, 0.5]).unwrap();
/// let base = DiagGaussian::new(vec![0.0], vec![5.0]).unwrap();
/// let cfg = PtConfig {
///     run: RunConfig { warmup: 200, draws: 400, seed: 3, ..Default::default() },
///     replicas: 6,
///     ..Default::default()
/// };
/// let make = || Ok(Box::new(Hmc::new(0.3, 8)?) as Box<dyn Kernel>);
/// let out = run_pt(&make, Target::Continuous(&mix), Reference::Base(&base),
///                  Start::Points(Points::zeros(8, 1)), &cfg, &mut Silent).unwrap();
/// let left = out.run.draws.iter().filter(|&&x| x < 0.0).count() as f64 / out.run.draws.len() as f64;
/// assert!((left - 0.7).abs() < 0.1);
/// assert!(out.report.round_trips.iter().sum::<u64>() > 0);
/// ```
pub fn run_pt(
    make_kernel: &dyn Fn() -> Result<Box<dyn Kernel>>,
    target: Target<'_>,
    reference: Reference<'_>,
    start: Start,
    cfg: &PtConfig,
    observer: &mut dyn Observer,
) -> Result<PtOutput> {
    let rc = &cfg.run;
    if rc.thin == 0 {
        return Err(invalid("thin", "must be at least 1"));
    }
    if cfg.swap_every == 0 {
        return Err(invalid("swap_every", "must be at least 1"));
    }
    let exact_reference = match (reference, target) {
        (Reference::Base(b), Target::Continuous(e)) => {
            if b.dim() != e.dim() {
                return Err(invalid(
                    "reference",
                    format!("the base has dimension {}, the model {}", b.dim(), e.dim()),
                ));
            }
            true
        }
        (Reference::Uniform, Target::Binary(_) | Target::Categorical(_)) => true,
        (Reference::Hot, _) => false,
        (Reference::Base(_), Target::Binary(_) | Target::Categorical(_)) => {
            return Err(invalid(
                "reference",
                "a base distribution is for continuous models; a discrete model's reference is the uniform distribution or a hot chain",
            ))
        }
        (Reference::Uniform, Target::Continuous(_)) => {
            return Err(invalid(
                "reference",
                "the uniform reference is for binary and categorical models; a continuous model needs a base distribution or a hot chain",
            ))
        }
    };
    let betas = ladder::geometric(cfg.replicas, cfg.beta_min, exact_reference)?;
    let adaptive = cfg.ladder == LadderKind::Adaptive;
    if adaptive && rc.warmup < 20 {
        return Err(invalid(
            "warmup",
            format!(
                "the adaptive ladder needs at least 20 warm-up scans, got {}",
                rc.warmup
            ),
        ));
    }
    let base = match reference {
        Reference::Base(b) => Some(b),
        _ => None,
    };
    let path = base_path(base, target)?;
    let k = cfg.replicas;
    let n = match &start {
        Start::Points(p) => p.len(),
        Start::Uniform { chains } => *chains,
    };
    if n == 0 {
        return Err(invalid("chains", "must be at least 1"));
    }
    let d = target.dim();
    let models: Vec<LevelModel<'_>> = betas
        .iter()
        .map(|&b| LevelModel::at(b, target, path.as_ref()))
        .collect();
    let stream = |c: usize, j: usize| chain_rng(rc.seed, c * (k + 1) + j);
    let mut levels = Vec::with_capacity(k);
    for (j, m) in models.iter().enumerate() {
        let mut rngs: Vec<ChainRng> = (0..n).map(|c| stream(c, j)).collect();
        let x0 = match (&start, target) {
            (Start::Points(p), _) => p.clone(),
            (Start::Uniform { .. }, _) => uniform_points(target, &mut rngs)?,
        };
        let (chains, kernel) = match m.target() {
            Some(t) => {
                let kernel = make_kernel()?;
                kernel.check(t)?;
                (Chains::for_target(t, x0)?, Some(kernel))
            }
            None => match (target, base) {
                (Target::Continuous(_), Some(b)) => (Chains::new(b, x0)?, None),
                (Target::Continuous(_), None) => unreachable!("an exact level has a reference"),
                (_, _) => (Chains::for_target(target, x0)?, None),
            },
        };
        levels.push(Level {
            chains,
            rngs,
            kernel,
            warmup: None,
            v: vec![0.0; n],
            swapped: vec![false; n],
            div: vec![0; n],
            acc: vec![0.0; n],
            warmup_divergences: 0,
        });
    }
    let mut sys = System {
        target,
        base,
        path: path.as_ref(),
        betas,
        models,
        levels,
        swap_rngs: (0..n).map(|c| stream(c, k)).collect(),
        index: (0..n).map(|_| IndexProcess::new(k)).collect(),
        swap_every: cfg.swap_every,
        scans: 0,
        parity: 0,
        alpha_sum: vec![0.0; k - 1],
        attempts: vec![0; k - 1],
        v_by_chain: vec![0.0; n * k],
        alpha: vec![f64::NAN; n * (k - 1)],
        swap: vec![false; n * (k - 1)],
        d,
    };
    let total = rc.warmup + rc.burn_in + rc.draws * rc.thin;
    let mut ladders = vec![sys.betas.clone()];

    // Warm-up: with the adaptive ladder, its rounds (step sizes adapting
    // alongside) in the first half, then every temperature's step size and
    // metric afresh on the final ladder; with a fixed one, one warm-up.
    let ends = if adaptive {
        round_ends(rc.warmup / 2)
    } else {
        Vec::new()
    };
    let phase_a = ends.last().copied().unwrap_or(0);
    if adaptive {
        sys.start_warmup(phase_a, rc.adapt_step_size, false);
    } else {
        sys.start_warmup(rc.warmup, rc.adapt_step_size, rc.adapt_mass);
    }
    let mut next_round = 0;
    for it in 0..rc.warmup {
        if adaptive && it == phase_a {
            sys.finish_warmup();
            sys.start_warmup(rc.warmup - phase_a, rc.adapt_step_size, rc.adapt_mass);
        }
        let local = if adaptive && it >= phase_a {
            it - phase_a
        } else {
            it
        };
        let s = sys.scan(Some(local));
        observer.on_step(Phase::Warmup, it, total, &s);
        check_stop(observer, it + 1, total)?;
        if next_round < ends.len() && it + 1 == ends[next_round] {
            sys.adapt_ladder();
            ladders.push(sys.betas.clone());
            next_round += 1;
        }
    }
    sys.finish_warmup();
    let warmup_divergences = sys.levels.iter().map(|l| l.warmup_divergences).sum();
    for lv in &mut sys.levels {
        lv.div.iter_mut().for_each(|v| *v = 0);
    }
    for it in 0..rc.burn_in {
        let s = sys.scan(None);
        observer.on_step(Phase::BurnIn, rc.warmup + it, total, &s);
        check_stop(observer, rc.warmup + it + 1, total)?;
    }

    // Sampling: the target temperature's states after each kept scan.
    sys.reset_tallies();
    let trips_before: Vec<u64> = sys.index.iter().map(|p| p.round_trips).collect();
    for lv in &mut sys.levels {
        lv.acc.iter_mut().for_each(|v| *v = 0.0);
        lv.chains.reset_figures();
    }
    let mut draws = if rc.store_draws {
        Draws::zeroed(rc.draws * n * d)
    } else {
        Draws::default()
    };
    let mut moments = Moments::new(d);
    for draw in 0..rc.draws {
        for t in 0..rc.thin {
            let s = sys.scan(None);
            observer.on_step(
                Phase::Sampling,
                rc.warmup + rc.burn_in + draw * rc.thin + t,
                total,
                &s,
            );
        }
        check_stop(observer, rc.warmup + rc.burn_in + (draw + 1) * rc.thin, total)?;
        let x = &sys.levels[k - 1].chains.x;
        observer.on_draw(draw, x);
        if rc.store_draws {
            draws[draw * n * d..(draw + 1) * n * d].copy_from_slice(x.as_slice());
        } else {
            moments.add_rows(x.as_slice());
        }
    }

    let sampling_iters = rc.draws * rc.thin;
    let iters = sampling_iters.max(1) as f64;
    let swap_rates: Vec<f64> = sys
        .alpha_sum
        .iter()
        .zip(&sys.attempts)
        .map(|(&s, &a)| if a > 0 { s / a as f64 } else { f64::NAN })
        .collect();
    let rejection: Vec<f64> = swap_rates.iter().map(|r| 1.0 - r).collect();
    let barrier = ladder::barrier(&rejection);
    let round_trips: Vec<u64> = sys
        .index
        .iter()
        .zip(&trips_before)
        .map(|(p, b)| p.round_trips - b)
        .collect();
    let round_trip_rate = round_trips.iter().sum::<u64>() as f64 / (n as f64 * iters);
    let report = PtReport {
        betas: sys.betas.clone(),
        ladders,
        swap_rates,
        barrier,
        round_trips,
        round_trip_rate,
        predicted_round_trip_rate: ladder::predicted_round_trip_rate(&rejection),
        round_trip_rate_limit: ladder::round_trip_rate_limit(barrier),
        step_sizes: sys
            .levels
            .iter()
            .map(|l| l.kernel.as_ref().map_or(f64::NAN, |k| k.step_size()))
            .collect(),
        acceptance: sys
            .levels
            .iter()
            .map(|l| match l.kernel {
                Some(_) => l.acc.iter().sum::<f64>() / (n as f64 * iters),
                None => f64::NAN,
            })
            .collect(),
        grad_evals: sys
            .levels
            .iter()
            .map(|l| l.chains.grad_evals_total.iter().sum::<u64>())
            .sum(),
    };
    let Some(top) = sys.levels.pop() else {
        unreachable!("at least two temperatures")
    };
    let kernel = top.kernel.as_ref();
    Ok(PtOutput {
        run: RunOutput {
            draws,
            n_draws: rc.draws,
            step_size: kernel.map_or(f64::NAN, |k| k.step_size()),
            figure_names: kernel.map(|k| k.figures().to_vec()).unwrap_or_default(),
            acceptance: top.acc.iter().map(|a| a / iters).collect(),
            divergences: top.div,
            warmup_divergences,
            chains: top.chains,
            sampling_iters,
            streamed: (!rc.store_draws).then(|| moments.finish()),
        },
        report,
    })
}

#[cfg(test)]
mod tests {
    use super::round_ends;

    #[test]
    fn adaptation_rounds_double_and_end_at_the_half() {
        assert_eq!(round_ends(500), vec![16, 48, 112, 240, 500]);
        assert_eq!(round_ends(10), vec![10]);
        assert!(round_ends(0).is_empty());
    }
}
