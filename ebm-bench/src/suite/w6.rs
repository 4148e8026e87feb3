//! W6: the product of experts picture. Two soft constraints in 2-D on a
//! broad N(0, 3^2 I) base: "near the ring of radius 2" (band half-width
//! 0.1, strength 10) and "in the left half-plane x_0 <= 0" (strength 10).
//! The product (energies add) should satisfy both; the mixture of (base +
//! ring) and (base + half-plane), with component log Z by quadrature,
//! either. Both sampled with MALA (64 chains from N(0, 1.5^2 I), adapted
//! step); reported: the share of samples within 0.5 of the ring *and* in
//! the half-plane, for each; plotted side by side.

use super::{Record, SuiteCtx, Throughput};
use crate::error::sampler_err;
use crate::error::CliResult;
use crate::figure::{Figure, Scatter};
use crate::progress::Progress;
use ebm_compose::{Mixture, Product, SoftConstraint};
use ebm_core::energies::DiagGaussian;
use ebm_core::quadrature::{log_partition_quadrature, QuadratureOptions};
use ebm_core::{setup_rng, Energy, ExactSample, Points};
use ebm_samplers::driver::{run, RunConfig};
use ebm_samplers::Mala;
use serde_json::json;
use std::sync::Arc;
use std::time::Instant;

fn both(p: &[f64]) -> bool {
    ((p[0] * p[0] + p[1] * p[1]).sqrt() - 2.0).abs() <= 0.5 && p[0] <= 0.0
}

fn sample(
    ctx: &SuiteCtx,
    e: &dyn Energy,
    draws: usize,
    label: &'static str,
) -> CliResult<(Vec<f64>, f64, f64)> {
    let init = DiagGaussian::new(vec![0.0, 0.0], vec![1.5, 1.5])?;
    let mut rng = setup_rng(ctx.seed);
    let mut x0 = vec![0.0; 64 * 2];
    for x in x0.chunks_exact_mut(2) {
        init.sample_into(&mut rng, x);
    }
    let cfg = RunConfig {
        warmup: 1000,
        burn_in: 0,
        draws,
        thin: 4,
        adapt_step_size: true,
        adapt_mass: false,
        store_draws: true,
        seed: ctx.seed,
    };
    let mut mala = Mala::new(0.05).map_err(sampler_err)?;
    let t = Instant::now();
    let out = run(
        &mut mala,
        e,
        Points::from_vec(x0, 2)?,
        &cfg,
        &mut Progress::new(label),
    )
    .map_err(sampler_err)?;
    let seconds = t.elapsed().as_secs_f64();
    let acc = out.acceptance.iter().sum::<f64>() / 64.0;
    Ok((out.draws.into_vec(), seconds, acc))
}

/// Run W6.
pub fn run_w6(ctx: &SuiteCtx) -> CliResult<(Vec<Record>, Vec<String>)> {
    let base = Arc::new(DiagGaussian::new(vec![0.0, 0.0], vec![3.0, 3.0])?) as Arc<dyn Energy>;
    let ring = Arc::new(SoftConstraint::ring(vec![0.0, 0.0], 2.0, 0.1, 10.0)?) as Arc<dyn Energy>;
    let half = Arc::new(SoftConstraint::half_space(vec![1.0, 0.0], 0.0, 10.0)?) as Arc<dyn Energy>;
    let poe = Product::new(vec![base.clone(), ring.clone(), half.clone()])?;
    let comp_ring = Product::new(vec![base.clone(), ring])?;
    let comp_half = Product::new(vec![base, half])?;
    let opts = QuadratureOptions::default();
    let lz = vec![
        Some(log_partition_quadrature(&comp_ring, &opts)?),
        Some(log_partition_quadrature(&comp_half, &opts)?),
    ];
    let moe = Mixture::with_log_partitions(vec![comp_ring, comp_half], vec![0.5, 0.5], lz)?;
    let draws = if ctx.quick { 200 } else { 1000 };
    let mut records = Vec::new();
    let mut panels = Vec::new();
    let results = [
        ("product", sample(ctx, &poe, draws, "W6 product")?),
        ("mixture", sample(ctx, &moe, draws, "W6 mixture")?),
    ];
    for (name, (d, seconds, acc)) in &results {
        let n = d.len() / 2;
        let share = d.chunks_exact(2).filter(|p| both(p)).count() as f64 / n as f64;
        records.push(Record {
            workload: "W6".into(),
            method: format!("mala, {name} of experts"),
            seconds: *seconds,
            throughput: Throughput {
                value: (64 * (1000 + 4 * draws)) as f64 / seconds,
                unit: "chain-steps/s".into(),
            },
            quality: json!({"share_satisfying_both": share, "acceptance": acc}),
            config: json!({"chains": 64, "warmup": 1000, "draws": draws, "thin": 4,
                           "constraints": "ring r=2 (band 0.1, lambda 10), half-plane x0<=0 (lambda 10)"}),
            timing: None,
            summary: format!("{:.1}% of samples satisfy both constraints", 100.0 * share),
            digest: None,
        });
        panels.push((name.to_string(), share, d.clone()));
    }
    let scatters: Vec<Scatter<'_>> = panels
        .iter()
        .map(|(name, share, d)| Scatter {
            points: d,
            lo: -5.0,
            hi: 5.0,
            title: format!("{name} of experts: {:.0}% satisfy both", 100.0 * share),
            circles: vec![(0.0, 0.0, 2.0)],
            vlines: vec![0.0],
            background: None,
            contours: vec![],
        })
        .collect();
    let plots = ctx.write_plot(
        "w6_poe_vs_moe",
        &Figure::Scatter {
            panels: scatters,
            size: 420,
        },
    )?;
    Ok((records, plots))
}
