//! Pairwise binary models on any graph: Boltzmann machines and Ising
//! models with a coupling per listed pair and a field per site.

use crate::binary::{enumerate_log_partition, BinaryEnergy};
use crate::error::{check_len, CoreError, Result};
use crate::simd::LaneValue;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

/// Largest model whose log Z [`Pairwise::log_partition`] enumerates
/// (2^26 states, about a second on two cores).
pub const PAIRWISE_MAX_EXACT_SPINS: usize = 26;

/// Largest number of sites a [`Pairwise`] model accepts (2^24; site
/// indices are stored in 32 bits).
pub const PAIRWISE_MAX_SITES: usize = 1 << 24;

/// The two values a site of a [`Pairwise`] model takes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Spins {
    /// s_i in {-1, +1} (Ising spins).
    #[default]
    Pm1,
    /// s_i in {0, 1} (Boltzmann-machine bits).
    Bits,
}

impl Spins {
    /// `(low, high)`: `(-1, 1)` or `(0, 1)`.
    pub fn states(self) -> (f64, f64) {
        match self {
            Spins::Pm1 => (-1.0, 1.0),
            Spins::Bits => (0.0, 1.0),
        }
    }
}

/// A pairwise binary model on any graph:
///
/// E(s) = -( sum over listed pairs (i, j, J) of J s_i s_j + sum_i h_i s_i ),
///
/// p(s) = exp(-E(s)) / Z with Z the sum over all 2^n states, s_i in
/// {-1, +1} ([`Spins::Pm1`]) or {0, 1} ([`Spins::Bits`]); sites are
/// 0-based and each pair is listed once (no self-pairs). This is the
/// model file `{"type":"pairwise","n":N,"spins":"pm1"|"bits",
/// "couplings":[[i,j,J],..],"fields":[..N]}`.
///
/// With the local field L_i = h_i + sum_{j ~ i} J_ij s_j, setting s_i to
/// its other value s_i' changes the energy by (s_i - s_i') L_i (that is,
/// 2 s_i L_i for spins, (2 s_i - 1) L_i for bits), so the Gibbs
/// conditional of a site is p(s_i = s_i' | rest) = sigmoid(-(s_i - s_i') L_i).
///
/// The two conventions describe the same models: with s = 2 b - 1,
/// E_pm1(s) = E_bits(b) - C for couplings 4 J, fields 2 h_i - 2 sum_{j ~ i} J_ij
/// and C = sum J - sum h, so log Z_pm1 = log Z_bits + C
/// ([`Pairwise::convert`]).
///
/// The square-lattice [`crate::energies::Ising`] model is one of these
/// (couplings beta J on its bonds, fields beta h), and hands its
/// pairwise form to the samplers through [`BinaryEnergy::pairwise`].
///
/// ```
/// use ebm_core::{BinaryEnergy, energies::{Pairwise, Spins}};
/// // two spins, one bond of strength 0.5: Z = 2 e^0.5 + 2 e^-0.5
/// let m = Pairwise::new(2, Spins::Pm1, vec![(0, 1, 0.5)], vec![0.0, 0.0]).unwrap();
/// let exact = (2.0 * 0.5f64.exp() + 2.0 * (-0.5f64).exp()).ln();
/// assert!((m.log_partition().unwrap() - exact).abs() < 1e-12);
/// assert_eq!(m.energy(&[1.0, -1.0]), 0.5);
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct Pairwise {
    n: usize,
    spins: Spins,
    /// The pairs as given (i, j, J).
    couplings: Vec<(usize, usize, f64)>,
    fields: Vec<f64>,
    /// Neighbour lists, each sorted by site: the neighbours of i are
    /// `nbrs[offsets[i]..offsets[i + 1]]` with couplings `weights[..]`;
    /// those above i start at `upper[i]`.
    offsets: Vec<usize>,
    nbrs: Vec<u32>,
    weights: Vec<f64>,
    upper: Vec<usize>,
    /// The two places of coupling k in `weights`.
    places: Vec<(usize, usize)>,
    /// The sweep order: the two colours of a bipartite graph, one after
    /// the other, or the sites in order.
    order: Vec<usize>,
}

