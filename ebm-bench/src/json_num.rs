//! Numbers in the commands' JSON that may not be finite. JSON has no
//! infinity or NaN, and serde_json writes `null` for them, which reads as
//! "no value"; the `ebm` command writes them as the strings `"inf"`,
//! `"-inf"` and `"nan"` instead, so an infinite energy (outside a hard
//! wall) or an undefined R-hat says so explicitly.

use serde_json::Value;

/// `v` as a JSON number, or `"inf"`, `"-inf"` or `"nan"`.
///
/// ```
/// use ebm_bench::json_num::num;
/// assert_eq!(num(1.5), serde_json::json!(1.5));
/// assert_eq!(num(f64::INFINITY), serde_json::json!("inf"));
/// assert_eq!(num(f64::NEG_INFINITY), serde_json::json!("-inf"));
/// assert_eq!(num(f64::NAN), serde_json::json!("nan"));
/// ```
pub fn num(v: f64) -> Value {
    if v.is_finite() {
        Value::from(v)
    } else if v.is_nan() {
        Value::from("nan")
    } else if v > 0.0 {
        Value::from("inf")
    } else {
        Value::from("-inf")
    }
}

/// A list of [`num`]s.
pub fn nums(v: &[f64]) -> Value {
    Value::Array(v.iter().map(|&x| num(x)).collect())
}

/// A row-major `rows x cols` matrix as a list of lists of [`num`]s.
pub fn matrix(v: &[f64], cols: usize) -> Value {
    Value::Array(v.chunks(cols.max(1)).map(nums).collect())
}

/// An optional number: `null` when there is none, [`num`] otherwise.
pub fn opt(v: Option<f64>) -> Value {
    v.map_or(Value::Null, num)
}
