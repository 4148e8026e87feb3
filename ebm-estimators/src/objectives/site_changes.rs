//! What pseudo-likelihood and ratio matching share: every single-site
//! change of every row of a batch of discrete data, and its energy change.

use crate::capability::EnergyCapability;
use crate::error::{EstimatorError, Result};
use ebm_core::Points;
use ebm_samplers::Target;

/// The states of a discrete model's sites, learned from the model as a
/// sampling target.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Sites {
    /// Every unit takes `lo` or `hi`.
    Binary(f64, f64),
    /// Site i takes 0..q_i.
    Categorical(Vec<usize>),
}

impl Sites {
    /// The sites of `model`; an error naming `objective` for a
    /// continuous model (or one that cannot be a sampling target).
    pub(crate) fn of(model: &mut dyn EnergyCapability, objective: &str) -> Result<Self> {
        let mut sites = None;
        let _ = model.with_target(&mut |t| {
            sites = match t {
                Target::Binary(m) => {
                    let (lo, hi) = m.states();
                    Some(Sites::Binary(lo, hi))
                }
                Target::Categorical(m) => {
                    Some(Sites::Categorical((0..m.dim()).map(|i| m.states(i)).collect()))
                }
                Target::Continuous(_) => None,
            };
            Ok(Points::zeros(0, 1))
        });
        sites.ok_or_else(|| {
            EstimatorError::Unsupported(format!(
                "{objective} needs a discrete model (rbm, pairwise, potts, categorical): it compares each datum with its single-site changes"
            ))
        })
    }

    /// The sites of `model` (as [`Sites::of`]), checked against every row
    /// of `data` (as [`Sites::check`]): what an objective's `prepare` does.
    pub(crate) fn prepared(model: &mut dyn EnergyCapability, data: &Points, objective: &str) -> Result<Self> {
        let sites = Self::of(model, objective)?;
        sites.check(data)?;
        Ok(sites)
    }

    /// Check that every value of `data` is a state of its site; the error
    /// names the row and column (from 1).
    pub(crate) fn check(&self, data: &Points) -> Result<()> {
        for (r, row) in data.rows().enumerate() {
            for (i, &v) in row.iter().enumerate() {
                let ok = match self {
                    Sites::Binary(lo, hi) => v == *lo || v == *hi,
                    Sites::Categorical(q) => v >= 0.0 && v < q[i] as f64 && v.fract() == 0.0,
                };
                if !ok {
                    let states = match self {
                        Sites::Binary(lo, hi) => format!("{lo} or {hi}"),
                        Sites::Categorical(q) => format!("an integer from 0 to {}", q[i] - 1),
                    };
                    return Err(EstimatorError::Data(format!(
                        "row {}, column {}: value {v} is not a state of this site ({states})",
                        r + 1,
                        i + 1
                    )));
                }
            }
        }
        Ok(())
    }
}

/// Every single-site change of every row of a batch: the changed rows,
/// and for each its row and site.
pub(crate) struct SiteChanges {
    /// The changed rows, one per (row, site, other state), rows in
    /// order, then sites, then states.
    pub(crate) rows: Points,
    /// (row, site) of each changed row.
    pub(crate) of: Vec<(usize, usize)>,
    /// E(changed row) - E(its row).
    pub(crate) delta: Vec<f64>,
}

impl SiteChanges {
    /// The changes of `batch` under the sites an objective named
    /// `objective` prepared (an error if it was not prepared), with their
    /// energy changes from `model`.
    pub(crate) fn of_batch(
        sites: Option<&Sites>,
        objective: &str,
        model: &mut dyn EnergyCapability,
        batch: &Points,
    ) -> Result<Self> {
        let sites =
            sites.ok_or_else(|| EstimatorError::Unsupported(format!("{objective} used before prepare")))?;
        let e0 = model.energies(batch);
        Self::of(sites, model, batch, &e0)
    }

    /// The changes of `batch` under `sites`, with their energy changes
    /// from `model` (its energies of the batch are `e0`).
    fn of(sites: &Sites, model: &mut dyn EnergyCapability, batch: &Points, e0: &[f64]) -> Result<Self> {
        let d = batch.dim();
        let mut rows = Vec::new();
        let mut of = Vec::new();
        for (r, x) in batch.rows().enumerate() {
            for i in 0..d {
                match sites {
                    Sites::Binary(lo, hi) => {
                        rows.extend_from_slice(x);
                        let at = rows.len() - d + i;
                        rows[at] = lo + hi - x[i];
                        of.push((r, i));
                    }
                    Sites::Categorical(q) => {
                        for a in (0..q[i]).filter(|&a| a as f64 != x[i]) {
                            rows.extend_from_slice(x);
                            let at = rows.len() - d + i;
                            rows[at] = a as f64;
                            of.push((r, i));
                        }
                    }
                }
            }
        }
        let rows = Points::from_vec(rows, d)?;
        let e = model.energies(&rows);
        let delta = e.iter().zip(&of).map(|(e, &(r, _))| e - e0[r]).collect();
        Ok(Self { rows, of, delta })
    }

    /// The batch followed by the changed rows, with `w0` on the batch's
    /// rows and `w` on the changed ones: one weighted energy gradient.
    pub(crate) fn add_grad(
        &self,
        model: &mut dyn EnergyCapability,
        batch: &Points,
        w0: &[f64],
        w: &[f64],
        grads: &mut [Vec<f64>],
    ) -> Result<()> {
        model.add_weighted_energy_grad(batch, w0, grads)?;
        model.add_weighted_energy_grad(&self.rows, w, grads)
    }
}
