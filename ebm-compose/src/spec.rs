//! Model files with composition, nesting to any depth.
//!
//! Besides every [`EnergySpec`] type of ebm-core:
//!
//! ```text
//! {"type":"product","experts":[model..],"weights":[..]}              weights optional, default 1
//! {"type":"mixture","components":[model..],"weights":[..],"log_z":[..|null]}   log_z optional
//! {"type":"tempered","base":model,"beta":b}
//! {"type":"clamp","base":model,"indices":[..],"values":[..]}
//! {"type":"half_space","normal":[..],"offset":b,"strength":lambda}   a.x <= b
//! {"type":"ball","center":[..],"radius":r,"strength":lambda}
//! {"type":"ring","center":[..],"radius":r,"width":w,"strength":lambda}   width optional, default 0
//! {"type":"box","lo":[..],"hi":[..],"strength":lambda}
//! {"type":"external","name":N}                                     an energy registered at run time (crate::external)
//! ```
//!
//! Errors name the path to the bad field, e.g. `experts[1].covariance`.
//!
//! ```
//! use ebm_compose::ModelSpec;
//! let text = r#"{"type":"product","experts":[
//!     {"type":"diag_gaussian","mean":[0],"std":[1]},
//!     {"type":"diag_gaussian","mean":[0],"std":[-1]}]}"#;
//! let err = ModelSpec::from_json(text).unwrap().build().unwrap_err();
//! assert_eq!(err.to_string(), "experts[1].std[0]: must be positive, got -1");
//! ```

use crate::{Clamp, Mixture, Product, SoftConstraint, Tempered};
use ebm_core::error::{CoreError, Result};
use ebm_core::spec::{EnergySpec, Model};
use ebm_core::Energy;
use serde_json::{json, Map, Value};
use std::sync::Arc;

/// A model file: a reference energy or a composition of model files.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum ModelSpec {
    /// A reference energy of ebm-core.
    Energy(EnergySpec),
    /// [`Product`] of experts.
    Product {
        /// The experts.
        experts: Vec<ModelSpec>,
        /// Optional weights (default 1 each).
        weights: Option<Vec<f64>>,
    },
    /// [`Mixture`] of normalised components.
    Mixture {
        /// The components.
        components: Vec<ModelSpec>,
        /// Mixture weights.
        weights: Vec<f64>,
        /// Optional log Z estimates per component (`null` = use its own).
        log_z: Option<Vec<Option<f64>>>,
    },
    /// [`Tempered`] energy.
    Tempered {
        /// The energy to temper.
        base: Box<ModelSpec>,
        /// Inverse temperature.
        beta: f64,
    },
    /// [`Clamp`]: condition on coordinates.
    Clamp {
        /// The full energy.
        base: Box<ModelSpec>,
        /// Clamped coordinates.
        indices: Vec<usize>,
        /// Their values.
        values: Vec<f64>,
    },
    /// [`SoftConstraint::half_space`].
    HalfSpace {
        /// a.
        normal: Vec<f64>,
        /// b.
        offset: f64,
        /// lambda.
        strength: f64,
    },
    /// [`SoftConstraint::ball`].
    Ball {
        /// c.
        center: Vec<f64>,
        /// r.
        radius: f64,
        /// lambda.
        strength: f64,
    },
    /// [`SoftConstraint::ring`].
    Ring {
        /// c.
        center: Vec<f64>,
        /// r.
        radius: f64,
        /// w.
        width: f64,
        /// lambda.
        strength: f64,
    },
    /// [`SoftConstraint::boxed`].
    Box {
        /// Lower bounds.
        lo: Vec<f64>,
        /// Upper bounds.
        hi: Vec<f64>,
        /// lambda.
        strength: f64,
    },
    /// An energy registered in this process ([`crate::external`]).
    External {
        /// The registered name.
        name: String,
    },
}

fn json_err(path: &str, msg: impl std::fmt::Display) -> CoreError {
    if path.is_empty() {
        CoreError::Json(msg.to_string())
    } else {
        CoreError::Json(format!("{path}: {msg}"))
    }
}

fn join(path: &str, field: &str) -> String {
    if path.is_empty() {
        field.to_string()
    } else {
        format!("{path}.{field}")
    }
}

/// Typed field access with path-naming errors.
struct Obj<'a> {
    map: &'a Map<String, Value>,
    path: &'a str,
}

