//! What each chain of a chunk did in each step of a run of steps, for
//! kernels whose chains run ahead of one another
//! ([`crate::Kernel::step_chunk_run`]).

use crate::chains::ChunkMut;

/// A chunk's run of `n` steps, chain by chain: chain `k`'s acceptance
/// probability, divergence, gradient evaluations and figures of step `t`
/// (and its position after it, when the run records states), so that
/// [`crate::Chains::run_kernel`] can total the steps in step order once
/// every chain is done, as if the chunk had stepped in lock-step.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ChainSteps {
    n: usize,
    d: usize,
    figures: usize,
    accept: Vec<f64>,
    divergent: Vec<bool>,
    grad_evals: Vec<u32>,
    figure_values: Vec<f64>,
    states: Vec<f64>,
}

/// One chain's share of a [`ChainSteps`]: where its steps report.
#[derive(Debug)]
pub struct ChainStepsMut<'a> {
    d: usize,
    figures: usize,
    accept: &'a mut [f64],
    divergent: &'a mut [bool],
    grad_evals: &'a mut [u32],
    figure_values: &'a mut [f64],
    states: &'a mut [f64],
}

impl ChainSteps {
    /// Room for `n` steps of `chains` chains of dimension `d`, with
    /// `figures` kernel figures a chain and step; the positions after each
    /// step are kept when `record_states`.
    pub fn new(n: usize, chains: usize, d: usize, figures: usize, record_states: bool) -> Self {
        let m = n * chains;
        Self {
            n,
            d,
            figures,
            accept: vec![0.0; m],
            divergent: vec![false; m],
            grad_evals: vec![0; m],
            figure_values: vec![0.0; m * figures],
            states: vec![0.0; if record_states { m * d } else { 0 }],
        }
    }

    /// Steps in the run.
    pub fn steps(&self) -> usize {
        self.n
    }

    /// Each chain's share, in chain order.
    pub fn chains_mut(&mut self) -> impl Iterator<Item = ChainStepsMut<'_>> {
        let (n, d, f) = (self.n.max(1), self.d, self.figures);
        // without figures or states, each chain's share of them is empty
        let states =
            (self.states.chunks_mut((n * d).max(1))).chain(std::iter::repeat_with(<&mut [f64]>::default));
        self.accept
            .chunks_mut(n)
            .zip(self.divergent.chunks_mut(n))
            .zip(self.grad_evals.chunks_mut(n))
            .zip(
                self.figure_values
                    .chunks_mut((n * f).max(1))
                    .chain(std::iter::repeat_with(<&mut [f64]>::default)),
            )
            .zip(states)
            .map(
                move |((((accept, divergent), grad_evals), figure_values), states)| ChainStepsMut {
                    d,
                    figures: f,
                    accept,
                    divergent,
                    grad_evals,
                    figure_values,
                    states,
                },
            )
    }

    /// Put step `t`'s per-chain outcomes in the chunk's fields (as if the
    /// chunk had just taken that step alone).
    pub fn load_step(&self, t: usize, c: &mut ChunkMut<'_>) {
        let (n, f) = (self.n, self.figures);
        for k in 0..c.len() {
            c.accept[k] = self.accept[k * n + t];
            c.divergent[k] = self.divergent[k * n + t];
            c.grad_evals[k] = self.grad_evals[k * n + t];
            c.figures[k * f..(k + 1) * f]
                .copy_from_slice(&self.figure_values[(k * n + t) * f..(k * n + t + 1) * f]);
        }
    }

    /// The positions after step `t`, chain after chain, into `out` (when
    /// the run records states; otherwise `out` is left as it is).
    pub fn copy_states(&self, t: usize, out: &mut [f64]) {
        if self.states.is_empty() {
            return;
        }
        let (n, d) = (self.n, self.d);
        for (k, row) in out.chunks_mut(d.max(1)).enumerate() {
            row.copy_from_slice(&self.states[(k * n + t) * d..(k * n + t + 1) * d]);
        }
    }

    /// Record step `t` of every chain from the chunk's fields after it
    /// (its position too, when states are recorded).
    pub fn store_step(&mut self, t: usize, c: &ChunkMut<'_>) {
        let (n, d, f) = (self.n, self.d, self.figures);
        for k in 0..c.len() {
            let i = k * n + t;
            self.accept[i] = c.accept[k];
            self.divergent[i] = c.divergent[k];
            self.grad_evals[i] = c.grad_evals[k];
            self.figure_values[i * f..(i + 1) * f].copy_from_slice(&c.figures[k * f..(k + 1) * f]);
            if !self.states.is_empty() {
                self.states[i * d..(i + 1) * d].copy_from_slice(&c.x[k * d..(k + 1) * d]);
            }
        }
    }
}

