//! Two-dimensional Ising model.

use super::pairwise::{Pairwise, Spins};
use crate::binary::{enumerate_log_partition, BinaryEnergy};
use crate::error::{check_finite_scalar, CoreError, Result};

/// Largest lattice whose log Z [`Ising::log_partition`] enumerates (2^25
/// states, a fraction of a second).
pub const ISING_MAX_EXACT_SPINS: usize = 25;

/// Ising model on a `rows x cols` square lattice, spins s_i in {-1, +1}:
///
/// E(s) = -beta (J sum_{\<ij\>} s_i s_j + h sum_i s_i),
///
/// with coupling J, field h and inverse temperature beta; p(s) =
/// exp(-E(s)) / Z. The bonds \<ij\> join each site to its right and lower
/// neighbour, wrapping around the edges when `periodic`. The lattice is a
/// simple graph: a wrap that would join a site to itself (a side of
/// length one) or repeat an existing bond (a side of length two) is not
/// added, so a periodic 2x2 lattice has the same four bonds as an open one.
///
/// Flipping spin i changes the energy by 2 beta s_i (J sum_{j~i} s_j + h).
/// Sites are numbered row-major, i = r * cols + c. The energy is
/// evaluated as the [`Pairwise`] model with couplings beta J on the bonds
/// and fields beta h ([`Ising::pairwise_model`]), which the samplers use
/// through [`BinaryEnergy::pairwise`].
///
/// ```
/// use ebm_core::{BinaryEnergy, energies::Ising};
/// let m = Ising::new(3, 3, 1.0, 0.0, 0.4, true).unwrap();
/// assert!((m.energy(&[1.0; 9]) + 0.4 * 18.0).abs() < 1e-12); // 18 bonds, all aligned
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct Ising {
    rows: usize,
    cols: usize,
    coupling: f64,
    field: f64,
    beta: f64,
    periodic: bool,
    /// Bonds (i, j) with i < j.
    bonds: Vec<(usize, usize)>,
    /// The same model as couplings beta J and fields beta h.
    pairwise: Pairwise,
}

impl Ising {
    /// An Ising lattice; `rows, cols >= 1` with at most 2^22 sites, all
    /// parameters finite.
    pub fn new(
        rows: usize,
        cols: usize,
        coupling: f64,
        field: f64,
        beta: f64,
        periodic: bool,
    ) -> Result<Self> {
        if rows == 0 || cols == 0 {
            return Err(CoreError::InvalidParameter {
                field: if rows == 0 { "rows" } else { "cols" }.into(),
                reason: "must be at least 1".into(),
            });
        }
        // 2^22 sites (a 2048 x 2048 lattice) keep the bond and neighbour
        // lists to a few hundred MB
        if rows.checked_mul(cols).is_none_or(|n| n > 1 << 22) {
            return Err(CoreError::TooLarge(format!(
                "Ising lattice {rows}x{cols} is too large"
            )));
        }
        check_finite_scalar("coupling", coupling)?;
        check_finite_scalar("field", field)?;
        check_finite_scalar("beta", beta)?;
        let n = rows * cols;
        let mut bonds = Vec::new();
        // periodic lattices 1 or 2 wide reach the same neighbour twice;
        // keep each bond once, in order of first appearance
        let mut seen = std::collections::HashSet::new();
        let mut add = |a: usize, b: usize| {
            if a == b {
                return;
            }
            let e = (a.min(b), a.max(b));
            if seen.insert(e) {
                bonds.push(e);
            }
        };
        for r in 0..rows {
            for c in 0..cols {
                let i = r * cols + c;
                if c + 1 < cols {
                    add(i, i + 1);
                } else if periodic {
                    add(i, r * cols);
                }
                if r + 1 < rows {
                    add(i, i + cols);
                } else if periodic {
                    add(i, c);
                }
            }
        }
        let pairwise = Pairwise::new(
            n,
            Spins::Pm1,
            bonds.iter().map(|&(a, b)| (a, b, beta * coupling)).collect(),
            vec![beta * field; n],
        )?;
        Ok(Self {
            rows,
            cols,
            coupling,
            field,
            beta,
            periodic,
            bonds,
            pairwise,
        })
    }

