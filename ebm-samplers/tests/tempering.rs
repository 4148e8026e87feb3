//! Parallel tempering on targets where one chain sticks: separated
//! mixtures with unequal weights (2-D and 10-D) and an ordered Ising
//! lattice with a small field, each against its exact mode weights.

use crate::common;

use common::in_pool;
use ebm_core::energies::{DiagGaussian, Gmm, Ising};
use ebm_core::{BinaryEnergy, Energy, Points};
use ebm_samplers::diagnostics::class_shares;
use ebm_samplers::driver::{run, RunConfig, RunOutput, Silent, Start};
use ebm_samplers::tempering::{run_pt, LadderKind, PtConfig, PtOutput, Reference};
use ebm_samplers::{gibbs::Gibbs, Hmc, Kernel, Target};

/// The component of `mix` most responsible for each draw, `[draw][chain]`.
fn modes_of(out: &RunOutput, mix: &Gmm) -> Vec<usize> {
    out.draws
        .chunks_exact(mix.dim())
        .map(|x| mix.component_of(x))
        .collect()
}

/// Each mode's share of the draws against its exact weight, within 4.5
/// Monte Carlo standard errors: SE = sqrt(w (1 - w) / ESS) with the ESS of
/// the mode's indicator series over the chains (Stan's estimator on the
/// split chains). Returns the largest error in standard errors.
fn check_shares(labels: &[usize], n_draws: usize, chains: usize, weights: &[f64]) -> f64 {
    let mut worst: f64 = 0.0;
    for (m, (&w, (share, ess))) in weights
        .iter()
        .zip(class_shares(labels, n_draws, chains, weights.len()))
        .enumerate()
    {
        let se = (w * (1.0 - w) / ess).sqrt();
        let z = (share - w).abs() / se;
        assert!(
            z < 4.5,
            "mode {m}: share {share:.4} vs weight {w} (se {se:.4}, ESS {ess:.0}, z {z})"
        );
        worst = worst.max(z);
    }
    worst
}

fn hmc() -> ebm_samplers::Result<Box<dyn Kernel>> {
    Ok(Box::new(Hmc::new(0.2, 10)?))
}

/// Three modes 12 apart with sd 0.6 and weights 0.55, 0.3, 0.15.
fn mixture_2d() -> (Gmm, Vec<Vec<f64>>, Vec<f64>) {
    let means = vec![vec![-6.0, 0.0], vec![6.0, 0.0], vec![0.0, 8.0]];
    let w = vec![0.55, 0.3, 0.15];
    (
        Gmm::new(w.clone(), means.clone(), vec![0.6; 3]).unwrap(),
        means,
        w,
    )
}

/// Four modes along the first two axes of R^10 (+-5 e_1, +-5 e_2; 7.1
/// apart, sd 0.5) with weights 0.4, 0.3, 0.2, 0.1.
fn mixture_10d() -> (Gmm, Vec<Vec<f64>>, Vec<f64>) {
    let axis = |j: usize, s: f64| {
        (0..10)
            .map(|i| if i == j { s } else { 0.0 })
            .collect::<Vec<f64>>()
    };
    let means = vec![axis(0, 5.0), axis(0, -5.0), axis(1, 5.0), axis(1, -5.0)];
    let w = vec![0.4, 0.3, 0.2, 0.1];
    (
        Gmm::new(w.clone(), means.clone(), vec![0.5; 4]).unwrap(),
        means,
        w,
    )
}

fn pt(
    target: Target<'_>,
    reference: Reference<'_>,
    start: Start,
    replicas: usize,
    ladder: LadderKind,
    warmup: usize,
    draws: usize,
    seed: u64,
) -> PtOutput {
    let cfg = PtConfig {
        run: RunConfig {
            warmup,
            draws,
            seed,
            ..Default::default()
        },
        replicas,
        ladder,
        ..Default::default()
    };
    match target {
        Target::Continuous(_) => run_pt(&hmc, target, reference, start, &cfg, &mut Silent).unwrap(),
        Target::Binary(_) | Target::Categorical(_) => {
            let gibbs = || Ok(Box::new(Gibbs::site()) as Box<dyn Kernel>);
            run_pt(&gibbs, target, reference, start, &cfg, &mut Silent).unwrap()
        }
    }
}

