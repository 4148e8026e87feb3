//! The one optimizer: Adam and SGD (with momentum) over parameters held
//! as flat f64 buffers, one per parameter tensor. Every engine uses it
//! ([`crate::capability::CapabilityEngine`] on the capabilities' flat
//! parameters; the closed-form PCD engine for its SGD). The arithmetic is
//! that of dfdx's CPU kernels, operation for operation, and the state has
//! one layout ([`OptimizerState`]) in checkpoints.

use crate::error::{config, EstimatorError, Result};
use ebm_core::hot_pool::{fork_pays, CHUNK};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

/// An optimizer's state, for checkpoints: the step count and, per
/// parameter (in `params_mut` order), its moment buffers as f64 (an
/// empty buffer where the optimizer keeps none: SGD has no second
/// moment), and the moving average of the parameters when one is kept.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct OptimizerState {
    /// Updates taken.
    pub steps: usize,
    /// Adam's m, or SGD's momentum buffer.
    pub first: Vec<Vec<f64>>,
    /// Adam's v.
    pub second: Vec<Vec<f64>>,
    /// The exponential moving average of the averaged parameters (empty
    /// without [`UpdateRules::ema`]).
    #[serde(default)]
    pub ema: Vec<Vec<f64>>,
}

/// How the learning rate changes after warm-up: the factor s on the base
/// rate at update t' = t - warm-up (t counted from 1), over the H' = H -
/// warm-up updates left of a run of H.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub enum LrSchedule {
    /// s = 1.
    #[default]
    Constant,
    /// Cosine decay to `floor`: s = floor + (1 - floor) (1 + cos(pi t' / H')) / 2.
    Cosine {
        /// The factor at the end of the run, in [0, 1).
        floor: f64,
    },
    /// Step decay: s = gamma^floor(t' / every).
    Step {
        /// Updates between decays (at least 1).
        every: usize,
        /// The factor of each decay, in (0, 1].
        gamma: f64,
    },
}

/// What the optimizer does around its update rule: the learning-rate
/// warm-up and schedule, gradient-norm clipping, decoupled weight decay
/// and an exponential moving average of the parameters. The default does
/// none of them.
///
/// At update t with base rate lr, the rate is lr_t = lr w(t) s(t), with
/// the linear warm-up w(t) = min(1, t / warmup); the gradient g is
/// scaled by min(1, c / |g|) (|g| over every parameter); the decayed
/// parameters shrink first, theta -= lr_t lambda theta (decoupled, as in
/// AdamW: not through Adam's moments); then the update rule with lr_t;
/// the average follows, theta_ema = rho theta_ema + (1 - rho) theta,
/// starting from the parameters after the first update.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct UpdateRules {
    /// The schedule after warm-up.
    pub schedule: LrSchedule,
    /// Warm-up updates (0: none).
    pub warmup: usize,
    /// The largest gradient norm c, if clipped.
    pub clip_grad: Option<f64>,
    /// Decoupled weight decay lambda (0: none).
    pub weight_decay: f64,
    /// The average's rate rho in (0, 1), if one is kept.
    pub ema: Option<f64>,
}

impl UpdateRules {
    /// Whether the rules do nothing (the plain update rule).
    pub fn is_plain(&self) -> bool {
        *self == Self::default()
    }

    /// Check the settings.
    pub fn validate(&self) -> Result<()> {
        match self.schedule {
            LrSchedule::Constant => {}
            LrSchedule::Cosine { floor } => {
                if !(0.0..1.0).contains(&floor) {
                    return Err(config(
                        "lr_schedule",
                        format!("the cosine floor must lie in [0, 1), got {floor}"),
                    ));
                }
            }
            LrSchedule::Step { every, gamma } => {
                if every == 0 || !(gamma > 0.0 && gamma <= 1.0) {
                    return Err(config(
                        "lr_schedule",
                        format!("step decay needs every >= 1 and gamma in (0, 1], got every {every}, gamma {gamma}"),
                    ));
                }
            }
        }
        if let Some(c) = self.clip_grad.filter(|c| !(c.is_finite() && *c > 0.0)) {
            return Err(config(
                "clip_grad",
                format!("must be positive and finite, got {c}"),
            ));
        }
        if !(self.weight_decay.is_finite() && self.weight_decay >= 0.0) {
            return Err(config(
                "weight_decay",
                format!("must be finite and not negative, got {}", self.weight_decay),
            ));
        }
        if let Some(r) = self.ema.filter(|r| !(*r > 0.0 && *r < 1.0)) {
            return Err(config("ema", format!("the rate must lie in (0, 1), got {r}")));
        }
        Ok(())
    }

