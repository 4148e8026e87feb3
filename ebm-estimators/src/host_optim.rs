//! Adam and SGD on parameters held in host buffers (f64), for the host
//! engines ([`crate::engine`]). The arithmetic is that of dfdx's CPU
//! kernels, operation for operation, so a host engine and the dfdx path
//! take the same step from the same gradient; the state has the same
//! layout ([`OptimizerState`]) in checkpoints.

use crate::error::{EstimatorError, Result};
use crate::optim::{OptimizerConfig, OptimizerState};

/// An optimizer over a list of parameter buffers, with its moments.
#[derive(Clone, Debug)]
pub struct HostOptimizer {
    cfg: OptimizerConfig,
    t: usize,
    first: Vec<Vec<f64>>,
    second: Vec<Vec<f64>>,
}

impl HostOptimizer {
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
    pub fn update(&mut self, params: &mut [Vec<f64>], grads: &[Vec<f64>]) {
        self.t += 1;
        let t = self.t as i32;
        for (k, (p, g)) in params.iter_mut().zip(grads).enumerate() {
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
            let mut opt = HostOptimizer::new(cfg, &[2, 1]).unwrap();
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
            let mut again = HostOptimizer::new(cfg, &[2, 1]).unwrap();
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
