//! AIS's chains in groups of sixteen SIMD lanes, each group's ladder
//! run in pieces when the groups are few ([`crate::pieces`]): what the
//! binary lane kernels ([`super::ais_binary`] on pairwise models,
//! [`super::ais_rbm`]) share.

use super::ProgressFn;
use crate::lanes::LANES;
use crate::pieces::{piece_of, pieces_for, run_in_pieces};
use ebm_core::simd::dispatch;
use ebm_core::ChainRng;
use std::ops::Range;
use std::sync::atomic::{AtomicUsize, Ordering};

/// A group of up to [`LANES`] chains part way along the ladder, able to
/// resume where it paused.
pub(super) trait LaneAnneal: Send {
    /// Temperatures `ks` of `1..K` (K temperatures), in order, for the
    /// chains of `rngs`, adding each one's weight increment; the range
    /// that starts at 1 first draws the chains from the base. Called
    /// inside [`dispatch`], so it must be `#[inline(always)]`.
    fn anneal(&mut self, rngs: &mut [ChainRng], ks: Range<usize>);
    /// Every lane's log weight so far.
    fn log_weights(&self) -> &[f64; LANES];
}

/// A group's chains: their streams, their log weights, and their state
/// from the first temperature to the last.
struct Group<'a, S> {
    state: Option<S>,
    log_w: &'a mut [f64],
    rngs: &'a mut [ChainRng],
}

/// Anneal the chains of `rngs` along a ladder of `temperatures`
/// temperatures in groups of [`LANES`] (a fixed grouping), each group's
/// state made by `start` before its first temperature and dropped after
/// its last, and write their log weights into `log_w`; report (chains
/// done, chains) to `progress` as groups finish.
pub(super) fn anneal_in_groups<S: LaneAnneal>(
    log_w: &mut [f64],
    rngs: &mut [ChainRng],
    temperatures: usize,
    start: impl Fn() -> S + Sync,
    progress: ProgressFn<'_>,
) {
    let (n_chains, done) = (log_w.len(), AtomicUsize::new(0));
    let mut groups: Vec<Group<'_, S>> = log_w
        .chunks_mut(LANES)
        .zip(rngs.chunks_mut(LANES))
        .map(|(log_w, rngs)| Group {
            state: None,
            log_w,
            rngs,
        })
        .collect();
    let pieces = pieces_for(groups.len());
    run_in_pieces(&mut groups, pieces, |g, _, q| {
        let ks = piece_of(temperatures, pieces, q);
        let state = g.state.get_or_insert_with(&start);
        dispatch(
            #[inline(always)]
            || state.anneal(g.rngs, ks),
        );
        if q + 1 == pieces {
            let n = g.log_w.len();
            g.log_w.copy_from_slice(&state.log_weights()[..n]);
            g.state = None;
            progress(done.fetch_add(n, Ordering::Relaxed) + n, n_chains);
        }
    });
}
