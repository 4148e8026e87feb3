//! Training by what a model can do, on host buffers.
//!
//! The *energy capability* ([`EnergyCapability`]): a model's parameters as
//! flat f64 buffers (one per tensor, in a fixed order), the energies of a
//! batch, and the parameter gradient of a **weighted sum of energies**
//!
//! grad_theta sum_i w_i E(x_i; theta).
//!
//! That is all that objectives built from energies need: CD, PCD and
//! replay (weights 1/n on the data, -1/m on the negatives), NCE (weights
//! from the logistic loss), pseudo-likelihood and ratio matching, and any
//! loss L(E(x_1), ..., E(x_n)) by the chain rule (w_i = dL/dE_i). An
//! [`CapabilityObjective`] computes its loss and gradient through it,
//! never by recognising the model, and [`CapabilityEngine`] runs it under
//! the trainer (batches, checkpoints, NaN guard, resume) with the one
//! [`Optimizer`].
//!
//! Implementations: the hand-written MLP of ebm-core
//! ([`ebm_core::energies::Mlp`]: its forward pass and a backward pass
//! written out here), and any dfdx [`TrainableEnergy`] through its tape
//! ([`Autodiff`]): the general, checked backend, and how a researcher
//! brings an architecture of their own. `examples/custom_objective.rs`
//! writes an objective against the capability alone and trains both.
//!
//! (The score capability of DSM, and moving the existing objectives onto
//! these traits, are the next steps of the architecture issue.)

use crate::engine::{host_grads, StepEngine, StepOutcome};
use crate::error::{EstimatorError, Result};
use crate::objectives::ObjectiveState;
use crate::optim::{grad_norm, Optimizer, OptimizerConfig, OptimizerState};
use crate::trainable::{to_device, vector, Backend, ParamMut, Real, TrainableEnergy};
use dfdx::prelude::*;
use ebm_core::energies::{Layer, Mlp};
use ebm_core::{ChainRng, Energy, EnergySpec, Points};
use faer::{Accum, MatMut, MatRef, Par};
use std::marker::PhantomData;

/// The energy capability: parameters as flat buffers, energies of a
/// batch, and the parameter gradient of a weighted sum of energies.
pub trait EnergyCapability: Send {
    /// Dimension D of a point.
    fn dim(&self) -> usize;

    /// Shapes of the parameter tensors, in the order of
    /// [`EnergyCapability::params`].
    fn param_shapes(&mut self) -> Vec<Vec<usize>>;

    /// The parameters, one row-major buffer per tensor.
    fn params(&mut self) -> Vec<Vec<f64>>;

    /// Set the parameters; an error (the values are not a valid model)
    /// leaves them unchanged.
    fn set_params(&mut self, values: &[Vec<f64>]) -> Result<()>;

    /// E(x_i) for every row of `x`.
    fn energies(&mut self, x: &Points) -> Vec<f64>;

    /// Add grad_theta sum_i w_i E(x_i) to `grads` (the layout of
    /// [`EnergyCapability::params`]); `w` has one weight per row of `x`.
    fn add_weighted_energy_grad(&mut self, x: &Points, w: &[f64], grads: &mut [Vec<f64>]) -> Result<()>;

    /// The model with the current parameters, as a model file.
    fn to_spec(&mut self) -> EnergySpec;
}

/// The hand-written MLP: E = w_L . h_{L-1} + b_L with h_l = act(W_l
/// h_{l-1} + b_l). For a weighted sum S = sum_i w_i E(x_i), backward from
/// the output: dS/db_L = sum_i w_i, dS/dw_L = sum_i w_i h_{L-1,i};
/// delta_{L-1} = w_i w_L * act'(z_{L-1}); then for l = L-1..1:
/// dS/dW_l = delta_l^T H_{l-1}, dS/db_l = column sums of delta_l, and
/// delta_{l-1} = (delta_l W_l) * act'(z_{l-1}). Parameters:
/// `[W_1, b_1, ..., W_L, b_L]`, W_l row-major (outputs x inputs).
impl EnergyCapability for Mlp {
    fn dim(&self) -> usize {
        Energy::dim(self)
    }