/// Check a number of sites: at least 1, at most [`PAIRWISE_MAX_SITES`]
/// (the error names `n`).
pub fn check_sites(n: usize) -> Result<()> {
    if n == 0 {
        return Err(CoreError::InvalidParameter {
            field: "n".into(),
            reason: "must be at least 1".into(),
        });
    }
    if n > PAIRWISE_MAX_SITES {
        return Err(CoreError::TooLarge(format!(
            "n: {n} sites is too many (limit {PAIRWISE_MAX_SITES})"
        )));
    }
    Ok(())
}

impl Pairwise {
    /// A model over `n` sites with the pairs `couplings` (i, j, J) and one
    /// field per site. Errors name the field: a site out of range, a pair
    /// of a site with itself, a pair listed twice (in either order), a
    /// coupling or field that is not finite, or the wrong number of
    /// fields.
    pub fn new(
        n: usize,
        spins: Spins,
        couplings: Vec<(usize, usize, f64)>,
        fields: Vec<f64>,
    ) -> Result<Self> {
        check_sites(n)?;
        check_len("fields", fields.len(), n)?;
        if let Some(i) = fields.iter().position(|h| !h.is_finite()) {
            return Err(CoreError::NonFinite {
                field: format!("fields[{i}]"),
                value: fields[i],
            });
        }
        let mut first = HashMap::with_capacity(couplings.len());
        let mut degree = vec![0usize; n];
        for (k, &(i, j, w)) in couplings.iter().enumerate() {
            let field = format!("couplings[{k}]");
            if let Some(bad) = [i, j].into_iter().find(|&s| s >= n) {
                return Err(CoreError::InvalidParameter {
                    field,
                    reason: format!("site {bad} is out of range for n = {n} (sites are 0-based)"),
                });
            }
            if i == j {
                return Err(CoreError::InvalidParameter {
                    field,
                    reason: format!("pairs site {i} with itself"),
                });
            }
            if !w.is_finite() {
                return Err(CoreError::NonFinite { field, value: w });
            }
            if let Some(before) = first.insert((i.min(j), i.max(j)), k) {
                return Err(CoreError::InvalidParameter {
                    field,
                    reason: format!("pair ({i}, {j}) is already listed at couplings[{before}]"),
                });
            }
            degree[i] += 1;
            degree[j] += 1;
        }
        let mut offsets = Vec::with_capacity(n + 1);
        offsets.push(0);
        for d in &degree {
            offsets.push(offsets.last().copied().unwrap_or(0) + d);
        }
        // each row's entries: (neighbour, coupling index), sorted by neighbour
        let mut rows: Vec<Vec<(u32, usize)>> = degree.iter().map(|&d| Vec::with_capacity(d)).collect();
        for (k, &(i, j, _)) in couplings.iter().enumerate() {
            rows[i].push((j as u32, k));
            rows[j].push((i as u32, k));
        }
        let mut nbrs = Vec::with_capacity(offsets[n]);
        let mut weights = Vec::with_capacity(offsets[n]);
        let mut upper = Vec::with_capacity(n);
        let mut places = vec![(usize::MAX, usize::MAX); couplings.len()];
        for (i, mut row) in rows.into_iter().enumerate() {
            row.sort_by_key(|&(j, _)| j);
            upper.push(nbrs.len() + row.partition_point(|&(j, _)| (j as usize) < i));
            for (j, k) in row {
                let at = nbrs.len();
                if places[k].0 == usize::MAX {
                    places[k].0 = at;
                } else {
                    places[k].1 = at;
                }
                nbrs.push(j);
                weights.push(couplings[k].2);
            }
        }
        Ok(Self {
            n,
            spins,
            couplings,
            fields,
            offsets,
            nbrs,
            weights,
            upper,
            places,
            order: Vec::new(),
        }
        .with_order())
    }

