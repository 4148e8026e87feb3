//! [`RbmPcdEngine`]: the trainer's step engine for PCD with SGD on an RBM,
//! in the model's float type.

use super::{of_f64, to_f64, RbmPcd, RbmPcdChains, RbmPcdConfig};
use crate::engine::{StepEngine, StepOutcome};
use crate::error::{EstimatorError, Result};
use crate::objective_state::ObjectiveState;
use crate::optim::OptimizerState;
use crate::trainable::{Backend, ParamMut, Real, TrainableEnergy};
use ebm_core::energies::Rbm;
use ebm_core::{ChainRng, EnergySpec, Points};
use std::marker::PhantomData;

/// The [`StepEngine`] for maximum likelihood with persistent Gibbs
/// negatives (PCD-k) on a Bernoulli RBM with plain SGD: [`RbmPcd`] steps
/// on a host copy of the model's parameters, written back into the
/// model when the run ends. The trainer picks it for that combination
/// ([`crate::objectives::MaxLikelihood`]); checkpoints carry the
/// parameters in the model's order (W, b, c), no optimizer moments, and
/// the chains' hidden states and streams. It runs in the model's float
/// type `F`: an f32 model trains in f32 (see [`RbmPcd`]).
pub struct RbmPcdEngine<'a, F: Real, D: Backend<F>, M> {
    model: &'a mut M,
    name: String,
    rbm: Rbm,
    cfg: RbmPcdConfig,
    pcd: Option<RbmPcd<F>>,
    steps: usize,
    _fd: PhantomData<(F, D)>,
}

impl<'a, F: Real, D: Backend<F>, M: TrainableEnergy<F, D>> RbmPcdEngine<'a, F, D, M> {
    /// The engine for `model` (which must be an RBM: [`TrainableEnergy::rbm`]), named
    /// `name` in checkpoints, with learning rate `lr`, `chains`
    /// persistent chains and `sweeps` Gibbs sweeps per step.
    pub fn new(model: &'a mut M, name: String, lr: f64, chains: usize, sweeps: usize) -> Result<Self> {
        let rbm = model.rbm().ok_or_else(|| {
            EstimatorError::Unsupported(format!(
                "the RBM PCD engine needs an RBM, got a `{}` model",
                model.to_spec().type_name()
            ))
        })?;
        let shapes: Vec<Vec<usize>> = model.params_mut().iter().map(ParamMut::shape).collect();
        let (nv, nh) = (rbm.n_visible(), rbm.n_hidden());
        if shapes != [vec![nv, nh], vec![nv], vec![nh]] {
            return Err(EstimatorError::Unsupported(format!(
                "the RBM PCD engine needs parameters W ({nv} x {nh}), b, c; the model has shapes {shapes:?}"
            )));
        }
        let cfg = RbmPcdConfig {
            lr,
            chains,
            sweeps,
            seed: 0,
        };
        // settings are checked now, not at the first step
        RbmPcd::<F>::new(&rbm, &cfg)?;
        Ok(Self {
            model,
            name,
            rbm,
            cfg,
            pcd: None,
            steps: 0,
            _fd: PhantomData,
        })
    }

    fn pcd(&mut self) -> &mut RbmPcd<F> {
        self.pcd.as_mut().expect("prepared before use")
    }
}

impl<F: Real, D: Backend<F>, M: TrainableEnergy<F, D>> StepEngine for RbmPcdEngine<'_, F, D, M> {
    fn objective_name(&self) -> String {
        self.name.clone()
    }

    fn param_shapes(&mut self) -> Vec<Vec<usize>> {
        let (nv, nh) = (self.rbm.n_visible(), self.rbm.n_hidden());
        vec![vec![nv, nh], vec![nv], vec![nh]]
    }

    fn prepare(&mut self, _data: &Points, seed: u64) -> Result<()> {
        self.cfg.seed = seed;
        self.pcd = Some(RbmPcd::new(&self.rbm, &self.cfg)?);
        Ok(())
    }

    fn step(&mut self, batch: &Points, _rng: &mut ChainRng) -> Result<StepOutcome> {
        let before = self.steps;
        match self.pcd().step(batch.as_slice()) {
            Ok(loss) => {
                self.steps = before + 1;
                let grad_norm = self.pcd().last_grad_norm();
                Ok(StepOutcome {
                    loss,
                    grad_norm,
                    applied: true,
                })
            }
            Err(EstimatorError::NonFiniteLoss { loss, .. }) => Ok(StepOutcome {
                loss,
                grad_norm: f64::NAN,
                applied: false,
            }),
            Err(e) => Err(e),
        }
    }

    fn is_valid(&mut self) -> bool {
        self.pcd().is_finite()
    }

    fn model_spec(&mut self) -> EnergySpec {
        EnergySpec::from(&self.pcd().rbm())
    }

    fn snapshot(&mut self) -> Result<(Vec<Vec<f64>>, OptimizerState, ObjectiveState)> {
        let pcd = self.pcd();
        let (w, b, c) = pcd.params();
        let params = vec![to_f64(w), to_f64(b), to_f64(c)];
        let chains = pcd.chains();
        // plain SGD keeps no moments: empty buffers, as the dfdx optimizer writes them
        let optimizer = OptimizerState {
            ema: Vec::new(),
            steps: self.steps,
            first: vec![Vec::new(); 3],
            second: vec![Vec::new(); 3],
        };
        let objective = ObjectiveState {
            rngs: chains.rngs,
            chains: chains.hidden,
            ..ObjectiveState::default()
        };
        Ok((params, optimizer, objective))
    }

    fn restore(
        &mut self,
        params: &[Vec<f64>],
        optimizer: &OptimizerState,
        objective: &ObjectiveState,
    ) -> Result<()> {
        if params.len() != 3 {
            return Err(EstimatorError::Checkpoint(format!(
                "it holds {} parameters, an RBM has 3 (W, b, c)",
                params.len()
            )));
        }
        let pcd = self.pcd();
        pcd.set_params(&of_f64(&params[0]), &of_f64(&params[1]), &of_f64(&params[2]))?;
        pcd.restore_chains(&RbmPcdChains {
            hidden: objective.chains.clone(),
            rngs: objective.rngs.clone(),
        })?;
        self.steps = optimizer.steps;
        Ok(())
    }

    fn finish(&mut self) -> Result<()> {
        if let Some(pcd) = &self.pcd {
            let (w, b, c) = pcd.params();
            let mut params = self.model.params_mut();
            params[0].set_values(&to_f64(w))?;
            params[1].set_values(&to_f64(b))?;
            params[2].set_values(&to_f64(c))?;
        }
        Ok(())
    }
}
