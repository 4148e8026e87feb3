//! Bernoulli-Bernoulli restricted Boltzmann machine.

use super::rbm_gibbs;
use crate::binary::{enumerate_gray, BinaryEnergy};
use crate::error::{check_finite, check_len, CoreError, Result};
use crate::math::{sigmoid, softplus};

/// Largest number of states the automatic [`Rbm`] `log_partition` enumerates
/// over the smaller layer: 2^26.
pub const RBM_MAX_EXACT_BITS: usize = 26;

/// A Bernoulli-Bernoulli RBM with V visible and H hidden binary units
/// (values 0 and 1), weights W (V x H, row-major: `w[i * H + j]` couples
/// visible i and hidden j) and biases b (visible), c (hidden):
///
/// E(v, h) = -b.v - c.h - v^T W h.
///
/// As a model of the visibles its energy is the free energy
/// F(v) = -b.v - sum_j softplus(c_j + (v^T W)_j), so p(v) = exp(-F(v)) / Z
/// with Z = sum_{v, h} exp(-E(v, h)). Conditionals:
/// p(h_j = 1 | v) = sigmoid(c_j + (v^T W)_j),
/// p(v_i = 1 | h) = sigmoid(b_i + (W h)_i).
///
/// ```
/// use ebm_core::{BinaryEnergy, energies::Rbm};
/// let rbm = Rbm::new(2, 1, vec![1.0, -1.0], vec![0.5, 0.0], vec![0.2]).unwrap();
/// // F(v) = -b.v - softplus(c + v^T W)
/// let f = rbm.energy(&[1.0, 0.0]);
/// assert!((f - (-0.5 - (1.0f64 + (1.2f64).exp()).ln())).abs() < 1e-12);
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct Rbm {
    nv: usize,
    nh: usize,
    /// V x H row-major.
    w: Vec<f64>,
    /// H x V row-major (W transposed), for column access.
    wt: Vec<f64>,
    b: Vec<f64>,
    c: Vec<f64>,
}

impl Rbm {
    /// An RBM with `nv` visible and `nh` hidden units; `w` is `nv x nh`
    /// row-major.
    pub fn new(nv: usize, nh: usize, w: Vec<f64>, b: Vec<f64>, c: Vec<f64>) -> Result<Self> {
        if nv == 0 || nh == 0 {
            return Err(CoreError::InvalidParameter {
                field: "w".into(),
                reason: format!("needs at least one visible and one hidden unit, got {nv}x{nh}"),
            });
        }
        check_len("b", b.len(), nv)?;
        check_len("c", c.len(), nh)?;
        if w.len() != nv * nh {
            return Err(CoreError::Shape {
                field: "w".into(),
                expected: format!("{nv}x{nh} = {} entries", nv * nh),
                got: format!("{}", w.len()),
            });
        }
        check_finite("w", &w)?;
        check_finite("b", &b)?;
        check_finite("c", &c)?;
        let mut wt = vec![0.0; nv * nh];
        for i in 0..nv {
            for j in 0..nh {
                wt[j * nv + i] = w[i * nh + j];
            }
        }
        Ok(Self { nv, nh, w, wt, b, c })
    }

    /// Build from `w` given as V rows of H.
    pub fn from_rows(w: &[Vec<f64>], b: Vec<f64>, c: Vec<f64>) -> Result<Self> {
        let nv = w.len();
        let nh = w.first().map_or(0, Vec::len);
        let mut flat = Vec::with_capacity(nv * nh);
        for (i, r) in w.iter().enumerate() {
            check_len(&format!("w[{i}]"), r.len(), nh)?;
            flat.extend_from_slice(r);
        }
        Self::new(nv, nh, flat, b, c)
    }

