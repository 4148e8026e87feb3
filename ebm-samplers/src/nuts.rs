//! The No-U-Turn Sampler with multinomial sampling along the trajectory.

use crate::chain_steps::{ChainSteps, ChainStepsMut};
use crate::chains::{ChunkMut, Scratch};
use crate::error::{in_open_unit, invalid, positive, Result};
use crate::kernel::Kernel;
use crate::metric::{DenseMetric, MetricKind};
use crate::normals::Normals;
use crate::target::Target;
use ebm_core::simd::{dispatch, dot_inline};
use ebm_core::{ChainRng, Energy};
use rand::Rng;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use std::cell::RefCell;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};

/// Largest tree depth [`Nuts`] accepts (2^30 leapfrog steps a transition).
pub const NUTS_MAX_DEPTH_LIMIT: usize = 30;

/// NUTS (Hoffman and Gelman 2014) in the form Stan and nuts-rs use
/// (Betancourt 2017): a trajectory of leapfrog steps of size eps, with
/// the Hamiltonian of HMC and a mass matrix M,
///
/// H(x, p) = E(x) + 1/2 p^T M^-1 p,  p ~ N(0, M),
///
/// with M^-1 diagonal (the default) or dense ([`MetricKind`], set by
/// warm-up from the draws' variances or covariance, see [`DenseMetric`]),
///
/// doubled in a random direction (forward or backward in time) until it
/// turns back on itself, diverges or reaches 2^max_depth - 1 steps. Each
/// doubling builds a subtree of the same size by recursive halves.
///
/// * **Multinomial sampling.** Every state of the trajectory has the
///   weight w = exp(H0 - H) (H0 at the start); the next state is drawn
///   with probability proportional to w: within a subtree by progressive
///   uniform choices between its halves, and at the top by biased
///   progressive sampling (the new subtree's draw replaces the current one
///   with probability min(1, W_new / W_old)), which favours states far from
///   the start.
/// * **U-turn criterion** (generalised, Betancourt 2013): a (sub)tree with
///   end velocities p#_- = M^-1 p_-, p#_+ = M^-1 p_+ and summed momenta
///   rho stops when p#_- . rho <= 0 or p#_+ . rho <= 0. Each merge of two
///   halves also checks the left half with the first state of the right
///   one and the right half with the last state of the left one (Stan's
///   extra checks since 2.21, which catch the U-turns the plain criterion
///   misses on near-Gaussian targets). The same merge rule serves the top
///   level, so the stopping rule depends on the tree alone and the
///   transition is reversible.
/// * **Divergence**: a leapfrog state with H - H0 above
///   `max_energy_error` (default 1000) or not finite ends the
///   trajectory; the sample comes from the states before the subtree
///   that diverged, and the chain's step counts as divergent.
///
/// The acceptance statistic for step-size adaptation is Stan's: the mean
/// of min(1, exp(H0 - H)) over the trajectory's new states. Per chain and
/// transition the kernel reports its figures `depth` (the tree depth
/// reached) and `leapfrog` (steps taken, also its gradient evaluations).
///
/// **Batches.** Each chain builds its own tree, and the chains of a chunk
/// go in groups of [`Energy::points_at_once`] (1 unless the energy reads
/// a large operand per gradient, as a dense Gaussian does: 4), the groups
/// in parallel. A group's trees grow in lock-step, gradient by gradient:
/// each chain's tree is an `async` computation that stops where it needs
/// a gradient, and when every chain of the group still building has
/// stopped, one [`Energy::energy_grad_each`] gives them all (the dense
/// precision read once for four gradients). Within one transition, a
/// chain whose tree is done waits for the rest of its group, so lock-step
/// costs the difference between the group's deepest tree and the others;
/// for energies that gain nothing from it, groups of one keep the chains
/// apart. Each
/// gradient has the bits of the chain's own `energy_grad`, and each
/// chain's random numbers (its momentum, then one uniform per doubling for
/// the direction and one per merge for the choice) come from its own
/// stream, so the result is the same for any grouping and any number of
/// threads.
///
/// **Runs of steps.** The kernel [runs chains
/// ahead](Kernel::runs_chains_ahead): when the driver asks for several
/// transitions at once (burn-in, and sampling in blocks of 50 draws), a
/// chain whose tree is done starts its next transition at once, so a
/// group waits for its slowest chain only at the end of the run, not at
/// every transition, and the groups on different threads meet only
/// there. Warm-up, whose step size changes after every transition, still
/// steps all chains together.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Nuts {
    step_size: f64,
    max_depth: usize,
    inv_mass: Vec<f64>,
    metric: MetricKind,
    dense: Option<DenseMetric>,
    max_energy_error: f64,
    target_accept: f64,
}

