//! Training checkpoints: everything a run needs to continue so that an
//! interrupted-and-resumed run ends bit-identical to an uninterrupted one
//! with the same seed.
//!
//! A checkpoint is one JSON file holding
//! - the model as a model file (readable, loadable by `ebm`), and its raw
//!   parameters (the model file of a Gaussian stores the precision, not
//!   the Cholesky factor being trained, so it alone would not resume
//!   bit-for-bit);
//! - the optimizer's step count and moment buffers;
//! - the trainer's random stream, epoch order and position, and recent
//!   losses;
//! - the objective's state: negative-chain streams, persistent chains, the
//!   replay buffer;
//! - a fingerprint of the run (objective, parameter shapes, batch,
//!   optimizer, seed, data digest). Resuming a different run is refused
//!   with a message naming what differs.
//!
//! Floats round-trip exactly: serde_json is built with `float_roundtrip`.

use crate::error::{EstimatorError, Result};
use crate::objective_state::ObjectiveState;
use crate::optim::OptimizerState;
use ebm_core::{EnergySpec, Points, RngPosition};
use serde::{Deserialize, Serialize};
use std::path::Path;

/// The `format` field of every checkpoint.
pub const FORMAT: &str = "ebm-train-checkpoint";
/// The checkpoint layout version this build reads and writes.
pub const VERSION: u32 = 1;

/// What identifies a training run: a checkpoint resumes only a run with
/// the same fingerprint (the number of steps may differ).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunFingerprint {
    /// The objective's name ("pcd-mala", "dsm", ...).
    pub objective: String,
    /// The objective's settings ("sigma [0.3]", the negatives' scheme and
    /// kernel, ...; empty in checkpoints of builds that did not record
    /// them, which then are not compared).
    #[serde(default)]
    pub objective_settings: String,
    /// Shapes of the trained parameters (model, then objective).
    pub param_shapes: Vec<Vec<usize>>,
    /// "steps" or "epochs".
    pub schedule: String,
    /// Rows per batch.
    pub batch: usize,
    /// The optimizer and its settings.
    pub optimizer: String,
    /// The run's seed.
    pub seed: u64,
    /// Rows of training data.
    pub data_rows: usize,
    /// Columns of training data.
    pub data_dim: usize,
    /// FNV-1a hash of the data's f64 bit patterns, in hex.
    pub data_digest: String,
}

impl RunFingerprint {
    /// Refuse to resume `self` (this run) from a checkpoint of `saved`,
    /// naming the first thing that differs.
    pub fn check_matches(&self, saved: &RunFingerprint) -> Result<()> {
        let differ = |what: &str, then: String, now: String| {
            Err(EstimatorError::Checkpoint(format!(
                "it was written by a run with {what} {then}, this run has {now}"
            )))
        };
        if self.param_shapes != saved.param_shapes {
            return differ(
                "parameter shapes",
                format!("{:?}", saved.param_shapes),
                format!("{:?} (a different model)", self.param_shapes),
            );
        }
        if self.objective != saved.objective {
            return differ("objective", saved.objective.clone(), self.objective.clone());
        }
        if self.schedule != saved.schedule {
            return differ("a schedule in", saved.schedule.clone(), self.schedule.clone());
        }
        if self.batch != saved.batch {
            return differ("batch", saved.batch.to_string(), self.batch.to_string());
        }
        if self.optimizer != saved.optimizer {
            return differ("optimizer", saved.optimizer.clone(), self.optimizer.clone());
        }
        if self.seed != saved.seed {
            return differ("seed", saved.seed.to_string(), self.seed.to_string());
        }
        if (self.data_rows, self.data_dim, &self.data_digest)
            != (saved.data_rows, saved.data_dim, &saved.data_digest)
        {
            return differ(
                "data of",
                format!(
                    "{} x {} (digest {})",
                    saved.data_rows, saved.data_dim, saved.data_digest
                ),
                format!(
                    "{} x {} (digest {})",
                    self.data_rows, self.data_dim, self.data_digest
                ),
            );
        }
        // last: a setting that follows from the batch (PCD's chains)
        // is reported as the batch
        if !saved.objective_settings.is_empty() && self.objective_settings != saved.objective_settings {
            return differ(
                "objective settings",
                saved.objective_settings.clone(),
                self.objective_settings.clone(),
            );
        }
        Ok(())
    }
}

