//! An architecture of one's own in dfdx, trained with every continuous
//! objective (the walk-through is `docs/own-architecture.md`).
//!
//! The energy: an MLP plus a learned quadratic confinement,
//!
//! E(x) = MLP(x) + |x|^2 / (2 s^2),   s = exp(log_s),
//!
//! whose quadratic term keeps exp(-E) integrable whatever the network
//! does. Its score s(x) = -grad_x E = s_MLP(x) - x / s^2 is written as ops
//! too, so score matching gets exact parameter gradients through the tape.
//!
//! Run with `cargo run --release -p ebm-estimators --example own_architecture`.

use dfdx::prelude::*;
use ebm_core::energies::Activation;
use ebm_core::{EnergySpec, Points};
use ebm_estimators::capability::{Autodiff, EnergyCapability};
use ebm_estimators::datasets::two_moons;
use ebm_estimators::models::MlpEnergy;
use ebm_estimators::objectives::{
    CapabilityObjective, ChainNegatives, Dsm, ExactScoreMatching, Init, MaxLikelihood, Nce, Negatives,
    Projection, SlicedScoreMatching,
};
use ebm_estimators::trainable::{Mat, ParamMut, Vector};
use ebm_estimators::trainer::{train, History, TrainConfig};
use ebm_estimators::{TrainableEnergy, TrainableScore};
use ebm_samplers::{Target, Ula};

/// MLP(x) + |x|^2 / (2 s^2) with s = exp(log_s) learned.
#[derive(Clone, Debug)]
struct Confined {
    net: MlpEnergy<f64, Cpu>,
    /// log s, one entry.
    log_s: Vector<f64, Cpu>,
}

impl Confined {
    fn new(widths: &[usize], seed: u64) -> Self {
        let dev = Cpu::default();
        let net = MlpEnergy::new(&dev, widths, Activation::Silu, &mut ebm_core::setup_rng(seed)).unwrap();
        let log_s = dev.tensor_from_vec(vec![1.0f64.ln()], (1,));
        Self { net, log_s }
    }

    /// 1 / s^2 = exp(-2 log_s) as a scalar, recorded on tape `T`.
    fn inv_var<T: Tape<f64, Cpu>>(&self) -> Tensor<(), f64, Cpu, T> {
        (self.log_s.retaped::<T>() * -2.0).exp().reshape_like(&())
    }
}

impl TrainableEnergy<f64, Cpu> for Confined {
    fn dim(&self) -> usize {
        self.net.dim()
    }

    fn device(&self) -> &Cpu {
        self.net.device()
    }

    /// Tape discipline: `x` is used twice, so its tape goes with one use
    /// (the network) and the other use starts untaped; parameters enter
    /// through `retaped`.
    fn energy_t<T: Tape<f64, Cpu>>(&self, x: Mat<f64, Cpu, T>) -> Vector<f64, Cpu, T> {
        let n = x.shape().0;
        let (x, tape) = x.split_tape();
        let mlp = self.net.energy_t(x.clone().put_tape(tape));
        let half_sq = x.square().sum::<(usize,), Axis<1>>() * 0.5;
        let inv_var = self.inv_var::<T>().broadcast_like::<(usize,), Axis<0>>(&(n,));
        mlp + inv_var * half_sq
    }

    fn params_mut(&mut self) -> Vec<ParamMut<'_, f64, Cpu>> {
        let mut p = self.net.params_mut();
        p.push(ParamMut::Vector(&mut self.log_s));
        p
    }

    /// Model files name built-in types; this one saves its network (a
    /// real project would add its own format).
    fn to_spec(&self) -> EnergySpec {
        self.net.to_spec()
    }

    fn is_valid(&mut self) -> bool {
        self.is_finite()
    }

    /// The tape, with the score: what every objective runs on.
    fn autodiff(&self) -> Option<Box<dyn EnergyCapability>> {
        Some(Box::new(Autodiff::with_score(self.clone())))
    }

    /// Sampling (maximum likelihood's negatives) through `ebm_core::Energy`.
    fn with_target<R>(&self, f: impl FnOnce(Target<'_>) -> R) -> Option<R> {
        Some(f(Target::Continuous(self)))
    }
}

impl TrainableScore<f64, Cpu> for Confined {
    /// s(x) = s_MLP(x) - x / s^2, as ops.
    fn score_t<T: Tape<f64, Cpu>>(&self, x: Mat<f64, Cpu, T>) -> Mat<f64, Cpu, T> {
        let shape = *x.shape();
        let (x, tape) = x.split_tape();
        let mlp = self.net.score_t(x.clone().put_tape(tape));
        let inv_var = self
            .inv_var::<T>()
            .broadcast_like::<(usize, usize), Axes2<0, 1>>(&shape);
        mlp - inv_var * x
    }
}

impl ebm_core::Energy for Confined {
    ebm_estimators::energy_through_ops!();
}

/// Train a fresh model with `objective` and report its loss and scale.
fn fit<O: CapabilityObjective>(name: &str, objective: &mut O, data: &Points) {
    let mut model = Confined::new(&[2, 64, 64, 1], 3);
    let mut cfg = TrainConfig::steps(300, 256, 2e-3);
    cfg.seed = 4;
    let mut history = History::default();
    match train(&mut model, objective, data, &cfg, &mut history) {
        Ok(summary) => println!(
            "{name:<28} final loss {:>9.4}, learned s = {:.3}",
            summary.final_loss,
            model.log_s.as_vec()[0].exp()
        ),
        Err(e) => println!("{name:<28} refused: {e}"),
    }
}

fn main() {
    let data = two_moons(4000, 0.1, 1).unwrap();
    fit("denoising score matching", &mut Dsm::new(0.1).unwrap(), &data);
    fit(
        "sliced score matching",
        &mut SlicedScoreMatching::new(Projection::Rademacher, 1, true, 1e-3).unwrap(),
        &data,
    );
    fit("noise-contrastive", &mut Nce::new(1, None).unwrap(), &data);
    let short_run = Negatives::ShortRun {
        steps: 20,
        init: Init::Uniform,
    };
    let mut ml = MaxLikelihood::new(ChainNegatives::new(Ula::new(0.01).unwrap(), short_run).unwrap());
    fit("short-run MLE (ULA, K = 20)", &mut ml, &data);
    let replay = Negatives::Replay {
        steps: 10,
        capacity: 4000,
        reinit: 0.05,
        init: Init::FittedGaussian,
    };
    let mut ml = MaxLikelihood::new(ChainNegatives::new(Ula::new(0.01).unwrap(), replay).unwrap());
    fit("replay buffer (ULA, K = 10)", &mut ml, &data);
    // exact score matching needs the Laplacian's parameter gradient, which
    // only hand-written second-order passes provide: refused with a reason
    fit("exact score matching", &mut ExactScoreMatching::new(), &data);
}