/// The settings of [`Nuts`] as data (the registry's "nuts").
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct NutsConfig {
    /// Step size eps > 0 (default 0.1; warm-up adapts it).
    pub step_size: f64,
    /// Largest tree depth, 1 to 30 (default 10: at most 1023 steps).
    pub max_depth: usize,
    /// Energy error that counts as a divergence (default 1000).
    pub max_energy_error: f64,
    /// Acceptance statistic step-size adaptation aims for (default 0.8).
    pub target_accept: f64,
    /// The mass matrix warm-up adapts: diagonal (default) or dense.
    pub metric: MetricKind,
}

impl Default for NutsConfig {
    fn default() -> Self {
        Self {
            step_size: 0.1,
            max_depth: 10,
            max_energy_error: 1000.0,
            target_accept: 0.8,
            metric: MetricKind::Diag,
        }
    }
}

impl crate::registry::KernelConfig for NutsConfig {
    fn build(&self) -> Result<Box<dyn Kernel>> {
        Ok(Box::new(
            Nuts::new(self.step_size)?
                .with_max_depth(self.max_depth)?
                .with_max_energy_error(self.max_energy_error)?
                .with_target_accept(self.target_accept)?
                .with_metric(self.metric),
        ))
    }
}

impl Nuts {
    /// NUTS with step size `eps > 0`, maximum depth 10, identity mass
    /// matrix, divergence at an energy error of 1000 and target acceptance
    /// 0.8 for adaptation.
    pub fn new(eps: f64) -> Result<Self> {
        positive("step_size", eps)?;
        Ok(Self {
            step_size: eps,
            max_depth: 10,
            inv_mass: Vec::new(),
            metric: MetricKind::Diag,
            dense: None,
            max_energy_error: 1000.0,
            target_accept: 0.8,
        })
    }

    /// The largest tree depth, 1 to [`NUTS_MAX_DEPTH_LIMIT`].
    pub fn with_max_depth(mut self, depth: usize) -> Result<Self> {
        if !(1..=NUTS_MAX_DEPTH_LIMIT).contains(&depth) {
            return Err(invalid(
                "max_depth",
                format!("must be from 1 to {NUTS_MAX_DEPTH_LIMIT}, got {depth}"),
            ));
        }
        self.max_depth = depth;
        Ok(self)
    }

    /// Energy error above which a leapfrog state counts as divergent.
    pub fn with_max_energy_error(mut self, threshold: f64) -> Result<Self> {
        positive("max_energy_error", threshold)?;
        self.max_energy_error = threshold;
        Ok(self)
    }

    /// The acceptance statistic that step-size adaptation aims for, in (0, 1).
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

    /// The largest tree depth.
    pub fn max_depth(&self) -> usize {
        self.max_depth
    }

    /// The diagonal inverse mass matrix (empty means identity).
    pub fn inv_mass(&self) -> &[f64] {
        &self.inv_mass
    }
}

/// A state kept as a draw: position, gradient, energy.
#[derive(Clone, Debug, Default)]
struct Draw {
    x: Vec<f64>,
    g: Vec<f64>,
    e: f64,
}

impl Draw {
    fn resize(&mut self, d: usize) {
        self.x.resize(d, 0.0);
        self.g.resize(d, 0.0);
    }

