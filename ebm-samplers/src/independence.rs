//! Independence Metropolis-Hastings with a Gaussian-mixture proposal
//! (Tierney 1994): propose y ~ q independently of the current x and accept
//! with probability
//!
//! min(1, exp(E(x) - E(y) + log q(x) - log q(y))),
//!
//! which leaves p ∝ exp(-E) exactly invariant for any q that is positive
//! wherever p is. With q fitted to a population of particles that covers
//! every mode ([`crate::mixture_fit`]), a chain jumps between modes in
//! one step, where gradient kernels cannot cross the barriers between
//! them: SMC uses it as its population move ([`crate::ais::smc`]).
//!
//! q(x) = sum_k w_k N_k(x),  log N_k(x) = -E_k(x) - log Z_k.

use crate::chains::{ChunkMut, Scratch};
use crate::error::{invalid, Result};
use crate::kernel::Kernel;
use crate::target::Target;
use ebm_core::energies::lower_cholesky;
use ebm_core::math::{log_sum_exp, LN_2PI};
use rand::Rng;
use rand_distr::{Distribution, StandardNormal};
use std::sync::Arc;

/// A component's covariance.
#[derive(Clone, Debug, PartialEq)]
pub enum Covariance {
    /// A full covariance Sigma, row-major D x D (symmetric positive
    /// definite).
    Full(Vec<f64>),
    /// A diagonal one: the D variances.
    Diagonal(Vec<f64>),
}

/// One Gaussian of the mixture, factorised once: Sigma = L L^T with L
/// lower triangular (diagonal for a diagonal covariance), and
///
/// log N(x) = -1/2 |L^-1 (x - m)|^2 - sum_i log L_ii - D/2 log 2 pi.
#[derive(Clone, Debug)]
struct Component {
    mean: Vec<f64>,
    /// L, row-major (full) or its diagonal.
    chol: Vec<f64>,
    /// L^-1 transposed, row-major (full; column j of L^-1 is row j here,
    /// so the product is a sum of contiguous axpys), or 1 / L_ii.
    whiten_t: Vec<f64>,
    full: bool,
    /// -sum_i log L_ii - D/2 log 2 pi.
    log_norm: f64,
}

impl Component {
    fn new(mean: Vec<f64>, cov: &Covariance) -> Result<Self> {
        let d = mean.len();
        let (chol, full) = match cov {
            Covariance::Full(m) => (lower_cholesky("covariance", m, d)?, true),
            Covariance::Diagonal(v) => {
                if v.len() != d || v.iter().any(|x| !(*x > 0.0 && x.is_finite())) {
                    return Err(invalid(
                        "covariance",
                        format!("need {d} positive finite variances"),
                    ));
                }
                (v.iter().map(|x| x.sqrt()).collect(), false)
            }
        };
        let diag = |i: usize| if full { chol[i * d + i] } else { chol[i] };
        let whiten_t = if full {
            // columns of L^-1 by forward substitution on the unit vectors
            let mut w = vec![0.0; d * d];
            for j in 0..d {
                let col = &mut w[j * d..(j + 1) * d];
                for i in j..d {
                    let mut v = if i == j { 1.0 } else { 0.0 };
                    for k in j..i {
                        v -= chol[i * d + k] * col[k];
                    }
                    col[i] = v / chol[i * d + i];
                }
            }
            w
        } else {
            chol.iter().map(|l| 1.0 / l).collect()
        };
        let log_norm = -(0..d).map(|i| diag(i).ln()).sum::<f64>() - 0.5 * d as f64 * LN_2PI;
        Ok(Self {
            mean,
            chol,
            whiten_t,
            full,
            log_norm,
        })
    }

    /// log N(x); `z` is scratch of length D.
    fn log_density(&self, x: &[f64], z: &mut [f64]) -> f64 {
        let d = self.mean.len();
        if self.full {
            z.fill(0.0);
            for j in 0..d {
                let u = x[j] - self.mean[j];
                let col = &self.whiten_t[j * d..(j + 1) * d];
                for i in j..d {
                    z[i] += col[i] * u;
                }
            }
        } else {
            for i in 0..d {
                z[i] = (x[i] - self.mean[i]) * self.whiten_t[i];
            }
        }
        self.log_norm - 0.5 * z.iter().map(|v| v * v).sum::<f64>()
    }

