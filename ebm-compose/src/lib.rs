//! # ebm-compose
//!
//! Combinators over [`ebm_core::Energy`], each itself an `Energy` whose
//! gradient is composed from its parts:
//!
//! | combinator | energy | log Z |
//! |---|---|---|
//! | [`Product`] | sum_i w_i E_i (also of binary models) | exact for quadratic experts (Gaussians) |
//! | [`Mixture`] | -log sum_i pi_i exp(-E_i - log Z_i) | log sum_i pi_i |
//! | [`Tempered`] | beta E (also of binary models) | exact for Gaussians |
//! | [`Path`] | (1 - beta) E_0 + beta E_1 | (annealing, for AIS) |
//! | [`Clamp`] | E(x_F, v) | exact for Gaussians (the conditional) |
//! | [`SoftConstraint`] | lambda/2 sum_k max(0, g_k)^2 | improper alone |
//!
//! The seed idea: each expert of a product is a soft constraint, so the
//! product puts mass only where *all* constraints hold; a mixture puts mass
//! where *any* holds. [`expr`] adds operator sugar (`a + b`, `beta * a`),
//! and [`ModelSpec`] reads and writes compositions as model files, nesting
//! to any depth. Errors reuse [`ebm_core::CoreError`], with field paths.
//!
//! ```
//! use ebm_compose::{expr, SoftConstraint};
//! use ebm_core::{Energy, energies::DiagGaussian};
//!
//! // A broad Gaussian, softly confined to a ring of radius 2 and the half-plane x_0 <= 0.
//! let base = expr(DiagGaussian::new(vec![0.0, 0.0], vec![3.0, 3.0]).unwrap());
//! let ring = expr(SoftConstraint::ring(vec![0.0, 0.0], 2.0, 0.2, 50.0).unwrap());
//! let half = expr(SoftConstraint::half_space(vec![1.0, 0.0], 0.0, 50.0).unwrap());
//! let poe = base + ring + half;
//! assert!(poe.energy(&[-2.0, 0.0]) < poe.energy(&[2.0, 0.0])); // left arc beats right arc
//! ```
#![deny(missing_docs)]

mod clamp;
mod expr;
pub mod external;
mod mixture;
mod path;
mod penalty;
mod product;
mod scratch;
pub mod spec;
mod tempered;

pub use clamp::Clamp;
pub use expr::{expr, Expr};
pub use mixture::Mixture;
pub use path::{Annealed, Path};
pub use penalty::SoftConstraint;
pub use product::Product;
pub use spec::ModelSpec;
pub use tempered::Tempered;