    fn copy_from(&mut self, (x, g, e): (&[f64], &[f64], f64)) {
        self.x.copy_from_slice(x);
        self.g.copy_from_slice(g);
        self.e = e;
    }

    /// Position, gradient and energy.
    fn state(&self) -> (&[f64], &[f64], f64) {
        (&self.x, &self.g, self.e)
    }
}

/// A point of phase space at an end of the trajectory: position,
/// momentum, gradient and energy.
#[derive(Clone, Debug, Default)]
struct Phase {
    x: Vec<f64>,
    p: Vec<f64>,
    g: Vec<f64>,
    e: f64,
}

impl Phase {
    /// Position, gradient and energy (a draw's part of the state).
    fn state(&self) -> (&[f64], &[f64], f64) {
        (&self.x, &self.g, self.e)
    }

    fn resize(&mut self, d: usize) {
        self.x.resize(d, 0.0);
        self.p.resize(d, 0.0);
        self.g.resize(d, 0.0);
    }

    fn copy_from(&mut self, o: &Phase) {
        self.x.copy_from_slice(&o.x);
        self.p.copy_from_slice(&o.p);
        self.g.copy_from_slice(&o.g);
        self.e = o.e;
    }
}

/// The end of a (sub)tree as the U-turn checks see it: its momentum p
/// and velocity p# = M^-1 p.
#[derive(Clone, Debug, Default)]
struct End {
    p: Vec<f64>,
    v: Vec<f64>,
}

impl End {
    fn resize(&mut self, d: usize) {
        self.p.resize(d, 0.0);
        self.v.resize(d, 0.0);
    }

    fn copy_from(&mut self, o: &End) {
        self.p.copy_from_slice(&o.p);
        self.v.copy_from_slice(&o.v);
    }
}

/// A (sub)tree's summary: its two ends in the order of building (`beg`
/// next to the tree it extends, `end` the far one), its summed momenta
/// and the log of its summed weights.
#[derive(Clone, Debug, Default)]
struct Span {
    beg: End,
    end: End,
    rho: Vec<f64>,
    log_w: f64,
}

impl Span {
    fn resize(&mut self, d: usize) {
        self.beg.resize(d);
        self.end.resize(d);
        self.rho.resize(d, 0.0);
    }
}

/// The work buffers of one level of the recursion: the second half's
/// summaries and the second half's draw.
#[derive(Clone, Debug, Default)]
struct Level {
    second: Span,
    draw: Draw,
}

/// NUTS's work buffers for one chunk: each chain's momentum normals and
/// tree buffers, and each lock-step group's gradient slots.
#[derive(Default)]
struct ChunkScratch {
    chains: Vec<ChainScratch>,
    groups: Vec<Slots>,
}

/// One chain's buffers: its momentum's normals and its tree.
#[derive(Default)]
struct ChainScratch {
    normals: Normals,
    tree: NutsScratch,
}

/// A lock-step group's gradients: the positions its chains stopped at
/// (`xs`, row `k` for the group's chain `k`, when `waiting[k]`), and the
/// gradients and energies [`Energy::energy_grad_each`] gives them; the
/// `packed_*` rows hold the waiting chains' alone when some are done.
#[derive(Default)]
struct Slots {
    xs: Vec<f64>,
    gs: Vec<f64>,
    es: Vec<f64>,
    waiting: Vec<bool>,
    packed_x: Vec<f64>,
    packed_g: Vec<f64>,
    packed_e: Vec<f64>,
}

impl Slots {
    fn resize(&mut self, chains: usize, d: usize) {
        self.xs.resize(chains * d, 0.0);
        self.gs.resize(chains * d, 0.0);
        self.es.resize(chains, 0.0);
        self.waiting.clear();
        self.waiting.resize(chains, false);
    }

