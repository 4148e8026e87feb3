//! The hand-written MLP: ebm-core's [`Mlp`] energy with its capabilities
//! written out by hand, the fast path of every objective on an MLP.

use super::mlp_score::Workspace;
use super::traits::{EnergyCapability, ScoreCapability, ScoreLoss};
use crate::error::{EstimatorError, Result};
use ebm_core::energies::Mlp;
use ebm_core::{Energy, EnergySpec, Points};
use ebm_samplers::Target;
use faer::{Accum, MatMut, MatRef, Par};

/// The precision of the fused score pass: its matrix products and work
/// buffers in f64, or in f32 (the parameters, the loss, the gradient sums
/// and the optimizer stay f64).
enum Precision {
    F64(Workspace<f64>),
    F32(Workspace<f32>),
}

/// ebm-core's [`Mlp`] with the energy and score capabilities by hand,
/// and the buffers of its fused score pass (kept between steps).
///
/// ```
/// use ebm_core::{Points, energies::{Activation, Layer, Mlp}};
/// use ebm_estimators::capability::{EnergyCapability, HandMlp};
/// // E(x) = 2 tanh(x) + 1
/// let mlp = Mlp::new(Activation::Tanh, vec![
///     Layer { w: vec![1.0], b: vec![0.0], n_in: 1, n_out: 1 },
///     Layer { w: vec![2.0], b: vec![1.0], n_in: 1, n_out: 1 },
/// ]).unwrap();
/// let mut hand = HandMlp::new(mlp);
/// let x = Points::from_vec(vec![0.5], 1).unwrap();
/// // dE/db_2 = 1 and dE/dw_2 = tanh(0.5)
/// let mut g = vec![vec![0.0], vec![0.0], vec![0.0], vec![0.0]];
/// hand.add_weighted_energy_grad(&x, &[1.0], &mut g).unwrap();
/// assert_eq!(g[3][0], 1.0);
/// assert!((g[2][0] - 0.5f64.tanh()).abs() < 1e-15);
/// ```
pub struct HandMlp {
    mlp: Mlp,
    work: Precision,
    /// The parameters' buffers of [`EnergyCapability::update_params`]: a
    /// copy of the MLP's parameters, kept equal to them while `mirrored`.
    values: Vec<Vec<f64>>,
    mirrored: bool,
}

impl HandMlp {
    /// `mlp`, with its fused score pass in f64.
    pub fn new(mlp: Mlp) -> Self {
        Self {
            work: Precision::F64(Workspace::new(&mlp.widths())),
            mlp,
            values: Vec::new(),
            mirrored: false,
        }
    }

    /// `mlp`, with the matrix products and work buffers of its fused score
    /// pass in f32 (about twice as fast; gradients to f32 accuracy).
    pub fn in_f32(mlp: Mlp) -> Self {
        Self {
            work: Precision::F32(Workspace::new(&mlp.widths())),
            mlp,
            values: Vec::new(),
            mirrored: false,
        }
    }

    /// The MLP with the current parameters.
    pub fn mlp(&self) -> &Mlp {
        &self.mlp
    }

    /// Refuse gradient buffers that do not have the parameters' layout.
    fn check_grads(&self, grads: &[Vec<f64>]) -> Result<()> {
        let want = self.mlp.layers().iter().flat_map(|l| [l.w.len(), l.b.len()]);
        if grads.len() != 2 * self.mlp.layers().len() || grads.iter().map(Vec::len).ne(want) {
            return Err(EstimatorError::Unsupported(
                "gradient buffers must have the layout of the parameters, [W_1, b_1, ..., W_L, b_L]".into(),
            ));
        }
        Ok(())
    }
}

impl Clone for HandMlp {
    /// The same MLP and precision, with fresh buffers.
    fn clone(&self) -> Self {
        match self.work {
            Precision::F64(_) => Self::new(self.mlp.clone()),
            Precision::F32(_) => Self::in_f32(self.mlp.clone()),
        }
    }
}

impl ScoreCapability for HandMlp {
    fn scores(&mut self, x: &Points) -> Vec<f64> {
        super::scores_from_gradients(&self.mlp, x)
    }