    /// Fill in the sweep order from the graph.
    fn with_order(mut self) -> Self {
        self.order = crate::graph::bipartite_order(self.n, |i| {
            self.neighbors(i)
                .0
                .iter()
                .map(|&j| j as usize)
                .collect::<Vec<_>>()
        })
        .unwrap_or_else(|| (0..self.n).collect());
        self
    }

    /// Set the coupling values (one per listed pair, in order) and the
    /// fields in place, keeping the graph; errors (nothing changed) on a
    /// wrong length or a value that is not finite.
    pub fn set_values(&mut self, couplings: &[f64], fields: &[f64]) -> Result<()> {
        check_len("couplings", couplings.len(), self.couplings.len())?;
        check_len("fields", fields.len(), self.n)?;
        if let Some(k) = couplings.iter().position(|v| !v.is_finite()) {
            return Err(CoreError::NonFinite {
                field: format!("couplings[{k}]"),
                value: couplings[k],
            });
        }
        if let Some(i) = fields.iter().position(|v| !v.is_finite()) {
            return Err(CoreError::NonFinite {
                field: format!("fields[{i}]"),
                value: fields[i],
            });
        }
        for ((c, &v), &(a, b)) in self.couplings.iter_mut().zip(couplings).zip(&self.places) {
            c.2 = v;
            self.weights[a] = v;
            self.weights[b] = v;
        }
        self.fields.copy_from_slice(fields);
        Ok(())
    }

    /// Number of sites.
    pub fn n(&self) -> usize {
        self.n
    }
    /// Which two values a site takes.
    pub fn spins(&self) -> Spins {
        self.spins
    }
    /// The pairs (i, j, J) as given.
    pub fn couplings(&self) -> &[(usize, usize, f64)] {
        &self.couplings
    }
    /// The fields h_i.
    pub fn fields(&self) -> &[f64] {
        &self.fields
    }
    /// The neighbours of site `i` (sorted) and their couplings J_ij.
    pub fn neighbors(&self, i: usize) -> (&[u32], &[f64]) {
        let r = self.offsets[i]..self.offsets[i + 1];
        (&self.nbrs[r.clone()], &self.weights[r])
    }

    /// The same model in the other convention, `to`, and the constant C
    /// with log Z(self) = log Z(converted) + C (and E_self(s) =
    /// E_converted(b) - C for s = 2 b - 1): from spins to bits couplings
    /// 4 J, fields 2 h_i - 2 sum_{j ~ i} J_ij and C = sum J - sum h; from
    /// bits to spins couplings J / 4, fields h_i / 2 + sum_{j ~ i} J_ij / 4
    /// and C = sum J / 4 + sum h / 2. `to` equal to the model's own
    /// convention returns a copy and 0.
    pub fn convert(&self, to: Spins) -> Result<(Pairwise, f64)> {
        let coupling_sum: f64 = self.couplings.iter().map(|c| c.2).sum();
        let field_sum: f64 = self.fields.iter().sum();
        let row_sum = |i: usize| self.neighbors(i).1.iter().sum::<f64>();
        let (scale, fields, offset): (f64, Vec<f64>, f64) = match (self.spins, to) {
            (a, b) if a == b => return Ok((self.clone(), 0.0)),
            (_, Spins::Bits) => (
                4.0,
                (0..self.n)
                    .map(|i| 2.0 * self.fields[i] - 2.0 * row_sum(i))
                    .collect(),
                coupling_sum - field_sum,
            ),
            (_, Spins::Pm1) => (
                0.25,
                (0..self.n)
                    .map(|i| 0.5 * self.fields[i] + 0.25 * row_sum(i))
                    .collect(),
                0.25 * coupling_sum + 0.5 * field_sum,
            ),
        };
        let couplings = self
            .couplings
            .iter()
            .map(|&(i, j, w)| (i, j, scale * w))
            .collect();
        Ok((Pairwise::new(self.n, to, couplings, fields)?, offset))
    }

    /// s_i + s_i', the sum of the two states (0 for spins, 1 for bits):
    /// the other value of a site is this minus its value.
    #[inline(always)]
    pub fn state_sum(&self) -> f64 {
        let (lo, hi) = self.spins.states();
        lo + hi
    }