    /// The gradients of the waiting chains, all in one call; returns
    /// whether any chain was waiting.
    fn answer(&mut self, energy: &dyn Energy, d: usize) -> bool {
        let n = self.waiting.iter().filter(|&&w| w).count();
        if n == 0 {
            return false;
        }
        if n == self.waiting.len() {
            energy.energy_grad_each(&self.xs, &mut self.gs, &mut self.es);
        } else {
            self.packed_x.clear();
            for (k, _) in self.waiting.iter().enumerate().filter(|(_, &w)| w) {
                self.packed_x.extend_from_slice(&self.xs[k * d..(k + 1) * d]);
            }
            self.packed_g.resize(n * d, 0.0);
            self.packed_e.resize(n, 0.0);
            energy.energy_grad_each(&self.packed_x, &mut self.packed_g, &mut self.packed_e);
            let rows = self
                .waiting
                .iter()
                .enumerate()
                .filter(|(_, &w)| w)
                .map(|(k, _)| k);
            for (r, k) in rows.enumerate() {
                self.gs[k * d..(k + 1) * d].copy_from_slice(&self.packed_g[r * d..(r + 1) * d]);
                self.es[k] = self.packed_e[r];
            }
        }
        self.waiting.fill(false);
        true
    }
}

/// A future that is pending once: where a chain's tree gives way until
/// its group's gradients are in.
struct GiveWay(bool);

impl Future for GiveWay {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<()> {
        if self.0 {
            Poll::Ready(())
        } else {
            self.0 = true;
            Poll::Pending
        }
    }
}

/// The tree buffers of one chain.
#[derive(Default)]
struct NutsScratch {
    /// The trajectory's backward and forward ends.
    bck: Phase,
    fwd: Phase,
    /// The whole tree and the subtree being added.
    tree: Span,
    sub: Span,
    /// The current draw and the new subtree's draw.
    draw: Draw,
    sub_draw: Draw,
    levels: Vec<Level>,
    ones: Vec<f64>,
    tmp: Vec<f64>,
}

impl NutsScratch {
    fn resize(&mut self, d: usize, max_depth: usize) {
        self.bck.resize(d);
        self.fwd.resize(d);
        self.tree.resize(d);
        self.sub.resize(d);
        self.draw.resize(d);
        self.sub_draw.resize(d);
        if self.levels.len() < max_depth || self.levels.first().is_some_and(|l| l.draw.x.len() != d) {
            self.levels = vec![Level::default(); max_depth];
        }
        for l in &mut self.levels {
            l.second.resize(d);
            l.draw.resize(d);
        }
        self.ones.resize(d, 1.0);
        self.tmp.resize(d, 0.0);
    }
}

/// What a trajectory shares while it grows: where its gradients come
/// from (its group's slots and its row there), the metric, the step, the
/// starting Hamiltonian and the running counts.
struct Trajectory<'a> {
    slots: &'a RefCell<Slots>,
    slot: usize,
    metric: Metric<'a>,
    eps: f64,
    h0: f64,
    max_energy_error: f64,
    leapfrog: u32,
    sum_accept: f64,
    divergent: bool,
}

/// The mass matrix a transition uses, through M^-1.
#[derive(Clone, Copy)]
enum Metric<'a> {
    /// M^-1 = diag(values).
    Diag(&'a [f64]),
    /// A dense M^-1.
    Dense(&'a DenseMetric),
}

impl Metric<'_> {
    /// v = M^-1 p.
    #[inline(always)]
    fn velocity(&self, p: &[f64], v: &mut [f64]) {
        match self {
            Metric::Diag(im) => {
                for ((v, p), m) in v.iter_mut().zip(p).zip(im.iter()) {
                    *v = m * p;
                }
            }
            Metric::Dense(m) => m.velocity(p, v),
        }
    }

    /// p ~ N(0, M) from the standard normals `z`.
    fn momentum(&self, z: &[f64], p: &mut [f64]) {
        match self {
            Metric::Diag(im) => {
                for ((p, z), m) in p.iter_mut().zip(z).zip(im.iter()) {
                    *p = z / m.sqrt();
                }
            }
            Metric::Dense(m) => m.momentum(z, p),
        }
    }
}

