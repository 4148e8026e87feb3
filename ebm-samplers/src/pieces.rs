//! A few long, resumable jobs shared fairly by the threads: each job is
//! cut into consecutive pieces, and the threads take pieces from one
//! queue, a job's next piece joining the back of the queue when its last
//! one is done.
//!
//! Annealing a group of sixteen chains in lanes is one such job: a run
//! of 100 chains is seven groups, and two threads given whole groups take
//! the time of four, where the work is three and a half. Cut into eight
//! pieces each, the groups advance together and the two threads finish
//! within a piece of each other. The pieces only decide where a job
//! pauses, never what it computes, so the results do not depend on them
//! or on the threads.

use rayon::prelude::*;
use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard};

/// Pieces per job when the jobs are few ([`pieces_for`]).
pub const PIECES: usize = 8;

/// How many pieces to cut each of `jobs` jobs into on this many
/// threads: [`PIECES`] when there are fewer than eight jobs a thread
/// (whole jobs could then leave a thread idle for up to an eighth of the
/// run or more), else 1. Every job's state lives from the first piece to
/// the last, so with many jobs whole ones (at most one a thread in
/// flight) keep the memory bounded.
pub fn pieces_for(jobs: usize) -> usize {
    if jobs < 8 * rayon::current_num_threads() {
        PIECES
    } else {
        1
    }
}

/// Run `pieces` consecutive pieces of every job on the rayon threads:
/// `run(job, j, q)` does piece q of job j, and starts only once piece
/// q - 1 of that job has finished. The threads take pieces first come,
/// first served: piece 0 of every job in order, then each job's next
/// piece as its previous one ends.
pub fn run_in_pieces<T: Send>(jobs: &mut [T], pieces: usize, run: impl Fn(&mut T, usize, usize) + Sync) {
    if jobs.is_empty() || pieces == 0 {
        return;
    }
    if pieces == 1 {
        // whole jobs: rayon's split, each thread a run of neighbouring
        // jobs (taking them from one queue, the threads interleaved
        // neighbouring groups, and W8's 63 groups took 4-10% longer)
        jobs.par_iter_mut()
            .enumerate()
            .for_each(|(j, job)| run(job, j, 0));
        return;
    }
    let slots: Vec<Mutex<&mut T>> = jobs.iter_mut().map(Mutex::new).collect();
    let queue = Mutex::new((0..slots.len()).map(|j| (j, 0)).collect::<VecDeque<_>>());
    let left = AtomicUsize::new(slots.len() * pieces);
    let failed = AtomicBool::new(false);
    let threads = rayon::current_num_threads().min(slots.len());
    rayon::scope(|s| {
        for _ in 0..threads {
            s.spawn(|_| {
                // a piece that panics never counts as done: the others
                // stop instead of waiting for it, and the scope passes
                // the panic on
                let _watch = Unwinding(&failed);
                while left.load(Ordering::Acquire) > 0 && !failed.load(Ordering::Acquire) {
                    let Some((j, q)) = unpoisoned(&queue).pop_front() else {
                        // every job not done is in another thread's hands
                        std::thread::yield_now();
                        continue;
                    };
                    run(&mut unpoisoned(&slots[j]), j, q);
                    if q + 1 < pieces {
                        unpoisoned(&queue).push_back((j, q + 1));
                    }
                    left.fetch_sub(1, Ordering::AcqRel);
                }
            });
        }
    });
}

/// Sets its flag when dropped while its thread unwinds.
struct Unwinding<'a>(&'a AtomicBool);

impl Drop for Unwinding<'_> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            self.0.store(true, Ordering::Release);
        }
    }
}

/// The lock's guard, also after a panic in another holder (which rayon
/// passes on to the caller anyway).
fn unpoisoned<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// The temperatures `1..k` cut into `pieces` consecutive ranges of
/// nearly equal length (the first ones longer by one): piece q.
pub fn piece_of(k: usize, pieces: usize, q: usize) -> std::ops::Range<usize> {
    let n = k.saturating_sub(1);
    let (base, extra) = (n / pieces, n % pieces);
    let start = 1 + q * base + q.min(extra);
    start..start + base + usize::from(q < extra)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every job's pieces run once each, in order, whatever the
    /// interleaving; the pieces of `1..k` cover it in order.
    #[test]
    fn each_job_runs_its_pieces_in_order() {
        for jobs in [1, 2, 3, 7, 20] {
            for pieces in [1, 2, 8] {
                let mut logs: Vec<Vec<usize>> = vec![Vec::new(); jobs];
                run_in_pieces(&mut logs, pieces, |log, _, q| {
                    // some work, so that the threads interleave
                    let mut x = 0u64;
                    for i in 0..(1000 * (q as u64 + 1)) {
                        x = x.wrapping_mul(31).wrapping_add(i);
                    }
                    std::hint::black_box(x);
                    log.push(q);
                });
                for log in &logs {
                    assert_eq!(*log, (0..pieces).collect::<Vec<_>>());
                }
            }
        }
        // a panicking piece reaches the caller instead of leaving the
        // other threads waiting for it
        let mut jobs = vec![0u32; 3];
        let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            run_in_pieces(&mut jobs, 4, |_, j, q| {
                assert!(!(j == 1 && q == 2), "piece 2 of job 1")
            });
        }));
        assert!(caught.is_err());
        for k in [1, 2, 3, 9, 10, 1000] {
            for pieces in [1, 3, 8] {
                let all: Vec<usize> = (0..pieces).flat_map(|q| piece_of(k, pieces, q)).collect();
                assert_eq!(all, (1..k).collect::<Vec<_>>(), "k {k}, {pieces} pieces");
            }
        }
    }
}
