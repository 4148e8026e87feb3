//! The one optimizer: Adam and SGD (with momentum) over parameters held
//! as flat f64 buffers, one per parameter tensor. Every engine uses it
//! ([`crate::capability::CapabilityEngine`] on the capabilities' flat
//! parameters; the closed-form PCD engine for its SGD). The arithmetic is
//! that of dfdx's CPU kernels, operation for operation, and the state has
//! one layout ([`OptimizerState`]) in checkpoints.

use crate::error::{config, EstimatorError, Result};
use serde::{Deserialize, Serialize};

/// An optimizer's state, for checkpoints: the step count and, per
/// parameter (in `params_mut` order), its moment buffers as f64 (an
/// empty buffer where the optimizer keeps none: SGD has no second
/// moment).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct OptimizerState {
    /// Updates taken.
    pub steps: usize,
    /// Adam's m, or SGD's momentum buffer.
    pub first: Vec<Vec<f64>>,
    /// Adam's v.
    pub second: Vec<Vec<f64>>,
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
        })
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
    }

    /// The update of this step for the tensors `first..first + params.len()`
    /// of the layout given to [`Optimizer::new`] (the model's parameters,
    /// then an objective's own, updated where they live).
    pub fn update_tensors<P: AsMut<[f64]>>(&mut self, first: usize, params: &mut [P], grads: &[Vec<f64>]) {
        let t = self.t as i32;
        for (k, (p, g)) in params.iter_mut().zip(grads).enumerate() {
            let k = first + k;
            let p = p.as_mut();
            let m1 = &mut self.first[k];
            match self.cfg {
                OptimizerConfig::Adam { lr, betas, eps } => {
                    let m2 = &mut self.second[k];
                    let (c1, c2) = ((1.0 - betas[0].powi(t)).recip(), (1.0 - betas[1].powi(t)).recip());
                    ebm_core::simd::dispatch(
                        #[inline(always)]
                        || {
                            for i in 0..p.len() {
                                let m = m1[i] * betas[0] + g[i] * (1.0 - betas[0]);
                                let v = m2[i] * betas[1] + g[i].powi(2) * (1.0 - betas[1]);
                                let (m_hat, v_hat) = (m * c1, v * c2);
                                p[i] -= lr * m_hat / (v_hat.sqrt() + eps);
                                m1[i] = m;
                                m2[i] = v;
                            }
                        },
                    );
                }
                OptimizerConfig::Sgd { lr, momentum } => {
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
        self.t = state.steps;
        Ok(())
    }
}

/// The Euclidean norm of a gradient given per parameter, the squares
/// summed parameter by parameter, in order.
pub fn grad_norm(grads: &[Vec<f64>]) -> f64 {
    let mut sq = 0.0;
    for g in grads {
        sq += g.iter().map(|v| v * v).sum::<f64>();
    }
    sq.sqrt()
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
                    second: vec![vec![]]
                })
                .is_err());
        }
    }
}