/// log(e^a + e^b), with -inf for empty sums.
fn log_add_exp(a: f64, b: f64) -> f64 {
    let (hi, lo) = if a > b { (a, b) } else { (b, a) };
    if lo == f64::NEG_INFINITY {
        hi
    } else {
        hi + (lo - hi).exp().ln_1p()
    }
}

/// The generalised no-U-turn criterion of a span with end velocities `a`
/// and `b` and summed momenta `rho`: whether it may still grow. (Dot
/// products in eight lanes, [`ebm_core::simd::dot_inline`]; called inside
/// a dispatched closure.)
#[inline(always)]
fn no_u_turn(a: &[f64], b: &[f64], rho: &[f64]) -> bool {
    dot_inline(a, rho) > 0.0 && dot_inline(b, rho) > 0.0
}

/// Merge the summary `second` (built after `first`, further from the
/// start) into `first`'s place as the summary of both, and check the
/// merged span and the two extra spans (first + second's first state,
/// second + first's last state); `log_w` is the merged log weight,
/// log_add_exp of the two (which the caller has computed for its draw).
/// `tmp` is scratch. Returns whether no U-turn was found.
fn merge(first: &mut Span, second: &Span, log_w: f64, tmp: &mut [f64]) -> bool {
    let ok = dispatch(
        #[inline(always)]
        || {
            for (t, (r, p)) in tmp.iter_mut().zip(first.rho.iter().zip(&second.beg.p)) {
                *t = r + p;
            }
            let mut ok = no_u_turn(&first.beg.v, &second.beg.v, tmp);
            for (t, (r, p)) in tmp.iter_mut().zip(second.rho.iter().zip(&first.end.p)) {
                *t = r + p;
            }
            ok &= no_u_turn(&first.end.v, &second.end.v, tmp);
            for (r, s) in first.rho.iter_mut().zip(&second.rho) {
                *r += s;
            }
            ok &= no_u_turn(&first.beg.v, &second.end.v, &first.rho);
            first.end.p.copy_from_slice(&second.end.p);
            first.end.v.copy_from_slice(&second.end.v);
            ok
        },
    );
    first.log_w = log_w;
    ok
}

