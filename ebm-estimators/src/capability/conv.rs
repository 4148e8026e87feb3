//! The hand-written convolutional energy: ebm-core's [`ConvNet`] with its
//! capabilities written out, the path every objective on a conv model
//! takes.

use super::traits::{EnergyCapability, ScoreCapability, ScoreLoss};
use crate::error::{EstimatorError, Result};
use ebm_core::energies::conv::pass::{self, PassFloat};
use ebm_core::energies::ConvNet;
use ebm_core::spec::Arithmetic;
use ebm_core::{Energy, EnergySpec, Points};
use ebm_samplers::Target;
use rayon::prelude::*;

/// Images per part of a batch: the parts run in parallel and their
/// gradients are added in part order, so a seed gives the same bits on
/// any number of threads.
pub const CONV_PART: usize = 32;

/// ebm-core's [`ConvNet`] with the energy and score capabilities by hand
/// (in the network's arithmetic: f64, or f32 passes with f64 parameters
/// and sums).
///
/// Parameters: `[W_1, b_1, ..., W_L, b_L, w, [b]]` as in
/// [`ConvNet::params`]. The gradient of S = sum_i r_i E(x_i) is the
/// backward pass of [`ebm_core::energies::conv::pass::backward`]; the
/// gradient of a loss on the scores is the reverse-over-forward pass of
/// [`super::conv_score`].
///
/// ```
/// use ebm_core::{Points, energies::{Activation, ConvLayer, ConvNet}};
/// use ebm_estimators::capability::{EnergyCapability, HandConv};
/// // E(x) = tanh(2 x_1) + tanh(2 x_2) + 0.5
/// let conv = ConvLayer { w: vec![2.0], b: vec![0.0], out_channels: 1, kernel: 1, stride: 1, padding: 0 };
/// let net = ConvNet::new(Activation::Tanh, [1, 1, 2], vec![conv], vec![1.0, 1.0], 0.5).unwrap();
/// let mut hand = HandConv::new(net);
/// let x = Points::from_vec(vec![0.5, 0.0], 2).unwrap();
/// let mut g: Vec<Vec<f64>> = hand.params().iter().map(|p| vec![0.0; p.len()]).collect();
/// hand.add_weighted_energy_grad(&x, &[1.0], &mut g).unwrap();
/// // dE/db = 1, dE/dw_1 = tanh(1)
/// assert_eq!(g[3][0], 1.0);
/// assert!((g[2][0] - 1f64.tanh()).abs() < 1e-15);
/// ```
#[derive(Clone)]
pub struct HandConv {
    net: ConvNet,
    /// The parameters' buffers of [`EnergyCapability::update_params`].
    values: Vec<Vec<f64>>,
}

impl HandConv {
    /// `net`, computing in its own arithmetic.
    pub fn new(net: ConvNet) -> Self {
        Self {
            net,
            values: Vec::new(),
        }
    }

    /// The network with the current parameters.
    pub fn net(&self) -> &ConvNet {
        &self.net
    }

    /// Refuse rows of the wrong width and gradient buffers that do not
    /// have the parameters' layout.
    fn check(&self, x: &Points, grads: &[Vec<f64>]) -> Result<()> {
        if x.dim() != self.net.dim() {
            return Err(EstimatorError::Data(format!(
                "rows have {} columns, the conv model takes {} ({:?} images)",
                x.dim(),
                self.net.dim(),
                self.net.geometry().input
            )));
        }
        let shapes = self.net.param_shapes();
        if grads.len() != shapes.len()
            || grads
                .iter()
                .zip(&shapes)
                .any(|(g, s)| g.len() != s.iter().product::<usize>())
        {
            return Err(EstimatorError::Unsupported(
                "gradient buffers must have the layout of the parameters, [W_1, b_1, ..., W_L, b_L, w, b]"
                    .into(),
            ));
        }
        Ok(())
    }

    /// Run `part` on every [`CONV_PART`] images of an `n`-image batch in
    /// parallel, each into zeroed buffers of the parameters' layout, then
    /// add their values and gradients in part order.
    fn in_parts<F>(&self, n: usize, grads: &mut [Vec<f64>], part: F) -> f64
    where
        F: Fn(std::ops::Range<usize>, &mut [Vec<f64>]) -> f64 + Sync,
    {
        let shapes: Vec<usize> = grads.iter().map(Vec::len).collect();
        let results: Vec<(f64, Vec<Vec<f64>>)> = (0..n.div_ceil(CONV_PART))
            .into_par_iter()
            .map(|k| {
                let mut g: Vec<Vec<f64>> = shapes.iter().map(|&len| vec![0.0; len]).collect();
                let v = part(k * CONV_PART..((k + 1) * CONV_PART).min(n), &mut g);
                (v, g)
            })
            .collect();
        let mut total = 0.0;
        for (v, g) in results {
            total += v;
            for (a, b) in grads.iter_mut().zip(g) {
                a.iter_mut().zip(b).for_each(|(x, y)| *x += y);
            }
        }
        total
    }

