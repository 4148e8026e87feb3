//! Ising AIS and SMC against Kaufman's (1949) exact partition function of
//! the periodic square lattice without a field, implemented here from the
//! paper's formula and checked first against enumeration on small
//! lattices.

use ebm_core::energies::Ising;
use ebm_core::BinaryEnergy;
use ebm_samplers::ais::smc::{smc, SmcConfig};
use ebm_samplers::ais::{ais_binary, Schedule};
use ebm_samplers::gibbs::Gibbs;
use ebm_samplers::tempering::Reference;
use ebm_samplers::{Kernel, Target};

/// log(|a| e^x + sign b |b| e^y) for signed terms given as (sign, log |.|).
fn add_signed((sa, la): (f64, f64), (sb, lb): (f64, f64)) -> (f64, f64) {
    if la == f64::NEG_INFINITY {
        return (sb, lb);
    }
    let (hi, lo) = if la >= lb {
        ((sa, la), (sb, lb))
    } else {
        ((sb, lb), (sa, la))
    };
    let v = 1.0 + hi.0 * lo.0 * (lo.1 - hi.1).exp();
    (hi.0 * v.signum(), hi.1 + v.abs().ln())
}

/// Kaufman's exact log Z of the periodic m x n lattice, E = -K sum over
/// bonds of s_i s_j (no field):
///
/// Z = 1/2 (2 sinh 2K)^{mn/2} (Z_1 + Z_2 + Z_3 + Z_4),
/// Z_1 = prod_{r<n} 2 cosh(m g_{2r+1} / 2), Z_2 = prod_{r<n} 2 sinh(m g_{2r+1} / 2),
/// Z_3 = prod_{r<n} 2 cosh(m g_{2r} / 2),   Z_4 = prod_{r<n} 2 sinh(m g_{2r} / 2),
///
/// with cosh g_k = cosh 2K coth 2K - cos(pi k / n) for k >= 1 (g_k > 0)
/// and g_0 = 2K + ln tanh K, which is negative below the critical
/// temperature (so Z_4 may be negative); all in logs with signs.
fn kaufman_log_z(m: usize, n: usize, k: f64) -> f64 {
    let gamma = |q: usize| {
        if q == 0 {
            2.0 * k + k.tanh().ln()
        } else {
            let c = (2.0 * k).cosh() / (2.0 * k).tanh() - (std::f64::consts::PI * q as f64 / n as f64).cos();
            c.acosh()
        }
    };
    let half = m as f64 / 2.0;
    let product = |odd: bool, sinh: bool| -> (f64, f64) {
        let (mut sign, mut log) = (1.0, 0.0);
        for r in 0..n {
            let g = gamma(2 * r + usize::from(odd)) * half;
            let v = if sinh { 2.0 * g.sinh() } else { 2.0 * g.cosh() };
            sign *= v.signum();
            log += v.abs().ln();
        }
        (sign, log)
    };
    let mut total = (1.0, f64::NEG_INFINITY);
    for (odd, sinh) in [(true, false), (true, true), (false, false), (false, true)] {
        total = add_signed(total, product(odd, sinh));
    }
    assert!(total.0 > 0.0, "Z must be positive");
    -std::f64::consts::LN_2 + (m * n) as f64 / 2.0 * (2.0 * (2.0 * k).sinh()).ln() + total.1
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