impl Trajectory<'_> {
    /// E(x), and grad E(x) into `g`, from the group: the position goes to
    /// this chain's slot, the tree gives way, and the group's driver fills
    /// the slot before it resumes.
    async fn energy_grad(&self, x: &[f64], g: &mut [f64]) -> f64 {
        let d = x.len();
        {
            let mut s = self.slots.borrow_mut();
            s.xs[self.slot * d..(self.slot + 1) * d].copy_from_slice(x);
            s.waiting[self.slot] = true;
        }
        GiveWay(false).await;
        let s = self.slots.borrow();
        g.copy_from_slice(&s.gs[self.slot * d..(self.slot + 1) * d]);
        s.es[self.slot]
    }

    /// One leapfrog step of `z` with the signed step size `dir * eps`;
    /// records the new state in `span` (a tree of one state) and in `draw`
    /// when given. Returns false when the state diverges.
    async fn leaf(&mut self, z: &mut Phase, dir: f64, span: &mut Span, draw: Option<&mut Draw>) -> bool {
        let eps = dir * self.eps;
        let v = &mut span.beg.v;
        let metric = self.metric;
        dispatch(
            #[inline(always)]
            || {
                for (p, g) in z.p.iter_mut().zip(&z.g) {
                    *p -= 0.5 * eps * g;
                }
                metric.velocity(&z.p, v);
                for (x, v) in z.x.iter_mut().zip(v.iter()) {
                    *x += eps * v;
                }
            },
        );
        z.e = self.energy_grad(&z.x, &mut z.g).await;
        let kinetic = dispatch(
            #[inline(always)]
            || {
                for (p, g) in z.p.iter_mut().zip(&z.g) {
                    *p -= 0.5 * eps * g;
                }
                metric.velocity(&z.p, v);
                dot_inline(&z.p, v)
            },
        );
        span.beg.p.copy_from_slice(&z.p);
        self.leapfrog += 1;
        let h = z.e + 0.5 * kinetic;
        let log_w = if h.is_nan() {
            f64::NEG_INFINITY
        } else {
            self.h0 - h
        };
        if !log_w.is_finite() || -log_w > self.max_energy_error {
            self.divergent = true;
        }
        self.sum_accept += if log_w >= 0.0 { 1.0 } else { log_w.exp() };
        span.end.copy_from(&span.beg);
        span.rho.copy_from_slice(&z.p);
        span.log_w = log_w;
        if let Some(draw) = draw {
            draw.copy_from(z.state());
        }
        !self.divergent
    }

    /// Extend the trajectory from its end `z` by a subtree of 2^depth
    /// states in the direction `dir` (+1 forward, -1 backward in time):
    /// its summary into `span`, the state it draws (uniformly in
    /// proportion to the weights) into `draw`. `levels` holds at least
    /// `depth` levels of buffers. Returns false when the subtree diverged
    /// or turned, and the trajectory must stop.
    async fn subtree(
        &mut self,
        z: &mut Phase,
        dir: f64,
        depth: usize,
        levels: &mut [Level],
        span: &mut Span,
        draw: &mut Draw,
        rng: &mut ChainRng,
        tmp: &mut [f64],
    ) -> bool {
        if depth == 0 {
            return self.leaf(z, dir, span, Some(draw)).await;
        }
        let (below, this) = levels.split_at_mut(depth - 1);
        let lvl = &mut this[0];
        // the first half draws into the caller's `draw` and sums up into
        // the caller's `span`, the second half into this level's buffers;
        // the merge then leaves the summary of both in `span`. Two leaves
        // (depth 1) are stepped here, not by recursion, and the second
        // one's draw is `z` itself until the next step moves it.
        let second_drawn = if depth == 1 {
            if !self.leaf(z, dir, span, Some(draw)).await || !self.leaf(z, dir, &mut lvl.second, None).await {
                return false;
            }
            z.state()
        } else {
            if !Box::pin(self.subtree(z, dir, depth - 1, below, span, draw, rng, tmp)).await {
                return false;
            }
            let second = self.subtree(z, dir, depth - 1, below, &mut lvl.second, &mut lvl.draw, rng, tmp);
            if !Box::pin(second).await {
                return false;
            }
            lvl.draw.state()
        };
        // progressive uniform sampling: the second half's draw with
        // probability W_second / (W_first + W_second)
        let total = log_add_exp(span.log_w, lvl.second.log_w);
        if lvl.second.log_w > total || rng.random::<f64>() < (lvl.second.log_w - total).exp() {
            draw.copy_from(second_drawn);
        }
        merge(span, &lvl.second, total, tmp)
    }
}

/// What one chain's transition reports: (acceptance statistic,
/// divergent, leapfrog steps, depth).
type Outcome = (f64, bool, u32, usize);

/// One chain of a lock-step group: its state (position, gradient,
/// energy), stream, buffers and where its steps report.
struct GroupChain<'c> {
    x: &'c mut [f64],
    g: &'c mut [f64],
    e: &'c mut f64,
    rng: &'c mut ChainRng,
    scratch: &'c mut ChainScratch,
    log: ChainStepsMut<'c>,
}

