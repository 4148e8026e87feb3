//! HMC with adaptation on the W2 target (100-D Gaussian, covariance
//! 0.9^|i-j|), then AIS for log Z of a small RBM against enumeration.
//!
//! Run with `cargo run --release -p ebm-samplers --example hmc_w2`.

use ebm_core::energies::{Gaussian, Rbm};
use ebm_core::{setup_rng, Energy, Points};
use ebm_samplers::ais::{ais_rbm, RbmBase, Schedule};
use ebm_samplers::driver::{run, RunConfig, Silent};
use ebm_samplers::Hmc;
use rand_distr::{Distribution, StandardNormal};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let d: usize = 100;
    let cov: Vec<f64> = (0..d * d)
        .map(|k| 0.9f64.powi((k / d).abs_diff(k % d) as i32))
        .collect();
    let target = Gaussian::from_covariance(vec![0.0; d], &cov)?;
    let mut r = setup_rng(0);
    let x0: Vec<f64> = (0..64 * d).map(|_| StandardNormal.sample(&mut r)).collect();
    let mut hmc = Hmc::new(0.1, 10)?;
    let cfg = RunConfig {
        warmup: 500,
        draws: 2000,
        seed: 0,
        ..Default::default()
    };
    let t = std::time::Instant::now();
    let out = run(&mut hmc, &target, Points::from_vec(x0, d)?, &cfg, &mut Silent)?;
    let diag = out.diagnostics();
    println!(
        "HMC, 64 chains x 2000 draws in {:.2} s: step size {:.3}, acceptance {:.3}, ESS min {:.0} median {:.0}, R-hat max {:.4}, divergences {}",
        t.elapsed().as_secs_f64(),
        out.step_size,
        out.acceptance.iter().sum::<f64>() / 64.0,
        diag.ess_min(),
        diag.ess_median(),
        diag.rhat_max(),
        out.divergences.iter().sum::<usize>()
    );
    println!("variance of x_0: {:.3} (exact 1)", out.covariance()[0]);
    assert_eq!(target.dim(), d);

    let mut r = setup_rng(1);
    let w: Vec<f64> = (0..16 * 10)
        .map(|_| 0.7 * <StandardNormal as Distribution<f64>>::sample(&StandardNormal, &mut r))
        .collect();
    let rbm = Rbm::new(16, 10, w, vec![0.0; 16], vec![0.0; 10])?;
    let exact = rbm.exact_log_partition()?;
    let est = ais_rbm(
        &rbm,
        &RbmBase::ModelBiases,
        &Schedule::Linear.betas(2000)?,
        500,
        0,
    )?;
    println!(
        "RBM 16x10 log Z: AIS {:.4} +- {:.4}, exact {:.4} (error {:+.4})",
        est.log_z,
        est.stderr,
        exact,
        est.log_z - exact
    );
    Ok(())
}
