//! Adaptive AIS and SMC against exact log Z: separated mixtures with
//! unequal weights (2-D and 10-D, log Z = 0 as their weights sum to 1), a
//! strongly coupled RBM and an ordered Ising lattice (enumeration), the
//! calibration of the error bars over 50 seeds, and the same bits with one
//! thread or two.

use crate::common;

use common::in_pool;
use ebm_core::energies::{DiagGaussian, Gmm, Ising};
use ebm_core::{BinaryEnergy, Energy};
use ebm_samplers::ais::smc::{smc, SmcConfig, SmcResult};
use ebm_samplers::gibbs::Gibbs;
use ebm_samplers::tempering::Reference;
use ebm_samplers::{Hmc, Kernel, Mala, Target};

fn mixture_2d() -> Gmm {
    Gmm::new(
        vec![0.55, 0.3, 0.15],
        vec![vec![-6.0, 0.0], vec![6.0, 0.0], vec![0.0, 8.0]],
        vec![0.6; 3],
    )
    .unwrap()
}

fn mixture_10d() -> Gmm {
    let axis = |j: usize, s: f64| {
        (0..10)
            .map(|i| if i == j { s } else { 0.0 })
            .collect::<Vec<f64>>()
    };
    Gmm::new(
        vec![0.4, 0.3, 0.2, 0.1],
        vec![axis(0, 5.0), axis(0, -5.0), axis(1, 5.0), axis(1, -5.0)],
        vec![0.5; 4],
    )
    .unwrap()
}

fn mala() -> ebm_samplers::Result<Box<dyn Kernel>> {
    Ok(Box::new(Mala::new(0.3)?))
}

fn hmc() -> ebm_samplers::Result<Box<dyn Kernel>> {
    Ok(Box::new(Hmc::new(0.2, 8)?))
}

/// Within `k` reported standard errors of `exact`, with an error bar small
/// enough to mean something.
fn check(name: &str, r: &SmcResult, exact: f64, k: f64) {
    let err = r.log_z - exact;
    eprintln!(
        "{name}: {:.4} +- {:.4} (exact {exact:.4}, {:.2} SE); temperatures {:?}, resamplings {:?}, ESS {:?}, warnings {:?}",
        r.log_z, r.stderr, err / r.stderr, r.temperatures, r.resamples, r.ess, r.warnings
    );
    assert!(
        err.abs() < k * r.stderr,
        "{name}: error {err} vs {k} SE = {}",
        k * r.stderr
    );
    assert!(
        r.stderr < 0.2,
        "{name}: stderr {} too large to mean anything",
        r.stderr
    );
}

#[test]
fn smc_and_adaptive_ais_find_the_2d_mixtures_log_z() {
    let mix = mixture_2d();
    let base = DiagGaussian::new(vec![0.0, 3.0], vec![6.0, 6.0]).unwrap();
    let t = Target::Continuous(&mix);
    let cfg = SmcConfig {
        particles: 500,
        seed: 3,
        ..Default::default()
    };
    check(
        "2-D SMC",
        &smc(&mala, t, Reference::Base(&base), &cfg).unwrap(),
        0.0,
        4.0,
    );
    // without a pilot every run adapts as it goes (a bias of order 1/N,
    // well under the error bar here)
    let no_pilot = SmcConfig {
        pilot: false,
        ..cfg.clone()
    };
    let r = smc(&mala, t, Reference::Base(&base), &no_pilot).unwrap();
    check("2-D SMC without a pilot", &r, 0.0, 4.0);
    assert!(r.pilot_log_z.is_nan());
    let ais = SmcConfig {
        resample_below: None,
        runs: 1,
        ..cfg
    };
    let r = smc(&mala, t, Reference::Base(&base), &ais).unwrap();
    check("2-D adaptive AIS", &r, 0.0, 4.0);
    assert!(r.resamples == vec![0]);
}

