//! The one error type of ebm-core.

use thiserror::Error;

/// Everything in ebm-core that can go wrong with user input.
///
/// Each variant names the field (or the path to it, such as
/// `experts[1].covariance`) so that a bad model file can be fixed without
/// guessing.
#[derive(Debug, Error, Clone, PartialEq)]
#[non_exhaustive]
pub enum CoreError {
    /// Two things that must have matching sizes do not.
    #[error("{field}: expected {expected}, got {got}")]
    Shape {
        /// The field (or path) with the wrong size.
        field: String,
        /// What was expected, in words (for example `"3 entries"`).
        expected: String,
        /// What was found, in words.
        got: String,
    },
    /// A number that must be finite is NaN or infinite.
    #[error("{field}: value {value} is not finite")]
    NonFinite {
        /// Where the number is.
        field: String,
        /// The offending value.
        value: f64,
    },
    /// A parameter is outside its allowed range.
    #[error("{field}: {reason}")]
    InvalidParameter {
        /// The parameter.
        field: String,
        /// Why it is invalid (for example `"must be positive, got -1"`).
        reason: String,
    },
    /// A covariance or precision matrix is not symmetric positive definite.
    #[error("{field}: matrix is not positive definite")]
    NotPositiveDefinite {
        /// The matrix field.
        field: String,
    },
    /// The model file is not valid JSON or does not match the schema.
    #[error("model file: {0}")]
    Json(String),
    /// An exact computation would be too large to carry out.
    #[error("{0}")]
    TooLarge(String),
    /// A numerical routine did not reach its tolerance.
    #[error("{0}")]
    NoConvergence(String),
}

impl CoreError {
    /// Prefix the field path of this error with `prefix`, as composite
    /// specs do when they validate their children (`experts[1]` +
    /// `covariance` -> `experts[1].covariance`).
    pub fn at(self, prefix: &str) -> Self {
        let join = |f: String| {
            if f.is_empty() {
                prefix.to_string()
            } else {
                format!("{prefix}.{f}")
            }
        };
        match self {
            CoreError::Shape { field, expected, got } => CoreError::Shape {
                field: join(field),
                expected,
                got,
            },
            CoreError::NonFinite { field, value } => CoreError::NonFinite {
                field: join(field),
                value,
            },
            CoreError::InvalidParameter { field, reason } => CoreError::InvalidParameter {
                field: join(field),
                reason,
            },
            CoreError::NotPositiveDefinite { field } => CoreError::NotPositiveDefinite { field: join(field) },
            other => other,
        }
    }
}

/// Result alias used throughout ebm-core.
pub type Result<T, E = CoreError> = std::result::Result<T, E>;

/// Check that every value in `values` is finite; the error names
/// `field[index]`.
pub fn check_finite(field: &str, values: &[f64]) -> Result<()> {
    check_finite_named(|| field.to_string(), values)
}

/// [`check_finite`] with the field's name built only when a value is not
/// finite (for checks on a hot path, such as a training step's
/// parameters): one vectorised pass ([`crate::simd::all_finite`]), then
/// the search for the bad value only when it fails.
pub fn check_finite_named(field: impl FnOnce() -> String, values: &[f64]) -> Result<()> {
    if crate::simd::all_finite(values) {
        return Ok(());
    }
    match values.iter().position(|v| !v.is_finite()) {
        None => Ok(()),
        Some(i) => Err(CoreError::NonFinite {
            field: format!("{}[{i}]", field()),
            value: values[i],
        }),
    }
}

/// Check that every value in `values` is finite and strictly positive.
pub fn check_positive(field: &str, values: &[f64]) -> Result<()> {
    check_finite(field, values)?;
    match values.iter().position(|v| *v <= 0.0) {
        None => Ok(()),
        Some(i) => Err(CoreError::InvalidParameter {
            field: format!("{field}[{i}]"),
            reason: format!("must be positive, got {}", values[i]),
        }),
    }
}

/// Check that `len == expected`.
pub fn check_len(field: &str, len: usize, expected: usize) -> Result<()> {
    if len == expected {
        Ok(())
    } else {
        Err(CoreError::Shape {
            field: field.to_string(),
            expected: format!("{expected} entries"),
            got: format!("{len}"),
        })
    }
}

/// Check that the mean of a Gaussian has at least one entry, all finite.
pub fn check_mean(mean: &[f64]) -> Result<()> {
    if mean.is_empty() {
        return Err(CoreError::Shape {
            field: "mean".into(),
            expected: "at least 1 entry".into(),
            got: "0".into(),
        });
    }
    check_finite("mean", mean)
}

/// Check that a scalar parameter is finite and strictly positive.
pub fn check_positive_scalar(field: &str, value: f64) -> Result<()> {
    if !value.is_finite() {
        return Err(CoreError::NonFinite {
            field: field.to_string(),
            value,
        });
    }
    if value <= 0.0 {
        return Err(CoreError::InvalidParameter {
            field: field.to_string(),
            reason: format!("must be positive, got {value}"),
        });
    }
    Ok(())
}

/// Check that a scalar parameter is finite.
pub fn check_finite_scalar(field: &str, value: f64) -> Result<()> {
    if value.is_finite() {
        Ok(())
    } else {
        Err(CoreError::NonFinite {
            field: field.to_string(),
            value,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One infinite or NaN value anywhere (in the eight-wide body of the
    /// vectorised check or the rest) is found, and the error names where.
    #[test]
    fn finiteness_is_checked_everywhere() {
        for n in [0, 1, 7, 8, 9, 23, 64] {
            let ok: Vec<f64> = (0..n).map(|i| i as f64 * 1e300 - 3e301).collect();
            assert!(check_finite("x", &ok).is_ok());
            for at in 0..n {
                for bad in [f64::INFINITY, f64::NEG_INFINITY, f64::NAN] {
                    let mut v = ok.clone();
                    v[at] = bad;
                    let msg = check_finite("x", &v).unwrap_err().to_string();
                    assert!(msg.contains(&format!("x[{at}]")), "{msg}");
                }
            }
        }
    }
}