impl Nuts {
    /// The run of transitions `log` asks for on every chain of the chunk:
    /// the chains in groups of [`Energy::points_at_once`], the groups in
    /// parallel, each group's trees in lock-step.
    fn run_chunk(
        &self,
        energy: &dyn Energy,
        c: &mut ChunkMut<'_>,
        scratch: &mut Scratch,
        log: &mut ChainSteps,
    ) {
        let d = c.d;
        let s = scratch.get(ChunkScratch::default);
        let n = c.len();
        s.chains.resize_with(n, ChainScratch::default);
        // each chain's transitions read and write only its own state,
        // stream and buffers, and each gradient has the chain's own bits,
        // so the result depends neither on the grouping nor on the threads
        let group = energy.points_at_once().clamp(1, n.max(1));
        s.groups.resize_with(n.div_ceil(group), Slots::default);
        let mut chains: Vec<GroupChain<'_>> =
            c.x.chunks_mut(d)
                .zip(c.grad.chunks_mut(d))
                .zip(c.energy.iter_mut())
                .zip(c.rngs.iter_mut())
                .zip(s.chains.iter_mut())
                .zip(log.chains_mut())
                .map(|(((((x, g), e), rng), scratch), log)| GroupChain {
                    x,
                    g,
                    e,
                    rng,
                    scratch,
                    log,
                })
                .collect();
        chains
            .par_chunks_mut(group)
            .zip(s.groups.par_iter_mut())
            .for_each(|(chains, slots)| self.group_runs(energy, chains, slots));
    }