#[test]
fn smc_finds_the_10d_mixtures_log_z() {
    let mix = mixture_10d();
    let base = DiagGaussian::new(vec![0.0; 10], vec![4.0; 10]).unwrap();
    let cfg = SmcConfig {
        particles: 1000,
        seed: 5,
        ..Default::default()
    };
    let r = smc(&hmc, Target::Continuous(&mix), Reference::Base(&base), &cfg).unwrap();
    check("10-D SMC", &r, 0.0, 4.0);
    assert!(r.warnings.is_empty(), "{:?}", r.warnings);
}

/// log Z of a binary model by enumerating its 2^D states.
fn enumerate(m: &dyn BinaryEnergy) -> f64 {
    let d = m.dim();
    let (lo, hi) = m.states();
    let logs: Vec<f64> = (0u32..1 << d)
        .map(|s| {
            let x: Vec<f64> = (0..d).map(|i| if s >> i & 1 == 1 { hi } else { lo }).collect();
            -m.energy(&x)
        })
        .collect();
    ebm_core::math::log_sum_exp(&logs)
}

#[test]
fn smc_with_gibbs_finds_binary_models_log_z() {
    let gibbs = || Ok(Box::new(Gibbs::default()) as Box<dyn Kernel>);
    let cfg = SmcConfig {
        particles: 400,
        steps: 2,
        seed: 7,
        ..Default::default()
    };
    // strong weights (3 N(0, 1)): separated visible modes
    let rbm = common::random_rbm(12, 5, 3.0, 23);
    let r = smc(&gibbs, Target::Binary(&rbm), Reference::Uniform, &cfg).unwrap();
    check("RBM 12x5", &r, enumerate(&rbm), 4.0);
    // an ordered 4x4 lattice with a field
    let ising = Ising::new(4, 4, 1.0, 0.05, 1.0, true).unwrap();
    let r = smc(&gibbs, Target::Binary(&ising), Reference::Uniform, &cfg).unwrap();
    check("Ising 4x4", &r, enumerate(&ising), 4.0);
}

/// Over 50 seeds on the 2-D mixture (exact log Z = 0), the share of runs
/// whose estimate lies within 2 reported standard errors must be between
/// 0.85 and 1 (an honest error bar covers about 95% of the time; the
/// spread of a share of 50 is about 0.03). Ten runs of 100 particles
/// each (the default number of runs), their spread being the error bar.
#[test]
fn smc_error_bars_are_calibrated_over_50_seeds() {
    let mix = mixture_2d();
    let base = DiagGaussian::new(vec![0.0, 3.0], vec![6.0, 6.0]).unwrap();
    let exact = mix.log_partition().unwrap();
    let (mut within, mut z_sum) = (0, 0.0);
    for seed in 0..50 {
        let cfg = SmcConfig {
            particles: 100,
            seed,
            ..Default::default()
        };
        let r = smc(&mala, Target::Continuous(&mix), Reference::Base(&base), &cfg).unwrap();
        within += ((r.log_z - exact).abs() < 2.0 * r.stderr) as usize;
        z_sum += (r.log_z - exact) / r.stderr;
    }
    let share = within as f64 / 50.0;
    eprintln!(
        "calibration: {within} of 50 within 2 SE; mean error {:.2} SE",
        z_sum / 50.0
    );
    assert!((0.85..=1.0).contains(&share), "{within} of 50 within 2 SE");
}

#[test]
fn smc_is_bit_identical_with_one_and_two_threads() {
    let mix = mixture_2d();
    let base = DiagGaussian::new(vec![0.0, 3.0], vec![6.0, 6.0]).unwrap();
    let cfg = SmcConfig {
        particles: 300,
        runs: 2,
        seed: 9,
        ..Default::default()
    };
    let go = || smc(&mala, Target::Continuous(&mix), Reference::Base(&base), &cfg).unwrap();
    let (a, b) = (in_pool(1, go), in_pool(2, go));
    assert_eq!(format!("{a:?}"), format!("{b:?}"));
}