impl Obj<'_> {
    fn check_fields(&self, allowed: &[&str]) -> Result<()> {
        for k in self.map.keys() {
            if k != "type" && !allowed.contains(&k.as_str()) {
                return Err(json_err(
                    self.path,
                    format!("unknown field `{k}`, expected one of {allowed:?}"),
                ));
            }
        }
        Ok(())
    }
    fn get<T: serde::de::DeserializeOwned>(&self, field: &str) -> Result<T> {
        let v = self
            .map
            .get(field)
            .ok_or_else(|| json_err(self.path, format!("missing field `{field}`")))?;
        serde_json::from_value(v.clone()).map_err(|e| json_err(&join(self.path, field), e))
    }
    fn opt<T: serde::de::DeserializeOwned>(&self, field: &str) -> Result<Option<T>> {
        match self.map.get(field) {
            None | Some(Value::Null) => Ok(None),
            Some(_) => self.get(field).map(Some),
        }
    }
    fn models(&self, field: &str) -> Result<Vec<ModelSpec>> {
        let v = self
            .map
            .get(field)
            .ok_or_else(|| json_err(self.path, format!("missing field `{field}`")))?;
        let arr = v
            .as_array()
            .ok_or_else(|| json_err(&join(self.path, field), "expected a list of models"))?;
        arr.iter()
            .enumerate()
            .map(|(i, m)| ModelSpec::from_value(m, &format!("{}[{i}]", join(self.path, field))))
            .collect()
    }
    fn model(&self, field: &str) -> Result<Box<ModelSpec>> {
        let v = self
            .map
            .get(field)
            .ok_or_else(|| json_err(self.path, format!("missing field `{field}`")))?;
        Ok(Box::new(ModelSpec::from_value(v, &join(self.path, field))?))
    }
}

impl ModelSpec {
    /// Parse a model file's text.
    pub fn from_json(text: &str) -> Result<Self> {
        let v: Value = serde_json::from_str(text).map_err(|e| CoreError::Json(e.to_string()))?;
        Self::from_value(&v, "")
    }

    /// Parse a JSON value found at `path` (for error messages).
    pub fn from_value(v: &Value, path: &str) -> Result<Self> {
        let map = v
            .as_object()
            .ok_or_else(|| json_err(path, "expected a model object with a `type` field"))?;
        let ty = map
            .get("type")
            .and_then(Value::as_str)
            .ok_or_else(|| json_err(path, "missing field `type`"))?;
        let o = Obj { map, path };
        Ok(match ty {
            "product" => {
                o.check_fields(&["experts", "weights"])?;
                ModelSpec::Product {
                    experts: o.models("experts")?,
                    weights: o.opt("weights")?,
                }
            }
            "mixture" => {
                o.check_fields(&["components", "weights", "log_z"])?;
                ModelSpec::Mixture {
                    components: o.models("components")?,
                    weights: o.get("weights")?,
                    log_z: o.opt("log_z")?,
                }
            }
            "tempered" => {
                o.check_fields(&["base", "beta"])?;
                ModelSpec::Tempered {
                    base: o.model("base")?,
                    beta: o.get("beta")?,
                }
            }
            "clamp" => {
                o.check_fields(&["base", "indices", "values"])?;
                ModelSpec::Clamp {
                    base: o.model("base")?,
                    indices: o.get("indices")?,
                    values: o.get("values")?,
                }
            }
            "half_space" => {
                o.check_fields(&["normal", "offset", "strength"])?;
                ModelSpec::HalfSpace {
                    normal: o.get("normal")?,
                    offset: o.get("offset")?,
                    strength: o.get("strength")?,
                }
            }
            "ball" => {
                o.check_fields(&["center", "radius", "strength"])?;
                ModelSpec::Ball {
                    center: o.get("center")?,
                    radius: o.get("radius")?,
                    strength: o.get("strength")?,
                }
            }
            "ring" => {
                o.check_fields(&["center", "radius", "width", "strength"])?;
                ModelSpec::Ring {
                    center: o.get("center")?,
                    radius: o.get("radius")?,
                    width: o.opt("width")?.unwrap_or(0.0),
                    strength: o.get("strength")?,
                }
            }
            "external" => {
                o.check_fields(&["name"])?;
                ModelSpec::External { name: o.get("name")? }
            }
            "box" => {
                o.check_fields(&["lo", "hi", "strength"])?;
                ModelSpec::Box {
                    lo: o.get("lo")?,
                    hi: o.get("hi")?,
                    strength: o.get("strength")?,
                }
            }
            _ => ModelSpec::Energy(serde_json::from_value(v.clone()).map_err(|e| json_err(path, e))?),
        })
    }

