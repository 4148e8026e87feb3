//! Two-dimensional Ising model.

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
/// Sites are numbered row-major, i = r * cols + c.
///
/// ```
/// use ebm_core::{BinaryEnergy, energies::Ising};
/// let m = Ising::new(3, 3, 1.0, 0.0, 0.4, true).unwrap();
/// assert_eq!(m.energy(&[1.0; 9]), -0.4 * 18.0); // 18 bonds, all aligned
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
    /// Neighbour lists, flattened: neighbours of i are
    /// `nbrs[offsets[i]..offsets[i + 1]]`.
    nbrs: Vec<usize>,
    offsets: Vec<usize>,
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
        let mut lists = vec![Vec::new(); n];
        for &(a, b) in &bonds {
            lists[a].push(b);
            lists[b].push(a);
        }
        let mut offsets = vec![0];
        let mut nbrs = Vec::new();
        for l in lists {
            nbrs.extend(l);
            offsets.push(nbrs.len());
        }
        Ok(Self {
            rows,
            cols,
            coupling,
            field,
            beta,
            periodic,
            bonds,
            nbrs,
            offsets,
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
    /// Whether the lattice wraps around.
    pub fn periodic(&self) -> bool {
        self.periodic
    }
    /// The bonds (i, j), i < j.
    pub fn bonds(&self) -> &[(usize, usize)] {
        &self.bonds
    }
    /// The neighbours of site `i`.
    pub fn neighbors(&self, i: usize) -> &[usize] {
        &self.nbrs[self.offsets[i]..self.offsets[i + 1]]
    }

    /// Checkerboard colour of site `i`, (row + col) mod 2. Sites of one
    /// colour are conditionally independent given the other colour when
    /// no bond joins two sites of the same colour (open lattices, and
    /// periodic ones with even sides).
    pub fn color(&self, i: usize) -> usize {
        (i / self.cols + i % self.cols) % 2
    }

    /// Local field on site i: J sum_{j~i} s_j + h.
    #[inline]
    pub fn local_field(&self, s: &[f64], i: usize) -> f64 {
        self.coupling * self.neighbors(i).iter().map(|&j| s[j]).sum::<f64>() + self.field
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
        let pair: f64 = self.bonds.iter().map(|&(a, b)| s[a] * s[b]).sum();
        let mag: f64 = s.iter().sum();
        -self.beta * (self.coupling * pair + self.field * mag)
    }

    fn flip_delta(&self, s: &[f64], i: usize) -> f64 {
        2.0 * self.beta * s[i] * self.local_field(s, i)
    }

    /// Exact log Z by enumeration for lattices of at most
    /// [`ISING_MAX_EXACT_SPINS`] spins.
    fn log_partition(&self) -> Option<f64> {
        if self.dim() <= ISING_MAX_EXACT_SPINS {
            enumerate_log_partition(self).ok()
        } else {
            None
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
