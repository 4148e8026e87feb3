//! A progress bar on stderr for runs longer than a second, or the
//! progress sink of a host program ([`crate::host`]).

use crate::host::{self, Host, SINK_INTERVAL};
use ebm_samplers::driver::{Observer, Phase};
use ebm_samplers::StepStats;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::time::{Duration, Instant};

/// Shows a bar on stderr once a run has taken more than a second (short
/// runs print nothing); hidden automatically when stderr is not a terminal.
/// In a hosted run (made on a thread inside [`host::hosted`]) progress
/// goes to the host's sink instead, and the host's stop flag is the
/// observer's stop request.
pub struct Progress {
    start: Instant,
    bar: Option<ProgressBar>,
    label: &'static str,
    host: Option<Host>,
    last_sent: Option<Instant>,
}

impl Progress {
    /// A new, not yet visible, progress bar.
    pub fn new(label: &'static str) -> Self {
        Self {
            start: Instant::now(),
            bar: None,
            label,
            host: host::current(),
            last_sent: None,
        }
    }

    /// Whether the host asked the run to stop.
    pub fn stop_requested(&self) -> bool {
        self.host.as_ref().is_some_and(|h| h.stop.is_raised())
    }

    /// Record progress `done` of `total`.
    pub fn tick(&mut self, done: usize, total: usize) {
        if let Some(h) = &self.host {
            let now = Instant::now();
            if done >= total || self.last_sent.is_none_or(|t| now - t >= SINK_INTERVAL) {
                self.last_sent = Some(now);
                (h.progress)(self.label, done, total);
            }
            return;
        }
        if self.bar.is_none() && self.start.elapsed() > Duration::from_secs(1) {
            let bar = ProgressBar::with_draw_target(Some(total as u64), ProgressDrawTarget::stderr());
            bar.set_style(
                ProgressStyle::with_template("{msg} [{bar:40}] {pos}/{len} ({eta})")
                    .expect("valid template")
                    .progress_chars("=> "),
            );
            bar.set_message(self.label);
            self.bar = Some(bar);
        }
        if let Some(b) = &self.bar {
            b.set_position(done as u64);
        }
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        if let Some(b) = &self.bar {
            b.finish_and_clear();
        }
    }
}

impl Observer for Progress {
    fn on_step(&mut self, _phase: Phase, iter: usize, total: usize, _stats: &StepStats) {
        self.tick(iter + 1, total);
    }
    fn wants_draws(&self) -> bool {
        false
    }
    fn stop_requested(&self) -> bool {
        Progress::stop_requested(self)
    }
}

/// A progress bar usable from several threads at once (AIS), shown after
/// a second like [`Progress`].
pub struct SharedProgress(std::sync::Mutex<Progress>);

impl SharedProgress {
    /// A new, not yet visible, bar.
    pub fn new(label: &'static str) -> Self {
        Self(std::sync::Mutex::new(Progress::new(label)))
    }

    /// Record progress `done` of `total` (ignored if another thread holds
    /// the bar at this moment).
    pub fn tick(&self, done: usize, total: usize) {
        if let Ok(mut p) = self.0.try_lock() {
            p.tick(done, total);
        }
    }
}