    fn param_shapes(&mut self) -> Vec<Vec<usize>> {
        self.layers()
            .iter()
            .flat_map(|l| [vec![l.n_out, l.n_in], vec![l.n_out]])
            .collect()
    }

    fn params(&mut self) -> Vec<Vec<f64>> {
        self.layers()
            .iter()
            .flat_map(|l| [l.w.clone(), l.b.clone()])
            .collect()
    }

    fn set_params(&mut self, values: &[Vec<f64>]) -> Result<()> {
        if values.len() != 2 * self.layers().len() {
            return Err(EstimatorError::Unsupported(format!(
                "an MLP of {} layers has {} parameter tensors, got {}",
                self.layers().len(),
                2 * self.layers().len(),
                values.len()
            )));
        }
        let layers = self
            .layers()
            .iter()
            .zip(values.chunks_exact(2))
            .map(|(l, wb)| Layer {
                w: wb[0].clone(),
                b: wb[1].clone(),
                n_in: l.n_in,
                n_out: l.n_out,
            })
            .collect();
        *self = Mlp::new(self.activation(), layers)?;
        Ok(())
    }

    fn energies(&mut self, x: &Points) -> Vec<f64> {
        let mut e = vec![0.0; x.len()];
        self.energy_batch(x.as_slice(), &mut e);
        e
    }

    fn add_weighted_energy_grad(&mut self, x: &Points, w: &[f64], grads: &mut [Vec<f64>]) -> Result<()> {
        let n = x.len();
        if w.len() != n {
            return Err(EstimatorError::Data(format!("{} weights for {n} rows", w.len())));
        }
        let layers = self.layers();
        let depth = layers.len();
        let trace = self.forward(x.as_slice(), n);
        let input = |l: usize| -> &[f64] {
            if l == 0 {
                x.as_slice()
            } else {
                &trace.hidden[l - 1]
            }
        };
        // the output layer: dS/dw_L = sum_i w_i h_{L-1,i}, dS/db_L = sum_i w_i
        let out = &layers[depth - 1];
        let h_last = input(depth - 1);
        for (i, &wi) in w.iter().enumerate() {
            for (g, h) in grads[2 * depth - 2]
                .iter_mut()
                .zip(&h_last[i * out.n_in..(i + 1) * out.n_in])
            {
                *g += wi * h;
            }
            grads[2 * depth - 1][0] += wi;
        }
        if depth == 1 {
            return Ok(());
        }
        // delta_{L-1} = w_i w_L * act'(z_{L-1})
        let width = out.n_in;
        let mut delta: Vec<f64> = (0..n * width)
            .map(|k| w[k / width] * out.w[k % width] * trace.slopes[depth - 2][k])
            .collect();
        for l in (0..depth - 1).rev() {
            let layer = &layers[l];
            let h = input(l);
            // dS/dW_l (n_out x n_in) += delta^T (n_out x n) H_{l-1} (n x n_in)
            faer::linalg::matmul::matmul(
                MatMut::from_row_major_slice_mut(&mut grads[2 * l], layer.n_out, layer.n_in),
                Accum::Add,
                MatRef::from_row_major_slice(&delta, n, layer.n_out).transpose(),
                MatRef::from_row_major_slice(h, n, layer.n_in),
                1.0,
                Par::Seq,
            );
            for row in delta.chunks_exact(layer.n_out) {
                for (g, d) in grads[2 * l + 1].iter_mut().zip(row) {
                    *g += d;
                }
            }
            if l > 0 {
                // delta_{l-1} = (delta_l W_l) * act'(z_{l-1})
                let mut prev = vec![0.0; n * layer.n_in];
                faer::linalg::matmul::matmul(
                    MatMut::from_row_major_slice_mut(&mut prev, n, layer.n_in),
                    Accum::Replace,
                    MatRef::from_row_major_slice(&delta, n, layer.n_out),
                    MatRef::from_row_major_slice(&layer.w, layer.n_out, layer.n_in),
                    1.0,
                    Par::Seq,
                );
                for (p, s) in prev.iter_mut().zip(&trace.slopes[l - 1]) {
                    *p *= s;
                }
                delta = prev;
            }
        }
        Ok(())
    }