#[test]
fn hmc_alone_keeps_its_starting_modes_on_the_2d_mixture() {
    let (mix, means, _) = mixture_2d();
    // 12 chains, four started at each mode
    let x0: Vec<f64> = (0..12).flat_map(|c| means[c % 3].clone()).collect();
    let cfg = RunConfig {
        warmup: 500,
        draws: 2000,
        seed: 5,
        ..Default::default()
    };
    let out = run(
        &mut Hmc::new(0.2, 10).unwrap(),
        &mix,
        Points::from_vec(x0, 2).unwrap(),
        &cfg,
        &mut Silent,
    )
    .unwrap();
    let labels = modes_of(&out, &mix);
    for (i, &l) in labels.iter().enumerate() {
        assert_eq!(l, (i % 12) % 3, "chain {} left its mode", i % 12);
    }
}

#[test]
fn pt_puts_each_2d_mode_at_its_weight() {
    let (mix, means, w) = mixture_2d();
    let base = DiagGaussian::new(vec![0.0, 3.0], vec![6.0, 6.0]).unwrap();
    // every chain starts in the smallest mode
    let start = Start::Points(Points::from_vec((0..16).flat_map(|_| means[2].clone()).collect(), 2).unwrap());
    let out = pt(
        Target::Continuous(&mix),
        Reference::Base(&base),
        start,
        6,
        LadderKind::Geometric,
        500,
        1500,
        11,
    );
    let labels = modes_of(&out.run, &mix);
    let z = check_shares(&labels, 1500, 16, &w);
    let r = &out.report;
    assert!(
        r.round_trips.iter().all(|&t| t > 0),
        "round trips {:?}",
        r.round_trips
    );
    assert!(
        r.swap_rates.iter().all(|&s| s > 0.05 && s <= 1.0),
        "{:?}",
        r.swap_rates
    );
    eprintln!(
        "2-D: worst share error {z:.2} SE; swap rates {:?}; round trips/scan {:.4} (predicted {:.4})",
        r.swap_rates, r.round_trip_rate, r.predicted_round_trip_rate
    );
}

#[test]
fn pt_puts_each_10d_mode_at_its_weight_and_hmc_alone_does_not() {
    let (mix, means, w) = mixture_10d();
    let base = DiagGaussian::new(vec![0.0; 10], vec![4.0; 10]).unwrap();
    let start =
        || Start::Points(Points::from_vec((0..16).flat_map(|_| means[3].clone()).collect(), 10).unwrap());
    let out = pt(
        Target::Continuous(&mix),
        Reference::Base(&base),
        start(),
        10,
        LadderKind::Adaptive,
        1000,
        2000,
        12,
    );
    let labels = modes_of(&out.run, &mix);
    let z = check_shares(&labels, 2000, 16, &w);
    // HMC alone from the same start never leaves the lightest mode
    let Start::Points(x0) = start() else {
        unreachable!()
    };
    let cfg = RunConfig {
        warmup: 1000,
        draws: 2000,
        seed: 12,
        ..Default::default()
    };
    let alone = run(&mut Hmc::new(0.2, 10).unwrap(), &mix, x0, &cfg, &mut Silent).unwrap();
    assert!(modes_of(&alone, &mix).iter().all(|&l| l == 3));
    eprintln!(
        "10-D: worst share error {z:.2} SE; ladder {:?}; swap rates {:?}; barrier {:.2}",
        out.report.betas, out.report.swap_rates, out.report.barrier
    );
}

#[test]
fn the_adaptive_ladder_equalises_swap_rates() {
    let (mix, means, _) = mixture_10d();
    let base = DiagGaussian::new(vec![0.0; 10], vec![4.0; 10]).unwrap();
    let start =
        || Start::Points(Points::from_vec((0..16).flat_map(|_| means[0].clone()).collect(), 10).unwrap());
    let spread = |o: &PtOutput| {
        let s = &o.report.swap_rates;
        s.iter().copied().fold(f64::MIN, f64::max) - s.iter().copied().fold(f64::MAX, f64::min)
    };
    let fixed = pt(
        Target::Continuous(&mix),
        Reference::Base(&base),
        start(),
        8,
        LadderKind::Geometric,
        1000,
        1000,
        4,
    );
    let adapted = pt(
        Target::Continuous(&mix),
        Reference::Base(&base),
        start(),
        8,
        LadderKind::Adaptive,
        1000,
        1000,
        4,
    );
    eprintln!(
        "geometric {:?}\nadaptive  {:?}\nladder {:?}",
        fixed.report.swap_rates, adapted.report.swap_rates, adapted.report.betas
    );
    // each rate is a mean over 16 chains x 500 proposals (SE about 0.01)
    assert!(spread(&adapted) < 0.15, "adaptive spread {}", spread(&adapted));
    assert!(
        spread(&adapted) < 0.5 * spread(&fixed),
        "{} vs {}",
        spread(&adapted),
        spread(&fixed)
    );
    assert_eq!(
        adapted.report.ladders.len(),
        6,
        "the initial ladder and five rounds"
    );
    // the barrier estimate does not depend on the spacing (to within its noise)
    assert!((adapted.report.barrier - fixed.report.barrier).abs() < 0.25 * fixed.report.barrier);
}

