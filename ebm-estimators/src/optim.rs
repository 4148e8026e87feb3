//! Adam and SGD on a model's parameters, through dfdx's optimizer kernels.
//!
//! dfdx's `Optimizer` types walk a module through its compile-time-shaped
//! `TensorCollection`; our models have runtime widths, so this module runs
//! the same dfdx kernels (`AdamConfig::try_update`, `SgdConfig::try_update`)
//! over [`TrainableEnergy::params_mut`] itself, keeping the moment buffers
//! by parameter id.

use crate::error::{config, Result};
use crate::trainable::{Backend, ParamMut, Real};
use dfdx::prelude::*;

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
