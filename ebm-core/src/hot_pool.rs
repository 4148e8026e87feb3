//! Keep a rayon pool's other workers awake through a loop of short
//! parallel steps, so that forking a step's work is cheap.
//!
//! A loop whose every step forks a little parallel work (a W5 training
//! step: two parts of ~0.5 ms each, then ~0.1 ms of serial work) pays for
//! rayon's idle policy at every fork: between two forks the other workers
//! find nothing to do and go to sleep within microseconds, and the next
//! fork has to wake them (a futex call, and on a virtual machine the
//! halted vCPU's return), which costs tens of microseconds and varies
//! from step to step. [`with_hot_pool`] runs the loop while the other
//! workers poll the pool for jobs instead ([`rayon::yield_now`]), so a
//! fork's jobs are taken as soon as they are pushed; inside it,
//! [`is_hot`] tells the loop that even a fork of a few microseconds of
//! work (the optimizer's update of 17k parameters) pays.
//!
//! A poller that finds no job for `SPIN_BEFORE_NAP` (200 us: longer than
//! a training step's serial stretch) naps instead, for 20 us at first and
//! twice as long each time up to 1 ms, until it runs a job again. So the
//! workers that take a loop's jobs stay hot, while the rest of a large
//! pool (16 workers, and a step of two parts) cost about one wake-up a
//! millisecond each, not a core each; and a long serial stretch (a
//! checkpoint written) does not keep the pool's cores busy.
//!
//! Which worker runs which job never changes what a job computes, so work
//! written for rayon gives the same bits with or without the pollers.

use std::cell::Cell;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

thread_local! {
    /// Whether this thread is polling for another thread's loop.
    static POLLING: Cell<bool> = const { Cell::new(false) };
    /// Whether this thread is running a loop with polling workers.
    static HOT: Cell<bool> = const { Cell::new(false) };
}

/// After this long without finding a job, a poller naps between polls
/// (a worker whose jobs go to other pollers, or a long serial stretch of
/// the loop), so that other processes get its core.
const SPIN_BEFORE_NAP: Duration = Duration::from_micros(200);

/// A poller's first nap; each further nap without a job is twice as long,
/// up to [`LONGEST_NAP`].
const FIRST_NAP: Duration = Duration::from_micros(20);

/// The longest nap: a job pushed while every poller naps waits at most
/// this long for one (the loop's own thread runs it sooner if it can).
const LONGEST_NAP: Duration = Duration::from_millis(1);

/// Elements below which an elementwise pass is not worth a fork even in
/// a hot pool (a fork costs about a microsecond there; a pass over this
/// many doubles in cache costs about as much).
pub const MIN_FORK: usize = 4096;

/// Values per job when an elementwise pass is forked.
pub const CHUNK: usize = 2048;

/// Run `f` on a worker of the current rayon pool (of the global pool when
/// called from outside any) while each of the pool's other workers polls
/// for jobs until `f` returns; [`is_hot`] is true inside `f` on its thread.
/// With a pool of one thread it is `f` run on that thread.
///
/// The pollers spin (with the CPU's pause hint) while they find jobs;
/// one that finds none for `SPIN_BEFORE_NAP` (200 us) naps between polls
/// (20 us, doubling to 1 ms) until it runs a job again. A hot pool keeps
/// busy the cores whose workers take the loop's jobs, which is the price
/// of its cheap forks.
pub fn with_hot_pool<R: Send>(f: impl FnOnce() -> R + Send) -> R {
    run_hot(f, &AtomicUsize::new(0))
}

/// [`with_hot_pool`], with every poller's naps counted in `naps`.
fn run_hot<R: Send>(f: impl FnOnce() -> R + Send, naps: &AtomicUsize) -> R {
    let done = AtomicBool::new(false);
    rayon::scope(|s| {
        let leader = rayon::current_thread_index();
        for _ in 1..rayon::current_num_threads() {
            let done = &done;
            s.spawn(move |_| poll_until(done, leader, naps));
        }
        // the pollers are released, and the flag restored, however `f`
        // ends: a panic in it unwinds through the scope, which waits for
        // the pollers first
        let _end = LoopEnd {
            done: &done,
            was_hot: HOT.with(|h| h.replace(true)),
        };
        f()
    })
}

/// Ends a [`with_hot_pool`] loop when dropped: the flag of the loop's
/// thread as it was, and the pollers told to stop.
struct LoopEnd<'a> {
    done: &'a AtomicBool,
    was_hot: bool,
}

impl Drop for LoopEnd<'_> {
    fn drop(&mut self) {
        HOT.with(|h| h.set(self.was_hot));
        self.done.store(true, Ordering::Release);
    }
}

/// Whether the calling thread runs the loop of a [`with_hot_pool`] whose
/// pool has other workers: then a fork costs about a microsecond, and a
/// pass over a few thousand values is worth splitting over the workers.
pub fn is_hot() -> bool {
    HOT.with(Cell::get) && rayon::current_num_threads() > 1
}

/// Whether a pass over `len` values should be forked: in a hot pool, from
/// [`MIN_FORK`] values.
pub fn fork_pays(len: usize) -> bool {
    len >= MIN_FORK && is_hot()
}

/// Polls between two looks at the clock while spinning (a look costs
/// about as much as a poll).
const POLLS_PER_LOOK: u32 = 64;