/// P(magnetisation > 0) and P(magnetisation <= 0) of a binary model by
/// enumeration (zero magnetisation has probability 3e-7 here, too rare for
/// a normal approximation of its own share).
fn magnetisation_weights(m: &dyn BinaryEnergy) -> [f64; 2] {
    let d = m.dim();
    let mut x = vec![0.0; d];
    let (mut logw, mut label) = (Vec::new(), Vec::new());
    for s in 0u32..(1 << d) {
        for (i, v) in x.iter_mut().enumerate() {
            *v = if s >> i & 1 == 1 { 1.0 } else { -1.0 };
        }
        logw.push(-m.energy(&x));
        let mag: f64 = x.iter().sum();
        label.push(if mag > 0.0 { 0 } else { 1 });
    }
    let mx = logw.iter().copied().fold(f64::MIN, f64::max);
    let mut w = [0.0; 2];
    for (l, lw) in label.iter().zip(&logw) {
        w[*l] += (lw - mx).exp();
    }
    let t: f64 = w.iter().sum();
    w.map(|v| v / t)
}

#[test]
fn pt_flips_an_ordered_ising_lattice_to_its_exact_magnetisation_weights() {
    // 4x4 periodic, coupling 1, field 0.05: ordered (a flip costs two
    // domain walls, 16 units of energy), the up phase more likely
    let m = Ising::new(4, 4, 1.0, 0.05, 1.0, true).unwrap();
    let exact = magnetisation_weights(&m);
    let up = Points::from_vec(vec![-1.0; 16 * 16], 16).unwrap();
    // single-site Gibbs alone from all-down: stays down
    let cfg = RunConfig {
        warmup: 0,
        draws: 2000,
        seed: 3,
        adapt_step_size: false,
        adapt_mass: false,
        ..Default::default()
    };
    let alone = ebm_samplers::driver::run_target(
        &mut Gibbs::site(),
        Target::Binary(&m),
        Start::Points(up.clone()),
        &cfg,
        &mut Silent,
    )
    .unwrap();
    assert!(alone.draws.chunks_exact(16).all(|x| x.iter().sum::<f64>() <= 0.0));
    let out = pt(
        Target::Binary(&m),
        Reference::Uniform,
        Start::Points(up),
        8,
        LadderKind::Adaptive,
        400,
        2000,
        3,
    );
    let labels: Vec<usize> = out
        .run
        .draws
        .chunks_exact(16)
        .map(|x| {
            let s: f64 = x.iter().sum();
            if s > 0.0 {
                0
            } else {
                1
            }
        })
        .collect();
    let z = check_shares(&labels, 2000, 16, &exact);
    eprintln!(
        "Ising: exact {exact:?}, worst error {z:.2} SE, swap rates {:?}",
        out.report.swap_rates
    );
}

#[test]
fn pt_is_bit_identical_with_one_and_two_threads() {
    let (mix, means, _) = mixture_2d();
    let base = DiagGaussian::new(vec![0.0, 3.0], vec![6.0, 6.0]).unwrap();
    let go = || {
        let start =
            Start::Points(Points::from_vec((0..40).flat_map(|c| means[c % 3].clone()).collect(), 2).unwrap());
        pt(
            Target::Continuous(&mix),
            Reference::Base(&base),
            start,
            5,
            LadderKind::Adaptive,
            100,
            100,
            9,
        )
    };
    let (a, b) = (in_pool(1, go), in_pool(2, go));
    assert_eq!(a.run.draws, b.run.draws);
    // (Debug: the reports hold NaN for the exactly drawn reference)
    assert_eq!(format!("{:?}", a.report), format!("{:?}", b.report));
}

