//! The distribution at each temperature of a ladder, and the potential
//! V = E - E_0 that swaps between temperatures compare.

use crate::chains::CHUNK;
use crate::target::Target;
use ebm_compose::{Annealed, Path, Tempered};
use ebm_core::{BinaryEnergy, CategoricalEnergy, ChainRng, Energy, ExactSample};
use rayon::prelude::*;

/// The reference at the hot end of the ladder.
#[derive(Clone, Copy)]
pub enum Reference<'a> {
    /// beta_0 = 0 is this distribution, drawn exactly at every iteration
    /// (continuous models): the ladder follows the path
    /// E_beta = (1 - beta) E_0 + beta E, so every temperature is proper
    /// even where exp(-beta E) alone is not.
    Base(&'a dyn ExactSample),
    /// beta_0 = 0 on a binary or categorical model: the uniform
    /// distribution on its states, drawn exactly at every iteration;
    /// E_beta = beta E.
    Uniform,
    /// A hot chain: beta_0 = the ladder's smallest beta > 0, E_beta =
    /// beta E, moved by the inner kernel like every other temperature
    /// (exp(-beta E) must be proper at every beta of the ladder).
    Hot,
}

impl std::fmt::Debug for Reference<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Reference::Base(_) => "Reference::Base",
            Reference::Uniform => "Reference::Uniform",
            Reference::Hot => "Reference::Hot",
        })
    }
}

/// The path of a continuous target from its base.
pub(crate) type BasePath<'a> = Path<&'a dyn ExactSample, &'a dyn Energy>;

/// The path from `base` to a continuous `target` (`None` without a base,
/// or for a binary target), for every method that anneals or tempers
/// along it.
pub(crate) fn base_path<'a>(
    base: Option<&'a dyn ExactSample>,
    target: Target<'a>,
) -> crate::error::Result<Option<BasePath<'a>>> {
    match (base, target) {
        (Some(b), Target::Continuous(e)) => Path::new(b, e)
            .map(Some)
            .map_err(|e| crate::error::invalid("reference", e.to_string())),
        _ => Ok(None),
    }
}

/// The distribution at one temperature.
pub(crate) enum LevelModel<'a> {
    /// beta = 0, the base: drawn exactly.
    ExactBase(&'a dyn ExactSample),
    /// beta = 0 on a binary or categorical model: uniform, drawn exactly.
    ExactUniform(Target<'a>),
    /// 0 < beta < 1 on the path from the base.
    Path(Annealed<'a, &'a dyn ExactSample, &'a dyn Energy>),
    /// 0 < beta < 1: beta E.
    Scaled(Tempered<&'a dyn Energy>),
    /// 0 < beta < 1: beta E on a binary model.
    ScaledBinary(Tempered<&'a dyn BinaryEnergy>),
    /// 0 < beta < 1: beta E on a categorical model.
    ScaledCategorical(Tempered<&'a dyn CategoricalEnergy>),
    /// beta = 1.
    Target(Target<'a>),
}

impl<'a> LevelModel<'a> {
    /// The temperature `beta` of `target` on `path` (when the reference
    /// is a base) or by scaling.
    pub(crate) fn at(beta: f64, target: Target<'a>, path: Option<&'a BasePath<'a>>) -> Self {
        if beta == 1.0 {
            return LevelModel::Target(target);
        }
        match (target, path) {
            (Target::Continuous(_), Some(p)) if beta == 0.0 => LevelModel::ExactBase(*p.base()),
            (Target::Continuous(_), Some(p)) => LevelModel::Path(p.at(beta)),
            (Target::Binary(_) | Target::Categorical(_), _) if beta == 0.0 => {
                LevelModel::ExactUniform(target)
            }
            // beta > 0 (the ladder's checks), so Tempered::new cannot fail
            (Target::Continuous(e), None) => {
                LevelModel::Scaled(Tempered::new(e, beta).expect("beta in (0, 1)"))
            }
            (Target::Binary(b), _) => {
                LevelModel::ScaledBinary(Tempered::new(b, beta).expect("beta in (0, 1)"))
            }
            (Target::Categorical(c), _) => {
                LevelModel::ScaledCategorical(Tempered::new(c, beta).expect("beta in (0, 1)"))
            }
        }
    }

    /// What the inner kernel moves chains on (`None` at an exactly drawn
    /// reference).
    pub(crate) fn target(&self) -> Option<Target<'_>> {
        match self {
            LevelModel::ExactBase(_) | LevelModel::ExactUniform(_) => None,
            LevelModel::Path(a) => Some(Target::Continuous(a)),
            LevelModel::Scaled(t) => Some(Target::Continuous(t)),
            LevelModel::ScaledBinary(t) => Some(Target::Binary(t)),
            LevelModel::ScaledCategorical(t) => Some(Target::Categorical(t)),
            LevelModel::Target(t) => Some(*t),
        }
    }

    /// Replace the states `x` (rows of `d`) by exact draws from the
    /// reference, one chain's stream per row; nothing at other levels.
    pub(crate) fn draw_reference(&self, x: &mut [f64], d: usize, rngs: &mut [ChainRng]) {
        match self {
            LevelModel::ExactBase(base) => {
                x.par_chunks_mut(CHUNK * d)
                    .zip(rngs.par_chunks_mut(CHUNK))
                    .for_each(|(xs, rs)| {
                        for (row, r) in xs.chunks_exact_mut(d).zip(rs.iter_mut()) {
                            base.sample_into(r, row);
                        }
                    });
            }
            LevelModel::ExactUniform(target) => {
                for (row, r) in x.chunks_exact_mut(d).zip(rngs.iter_mut()) {
                    crate::driver::uniform_row(*target, r, row);
                }
            }
            _ => {}
        }
    }
}

/// V = E - E_0 of each chain's state at one temperature (`beta`, model
/// `level`), into `v`: from the chains' energies E_beta where the level
/// keeps them (E_beta = E_0 + beta V on the path, beta E by scaling; the
/// base's E_0 is recomputed, which is cheap), by evaluating E and E_0 at
/// an exactly drawn reference, and by the model's energy on binary and
/// categorical models (whose chains keep no energies).
pub(crate) fn potentials(
    level: &LevelModel<'_>,
    beta: f64,
    target: Target<'_>,
    base: Option<&dyn ExactSample>,
    x: &[f64],
    energy: &[f64],
    d: usize,
    v: &mut [f64],
) {
    if target.space() != crate::target::StateSpace::Continuous {
        x.par_chunks(CHUNK * d)
            .zip(v.par_chunks_mut(CHUNK))
            .for_each(|(xs, vs)| target.discrete_energy_batch(xs, vs));
        return;
    }
    x.par_chunks(CHUNK * d)
        .zip(v.par_chunks_mut(CHUNK))
        .zip(energy.par_chunks(CHUNK))
        .for_each(|((xs, vs), es)| {
            let mut e0 = [0.0; CHUNK];
            let e0 = &mut e0[..vs.len()];
            if let Some(b) = base {
                b.energy_batch(xs, e0);
            }
            match level {
                LevelModel::ExactBase(_) => {
                    if let Target::Continuous(e) = target {
                        e.energy_batch(xs, vs);
                    }
                    vs.iter_mut().zip(e0.iter()).for_each(|(v, e0)| *v -= e0);
                }
                _ => {
                    for ((v, &e), &e0) in vs.iter_mut().zip(es).zip(e0.iter()) {
                        *v = (e - e0) / beta;
                    }
                }
            }
        });
}
