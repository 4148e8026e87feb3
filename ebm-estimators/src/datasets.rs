//! Data sets: the 8x8 digits (shipped with the crate) and seeded toy 2-D
//! generators. Every generator draws from one ChaCha stream of its seed, so
//! the same seed gives the same points on every machine.

use crate::error::{EstimatorError, Result};
use ebm_core::energies::Gmm;
use ebm_core::{setup_rng, ExactSample, Points};
use rand::Rng;
use rand_distr::StandardNormal;
use std::f64::consts::PI;

const DIGITS_CSV: &str = include_str!("../data/digits8x8.csv");

/// The 1,797 scikit-learn / UCI 8x8 digits: pixels 0..=16 (64 per row,
/// row-major) and the labels 0..=9. See `data/README.md` for the source.
pub fn digits() -> (Points, Vec<u8>) {
    let mut pixels = Vec::with_capacity(1797 * 64);
    let mut labels = Vec::with_capacity(1797);
    for line in DIGITS_CSV.lines().skip(1).filter(|l| !l.trim().is_empty()) {
        let vals: Vec<f64> = line
            .split(',')
            .map(|v| v.trim().parse().expect("shipped data parse"))
            .collect();
        pixels.extend_from_slice(&vals[..64]);
        labels.push(vals[64] as u8);
    }
    (Points::from_vec(pixels, 64).expect("64 pixels per row"), labels)
}

/// The digits binarised as in benchmark W4: a pixel is 1 when its value
/// is greater than 8, else 0.
pub fn digits_binarized() -> Points {
    let (mut x, _) = digits();
    x.as_mut_slice()
        .iter_mut()
        .for_each(|v| *v = (*v > 8.0) as u8 as f64);
    x
}

fn check_n(n: usize) -> Result<()> {
    if n == 0 {
        return Err(EstimatorError::Data("a data set needs at least 1 point".into()));
    }
    Ok(())
}

/// n points from the W1 mixture: 8 equal-weight isotropic Gaussians of
/// standard deviation 0.5 centred at 4 (cos(k pi/4), sin(k pi/4)).
pub fn eight_gaussians(n: usize, seed: u64) -> Result<Points> {
    check_n(n)?;
    let g = Gmm::eight_gaussians();
    let mut rng = setup_rng(seed);
    let mut x = vec![0.0; 2 * n];
    x.chunks_exact_mut(2).for_each(|r| g.sample_into(&mut rng, r));
    Ok(Points::from_vec(x, 2)?)
}

fn generate(n: usize, seed: u64, mut f: impl FnMut(&mut ebm_core::ChainRng) -> [f64; 2]) -> Result<Points> {
    check_n(n)?;
    let mut rng = setup_rng(seed);
    let x: Vec<f64> = (0..n).flat_map(|_| f(&mut rng)).collect();
    Ok(Points::from_vec(x, 2)?)
}

fn normal(rng: &mut ebm_core::ChainRng) -> f64 {
    rng.sample(StandardNormal)
}

/// Two interleaved half circles: the upper (cos t, sin t) and the lower
/// (1 - cos t, 1/2 - sin t), t ~ U(0, pi), plus N(0, noise^2) jitter.
pub fn two_moons(n: usize, noise: f64, seed: u64) -> Result<Points> {
    generate(n, seed, |r| {
        let t = r.random_range(0.0..PI);
        let (x, y) = if r.random::<bool>() {
            (t.cos(), t.sin())
        } else {
            (1.0 - t.cos(), 0.5 - t.sin())
        };
        [x + noise * normal(r), y + noise * normal(r)]
    })
}

/// Three concentric rings of radii 1, 2 and 3 (chosen with probability
/// proportional to the radius, so the density along each ring is equal),
/// plus N(0, noise^2) jitter.
pub fn rings(n: usize, noise: f64, seed: u64) -> Result<Points> {
    generate(n, seed, |r| {
        let u = r.random_range(0.0..6.0);
        let radius = if u < 1.0 {
            1.0
        } else if u < 3.0 {
            2.0
        } else {
            3.0
        };
        let t = r.random_range(0.0..2.0 * PI);
        [
            radius * t.cos() + noise * normal(r),
            radius * t.sin() + noise * normal(r),
        ]
    })
}