    /// The JSON value of this spec.
    pub fn to_value(&self) -> Value {
        match self {
            ModelSpec::Energy(e) => serde_json::to_value(e).expect("specs always serialise"),
            ModelSpec::Product { experts, weights } => {
                let mut v = json!({"type": "product", "experts": experts.iter().map(Self::to_value).collect::<Vec<_>>()});
                if let Some(w) = weights {
                    v["weights"] = json!(w);
                }
                v
            }
            ModelSpec::Mixture {
                components,
                weights,
                log_z,
            } => {
                let mut v = json!({"type": "mixture", "components": components.iter().map(Self::to_value).collect::<Vec<_>>(), "weights": weights});
                if let Some(l) = log_z {
                    v["log_z"] = json!(l);
                }
                v
            }
            ModelSpec::Tempered { base, beta } => {
                json!({"type": "tempered", "base": base.to_value(), "beta": beta})
            }
            ModelSpec::Clamp {
                base,
                indices,
                values,
            } => {
                json!({"type": "clamp", "base": base.to_value(), "indices": indices, "values": values})
            }
            ModelSpec::HalfSpace {
                normal,
                offset,
                strength,
            } => json!({"type": "half_space", "normal": normal, "offset": offset, "strength": strength}),
            ModelSpec::Ball {
                center,
                radius,
                strength,
            } => json!({"type": "ball", "center": center, "radius": radius, "strength": strength}),
            ModelSpec::Ring {
                center,
                radius,
                width,
                strength,
            } => {
                json!({"type": "ring", "center": center, "radius": radius, "width": width, "strength": strength})
            }
            ModelSpec::Box { lo, hi, strength } => {
                json!({"type": "box", "lo": lo, "hi": hi, "strength": strength})
            }
            ModelSpec::External { name } => json!({"type": "external", "name": name}),
        }
    }

    /// Serialise to JSON text.
    pub fn to_json(&self) -> String {
        self.to_value().to_string()
    }

    /// The `type` tag.
    pub fn type_name(&self) -> &'static str {
        match self {
            ModelSpec::Energy(e) => e.type_name(),
            ModelSpec::Product { .. } => "product",
            ModelSpec::Mixture { .. } => "mixture",
            ModelSpec::Tempered { .. } => "tempered",
            ModelSpec::Clamp { .. } => "clamp",
            ModelSpec::HalfSpace { .. } => "half_space",
            ModelSpec::Ball { .. } => "ball",
            ModelSpec::Ring { .. } => "ring",
            ModelSpec::Box { .. } => "box",
            ModelSpec::External { .. } => "external",
        }
    }

    /// Validate and build the model.
    pub fn build(&self) -> Result<Model> {
        match self {
            ModelSpec::Energy(e) => e.build(),
            _ => Ok(Model::Continuous(self.build_continuous()?)),
        }
    }

    /// Validate and build a continuous energy (binary models are an error).
    pub fn build_continuous(&self) -> Result<Arc<dyn Energy>> {
        let list = |field: &str, specs: &[ModelSpec]| -> Result<Vec<Arc<dyn Energy>>> {
            specs
                .iter()
                .enumerate()
                .map(|(i, s)| s.build_continuous().map_err(|e| e.at(&format!("{field}[{i}]"))))
                .collect()
        };
        Ok(match self {
            ModelSpec::Energy(e) => e.build_continuous()?,
            ModelSpec::Product { experts, weights } => {
                let ex = list("experts", experts)?;
                let w = weights.clone().unwrap_or_else(|| vec![1.0; ex.len()]);
                Arc::new(Product::weighted(ex, w)?)
            }
            ModelSpec::Mixture {
                components,
                weights,
                log_z,
            } => {
                let cs = list("components", components)?;
                let lz = log_z.clone().unwrap_or_else(|| vec![None; cs.len()]);
                Arc::new(Mixture::with_log_partitions(cs, weights.clone(), lz)?)
            }
            ModelSpec::Tempered { base, beta } => Arc::new(Tempered::new(
                base.build_continuous().map_err(|e| e.at("base"))?,
                *beta,
            )?),
            ModelSpec::Clamp {
                base,
                indices,
                values,
            } => Arc::new(Clamp::new(
                base.build_continuous().map_err(|e| e.at("base"))?,
                indices.clone(),
                values.clone(),
            )?),
            ModelSpec::HalfSpace {
                normal,
                offset,
                strength,
            } => Arc::new(SoftConstraint::half_space(normal.clone(), *offset, *strength)?),
            ModelSpec::Ball {
                center,
                radius,
                strength,
            } => Arc::new(SoftConstraint::ball(center.clone(), *radius, *strength)?),
            ModelSpec::Ring {
                center,
                radius,
                width,
                strength,
            } => Arc::new(SoftConstraint::ring(center.clone(), *radius, *width, *strength)?),
            ModelSpec::Box { lo, hi, strength } => {
                Arc::new(SoftConstraint::boxed(lo.clone(), hi.clone(), *strength)?)
            }
            ModelSpec::External { name } => {
                crate::external::lookup(name).ok_or_else(|| ebm_core::CoreError::InvalidParameter {
                    field: "name".into(),
                    reason: format!("no external energy `{name}` is registered in this process"),
                })?
            }
        })
    }
}
