//! An objective written against the energy capability alone, trained on
//! the hand-written MLP (`HandMlp`: ebm-core's `Mlp` with its gradients by hand) and on a dfdx model through its
//! tape, with the same trainer (batches, checkpoints, NaN guard).
//!
//! The loss: a contrastive energy difference between the data and noisy
//! copies of it, with a penalty on the energies' size that keeps them
//! from running off (Du and Mordatch 2019 use the same penalty):
//!
//! L = mean_i E(x_i) - mean_i E(x_i + s eps_i) + a mean_i (E(x_i)^2 + E(x_i + s eps_i)^2).
//!
//! Its parameter gradient is that of a weighted sum of energies, with
//! w = (1 + 2 a E) / n on the data and (-1 + 2 a E) / n on the noisy
//! points, which is exactly what the capability provides. Lower energy on
//! the data than beside it is what an energy-based model of the data has.
//!
//! Run with `cargo run --release -p ebm-estimators --example custom_objective`.

use dfdx::prelude::*;
use ebm_core::energies::Activation;
use ebm_core::{ChainRng, Points};
use ebm_estimators::capability::{
    Autodiff, CapabilityEngine, CapabilityObjective, EnergyCapability, HandMlp,
};
use ebm_estimators::datasets::eight_gaussians;
use ebm_estimators::models::MlpEnergy;
use ebm_estimators::optim::OptimizerConfig;
use ebm_estimators::trainer::{run_engine, History, TrainConfig};
use rand::Rng;
use rand_distr::StandardNormal;

/// The contrastive energy difference with an energy penalty.
pub struct EnergyDifference {
    /// Noise scale s of the contrast points.
    pub noise: f64,
    /// Penalty weight a on the squared energies.
    pub penalty: f64,
}

impl CapabilityObjective for EnergyDifference {
    fn name(&self) -> String {
        "energy-difference".into()
    }

    fn settings(&self) -> String {
        format!("noise {}, penalty {}", self.noise, self.penalty)
    }

    fn loss_grad(
        &mut self,
        model: &mut dyn EnergyCapability,
        batch: &Points,
        rng: &mut ChainRng,
        grads: &mut [Vec<f64>],
    ) -> ebm_estimators::Result<f64> {
        let n = batch.len() as f64;
        let mut noisy = batch.clone();
        for v in noisy.as_mut_slice() {
            *v += self.noise * rng.sample::<f64, _>(StandardNormal);
        }
        let (pos, neg) = (model.energies(batch), model.energies(&noisy));
        let a = self.penalty;
        let loss = pos
            .iter()
            .zip(&neg)
            .map(|(p, q)| p - q + a * (p * p + q * q))
            .sum::<f64>()
            / n;
        let w_pos: Vec<f64> = pos.iter().map(|e| (1.0 + 2.0 * a * e) / n).collect();
        let w_neg: Vec<f64> = neg.iter().map(|e| (-1.0 + 2.0 * a * e) / n).collect();
        model.add_weighted_energy_grad(batch, &w_pos, grads)?;
        model.add_weighted_energy_grad(&noisy, &w_neg, grads)?;
        Ok(loss)
    }
}

/// Train `model` on `data` with [`EnergyDifference`] for `steps` steps
/// of Adam; returns the losses.
pub fn fit(model: &mut dyn EnergyCapability, data: &Points, steps: usize) -> Vec<f64> {
    let mut objective = EnergyDifference {
        noise: 0.5,
        penalty: 0.1,
    };
    let mut engine =
        CapabilityEngine::new(model, &mut objective, OptimizerConfig::adam(1e-2)).expect("valid settings");
    let mut history = History::default();
    run_engine(
        &mut engine,
        data,
        &TrainConfig::steps(steps, 128, 1e-2),
        &mut history,
        None,
    )
    .expect("training runs");
    history.loss
}

/// The data (the eight-Gaussian ring) and a 2-32-32-1 SiLU MLP, as the
/// hand-written MLP and as the same network in dfdx.
pub fn setup() -> (Points, HandMlp, MlpEnergy<f64, Cpu>) {
    let data = eight_gaussians(4096, 1).expect("the data");
    let dfdx = MlpEnergy::<f64, Cpu>::new(
        &Cpu::default(),
        &[2, 32, 32, 1],
        Activation::Silu,
        &mut ebm_core::setup_rng(5),
    )
    .expect("an MLP");
    (data, HandMlp::new(dfdx.to_core()), dfdx)
}

/// Mean energy on the data minus mean energy 0.5 away from it (negative:
/// the model prefers the data).
pub fn contrast(model: &mut dyn EnergyCapability, data: &Points) -> f64 {
    let mut away = data.clone();
    let mut rng = ebm_core::setup_rng(9);
    for v in away.as_mut_slice() {
        *v += 0.5 * rng.sample::<f64, _>(StandardNormal);
    }
    let mean = |e: Vec<f64>| e.iter().sum::<f64>() / e.len() as f64;
    mean(model.energies(data)) - mean(model.energies(&away))
}

#[allow(dead_code)]
fn main() {
    let (data, mut hand, dfdx) = setup();
    let mut tape = Autodiff::new(dfdx);
    println!(
        "contrast before: hand-written {:+.3}, dfdx {:+.3}",
        contrast(&mut hand, &data),
        contrast(&mut tape, &data)
    );
    let l1 = fit(&mut hand, &data, 300);
    let l2 = fit(&mut tape, &data, 300);
    println!(
        "after 300 steps: losses {:.4} and {:.4}; contrast hand-written {:+.3}, dfdx {:+.3}",
        l1.last().unwrap(),
        l2.last().unwrap(),
        contrast(&mut hand, &data),
        contrast(&mut tape, &data)
    );
}