    /// Every chain of a group through its run of transitions, the trees
    /// in lock-step: each chain runs until it needs a gradient (or is
    /// done with its last transition), then the group's gradients come in
    /// one call, and so on. A chain done with a transition starts its
    /// next at once, so only the end of the run waits for the group's
    /// slowest chain.
    fn group_runs(&self, energy: &dyn Energy, chains: &mut [GroupChain<'_>], slots: &mut Slots) {
        let d = energy.dim();
        slots.resize(chains.len(), d);
        let shared = RefCell::new(std::mem::take(slots));
        {
            type Run<'f> = Pin<Box<dyn Future<Output = ()> + 'f>>;
            let mut runs: Vec<Option<Run<'_>>> = chains
                .iter_mut()
                .enumerate()
                .map(|(k, c)| {
                    c.scratch.tree.resize(d, self.max_depth);
                    let run: Run<'_> = Box::pin(self.chain_run(c, &shared, k));
                    Some(run)
                })
                .collect();
            let mut cx = Context::from_waker(Waker::noop());
            loop {
                for slot in runs.iter_mut() {
                    if let Some(run) = slot {
                        if run.as_mut().poll(&mut cx).is_ready() {
                            *slot = None;
                        }
                    }
                }
                if !shared.borrow_mut().answer(energy, d) {
                    break;
                }
            }
        }
        *slots = shared.into_inner();
    }

    /// One chain's run of transitions, each from fresh momentum normals
    /// out of its stream; its gradients through row `slot` of its group's
    /// `slots`.
    async fn chain_run(&self, c: &mut GroupChain<'_>, slots: &RefCell<Slots>, slot: usize) {
        let d = c.x.len();
        for t in 0..c.log.steps() {
            let (z, _) = c.scratch.normals.draw(std::slice::from_mut(c.rng), d);
            let (accept, divergent, leapfrog, depth) = self
                .transition(c.x, c.g, c.e, &z[..d], c.rng, &mut c.scratch.tree, slots, slot)
                .await;
            c.log.set(
                t,
                accept,
                divergent,
                leapfrog,
                &[depth as f64, leapfrog as f64],
                c.x,
            );
        }
    }

    /// One NUTS transition of one chain at `x` (with gradient `g` and
    /// energy `e`, all updated in place), from the standard normals `z`,
    /// its gradients through row `slot` of its group's `slots`.
    #[allow(clippy::too_many_arguments)]
    async fn transition(
        &self,
        x: &mut [f64],
        g: &mut [f64],
        e: &mut f64,
        z: &[f64],
        rng: &mut ChainRng,
        s: &mut NutsScratch,
        slots: &RefCell<Slots>,
        slot: usize,
    ) -> Outcome {
        let d = x.len();
        let metric = match &self.dense {
            Some(m) if m.dim() == d => Metric::Dense(m),
            _ if self.inv_mass.len() == d => Metric::Diag(&self.inv_mass),
            _ => Metric::Diag(&s.ones),
        };
        // p ~ N(0, M)
        let start = &mut s.fwd;
        start.x.copy_from_slice(x);
        start.g.copy_from_slice(g);
        start.e = *e;
        metric.momentum(z, &mut start.p);
        metric.velocity(&start.p, &mut s.tree.beg.v);
        let kinetic = ebm_core::simd::dot(&start.p, &s.tree.beg.v);
        let h0 = *e + 0.5 * kinetic;
        s.bck.copy_from(&s.fwd);
        s.draw.copy_from(s.fwd.state());
        // the tree of the one starting state
        s.tree.beg.p.copy_from_slice(&s.fwd.p);
        s.tree.end.copy_from(&s.tree.beg);
        s.tree.rho.copy_from_slice(&s.fwd.p);
        s.tree.log_w = 0.0;
        // tree.beg is the backward end and tree.end the forward one
        let mut traj = Trajectory {
            slots,
            slot,
            metric,
            eps: self.step_size,
            h0,
            max_energy_error: self.max_energy_error,
            leapfrog: 0,
            sum_accept: 0.0,
            divergent: false,
        };
        let mut depth = 0;
        while depth < self.max_depth {
            let forward = rng.random::<f64>() > 0.5;
            let (z, dir) = if forward {
                (&mut s.fwd, 1.0)
            } else {
                (&mut s.bck, -1.0)
            };
            let built = traj
                .subtree(
                    z,
                    dir,
                    depth,
                    &mut s.levels,
                    &mut s.sub,
                    &mut s.sub_draw,
                    rng,
                    &mut s.tmp,
                )
                .await;
            if !built {
                break;
            }
            depth += 1;
            // biased progressive sampling: the new subtree's draw with
            // probability min(1, W_new / W_old)
            if s.sub.log_w > s.tree.log_w || rng.random::<f64>() < (s.sub.log_w - s.tree.log_w).exp() {
                s.draw.copy_from(s.sub_draw.state());
            }
            // merge in trajectory order (the backward half first), with
            // the subtree's states next to the tree on the tree's side
            let ok = if forward {
                let total = log_add_exp(s.tree.log_w, s.sub.log_w);
                merge(&mut s.tree, &s.sub, total, &mut s.tmp)
            } else {
                // sub runs backward from the tree: its `end` is the new
                // backward end; as the first half in time its ends swap
                std::mem::swap(&mut s.sub.beg, &mut s.sub.end);
                std::mem::swap(&mut s.tree, &mut s.sub);
                let total = log_add_exp(s.tree.log_w, s.sub.log_w);
                merge(&mut s.tree, &s.sub, total, &mut s.tmp)
            };
            if !ok {
                break;
            }
        }
        x.copy_from_slice(&s.draw.x);
        g.copy_from_slice(&s.draw.g);
        *e = s.draw.e;
        let n = traj.leapfrog.max(1);
        (traj.sum_accept / n as f64, traj.divergent, traj.leapfrog, depth)
    }
}

impl Kernel for Nuts {
    fn name(&self) -> &'static str {
        "nuts"
    }

    fn settings(&self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or(serde_json::Value::Null)
    }

    fn figures(&self) -> &'static [&'static str] {
        &["depth", "leapfrog"]
    }

    fn step_chunk(&self, target: Target<'_>, c: &mut ChunkMut<'_>, scratch: &mut Scratch) {
        let mut log = ChainSteps::new(1, c.len(), c.d, self.figures().len(), false);
        self.step_chunk_run(target, c, scratch, &mut log);
        log.load_step(0, c);
    }

    fn runs_chains_ahead(&self) -> bool {
        true
    }

    fn step_chunk_run(
        &self,
        target: Target<'_>,
        c: &mut ChunkMut<'_>,
        scratch: &mut Scratch,
        log: &mut ChainSteps,
    ) {
        if let Some(energy) = target.energy() {
            self.run_chunk(energy, c, scratch, log);
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
