//! The hand-written Bernoulli RBM: ebm-core's [`Rbm`] with the energy
//! capability on its free energy, written out by hand.

use super::traits::{EnergyCapability, PcdSettings, PcdStep};
use crate::engine::StepOutcome;
use crate::error::{EstimatorError, Result};
use crate::objective_state::ObjectiveState;
use crate::rbm_pcd::{of_f64, to_f64, RbmPcd, RbmPcdChains, RbmPcdConfig};
use crate::trainable::Real;
use ebm_core::energies::Rbm;
use ebm_core::math::sigmoid;
use ebm_core::{EnergySpec, Points};
use ebm_samplers::Target;
use faer::{Accum, MatMut, MatRef, Par};

/// ebm-core's [`Rbm`] with the energy capability by hand, on the free
/// energy F(v) = -b.v - sum_j softplus(a_j), a = c + v^T W. Its
/// parameter gradient is
///
/// dF/dW = -v sigmoid(a)^T,  dF/db = -v,  dF/dc = -sigmoid(a),
///
/// so for a weighted sum S = sum_i w_i F(v_i): dS/dW = -V^T diag(w) P,
/// dS/db = -V^T w, dS/dc = -P^T w, with P_ij = p(h_j = 1 | v_i) (one
/// faer product for W). The conditionals are the RBM's own
/// ([`Rbm::hidden_input`]). Parameters: `[W (V x H), b (V), c (H)]`. As a
/// sampling target it is the binary model itself (block Gibbs).
///
/// Its block-Gibbs structure gives it the closed-form PCD step
/// ([`PcdStep`], the loops of [`crate::rbm_pcd`]), in f64 or, made with
/// [`HandRbm::in_f32`], in f32; while its chains run, the step's
/// parameters are the model's.
///
/// ```
/// use ebm_core::{Points, energies::Rbm};
/// use ebm_estimators::capability::{EnergyCapability, HandRbm};
/// let rbm = Rbm::new(2, 1, vec![1.0, -1.0], vec![0.5, 0.0], vec![0.0]).unwrap();
/// let mut hand = HandRbm::new(rbm);
/// let v = Points::from_vec(vec![1.0, 0.0], 2).unwrap();
/// // F(1, 0) = -0.5 - softplus(1)
/// let f = hand.energies(&v)[0];
/// assert!((f + 0.5 + (1.0f64.exp()).ln_1p()).abs() < 1e-15);
/// let mut g = vec![vec![0.0; 2], vec![0.0; 2], vec![0.0; 1]];
/// hand.add_weighted_energy_grad(&v, &[1.0], &mut g).unwrap();
/// assert_eq!(g[1], vec![-1.0, 0.0]); // dF/db = -v
/// ```
#[derive(Clone, Debug)]
pub struct HandRbm {
    rbm: Rbm,
    single: bool,
    /// The PCD step's state once started; its parameters are then the
    /// model's, and `rbm` follows them when `stale` is cleared.
    pcd: Option<Pcd>,
    stale: bool,
}

/// The PCD step in the model's float type.
#[derive(Clone, Debug)]
enum Pcd {
    F64(RbmPcd<f64>),
    F32(RbmPcd<f32>),
}

impl HandRbm {
    /// `rbm` with its capability (a PCD step in f64).
    pub fn new(rbm: Rbm) -> Self {
        Self {
            rbm,
            single: false,
            pcd: None,
            stale: false,
        }
    }

    /// `rbm` with its capability, its PCD step in f32 (parameters, chain
    /// states and products in single precision; see [`crate::rbm_pcd`]).
    /// The other capabilities stay in f64.
    pub fn in_f32(rbm: Rbm) -> Self {
        Self {
            single: true,
            ..Self::new(rbm)
        }
    }

    /// The RBM with the current parameters.
    pub fn rbm(&mut self) -> &Rbm {
        self.sync();
        &self.rbm
    }