    fn to_spec(&mut self) -> EnergySpec {
        EnergySpec::from(&*self)
    }
}

/// Any dfdx [`TrainableEnergy`] with the energy capability, through its
/// tape: the weighted sum sum_i w_i E(x_i) is built as ops and
/// differentiated by dfdx.
pub struct Autodiff<F: Real, D: Backend<F>, M> {
    /// The model.
    pub model: M,
    _p: PhantomData<(F, D)>,
}

impl<F: Real, D: Backend<F>, M: TrainableEnergy<F, D>> Autodiff<F, D, M> {
    /// The capability of `model`.
    pub fn new(model: M) -> Self {
        Self {
            model,
            _p: PhantomData,
        }
    }
}

impl<F: Real, D: Backend<F>, M: TrainableEnergy<F, D>> EnergyCapability for Autodiff<F, D, M> {
    fn dim(&self) -> usize {
        self.model.dim()
    }

    fn param_shapes(&mut self) -> Vec<Vec<usize>> {
        self.model.params_mut().iter().map(ParamMut::shape).collect()
    }

    fn params(&mut self) -> Vec<Vec<f64>> {
        self.model.params_mut().iter().map(ParamMut::values).collect()
    }

    fn set_params(&mut self, values: &[Vec<f64>]) -> Result<()> {
        let before = self.params();
        let mut params = self.model.params_mut();
        if params.len() != values.len() {
            return Err(EstimatorError::Unsupported(format!(
                "the model has {} parameter tensors, got {}",
                params.len(),
                values.len()
            )));
        }
        for (p, v) in params.iter_mut().zip(values) {
            p.set_values(v)?;
        }
        drop(params);
        if self.model.is_valid() {
            Ok(())
        } else {
            for (p, v) in self.model.params_mut().iter_mut().zip(&before) {
                p.set_values(v)?;
            }
            Err(EstimatorError::Unsupported(
                "the parameters do not make a valid model".into(),
            ))
        }
    }

    fn energies(&mut self, x: &Points) -> Vec<f64> {
        let t = to_device::<F, D>(self.model.device(), x.as_slice(), x.dim());
        self.model
            .energy_t(t)
            .as_vec()
            .into_iter()
            .map(Real::f64)
            .collect()
    }

    fn add_weighted_energy_grad(&mut self, x: &Points, w: &[f64], grads: &mut [Vec<f64>]) -> Result<()> {
        if w.len() != x.len() {
            return Err(EstimatorError::Data(format!(
                "{} weights for {} rows",
                w.len(),
                x.len()
            )));
        }
        let dev = self.model.device().clone();
        let t = to_device::<F, D>(&dev, x.as_slice(), x.dim()).retaped::<OwnedTape<F, D>>();
        let weighted = (self.model.energy_t(t) * vector::<F, D>(&dev, w)).sum::<(), _>();
        let mut g = weighted.backward();
        let g = host_grads(&mut self.model.params_mut(), &mut g)?;
        for (out, values) in grads.iter_mut().zip(g) {
            for (o, v) in out.iter_mut().zip(values) {
                *o += v;
            }
        }
        Ok(())
    }

    fn to_spec(&mut self) -> EnergySpec {
        self.model.to_spec()
    }
}

/// A training objective written against the energy capability only.
pub trait CapabilityObjective: Send {
    /// Short name (part of a run's fingerprint).
    fn name(&self) -> String;