/// FNV-1a (64-bit) over the bit patterns of `data`'s values, in hex: a
/// cheap check that a resumed run trains on the same data.
pub fn data_digest(data: &Points) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for v in data.as_slice() {
        for byte in v.to_bits().to_le_bytes() {
            h ^= byte as u64;
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
    format!("{h:016x}")
}

/// The complete state of a training run after `step` steps.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TrainCheckpoint {
    /// Always [`FORMAT`].
    pub format: String,
    /// [`VERSION`] of the writer.
    pub version: u32,
    /// Which run this is.
    pub run: RunFingerprint,
    /// Steps completed.
    pub step: usize,
    /// Steps the run was configured for.
    pub total: usize,
    /// The model at this step, as a model file.
    pub model: EnergySpec,
    /// Raw parameter values (model, then objective), row-major.
    pub params: Vec<Vec<f64>>,
    /// The optimizer's state.
    pub optimizer: OptimizerState,
    /// The trainer's random stream (batches, noise).
    pub rng: RngPosition,
    /// The current epoch's row order (empty for step schedules).
    pub order: Vec<usize>,
    /// Position in `order`.
    pub cursor: usize,
    /// Losses of the last (up to 100) steps.
    pub loss_tail: Vec<f64>,
    /// The objective's chains, streams and buffer.
    pub objective: ObjectiveState,
}

impl TrainCheckpoint {
    /// The checkpoint as JSON text.
    pub fn to_json(&self) -> Result<String> {
        serde_json::to_string(self)
            .map_err(|e| EstimatorError::Checkpoint(format!("cannot be written as JSON: {e}")))
    }

    /// Parse a checkpoint, checking its format and version.
    pub fn from_json(text: &str) -> Result<Self> {
        let value: serde_json::Value =
            serde_json::from_str(text).map_err(|e| EstimatorError::Checkpoint(format!("not JSON: {e}")))?;
        let format = value.get("format").and_then(|f| f.as_str());
        if format != Some(FORMAT) {
            return Err(EstimatorError::Checkpoint(format!(
                "not a training checkpoint (its \"format\" is {}, expected \"{FORMAT}\"; a model file is not a checkpoint)",
                format.map_or_else(|| "missing".to_string(), |f| format!("\"{f}\""))
            )));
        }
        let version = value.get("version").and_then(|v| v.as_u64());
        if version != Some(VERSION as u64) {
            return Err(EstimatorError::Checkpoint(format!(
                "version {} is not supported (this build reads version {VERSION})",
                version.map_or_else(|| "missing".to_string(), |v| v.to_string())
            )));
        }
        let ckpt: Self = serde_json::from_value(value)
            .map_err(|e| EstimatorError::Checkpoint(format!("malformed: {e}")))?;
        ckpt.model
            .build()
            .map_err(|e| EstimatorError::Checkpoint(format!("its model is invalid: {e}")))?;
        if ckpt.params.iter().flatten().any(|v| !v.is_finite()) {
            return Err(EstimatorError::Checkpoint("a parameter is not finite".into()));
        }
        if ckpt.params.len() != ckpt.run.param_shapes.len()
            || ckpt
                .params
                .iter()
                .zip(&ckpt.run.param_shapes)
                .any(|(p, s)| s.iter().try_fold(1usize, |a, &b| a.checked_mul(b)) != Some(p.len()))
        {
            return Err(EstimatorError::Checkpoint(
                "its parameter values do not match its parameter shapes".into(),
            ));
        }
        Ok(ckpt)
    }

    /// Read a checkpoint file.
    pub fn read(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| EstimatorError::Io {
            path: path.display().to_string(),
            message: e.to_string(),
        })?;
        Self::from_json(&text).map_err(|e| match e {
            EstimatorError::Checkpoint(m) => EstimatorError::Checkpoint(format!("{}: {m}", path.display())),
            other => other,
        })
    }

    /// Write the checkpoint to `path` atomically.
    pub fn write(&self, path: &Path) -> Result<()> {
        write_atomically(path, &self.to_json()?)
    }
}

/// Write `text` to `path` atomically: a temporary file beside it, then a
/// rename, so a reader never sees half a model.
pub fn write_atomically(path: &Path, text: &str) -> Result<()> {
    let io = |e: std::io::Error| EstimatorError::Io {
        path: path.display().to_string(),
        message: e.to_string(),
    };
    let name = path.file_name().ok_or_else(|| EstimatorError::Io {
        path: path.display().to_string(),
        message: "not a file name".into(),
    })?;
    let tmp = path.with_file_name(format!(".{}.tmp{}", name.to_string_lossy(), std::process::id()));
    std::fs::write(&tmp, text).map_err(io)?;
    std::fs::rename(&tmp, path).map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        io(e)
    })
}