    /// Bring `rbm` up to the PCD step's parameters.
    fn sync(&mut self) {
        if std::mem::take(&mut self.stale) {
            if let Some(p) = &self.pcd {
                self.rbm = match p {
                    Pcd::F64(p) => p.rbm(),
                    Pcd::F32(p) => p.rbm(),
                };
            }
        }
    }

    /// The hidden pre-activations a_i = c + v_i^T W of every row (n x H).
    fn hidden_inputs(&self, x: &Points) -> Vec<f64> {
        let nh = self.rbm.n_hidden();
        let mut a = vec![0.0; x.len() * nh];
        for (v, out) in x.rows().zip(a.chunks_exact_mut(nh)) {
            self.rbm.hidden_input(v, out);
        }
        a
    }

    fn check(&self, x: &Points) -> Result<()> {
        if x.dim() != self.rbm.n_visible() {
            return Err(EstimatorError::Data(format!(
                "rows have {} columns, the RBM has {} visible units",
                x.dim(),
                self.rbm.n_visible()
            )));
        }
        Ok(())
    }
}

impl EnergyCapability for HandRbm {
    fn dim(&self) -> usize {
        self.rbm.n_visible()
    }

    fn param_shapes(&mut self) -> Vec<Vec<usize>> {
        let (nv, nh) = (self.rbm.n_visible(), self.rbm.n_hidden());
        vec![vec![nv, nh], vec![nv], vec![nh]]
    }

    fn params(&mut self) -> Vec<Vec<f64>> {
        match &self.pcd {
            Some(Pcd::F64(p)) => return pcd_params(p),
            Some(Pcd::F32(p)) => return pcd_params(p),
            None => {}
        }
        vec![
            self.rbm.weights().to_vec(),
            self.rbm.visible_bias().to_vec(),
            self.rbm.hidden_bias().to_vec(),
        ]
    }

    fn set_params(&mut self, values: &[Vec<f64>]) -> Result<()> {
        let [w, b, c] = values else {
            return Err(EstimatorError::Unsupported(format!(
                "an RBM has 3 parameter tensors (W, b, c), got {}",
                values.len()
            )));
        };
        let (nv, nh) = (self.rbm.n_visible(), self.rbm.n_hidden());
        if w.len() != nv * nh || b.len() != nv || c.len() != nh {
            return Err(EstimatorError::Unsupported(format!(
                "an RBM of {nv} x {nh} units needs W of {} entries, b of {nv}, c of {nh}",
                nv * nh
            )));
        }
        let rbm = Rbm::new(nv, nh, w.clone(), b.clone(), c.clone())?;
        match &mut self.pcd {
            Some(Pcd::F64(p)) => p.set_params(w, b, c)?,
            Some(Pcd::F32(p)) => p.set_params(&of_f64(w), &of_f64(b), &of_f64(c))?,
            None => {}
        }
        // in f32 the model is the rounded values
        self.rbm = rbm;
        self.stale = self.single && self.pcd.is_some();
        Ok(())
    }

    fn energies(&mut self, x: &Points) -> Vec<f64> {
        self.sync();
        if self.check(x).is_err() {
            return vec![f64::NAN; x.len()];
        }
        let nh = self.rbm.n_hidden();
        let a = self.hidden_inputs(x);
        x.rows()
            .zip(a.chunks_exact(nh))
            .map(|(v, a)| self.rbm.free_energy_from_input(v, a))
            .collect()
    }