#[test]
fn bad_settings_are_refused() {
    let mix = mixture_2d();
    let base = DiagGaussian::standard(2);
    let t = Target::Continuous(&mix);
    let err = |c: SmcConfig, r: Reference<'_>| smc(&mala, t, r, &c).unwrap_err().to_string();
    assert!(err(
        SmcConfig {
            particles: 1,
            ..Default::default()
        },
        Reference::Base(&base)
    )
    .contains("particles"));
    assert!(err(
        SmcConfig {
            target_cess: 1.0,
            ..Default::default()
        },
        Reference::Base(&base)
    )
    .contains("target_cess"));
    assert!(err(SmcConfig::default(), Reference::Hot).contains("reference"));
    assert!(err(SmcConfig::default(), Reference::Base(&DiagGaussian::standard(3))).contains("dimension"));
}

/// `n` exact draws of `mix`, particle i from stream 1000 + i.
fn exact_draws(mix: &Gmm, n: usize) -> ebm_core::Points {
    use ebm_core::ExactSample;
    let d = mix.dim();
    let mut p = ebm_core::Points::zeros(n, d);
    for (i, x) in p.as_mut_slice().chunks_exact_mut(d).enumerate() {
        mix.sample_into(&mut ebm_core::chain_rng(1000, i), x);
    }
    p
}

/// The forward and reverse runs bracket the exact log Z of a mixture and
/// of a strongly coupled RBM (each within 3 of its standard errors on its
/// side), the Markov bound at delta = 0.05 lies below, and the gap shrinks
/// as the schedule gets finer (target CESS 0.9, 0.99, 0.999).
#[test]
fn the_sandwich_brackets_log_z_and_narrows_with_more_temperatures() {
    use ebm_samplers::ais::bounds::sandwich;
    let mix = mixture_2d();
    let base = DiagGaussian::new(vec![0.0, 3.0], vec![6.0, 6.0]).unwrap();
    let draws = exact_draws(&mix, 500);
    let mut gaps = Vec::new();
    for cess in [0.9, 0.99, 0.999] {
        let cfg = SmcConfig {
            particles: 500,
            target_cess: cess,
            seed: 4,
            ..Default::default()
        };
        let s = sandwich(
            &mala,
            Target::Continuous(&mix),
            Reference::Base(&base),
            &draws,
            &cfg,
            0.05,
        )
        .unwrap();
        eprintln!(
            "mixture, CESS {cess}: [{:.4} +- {:.4}, {:.4} +- {:.4}], gap {:.4}, {} temperatures, warnings {:?}",
            s.lower, s.lower_stderr, s.upper, s.upper_stderr, s.gap, s.temperatures, s.warnings
        );
        assert!(
            s.lower - 3.0 * s.lower_stderr < 0.0 && 0.0 < s.upper + 3.0 * s.upper_stderr,
            "{s:?}"
        );
        assert!(s.markov_lower < 0.0);
        gaps.push(s.gap.abs());
    }
    assert!(gaps[2] < gaps[0], "gaps {gaps:?}");
    // an RBM, its exact draws by enumerating the 2^12 visible states
    let rbm = common::random_rbm(12, 5, 2.0, 29);
    let d = 12;
    let states: Vec<Vec<f64>> = (0u32..1 << d)
        .map(|s| (0..d).map(|i| (s >> i & 1) as f64).collect())
        .collect();
    let logp: Vec<f64> = states.iter().map(|v| -rbm.free_energy(v)).collect();
    let log_z = ebm_core::math::log_sum_exp(&logp);
    let mut rng = ebm_core::chain_rng(77, 0);
    let mut x = Vec::new();
    for _ in 0..400 {
        let mut u: f64 = rand::Rng::random(&mut rng);
        let pick = logp.iter().position(|l| {
            u -= (l - log_z).exp();
            u < 0.0
        });
        x.extend_from_slice(&states[pick.unwrap_or(states.len() - 1)]);
    }
    let draws = ebm_core::Points::from_vec(x, d).unwrap();
    let gibbs = || Ok(Box::new(Gibbs::default()) as Box<dyn Kernel>);
    let cfg = SmcConfig {
        particles: 400,
        steps: 2,
        seed: 6,
        ..Default::default()
    };
    let s = sandwich(
        &gibbs,
        Target::Binary(&rbm),
        Reference::Uniform,
        &draws,
        &cfg,
        0.05,
    )
    .unwrap();
    eprintln!(
        "RBM: [{:.4}, {:.4}] around {log_z:.4}, gap {:.4}",
        s.lower, s.upper, s.gap
    );
    assert!(
        s.lower - 3.0 * s.lower_stderr < log_z && log_z < s.upper + 3.0 * s.upper_stderr,
        "{s:?}"
    );
}

