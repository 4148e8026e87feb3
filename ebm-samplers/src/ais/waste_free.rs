//! Waste-free SMC moves (Dau and Chopin 2022). Standard SMC resamples N
//! particles and moves each by k kernel steps, keeping only the last
//! state of each. Waste-free SMC resamples M = N / P ancestors and runs
//! each for P - 1 kernel steps, keeping every state: the N particles are
//! the M chains' P states each,
//!
//! {x_m^(0), x_m^(1), ..., x_m^(P-1)},  m = 1..M,
//!
//! all weighted equally at the next temperature. The estimate keeps its
//! form, log Z += log mean_n w_n over all N, and stays unbiased for Z (on
//! a fixed schedule); the intermediate states that standard SMC throws
//! away count, so at the same number of kernel steps the particles are
//! more numerous and less correlated with their ancestors. The chains'
//! states are correlated with each other, so the weights' ESS overstates
//! their information; SMC therefore resamples at every temperature.

use crate::chains::Chains;
use crate::error::Result;
use crate::kernel::{Kernel, StepStats, StepTotals};
use crate::target::Target;
use ebm_core::{ChainRng, Points};

/// Replace the `chains` (N particles, log-weights `log_w`) by the states
/// of M = N / `length` chains of `length` states each, started from
/// ancestors drawn by systematic resampling at the uniform `u` and moved
/// by `kernel` on `t` with the first M streams of `rngs`; energies and
/// gradients are current at `t` afterwards. The kernel's statistics of
/// its `length - 1` steps.
pub(super) fn waste_free_move(
    kernel: &dyn Kernel,
    t: Target<'_>,
    chains: &mut Chains,
    log_w: &[f64],
    rngs: &mut [ChainRng],
    u: f64,
    length: usize,
) -> Result<Vec<StepStats>> {
    let (n, d) = (chains.len(), chains.dim());
    let m = n / length;
    let ancestors = super::smc::systematic(log_w, m, u);
    let x = chains.x.as_slice();
    let starts: Vec<f64> = ancestors
        .iter()
        .flat_map(|&a| x[a * d..(a + 1) * d].iter().copied())
        .collect();
    let mut walkers = Chains::for_target(t, Points::from_vec(starts.clone(), d)?)?;
    let steps = length - 1;
    let mut record = vec![0.0; steps * m * d];
    let (mut divergences, mut acceptance) = (vec![0; m], vec![0.0; m]);
    let totals = StepTotals {
        divergences: &mut divergences,
        acceptance: &mut acceptance,
        record: Some(&mut record),
    };
    let stats = walkers.run_kernel(kernel, t, &mut rngs[..m], steps, Some(totals));
    let x = chains.x.as_mut_slice();
    for j in 0..m {
        let first = j * length;
        x[first * d..(first + 1) * d].copy_from_slice(&starts[j * d..(j + 1) * d]);
        for p in 1..length {
            let from = ((p - 1) * m + j) * d;
            x[(first + p) * d..(first + p + 1) * d].copy_from_slice(&record[from..from + d]);
        }
    }
    if let Target::Continuous(e) = t {
        chains.refresh(e);
    }
    Ok(stats)
}
