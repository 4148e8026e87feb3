//! The same seed gives bit-identical results with one thread and with two.

use crate::common;

use ebm_core::energies::Gmm;
use ebm_core::Points;
use ebm_samplers::ais::{ais_rbm, RbmBase, Schedule};
use ebm_samplers::driver::run_binary;
use ebm_samplers::driver::{run, RunConfig, Silent};
use ebm_samplers::gibbs::Gibbs;
use ebm_samplers::{Hmc, Mala, Ula};

use common::in_pool;

#[test]
fn samples_and_log_z_do_not_depend_on_thread_count() {
    // the draws and their moments, in f64 and with the f32 products
    for g in [
        common::correlated_gaussian(6, 0.5),
        common::correlated_gaussian(6, 0.5).with_f32_arithmetic(),
    ] {
        let sample = || {
            let mut k = Hmc::new(0.2, 5).unwrap().with_path_jitter(true);
            let cfg = RunConfig {
                warmup: 100,
                draws: 50,
                seed: 99,
                ..Default::default()
            };
            let out = run(&mut k, &g, Points::zeros(100, 6), &cfg, &mut Silent).unwrap();
            let (mean, cov) = out.moments();
            assert_eq!(out.mean(), mean, "mean() is moments()'s mean");
            (out.draws, mean, cov)
        };
        let a = in_pool(1, sample);
        let b = in_pool(2, sample);
        assert!(a == b, "HMC draws differ between 1 and 2 threads");
    }

    let m = Gmm::eight_gaussians();
    let mala = || {
        let mut k = Mala::new(0.1).unwrap();
        let cfg = RunConfig {
            warmup: 50,
            draws: 50,
            seed: 5,
            ..Default::default()
        };
        run(&mut k, &m, Points::zeros(70, 2), &cfg, &mut Silent)
            .unwrap()
            .draws
    };
    assert!(in_pool(1, mala) == in_pool(2, mala));

    // burn-in runs in blocks of steps per chunk of chains
    let ula = || {
        let mut k = Ula::new(0.01).unwrap();
        let cfg = RunConfig {
            warmup: 0,
            burn_in: 120,
            draws: 5,
            thin: 3,
            adapt_step_size: false,
            adapt_mass: false,
            store_draws: true,
            seed: 8,
        };
        run(&mut k, &m, Points::zeros(1000, 2), &cfg, &mut Silent)
            .unwrap()
            .draws
    };
    assert!(in_pool(1, ula) == in_pool(2, ula));

    let rbm = common::random_rbm(20, 10, 0.5, 1);
    let logz = || {
        ais_rbm(
            &rbm,
            &RbmBase::ModelBiases,
            &Schedule::Linear.betas(200).unwrap(),
            100,
            3,
        )
        .unwrap()
    };
    let (x, y) = (in_pool(1, logz), in_pool(2, logz));
    assert_eq!(x.log_z.to_bits(), y.log_z.to_bits());
    assert!(x.log_weights == y.log_weights);

    let gibbs = || {
        run_binary(&mut Gibbs::block(), &rbm, 70, 10, 20, 1, 4)
            .unwrap()
            .draws
    };
    assert!(in_pool(1, gibbs) == in_pool(2, gibbs));
}
