//! Fuzz the model-file loader: any bytes must give a built model or an
//! error, never a panic, an abort or a memory blow-up; a model that builds
//! must evaluate to a number (or an error) at a point without panicking.
#![no_main]

use ebm_core::spec::Model;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|bytes: &[u8]| {
    let Ok(text) = std::str::from_utf8(bytes) else {
        return;
    };
    let Ok((spec, model)) = ebm_bench::model_file::parse_model("fuzz.json", text) else {
        return;
    };
    // what the commands do next with a model
    let _ = spec.to_json();
    match model {
        Model::Continuous(e) => {
            let d = e.dim();
            if d <= 4096 {
                let x = vec![0.5; d];
                let mut g = vec![0.0; d];
                let _ = e.energy(&x);
                let _ = e.energy_grad(&x, &mut g);
            }
        }
        Model::Binary(e) => {
            let d = e.dim();
            let _ = e.rbm();
            if d <= 4096 {
                let _ = e.energy(&vec![1.0; d]);
                let mut order = Vec::new();
                e.sweep_order(&mut order);
            }
        }
    }
});
