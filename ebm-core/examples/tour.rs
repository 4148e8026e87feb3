//! A tour of ebm-core: load a model file, evaluate energies and gradients
//! on a batch, and compare exact log Z with quadrature and enumeration.
//!
//! Run with `cargo run --release -p ebm-core --example tour`.

use ebm_core::energies::{Banana, Gmm, Ising, Rbm};
use ebm_core::quadrature::{log_partition_quadrature, QuadratureOptions};
use ebm_core::spec::{EnergySpec, Model};
use ebm_core::{BinaryEnergy, Energy, Points};
use rand::Rng;

fn main() -> Result<(), ebm_core::CoreError> {
    // 1. A model file.
    let spec = EnergySpec::from_json(r#"{"type":"gaussian","mean":[1,-1],"covariance":[[2,0.6],[0.6,1]]}"#)?;
    let Model::Continuous(gauss) = spec.build()? else {
        unreachable!("a Gaussian is continuous")
    };
    let xs = Points::from_rows(&[vec![0.0, 0.0], vec![1.0, -1.0], vec![3.0, 1.0]])?;
    let mut grads = Points::zeros(xs.len(), 2);
    let mut e = vec![0.0; xs.len()];
    gauss.energy_grad_batch(xs.as_slice(), grads.as_mut_slice(), &mut e);
    for i in 0..xs.len() {
        println!("E({:?}) = {:.4}, grad E = {:?}", xs.row(i), e[i], grads.row(i));
    }

    // 2. Closed-form log Z against adaptive quadrature.
    let opts = QuadratureOptions::default();
    let banana = Banana::new(2, 0.5, 2.0)?;
    let gmm = Gmm::eight_gaussians();
    for (name, energy) in [
        ("gaussian", &*gauss as &dyn Energy),
        ("banana", &banana),
        ("8 gaussians", &gmm),
    ] {
        let exact = energy.log_partition().expect("closed form");
        let quad = log_partition_quadrature(energy, &opts)?;
        println!(
            "{name:12} log Z exact {exact:.10}  quadrature {quad:.10}  diff {:.1e}",
            exact - quad
        );
    }

    // 3. Discrete models: RBM enumeration both ways, Ising by Gray code.
    let mut r = ebm_core::setup_rng(1);
    let (nv, nh) = (12, 8);
    let w = (0..nv * nh).map(|_| r.random::<f64>() - 0.5).collect();
    let rbm = Rbm::new(nv, nh, w, vec![0.1; nv], vec![-0.1; nh])?;
    println!(
        "RBM 12x8 log Z: over hiddens {:.10}, over visibles {:.10}",
        rbm.log_partition_enumerate_hidden()?,
        rbm.log_partition_enumerate_visible()?
    );
    let ising = Ising::new(5, 5, 1.0, 0.0, 0.44, true)?;
    println!(
        "Ising 5x5 (beta 0.44, periodic) log Z = {:.10}",
        ising.log_partition().expect("25 spins")
    );
    Ok(())
}