/// Run the pool's pending jobs as they come until `done` is raised,
/// napping while none come (see [`with_hot_pool`]; each nap counted in
/// `naps`). A no-op on the `leader`'s thread (which would otherwise wait
/// on itself: a job of the loop's scope that no other worker took is run
/// there when the loop ends) and on a thread that is already polling.
fn poll_until(done: &AtomicBool, leader: Option<usize>, naps: &AtomicUsize) {
    if rayon::current_thread_index() == leader || POLLING.with(Cell::get) {
        return;
    }
    POLLING.with(|p| p.set(true));
    let mut idle_since: Option<Instant> = None;
    let mut idle_polls = 0u32;
    let mut nap = FIRST_NAP;
    while !done.load(Ordering::Acquire) {
        match rayon::yield_now() {
            Some(rayon::Yield::Executed) => {
                idle_since = None;
                idle_polls = 0;
                nap = FIRST_NAP;
            }
            Some(rayon::Yield::Idle) => {
                idle_polls = idle_polls.wrapping_add(1);
                let since = *idle_since.get_or_insert_with(Instant::now);
                if idle_polls % POLLS_PER_LOOK == 0 && since.elapsed() > SPIN_BEFORE_NAP {
                    naps.fetch_add(1, Ordering::Relaxed);
                    std::thread::sleep(nap);
                    nap = (nap * 2).min(LONGEST_NAP);
                    // look at the clock after every nap
                    idle_polls = POLLS_PER_LOOK - 1;
                } else {
                    std::hint::spin_loop();
                }
            }
            None => break,
        }
    }
    POLLING.with(|p| p.set(false));
}

#[cfg(test)]
mod tests {
    use super::*;
    use rayon::prelude::*;

    fn pool(threads: usize) -> rayon::ThreadPool {
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap()
    }

    /// A loop of forks gives what it gives without the pollers, on pools
    /// of one to four threads, called from inside the pool and from
    /// outside it (the loop then runs on a worker, and ends).
    #[test]
    fn loops_of_forks_finish_with_the_same_results() {
        let work = || -> Vec<u64> {
            (0..200u64)
                .map(|step| (0..64u64).into_par_iter().map(|i| (i * 31 + step) % 17).sum())
                .collect()
        };
        let expected = work();
        for threads in 1..=4 {
            let p = pool(threads);
            assert_eq!(
                p.install(|| with_hot_pool(work)),
                expected,
                "{threads} threads, inside"
            );
            assert_eq!(
                p.install(|| with_hot_pool(|| with_hot_pool(work))),
                expected,
                "nested"
            );
        }
        assert_eq!(with_hot_pool(work), expected, "global pool, from outside");
    }

    /// A panic in the loop reaches the caller (the pollers are released
    /// instead of waiting for a loop that will not end), and the pool
    /// works as before afterwards.
    #[test]
    fn a_panic_in_the_loop_is_the_callers() {
        let p = pool(2);
        let caught = p.install(|| {
            std::panic::catch_unwind(|| {
                with_hot_pool(|| {
                    let _: u64 = (0..64u64).into_par_iter().sum();
                    panic!("the loop's own panic")
                })
            })
        });
        assert!(caught.is_err());
        assert!(!p.install(is_hot));
        assert_eq!(
            p.install(|| with_hot_pool(|| (0..64u64).into_par_iter().sum::<u64>())),
            2016
        );
    }

    /// Pollers with nothing to do nap instead of spinning: through a
    /// 60 ms serial stretch, three pollers nap at most about 65 times each
    /// (a nap a millisecond after the first 200 us, plus the six shorter
    /// ones before; about 20 each on the Intel guest, whose 1 ms sleeps
    /// last longer), never hundreds of thousands of polls; and a loop of
    /// forks afterwards finds them and runs as before.
    #[test]
    fn idle_pollers_nap() {
        let p = pool(4);
        let naps = AtomicUsize::new(0);
        let sums = p.install(|| {
            run_hot(
                || {
                    std::thread::sleep(Duration::from_millis(60));
                    (0..50u64)
                        .map(|step| (0..64u64).into_par_iter().map(|i| i * step).sum::<u64>())
                        .sum::<u64>()
                },
                &naps,
            )
        });
        assert_eq!(sums, 2016 * 1225);
        let naps = naps.load(Ordering::Relaxed);
        // 60 ms at 1 ms a nap is at most ~66 naps a poller (fewer where a
        // nap oversleeps); at least a few each once 200 us have passed
        assert!((3..=3 * 80).contains(&naps), "{naps} naps");
    }

    /// `is_hot` holds on the loop's thread only, and only while it runs
    /// with other workers to fork to.
    #[test]
    fn hot_inside_the_loop_only() {
        assert!(!is_hot());
        let p = pool(2);
        p.install(|| {
            assert!(!is_hot());
            let (hot, pays, small, leader, jobs) = with_hot_pool(|| {
                let jobs: Vec<(Option<usize>, bool)> = (0..64)
                    .into_par_iter()
                    .map(|_| (rayon::current_thread_index(), is_hot()))
                    .collect();
                let pays = (fork_pays(MIN_FORK), fork_pays(MIN_FORK - 1));
                (is_hot(), pays.0, pays.1, rayon::current_thread_index(), jobs)
            });
            assert!(hot && pays && !small);
            // a job is hot where the loop runs, cold on a poller
            assert!(jobs.iter().all(|&(t, h)| h == (t == leader)));
            assert!(!is_hot());
        });
        assert!(!pool(1).install(|| with_hot_pool(is_hot)));
    }
}
