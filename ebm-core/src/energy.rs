//! The sampling-side trait: a scalar energy on R^D with its gradient.

use std::sync::Arc;

/// An unnormalised density p(x) = exp(-E(x)) / Z on R^D.
///
/// Conventions (the same everywhere in ebm-rs): the *energy* is
/// E(x) = -log p~(x), and the gradient is grad_x E, **not** grad log p.
/// Z = integral of exp(-E(x)) dx.
///
/// Only [`dim`](Energy::dim), [`energy`](Energy::energy) and
/// [`energy_grad`](Energy::energy_grad) are required. The batched forms work
/// on a row-major buffer of `n` points (`xs.len() == n * dim`, point `i` at
/// `xs[i*dim..(i+1)*dim]`, `n` given by `energies.len()`); they default to a
/// loop and are overridden where one matrix product does the whole batch.
/// Implementations must be `Send + Sync` so that samplers can spread chains
/// over threads, and the trait is usable as `dyn Energy`.
///
/// ```
/// use ebm_core::{Energy, energies::DiagGaussian};
/// let e = DiagGaussian::new(vec![0.0, 1.0], vec![1.0, 2.0]).unwrap();
/// let mut g = [0.0; 2];
/// let v = e.energy_grad(&[1.0, 1.0], &mut g);
/// assert_eq!(v, 0.5);
/// assert_eq!(g, [1.0, 0.0]);
/// ```
pub trait Energy: Send + Sync {
    /// Dimension D of the state space.
    fn dim(&self) -> usize;

    /// E(x) for one point, `x.len() == dim()`.
    fn energy(&self, x: &[f64]) -> f64;

    /// E(x) and, written into `grad`, grad_x E(x), in one pass.
    fn energy_grad(&self, x: &[f64], grad: &mut [f64]) -> f64;

    /// E for each of the `energies.len()` points in `xs`.
    ///
    /// # Panics
    /// If `xs.len() != energies.len() * dim()`.
    fn energy_batch(&self, xs: &[f64], energies: &mut [f64]) {
        let d = self.dim();
        assert_eq!(xs.len(), energies.len() * d, "energy_batch: shape");
        for (x, e) in xs.chunks_exact(d).zip(energies.iter_mut()) {
            *e = self.energy(x);
        }
    }

    /// E and grad_x E for each of the `energies.len()` points in `xs`;
    /// `grads` has the same layout as `xs`.
    ///
    /// # Panics
    /// If the buffer sizes disagree with `energies.len() * dim()`.
    fn energy_grad_batch(&self, xs: &[f64], grads: &mut [f64], energies: &mut [f64]) {
        let d = self.dim();
        assert_eq!(xs.len(), energies.len() * d, "energy_grad_batch: shape");
        assert_eq!(grads.len(), xs.len(), "energy_grad_batch: grads shape");
        for ((x, g), e) in xs
            .chunks_exact(d)
            .zip(grads.chunks_exact_mut(d))
            .zip(energies.iter_mut())
        {
            *e = self.energy_grad(x, g);
        }
    }

    /// grad_x E for each of the `energies.len()` points in `xs`, as
    /// [`Energy::energy_grad_batch`] writes them, where the energies are
    /// not needed (the leapfrog steps inside an HMC trajectory). Each
    /// value of `energies` is either left as it was or set to E of its
    /// point, so a caller may keep in it energies computed earlier at the
    /// same points. The default is `energy_grad_batch`; an energy for which
    /// the energies are a pass of their own (a Gaussian's dot products, a
    /// mixture's logarithm) skips them.
    ///
    /// # Panics
    /// If the buffer sizes disagree with `energies.len() * dim()`.
    fn grad_batch(&self, xs: &[f64], grads: &mut [f64], energies: &mut [f64]) {
        self.energy_grad_batch(xs, grads, energies)
    }

    /// Whether [`Energy::grad_batch`] gives a gradient that is not finite
    /// at every point where E is not finite, so that a caller who needs
    /// the energies only to tell such points (ULA and kinetic Langevin,
    /// between the ends of their runs of steps) may take the gradients
    /// alone. False by default
    /// (a hard wall may have E infinite and a zero gradient past it) and
    /// for the Gaussian, whose x^T P x can overflow where P x does not;
    /// true for a mixture, whose E = -(m + ln s) is finite exactly where
    /// its gradient's weights are.
    fn grad_batch_flags_infinite_energy(&self) -> bool {
        false
    }