impl ChainStepsMut<'_> {
    /// Steps in the run.
    pub fn steps(&self) -> usize {
        self.accept.len()
    }

    /// Step `t` of this chain: its acceptance probability, whether it
    /// diverged, its gradient evaluations, its figures and the position
    /// it left the chain at (kept only when the run records states).
    ///
    /// # Panics
    ///
    /// When `t` is not a step of the run, or `figures` (or a recorded
    /// `x`) does not have the log's length.
    pub fn set(
        &mut self,
        t: usize,
        accept: f64,
        divergent: bool,
        grad_evals: u32,
        figures: &[f64],
        x: &[f64],
    ) {
        self.accept[t] = accept;
        self.divergent[t] = divergent;
        self.grad_evals[t] = grad_evals;
        let f = self.figures;
        self.figure_values[t * f..(t + 1) * f].copy_from_slice(figures);
        if !self.states.is_empty() {
            self.states[t * self.d..(t + 1) * self.d].copy_from_slice(x);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chains::Scratch;
    use crate::target::Target;
    use crate::{Kernel, Nuts};
    use ebm_core::energies::Gaussian;
    use ebm_core::Energy;

    /// NUTS through the trait's default run of steps: one `step_chunk`
    /// after another.
    struct StepByStep(Nuts);

    impl Kernel for StepByStep {
        fn name(&self) -> &'static str {
            "nuts step by step"
        }
        fn figures(&self) -> &'static [&'static str] {
            self.0.figures()
        }
        fn step_chunk(&self, target: Target<'_>, chunk: &mut ChunkMut<'_>, scratch: &mut Scratch) {
            self.0.step_chunk(target, chunk, scratch)
        }
    }

    /// `n` steps of 6 chains in 5-D by `kernel.step_chunk_run`: the log
    /// and the final positions.
    fn run_of(kernel: &dyn Kernel, g: &Gaussian, n: usize) -> (ChainSteps, Vec<f64>) {
        let (m, d) = (6, 5);
        let mut x: Vec<f64> = (0..m * d).map(|i| (i as f64 * 0.37).sin()).collect();
        let (mut grad, mut energy) = (vec![0.0; m * d], vec![0.0; m]);
        g.energy_grad_batch(&x, &mut grad, &mut energy);
        let mut rngs = ebm_core::rng::chain_rngs(7, m);
        let (mut accept, mut divergent, mut grad_evals) = (vec![0.0; m], vec![false; m], vec![0; m]);
        let (mut figures, mut evals_total, mut figures_total) =
            (vec![0.0; 2 * m], vec![0; m], vec![0.0; 2 * m]);
        let mut c = ChunkMut {
            d,
            first: 0,
            x: &mut x,
            grad: &mut grad,
            energy: &mut energy,
            accept: &mut accept,
            divergent: &mut divergent,
            grad_evals: &mut grad_evals,
            figures: &mut figures,
            rngs: &mut rngs,
            steps_left: 0,
            evals_total: &mut evals_total,
            figures_total: &mut figures_total,
        };
        let mut log = ChainSteps::new(n, m, d, 2, true);
        kernel.step_chunk_run(Target::Continuous(g), &mut c, &mut Scratch::default(), &mut log);
        (log, x)
    }

    /// NUTS's own run of steps (chains running ahead in lock-step groups
    /// of four and two) logs every chain's every step, position included,
    /// exactly as the default does step by step; and a step loaded back
    /// puts the chain's figures where `step_chunk` would.
    #[test]
    fn a_run_ahead_logs_what_steps_one_by_one_log() {
        let mut cov = vec![0.0; 25];
        for i in 0..5 {
            cov[i * 5 + i] = 1.0 + i as f64;
        }
        cov[1] = 0.4;
        cov[5] = 0.4;
        let g = Gaussian::from_covariance(vec![0.5; 5], &cov).unwrap();
        assert_eq!(g.points_at_once(), 4);
        let nuts = Nuts::new(0.4).unwrap();
        assert!(nuts.runs_chains_ahead());
        let (ahead, x) = run_of(&nuts, &g, 9);
        let (by_step, x_by_step) = run_of(&StepByStep(nuts), &g, 9);
        assert!(ahead == by_step && x == x_by_step);
        assert!(ahead.states.iter().all(|v| v.is_finite()));
        assert_eq!(&ahead.states[(3 * 9 + 8) * 5..(3 * 9 + 9) * 5], &x[15..20]);
        assert!(ahead.grad_evals.iter().all(|&g| g >= 1));
        for (i, (&f, &g)) in ahead
            .figure_values
            .iter()
            .skip(1)
            .step_by(2)
            .zip(&ahead.grad_evals)
            .enumerate()
        {
            assert_eq!(f, g as f64, "step {i}: the leapfrog figure is the gradient count");
        }
    }

    /// A kernel without figures, and a log without states: each chain's
    /// share still has its steps, and what a chain sets comes back at its
    /// step.
    #[test]
    fn shares_without_figures_or_states() {
        let mut log = ChainSteps::new(3, 4, 2, 0, false);
        let shares: Vec<_> = log.chains_mut().collect();
        assert_eq!(shares.len(), 4);
        assert!(shares
            .iter()
            .all(|c| c.steps() == 3 && c.figure_values.is_empty() && c.states.is_empty()));
        drop(shares);
        for (k, mut c) in log.chains_mut().enumerate() {
            c.set(1, k as f64 / 4.0, k == 2, k as u32 + 1, &[], &[9.0, 9.0]);
        }
        assert_eq!(
            log.accept,
            [0.0, 0.0, 0.0, 0.0, 0.25, 0.0, 0.0, 0.5, 0.0, 0.0, 0.75, 0.0]
        );
        assert_eq!(log.divergent.iter().filter(|&&d| d).count(), 1);
        assert!(log.divergent[2 * 3 + 1]);
        assert_eq!(log.grad_evals[3 * 3 + 1], 4);
    }
}
