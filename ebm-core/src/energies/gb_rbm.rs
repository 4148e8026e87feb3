//! Gaussian-Bernoulli restricted Boltzmann machine: real visibles, binary
//! hiddens.

use crate::binary::enumerate_gray;
use crate::energy::Energy;
use crate::error::{check_finite, check_len, check_positive, CoreError, Result};
use crate::math::{sigmoid, softplus};

/// Largest hidden layer whose states the automatic
/// [`GbRbm::log_partition`] enumerates: 2^26 states.
pub const GB_RBM_MAX_EXACT_HIDDEN: usize = 26;

/// A Gaussian-Bernoulli RBM with V real visible units (per-unit scale
/// sigma_i > 0) and H binary hidden units, weights W (V x H, row-major:
/// `w[i * H + j]`), biases b (visible) and c (hidden):
///
/// E(v, h) = sum_i (v_i - b_i)^2 / (2 sigma_i^2) - c.h - sum_ij (v_i / sigma_i) w_ij h_j.
///
/// As a model of the visibles (an [`Energy`] on R^V, for every continuous
/// sampler) its energy is the free energy
///
/// F(v) = sum_i (v_i - b_i)^2 / (2 sigma_i^2) - sum_j softplus(c_j + sum_i (v_i / sigma_i) w_ij),
///
/// so p(v) = exp(-F(v)) / Z with Z = sum_h int exp(-E(v, h)) dv. The
/// conditionals: h_j | v ~ Bernoulli(sigmoid(c_j + sum_i (v_i / sigma_i) w_ij)),
/// v_i | h ~ N(b_i + sigma_i (W h)_i, sigma_i^2). Integrating v out for each h
/// (completing the square),
///
/// log Z = sum_i log(sqrt(2 pi) sigma_i)
///       + log sum_h exp(c.h + sum_i (b_i / sigma_i) (W h)_i + 1/2 ||W h||^2),
///
/// exact by enumerating the hidden layer ([`GbRbm::exact_log_partition`]).
///
/// This is the model file `{"type":"gb_rbm","w":[[..H]..V],"b":[..V],
/// "c":[..H],"sigma":[..V]}`.
///
/// ```
/// use ebm_core::{Energy, energies::GbRbm};
/// // one visible, one hidden: Z = sqrt(2 pi) (1 + e^{c + w^2 / 2}) for b = 0, sigma = 1
/// let m = GbRbm::new(1, 1, vec![0.7], vec![0.0], vec![0.3], vec![1.0]).unwrap();
/// let want = (2.0 * std::f64::consts::PI).sqrt().ln() + (1.0 + (0.3f64 + 0.245).exp()).ln();
/// assert!((m.log_partition().unwrap() - want).abs() < 1e-12);
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct GbRbm {
    nv: usize,
    nh: usize,
    /// V x H row-major.
    w: Vec<f64>,
    b: Vec<f64>,
    c: Vec<f64>,
    sigma: Vec<f64>,
}

impl GbRbm {
    /// A Gaussian-Bernoulli RBM with `nv` visible and `nh` hidden units;
    /// `w` is `nv x nh` row-major; every sigma positive, everything finite.
    pub fn new(nv: usize, nh: usize, w: Vec<f64>, b: Vec<f64>, c: Vec<f64>, sigma: Vec<f64>) -> Result<Self> {
        if nv == 0 || nh == 0 {
            return Err(CoreError::InvalidParameter {
                field: "w".into(),
                reason: format!("needs at least one visible and one hidden unit, got {nv}x{nh}"),
            });
        }
        if w.len() != nv * nh {
            return Err(CoreError::Shape {
                field: "w".into(),
                expected: format!("{nv}x{nh} = {} entries", nv * nh),
                got: format!("{}", w.len()),
            });
        }
        check_len("b", b.len(), nv)?;
        check_len("c", c.len(), nh)?;
        check_len("sigma", sigma.len(), nv)?;
        check_finite("w", &w)?;
        check_finite("b", &b)?;
        check_finite("c", &c)?;
        check_finite("sigma", &sigma)?;
        check_positive("sigma", &sigma)?;
        Ok(Self {
            nv,
            nh,
            w,
            b,
            c,
            sigma,
        })
    }

    /// From the model file's rows: `w` has V rows of H values.
    pub fn from_rows(w: &[Vec<f64>], b: Vec<f64>, c: Vec<f64>, sigma: Vec<f64>) -> Result<Self> {
        let (nv, nh) = (w.len(), w.first().map_or(0, Vec::len));
        let flat = crate::spec::flatten_rows("w", w, nv, nh)?;
        Self::new(nv, nh, flat, b, c, sigma)
    }

