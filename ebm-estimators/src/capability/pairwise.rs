//! The hand-written pairwise binary model: ebm-core's [`Pairwise`] with
//! the energy capability.

use super::traits::EnergyCapability;
use crate::error::{EstimatorError, Result};
use ebm_core::energies::Pairwise;
use ebm_core::{BinaryEnergy, EnergySpec, Points};
use ebm_samplers::Target;

/// ebm-core's [`Pairwise`] model (a coupling J_k per listed pair (i, j),
/// a field h_i per site) with the energy capability. E(s) = -(sum_k J_k
/// s_i s_j + sum_i h_i s_i) is linear in the parameters:
///
/// dE/dJ_k = -s_i s_j,  dE/dh_i = -s_i,
///
/// so the gradient of S = sum_r w_r E(s_r) is -sum_r w_r s_ri s_rj and
/// -sum_r w_r s_ri. Parameters: `[J (one per listed pair, in order), h]`;
/// the graph is fixed. As a sampling target it is the binary model itself
/// (site Gibbs in SIMD lanes, Gibbs-with-gradients).
///
/// ```
/// use ebm_core::{Points, energies::{Pairwise, Spins}};
/// use ebm_estimators::capability::{EnergyCapability, HandPairwise};
/// let m = Pairwise::new(2, Spins::Pm1, vec![(0, 1, 0.5)], vec![0.1, 0.0]).unwrap();
/// let mut hand = HandPairwise::new(m);
/// let s = Points::from_vec(vec![1.0, -1.0], 2).unwrap();
/// assert_eq!(hand.energies(&s)[0], 0.5 - 0.1);
/// let mut g = vec![vec![0.0; 1], vec![0.0; 2]];
/// hand.add_weighted_energy_grad(&s, &[2.0], &mut g).unwrap();
/// assert_eq!(g, vec![vec![2.0], vec![-2.0, 2.0]]);
/// ```
#[derive(Clone, Debug)]
pub struct HandPairwise {
    model: Pairwise,
}

impl HandPairwise {
    /// `model` with its capability.
    pub fn new(model: Pairwise) -> Self {
        Self { model }
    }

    /// The model with the current parameters.
    pub fn model(&self) -> &Pairwise {
        &self.model
    }

    fn check(&self, x: &Points) -> Result<()> {
        if x.dim() != self.model.n() {
            return Err(EstimatorError::Data(format!(
                "rows have {} columns, the model has {} sites",
                x.dim(),
                self.model.n()
            )));
        }
        Ok(())
    }
}

impl EnergyCapability for HandPairwise {
    fn dim(&self) -> usize {
        self.model.n()
    }

    fn param_shapes(&mut self) -> Vec<Vec<usize>> {
        vec![vec![self.model.couplings().len()], vec![self.model.n()]]
    }

    fn params(&mut self) -> Vec<Vec<f64>> {
        vec![
            self.model.couplings().iter().map(|c| c.2).collect(),
            self.model.fields().to_vec(),
        ]
    }

    fn set_params(&mut self, values: &[Vec<f64>]) -> Result<()> {
        let [j, h] = values else {
            return Err(EstimatorError::Unsupported(
                "a pairwise model has two parameter tensors, [J, h]".into(),
            ));
        };
        Ok(self.model.set_values(j, h)?)
    }

    fn energies(&mut self, x: &Points) -> Vec<f64> {
        if self.check(x).is_err() {
            return vec![f64::NAN; x.len()];
        }
        x.rows().map(|s| self.model.energy(s)).collect()
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
        let m = self.model.couplings().len();
        let [gj, gh] = grads else {
            return Err(EstimatorError::Unsupported(
                "gradient buffers must have the layout of the parameters, [J, h]".into(),
            ));
        };
        if gj.len() != m || gh.len() != self.model.n() {
            return Err(EstimatorError::Unsupported(
                "gradient buffers must have the layout of the parameters, [J, h]".into(),
            ));
        }
        for (s, &wr) in x.rows().zip(w) {
            for (g, &(i, j, _)) in gj.iter_mut().zip(self.model.couplings()) {
                *g -= wr * s[i] * s[j];
            }
            for (g, &si) in gh.iter_mut().zip(s) {
                *g -= wr * si;
            }
        }
        Ok(())
    }

    fn to_spec(&mut self) -> EnergySpec {
        EnergySpec::from(&self.model)
    }

    fn with_target(&mut self, f: &mut dyn FnMut(Target<'_>) -> Result<Points>) -> Option<Result<Points>> {
        Some(f(Target::Binary(&self.model)))
    }
}