    /// Settings in words (part of a run's fingerprint).
    fn settings(&self) -> String {
        String::new()
    }

    /// The loss on `batch` and its parameter gradient, added into `grads`
    /// (zeroed by the caller), drawing any noise from `rng`.
    fn loss_grad(
        &mut self,
        model: &mut dyn EnergyCapability,
        batch: &Points,
        rng: &mut ChainRng,
        grads: &mut [Vec<f64>],
    ) -> Result<f64>;
}

/// The engine of a [`CapabilityObjective`] on a model with the energy
/// capability: the objective's gradient, then the one [`Optimizer`] on
/// the flat parameters. Run it with [`crate::trainer::run_engine`] for
/// batches, checkpoints, the NaN guard and bit-identical resume.
pub struct CapabilityEngine<'a> {
    model: &'a mut dyn EnergyCapability,
    objective: &'a mut dyn CapabilityObjective,
    opt: Optimizer,
    grads: Vec<Vec<f64>>,
}

impl<'a> CapabilityEngine<'a> {
    /// The engine for `model` trained by `objective` with `optimizer`.
    pub fn new(
        model: &'a mut dyn EnergyCapability,
        objective: &'a mut dyn CapabilityObjective,
        optimizer: OptimizerConfig,
    ) -> Result<Self> {
        let lens: Vec<usize> = model.params().iter().map(Vec::len).collect();
        Ok(Self {
            opt: Optimizer::new(optimizer, &lens)?,
            grads: lens.iter().map(|&n| vec![0.0; n]).collect(),
            model,
            objective,
        })
    }
}

impl StepEngine for CapabilityEngine<'_> {
    fn objective_name(&self) -> String {
        self.objective.name()
    }

    fn objective_settings(&self) -> String {
        self.objective.settings()
    }

    fn param_shapes(&mut self) -> Vec<Vec<usize>> {
        self.model.param_shapes()
    }

    fn prepare(&mut self, data: &Points, _seed: u64) -> Result<()> {
        if data.dim() != self.model.dim() {
            return Err(EstimatorError::Data(format!(
                "rows have {} columns, the model has dimension {}",
                data.dim(),
                self.model.dim()
            )));
        }
        Ok(())
    }

    fn step(&mut self, batch: &Points, rng: &mut ChainRng) -> Result<StepOutcome> {
        self.grads
            .iter_mut()
            .for_each(|g| g.iter_mut().for_each(|v| *v = 0.0));
        let loss = self
            .objective
            .loss_grad(self.model, batch, rng, &mut self.grads)?;
        let norm = grad_norm(&self.grads);
        if !loss.is_finite() || !norm.is_finite() {
            return Ok(StepOutcome {
                loss,
                grad_norm: norm,
                applied: false,
            });
        }
        let mut values = self.model.params();
        self.opt.update(&mut values, &self.grads);
        // an update that would leave an invalid model is refused (the
        // model keeps its parameters) and the trainer ends the run there,
        // keeping the last good model; the moments need no undoing
        let applied = self.model.set_params(&values).is_ok();
        Ok(StepOutcome {
            loss,
            grad_norm: norm,
            applied,
        })
    }

    fn is_valid(&mut self) -> bool {
        let p = self.model.params();
        self.model.set_params(&p).is_ok()
    }

    fn model_spec(&mut self) -> EnergySpec {
        self.model.to_spec()
    }

    fn snapshot(&mut self) -> Result<(Vec<Vec<f64>>, OptimizerState, ObjectiveState)> {
        Ok((self.model.params(), self.opt.state(), ObjectiveState::default()))
    }

    fn restore(
        &mut self,
        params: &[Vec<f64>],
        optimizer: &OptimizerState,
        objective: &ObjectiveState,
    ) -> Result<()> {
        objective.expect_empty(&self.objective.name())?;
        self.model.set_params(params)?;
        self.opt.restore(optimizer)
    }
}