    /// The local field L_i = h_i + sum_{j ~ i} J_ij s_j (neighbours in
    /// order), for one chain (`V = f64`) or a lane of chains, where
    /// `s(j)` is site j's value.
    #[inline(always)]
    pub fn local_field_of<V: LaneValue>(&self, i: usize, s: impl Fn(usize) -> V) -> V {
        let r = self.offsets[i]..self.offsets[i + 1];
        let mut acc = V::splat(self.fields[i]);
        for (&j, &w) in self.nbrs[r.clone()].iter().zip(&self.weights[r]) {
            acc = acc.add_scaled(w, s(j as usize));
        }
        acc
    }

    /// E(s') - E(s) for s' = s with site `i` set to its other value:
    /// (s_i - s_i') L_i = (2 s_i - (s_i + s_i')) L_i.
    #[inline(always)]
    pub fn flip_delta_of<V: LaneValue>(&self, i: usize, s: impl Fn(usize) -> V) -> V {
        let si = s(i);
        let factor = si.add(si).add(V::splat(-self.state_sum()));
        factor.mul(self.local_field_of(i, s))
    }

    /// E(s) = -sum_i s_i (h_i + sum_{j ~ i, j > i} J_ij s_j), sites in
    /// order, for one chain or a lane of chains.
    #[inline(always)]
    pub fn energy_of<V: LaneValue>(&self, s: impl Fn(usize) -> V) -> V {
        let mut total = V::splat(0.0);
        for i in 0..self.n {
            let r = self.upper[i]..self.offsets[i + 1];
            let mut acc = V::splat(self.fields[i]);
            for (&j, &w) in self.nbrs[r.clone()].iter().zip(&self.weights[r]) {
                acc = acc.add_scaled(w, s(j as usize));
            }
            total = total.add(s(i).mul(acc));
        }
        total.neg()
    }
}

impl BinaryEnergy for Pairwise {
    fn dim(&self) -> usize {
        self.n
    }

    fn states(&self) -> (f64, f64) {
        self.spins.states()
    }

    fn energy(&self, s: &[f64]) -> f64 {
        self.energy_of(|j| s[j])
    }

    fn flip_delta(&self, s: &[f64], i: usize) -> f64 {
        self.flip_delta_of(i, |j| s[j])
    }

    /// Exact log Z by enumeration for at most
    /// [`PAIRWISE_MAX_EXACT_SPINS`] sites.
    fn log_partition(&self) -> Option<f64> {
        if self.n <= PAIRWISE_MAX_EXACT_SPINS {
            enumerate_log_partition(self).ok()
        } else {
            None
        }
    }

    /// The checkerboard when the graph is bipartite (every site of one
    /// colour, then every site of the other: [`crate::graph::bipartite_order`]),
    /// the sites in order otherwise.
    fn sweep_order(&self, order: &mut Vec<usize>) {
        order.clear();
        order.extend_from_slice(&self.order);
    }