    /// The fused pass of [`super::mlp_score`].
    fn add_score_loss_grad(
        &mut self,
        x: &Points,
        loss: &dyn ScoreLoss,
        grads: &mut [Vec<f64>],
    ) -> Result<f64> {
        if x.dim() != Energy::dim(&self.mlp) {
            return Err(EstimatorError::Data(format!(
                "rows have {} columns, the MLP has dimension {}",
                x.dim(),
                Energy::dim(&self.mlp)
            )));
        }
        self.check_grads(grads)?;
        Ok(match &mut self.work {
            Precision::F64(w) => w.score_loss_grad(&self.mlp, x.as_slice(), loss, grads),
            Precision::F32(w) => w.score_loss_grad(&self.mlp, x.as_slice(), loss, grads),
        })
    }

    /// The second-order pass of [`super::mlp_trace`] (in f64 whatever
    /// the score pass's precision).
    fn add_weighted_laplacian_grad(
        &mut self,
        x: &Points,
        weight: f64,
        grads: &mut [Vec<f64>],
    ) -> Option<Result<f64>> {
        Some(self.check_grads(grads).and_then(|()| {
            if x.dim() != Energy::dim(&self.mlp) {
                return Err(EstimatorError::Data(format!(
                    "rows have {} columns, the MLP has dimension {}",
                    x.dim(),
                    Energy::dim(&self.mlp)
                )));
            }
            Ok(super::mlp_trace::add_laplacian_grad(&self.mlp, x, weight, grads))
        }))
    }
}

/// The hand-written MLP: E = w_L . h_{L-1} + b_L with h_l = act(W_l
/// h_{l-1} + b_l). For a weighted sum S = sum_i w_i E(x_i), backward from
/// the output: dS/db_L = sum_i w_i, dS/dw_L = sum_i w_i h_{L-1,i};
/// delta_{L-1} = w_i w_L * act'(z_{L-1}); then for l = L-1..1:
/// dS/dW_l = delta_l^T H_{l-1}, dS/db_l = column sums of delta_l, and
/// delta_{l-1} = (delta_l W_l) * act'(z_{l-1}). Parameters:
/// `[W_1, b_1, ..., W_L, b_L]`, W_l row-major (outputs x inputs).
impl EnergyCapability for HandMlp {
    fn dim(&self) -> usize {
        Energy::dim(&self.mlp)
    }

    fn param_shapes(&mut self) -> Vec<Vec<usize>> {
        self.mlp
            .layers()
            .iter()
            .flat_map(|l| [vec![l.n_out, l.n_in], vec![l.n_out]])
            .collect()
    }

    fn params(&mut self) -> Vec<Vec<f64>> {
        self.mlp
            .layers()
            .iter()
            .flat_map(|l| [l.w.clone(), l.b.clone()])
            .collect()
    }

    fn set_params(&mut self, values: &[Vec<f64>]) -> Result<()> {
        self.mirrored = false;
        Ok(self.mlp.set_params(values)?)
    }

    /// In place: the parameters are stepped in a copy kept between steps
    /// (equal to the MLP's after a step, so it is refreshed only after
    /// [`EnergyCapability::set_params`]) and copied into the MLP if finite;
    /// no allocation. A refused step leaves both as they were.
    fn update_params(&mut self, step: &mut dyn FnMut(&mut [Vec<f64>])) -> Result<()> {
        if !self.mirrored {
            self.values.resize_with(2 * self.mlp.layers().len(), Vec::new);
            for (v, layer) in self.values.chunks_exact_mut(2).zip(self.mlp.layers()) {
                v[0].clone_from(&layer.w);
                v[1].clone_from(&layer.b);
            }
        }
        step(&mut self.values);
        let result = self.mlp.set_params(&self.values);
        // the copy is the MLP's again, unless the step was refused
        self.mirrored = result.is_ok();
        Ok(result?)
    }

    fn energies(&mut self, x: &Points) -> Vec<f64> {
        let mut e = vec![0.0; x.len()];
        self.mlp.energy_batch(x.as_slice(), &mut e);
        e
    }

    fn add_weighted_energy_grad(&mut self, x: &Points, w: &[f64], grads: &mut [Vec<f64>]) -> Result<()> {
        let n = x.len();
        if w.len() != n {
            return Err(EstimatorError::Data(format!("{} weights for {n} rows", w.len())));
        }
        self.check_grads(grads)?;
        let layers = self.mlp.layers();
        let depth = layers.len();
        let trace = self.mlp.forward(x.as_slice(), n);
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
        EnergySpec::from(&self.mlp)
    }

    fn score(&mut self) -> Option<&mut dyn ScoreCapability> {
        Some(self)
    }

    fn with_target(&mut self, f: &mut dyn FnMut(Target<'_>) -> Result<Points>) -> Option<Result<Points>> {
        Some(f(Target::Continuous(&self.mlp)))
    }
}