/// Uniform on the dark squares of a 4x4 checkerboard over [-4, 4]^2
/// (squares of side 2 whose column and row indices have an even sum).
pub fn checkerboard(n: usize, seed: u64) -> Result<Points> {
    generate(n, seed, |r| {
        let x1: f64 = r.random_range(-4.0..4.0);
        let x2: f64 = r.random_range(0.0..2.0) + 2.0 * r.random_range(-2i32..2) as f64;
        // shift x2 by one square where the column parity needs it
        let col = ((x1 + 4.0) / 2.0).floor() as i32;
        let row = ((x2 + 4.0) / 2.0).floor() as i32;
        let x2 = if (col + row) % 2 == 0 {
            x2
        } else {
            (x2 + 2.0 + 4.0).rem_euclid(8.0) - 4.0
        };
        [x1, x2]
    })
}

/// A 2-D swiss roll: t = 1.5 pi (1 + 2u), u ~ U(0, 1), the point
/// (t cos t, t sin t) / 3 plus N(0, noise^2) jitter.
pub fn swiss_roll(n: usize, noise: f64, seed: u64) -> Result<Points> {
    generate(n, seed, |r| {
        let t = 1.5 * PI * (1.0 + 2.0 * r.random::<f64>());
        [
            t * t.cos() / 3.0 + noise * normal(r),
            t * t.sin() / 3.0 + noise * normal(r),
        ]
    })
}

/// A pinwheel of 5 arms: each point starts at (1 + 0.3 z1, 0.05 z2) with
/// z ~ N(0, I) and is rotated by the arm's angle 2 pi k / 5 plus
/// 0.25 exp(x1), which bends the arm (Johnson et al. 2016), then scaled by 2.
pub fn pinwheel(n: usize, seed: u64) -> Result<Points> {
    generate(n, seed, |r| {
        let k = r.random_range(0..5) as f64;
        let (a, b) = (1.0 + 0.3 * normal(r), 0.05 * normal(r));
        let angle = 2.0 * PI * k / 5.0 + 0.25 * a.exp();
        let (s, c) = angle.sin_cos();
        [2.0 * (c * a - s * b), 2.0 * (s * a + c * b)]
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digits_have_the_documented_shape() {
        let (x, labels) = digits();
        assert_eq!((x.len(), x.dim(), labels.len()), (1797, 64, 1797));
        assert!(x.as_slice().iter().all(|&v| (0.0..=16.0).contains(&v)));
        let b = digits_binarized();
        assert!(b.as_slice().iter().all(|&v| v == 0.0 || v == 1.0));
        // the share of "on" pixels in the binarised digits (measured with
        // Python on the same file: 0.29291)
        let on = b.as_slice().iter().sum::<f64>() / b.as_slice().len() as f64;
        assert!((on - 0.292_91).abs() < 1e-5, "{on}");
    }

    #[test]
    fn generators_are_seeded_and_finite() {
        type Gen = fn(u64) -> Result<Points>;
        let gens: [Gen; 6] = [
            |s| eight_gaussians(500, s),
            |s| two_moons(500, 0.05, s),
            |s| rings(500, 0.05, s),
            |s| checkerboard(500, s),
            |s| swiss_roll(500, 0.1, s),
            |s| pinwheel(500, s),
        ];
        for g in gens {
            let (a, b) = (g(3).unwrap(), g(3).unwrap());
            assert_eq!(a.as_slice(), b.as_slice());
            assert_ne!(a.as_slice(), g(4).unwrap().as_slice());
            assert!(a.as_slice().iter().all(|v| v.is_finite()));
        }
        // every checkerboard point lies on a dark square
        for p in checkerboard(2000, 1).unwrap().rows() {
            let (c, r) = (
                ((p[0] + 4.0) / 2.0).floor() as i32,
                ((p[1] + 4.0) / 2.0).floor() as i32,
            );
            assert_eq!((c + r) % 2, 0, "{p:?}");
        }
        assert!(eight_gaussians(0, 1).is_err());
    }
}