#[test]
fn bad_settings_are_refused() {
    let (mix, _, _) = mixture_2d();
    let base = DiagGaussian::standard(2);
    let start = || Start::Points(Points::zeros(4, 2));
    let cfg = |replicas, warmup, ladder| PtConfig {
        run: RunConfig {
            warmup,
            draws: 10,
            ..Default::default()
        },
        replicas,
        ladder,
        ..Default::default()
    };
    let t = Target::Continuous(&mix);
    let err = |c: &PtConfig, r: Reference<'_>| {
        run_pt(&hmc, t, r, start(), c, &mut Silent)
            .unwrap_err()
            .to_string()
    };
    assert!(err(&cfg(1, 10, LadderKind::Geometric), Reference::Base(&base)).contains("replicas"));
    assert!(err(&cfg(4, 10, LadderKind::Adaptive), Reference::Base(&base)).contains("20 warm-up"));
    assert!(err(&cfg(4, 10, LadderKind::Geometric), Reference::Uniform).contains("binary"));
    let wrong = DiagGaussian::standard(3);
    assert!(err(&cfg(4, 10, LadderKind::Geometric), Reference::Base(&wrong)).contains("dimension"));
    // Gibbs does not move a continuous model
    let gibbs = || Ok(Box::new(Gibbs::site()) as Box<dyn Kernel>);
    let e = run_pt(
        &gibbs,
        t,
        Reference::Hot,
        start(),
        &cfg(4, 10, LadderKind::Geometric),
        &mut Silent,
    )
    .unwrap_err();
    assert!(e.to_string().contains("continuous"), "{e}");
}

#[test]
fn mala_and_nuts_work_as_inner_kernels() {
    let (mix, _, w) = mixture_2d();
    let base = DiagGaussian::new(vec![0.0, 3.0], vec![6.0, 6.0]).unwrap();
    let cfg = PtConfig {
        run: RunConfig {
            warmup: 500,
            draws: 1500,
            seed: 21,
            ..Default::default()
        },
        replicas: 6,
        ..Default::default()
    };
    let reg = ebm_samplers::Registry::standard();
    for name in ["mala", "nuts"] {
        let make = || reg.build(name, &serde_json::json!({"step_size": 0.2}));
        let start = Start::Points(Points::zeros(16, 2));
        let out = run_pt(
            &make,
            Target::Continuous(&mix),
            Reference::Base(&base),
            start,
            &cfg,
            &mut Silent,
        )
        .unwrap();
        let z = check_shares(&modes_of(&out.run, &mix), 1500, 16, &w);
        eprintln!(
            "{name}: worst share error {z:.2} SE, swap rates {:?}",
            out.report.swap_rates
        );
    }
}

/// A strongly coupled RBM (weights 3 N(0, 1), 10 visibles, 4 hiddens) has
/// well separated visible modes; tempered Gibbs (site scans at beta < 1,
/// the block scan at the target) matches each visible unit's exact mean,
/// by enumerating the 2^10 visible states, within 4.5 MC standard errors.
#[test]
fn pt_with_gibbs_matches_an_rbms_exact_visible_means() {
    let rbm = common::random_rbm(10, 4, 3.0, 17);
    let d = 10;
    let (mut z, mut m) = (0.0, vec![0.0; d]);
    let f: Vec<(Vec<f64>, f64)> = (0u32..1 << d)
        .map(|s| {
            let v: Vec<f64> = (0..d).map(|i| (s >> i & 1) as f64).collect();
            let e = rbm.free_energy(&v);
            (v, e)
        })
        .collect();
    let fmin = f.iter().map(|p| p.1).fold(f64::INFINITY, f64::min);
    for (v, e) in &f {
        let p = (fmin - e).exp();
        z += p;
        for i in 0..d {
            m[i] += p * v[i];
        }
    }
    m.iter_mut().for_each(|v| *v /= z);
    let gibbs = || Ok(Box::new(Gibbs::default()) as Box<dyn Kernel>);
    let cfg = PtConfig {
        run: RunConfig {
            warmup: 300,
            draws: 2000,
            seed: 8,
            ..Default::default()
        },
        replicas: 6,
        ..Default::default()
    };
    let out = run_pt(
        &gibbs,
        Target::Binary(&rbm),
        Reference::Uniform,
        Start::Uniform { chains: 16 },
        &cfg,
        &mut Silent,
    )
    .unwrap();
    let diag = out.run.diagnostics();
    let mean = out.run.mean();
    for i in 0..d {
        let se = (m[i] * (1.0 - m[i]) / diag.ess[i]).sqrt();
        assert!(
            (mean[i] - m[i]).abs() < 4.5 * se,
            "unit {i}: {} vs exact {} (se {se})",
            mean[i],
            m[i]
        );
    }
}