    /// x = m + L z with z ~ N(0, I).
    fn draw(&self, rng: &mut dyn rand::RngCore, z: &mut [f64], x: &mut [f64]) {
        let d = self.mean.len();
        for v in z.iter_mut() {
            *v = StandardNormal.sample(rng);
        }
        for i in 0..d {
            x[i] = self.mean[i]
                + if self.full {
                    (0..=i).map(|j| self.chol[i * d + j] * z[j]).sum::<f64>()
                } else {
                    self.chol[i] * z[i]
                };
        }
    }
}

/// A Gaussian mixture q(x) = sum_k w_k N(x; m_k, Sigma_k), factorised
/// once for its densities and draws.
#[derive(Clone, Debug)]
pub struct GaussianMixture {
    /// log w_k, normalised (log sum_k w_k = 0).
    log_weights: Vec<f64>,
    components: Vec<Component>,
}

impl GaussianMixture {
    /// The mixture of the Gaussians N(`means[k]`, `covariances[k]`) with
    /// unnormalised log-weights `log_weights`; an error names what is
    /// wrong (lengths, dimensions, a covariance that is not positive
    /// definite).
    pub fn new(log_weights: Vec<f64>, means: Vec<Vec<f64>>, covariances: &[Covariance]) -> Result<Self> {
        if means.is_empty() || log_weights.len() != means.len() || covariances.len() != means.len() {
            return Err(invalid(
                "components",
                format!(
                    "need as many weights, means and covariances, at least one ({}, {} and {})",
                    log_weights.len(),
                    means.len(),
                    covariances.len()
                ),
            ));
        }
        let d = means[0].len();
        if d == 0
            || means
                .iter()
                .any(|m| m.len() != d || m.iter().any(|v| !v.is_finite()))
        {
            return Err(invalid("means", "need finite means of one dimension"));
        }
        let total = log_sum_exp(&log_weights);
        if !total.is_finite() || log_weights.iter().any(|w| w.is_nan()) {
            return Err(invalid("log_weights", "need finite weights with a positive sum"));
        }
        let components = means
            .into_iter()
            .zip(covariances)
            .map(|(m, c)| Component::new(m, c))
            .collect::<Result<Vec<_>>>()?;
        Ok(Self {
            log_weights: log_weights.iter().map(|w| w - total).collect(),
            components,
        })
    }

    /// The dimension D.
    pub fn dim(&self) -> usize {
        self.components[0].mean.len()
    }

    /// The number of components.
    pub fn components(&self) -> usize {
        self.components.len()
    }

    /// Component `k`'s normalised log-weight log w_k.
    pub fn log_weight(&self, k: usize) -> f64 {
        self.log_weights[k]
    }

    /// Component `k`'s mean.
    pub fn mean(&self, k: usize) -> &[f64] {
        &self.components[k].mean
    }

    /// log q(x); `terms` (one entry per component) and `z` (D entries)
    /// are scratch.
    pub fn log_density(&self, x: &[f64], terms: &mut Vec<f64>, z: &mut Vec<f64>) -> f64 {
        z.resize(self.dim(), 0.0);
        terms.clear();
        for (c, w) in self.components.iter().zip(&self.log_weights) {
            terms.push(w + c.log_density(x, z));
        }
        log_sum_exp(terms)
    }

    /// One draw into `x`: a component by its weight, then its draw (`z`:
    /// scratch of D entries).
    pub fn draw(&self, rng: &mut dyn rand::RngCore, z: &mut Vec<f64>, x: &mut [f64]) {
        z.resize(self.dim(), 0.0);
        let u: f64 = rng.random();
        let mut cum = 0.0;
        let mut k = self.components.len() - 1;
        for (i, w) in self.log_weights.iter().enumerate() {
            cum += w.exp();
            if u < cum {
                k = i;
                break;
            }
        }
        self.components[k].draw(rng, z, x);
    }
}

/// The independence sampler (module documentation), with one proposal
/// per group of consecutive chains: chain i proposes from
/// `proposals[(i / group) % proposals.len()]`. Not in the registry: its
/// proposals come from a population (SMC fits them per temperature), not
/// from a file.
///
/// Groups let a population move each half of its particles with a
/// proposal fitted to the other half (cross-fitting): a proposal fitted
/// to the very particles it moves is not a fixed kernel for them, and
/// drags them towards its own fit (on the 10-D mixture of the SMC tests,
/// log Z came out 0.14 too low, 6 of its standard errors).
#[derive(Clone, Debug)]
pub struct Independence {
    /// The proposals q (at least one, of the model's dimension).
    pub proposals: Vec<Arc<GaussianMixture>>,
    /// Chains per group (at least 1).
    pub group: usize,
}