    /// The factor w(t) s(t) on the base rate at update `t` (from 1) of a
    /// run of `horizon` updates.
    pub fn lr_factor(&self, t: usize, horizon: usize) -> f64 {
        let warm = if self.warmup > 0 && t < self.warmup {
            t as f64 / self.warmup as f64
        } else {
            1.0
        };
        let after = t.saturating_sub(self.warmup);
        let span = horizon.saturating_sub(self.warmup).max(1);
        let s = match self.schedule {
            LrSchedule::Constant => 1.0,
            LrSchedule::Cosine { floor } => {
                let frac = (after as f64 / span as f64).min(1.0);
                floor + (1.0 - floor) * 0.5 * (1.0 + (std::f64::consts::PI * frac).cos())
            }
            LrSchedule::Step { every, gamma } => gamma.powi((after / every.max(1)) as i32),
        };
        warm * s
    }
}

/// Which optimizer, with its settings.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum OptimizerConfig {
    /// Adam (Kingma and Ba): m = b1 m + (1 - b1) g, v = b2 v + (1 - b2) g^2,
    /// theta -= lr m_hat / (sqrt(v_hat) + eps) with bias-corrected m_hat, v_hat.
    Adam {
        /// Learning rate.
        lr: f64,
        /// (b1, b2), default (0.9, 0.999).
        betas: [f64; 2],
        /// eps, default 1e-8.
        eps: f64,
    },
    /// SGD, theta -= lr g, with optional classical momentum mu:
    /// u = mu u + g, theta -= lr u.
    Sgd {
        /// Learning rate.
        lr: f64,
        /// Momentum mu in [0, 1), 0 for none.
        momentum: f64,
    },
}

impl OptimizerConfig {
    /// Adam with the usual defaults and learning rate `lr`.
    pub fn adam(lr: f64) -> Self {
        Self::Adam {
            lr,
            betas: [0.9, 0.999],
            eps: 1e-8,
        }
    }

    /// Plain SGD with learning rate `lr`.
    pub fn sgd(lr: f64) -> Self {
        Self::Sgd { lr, momentum: 0.0 }
    }

    /// The learning rate.
    pub fn lr(&self) -> f64 {
        match self {
            Self::Adam { lr, .. } | Self::Sgd { lr, .. } => *lr,
        }
    }

    /// Check the settings.
    pub fn validate(&self) -> Result<()> {
        let lr = self.lr();
        if !(lr.is_finite() && lr > 0.0) {
            return Err(config("lr", format!("must be positive and finite, got {lr}")));
        }
        match self {
            Self::Adam { betas, eps, .. } => {
                if !betas.iter().all(|b| (0.0..1.0).contains(b)) {
                    return Err(config("betas", format!("must lie in [0, 1), got {betas:?}")));
                }
                if !(eps.is_finite() && *eps > 0.0) {
                    return Err(config("eps", format!("must be positive, got {eps}")));
                }
            }
            Self::Sgd { momentum, .. } => {
                if !(0.0..1.0).contains(momentum) {
                    return Err(config("momentum", format!("must lie in [0, 1), got {momentum}")));
                }
            }
        }
        Ok(())
    }
}

/// An optimizer over a list of parameter buffers, with its moments.
///
/// ```
/// use ebm_estimators::optim::{Optimizer, OptimizerConfig};
/// let mut opt = Optimizer::new(OptimizerConfig::sgd(0.1), &[2]).unwrap();
/// let mut p = vec![vec![1.0, 1.0]];
/// opt.update(&mut p, &[vec![0.5, -2.0]]);
/// assert_eq!(p[0], vec![0.95, 1.2]);
/// ```
#[derive(Clone, Debug)]
pub struct Optimizer {
    cfg: OptimizerConfig,
    t: usize,
    first: Vec<Vec<f64>>,
    second: Vec<Vec<f64>>,
    rules: UpdateRules,
    /// The run's length in updates (for the schedule).
    horizon: usize,
    /// Tensors `0..decayed` take weight decay and the average (the
    /// model's; an objective's own parameters follow them).
    decayed: usize,
    /// The learning rate of the current update.
    lr_t: f64,
    ema: Vec<Vec<f64>>,
}

