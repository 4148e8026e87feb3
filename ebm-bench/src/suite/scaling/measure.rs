//! How a point of a cost curve is timed: work grown until one run takes
//! long enough, in a thread pool of the asked size.

use crate::error::{CliError, CliResult};
use serde::Serialize;
use std::time::Instant;

/// One measured point of a cost curve.
#[derive(Clone, Debug, Serialize)]
pub struct Point {
    /// Which curve ("chains", "dim", "rbm", "temps", "memory").
    pub curve: String,
    /// What ran (sampler and target).
    pub method: String,
    /// The curve's x: chains, dimension, units per layer, temperatures,
    /// or kept values.
    pub x: f64,
    /// Worker threads.
    pub threads: usize,
    /// The y: work per second (or MiB for memory).
    pub value: f64,
    /// What `value` counts.
    pub unit: String,
    /// Seconds of the timed run.
    pub seconds: f64,
    /// Units of work in the timed run (steps, sweeps, AIS runs).
    pub reps: usize,
    /// The fixed cost of a run (allocating and starting the chains,
    /// the report), from the last two runs' times (a peer's: its compile
    /// time).
    pub setup_seconds: f64,
    /// A peer's figure (from `--peers`), not a measurement of this run.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub peer: bool,
}

/// What [`rate`] measured.
#[derive(Clone, Copy, Debug)]
pub struct Rate {
    /// Units per second past the fixed cost: 1 / b in t = a + b n.
    pub per_s: f64,
    /// Seconds of the longest run.
    pub seconds: f64,
    /// Units in it.
    pub n: usize,
    /// The fixed cost a (at least 0).
    pub setup: f64,
}

/// The most units of work one timed run is given.
const MAX_UNITS: usize = 1 << 20;

/// Times each of the two final runs is taken in all (alternately): the
/// fastest of each gives the point. A shared machine slows single runs
/// by a fifth or more at times, which one run each put straight into the
/// curve (a two-thread gain of 1.2x at one RBM size and 2.3x at the next,
/// moving between runs of the suite).
pub const TIMINGS: usize = 3;

/// Times `work(n)` (n units of work: steps, sweeps, whole runs) in a pool
/// of `threads` workers. A run costs t = a + b n: a fixed part a
/// (allocating and starting the chains, the run's report) and b per unit;
/// the rate is 1 / b, the cost of more work once a run is under way (the
/// curves' y). n starts at 1 and grows (2x to 10x a try, at most 2^20
/// units) until a run takes at least `target` seconds and at least
/// `target / 2` more than the run before it, at half its work or less;
/// those two runs, each timed `TIMINGS` (3) times in all and the fastest
/// time kept, give a and b. The second condition matters where the fixed
/// part alone passes `target` (10^5 chains of block Gibbs allocate for
/// 0.75 s): two runs of 1 and 2 sweeps then differ by less than the
/// timer's noise. Growing the work instead of fixing it keeps every timer
/// well above its noise on any machine; the fastest of three keeps a
/// moment's slowdown of the machine out of the point.
pub fn rate(
    target: f64,
    threads: usize,
    mut work: impl FnMut(usize) -> CliResult<()> + Send,
) -> CliResult<Rate> {
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .map_err(|e| CliError::Unsupported(format!("cannot start {threads} worker threads: {e}")))?;
    pool.install(|| {
        let mut timed = |n: usize| -> CliResult<f64> {
            let t = Instant::now();
            work(n)?;
            Ok(t.elapsed().as_secs_f64())
        };
        let mut n = 1usize;
        let mut last: Option<(usize, f64)> = None;
        loop {
            let s = timed(n)?;
            let per_unit = cost_per_unit(last, n, s);
            // (the first run, n = 1, always grows: it has no run before it)
            if let Some((n0, s0)) = last {
                if (s >= target && s - s0 >= 0.5 * target) || n >= MAX_UNITS {
                    let (mut s0, mut s) = (s0, s);
                    for _ in 1..TIMINGS {
                        s0 = s0.min(timed(n0)?);
                        s = s.min(timed(n)?);
                    }
                    let per_unit = cost_per_unit(Some((n0, s0)), n, s);
                    return Ok(Rate {
                        per_s: 1.0 / per_unit,
                        seconds: s,
                        n,
                        setup: (s - per_unit * n as f64).max(0.0),
                    });
                }
            }
            last = Some((n, s));
            // aim the next run's work 20% past the target, growing 2x to 10x
            let grow = (1.2 * target / (per_unit * n as f64).max(1e-9)).clamp(2.0, 10.0);
            n = ((n as f64 * grow).ceil() as usize).min(MAX_UNITS);
        }
    })
}

/// The cost per unit b of a run of `n` units taking `s` seconds, from it
/// and the run `before` it (n0 units, s0 seconds): (s - s0) / (n - n0);
/// from this run alone (s / n) while there is none before it, or where
/// the timer's noise hides the difference (s <= s0).
fn cost_per_unit(before: Option<(usize, f64)>, n: usize, s: f64) -> f64 {
    match before {
        Some((n0, s0)) if s > s0 => (s - s0) / (n - n0) as f64,
        _ => s / n as f64,
    }
}
