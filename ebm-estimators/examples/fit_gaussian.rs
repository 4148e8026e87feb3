//! Fit a correlated 2-D Gaussian from its samples with each objective and
//! compare the learned mean, precision and log Z with the truth.
//!
//! Run with `cargo run --release -p ebm-estimators --example fit_gaussian`.

use dfdx::prelude::*;
use ebm_core::energies::Gaussian;
use ebm_core::{setup_rng, Energy, ExactSample, Points};
use ebm_estimators::models::GaussianEnergy;
use ebm_estimators::objectives::{CapabilityObjective, ChainNegatives, Dsm, MaxLikelihood, Nce, Negatives};
use ebm_estimators::trainer::{train, History, TrainConfig};
use ebm_samplers::Mala;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let truth = Gaussian::from_covariance(vec![2.0, -1.0], &[1.0, 0.6, 0.6, 0.8])?;
    let mut rng = setup_rng(0);
    let mut x = vec![0.0; 2 * 10_000];
    x.chunks_exact_mut(2).for_each(|r| truth.sample_into(&mut rng, r));
    let data = Points::from_vec(x, 2)?;

    fn fit<O: CapabilityObjective>(
        o: &mut O,
        data: &Points,
    ) -> Result<GaussianEnergy<f64, Cpu>, Box<dyn std::error::Error>> {
        let mut model = GaussianEnergy::standard(&Cpu::default(), 2);
        train(
            &mut model,
            o,
            data,
            &TrainConfig::steps(2000, 256, 0.01),
            &mut History::default(),
        )?;
        Ok(model)
    }
    let mala = || Mala::new(0.3).expect("valid step");
    let mut nce = Nce::new(4, None)?;
    let fits = [
        (
            "cd-5",
            fit(
                &mut MaxLikelihood::new(ChainNegatives::new(mala(), Negatives::Cd { steps: 5 })?),
                &data,
            )?,
        ),
        (
            "pcd-2",
            fit(
                &mut MaxLikelihood::new(ChainNegatives::new(
                    mala(),
                    Negatives::Pcd {
                        steps: 2,
                        chains: 256,
                    },
                )?),
                &data,
            )?,
        ),
        ("dsm", fit(&mut Dsm::new(0.1)?, &data)?),
        ("nce", fit(&mut nce, &data)?),
    ];
    println!(
        "truth: mean {:?}, precision {:?}, log Z {:.4}",
        truth.mean(),
        truth.precision(),
        truth.log_partition().unwrap_or(f64::NAN)
    );
    for (name, m) in &fits {
        let p: Vec<String> = m.precision().iter().map(|v| format!("{v:.3}")).collect();
        let mean: Vec<String> = m.mean().iter().map(|v| format!("{v:.3}")).collect();
        println!(
            "{name:>6}: mean [{}], precision [{}], log Z {:.4}",
            mean.join(", "),
            p.join(", "),
            m.log_partition().unwrap_or(f64::NAN)
        );
    }
    println!("NCE's learned log-normaliser: {:.4}", nce.log_normaliser());
    Ok(())
}