/// Draws from one mode only are not the model's: the reverse estimate
/// then lands far from the forward one, and the sandwich warns.
#[test]
fn the_sandwich_warns_when_the_draws_are_not_the_models() {
    use ebm_samplers::ais::bounds::sandwich;
    let mix = mixture_2d();
    let base = DiagGaussian::new(vec![0.0, 3.0], vec![6.0, 6.0]).unwrap();
    let one_mode = Gmm::new(vec![1.0], vec![vec![0.0, 8.0]], vec![0.6]).unwrap();
    let draws = exact_draws(&one_mode, 300);
    let cfg = SmcConfig {
        particles: 300,
        seed: 8,
        ..Default::default()
    };
    let s = sandwich(
        &mala,
        Target::Continuous(&mix),
        Reference::Base(&base),
        &draws,
        &cfg,
        0.05,
    )
    .unwrap();
    eprintln!("wrong draws: {s:?}");
    assert!(
        s.warnings.iter().any(|w| w.contains("forward")),
        "{:?}",
        s.warnings
    );
}

/// The 10-D mixture of the benchmark's W9 (four modes 8.2 or more apart,
/// sds 0.6-1.2, unequal weights; `examples-data/w9_gmm10.json`).
fn w9_mixture() -> Gmm {
    let spec: serde_json::Value =
        serde_json::from_str(include_str!("../../examples-data/w9_gmm10.json")).unwrap();
    let floats = |v: &serde_json::Value| -> Vec<f64> {
        v.as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_f64().unwrap())
            .collect()
    };
    let means = spec["means"].as_array().unwrap().iter().map(floats).collect();
    Gmm::new(floats(&spec["weights"]), means, floats(&spec["stds"])).unwrap()
}

/// Population moves (independence Metropolis-Hastings from cross-fitted
/// mixtures) carry particles between modes that HMC cannot cross: on the
/// W9 mixture, one adaptive run each on 12 seeds, the spread of the log Z
/// error is well under that of HMC alone (0.13 against 0.31 over 50
/// seeds in the suite's setting), and the mean error stays within 3.5
/// of its standard errors.
#[test]
fn population_moves_narrow_the_spread_between_modes() {
    let mix = w9_mixture();
    let exact = mix.log_partition().unwrap();
    let base = DiagGaussian::new(vec![0.0; 10], vec![5.0; 10]).unwrap();
    let hmc10 = || Ok(Box::new(Hmc::new(0.3, 10)?) as Box<dyn Kernel>);
    let spread = |mixture_moves: usize| {
        let errors: Vec<f64> = (0..12)
            .map(|seed| {
                let cfg = SmcConfig {
                    particles: 1000,
                    target_cess: 0.8,
                    steps: 3,
                    mixture_moves,
                    runs: 1,
                    pilot: false,
                    seed,
                    ..Default::default()
                };
                smc(&hmc10, Target::Continuous(&mix), Reference::Base(&base), &cfg)
                    .unwrap()
                    .log_z
                    - exact
            })
            .collect();
        let mean = errors.iter().sum::<f64>() / 12.0;
        let sd = (errors.iter().map(|e| (e - mean).powi(2)).sum::<f64>() / 11.0).sqrt();
        (mean, sd)
    };
    let (plain_mean, plain_sd) = spread(0);
    let (mean, sd) = spread(2);
    eprintln!(
        "HMC alone: error {plain_mean:+.3} sd {plain_sd:.3}; with population moves {mean:+.3} sd {sd:.3}"
    );
    assert!(sd < 0.6 * plain_sd, "sd {sd} vs {plain_sd}");
    assert!(
        mean.abs() < 3.5 * sd / 12f64.sqrt(),
        "mean error {mean} (sd {sd})"
    );
}

