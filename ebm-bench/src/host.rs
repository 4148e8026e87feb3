//! What a program that runs the command in its own process (the Python
//! package) hands it: where progress goes and how it asks a run to stop.
//!
//! The `ebm` binary sets nothing: its bars go to stderr (indicatif) and
//! Ctrl-C stops a training run through a signal handler of its own. A
//! host must not get that handler (it would take SIGINT away from the
//! host, a Python kernel for instance), so it runs the command inside
//! [`hosted`] with a [`Host`]: progress is handed to its sink, and the
//! host raises the stop flag (after its own Ctrl-C), which sampling and
//! training check between steps.

pub use ebm_estimators::trainer::StopFlag;
use std::cell::RefCell;
use std::sync::{Arc, OnceLock};

/// Receives `(label, done, total)` as a run goes (called from the thread
/// that ticks: the calling thread for sampling and training, a worker
/// thread for AIS), at most every [`SINK_INTERVAL`] and at the end.
pub type ProgressSink = Arc<dyn Fn(&'static str, usize, usize) + Send + Sync>;

/// Least time between two calls of a [`ProgressSink`] (the last call,
/// `done == total`, always comes).
pub const SINK_INTERVAL: std::time::Duration = std::time::Duration::from_millis(50);

/// A host's progress sink and stop flag.
#[derive(Clone)]
pub struct Host {
    /// Where progress goes.
    pub progress: ProgressSink,
    /// Raised by the host to stop the run after its current block of steps.
    pub stop: StopFlag,
}

thread_local! {
    static HOST: RefCell<Option<Host>> = const { RefCell::new(None) };
}

/// Run `f` (a command) on this thread with `host`'s progress sink and stop
/// flag; the previous host (normally none) comes back afterwards, even if
/// `f` panics.
pub fn hosted<R>(host: Host, f: impl FnOnce() -> R) -> R {
    struct Restore(Option<Host>);
    impl Drop for Restore {
        fn drop(&mut self) {
            HOST.with(|h| *h.borrow_mut() = self.0.take());
        }
    }
    let _restore = Restore(HOST.with(|h| h.borrow_mut().replace(host)));
    f()
}

/// The host of the command running on this thread, if it is hosted.
pub fn current() -> Option<Host> {
    HOST.with(|h| h.borrow().clone())
}

/// The flag that stops a training run: the host's, or else the `ebm`
/// binary's Ctrl-C flag (the run finishes its step, writes the checkpoint
/// and exits 130; a second Ctrl-C exits at once).
pub fn stop_flag() -> StopFlag {
    if let Some(h) = current() {
        return h.stop;
    }
    static FLAG: OnceLock<StopFlag> = OnceLock::new();
    FLAG.get_or_init(|| {
        let flag = StopFlag::new();
        let raised = flag.clone();
        // Failing to install the handler (one already installed by a host
        // program) leaves Ctrl-C's default: the run stops without a final
        // checkpoint, the periodic ones stay.
        let _ = ctrlc::set_handler(move || {
            if raised.is_raised() {
                std::process::exit(130);
            }
            raised.raise();
        });
        flag
    })
    .clone()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    #[test]
    fn hosted_sets_the_host_for_the_call_only() {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let s = seen.clone();
        let host = Host {
            progress: Arc::new(move |l, d, t| s.lock().unwrap().push((l, d, t))),
            stop: StopFlag::new(),
        };
        assert!(current().is_none());
        hosted(host.clone(), || {
            let h = current().expect("hosted");
            (h.progress)("x", 1, 2);
            assert_eq!(stop_flag(), host.stop);
        });
        assert!(current().is_none());
        assert_eq!(*seen.lock().unwrap(), vec![("x", 1, 2)]);
    }
}
