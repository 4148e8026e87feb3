//! A kernel written outside the crate, with its public API only: random-walk
//! Metropolis, run as `Box<dyn Kernel>` through the driver with the same
//! chunking, threads and per-chain streams as the kernels of ebm-samplers.
//!
//! Random-walk Metropolis (Metropolis et al. 1953): propose
//! y = x + s z with z ~ N(0, I), accept with probability
//! min(1, exp(E(x) - E(y))). The proposal is symmetric, so p ∝ exp(-E) is
//! exactly invariant.
//!
//! Run with `cargo run --release -p ebm-samplers --example custom_kernel`.

use ebm_core::energies::Gaussian;
use ebm_core::Points;
use ebm_samplers::driver::{run, RunConfig, Silent};
use ebm_samplers::normals::Normals;
use ebm_samplers::{ChunkMut, Kernel, Scratch, Target};
use rand::Rng;

/// Random-walk Metropolis with proposal scale `scale`.
pub struct RandomWalk {
    /// The proposal's standard deviation s.
    pub scale: f64,
}

/// The kernel's work buffers for one chunk of chains: proposals, their
/// gradients and energies, and the normals.
#[derive(Default)]
struct RandomWalkScratch {
    y: Vec<f64>,
    gy: Vec<f64>,
    ey: Vec<f64>,
    normals: Normals,
}

impl Kernel for RandomWalk {
    fn name(&self) -> &'static str {
        "rwm"
    }

    /// A figure of its own per chain and step: the squared distance the
    /// chain moved (0 when the proposal was rejected), whose mean, the
    /// expected squared jump distance, is the usual yardstick for tuning
    /// the scale.
    fn figures(&self) -> &'static [&'static str] {
        &["squared_jump"]
    }

    fn step_chunk(&self, target: Target<'_>, c: &mut ChunkMut<'_>, scratch: &mut Scratch) {
        // continuous by default: the machinery has checked the target
        let Some(energy) = target.energy() else { return };
        let s = scratch.get(RandomWalkScratch::default);
        let (n, d) = (c.len(), c.d);
        s.y.resize(n * d, 0.0);
        s.gy.resize(n * d, 0.0);
        s.ey.resize(n, 0.0);
        let (z, stride) = s.normals.draw(c.rngs, d);
        for k in 0..n {
            for j in 0..d {
                s.y[k * d + j] = c.x[k * d + j] + self.scale * z[k * stride + j];
            }
        }
        // chains keep grad E(x) current for every kernel, so the proposals'
        // gradients come along
        energy.energy_grad_batch(&s.y, &mut s.gy, &mut s.ey);
        for (k, rng) in c.rngs.iter_mut().enumerate() {
            let log_alpha = c.energy[k] - s.ey[k];
            let ok = s.ey[k].is_finite();
            let p = if ok { log_alpha.min(0.0).exp() } else { 0.0 };
            c.accept[k] = p;
            c.divergent[k] = !ok;
            c.grad_evals[k] = 1;
            c.figures[k] = 0.0;
            if rng.random::<f64>() < p {
                c.figures[k] = (0..d).map(|j| (s.y[k * d + j] - c.x[k * d + j]).powi(2)).sum();
                c.x[k * d..(k + 1) * d].copy_from_slice(&s.y[k * d..(k + 1) * d]);
                c.grad[k * d..(k + 1) * d].copy_from_slice(&s.gy[k * d..(k + 1) * d]);
                c.energy[k] = s.ey[k];
            }
        }
    }
}

/// A 5-D Gaussian with covariance 0.5^|i-j| and mean (0, 1, 2, 3, 4).
pub fn target() -> Gaussian {
    let d: usize = 5;
    let cov: Vec<f64> = (0..d * d)
        .map(|k| 0.5f64.powi((k / d).abs_diff(k % d) as i32))
        .collect();
    Gaussian::from_covariance((0..d).map(|i| i as f64).collect(), &cov).expect("positive definite")
}

/// 64 chains of random-walk Metropolis on [`target`]: 500 warm-up and
/// 4,000 kept iterations, as a `Box<dyn Kernel>` through the driver.
pub fn sample(seed: u64) -> ebm_samplers::driver::RunOutput {
    let mut kernel: Box<dyn Kernel> = Box::new(RandomWalk { scale: 1.0 });
    let cfg = RunConfig {
        warmup: 500,
        draws: 4000,
        seed,
        ..Default::default()
    };
    run(&mut kernel, &target(), Points::zeros(64, 5), &cfg, &mut Silent).expect("valid run")
}

#[allow(dead_code)]
fn main() {
    let out = sample(1);
    let (mean, cov) = out.moments();
    let acc = out.acceptance.iter().sum::<f64>() / out.acceptance.len() as f64;
    println!("random-walk Metropolis on a 5-D Gaussian, 64 chains x 4,000 draws");
    println!("acceptance {acc:.3}, ESS min {:.0}", out.diagnostics().ess_min());
    println!("mean {:.3?} (exact 0, 1, 2, 3, 4)", mean);
    println!(
        "var  {:.3?} (exact 1)",
        (0..5).map(|j| cov[j * 5 + j]).collect::<Vec<_>>()
    );
    let esjd = out.figure_means("squared_jump").expect("the kernel's figure");
    let mean = esjd.iter().sum::<f64>() / esjd.len() as f64;
    println!("expected squared jump distance {mean:.3} (mean over chains)");
}
