//! Product of experts versus mixture of experts, with two soft constraints
//! in 2-D: "near the ring of radius 2" and "in the left half-plane".
//!
//! The product E_base + E_ring + E_half puts its mass where *both*
//! constraints hold (the left arc); the mixture of (base + ring) and
//! (base + half) puts it where *either* holds. Both are sampled with MALA,
//! the share of samples satisfying both constraints is printed, and the
//! samples are drawn side by side into `poe_vs_moe.svg`.
//!
//! Run with `cargo run --release -p ebm-compose --example poe_vs_moe`.

use ebm_compose::{Mixture, Product, SoftConstraint};
use ebm_core::energies::DiagGaussian;
use ebm_core::quadrature::{log_partition_quadrature, QuadratureOptions};
use ebm_core::{Energy, ExactSample, Points};
use ebm_samplers::driver::{run, RunConfig, Silent};
use ebm_samplers::Mala;
use std::sync::Arc;

fn satisfies_ring(x: &[f64]) -> bool {
    ((x[0] * x[0] + x[1] * x[1]).sqrt() - 2.0).abs() <= 0.5
}
fn satisfies_half(x: &[f64]) -> bool {
    x[0] <= 0.0
}

/// MALA from 64 starting points drawn from N(0, 1.5^2 I). (Starting all
/// chains at the origin would strand some there: the ring penalty is a
/// steep cone around its centre, and MALA's proposals from the tip
/// overshoot the ring and are rejected.)
fn sample(e: &dyn Energy, seed: u64) -> Result<Vec<f64>, Box<dyn std::error::Error>> {
    let init = DiagGaussian::new(vec![0.0, 0.0], vec![1.5, 1.5])?;
    let mut rng = ebm_core::setup_rng(seed);
    let mut x0 = vec![0.0; 64 * 2];
    for x in x0.chunks_exact_mut(2) {
        init.sample_into(&mut rng, x);
    }
    let mut mala = Mala::new(0.05)?;
    let cfg = RunConfig {
        warmup: 1000,
        draws: 500,
        thin: 4,
        seed,
        adapt_mass: false,
        ..Default::default()
    };
    let out = run(&mut mala, e, Points::from_vec(x0, 2)?, &cfg, &mut Silent)?;
    // A chain stranded where the penalty is steep shows as near-zero acceptance.
    let worst = out.acceptance.iter().copied().fold(1.0, f64::min);
    println!(
        "MALA step {:.3}, lowest per-chain acceptance {worst:.2}",
        out.step_size
    );
    Ok(out.draws.into_vec())
}

fn share_both(draws: &[f64]) -> f64 {
    let pts: Vec<&[f64]> = draws.chunks_exact(2).collect();
    pts.iter()
        .filter(|x| satisfies_ring(x) && satisfies_half(x))
        .count() as f64
        / pts.len() as f64
}

fn svg_panel(draws: &[f64], x_off: f64, title: &str) -> String {
    let mut s = format!(
        r#"<text x="{}" y="20" font-size="16" text-anchor="middle">{title}</text>"#,
        x_off + 200.0
    );
    // Constraint outlines: the ring band and the half-plane boundary.
    s += &format!(
        r##"<circle cx="{cx}" cy="220" r="80" fill="none" stroke="#999" stroke-dasharray="4"/><line x1="{cx}" y1="40" x2="{cx}" y2="400" stroke="#999" stroke-dasharray="4"/>"##,
        cx = x_off + 200.0
    );
    for p in draws.chunks_exact(2).step_by(4) {
        let (px, py) = (x_off + 200.0 + 40.0 * p[0], 220.0 - 40.0 * p[1]);
        if (x_off..x_off + 400.0).contains(&px) && (30.0..410.0).contains(&py) {
            s += &format!(
                r##"<circle cx="{px:.1}" cy="{py:.1}" r="1.2" fill="#1f77b4" fill-opacity="0.5"/>"##
            );
        }
    }
    s
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let base = Arc::new(DiagGaussian::new(vec![0.0, 0.0], vec![3.0, 3.0])?) as Arc<dyn Energy>;
    let ring = Arc::new(SoftConstraint::ring(vec![0.0, 0.0], 2.0, 0.1, 10.0)?) as Arc<dyn Energy>;
    let half = Arc::new(SoftConstraint::half_space(vec![1.0, 0.0], 0.0, 10.0)?) as Arc<dyn Energy>;

    let poe = Product::new(vec![base.clone(), ring.clone(), half.clone()])?;
    // The mixture needs each component's log Z: 2-D quadrature gives it.
    let comp_ring = Product::new(vec![base.clone(), ring])?;
    let comp_half = Product::new(vec![base, half])?;
    let opts = QuadratureOptions::default();
    let lz = vec![
        Some(log_partition_quadrature(&comp_ring, &opts)?),
        Some(log_partition_quadrature(&comp_half, &opts)?),
    ];
    let moe = Mixture::with_log_partitions(vec![comp_ring, comp_half], vec![0.5, 0.5], lz)?;

    let (dp, dm) = (sample(&poe, 1)?, sample(&moe, 2)?);
    let (sp, sm) = (share_both(&dp), share_both(&dm));
    println!("share of samples satisfying both constraints: product {sp:.3}, mixture {sm:.3}");
    let svg = format!(
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="820" height="420" viewBox="0 0 820 420"><rect width="820" height="420" fill="white"/>{}{}</svg>"#,
        svg_panel(
            &dp,
            0.0,
            &format!("product of experts: {:.0}% satisfy both", 100.0 * sp)
        ),
        svg_panel(
            &dm,
            420.0,
            &format!("mixture of experts: {:.0}% satisfy both", 100.0 * sm)
        )
    );
    std::fs::write("poe_vs_moe.svg", svg)?;
    println!("wrote poe_vs_moe.svg");
    Ok(())
}
