//! Sampling kernels for the subcommands, by name from the sampler
//! registry ([`ebm_samplers::Registry`]): a kernel added there is
//! offered by `ebm sample`, `ebm logz --method ais` and `ebm train`
//! without an edit here.

use crate::error::{CliError, CliResult};
use clap::builder::PossibleValuesParser;
use ebm_samplers::{Kernel, KernelEntry, Registry, StateSpace, Target};

/// What a command uses a kernel for, which decides the kernels it offers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KernelUse {
    /// `ebm sample`: every kernel.
    Sample,
    /// AIS transitions: kernels that leave their target exactly invariant.
    Ais,
    /// Negatives of continuous models in training.
    Negatives,
}

fn offered(u: KernelUse) -> Vec<&'static str> {
    Registry::standard()
        .entries()
        .iter()
        .filter(|e| match u {
            KernelUse::Sample => true,
            KernelUse::Ais => e.invariant,
            KernelUse::Negatives => e.samples(StateSpace::Continuous),
        })
        .map(|e| e.name)
        .collect()
}

/// The names a `--sampler` option accepts, for clap (whose message for
/// another value lists them).
pub fn kernel_names(u: KernelUse) -> PossibleValuesParser {
    PossibleValuesParser::new(offered(u))
}

/// What `ebm sample --sampler` accepts: every kernel of the registry, and
/// `pt`, parallel tempering around one of them (`--inner`).
pub fn sampler_names() -> PossibleValuesParser {
    let mut names = offered(KernelUse::Sample);
    names.push("pt");
    PossibleValuesParser::new(names)
}

/// Whether the registry's `entry` can move chains on `target`: it samples
/// the target's kind of model and its default kernel accepts the model
/// (Gibbs takes a continuous model only when it is a Gaussian-Bernoulli
/// RBM).
pub fn fits(entry: &KernelEntry, target: Target<'_>) -> bool {
    entry.samples(target.space())
        && (entry.build)(&serde_json::json!({})).is_ok_and(|k| k.check(target).is_ok())
}

/// The kernels of the registry that `u` offers and that fit `target`,
/// joined by "or" (for messages).
fn names_for(target: Target<'_>, u: KernelUse) -> String {
    let reg = Registry::standard();
    let names: Vec<&str> = offered(u)
        .into_iter()
        .filter(|n| reg.find(n).is_ok_and(|e| fits(e, target)))
        .collect();
    match names.split_last() {
        Some((last, [])) => last.to_string(),
        Some((last, rest)) => format!("{} or {last}", rest.join(", ")),
        None => "none".into(),
    }
}

/// The registry's kernel `name` built from `settings` (a JSON object of
/// the command's options), checked against `target` (a model of type
/// `type_name`, for messages).
pub fn registry_kernel(
    name: &str,
    settings: &serde_json::Value,
    target: Target<'_>,
    type_name: &str,
    u: KernelUse,
) -> CliResult<Box<dyn Kernel>> {
    let reg = Registry::standard();
    let entry = reg.find(name).map_err(|e| CliError::Unsupported(e.to_string()))?;
    if !fits(entry, target) {
        let hint = names_for(target, u);
        return Err(CliError::Unsupported(match target.space() {
            StateSpace::Binary => format!("`{type_name}` is a binary model: use --sampler {hint}"),
            StateSpace::Categorical => format!("`{type_name}` is a categorical model: use --sampler {hint}"),
            StateSpace::Continuous => format!(
                "--sampler {name} needs a discrete model (rbm, ising, pairwise, potts, categorical); `{type_name}` is continuous: use {hint}"
            ),
        }));
    }
    let kernel = (entry.build)(settings).map_err(|e| CliError::Unsupported(e.to_string()))?;
    kernel
        .check(target)
        .map_err(|e| CliError::Unsupported(format!("`{type_name}`: {e}")))?;
    Ok(kernel)
}