    /// Lattice rows.
    pub fn rows(&self) -> usize {
        self.rows
    }
    /// Lattice columns.
    pub fn cols(&self) -> usize {
        self.cols
    }
    /// Coupling J.
    pub fn coupling(&self) -> f64 {
        self.coupling
    }
    /// External field h.
    pub fn field(&self) -> f64 {
        self.field
    }
    /// Inverse temperature beta.
    pub fn beta(&self) -> f64 {
        self.beta
    }
    /// Kaufman's (1949) exact log Z of a periodic lattice without a field,
    /// at least 3 x 3, with a ferromagnetic coupling K = beta J > 0:
    ///
    /// Z = 1/2 (2 sinh 2K)^{mn/2} (Z_1 + Z_2 + Z_3 + Z_4),
    /// Z_1 = prod_{r<n} 2 cosh(m g_{2r+1} / 2), Z_2 = prod_{r<n} 2 sinh(m g_{2r+1} / 2),
    /// Z_3 = prod_{r<n} 2 cosh(m g_{2r} / 2),   Z_4 = prod_{r<n} 2 sinh(m g_{2r} / 2),
    ///
    /// (m rows, n columns) with cosh g_k = cosh 2K coth 2K - cos(pi k / n)
    /// for k >= 1 and g_0 = 2K + ln tanh K (negative below the critical
    /// temperature, when Z_4 may be negative); summed in logs with signs.
    /// `None` for lattices it does not cover. Checked against enumeration
    /// (`ebm-samplers/tests/kaufman.rs`).
    pub fn kaufman_log_partition(&self) -> Option<f64> {
        let k = self.beta * self.coupling;
        if !self.periodic
            || self.field != 0.0
            || self.rows < 3
            || self.cols < 3
            || !(k > 0.0 && k.is_finite())
        {
            return None;
        }
        let (m, n) = (self.rows, self.cols);
        let gamma = |q: usize| {
            if q == 0 {
                2.0 * k + k.tanh().ln()
            } else {
                let c =
                    (2.0 * k).cosh() / (2.0 * k).tanh() - (std::f64::consts::PI * q as f64 / n as f64).cos();
                c.acosh()
            }
        };
        let half = m as f64 / 2.0;
        // (sign, log |.|) of one of the four products
        let product = |odd: bool, sinh: bool| -> (f64, f64) {
            (0..n).fold((1.0, 0.0), |(sign, log), r| {
                let g = gamma(2 * r + usize::from(odd)) * half;
                let v = if sinh { 2.0 * g.sinh() } else { 2.0 * g.cosh() };
                (sign * v.signum(), log + v.abs().ln())
            })
        };
        let terms = [
            product(true, false),
            product(true, true),
            product(false, false),
            product(false, true),
        ];
        let top = terms.iter().map(|t| t.1).fold(f64::NEG_INFINITY, f64::max);
        let sum: f64 = terms.iter().map(|(sign, log)| sign * (log - top).exp()).sum();
        if sum.is_nan() || sum <= 0.0 || !top.is_finite() {
            return None;
        }
        Some(-std::f64::consts::LN_2 + (m * n) as f64 / 2.0 * (2.0 * (2.0 * k).sinh()).ln() + top + sum.ln())
    }

    /// Whether the lattice wraps around.
    pub fn periodic(&self) -> bool {
        self.periodic
    }
    /// The bonds (i, j), i < j.
    pub fn bonds(&self) -> &[(usize, usize)] {
        &self.bonds
    }
    /// The lattice as a [`Pairwise`] model: couplings beta J on the bonds,
    /// fields beta h.
    pub fn pairwise_model(&self) -> &Pairwise {
        &self.pairwise
    }

    /// Checkerboard colour of site `i`, (row + col) mod 2. Sites of one
    /// colour are conditionally independent given the other colour when
    /// no bond joins two sites of the same colour (open lattices, and
    /// periodic ones with even sides).
    pub fn color(&self, i: usize) -> usize {
        (i / self.cols + i % self.cols) % 2
    }
}

impl BinaryEnergy for Ising {
    fn dim(&self) -> usize {
        self.rows * self.cols
    }

    fn states(&self) -> (f64, f64) {
        (-1.0, 1.0)
    }

    fn energy(&self, s: &[f64]) -> f64 {
        self.pairwise.energy(s)
    }

    fn flip_delta(&self, s: &[f64], i: usize) -> f64 {
        self.pairwise.flip_delta(s, i)
    }

    fn pairwise(&self) -> Option<&Pairwise> {
        Some(&self.pairwise)
    }

    /// Exact log Z by enumeration for lattices of at most
    /// [`ISING_MAX_EXACT_SPINS`] spins, and by Kaufman's closed form
    /// ([`Ising::kaufman_log_partition`]) for larger periodic lattices
    /// without a field.
    fn log_partition(&self) -> Option<f64> {
        if self.dim() <= ISING_MAX_EXACT_SPINS {
            enumerate_log_partition(self).ok()
        } else {
            self.kaufman_log_partition()
        }
    }

    /// The checkerboard: every site of colour 0 ([`Ising::color`]), then
    /// every site of colour 1.
    fn sweep_order(&self, order: &mut Vec<usize>) {
        let n = self.rows * self.cols;
        order.clear();
        order.extend((0..n).filter(|&i| self.color(i) == 0));
        order.extend((0..n).filter(|&i| self.color(i) == 1));
    }
}
