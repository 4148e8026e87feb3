//! The warm-up of one kernel on one set of chains, iteration by iteration:
//! dual averaging of the step size towards the kernel's target acceptance,
//! and the metric (diagonal variances or the dense covariance) estimated in
//! Stan's windows ([`crate::adapt`]). The [driver](crate::driver) runs one;
//! [parallel tempering](crate::tempering) one per temperature.

use crate::adapt::{mass_window_ends, DualAveraging, Welford, WelfordCov};
use crate::chains::Chains;
use crate::kernel::Kernel;

/// Adaptation state over a warm-up of `n` iterations.
///
/// After each iteration `it` (0-based) call [`Warmup::after_step`] with the
/// iteration's mean acceptance: the step size moves by dual averaging, the
/// chains' positions join the current metric window from 15% of the
/// warm-up on, and when a window ends the kernel gets the regularised
/// estimate (and step-size adaptation restarts around the current step).
/// At the end, [`Warmup::finish`] sets the averaged step size.
#[derive(Clone, Debug)]
pub struct Warmup {
    n: usize,
    accept_target: Option<f64>,
    da: Option<DualAveraging>,
    windows: Vec<usize>,
    dense: bool,
    welford: Welford,
    welford_cov: WelfordCov,
    w_idx: usize,
}

impl Warmup {
    /// The adaptation `kernel` admits over `n` iterations in `d`
    /// dimensions: the step size when `step_size` is asked for and the
    /// kernel has a target acceptance, the metric when `metric` is asked
    /// for (the kernel decides whether it takes one).
    pub fn new<K: Kernel + ?Sized>(kernel: &K, n: usize, d: usize, step_size: bool, metric: bool) -> Self {
        let accept_target = kernel.target_accept().filter(|_| step_size);
        let dense = kernel.dense_metric();
        Self {
            n,
            accept_target,
            da: accept_target.map(|t| DualAveraging::new(kernel.step_size(), t)),
            windows: if metric { mass_window_ends(n) } else { Vec::new() },
            dense,
            welford: Welford::new(d),
            welford_cov: WelfordCov::new(if dense { d } else { 0 }),
            w_idx: 0,
        }
    }

    /// Whether anything adapts (otherwise warm-up is burn-in by another
    /// name, and may run in blocks of steps).
    pub fn adapting(&self) -> bool {
        self.da.is_some() || !self.windows.is_empty()
    }

    /// Feed iteration `it` (its mean acceptance `mean_accept` and the
    /// chains after it) and update `kernel`.
    pub fn after_step<K: Kernel + ?Sized>(
        &mut self,
        it: usize,
        kernel: &mut K,
        chains: &Chains,
        mean_accept: f64,
    ) {
        if let Some(da) = self.da.as_mut() {
            kernel.set_step_size(da.update(mean_accept));
        }
        if self.w_idx >= self.windows.len() {
            return;
        }
        let start = if self.w_idx == 0 {
            (self.n * 15 / 100).min(self.windows[0])
        } else {
            self.windows[self.w_idx - 1]
        };
        if it >= start {
            for x in chains.x.rows() {
                if self.dense {
                    self.welford_cov.add(x);
                } else {
                    self.welford.add(x);
                }
            }
        }
        if it + 1 == self.windows[self.w_idx] {
            let set = if self.dense {
                kernel.set_dense_inv_mass(&self.welford_cov.regularized_covariance())
            } else {
                kernel.set_inv_mass(&self.welford.regularized_variance())
            };
            if set {
                // A new metric: restart step-size adaptation around the current value.
                if let (Some(t), Some(da)) = (self.accept_target, self.da.as_mut()) {
                    *da = DualAveraging::new(kernel.step_size(), t);
                }
            }
            let d = chains.dim();
            self.welford = Welford::new(d);
            self.welford_cov = WelfordCov::new(if self.dense { d } else { 0 });
            self.w_idx += 1;
        }
    }

    /// Set the averaged step size once warm-up is over (when it adapted
    /// one and ran at least one iteration).
    pub fn finish<K: Kernel + ?Sized>(&self, kernel: &mut K) {
        if let Some(da) = &self.da {
            if self.n > 0 {
                kernel.set_step_size(da.final_step_size());
            }
        }
    }
}
