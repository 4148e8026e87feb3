//! Fuzz the model-file loader: any bytes must give a built model or an
//! error, never a panic, an abort or a memory blow-up; a model that builds
//! must answer what the commands and samplers ask of it
//! ([`exercise_model::exercise`]) with numbers or errors, without
//! panicking.
#![no_main]

mod exercise_model;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|bytes: &[u8]| {
    let Ok(text) = std::str::from_utf8(bytes) else {
        return;
    };
    let Ok((spec, model)) = ebm_bench::model_file::parse_model("fuzz.json", text) else {
        return;
    };
    let _ = spec.to_json();
    exercise_model::exercise(&model);
});