    /// One inner step of a unit-mass leapfrog for each of the
    /// `energies.len()` points of `xs`: with g = grad E(x) as
    /// [`Energy::grad_batch`] gives it, the kick p <- p - eps g and the
    /// next drift y = x + eps p, each rounded as written (`p` and `ys`
    /// laid out as `xs`). `grads` and `energies` are scratch, their
    /// values unspecified afterwards. The default is
    /// [`kick_drift_through_gradients`]; an energy whose gradients are
    /// one matrix product (a Gaussian) kicks and drifts each block of the
    /// product as it is computed ([`crate::matmul::kick_drift`]), to the
    /// same bits, so that the gradients never make a pass through memory.
    ///
    /// # Panics
    /// If the buffer sizes disagree with `energies.len() * dim()`.
    fn kick_drift_batch(
        &self,
        xs: &[f64],
        eps: f64,
        p: &mut [f64],
        ys: &mut [f64],
        grads: &mut [f64],
        energies: &mut [f64],
    ) {
        kick_drift_through_gradients(self, xs, eps, p, ys, grads, energies)
    }

    /// E and grad_x E of each of the `energies.len()` points in `xs`, each
    /// with the bits [`Energy::energy_grad`] gives it alone (where
    /// [`Energy::energy_grad_batch`] may sum its products in another
    /// order). For samplers that advance several chains in lock-step, one
    /// state each, and must keep every chain's bits whatever its company
    /// (NUTS's trees). The default calls `energy_grad` point by point; an
    /// energy whose single-point gradient reads a large operand (a dense
    /// precision) reads it once for all the points.
    ///
    /// # Panics
    /// If the buffer sizes disagree with `energies.len() * dim()`.
    fn energy_grad_each(&self, xs: &[f64], grads: &mut [f64], energies: &mut [f64]) {
        let d = self.dim();
        assert_eq!(xs.len(), energies.len() * d, "energy_grad_each: shape");
        assert_eq!(grads.len(), xs.len(), "energy_grad_each: grads shape");
        for ((x, g), e) in xs
            .chunks_exact(d)
            .zip(grads.chunks_exact_mut(d))
            .zip(energies.iter_mut())
        {
            *e = self.energy_grad(x, g);
        }
    }

    /// How many points [`Energy::energy_grad_each`] gains from taking at
    /// once: 1 (the default) when it only loops, so that a sampler keeps
    /// such chains apart (each free to run on its own thread).
    fn points_at_once(&self) -> usize {
        1
    }

    /// log Z = log integral exp(-E(x)) dx when it is known in closed form
    /// (or to machine precision), `None` otherwise.
    fn log_partition(&self) -> Option<f64> {
        None
    }

    /// The energy as a quadratic form, E(x) = 1/2 (x - m)^T P (x - m) + c,
    /// when it is one (Gaussians). Combinators use it to keep log Z exact:
    /// sums and positive multiples of quadratic forms are quadratic forms.
    fn quadratic(&self) -> Option<Quadratic> {
        None
    }

    /// The energy as an exact sampler, when it is one (the reference
    /// distributions: Gaussians, mixtures, the banana, the funnel): a
    /// loaded model says so itself, so a caller that wants exact draws
    /// (initial points, reverse AIS, tests) need not know its type.
    fn exact_sampler(&self) -> Option<&dyn ExactSample> {
        None
    }

    /// The Gaussian-Bernoulli RBM whose visible marginal this energy is
    /// (its free energy), when it is one: block Gibbs (h | v, then v | h)
    /// needs its layers. `None` by default, and for compositions.
    fn gb_rbm(&self) -> Option<&crate::energies::GbRbm> {
        None
    }
}

/// A quadratic energy E(x) = 1/2 (x - m)^T P (x - m) + c, with P symmetric
/// (row-major D x D). When P is positive definite,
/// log Z = D/2 log(2 pi) - 1/2 log det P - c.
#[derive(Clone, Debug, PartialEq)]
pub struct Quadratic {
    /// The centre m.
    pub mean: Vec<f64>,
    /// The matrix P, row-major.
    pub precision: Vec<f64>,
    /// The constant c.
    pub offset: f64,
}

impl Quadratic {
    /// log Z = D/2 log(2 pi) - 1/2 log det P - c, or `None` when P is not
    /// positive definite (then Z is infinite).
    pub fn log_partition(&self) -> Option<f64> {
        let g = crate::energies::Gaussian::from_precision(self.mean.clone(), &self.precision).ok()?;
        Some(g.log_partition()? - self.offset)
    }

    /// beta E: P -> beta P, c -> beta c.
    pub fn scaled(&self, beta: f64) -> Self {
        Self {
            mean: self.mean.clone(),
            precision: self.precision.iter().map(|p| beta * p).collect(),
            offset: beta * self.offset,
        }
    }