    fn pairwise(&self) -> Option<&Pairwise> {
        Some(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn triangle(spins: Spins) -> Pairwise {
        Pairwise::new(
            4,
            spins,
            vec![(0, 1, 0.7), (2, 1, -0.4), (0, 2, 0.3), (3, 0, 1.1)],
            vec![0.2, -0.5, 0.0, 0.9],
        )
        .unwrap()
    }

    /// Brute force: E from the definition over every state.
    fn brute_log_z(m: &Pairwise) -> f64 {
        let (lo, hi) = m.states();
        let n = m.n();
        let terms: Vec<f64> = (0..1u32 << n)
            .map(|k| {
                let s: Vec<f64> = (0..n).map(|i| if k >> i & 1 == 1 { hi } else { lo }).collect();
                let pair: f64 = m.couplings().iter().map(|&(i, j, w)| w * s[i] * s[j]).sum();
                let field: f64 = m.fields().iter().zip(&s).map(|(h, x)| h * x).sum();
                pair + field
            })
            .collect();
        let top = terms.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
        top + terms.iter().map(|t| (t - top).exp()).sum::<f64>().ln()
    }

    #[test]
    fn enumeration_matches_brute_force_in_both_conventions() {
        for spins in [Spins::Pm1, Spins::Bits] {
            let m = triangle(spins);
            assert!(
                (m.log_partition().unwrap() - brute_log_z(&m)).abs() < 1e-12,
                "{spins:?}"
            );
        }
    }

    #[test]
    fn conversion_keeps_the_model() {
        for (from, to) in [(Spins::Pm1, Spins::Bits), (Spins::Bits, Spins::Pm1)] {
            let m = triangle(from);
            let (c, offset) = m.convert(to).unwrap();
            assert_eq!(c.spins(), to);
            let (lo, hi) = m.states();
            let (clo, chi) = c.states();
            for k in 0..16u32 {
                let s: Vec<f64> = (0..4).map(|i| if k >> i & 1 == 1 { hi } else { lo }).collect();
                let b: Vec<f64> = (0..4).map(|i| if k >> i & 1 == 1 { chi } else { clo }).collect();
                assert!((m.energy(&s) - (c.energy(&b) - offset)).abs() < 1e-12);
            }
            let lz = m.log_partition().unwrap();
            assert!((lz - (c.log_partition().unwrap() + offset)).abs() < 1e-12);
            let (back, off2) = c.convert(from).unwrap();
            assert!((off2 + offset).abs() < 1e-12);
            for (a, b) in back.couplings().iter().zip(m.couplings()) {
                assert!((a.2 - b.2).abs() < 1e-12);
            }
        }
    }

    #[test]
    fn flip_delta_is_the_energy_change() {
        for spins in [Spins::Pm1, Spins::Bits] {
            let m = triangle(spins);
            let (lo, hi) = m.states();
            for k in 0..16u32 {
                let s: Vec<f64> = (0..4).map(|i| if k >> i & 1 == 1 { hi } else { lo }).collect();
                for i in 0..4 {
                    let mut t = s.clone();
                    t[i] = lo + hi - t[i];
                    assert!((m.flip_delta(&s, i) - (m.energy(&t) - m.energy(&s))).abs() < 1e-12);
                }
            }
        }
    }

    #[test]
    fn bipartite_graphs_sweep_by_colour() {
        // a ring of 6 is bipartite: even sites, then odd ones
        let ring: Vec<_> = (0..6).map(|i| (i, (i + 1) % 6, 0.5)).collect();
        let m = Pairwise::new(6, Spins::Pm1, ring, vec![0.0; 6]).unwrap();
        let mut order = Vec::new();
        m.sweep_order(&mut order);
        assert_eq!(order, vec![0, 2, 4, 1, 3, 5]);
        // the triangle of `triangle` is not: sites in order
        triangle(Spins::Bits).sweep_order(&mut order);
        assert_eq!(order, vec![0, 1, 2, 3]);
    }

    #[test]
    fn bad_input_names_the_field() {
        let err = |c: Vec<(usize, usize, f64)>, h: Vec<f64>| {
            Pairwise::new(3, Spins::Pm1, c, h).unwrap_err().to_string()
        };
        let z = vec![0.0; 3];
        assert_eq!(
            err(vec![(0, 1, 1.0), (1, 3, 1.0)], z.clone()),
            "couplings[1]: site 3 is out of range for n = 3 (sites are 0-based)"
        );
        assert_eq!(
            err(vec![(2, 2, 1.0)], z.clone()),
            "couplings[0]: pairs site 2 with itself"
        );
        assert_eq!(
            err(vec![(0, 1, 1.0), (1, 0, 2.0)], z.clone()),
            "couplings[1]: pair (1, 0) is already listed at couplings[0]"
        );
        assert_eq!(
            err(vec![(0, 1, f64::NAN)], z),
            "couplings[0]: value NaN is not finite"
        );
        assert_eq!(err(vec![], vec![0.0; 2]), "fields: expected 3 entries, got 2");
        assert!(Pairwise::new(0, Spins::Bits, vec![], vec![]).is_err());
    }
}
