//! Adam and SGD on a model's parameters, through dfdx's optimizer kernels.
//!
//! dfdx's `Optimizer` types walk a module through its compile-time-shaped
//! `TensorCollection`; our models have runtime widths, so this module runs
//! the same dfdx kernels (`AdamConfig::try_update`, `SgdConfig::try_update`)
//! over [`TrainableEnergy::params_mut`] itself, keeping the moment buffers
//! by parameter id.

use crate::error::{config, EstimatorError, Result};
use crate::trainable::{Backend, ParamMut, Real};
use dfdx::prelude::*;
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

/// An optimizer with its state (step count, moment buffers).
pub struct Optimizer<F: Real, D: Backend<F>> {
    cfg: OptimizerConfig,
    t: i32,
    first: Gradients<F, D>,
    second: Gradients<F, D>,
}

impl<F: Real, D: Backend<F>> Optimizer<F, D> {
    /// A fresh optimizer (zero moments).
    pub fn new(cfg: OptimizerConfig) -> Result<Self> {
        cfg.validate()?;
        Ok(Self {
            cfg,
            t: 0,
            first: Gradients::leaky(),
            second: Gradients::leaky(),
        })
    }

    /// The configuration.
    pub fn config(&self) -> &OptimizerConfig {
        &self.cfg
    }

    /// Steps taken so far.
    pub fn steps(&self) -> usize {
        self.t as usize
    }

    /// The state to checkpoint, read for `params` (the same list, in the
    /// same order, that [`Optimizer::update`] receives).
    pub fn state(&mut self, params: &mut [ParamMut<'_, F, D>]) -> Result<OptimizerState> {
        let adam = matches!(self.cfg, OptimizerConfig::Adam { .. });
        let mut first = Vec::with_capacity(params.len());
        let mut second = Vec::with_capacity(params.len());
        for p in params.iter() {
            first.push(read_buffer(&mut self.first, p)?);
            second.push(if adam {
                read_buffer(&mut self.second, p)?
            } else {
                Vec::new()
            });
        }
        Ok(OptimizerState {
            steps: self.t as usize,
            first,
            second,
        })
    }

    /// Continue from a checkpointed `state`: the moments are attached to
    /// `params` (which may be new tensors holding the checkpointed values).
    pub fn restore(&mut self, params: &mut [ParamMut<'_, F, D>], state: &OptimizerState) -> Result<()> {
        let n = params.len();
        if state.first.len() != n || state.second.len() != n {
            return Err(EstimatorError::Checkpoint(format!(
                "the optimizer state covers {} parameters, the model and objective have {n}",
                state.first.len()
            )));
        }
        self.t = i32::try_from(state.steps).map_err(|_| {
            EstimatorError::Checkpoint(format!("optimizer step count {} is too large", state.steps))
        })?;
        self.first = holding(params, &state.first)?;
        self.second = holding(params, &state.second)?;
        Ok(())
    }

    /// The Euclidean norm of the gradient over `params`.
    pub fn grad_norm(params: &mut [ParamMut<'_, F, D>], grads: &mut Gradients<F, D>) -> f64 {
        let mut sq = 0.0;
        for p in params.iter_mut() {
            let g = match p {
                ParamMut::Vector(t) => grads
                    .get_or_alloc_mut(&**t)
                    .is_ok()
                    .then(|| grads.get(&**t).as_vec()),
                ParamMut::Matrix(t) => grads
                    .get_or_alloc_mut(&**t)
                    .is_ok()
                    .then(|| grads.get(&**t).as_vec()),
            };
            if let Some(g) = g {
                sq += g.iter().map(|v| v.f64() * v.f64()).sum::<f64>();
            }
        }
        sq.sqrt()
    }

    /// One update of every parameter from `grads` (parameters that took no
    /// part in the loss get a zero gradient).
    pub fn update(&mut self, params: Vec<ParamMut<'_, F, D>>, grads: &mut Gradients<F, D>) -> Result<()> {
        self.t += 1;
        for p in params {
            match p {
                ParamMut::Vector(t) => self.update_one(t, grads),
                ParamMut::Matrix(t) => self.update_one(t, grads),
            }
            .map_err(|e| config("optimizer", format!("{e:?}")))?;
        }
        Ok(())
    }

    fn update_one<S: Shape>(
        &mut self,
        param: &mut Tensor<S, F, D>,
        grads: &mut Gradients<F, D>,
    ) -> std::result::Result<(), D::Err> {
        // A key with the parameter's id; dropped before the update so the
        // parameter's buffer is not shared (no copy-on-write).
        let key = param.clone();
        let g = grads.get_or_alloc_mut(&key)?;
        let m1 = self.first.get_or_alloc_mut(&key)?;
        drop(key);
        match self.cfg {
            OptimizerConfig::Adam { lr, betas, eps } => {
                let m2 = self.second.get_or_alloc_mut(&*param)?;
                let cfg = AdamConfig {
                    lr,
                    betas,
                    eps,
                    weight_decay: None,
                };
                cfg.try_update(self.t, param, m1, m2, g)
            }
            OptimizerConfig::Sgd { lr, momentum } => {
                let cfg = SgdConfig {
                    lr,
                    momentum: (momentum > 0.0).then_some(Momentum::Classic(momentum)),
                    weight_decay: None,
                };
                cfg.try_update(param, m1, g)
            }
        }
    }
}

/// One moment buffer of `p` as f64 (zeros if the optimizer has not
/// touched `p` yet).
fn read_buffer<F: Real, D: Backend<F>>(
    store: &mut Gradients<F, D>,
    p: &ParamMut<'_, F, D>,
) -> Result<Vec<f64>> {
    let alloc = |e: D::Err| config("optimizer", format!("{e:?}"));
    let values = match p {
        ParamMut::Vector(t) => {
            store.get_or_alloc_mut(&**t).map_err(alloc)?;
            store.get(&**t).as_vec()
        }
        ParamMut::Matrix(t) => {
            store.get_or_alloc_mut(&**t).map_err(alloc)?;
            store.get(&**t).as_vec()
        }
    };
    Ok(values.into_iter().map(Real::f64).collect())
}

/// A moment store whose buffer for each of `params` holds `values`.
///
/// dfdx offers no way to write a device buffer inside `Gradients`
/// directly, so this lets autodiff do it: the gradient of
/// `sum(p * c)` with respect to `p` is `c`, exactly (each entry is
/// 0 + 1 * c). The store also keeps buffers for the temporaries `p * c`
/// and the sums; they are never looked up. Empty `values` entries are
/// skipped.
fn holding<F: Real, D: Backend<F>>(
    params: &mut [ParamMut<'_, F, D>],
    values: &[Vec<f64>],
) -> Result<Gradients<F, D>> {
    let mut grads = Gradients::leaky();
    for (p, v) in params.iter().zip(values) {
        if v.is_empty() {
            continue;
        }
        if v.len() != p.len() {
            return Err(EstimatorError::Checkpoint(format!(
                "an optimizer buffer has {} values for a parameter of shape {:?}",
                v.len(),
                p.shape()
            )));
        }
        let host: Vec<F> = v.iter().map(|&x| F::of(x)).collect();
        grads = match p {
            ParamMut::Vector(t) => {
                let c = t.device().tensor_from_vec(host, *t.shape());
                (t.trace(grads) * c).sum::<(), _>().backward()
            }
            ParamMut::Matrix(t) => {
                let c = t.device().tensor_from_vec(host, *t.shape());
                (t.trace(grads) * c).sum::<(), _>().backward()
            }
        };
    }
    Ok(grads)
}
