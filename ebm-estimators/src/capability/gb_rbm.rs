//! The hand-written Gaussian-Bernoulli RBM: ebm-core's [`GbRbm`] with the
//! energy capability on its free energy.

use super::traits::EnergyCapability;
use crate::error::{EstimatorError, Result};
use ebm_core::energies::GbRbm;
use ebm_core::math::sigmoid;
use ebm_core::{EnergySpec, Points};
use ebm_samplers::Target;

/// ebm-core's [`GbRbm`] with the energy capability, on the free energy
/// F(v) = sum_i (v_i - b_i)^2 / (2 sigma_i^2) - sum_j softplus(a_j),
/// a_j = c_j + sum_i (v_i / sigma_i) w_ij:
///
/// dF/dw_ij = -(v_i / sigma_i) sigmoid(a_j),  dF/db_i = -(v_i - b_i) / sigma_i^2,
/// dF/dc_j = -sigmoid(a_j).
///
/// Parameters: `[W (V x H), b (V), c (H)]`; the scales sigma stay as
/// given (the usual practice: data standardised, sigma fixed). As a
/// sampling target it is the continuous model itself, which block Gibbs
/// ([`ebm_samplers::gibbs::Gibbs`]) moves exactly: PCD with Gibbs
/// negatives is `MaxLikelihood` over `ChainNegatives` with that kernel.
///
/// ```
/// use ebm_core::{Points, energies::GbRbm};
/// use ebm_estimators::capability::{EnergyCapability, HandGbRbm};
/// let m = GbRbm::new(1, 1, vec![0.0], vec![0.5], vec![0.0], vec![2.0]).unwrap();
/// let mut hand = HandGbRbm::new(m);
/// let v = Points::from_vec(vec![1.5], 1).unwrap();
/// let mut g = vec![vec![0.0], vec![0.0], vec![0.0]];
/// hand.add_weighted_energy_grad(&v, &[1.0], &mut g).unwrap();
/// assert_eq!(g[1], vec![-0.25]); // -(v - b) / sigma^2
/// assert_eq!(g[2], vec![-0.5]); // -sigmoid(0)
/// ```
#[derive(Clone, Debug)]
pub struct HandGbRbm {
    model: GbRbm,
}

impl HandGbRbm {
    /// `model` with its capability.
    pub fn new(model: GbRbm) -> Self {
        Self { model }
    }

    /// The model with the current parameters.
    pub fn model(&self) -> &GbRbm {
        &self.model
    }

    fn check(&self, x: &Points) -> Result<()> {
        if x.dim() != self.model.n_visible() {
            return Err(EstimatorError::Data(format!(
                "rows have {} columns, the model has {} visible units",
                x.dim(),
                self.model.n_visible()
            )));
        }
        Ok(())
    }
}

impl EnergyCapability for HandGbRbm {
    fn dim(&self) -> usize {
        self.model.n_visible()
    }

    fn param_shapes(&mut self) -> Vec<Vec<usize>> {
        let (nv, nh) = (self.model.n_visible(), self.model.n_hidden());
        vec![vec![nv, nh], vec![nv], vec![nh]]
    }

    fn params(&mut self) -> Vec<Vec<f64>> {
        vec![
            self.model.weights().to_vec(),
            self.model.visible_bias().to_vec(),
            self.model.hidden_bias().to_vec(),
        ]
    }

    fn set_params(&mut self, values: &[Vec<f64>]) -> Result<()> {
        let (nv, nh) = (self.model.n_visible(), self.model.n_hidden());
        let [w, b, c] = values else {
            return Err(EstimatorError::Unsupported(
                "a Gaussian-Bernoulli RBM has three parameter tensors, [W, b, c]".into(),
            ));
        };
        self.model = GbRbm::new(
            nv,
            nh,
            w.clone(),
            b.clone(),
            c.clone(),
            self.model.sigma().to_vec(),
        )?;
        Ok(())
    }

    fn energies(&mut self, x: &Points) -> Vec<f64> {
        if self.check(x).is_err() {
            return vec![f64::NAN; x.len()];
        }
        x.rows()
            .map(|v| ebm_core::Energy::energy(&self.model, v))
            .collect()
    }

    fn add_weighted_energy_grad(&mut self, x: &Points, w: &[f64], grads: &mut [Vec<f64>]) -> Result<()> {
        self.check(x)?;
        if w.len() != x.len() {
            return Err(EstimatorError::Data(format!(
                "{} weights for {} rows",
                w.len(),
                x.len()
            )));
        }
        let (nv, nh) = (self.model.n_visible(), self.model.n_hidden());
        let [gw, gb, gc] = grads else {
            return Err(EstimatorError::Unsupported(
                "gradient buffers must have the layout of the parameters, [W, b, c]".into(),
            ));
        };
        if gw.len() != nv * nh || gb.len() != nv || gc.len() != nh {
            return Err(EstimatorError::Unsupported(
                "gradient buffers must have the layout of the parameters, [W, b, c]".into(),
            ));
        }
        let (b, sigma) = (self.model.visible_bias(), self.model.sigma());
        let mut p = vec![0.0; nh];
        for (v, &wr) in x.rows().zip(w) {
            self.model.hidden_input(v, &mut p);
            p.iter_mut().for_each(|a| *a = wr * sigmoid(*a));
            for i in 0..nv {
                let s = v[i] / sigma[i];
                for (g, pj) in gw[i * nh..(i + 1) * nh].iter_mut().zip(&p) {
                    *g -= s * pj;
                }
                gb[i] -= wr * (v[i] - b[i]) / (sigma[i] * sigma[i]);
            }
            gc.iter_mut().zip(&p).for_each(|(g, pj)| *g -= pj);
        }
        Ok(())
    }

    fn to_spec(&mut self) -> EnergySpec {
        EnergySpec::from(&self.model)
    }

    fn with_target(&mut self, f: &mut dyn FnMut(Target<'_>) -> Result<Points>) -> Option<Result<Points>> {
        Some(f(Target::Continuous(&self.model)))
    }
}
