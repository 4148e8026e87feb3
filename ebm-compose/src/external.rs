//! Energies registered at run time by a host program, named in model files
//! as `{"type":"external","name":N}`: how the Python package samples,
//! anneals and composes energies written in Python (numpy, JAX) with every
//! continuous kernel and estimator, batch by batch.
//!
//! The registry is process-wide; a name stays until it is unregistered.
//!
//! ```
//! use std::sync::Arc;
//! use ebm_core::energies::DiagGaussian;
//! use ebm_compose::{external, ModelSpec};
//! external::register("doc-gaussian", Arc::new(DiagGaussian::new(vec![0.0], vec![1.0]).unwrap()));
//! let m = ModelSpec::from_json(r#"{"type":"external","name":"doc-gaussian"}"#).unwrap().build().unwrap();
//! assert_eq!(m.dim(), 1);
//! external::unregister("doc-gaussian");
//! let err = ModelSpec::from_json(r#"{"type":"external","name":"doc-gaussian"}"#).unwrap().build().unwrap_err();
//! assert!(err.to_string().contains("no external energy"));
//! ```

use ebm_core::Energy;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock, PoisonError};

fn registry() -> &'static Mutex<HashMap<String, Arc<dyn Energy>>> {
    static REGISTRY: OnceLock<Mutex<HashMap<String, Arc<dyn Energy>>>> = OnceLock::new();
    REGISTRY.get_or_init(Default::default)
}

/// Register `energy` under `name` (replacing an earlier one of that name).
pub fn register(name: &str, energy: Arc<dyn Energy>) {
    registry()
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .insert(name.to_string(), energy);
}

/// Forget `name`.
pub fn unregister(name: &str) {
    registry()
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .remove(name);
}

/// The energy registered under `name`.
pub fn lookup(name: &str) -> Option<Arc<dyn Energy>> {
    registry()
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .get(name)
        .cloned()
}
