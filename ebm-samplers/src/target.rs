//! What a kernel samples: a continuous energy or a binary model.

use ebm_core::spec::Model;
use ebm_core::{BinaryEnergy, Energy};

/// The distribution p(x) ∝ exp(-E(x)) a kernel moves chains on: a
/// continuous energy (x in R^D, with gradients) or a binary model (x in
/// {lo, hi}^D). One driver, one set of chains and one registry serve both;
/// each kernel says which it accepts ([`crate::Kernel::check`]).
#[derive(Clone, Copy)]
pub enum Target<'a> {
    /// A continuous energy.
    Continuous(&'a dyn Energy),
    /// A binary model.
    Binary(&'a dyn BinaryEnergy),
}

/// Which kind of state space a kernel or model has.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StateSpace {
    /// R^D, with gradients.
    Continuous,
    /// {lo, hi}^D.
    Binary,
}

impl<'a> Target<'a> {
    /// Dimension D.
    pub fn dim(&self) -> usize {
        match self {
            Target::Continuous(e) => e.dim(),
            Target::Binary(b) => b.dim(),
        }
    }

    /// Continuous or binary.
    pub fn space(&self) -> StateSpace {
        match self {
            Target::Continuous(_) => StateSpace::Continuous,
            Target::Binary(_) => StateSpace::Binary,
        }
    }

    /// The energy, when the target is continuous.
    pub fn energy(&self) -> Option<&'a dyn Energy> {
        match *self {
            Target::Continuous(e) => Some(e),
            Target::Binary(_) => None,
        }
    }

    /// The binary model, when the target is binary.
    pub fn binary(&self) -> Option<&'a dyn BinaryEnergy> {
        match *self {
            Target::Binary(b) => Some(b),
            Target::Continuous(_) => None,
        }
    }
}

/// The target of a loaded model file.
impl<'a> From<&'a Model> for Target<'a> {
    fn from(model: &'a Model) -> Self {
        match model {
            Model::Continuous(e) => Target::Continuous(e.as_ref()),
            Model::Binary(b) => Target::Binary(b.as_ref()),
        }
    }
}

impl std::fmt::Debug for Target<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Target::{:?}(dim {})", self.space(), self.dim())
    }
}