    /// Visible units V.
    pub fn n_visible(&self) -> usize {
        self.nv
    }
    /// Hidden units H.
    pub fn n_hidden(&self) -> usize {
        self.nh
    }
    /// W, V x H row-major.
    pub fn weights(&self) -> &[f64] {
        &self.w
    }
    /// Visible biases b.
    pub fn visible_bias(&self) -> &[f64] {
        &self.b
    }
    /// Hidden biases c.
    pub fn hidden_bias(&self) -> &[f64] {
        &self.c
    }
    /// Visible scales sigma.
    pub fn sigma(&self) -> &[f64] {
        &self.sigma
    }

    /// The hidden units' inputs a_j = c_j + sum_i (v_i / sigma_i) w_ij.
    pub fn hidden_input(&self, v: &[f64], a: &mut [f64]) {
        a.copy_from_slice(&self.c);
        for i in 0..self.nv {
            let s = v[i] / self.sigma[i];
            for (aj, wij) in a.iter_mut().zip(&self.w[i * self.nh..(i + 1) * self.nh]) {
                *aj += s * wij;
            }
        }
    }

    /// The visibles' conditional means b_i + sigma_i (W h)_i given `h`.
    pub fn visible_mean(&self, h: &[f64], out: &mut [f64]) {
        for i in 0..self.nv {
            let row = &self.w[i * self.nh..(i + 1) * self.nh];
            let wh: f64 = row.iter().zip(h).map(|(w, h)| w * h).sum();
            out[i] = self.b[i] + self.sigma[i] * wh;
        }
    }

    /// Exact log Z by enumerating the 2^H hidden states (Gray code; W h
    /// updated by one column per state). Errors above
    /// [`crate::binary::MAX_ENUMERATION_BITS`] hidden units.
    pub fn exact_log_partition(&self) -> Result<f64> {
        let (nv, nh) = (self.nv, self.nh);
        let scaled_b: Vec<f64> = self.b.iter().zip(&self.sigma).map(|(b, s)| b / s).collect();
        let log_norm: f64 = self
            .sigma
            .iter()
            .map(|s| (2.0 * std::f64::consts::PI).sqrt().ln() + s.ln())
            .sum();
        let sum = enumerate_gray(
            nh,
            |h| {
                let mut u = vec![0.0; nv];
                let mut lin = 0.0;
                for j in 0..nh {
                    if h[j] {
                        lin += self.c[j];
                        for i in 0..nv {
                            u[i] += self.w[i * nh + j];
                        }
                    }
                }
                (u, lin)
            },
            |(u, lin), j, h| {
                let sign = if h[j] { 1.0 } else { -1.0 };
                *lin += sign * self.c[j];
                for i in 0..nv {
                    u[i] += sign * self.w[i * nh + j];
                }
            },
            |(u, lin)| {
                *lin + u
                    .iter()
                    .zip(&scaled_b)
                    .map(|(u, b)| b * u + 0.5 * u * u)
                    .sum::<f64>()
            },
        )?;
        Ok(log_norm + sum)
    }
}

impl Energy for GbRbm {
    fn dim(&self) -> usize {
        self.nv
    }

    /// The free energy F(v).
    fn energy(&self, v: &[f64]) -> f64 {
        let mut a = vec![0.0; self.nh];
        self.hidden_input(v, &mut a);
        let quad: f64 = (0..self.nv)
            .map(|i| {
                let z = (v[i] - self.b[i]) / self.sigma[i];
                0.5 * z * z
            })
            .sum();
        quad - a.iter().map(|&x| softplus(x)).sum::<f64>()
    }

    /// dF/dv_i = (v_i - b_i) / sigma_i^2 - sum_j sigmoid(a_j) w_ij / sigma_i.
    fn energy_grad(&self, v: &[f64], grad: &mut [f64]) -> f64 {
        let mut a = vec![0.0; self.nh];
        self.hidden_input(v, &mut a);
        let mut quad = 0.0;
        let p: Vec<f64> = a.iter().map(|&x| sigmoid(x)).collect();
        for i in 0..self.nv {
            let s = self.sigma[i];
            let z = (v[i] - self.b[i]) / s;
            quad += 0.5 * z * z;
            let row = &self.w[i * self.nh..(i + 1) * self.nh];
            let pull: f64 = row.iter().zip(&p).map(|(w, p)| w * p).sum();
            grad[i] = z / s - pull / s;
        }
        quad - a.iter().map(|&x| softplus(x)).sum::<f64>()
    }

    /// Exact log Z when the hidden layer has at most
    /// [`GB_RBM_MAX_EXACT_HIDDEN`] units.
    fn log_partition(&self) -> Option<f64> {
        if self.nh <= GB_RBM_MAX_EXACT_HIDDEN {
            self.exact_log_partition().ok()
        } else {
            None
        }
    }

    fn gb_rbm(&self) -> Option<&GbRbm> {
        Some(self)
    }
}