    fn add_weighted_energy_grad(&mut self, x: &Points, w: &[f64], grads: &mut [Vec<f64>]) -> Result<()> {
        self.sync();
        self.check(x)?;
        let (n, nv, nh) = (x.len(), self.rbm.n_visible(), self.rbm.n_hidden());
        if w.len() != n {
            return Err(EstimatorError::Data(format!("{} weights for {n} rows", w.len())));
        }
        if grads.len() != 3 || grads[0].len() != nv * nh || grads[1].len() != nv || grads[2].len() != nh {
            return Err(EstimatorError::Unsupported(
                "gradient buffers must have the layout of the parameters, [W, b, c]".into(),
            ));
        }
        // P scaled by the row weights: w_i sigmoid(a_i)
        let mut wp = self.hidden_inputs(x);
        for (row, wi) in wp.chunks_exact_mut(nh).zip(w) {
            row.iter_mut().for_each(|a| *a = wi * sigmoid(*a));
        }
        // dW -= V^T (w P)
        faer::linalg::matmul::matmul(
            MatMut::from_row_major_slice_mut(&mut grads[0], nv, nh),
            Accum::Add,
            MatRef::from_row_major_slice(x.as_slice(), n, nv).transpose(),
            MatRef::from_row_major_slice(&wp, n, nh),
            -1.0,
            Par::Seq,
        );
        for ((v, wi), p) in x.rows().zip(w).zip(wp.chunks_exact(nh)) {
            grads[1].iter_mut().zip(v).for_each(|(g, vi)| *g -= wi * vi);
            grads[2].iter_mut().zip(p).for_each(|(g, pj)| *g -= pj);
        }
        Ok(())
    }

    fn to_spec(&mut self) -> EnergySpec {
        EnergySpec::from(self.rbm())
    }

    fn with_target(&mut self, f: &mut dyn FnMut(Target<'_>) -> Result<Points>) -> Option<Result<Points>> {
        Some(f(Target::Binary(self.rbm())))
    }

    fn pcd_step(&mut self) -> Option<&mut dyn PcdStep> {
        Some(self)
    }
}

/// The parameters of a PCD step as the capability's buffers (exact for f32).
fn pcd_params<F: Real>(p: &RbmPcd<F>) -> Vec<Vec<f64>> {
    let (w, b, c) = p.params();
    vec![to_f64(w), to_f64(b), to_f64(c)]
}

impl PcdStep for HandRbm {
    fn start(&mut self, pcd: PcdSettings, lr: f64, seed: u64) -> Result<()> {
        self.sync();
        let cfg = RbmPcdConfig {
            lr,
            chains: pcd.chains,
            sweeps: pcd.sweeps,
            seed,
        };
        self.pcd = Some(if self.single {
            Pcd::F32(RbmPcd::new(&self.rbm, &cfg)?)
        } else {
            Pcd::F64(RbmPcd::new(&self.rbm, &cfg)?)
        });
        // in f32 the step starts from the rounded parameters
        self.stale = self.single;
        Ok(())
    }

    fn step(&mut self, batch: &Points) -> Result<StepOutcome> {
        let result = match &mut self.pcd {
            Some(Pcd::F64(p)) => p.step(batch.as_slice()).map(|l| (l, p.last_grad_norm())),
            Some(Pcd::F32(p)) => p.step(batch.as_slice()).map(|l| (l, p.last_grad_norm())),
            None => return Err(not_started()),
        };
        match result {
            Ok((loss, grad_norm)) => {
                self.stale = true;
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

    fn chains(&self) -> ObjectiveState {
        let chains = match &self.pcd {
            Some(Pcd::F64(p)) => p.chains(),
            Some(Pcd::F32(p)) => p.chains(),
            None => return ObjectiveState::default(),
        };
        ObjectiveState {
            rngs: chains.rngs,
            chains: chains.hidden,
            ..ObjectiveState::default()
        }
    }

    fn restore_chains(&mut self, state: &ObjectiveState) -> Result<()> {
        let saved = RbmPcdChains {
            hidden: state.chains.clone(),
            rngs: state.rngs.clone(),
        };
        match &mut self.pcd {
            Some(Pcd::F64(p)) => p.restore_chains(&saved),
            Some(Pcd::F32(p)) => p.restore_chains(&saved),
            None => Err(not_started()),
        }
    }
}

fn not_started() -> EstimatorError {
    EstimatorError::Unsupported("the PCD step's chains are not started (PcdStep::start)".into())
}
