//! What a kernel samples: a continuous energy, a binary model or a
//! categorical one.

use ebm_core::spec::Model;
use ebm_core::{BinaryEnergy, CategoricalEnergy, Energy};

/// The distribution p(x) ∝ exp(-E(x)) a kernel moves chains on: a
/// continuous energy (x in R^D, with gradients) or a binary model (x in
/// {lo, hi}^D) or a categorical model (x_i in {0, ..., q_i - 1}). One
/// driver, one set of chains and one registry serve all three; each
/// kernel says which it accepts ([`crate::Kernel::check`]).
#[derive(Clone, Copy)]
pub enum Target<'a> {
    /// A continuous energy.
    Continuous(&'a dyn Energy),
    /// A binary model.
    Binary(&'a dyn BinaryEnergy),
    /// A categorical model.
    Categorical(&'a dyn CategoricalEnergy),
}

/// Which kind of state space a kernel or model has.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StateSpace {
    /// R^D, with gradients.
    Continuous,
    /// {lo, hi}^D.
    Binary,
    /// prod_i {0, ..., q_i - 1}.
    Categorical,
}

impl<'a> Target<'a> {
    /// Dimension D.
    pub fn dim(&self) -> usize {
        match self {
            Target::Continuous(e) => e.dim(),
            Target::Binary(b) => b.dim(),
            Target::Categorical(c) => c.dim(),
        }
    }

    /// Continuous, binary or categorical.
    pub fn space(&self) -> StateSpace {
        match self {
            Target::Continuous(_) => StateSpace::Continuous,
            Target::Binary(_) => StateSpace::Binary,
            Target::Categorical(_) => StateSpace::Categorical,
        }
    }

    /// The energy, when the target is continuous.
    pub fn energy(&self) -> Option<&'a dyn Energy> {
        match *self {
            Target::Continuous(e) => Some(e),
            Target::Binary(_) | Target::Categorical(_) => None,
        }
    }

    /// The binary model, when the target is binary.
    pub fn binary(&self) -> Option<&'a dyn BinaryEnergy> {
        match *self {
            Target::Binary(b) => Some(b),
            Target::Continuous(_) | Target::Categorical(_) => None,
        }
    }

    /// E of each row of `xs` into `out` for a binary or categorical target
    /// (their chains keep no energies); nothing for a continuous one.
    pub fn discrete_energy_batch(&self, xs: &[f64], out: &mut [f64]) {
        match self {
            Target::Binary(m) => m.energy_batch(xs, out),
            Target::Categorical(m) => m.energy_batch(xs, out),
            Target::Continuous(_) => {}
        }
    }

    /// log of the number of states of a discrete target, the log Z of the
    /// uniform reference: D log 2 for a binary model, sum_i log q_i for a
    /// categorical one; `None` for a continuous target.
    pub fn log_state_count(&self) -> Option<f64> {
        match self {
            Target::Binary(m) => Some(m.dim() as f64 * std::f64::consts::LN_2),
            Target::Categorical(m) => Some((0..m.dim()).map(|i| (m.states(i) as f64).ln()).sum()),
            Target::Continuous(_) => None,
        }
    }

    /// The categorical model, when the target is categorical.
    pub fn categorical(&self) -> Option<&'a dyn CategoricalEnergy> {
        match *self {
            Target::Categorical(c) => Some(c),
            Target::Continuous(_) | Target::Binary(_) => None,
        }
    }
}

/// The target of a loaded model file.
impl<'a> From<&'a Model> for Target<'a> {
    fn from(model: &'a Model) -> Self {
        match model {
            Model::Continuous(e) => Target::Continuous(e.as_ref()),
            Model::Binary(b) => Target::Binary(b.as_ref()),
            Model::Categorical(c) => Target::Categorical(c.as_ref()),
        }
    }
}

impl std::fmt::Debug for Target<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Target::{:?}(dim {})", self.space(), self.dim())
    }
}