    /// The sum of quadratic forms sum_i E_i (all of one dimension), itself a
    /// quadratic form: P = sum_i P_i, m = P^-1 sum_i P_i m_i,
    /// c = sum_i (c_i + 1/2 m_i^T P_i m_i) - 1/2 m^T P m.
    /// `None` when the dimensions differ or P is singular.
    pub fn sum(terms: &[Quadratic]) -> Option<Self> {
        let d = terms.first()?.mean.len();
        if terms
            .iter()
            .any(|q| q.mean.len() != d || q.precision.len() != d * d)
        {
            return None;
        }
        let mut p = vec![0.0; d * d];
        let mut h = vec![0.0; d];
        let mut c = 0.0;
        for q in terms {
            for i in 0..d {
                let mut pm = 0.0;
                for j in 0..d {
                    p[i * d + j] += q.precision[i * d + j];
                    pm += q.precision[i * d + j] * q.mean[j];
                }
                h[i] += pm;
                c += 0.5 * q.mean[i] * pm;
            }
            c += q.offset;
        }
        // m = P^-1 h through the covariance of N(0, P^-1).
        let g = crate::energies::Gaussian::from_precision(vec![0.0; d], &p).ok()?;
        let cov = g.covariance();
        let m: Vec<f64> = (0..d)
            .map(|i| (0..d).map(|j| cov[i * d + j] * h[j]).sum())
            .collect();
        let mhm: f64 = m.iter().zip(&h).map(|(a, b)| a * b).sum();
        Some(Self {
            mean: m,
            precision: p,
            offset: c - 0.5 * mhm,
        })
    }
}

/// [`Energy::kick_drift_batch`] through the gradients: `grad_batch`
/// into `grads`, then p <- p - eps g and y = x + eps p in one vectorised
/// pass. The default of the trait method, and what an energy that
/// overrides it falls back to where it has no fused form.
///
/// # Panics
/// If the buffer sizes disagree with `energies.len() * dim()`.
pub fn kick_drift_through_gradients<E: Energy + ?Sized>(
    energy: &E,
    xs: &[f64],
    eps: f64,
    p: &mut [f64],
    ys: &mut [f64],
    grads: &mut [f64],
    energies: &mut [f64],
) {
    assert!(
        p.len() == xs.len() && ys.len() == xs.len(),
        "kick_drift_batch: {} momenta and {} new positions for {} values",
        p.len(),
        ys.len(),
        xs.len()
    );
    energy.grad_batch(xs, grads, energies);
    crate::simd::dispatch(
        #[inline(always)]
        || {
            for (((pj, yj), xj), gj) in p.iter_mut().zip(ys.iter_mut()).zip(xs).zip(&*grads) {
                *yj = crate::matmul::kick_drift_value(pj, *xj, *gj, eps);
            }
        },
    );
}

macro_rules! forward_energy {
    ($($ptr:ty),*) => {$(
        impl<E: Energy + ?Sized> Energy for $ptr {
            fn dim(&self) -> usize { (**self).dim() }
            fn energy(&self, x: &[f64]) -> f64 { (**self).energy(x) }
            fn energy_grad(&self, x: &[f64], grad: &mut [f64]) -> f64 { (**self).energy_grad(x, grad) }
            fn energy_batch(&self, xs: &[f64], energies: &mut [f64]) { (**self).energy_batch(xs, energies) }
            fn energy_grad_batch(&self, xs: &[f64], grads: &mut [f64], energies: &mut [f64]) {
                (**self).energy_grad_batch(xs, grads, energies)
            }
            fn grad_batch(&self, xs: &[f64], grads: &mut [f64], energies: &mut [f64]) {
                (**self).grad_batch(xs, grads, energies)
            }
            fn grad_batch_flags_infinite_energy(&self) -> bool {
                (**self).grad_batch_flags_infinite_energy()
            }
            fn kick_drift_batch(
                &self,
                xs: &[f64],
                eps: f64,
                p: &mut [f64],
                ys: &mut [f64],
                grads: &mut [f64],
                energies: &mut [f64],
            ) {
                (**self).kick_drift_batch(xs, eps, p, ys, grads, energies)
            }
            fn energy_grad_each(&self, xs: &[f64], grads: &mut [f64], energies: &mut [f64]) {
                (**self).energy_grad_each(xs, grads, energies)
            }
            fn points_at_once(&self) -> usize { (**self).points_at_once() }
            fn log_partition(&self) -> Option<f64> { (**self).log_partition() }
            fn quadratic(&self) -> Option<Quadratic> { (**self).quadratic() }
            fn exact_sampler(&self) -> Option<&dyn ExactSample> { (**self).exact_sampler() }
            fn gb_rbm(&self) -> Option<&crate::energies::GbRbm> { (**self).gb_rbm() }
        }
    )*};
}
forward_energy!(&E, Box<E>, Arc<E>);

/// Energies that can also be sampled exactly (reference distributions:
/// Gaussians, mixtures). Used for initial points, noise distributions and
/// tests of the samplers.
pub trait ExactSample: Energy {
    /// Write one exact draw from p(x) = exp(-E(x)) / Z into `x`.
    fn sample_into(&self, rng: &mut dyn rand::RngCore, x: &mut [f64]);
}

macro_rules! forward_exact_sample {
    ($($ptr:ty),*) => {$(
        impl<E: ExactSample + ?Sized> ExactSample for $ptr {
            fn sample_into(&self, rng: &mut dyn rand::RngCore, x: &mut [f64]) { (**self).sample_into(rng, x) }
        }
    )*};
}
forward_exact_sample!(&E, Box<E>, Arc<E>);
