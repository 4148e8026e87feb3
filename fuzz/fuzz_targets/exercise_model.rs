//! What the commands and the samplers ask of a model once its file has
//! loaded, in one place for the `model_file` fuzz target and for
//! ebm-bench's replay of the fuzzers' findings
//! (`ebm-bench/tests/fuzz_regressions.rs`, which includes this file), so
//! that CI compiles and runs it on every change.

use ebm_core::spec::Model;

/// Models with more states than this skip exact log Z here: each model
/// enumerates up to its own limit by design (2^25 to 2^30 states), which
/// only times a fuzzer out.
const ENUMERATED_STATES: usize = 1 << 16;

/// Largest dimension evaluated at a point, and largest number of states
/// of a site whose deltas are asked for (the loaders cap sizes far above
/// what a fuzzer's input should spend time on).
const EVALUATED_SIZE: usize = 4096;

/// Ask `model` what the commands and samplers do: a continuous model's
/// energy and gradient at a point; a binary or categorical model's
/// energy, a site's flip or set deltas, its sweep order, its special
/// structure (RBM, pairwise) and exact log Z when small. Every answer
/// may be a number or an error; nothing may panic.
pub fn exercise(model: &Model) {
    match model {
        Model::Continuous(e) => {
            let d = e.dim();
            let _ = e.log_partition();
            if d <= EVALUATED_SIZE {
                let x = vec![0.5; d];
                let mut g = vec![0.0; d];
                let _ = e.energy(&x);
                let _ = e.energy_grad(&x, &mut g);
            }
        }
        Model::Binary(e) => {
            let d = e.dim();
            let _ = e.rbm();
            let _ = e.pairwise();
            if d < 64 && 1u64 << d <= ENUMERATED_STATES as u64 {
                let _ = e.log_partition();
            }
            if d <= EVALUATED_SIZE {
                let x = vec![e.states().1; d];
                let _ = e.energy(&x);
                if d > 0 {
                    let _ = e.flip_delta(&x, d / 2);
                }
                let mut order = Vec::new();
                e.sweep_order(&mut order);
            }
        }
        Model::Categorical(e) => {
            let d = e.dim();
            let _ = e.categorical_pairwise();
            let states = (0..d).try_fold(1usize, |n, i| n.checked_mul(e.states(i)));
            if states.is_some_and(|n| n <= ENUMERATED_STATES) {
                let _ = e.log_partition();
            }
            if d > 0 && d <= EVALUATED_SIZE {
                let x = vec![0.0; d];
                let _ = e.energy(&x);
                let i = d / 2;
                let q = e.states(i);
                if q > 0 && q <= EVALUATED_SIZE {
                    let mut deltas = vec![0.0; q];
                    e.site_deltas(&x, i, &mut deltas);
                    let _ = e.set_delta(&x, i, q - 1);
                }
                let mut order = Vec::new();
                e.sweep_order(&mut order);
            }
        }
    }
}