impl Optimizer {
    /// An optimizer for parameters of the given lengths, moments at zero.
    pub fn new(cfg: OptimizerConfig, lens: &[usize]) -> Result<Self> {
        cfg.validate()?;
        let adam = matches!(cfg, OptimizerConfig::Adam { .. });
        Ok(Self {
            cfg,
            t: 0,
            first: lens.iter().map(|&n| vec![0.0; n]).collect(),
            second: lens
                .iter()
                .map(|&n| if adam { vec![0.0; n] } else { Vec::new() })
                .collect(),
            rules: UpdateRules::default(),
            horizon: 0,
            decayed: lens.len(),
            lr_t: cfg.lr(),
            ema: Vec::new(),
        })
    }

    /// The same optimizer with `rules` around its update, for a run of
    /// `horizon` updates whose first `decayed` tensors are the model's
    /// (decayed and averaged).
    pub fn with_rules(mut self, rules: UpdateRules, horizon: usize, decayed: usize) -> Result<Self> {
        rules.validate()?;
        self.rules = rules;
        self.horizon = horizon;
        self.decayed = decayed.min(self.first.len());
        Ok(self)
    }

    /// The update rule and its settings.
    pub fn config(&self) -> &OptimizerConfig {
        &self.cfg
    }

    /// The rules around the update.
    pub fn rules(&self) -> &UpdateRules {
        &self.rules
    }

    /// Scale `grads` (every tensor, the norm `norm` over all of them) to
    /// the clipping norm when they exceed it; whether they were scaled.
    pub fn clip(&self, grads: &mut [Vec<f64>], norm: f64) -> bool {
        match self.rules.clip_grad {
            Some(c) if norm > c => {
                let scale = c / norm;
                grads.iter_mut().flatten().for_each(|g| *g *= scale);
                true
            }
            _ => false,
        }
    }

    /// Blend the model's tensors `params` (the first `decayed`) into the
    /// moving average, when one is kept (the first call copies them).
    pub fn average(&mut self, params: &[Vec<f64>]) {
        let Some(rho) = self.rules.ema else { return };
        if self.ema.is_empty() {
            self.ema = params.to_vec();
            return;
        }
        for (e, p) in self.ema.iter_mut().zip(params) {
            for (a, &b) in e.iter_mut().zip(p) {
                *a = rho * *a + (1.0 - rho) * b;
            }
        }
    }

    /// The moving average of the model's tensors, when one is kept and
    /// has started.
    pub fn averaged(&self) -> Option<&[Vec<f64>]> {
        (self.rules.ema.is_some() && !self.ema.is_empty()).then_some(&self.ema[..])
    }

    /// Updates taken.
    pub fn steps(&self) -> usize {
        self.t
    }

    /// One update of every parameter from its gradient:
    ///
    /// Adam: m = b1 m + (1 - b1) g, v = b2 v + (1 - b2) g^2,
    /// p -= lr m/(1 - b1^t) / (sqrt(v/(1 - b2^t)) + eps);
    /// SGD: u = g + mu u, p -= lr u (u = g without momentum).
    pub fn update<P: AsMut<[f64]>>(&mut self, params: &mut [P], grads: &[Vec<f64>]) {
        self.begin_step();
        self.update_tensors(0, params, grads);
    }

    /// Count one more step (the bias corrections of Adam use the count);
    /// then [`Optimizer::update_tensors`] for each part of the parameters.
    pub fn begin_step(&mut self) {
        self.t += 1;
        self.lr_t = self.cfg.lr() * self.rules.lr_factor(self.t, self.horizon);
    }