    /// Number of visible units V.
    pub fn n_visible(&self) -> usize {
        self.nv
    }
    /// Number of hidden units H.
    pub fn n_hidden(&self) -> usize {
        self.nh
    }
    /// W, V x H row-major.
    pub fn weights(&self) -> &[f64] {
        &self.w
    }
    /// W^T, H x V row-major.
    pub fn weights_t(&self) -> &[f64] {
        &self.wt
    }
    /// Visible biases b.
    pub fn visible_bias(&self) -> &[f64] {
        &self.b
    }
    /// Hidden biases c.
    pub fn hidden_bias(&self) -> &[f64] {
        &self.c
    }

    /// Joint energy E(v, h) = -b.v - c.h - v^T W h.
    pub fn joint_energy(&self, v: &[f64], h: &[f64]) -> f64 {
        let mut e = -dot(&self.b, v) - dot(&self.c, h);
        for i in 0..self.nv {
            if v[i] != 0.0 {
                e -= v[i] * dot(&self.w[i * self.nh..(i + 1) * self.nh], h);
            }
        }
        e
    }

    /// Hidden pre-activations a_j = c_j + (v^T W)_j, written into `out` (H):
    /// the rows of W whose visible unit is on added to c
    /// ([`rbm_gibbs::layer_input`], the conditionals' one product).
    pub fn hidden_input(&self, v: &[f64], out: &mut [f64]) {
        let (mut on, mut vals) = (vec![0; self.nv], vec![0.0; self.nv]);
        rbm_gibbs::layer_input(&self.c, &self.w, v, &mut on, &mut vals, out);
    }

    /// Visible pre-activations a_i = b_i + (W h)_i, written into `out` (V):
    /// the rows of W^T whose hidden unit is on added to b.
    pub fn visible_input(&self, h: &[f64], out: &mut [f64]) {
        let (mut on, mut vals) = (vec![0; self.nh], vec![0.0; self.nh]);
        rbm_gibbs::layer_input(&self.b, &self.wt, h, &mut on, &mut vals, out);
    }

    /// p(h_j = 1 | v) = sigmoid(c_j + (v^T W)_j) for each j, into `out`.
    pub fn hidden_probs(&self, v: &[f64], out: &mut [f64]) {
        self.hidden_input(v, out);
        out.iter_mut().for_each(|a| *a = sigmoid(*a));
    }

    /// p(v_i = 1 | h) = sigmoid(b_i + (W h)_i) for each i, into `out`.
    pub fn visible_probs(&self, h: &[f64], out: &mut [f64]) {
        self.visible_input(h, out);
        out.iter_mut().for_each(|a| *a = sigmoid(*a));
    }

    /// Free energy of the visibles,
    /// F(v) = -b.v - sum_j softplus(c_j + (v^T W)_j) = -log sum_h exp(-E(v, h)).
    pub fn free_energy(&self, v: &[f64]) -> f64 {
        let mut a = vec![0.0; self.nh];
        self.hidden_input(v, &mut a);
        self.free_energy_from_input(v, &a)
    }

    /// F(v) given the hidden pre-activations `a` = c + v^T W of `v`
    /// ([`Rbm::hidden_input`]).
    pub fn free_energy_from_input(&self, v: &[f64], a: &[f64]) -> f64 {
        -dot(&self.b, v) - a.iter().map(|&x| softplus(x)).sum::<f64>()
    }

    /// Free energy of the hiddens,
    /// G(h) = -c.h - sum_i softplus(b_i + (W h)_i) = -log sum_v exp(-E(v, h)).
    pub fn free_energy_hidden(&self, h: &[f64]) -> f64 {
        let mut a = vec![0.0; self.nv];
        self.visible_input(h, &mut a);
        -dot(&self.c, h) - a.iter().map(|&x| softplus(x)).sum::<f64>()
    }

    /// log Z by enumerating all 2^H hidden states, the visibles summed out
    /// analytically: log Z = log sum_h exp(c.h + sum_i softplus(b_i + (W h)_i)).
    /// A Gray-code walk updates W h by one column per state.
    pub fn log_partition_enumerate_hidden(&self) -> Result<f64> {
        enumerate_layer(self.nh, self.nv, &self.wt, &self.c, &self.b)
    }

