//! Sliced score matching (Song, Garg, Shi and Ermon 2019): Hyvarinen's
//! score matching with the trace of the score's Jacobian replaced by its
//! projection on random directions v (E[v v^T] = I),
//!
//! J = mean_i mean_v [ v^T grad_x s(x_i) v + 1/2 (v^T s(x_i))^2 ],
//!
//! or, in the variance-reduced form, 1/2 |s(x_i)|^2 for the second term
//! (its expectation over v). The directional derivative is taken by
//! central differences of the score (FD-SSM, Pang et al. 2020),
//!
//! v^T grad_x s(x) v = v^T (s(x + h v) - s(x - h v)) / (2h) + O(h^2),
//!
//! exact for the affine scores of Gaussians and within O(h^2) otherwise,
//! so every row's term is a function of one score and the objective runs
//! on the score capability as it stands ([`ScoreLoss`]): three rows per
//! datum and direction (x + h v, x - h v, x), each with the parameter
//! gradient of its own score. Directions are standard normal or
//! Rademacher (+-1 per coordinate).

use crate::capability::{CapabilityObjective, EnergyCapability, ScoreLoss};
use crate::error::{config, EstimatorError, Result};
use ebm_core::{ChainRng, Points};
use rand::Rng;
use rand_distr::StandardNormal;

/// The distribution of the projection directions.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Projection {
    /// v ~ N(0, I).
    Gaussian,
    /// Each coordinate +1 or -1 with probability 1/2.
    Rademacher,
}

/// Sliced score matching (module documentation).
#[derive(Clone, Debug)]
pub struct SlicedScoreMatching {
    projection: Projection,
    /// Directions per datum.
    slices: usize,
    /// Use 1/2 |s|^2 for the second term.
    variance_reduced: bool,
    /// The central difference's step h.
    step: f64,
    rows: Points,
    dirs: Vec<f64>,
}

impl SlicedScoreMatching {
    /// SSM with `slices` directions per datum from `projection`, the
    /// variance-reduced form when `variance_reduced`, and finite-difference
    /// step `step` (1e-3 is a good default for data of unit scale).
    pub fn new(projection: Projection, slices: usize, variance_reduced: bool, step: f64) -> Result<Self> {
        if slices == 0 {
            return Err(config("slices", "need at least 1 direction per datum"));
        }
        if !(step.is_finite() && step > 0.0) {
            return Err(config(
                "fd_step",
                format!("must be positive and finite, got {step}"),
            ));
        }
        Ok(Self {
            projection,
            slices,
            variance_reduced,
            step,
            rows: Points::zeros(0, 1),
            dirs: Vec::new(),
        })
    }
}

/// Each row's term: row 3k is x + h v, 3k + 1 is x - h v, 3k + 2 is x, for
/// the k-th (datum, direction) pair with direction `dirs[k]`.
struct SsmRows<'a> {
    dirs: &'a [f64],
    /// 1 / (n slices).
    scale: f64,
    half_inv_h: f64,
    variance_reduced: bool,
}

impl ScoreLoss for SsmRows<'_> {
    fn row(&self, i: usize, score: &[f64], ds: &mut [f64]) -> f64 {
        let d = score.len();
        let v = &self.dirs[(i / 3) * d..(i / 3 + 1) * d];
        let vs: f64 = v.iter().zip(score).map(|(a, b)| a * b).sum();
        match i % 3 {
            // +-v^T s / (2h)
            0 | 1 => {
                let sign = if i % 3 == 0 { 1.0 } else { -1.0 };
                let c = sign * self.scale * self.half_inv_h;
                ds.iter_mut().zip(v).for_each(|(g, a)| *g = c * a);
                c * vs
            }
            _ if self.variance_reduced => {
                ds.iter_mut().zip(score).for_each(|(g, s)| *g = self.scale * s);
                0.5 * self.scale * score.iter().map(|s| s * s).sum::<f64>()
            }
            _ => {
                ds.iter_mut().zip(v).for_each(|(g, a)| *g = self.scale * vs * a);
                0.5 * self.scale * vs * vs
            }
        }
    }
}

impl CapabilityObjective for SlicedScoreMatching {
    fn name(&self) -> String {
        "ssm".into()
    }

    fn settings(&self) -> String {
        format!(
            "{:?} projections x {}, variance reduced {}, step {}",
            self.projection, self.slices, self.variance_reduced, self.step
        )
    }

    fn loss_grad(
        &mut self,
        model: &mut dyn EnergyCapability,
        batch: &Points,
        rng: &mut ChainRng,
        grads: &mut [Vec<f64>],
    ) -> Result<f64> {
        let score = model.score().ok_or_else(|| {
            EstimatorError::Unsupported("sliced score matching needs a model with a score".into())
        })?;
        let (n, d, h) = (batch.len(), batch.dim(), self.step);
        let pairs = n * self.slices;
        self.dirs.clear();
        let mut rows = std::mem::replace(&mut self.rows, Points::zeros(0, 1)).into_vec();
        rows.clear();
        rows.reserve(3 * pairs * d);
        for x in batch.rows() {
            for _ in 0..self.slices {
                let start = self.dirs.len();
                for _ in 0..d {
                    self.dirs.push(match self.projection {
                        Projection::Gaussian => rng.sample(StandardNormal),
                        Projection::Rademacher => {
                            if rng.random::<bool>() {
                                1.0
                            } else {
                                -1.0
                            }
                        }
                    });
                }
                let v = &self.dirs[start..];
                rows.extend(x.iter().zip(v).map(|(a, b)| a + h * b));
                rows.extend(x.iter().zip(v).map(|(a, b)| a - h * b));
                rows.extend_from_slice(x);
            }
        }
        self.rows = Points::from_vec(rows, d)?;
        let loss = SsmRows {
            dirs: &self.dirs,
            scale: 1.0 / pairs as f64,
            half_inv_h: 0.5 / h,
            variance_reduced: self.variance_reduced,
        };
        score.add_score_loss_grad(&self.rows, &loss, grads)
    }
}
