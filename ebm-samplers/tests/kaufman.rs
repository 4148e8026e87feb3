//! Ising AIS and SMC against Kaufman's (1949) exact partition function of
//! the periodic square lattice without a field (`Ising::kaufman_log_partition`,
//! implemented from the paper's formula), checked first against
//! enumeration on small lattices.

use ebm_core::energies::Ising;
use ebm_core::BinaryEnergy;
use ebm_samplers::ais::smc::{smc, SmcConfig};
use ebm_samplers::ais::{ais_binary, Schedule};
use ebm_samplers::gibbs::Gibbs;
use ebm_samplers::tempering::Reference;
use ebm_samplers::{Kernel, Target};

/// Kaufman's log Z of the periodic m x n lattice at coupling K
/// ([`Ising::kaufman_log_partition`], implemented from the paper).
fn kaufman_log_z(m: usize, n: usize, k: f64) -> f64 {
    Ising::new(m, n, k, 0.0, 1.0, true)
        .unwrap()
        .kaufman_log_partition()
        .unwrap()
}

#[test]
fn kaufman_matches_enumeration_on_small_lattices() {
    for (m, n) in [(3, 3), (3, 4), (4, 4), (4, 5)] {
        for k in [0.2, 0.4407, 0.7, 1.2] {
            let lattice = Ising::new(m, n, k, 0.0, 1.0, true).unwrap();
            let exact = lattice.log_partition().unwrap();
            let kauf = kaufman_log_z(m, n, k);
            assert!(
                (exact - kauf).abs() < 1e-9 * exact.abs().max(1.0),
                "{m}x{n}, K {k}: {exact} vs {kauf}"
            );
        }
    }
}

/// A 16 x 16 periodic lattice at a high, the critical and a low
/// temperature: fixed-schedule AIS (single-site sweeps) and SMC (Gibbs
/// moves) both within 4 of their standard errors of Kaufman's log Z.
#[test]
fn ais_and_smc_match_kaufman_on_a_16x16_lattice() {
    let gibbs = || Ok(Box::new(Gibbs::default()) as Box<dyn Kernel>);
    for k in [0.3, 0.4407, 0.6] {
        let lattice = Ising::new(16, 16, k, 0.0, 1.0, true).unwrap();
        let exact = kaufman_log_z(16, 16, k);
        let betas = Schedule::Linear.betas(2000).unwrap();
        let a = ais_binary(&lattice, &betas, 200, 1, 11).unwrap();
        let cfg = SmcConfig {
            particles: 200,
            steps: 2,
            runs: 8,
            seed: 12,
            ..Default::default()
        };
        let s = smc(&gibbs, Target::Binary(&lattice), Reference::Uniform, &cfg).unwrap();
        eprintln!(
            "K {k}: Kaufman {exact:.4}; AIS {:.4} +- {:.4} ({:.2} SE); SMC {:.4} +- {:.4} ({:.2} SE, {} temperatures)",
            a.log_z,
            a.stderr,
            (a.log_z - exact) / a.stderr,
            s.log_z,
            s.stderr,
            (s.log_z - exact) / s.stderr,
            s.temperatures
        );
        assert!((a.log_z - exact).abs() < 4.0 * a.stderr, "AIS at K {k}");
        assert!((s.log_z - exact).abs() < 4.0 * s.stderr, "SMC at K {k}");
        assert!(a.stderr < 0.5 && s.stderr < 0.5);
    }
}