    /// The update of this step for the tensors `first..first + params.len()`
    /// of the layout given to [`Optimizer::new`] (the model's parameters,
    /// then an objective's own, updated where they live).
    pub fn update_tensors<P: AsMut<[f64]>>(&mut self, first: usize, params: &mut [P], grads: &[Vec<f64>]) {
        let t = self.t as i32;
        let lr = self.lr_t;
        for (k, (p, g)) in params.iter_mut().zip(grads).enumerate() {
            let k = first + k;
            let p = p.as_mut();
            if k < self.decayed && self.rules.weight_decay > 0.0 {
                let shrink = 1.0 - lr * self.rules.weight_decay;
                p.iter_mut().for_each(|v| *v *= shrink);
            }
            let m1 = &mut self.first[k];
            match self.cfg {
                OptimizerConfig::Adam { betas, eps, .. } => {
                    let m2 = &mut self.second[k];
                    let adam = AdamStep {
                        betas,
                        eps,
                        lr,
                        c1: (1.0 - betas[0].powi(t)).recip(),
                        c2: (1.0 - betas[1].powi(t)).recip(),
                    };
                    debug_assert!(g.len() == p.len() && m1.len() == p.len() && m2.len() == p.len());
                    // each value on its own: in a hot pool a large tensor's
                    // update is split over the workers, with the same bits
                    if fork_pays(p.len()) {
                        p.par_chunks_mut(CHUNK)
                            .zip(g.par_chunks(CHUNK))
                            .zip(m1.par_chunks_mut(CHUNK).zip(m2.par_chunks_mut(CHUNK)))
                            .for_each(|((p, g), (m1, m2))| adam.apply(p, g, m1, m2));
                    } else {
                        adam.apply(p, g, m1, m2);
                    }
                }
                OptimizerConfig::Sgd { momentum, .. } => {
                    for i in 0..p.len() {
                        let step = if momentum > 0.0 {
                            m1[i] = g[i] + momentum * m1[i];
                            m1[i] * lr
                        } else {
                            g[i] * lr
                        };
                        p[i] -= step;
                    }
                }
            }
        }
    }

    /// The state for a checkpoint (SGD keeps empty second moments, and
    /// empty first moments without momentum, as the dfdx optimizer does).
    pub fn state(&self) -> OptimizerState {
        let sgd_plain = matches!(self.cfg, OptimizerConfig::Sgd { momentum, .. } if momentum == 0.0);
        OptimizerState {
            steps: self.t,
            first: if sgd_plain {
                self.first.iter().map(|_| Vec::new()).collect()
            } else {
                self.first.clone()
            },
            second: self.second.clone(),
            ema: self.ema.clone(),
        }
    }

    /// Continue from a checkpointed state.
    pub fn restore(&mut self, state: &OptimizerState) -> Result<()> {
        let n = self.first.len();
        if state.first.len() != n || state.second.len() != n {
            return Err(EstimatorError::Checkpoint(format!(
                "the optimizer state covers {} parameters, the model has {n}",
                state.first.len()
            )));
        }
        let adam = matches!(self.cfg, OptimizerConfig::Adam { .. });
        for (k, (f, s)) in state.first.iter().zip(&state.second).enumerate() {
            let len = self.first[k].len();
            if !(f.is_empty() || f.len() == len) || !(s.is_empty() || s.len() == len) {
                return Err(EstimatorError::Checkpoint(format!(
                    "an optimizer buffer has {} values for a parameter of {len}",
                    f.len().max(s.len())
                )));
            }
            self.first[k] = if f.is_empty() { vec![0.0; len] } else { f.clone() };
            if adam {
                self.second[k] = if s.is_empty() { vec![0.0; len] } else { s.clone() };
            }
        }
        if !state.ema.is_empty()
            && (state.ema.len() > n || state.ema.iter().zip(&self.first).any(|(e, f)| e.len() != f.len()))
        {
            return Err(EstimatorError::Checkpoint(
                "the parameters' moving average does not fit the model".into(),
            ));
        }
        self.ema = state.ema.clone();
        self.t = state.steps;
        self.lr_t = self.cfg.lr() * self.rules.lr_factor(self.t.max(1), self.horizon);
        Ok(())
    }
}

/// One Adam update's constants: the rate, the moments' decays, eps and
/// the bias corrections c1 = 1/(1 - b1^t), c2 = 1/(1 - b2^t).
#[derive(Clone, Copy)]
struct AdamStep {
    betas: [f64; 2],
    eps: f64,
    lr: f64,
    c1: f64,
    c2: f64,
}