    /// log Z by enumerating all 2^V visible states, the hiddens summed out:
    /// log Z = log sum_v exp(-F(v)).
    pub fn log_partition_enumerate_visible(&self) -> Result<f64> {
        enumerate_layer(self.nv, self.nh, &self.w, &self.b, &self.c)
    }

    /// Exact log Z, enumerating the smaller layer. Errors when that layer
    /// has more than [`RBM_MAX_EXACT_BITS`] units.
    pub fn exact_log_partition(&self) -> Result<f64> {
        let bits = self.nv.min(self.nh);
        if bits > RBM_MAX_EXACT_BITS {
            return Err(CoreError::TooLarge(format!(
                "exact log Z of a {}x{} RBM needs 2^{bits} states (limit 2^{RBM_MAX_EXACT_BITS}); use AIS",
                self.nv, self.nh
            )));
        }
        if self.nh <= self.nv {
            self.log_partition_enumerate_hidden()
        } else {
            self.log_partition_enumerate_visible()
        }
    }
}

/// log sum_{s in {0,1}^n} exp(bias_s . s + sum_k softplus(bias_o_k + (M s)_k)),
/// where `rows` is n x m row-major: row j is the column of the coupling
/// matrix that unit j of the enumerated layer adds to the other layer.
fn enumerate_layer(n: usize, m: usize, rows: &[f64], bias_s: &[f64], bias_o: &[f64]) -> Result<f64> {
    enumerate_gray(
        n,
        |s| {
            let mut a = bias_o.to_vec();
            let mut lin = 0.0;
            for j in 0..n {
                if s[j] {
                    lin += bias_s[j];
                    for k in 0..m {
                        a[k] += rows[j * m + k];
                    }
                }
            }
            (a, lin)
        },
        |(a, lin), j, s| {
            let sign = if s[j] { 1.0 } else { -1.0 };
            *lin += sign * bias_s[j];
            let row = &rows[j * m..(j + 1) * m];
            for k in 0..m {
                a[k] += sign * row[k];
            }
        },
        |(a, lin)| *lin + a.iter().map(|&x| softplus(x)).sum::<f64>(),
    )
}

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

impl BinaryEnergy for Rbm {
    fn dim(&self) -> usize {
        self.nv
    }

    fn states(&self) -> (f64, f64) {
        (0.0, 1.0)
    }

    /// The free energy F(v).
    fn energy(&self, v: &[f64]) -> f64 {
        self.free_energy(v)
    }

    fn flip_delta(&self, v: &[f64], i: usize) -> f64 {
        // Flipping v_i changes v^T W by +-W_i (row i) and b.v by +-b_i.
        let sign = if v[i] == 0.0 { 1.0 } else { -1.0 };
        let mut a = vec![0.0; self.nh];
        self.hidden_input(v, &mut a);
        let row = &self.w[i * self.nh..(i + 1) * self.nh];
        let mut delta = -sign * self.b[i];
        for j in 0..self.nh {
            delta -= softplus(a[j] + sign * row[j]) - softplus(a[j]);
        }
        delta
    }

    /// (v_i' - v_i) dF/dv_i with dF/dv_i = -b_i - sum_j sigmoid(c_j +
    /// (v^T W)_j) W_ij: the free energy's gradient, one pass over W.
    fn flip_delta_estimates(&self, v: &[f64], out: &mut [f64], work: &mut Vec<f64>) {
        work.resize(self.nh, 0.0);
        self.hidden_input(v, work);
        for a in work.iter_mut() {
            *a = sigmoid(*a);
        }
        for i in 0..self.nv {
            let row = &self.w[i * self.nh..(i + 1) * self.nh];
            let grad = -self.b[i] - dot(row, work);
            out[i] = (1.0 - 2.0 * v[i]) * grad;
        }
    }

    /// Exact log Z when the smaller layer has at most
    /// [`RBM_MAX_EXACT_BITS`] units.
    fn log_partition(&self) -> Option<f64> {
        self.exact_log_partition().ok()
    }

    fn rbm(&self) -> Option<&Rbm> {
        Some(self)
    }
}
