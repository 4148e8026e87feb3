//! Fuzz the data loaders (CSV and .npy): any bytes must give points or an
//! error naming the problem, never a panic, an abort or a memory blow-up.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|bytes: &[u8]| {
    let check = |p: ebm_core::Points| {
        assert!(p.dim() > 0 && !p.is_empty());
        assert!(p.as_slice().iter().all(|v| v.is_finite()));
    };
    if let Ok(p) = ebm_bench::points_file::parse_points_csv("fuzz.csv", bytes) {
        check(p);
    }
    if let Ok(p) = ebm_bench::points_file::parse_points_npy("fuzz.npy", bytes) {
        check(p);
    }
});
