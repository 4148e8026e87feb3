//! The hand-written categorical pairwise model (Potts models and models
//! with a coupling matrix per edge) with the energy capability.

use super::traits::EnergyCapability;
use crate::error::{EstimatorError, Result};
use ebm_core::categorical::CategoricalEnergy;
use ebm_core::energies::CategoricalPairwise;
use ebm_core::{EnergySpec, Points};
use ebm_samplers::Target;

/// ebm-core's [`CategoricalPairwise`] with the energy capability. Its
/// energy E(a) = -(sum_edges W_ij(a_i, a_j) + sum_i h_i(a_i)) is linear in
/// the parameters, which are
///
/// * for a model built as a Potts model: `[J (one per listed pair), h (n x q)]`,
///   with dE/dJ_k = -[a_i = a_j] and dE/dh_i(a) = -[a_i = a];
/// * otherwise: `[W (every edge's matrix, in order, row-major), h (q_i per site)]`,
///   with dE/dW_ij(a, b) = -[a_i = a][a_j = b].
///
/// The graph and the numbers of states are fixed. As a sampling target it
/// is the categorical model itself.
#[derive(Clone, Debug)]
pub struct HandCategorical {
    model: CategoricalPairwise,
}

impl HandCategorical {
    /// `model` with its capability.
    pub fn new(model: CategoricalPairwise) -> Self {
        Self { model }
    }

    /// The model with the current parameters.
    pub fn model(&self) -> &CategoricalPairwise {
        &self.model
    }

    /// Where site i's fields start in the flat field tensor.
    fn field_offsets(&self) -> Vec<usize> {
        let mut off = vec![0];
        for &q in self.model.q() {
            off.push(off[off.len() - 1] + q);
        }
        off
    }

    fn check(&self, x: &Points) -> Result<()> {
        if x.dim() != self.model.n() {
            return Err(EstimatorError::Data(format!(
                "rows have {} columns, the model has {} sites",
                x.dim(),
                self.model.n()
            )));
        }
        ebm_core::categorical::check_states(&self.model, x.as_slice())?;
        Ok(())
    }
}

impl EnergyCapability for HandCategorical {
    fn dim(&self) -> usize {
        self.model.n()
    }

    fn param_shapes(&mut self) -> Vec<Vec<usize>> {
        self.params().iter().map(|p| vec![p.len()]).collect()
    }

    fn params(&mut self) -> Vec<Vec<f64>> {
        let fields: Vec<f64> = (0..self.model.n())
            .flat_map(|i| self.model.fields_of(i).to_vec())
            .collect();
        match self.model.potts_form() {
            Some((_, couplings)) => vec![couplings.iter().map(|c| c.2).collect(), fields],
            None => vec![
                self.model.edges().iter().flat_map(|e| e.2.clone()).collect(),
                fields,
            ],
        }
    }

    fn set_params(&mut self, values: &[Vec<f64>]) -> Result<()> {
        let [couplings, fields] = values else {
            return Err(EstimatorError::Unsupported(
                "a categorical model has two parameter tensors, [couplings, fields]".into(),
            ));
        };
        let off = self.field_offsets();
        if fields.len() != off[off.len() - 1] {
            return Err(EstimatorError::Unsupported(format!(
                "the fields take {} values, got {}",
                off[off.len() - 1],
                fields.len()
            )));
        }
        let rows: Vec<Vec<f64>> = off.windows(2).map(|w| fields[w[0]..w[1]].to_vec()).collect();
        let q = self.model.q().to_vec();
        self.model = match self.model.potts_form() {
            Some((states, old)) => {
                if couplings.len() != old.len() {
                    return Err(EstimatorError::Unsupported(format!(
                        "the Potts couplings take {} values, got {}",
                        old.len(),
                        couplings.len()
                    )));
                }
                let c: Vec<_> = old
                    .iter()
                    .zip(couplings)
                    .map(|(&(i, j, _), &v)| (i, j, v))
                    .collect();
                CategoricalPairwise::potts(q.len(), states, &c, Some(&rows))?
            }
            None => {
                let mut at = 0;
                let mut edges = Vec::with_capacity(self.model.edges().len());
                for (i, j, w) in self.model.edges() {
                    let block = couplings.get(at..at + w.len()).ok_or_else(|| {
                        EstimatorError::Unsupported("the coupling matrices take more values".into())
                    })?;
                    edges.push((*i, *j, block.chunks(q[*j]).map(<[f64]>::to_vec).collect()));
                    at += w.len();
                }
                if at != couplings.len() {
                    return Err(EstimatorError::Unsupported(format!(
                        "the coupling matrices take {at} values, got {}",
                        couplings.len()
                    )));
                }
                CategoricalPairwise::new(q, &edges, Some(&rows))?
            }
        };
        Ok(())
    }

    fn energies(&mut self, x: &Points) -> Vec<f64> {
        if self.check(x).is_err() {
            return vec![f64::NAN; x.len()];
        }
        x.rows().map(|a| self.model.energy(a)).collect()
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
        let off = self.field_offsets();
        let q = self.model.q();
        let [gc, gh] = grads else {
            return Err(EstimatorError::Unsupported(
                "gradient buffers must have the layout of the parameters, [couplings, fields]".into(),
            ));
        };
        // where each edge's matrix starts (general form)
        let mut starts = Vec::with_capacity(self.model.edges().len());
        let mut at = 0;
        for e in self.model.edges() {
            starts.push(at);
            at += e.2.len();
        }
        for (a, &wr) in x.rows().zip(w) {
            for (i, &ai) in a.iter().enumerate() {
                gh[off[i] + ai as usize] -= wr;
            }
            match self.model.potts_form() {
                Some((_, couplings)) => {
                    for (g, &(i, j, _)) in gc.iter_mut().zip(couplings) {
                        if a[i] == a[j] {
                            *g -= wr;
                        }
                    }
                }
                None => {
                    for ((i, j, _), &s) in self.model.edges().iter().zip(&starts) {
                        gc[s + a[*i] as usize * q[*j] + a[*j] as usize] -= wr;
                    }
                }
            }
        }
        Ok(())
    }

    fn to_spec(&mut self) -> EnergySpec {
        EnergySpec::from(&self.model)
    }

    fn with_target(&mut self, f: &mut dyn FnMut(Target<'_>) -> Result<Points>) -> Option<Result<Points>> {
        Some(f(Target::Categorical(&self.model)))
    }
}