/// With a pilot, the runs move with the pilot's proposals (a fixed
/// kernel per temperature), so their Z stays unbiased: the 10-D test
/// mixture within 4 standard errors; and the same bits with one thread
/// or two.
#[test]
fn population_moves_on_the_pilots_plan() {
    let mix = mixture_10d();
    let base = DiagGaussian::new(vec![0.0; 10], vec![5.0; 10]).unwrap();
    let cfg = SmcConfig {
        particles: 500,
        mixture_moves: 1,
        seed: 3,
        ..Default::default()
    };
    let go = || smc(&hmc, Target::Continuous(&mix), Reference::Base(&base), &cfg).unwrap();
    let r = in_pool(2, go);
    check("10-D SMC with population moves", &r, 0.0, 4.0);
    assert_eq!(format!("{r:?}"), format!("{:?}", in_pool(1, go)));
}

/// Population moves draw from a Gaussian mixture: a binary model is
/// refused with a message that names them.
#[test]
fn population_moves_need_a_continuous_model() {
    let ising = Ising::new(3, 3, 0.4, 0.0, 1.0, false).unwrap();
    let gibbs = || Ok(Box::new(Gibbs::default()) as Box<dyn Kernel>);
    let cfg = SmcConfig {
        mixture_moves: 1,
        ..Default::default()
    };
    let err = smc(&gibbs, Target::Binary(&ising), Reference::Uniform, &cfg).unwrap_err();
    assert!(err.to_string().contains("mixture_moves"), "{err}");
}

/// Waste-free SMC (Dau and Chopin 2022): every state of M = N / P chains
/// of P states is a particle. On the pilot's plan it finds the 2-D
/// mixture's log Z (MALA, 50 chains of 10) and an ordered Ising
/// lattice's (Gibbs, 40 chains of 10) within 4 reported standard errors,
/// with the same bits on one thread or two; with chains of one state
/// (P = 1, plain resampling without moves) or P not dividing N it is
/// refused, and so are AIS (no resampling) and population moves.
#[test]
fn waste_free_smc_finds_log_z() {
    let mix = mixture_2d();
    let base = DiagGaussian::new(vec![0.0, 3.0], vec![6.0, 6.0]).unwrap();
    let cfg = SmcConfig {
        particles: 500,
        waste_free: Some(10),
        seed: 2,
        ..Default::default()
    };
    let go = || smc(&mala, Target::Continuous(&mix), Reference::Base(&base), &cfg).unwrap();
    let r = in_pool(2, go);
    check("2-D waste-free SMC", &r, 0.0, 4.0);
    assert_eq!(format!("{r:?}"), format!("{:?}", in_pool(1, go)));
    let gibbs = || Ok(Box::new(Gibbs::default()) as Box<dyn Kernel>);
    let ising = Ising::new(4, 4, 1.0, 0.05, 1.0, true).unwrap();
    let cfg = SmcConfig {
        particles: 400,
        waste_free: Some(10),
        seed: 7,
        ..Default::default()
    };
    let r = smc(&gibbs, Target::Binary(&ising), Reference::Uniform, &cfg).unwrap();
    check("Ising 4x4, waste-free", &r, enumerate(&ising), 4.0);
    let t = Target::Continuous(&mix);
    for bad in [
        SmcConfig {
            waste_free: Some(1),
            ..cfg.clone()
        },
        SmcConfig {
            waste_free: Some(300),
            ..cfg.clone()
        },
        SmcConfig {
            waste_free: Some(7),
            ..cfg.clone()
        },
        SmcConfig {
            resample_below: None,
            ..cfg.clone()
        },
        SmcConfig {
            mixture_moves: 1,
            ..cfg.clone()
        },
    ] {
        let err = smc(&mala, t, Reference::Base(&base), &bad)
            .unwrap_err()
            .to_string();
        assert!(err.contains("waste_free"), "{bad:?}: {err}");
    }
}
