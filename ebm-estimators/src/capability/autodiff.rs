//! Any dfdx model with the capabilities, through its tape: the general,
//! checked backend, and how a researcher brings an architecture of their
//! own.

use super::traits::{EnergyCapability, ScoreCapability, ScoreLoss};
use crate::engine::host_grads;
use crate::error::{EstimatorError, Result};
use crate::trainable::{to_device, vector, Backend, ParamMut, Real, TrainableEnergy, TrainableScore};
use dfdx::prelude::*;
use ebm_core::HostFloat;
use ebm_core::{EnergySpec, Points};
use ebm_samplers::Target;
use std::marker::PhantomData;

/// sum_i l_i(s(x_i)) with its parameter gradient added into the buffers.
type ScoreLossGrad<M> = fn(&mut M, &Points, &dyn ScoreLoss, &mut [Vec<f64>]) -> Result<f64>;

/// The score capability of a [`TrainableScore`] model, as plain functions
/// (so that [`Autodiff`] offers it only when the model has a score).
struct TapeScore<M> {
    scores: fn(&M, &Points) -> Vec<f64>,
    loss_grad: ScoreLossGrad<M>,
}

/// Any dfdx [`TrainableEnergy`] with the energy capability, through its
/// tape: the weighted sum sum_i w_i E(x_i) is built as ops and
/// differentiated by dfdx. Made with [`Autodiff::with_score`], a
/// [`TrainableScore`] model also has the score capability: the scores as
/// ops s(x_i), then sum_i (dl_i/ds_i) . s(x_i) differentiated by dfdx.
pub struct Autodiff<F: Real, D: Backend<F>, M> {
    /// The model.
    pub model: M,
    score: Option<TapeScore<M>>,
    _p: PhantomData<(F, D)>,
}

impl<F: Real, D: Backend<F>, M: TrainableEnergy<F, D>> Autodiff<F, D, M> {
    /// The energy capability of `model`.
    pub fn new(model: M) -> Self {
        Self {
            model,
            score: None,
            _p: PhantomData,
        }
    }
}

impl<F: Real, D: Backend<F>, M: TrainableScore<F, D>> Autodiff<F, D, M> {
    /// The energy and score capabilities of `model`.
    pub fn with_score(model: M) -> Self {
        Self {
            model,
            score: Some(TapeScore {
                scores: tape_scores::<F, D, M>,
                loss_grad: tape_score_loss_grad::<F, D, M>,
            }),
            _p: PhantomData,
        }
    }
}

/// s(x_i) for every row, through the model's score ops.
fn tape_scores<F: Real, D: Backend<F>, M: TrainableScore<F, D>>(model: &M, x: &Points) -> Vec<f64> {
    let t = to_device::<F, D>(model.device(), x.as_slice(), x.dim());
    model
        .score_t(t)
        .as_vec()
        .into_iter()
        .map(HostFloat::f64)
        .collect()
}

/// sum_i l_i(s_i) and its parameter gradient: the scores on the tape,
/// each row's dl_i/ds_i from `loss`, then backward through
/// sum_i (dl_i/ds_i) . s_i (the derivatives held constant).
fn tape_score_loss_grad<F: Real, D: Backend<F>, M: TrainableScore<F, D>>(
    model: &mut M,
    x: &Points,
    loss: &dyn ScoreLoss,
    grads: &mut [Vec<f64>],
) -> Result<f64> {
    let d = x.dim();
    if d != model.dim() {
        return Err(EstimatorError::Data(format!(
            "rows have {d} columns, the model has dimension {}",
            model.dim()
        )));
    }
    let dev = model.device().clone();
    let t = to_device::<F, D>(&dev, x.as_slice(), d).retaped::<OwnedTape<F, D>>();
    let s = model.score_t(t);
    let values: Vec<f64> = s.as_vec().into_iter().map(HostFloat::f64).collect();
    let mut ds = vec![0.0; values.len()];
    let mut total = 0.0;
    for (i, (row, out)) in values.chunks_exact(d).zip(ds.chunks_exact_mut(d)).enumerate() {
        total += loss.row(i, row, out);
    }
    let weights = to_device::<F, D>(&dev, &ds, d);
    let mut g = (s * weights).sum::<(), _>().backward();
    add_into(grads, host_grads(&mut model.params_mut(), &mut g)?);
    Ok(total)
}

/// grads += g, tensor by tensor.
fn add_into(grads: &mut [Vec<f64>], g: Vec<Vec<f64>>) {
    for (out, values) in grads.iter_mut().zip(g) {
        for (o, v) in out.iter_mut().zip(values) {
            *o += v;
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
            .map(HostFloat::f64)
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
        add_into(grads, host_grads(&mut self.model.params_mut(), &mut g)?);
        Ok(())
    }

    fn to_spec(&mut self) -> EnergySpec {
        self.model.to_spec()
    }

    fn with_target(&mut self, f: &mut dyn FnMut(Target<'_>) -> Result<Points>) -> Option<Result<Points>> {
        self.model.with_target(f)
    }

    fn score(&mut self) -> Option<&mut dyn ScoreCapability> {
        if self.score.is_some() {
            Some(self)
        } else {
            None
        }
    }
}

impl<F: Real, D: Backend<F>, M: TrainableEnergy<F, D>> ScoreCapability for Autodiff<F, D, M> {
    fn scores(&mut self, x: &Points) -> Vec<f64> {
        match &self.score {
            Some(s) => (s.scores)(&self.model, x),
            None => Vec::new(),
        }
    }

    fn add_score_loss_grad(
        &mut self,
        x: &Points,
        loss: &dyn ScoreLoss,
        grads: &mut [Vec<f64>],
    ) -> Result<f64> {
        match &self.score {
            Some(s) => (s.loss_grad)(&mut self.model, x, loss, grads),
            None => Err(EstimatorError::Unsupported(
                "this model has no score (make its capability with Autodiff::with_score)".into(),
            )),
        }
    }
}