    fn weighted_grad<T: PassFloat>(&self, x: &Points, w: &[f64], grads: &mut [Vec<f64>]) {
        let weights = self.net.weights::<T>();
        let (geo, d) = (self.net.geometry(), self.net.dim());
        self.in_parts(x.len(), grads, |rows, g| {
            T::with_workspace(|ws| {
                let xs = &x.as_slice()[rows.start * d..rows.end * d];
                pass::to_position_major(geo, xs, &mut ws.scratch.x);
                let act = self.net.activation();
                pass::forward(geo, weights, act, &ws.scratch.x, rows.len(), false, &mut ws.trace);
                pass::backward(geo, weights, &ws.trace, &w[rows], Some(g), false, &mut ws.scratch);
            });
            0.0
        });
    }

    fn score_grad<T: PassFloat>(&self, x: &Points, loss: &dyn ScoreLoss, grads: &mut [Vec<f64>]) -> f64 {
        let weights = self.net.weights::<T>();
        let d = self.net.dim();
        self.in_parts(x.len(), grads, |rows, g| {
            let xs = &x.as_slice()[rows.start * d..rows.end * d];
            super::conv_score::score_loss_grad(&self.net, weights, xs, rows.start, loss, g)
        })
    }
}

impl ScoreCapability for HandConv {
    fn scores(&mut self, x: &Points) -> Vec<f64> {
        super::scores_from_gradients(&self.net, x)
    }

    /// The reverse-over-forward pass of [`super::conv_score`], parts of
    /// [`CONV_PART`] images in parallel.
    fn add_score_loss_grad(
        &mut self,
        x: &Points,
        loss: &dyn ScoreLoss,
        grads: &mut [Vec<f64>],
    ) -> Result<f64> {
        self.check(x, grads)?;
        Ok(match self.net.arithmetic() {
            Arithmetic::F64 => self.score_grad::<f64>(x, loss, grads),
            Arithmetic::F32 => self.score_grad::<f32>(x, loss, grads),
        })
    }
}

impl EnergyCapability for HandConv {
    fn dim(&self) -> usize {
        self.net.dim()
    }

    fn param_shapes(&mut self) -> Vec<Vec<usize>> {
        self.net.param_shapes()
    }

    fn params(&mut self) -> Vec<Vec<f64>> {
        self.net.params()
    }

    fn set_params(&mut self, values: &[Vec<f64>]) -> Result<()> {
        Ok(self.net.set_params(values)?)
    }

    /// Stepped in a buffer kept between steps and copied back if finite.
    fn update_params(&mut self, step: &mut dyn FnMut(&mut [Vec<f64>])) -> Result<()> {
        let mut values = std::mem::take(&mut self.values);
        self.net.params_into(&mut values);
        step(&mut values);
        let result = self.net.set_params(&values);
        self.values = values;
        Ok(result?)
    }

    fn energies(&mut self, x: &Points) -> Vec<f64> {
        let mut e = vec![0.0; x.len()];
        self.net.energy_batch(x.as_slice(), &mut e);
        e
    }

    /// The backward pass, parts of [`CONV_PART`] images in parallel.
    fn add_weighted_energy_grad(&mut self, x: &Points, w: &[f64], grads: &mut [Vec<f64>]) -> Result<()> {
        if w.len() != x.len() {
            return Err(EstimatorError::Data(format!(
                "{} weights for {} rows",
                w.len(),
                x.len()
            )));
        }
        self.check(x, grads)?;
        match self.net.arithmetic() {
            Arithmetic::F64 => self.weighted_grad::<f64>(x, w, grads),
            Arithmetic::F32 => self.weighted_grad::<f32>(x, w, grads),
        }
        Ok(())
    }

    fn to_spec(&mut self) -> EnergySpec {
        EnergySpec::from(&self.net)
    }

    fn score(&mut self) -> Option<&mut dyn ScoreCapability> {
        Some(self)
    }

    fn with_target(&mut self, f: &mut dyn FnMut(Target<'_>) -> Result<Points>) -> Option<Result<Points>> {
        Some(f(Target::Continuous(&self.net)))
    }
}