impl Independence {
    /// One proposal for every chain.
    pub fn new(proposal: Arc<GaussianMixture>) -> Self {
        Self {
            proposals: vec![proposal],
            group: usize::MAX,
        }
    }

    /// The proposal of chain `i`.
    fn proposal_of(&self, i: usize) -> &GaussianMixture {
        &self.proposals[(i / self.group.max(1)) % self.proposals.len()]
    }
}

/// Work buffers for one chunk: proposals, their gradients and energies,
/// the mixture's per-component terms, and log q at the chains' states,
/// kept from one step to the next within one run of steps.
#[derive(Default)]
struct IndependenceScratch {
    y: Vec<f64>,
    gy: Vec<f64>,
    ey: Vec<f64>,
    terms: Vec<f64>,
    z: Vec<f64>,
    log_qx: Vec<f64>,
    /// `steps_left` of the previous step: the cache is current when this
    /// step's is one less (the same run of steps, nothing moved between).
    prev_steps_left: usize,
}

impl Kernel for Independence {
    fn name(&self) -> &'static str {
        "independence"
    }

    fn check(&self, target: Target<'_>) -> Result<()> {
        if self.proposals.is_empty() {
            return Err(invalid("proposals", "need at least one"));
        }
        match target.energy() {
            Some(e) if self.proposals.iter().all(|q| q.dim() == e.dim()) => Ok(()),
            Some(e) => Err(invalid(
                "proposals",
                format!("must have the model's dimension {}", e.dim()),
            )),
            None => Err(invalid(
                "sampler",
                "the independence sampler needs a continuous model",
            )),
        }
    }

    fn step_chunk(&self, target: Target<'_>, c: &mut ChunkMut<'_>, scratch: &mut Scratch) {
        let Some(energy) = target.energy() else { return };
        let s = scratch.get(IndependenceScratch::default);
        let (n, d) = (c.len(), c.d);
        s.y.resize(n * d, 0.0);
        s.gy.resize(n * d, 0.0);
        s.ey.resize(n, 0.0);
        for (k, rng) in c.rngs.iter_mut().enumerate() {
            self.proposal_of(c.first + k)
                .draw(rng, &mut s.z, &mut s.y[k * d..(k + 1) * d]);
        }
        energy.energy_grad_batch(&s.y, &mut s.gy, &mut s.ey);
        let cached = s.prev_steps_left == c.steps_left + 1 && s.log_qx.len() == n;
        s.prev_steps_left = c.steps_left;
        s.log_qx.resize(n, 0.0);
        for (k, rng) in c.rngs.iter_mut().enumerate() {
            let x = &c.x[k * d..(k + 1) * d];
            let y = &s.y[k * d..(k + 1) * d];
            let q = self.proposal_of(c.first + k);
            if !cached {
                s.log_qx[k] = q.log_density(x, &mut s.terms, &mut s.z);
            }
            let log_qy = q.log_density(y, &mut s.terms, &mut s.z);
            let log_alpha = c.energy[k] - s.ey[k] + s.log_qx[k] - log_qy;
            let ok = s.ey[k].is_finite() && !log_alpha.is_nan();
            let p = if ok { log_alpha.min(0.0).exp() } else { 0.0 };
            c.accept[k] = p;
            c.divergent[k] = false;
            c.grad_evals[k] = 1;
            if rng.random::<f64>() < p {
                c.x[k * d..(k + 1) * d].copy_from_slice(y);
                c.grad[k * d..(k + 1) * d].copy_from_slice(&s.gy[k * d..(k + 1) * d]);
                c.energy[k] = s.ey[k];
                s.log_qx[k] = log_qy;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chains::Chains;
    use ebm_core::energies::{Gaussian, Gmm};
    use ebm_core::Energy;
    use ebm_core::{chain_rngs, Points};

    /// With q equal to the target, every proposal is accepted; on a
    /// two-mode mixture from one mode's corner, a wider q of equal weights moves the chains
    /// to both modes in the target's proportions.
    #[test]
    fn exact_proposals_are_always_accepted_and_modes_are_shared() {
        let mix = Gmm::new(
            vec![0.7, 0.3],
            vec![vec![-6.0, 0.0], vec![6.0, 0.0]],
            vec![0.5, 0.5],
        )
        .unwrap();
        let var = |s: f64| Covariance::Diagonal(vec![s * s; 2]);
        let exact = GaussianMixture::new(
            vec![0.7f64.ln(), 0.3f64.ln()],
            vec![vec![-6.0, 0.0], vec![6.0, 0.0]],
            &[var(0.5), var(0.5)],
        )
        .unwrap();
        let n = 4000;
        let mut chains = Chains::new(&mix, Points::from_vec([-6.0, 0.0].repeat(n), 2).unwrap()).unwrap();
        let mut rngs = chain_rngs(3, n);
        let kernel = Independence::new(Arc::new(exact));
        let stats = chains.run_kernel(&kernel, Target::Continuous(&mix), &mut rngs, 3, None);
        assert!(
            stats.iter().all(|s| (s.mean_accept - 1.0).abs() < 1e-9),
            "{stats:?}"
        );
        // equal weights and twice the width: p / q is at most 5.6
        let broad = GaussianMixture::new(
            vec![0.0, 0.0],
            vec![vec![-6.0, 0.0], vec![6.0, 0.0]],
            &[var(1.0), var(1.0)],
        )
        .unwrap();
        let kernel = Independence::new(Arc::new(broad));
        chains.run_kernel(&kernel, Target::Continuous(&mix), &mut rngs, 200, None);
        let right = (0..n).filter(|&i| chains.x.as_slice()[2 * i] > 0.0).count() as f64 / n as f64;
        // the chains are nearly independent after 200 steps: binomial SE
        // sqrt(0.21 / 4000) = 0.0072, so 4.5 SE = 0.033
        assert!((right - 0.3).abs() < 0.033, "{right}");
    }

    /// The factorised densities agree with ebm-core's Gaussian (full and
    /// diagonal), and draws have the component's mean and covariance.
    #[test]
    fn densities_and_draws_match_the_gaussian() {
        let cov = vec![2.0, 0.6, 0.0, 0.6, 1.0, -0.3, 0.0, -0.3, 0.5];
        let mean = vec![1.0, -2.0, 0.5];
        let g = Gaussian::from_covariance(mean.clone(), &cov).unwrap();
        let q =
            GaussianMixture::new(vec![0.0], vec![mean.clone()], &[Covariance::Full(cov.clone())]).unwrap();
        let diag = GaussianMixture::new(
            vec![0.0],
            vec![mean.clone()],
            &[Covariance::Diagonal(vec![2.0, 1.0, 0.5])],
        )
        .unwrap();
        let g_diag =
            Gaussian::from_covariance(mean.clone(), &[2.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 0.5]).unwrap();
        let (mut terms, mut z) = (Vec::new(), Vec::new());
        for x in [[0.0, 0.0, 0.0], [1.5, -1.0, 2.0], [-3.0, 4.0, -1.0]] {
            let exact = -g.energy(&x) - g.log_partition().unwrap();
            assert!((q.log_density(&x, &mut terms, &mut z) - exact).abs() < 1e-12);
            let exact = -g_diag.energy(&x) - g_diag.log_partition().unwrap();
            assert!((diag.log_density(&x, &mut terms, &mut z) - exact).abs() < 1e-12);
        }
        // 40,000 draws: the sample covariance's entries have SE at most
        // sqrt(2 * 2^2 / 40000) = 0.014, so 0.07 is 5 SE
        let mut rng = ebm_core::chain_rng(5, 0);
        let n = 40_000;
        let mut xs = vec![0.0; n * 3];
        for row in xs.chunks_mut(3) {
            q.draw(&mut rng, &mut z, row);
        }
        for a in 0..3 {
            let ma = xs.iter().skip(a).step_by(3).sum::<f64>() / n as f64;
            assert!((ma - mean[a]).abs() < 0.05, "mean {a}: {ma}");
            for b in 0..3 {
                let mb = xs.iter().skip(b).step_by(3).sum::<f64>() / n as f64;
                let c = xs.chunks(3).map(|r| (r[a] - ma) * (r[b] - mb)).sum::<f64>() / n as f64;
                assert!((c - cov[a * 3 + b]).abs() < 0.07, "cov {a}{b}: {c}");
            }
        }
    }
}