impl AdamStep {
    /// m = b1 m + (1 - b1) g, v = b2 v + (1 - b2) g^2,
    /// p -= lr (c1 m) / (sqrt(c2 v) + eps), value by value.
    fn apply(self, p: &mut [f64], g: &[f64], m1: &mut [f64], m2: &mut [f64]) {
        let Self {
            betas,
            eps,
            lr,
            c1,
            c2,
        } = self;
        // zipped slices, so the loop has no bounds checks and vectorises;
        // indexed, it stayed scalar, and its divisions and roots were half
        // of W5's serial time
        ebm_core::simd::dispatch(
            #[inline(always)]
            || {
                let moments = m1.iter_mut().zip(m2.iter_mut());
                for ((p, &g), (m1, m2)) in p.iter_mut().zip(g).zip(moments) {
                    let m = *m1 * betas[0] + g * (1.0 - betas[0]);
                    let v = *m2 * betas[1] + g.powi(2) * (1.0 - betas[1]);
                    let (m_hat, v_hat) = (m * c1, v * c2);
                    *p -= lr * m_hat / (v_hat.sqrt() + eps);
                    *m1 = m;
                    *m2 = v;
                }
            },
        );
    }
}

/// The Euclidean norm of a gradient given per parameter: each tensor's
/// sum of squares in eight lanes ([`ebm_core::simd::sum_squares`]: value
/// i in lane i mod 8, fused multiply-adds, the same bits on every
/// machine), the tensors' sums added in order. A single running sum had
/// made the norm a sixth of W5's serial time (16 k dependent additions).
pub fn grad_norm(grads: &[Vec<f64>]) -> f64 {
    grads
        .iter()
        .fold(0.0, |sq, g| sq + ebm_core::simd::sum_squares(g))
        .sqrt()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn adam_and_sgd_match_their_formulas_and_round_trip() {
        let g = vec![vec![0.5, -2.0], vec![1e-3]];
        for cfg in [
            OptimizerConfig::adam(0.1),
            OptimizerConfig::Sgd {
                lr: 0.1,
                momentum: 0.9,
            },
            OptimizerConfig::sgd(0.1),
        ] {
            let mut opt = Optimizer::new(cfg, &[2, 1]).unwrap();
            let mut p = vec![vec![1.0, 1.0], vec![0.0]];
            opt.update(&mut p, &g);
            match cfg {
                // the first Adam step moves each parameter by lr sign(g) (up to eps)
                OptimizerConfig::Adam { .. } => {
                    assert!((p[0][0] - 0.9).abs() < 1e-7 && (p[0][1] - 1.1).abs() < 1e-7);
                    assert!((p[1][0] + 0.1).abs() < 1e-5);
                }
                _ => assert_eq!(p[0], vec![1.0 - 0.05, 1.0 + 0.2]),
            }
            let state = opt.state();
            let mut again = Optimizer::new(cfg, &[2, 1]).unwrap();
            again.restore(&state).unwrap();
            let (mut p1, mut p2) = (p.clone(), p.clone());
            opt.update(&mut p1, &g);
            again.update(&mut p2, &g);
            assert_eq!(p1, p2);
            assert!(again
                .restore(&OptimizerState {
                    steps: 1,
                    first: vec![vec![]],
                    second: vec![vec![]],
                    ema: vec![],
                })
                .is_err());
        }
    }

    /// A tensor large enough to be split over a hot pool's workers gets
    /// the same bits as when updated in one piece.
    #[test]
    fn adam_split_over_workers_is_the_same_bits() {
        let n = 3 * CHUNK + 17;
        let g: Vec<Vec<f64>> = vec![(0..n).map(|i| ((i * 7919) % 1013) as f64 / 97.0 - 5.0).collect()];
        let run = |threads: usize| {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap();
            pool.install(|| {
                ebm_core::hot_pool::with_hot_pool(|| {
                    assert_eq!(fork_pays(n), threads > 1);
                    let mut opt = Optimizer::new(OptimizerConfig::adam(1e-2), &[n]).unwrap();
                    let mut p = vec![vec![0.5; n]];
                    for _ in 0..3 {
                        opt.update(&mut p, &g);
                    }
                    (p, opt.state())
                })
            })
        };
        assert_eq!(run(2), run(1));
    }

    /// The norm in eight running sums: the exact value where every
    /// partial sum is exact, and within rounding of a long sum otherwise.
    #[test]
    fn gradient_norm_in_lanes() {
        assert_eq!(grad_norm(&[vec![3.0], vec![], vec![4.0]]), 5.0);
        assert_eq!(
            grad_norm(&[vec![1.0; 16], vec![2.0; 3], vec![0.0; 5]]),
            28f64.sqrt()
        );
        let g: Vec<Vec<f64>> = (1..5)
            .map(|t| (0..1000 * t + 3).map(|i| (i as f64 * 0.37).sin()).collect())
            .collect();
        let long: f64 = g.iter().flatten().map(|v| v * v).sum::<f64>().sqrt();
        assert!((grad_norm(&g) - long).abs() < 1e-12 * long);
    }

    /// The rate's factor: linear warm-up, then cosine to its floor or
    /// step decay; clipping scales to the norm; decoupled decay shrinks
    /// by lr lambda before the rule; the average blends at rho; bad
    /// settings are refused by name.
    #[test]
    fn rules_around_the_update() {
        let cosine = UpdateRules {
            schedule: LrSchedule::Cosine { floor: 0.2 },
            warmup: 4,
            ..UpdateRules::default()
        };
        assert_eq!(cosine.lr_factor(1, 104), 0.25);
        assert_eq!(cosine.lr_factor(4, 104), 1.0);
        assert!((cosine.lr_factor(54, 104) - 0.6).abs() < 1e-12);
        assert!((cosine.lr_factor(104, 104) - 0.2).abs() < 1e-12);
        let step = UpdateRules {
            schedule: LrSchedule::Step {
                every: 10,
                gamma: 0.5,
            },
            ..UpdateRules::default()
        };
        assert_eq!(
            (
                step.lr_factor(9, 100),
                step.lr_factor(10, 100),
                step.lr_factor(25, 100)
            ),
            (1.0, 0.5, 0.25)
        );
        let rules = UpdateRules {
            clip_grad: Some(1.0),
            weight_decay: 0.1,
            ema: Some(0.5),
            ..UpdateRules::default()
        };
        let mut opt = Optimizer::new(OptimizerConfig::sgd(0.5), &[2, 1])
            .unwrap()
            .with_rules(rules, 10, 1)
            .unwrap();
        let mut g = vec![vec![3.0, 4.0], vec![0.0]];
        let norm = grad_norm(&g);
        assert!(opt.clip(&mut g, norm));
        let near = |a: &[f64], b: &[f64]| a.iter().zip(b).all(|(x, y)| (x - y).abs() < 1e-12);
        assert!(near(&g[0], &[0.6, 0.8]), "{g:?}");
        let mut p = vec![vec![1.0, 1.0], vec![1.0]];
        opt.update(&mut p, &g);
        // (1 - 0.5 * 0.1) * 1 - 0.5 * g on the model's tensor; the objective's not decayed
        assert!(near(&p[0], &[0.95 - 0.3, 0.95 - 0.4]), "{p:?}");
        assert_eq!(p[1], vec![1.0]);
        opt.average(&p[..1]);
        opt.average(&[vec![1.65, 1.55]]);
        assert!(near(&opt.averaged().unwrap()[0], &[1.15, 1.05]));
        for (bad, field) in [
            (
                UpdateRules {
                    ema: Some(1.0),
                    ..UpdateRules::default()
                },
                "ema",
            ),
            (
                UpdateRules {
                    weight_decay: -1.0,
                    ..UpdateRules::default()
                },
                "weight_decay",
            ),
            (
                UpdateRules {
                    clip_grad: Some(0.0),
                    ..UpdateRules::default()
                },
                "clip_grad",
            ),
            (
                UpdateRules {
                    schedule: LrSchedule::Step { every: 0, gamma: 0.5 },
                    ..UpdateRules::default()
                },
                "lr_schedule",
            ),
        ] {
            assert!(
                bad.validate().unwrap_err().to_string().starts_with(field),
                "{bad:?}"
            );
        }
    }
}
