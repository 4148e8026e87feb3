//! What one unit of each workload's throughput costs in the resources
//! [`super::peaks`] measures: multiply-add flops, bytes read from a cache
//! level, ChaCha8 words, exponentials. Counted from the algorithm as
//! ebm-rs runs it (the kernels named in each note), not from a profile,
//! so an achieved rate above a peak would mean a wrong count.

use super::super::Record;

/// One resource a workload's unit of work needs.
#[derive(Clone, Debug, PartialEq)]
pub struct Demand {
    /// The peak it is measured against ([`super::peaks::Peak::name`]).
    pub resource: &'static str,
    /// Base units (flops, bytes, words, exponentials) per unit of the
    /// record's throughput.
    pub per_unit: f64,
    /// How the count is made.
    pub note: String,
}

/// The peak names the demands refer to.
pub const F64_FMA: &str = "f64 multiply-add";
/// See [`F64_FMA`].
pub const F32_FMA: &str = "f32 multiply-add";
/// Reads of a working set that sits in L2 (W7's 80 KB precision).
pub const L2_READS: &str = "reads, 128 KB working set (L2)";
/// See [`F64_FMA`].
pub const WORDS: &str = "ChaCha8 32-bit words";
/// See [`F64_FMA`].
pub const EXPS: &str = "f64 exponentials (exp_weight)";

/// W3's RBM: visible and hidden units.
const W3_SHAPE: (f64, f64) = (64.0, 20.0);
/// W7's (and W2's) dimension.
const GAUSS_D: f64 = 100.0;
/// W4: rows of the digits, the batch, the RBM's units (64 x 64).
const W4_ROWS: f64 = 1797.0;
/// W5's hidden width.
const W5_WIDTH: f64 = 128.0;
/// W9's mixture components.
const W9_COMPONENTS: f64 = 4.0;

fn demand(resource: &'static str, per_unit: f64, note: &str) -> Demand {
    Demand {
        resource,
        per_unit,
        note: note.into(),
    }
}

fn config_f64(r: &Record, key: &str) -> Option<f64> {
    r.config.get(key).and_then(|v| v.as_f64())
}

/// The resources one unit of `r`'s throughput needs; empty where the
/// workload is bound by none of the measured peaks (the tridiagonal W2,
/// W3's enumeration, W6 and the other rows).
pub fn demands(r: &Record) -> Vec<Demand> {
    let f32_products = r.method.contains("f32");
    let fma = if f32_products { F32_FMA } else { F64_FMA };
    match r.workload.as_str() {
        "W1" if !f32_products => vec![
            demand(EXPS, 8.0, "the 8 components' weights of the mixture's gradient"),
            demand(WORDS, 4.0, "2 normals by Box-Muller from two 64-bit words"),
        ],
        "W1" => vec![demand(
            WORDS,
            4.0,
            "2 normals by Box-Muller from two 64-bit words",
        )],
        "W2" if r.method.contains("tridiagonal") => Vec::new(),
        "W2" => vec![demand(
            fma,
            2.0 * GAUSS_D * GAUSS_D,
            "P x: a 100 x 100 multiply-add per gradient (as 64 x 100 x 100 batch products)",
        )],
        "W3" if r.method.starts_with("ais") => {
            let (v, h) = W3_SHAPE;
            vec![
                demand(
                    F64_FMA,
                    4.0 * v * h,
                    "W h and v^T W per sweep (v^T W also serves the weight)",
                ),
                demand(WORDS, v + h, "one word per unit per sweep"),
                demand(
                    EXPS,
                    v + 2.0 * h,
                    "a sigmoid per unit, the weight's second hidden input",
                ),
            ]
        }
        "W4" => {
            let steps = (W4_ROWS / 10.0).ceil();
            vec![
                demand(
                    fma,
                    steps * 5.0 * 2.0 * 10.0 * 64.0 * 64.0,
                    "per step of 10 rows and 10 chains: 3 products and 2 gradient sums of 10 x 64 x 64 \
                     (dense-equivalent: the kernel skips units that are off)",
                ),
                demand(
                    WORDS,
                    steps * 10.0 * 128.0,
                    "per step a word per unit of each of 10 chains",
                ),
                demand(
                    EXPS,
                    steps * 3.0 * 10.0 * 64.0,
                    "per step the data's hiddens, the chains' hiddens and visibles",
                ),
            ]
        }
        "W5" => {
            let batch = config_f64(r, "batch").unwrap_or(512.0);
            vec![demand(
                fma,
                6.0 * 2.0 * batch * W5_WIDTH * W5_WIDTH,
                "six batch x 128 x 128 products per step (forward, score, parameter gradient; \
                 the 2-wide and 1-wide layers left out)",
            )]
        }
        "W7" => vec![
            demand(
                F64_FMA,
                2.0 * GAUSS_D * GAUSS_D,
                "P x per gradient, for up to four chains in lock-step at once",
            ),
            demand(
                L2_READS,
                8.0 * GAUSS_D * GAUSS_D / 4.0,
                "the 80 KB precision from L2 once per group of four gradients (at least; a group \
                 whose other trees are done reads it for fewer)",
            ),
        ],
        "W8" => vec![
            demand(WORDS, 1.0, "one word per spin update"),
            demand(EXPS, 1.0, "the heat-bath probability's exponential"),
        ],
        "W9" => vec![demand(
            EXPS,
            W9_COMPONENTS,
            "a weight per mixture component per gradient",
        )],
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn record(workload: &str, method: &str, config: serde_json::Value) -> Record {
        Record {
            workload: workload.into(),
            method: method.into(),
            seconds: 1.0,
            throughput: super::super::super::Throughput {
                value: 1.0,
                unit: "x/s".into(),
            },
            quality: json!({}),
            config,
            timing: None,
            summary: String::new(),
            digest: None,
        }
    }

    #[test]
    fn precision_picks_the_peak() {
        let f64_run = demands(&record("W5", "dsm ..., f64", json!({"batch": 512})));
        let f32_run = demands(&record("W5", "dsm ..., f32", json!({"batch": 512})));
        assert_eq!(f64_run[0].resource, F64_FMA);
        assert_eq!(f32_run[0].resource, F32_FMA);
        assert_eq!(f64_run[0].per_unit, 6.0 * 2.0 * 512.0 * 128.0 * 128.0);
    }

    #[test]
    fn w2_counts_the_dense_product_only() {
        let dense = demands(&record("W2", "hmc", json!({})));
        assert_eq!(dense[0].per_unit, 20_000.0);
        assert!(demands(&record("W2", "hmc, tridiagonal precision", json!({}))).is_empty());
        assert!(demands(&record("W6", "poe", json!({}))).is_empty());
    }
}
