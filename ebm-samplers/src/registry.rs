//! Kernels by name: each kernel registers a name, its state space and a
//! serde config once, and everything that picks a kernel by name (`ebm
//! sample`, `ebm logz --method ais`, the negatives of `ebm train`) builds
//! it here as a `Box<dyn Kernel>`.
//!
//! Adding a kernel to this crate is its own file (the kernel and its
//! config, which implements [`KernelConfig`]) plus one line in
//! [`Registry::standard`]. A program can add its own with
//! [`Registry::register`].
//!
//! ```
//! use ebm_samplers::registry::Registry;
//! let reg = Registry::standard();
//! let hmc = reg.build("hmc", &serde_json::json!({"step_size": 0.2, "leapfrog": 8})).unwrap();
//! assert_eq!(hmc.name(), "hmc");
//! assert!((hmc.step_size() - 0.2).abs() < 1e-15);
//! assert!(reg.build("nope", &serde_json::json!({})).is_err());
//! ```

use crate::error::{Result, SamplerError};
use crate::gibbs::Gibbs;
use crate::gwg::Gwg;
use crate::hmc::HmcConfig;
use crate::kernel::Kernel;
use crate::kinetic::KineticConfig;
use crate::mala::MalaConfig;
use crate::nuts::NutsConfig;
use crate::target::StateSpace;
use crate::ula::UlaConfig;
use serde::de::DeserializeOwned;

/// A kernel's settings as plain data (serde), which validate into the
/// kernel. Fields a config does not know are ignored, so one JSON object
/// of options (as the `ebm` command collects them) can build any kernel.
pub trait KernelConfig: DeserializeOwned {
    /// Validate the settings and make the kernel.
    fn build(&self) -> Result<Box<dyn Kernel>>;
}

/// One registered kernel.
#[derive(Clone, Copy)]
pub struct KernelEntry {
    /// The name it is asked for by ("hmc").
    pub name: &'static str,
    /// The kinds of models it samples.
    pub spaces: &'static [StateSpace],
    /// Whether it leaves its target exactly invariant (an accept step or
    /// exact conditionals), as AIS transitions must; ULA does not.
    pub invariant: bool,
    /// One line on what it is.
    pub about: &'static str,
    /// Build it from a JSON object of settings.
    pub build: fn(&serde_json::Value) -> Result<Box<dyn Kernel>>,
}

impl std::fmt::Debug for KernelEntry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "KernelEntry({}, {:?})", self.name, self.spaces)
    }
}

impl KernelEntry {
    /// Whether the kernel samples models of `space`.
    pub fn samples(&self, space: StateSpace) -> bool {
        self.spaces.contains(&space)
    }

    /// The entry for kernels configured by `C`.
    pub fn of<C: KernelConfig>(
        name: &'static str,
        spaces: &'static [StateSpace],
        invariant: bool,
        about: &'static str,
    ) -> Self {
        Self {
            name,
            spaces,
            invariant,
            about,
            build: build_from::<C>,
        }
    }
}

fn build_from<C: KernelConfig>(settings: &serde_json::Value) -> Result<Box<dyn Kernel>> {
    let cfg = C::deserialize(settings).map_err(|e| SamplerError::InvalidConfig {
        field: "kernel settings".into(),
        reason: e.to_string(),
    })?;
    cfg.build()
}

/// A set of named kernels.
#[derive(Clone, Debug, Default)]
pub struct Registry {
    entries: Vec<KernelEntry>,
}

impl Registry {
    /// The kernels of this crate.
    pub fn standard() -> Self {
        let entries = vec![
            KernelEntry::of::<UlaConfig>("ula", &[StateSpace::Continuous], false, "unadjusted Langevin"),
            KernelEntry::of::<MalaConfig>(
                "mala",
                &[StateSpace::Continuous],
                true,
                "Metropolis-adjusted Langevin",
            ),
            KernelEntry::of::<HmcConfig>("hmc", &[StateSpace::Continuous], true, "Hamiltonian Monte Carlo"),
            KernelEntry::of::<NutsConfig>(
                "nuts",
                &[StateSpace::Continuous],
                true,
                "the No-U-Turn Sampler (multinomial, Stan's U-turn checks)",
            ),
            KernelEntry::of::<KineticConfig>(
                "kinetic",
                &[StateSpace::Continuous],
                false,
                "underdamped (kinetic) Langevin, unadjusted (BAOAB or OBABO)",
            ),
            KernelEntry::of::<Gibbs>(
                "gibbs",
                &[StateSpace::Binary, StateSpace::Categorical, StateSpace::Continuous],
                true,
                "Gibbs: block for RBMs and Gaussian-Bernoulli RBMs, single-site otherwise (categorical sites from their conditionals)",
            ),
            KernelEntry::of::<Gwg>(
                "gwg",
                &[StateSpace::Binary, StateSpace::Categorical],
                true,
                "Gibbs-with-gradients: Metropolis-Hastings flips proposed from gradient estimates",
            ),
        ];
        Self { entries }
    }

    /// Add (or replace) a kernel.
    pub fn register(&mut self, entry: KernelEntry) {
        self.entries.retain(|e| e.name != entry.name);
        self.entries.push(entry);
    }

    /// Every entry, in registration order.
    pub fn entries(&self) -> &[KernelEntry] {
        &self.entries
    }

    /// The names, in registration order.
    pub fn names(&self) -> Vec<&'static str> {
        self.entries.iter().map(|e| e.name).collect()
    }

    /// The entry called `name`, or an error listing the known names.
    pub fn find(&self, name: &str) -> Result<&KernelEntry> {
        self.entries.iter().find(|e| e.name == name).ok_or_else(|| {
            SamplerError::Unsupported(format!(
                "no kernel called `{name}`; known: {}",
                self.names().join(", ")
            ))
        })
    }

    /// Build the kernel `name` from `settings` (a JSON object).
    pub fn build(&self, name: &str, settings: &serde_json::Value) -> Result<Box<dyn Kernel>> {
        (self.find(name)?.build)(settings)
    }
}

impl KernelConfig for Gibbs {
    fn build(&self) -> Result<Box<dyn Kernel>> {
        Ok(Box::new(self.clone()))
    }
}
