//! Categorical pairwise models: Potts models and models with a coupling
//! matrix per pair of sites (protein contact models), on any graph.

use crate::categorical::{enumerate_categorical_log_partition, state_count, CategoricalEnergy};
use crate::error::{CoreError, Result};
use std::collections::HashMap;

/// Largest number of states (prod_i q_i) whose log Z
/// [`CategoricalPairwise::log_partition`] enumerates: 2^26.
pub const CATEGORICAL_MAX_EXACT_STATES: u64 = 1 << 26;

/// Largest number of states of one site.
pub const CATEGORICAL_MAX_Q: usize = 1 << 12;

/// A categorical pairwise model on any graph: site i takes a state a_i in
/// {0, ..., q_i - 1} and
///
/// E(a) = -( sum over listed edges (i, j) of W_ij(a_i, a_j) + sum_i h_i(a_i) ),
///
/// p(a) = exp(-E(a)) / Z with Z the sum over all prod_i q_i states. Each
/// edge carries its own q_i x q_j coupling matrix (W_ij(a, b) is row a,
/// column b); each pair is listed once, no self-pairs.
///
/// The Potts model with q states ([`CategoricalPairwise::potts`], model
/// file `{"type":"potts","n":N,"q":Q,"couplings":[[i,j,J],..],
/// "fields":[[..Q]..N]}`) is the case W_ij(a, b) = J_ij [a = b]; the
/// general form is `{"type":"categorical","q":[..N],"edges":[{"i":i,
/// "j":j,"w":[[..q_j]..q_i]},..],"fields":[[..q_i]..N]}` (fields optional,
/// 0 by default).
///
/// With the local term l_i(a) = h_i(a) + sum over edges at i of W(a, a_other),
/// setting site i to a changes the energy by l_i(a_i) - l_i(a), so the
/// Gibbs conditional is p(a_i = a | rest) ∝ exp(l_i(a)).
///
/// ```
/// use ebm_core::categorical::CategoricalEnergy;
/// use ebm_core::energies::CategoricalPairwise;
/// let m = CategoricalPairwise::potts(3, 4, &[(0, 1, 0.5), (1, 2, -0.3)], None).unwrap();
/// assert_eq!(m.energy(&[2.0, 2.0, 1.0]), -0.5);
/// // site 1 from 2 to 1: loses the 0.5 agreement, gains the -0.3 one
/// assert_eq!(m.set_delta(&[2.0, 2.0, 1.0], 1, 1), 0.5 + 0.3);
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct CategoricalPairwise {
    q: Vec<usize>,
    /// h_i(a) at `field_offsets[i] + a`.
    fields: Vec<f64>,
    field_offsets: Vec<usize>,
    /// (i, j, W) with W row-major q_i x q_j.
    edges: Vec<(usize, usize, Vec<f64>)>,
    /// The edges at each site: `adj[adj_offsets[i]..adj_offsets[i + 1]]`
    /// holds (edge, other site, whether the site is the edge's first).
    adj_offsets: Vec<usize>,
    adj: Vec<(u32, u32, bool)>,
    /// The Potts form it was built from, (q, couplings), for the model file.
    potts: Option<(usize, Vec<Coupling>)>,
    /// The sweep order: the two colours of a bipartite graph, one after
    /// the other, or the sites in order.
    order: Vec<usize>,
}

/// One coupling matrix per edge, given as (i, j, rows of W).
pub type EdgeMatrix = (usize, usize, Vec<Vec<f64>>);

/// A coupling (i, j, J) between two sites.
pub type Coupling = (usize, usize, f64);

impl CategoricalPairwise {
    /// The general model: `q[i]` states per site (2 to
    /// [`CATEGORICAL_MAX_Q`]), `edges` (i, j, W) with W given as q_i rows of
    /// q_j values, and optionally the fields h_i as q_i values per site.
    /// Errors name the field: a site out of range, a self-pair, a pair
    /// listed twice, a matrix or field of the wrong shape, a value that is
    /// not finite.
    pub fn new(q: Vec<usize>, edges: &[EdgeMatrix], fields: Option<&[Vec<f64>]>) -> Result<Self> {
        let n = q.len();
        if n == 0 {
            return Err(CoreError::InvalidParameter {
                field: "q".into(),
                reason: "needs at least one site".into(),
            });
        }
        crate::energies::check_sites(n)?;
        if let Some(i) = q.iter().position(|&k| !(2..=CATEGORICAL_MAX_Q).contains(&k)) {
            return Err(CoreError::InvalidParameter {
                field: format!("q[{i}]"),
                reason: format!("must be from 2 to {CATEGORICAL_MAX_Q} states, got {}", q[i]),
            });
        }
        let mut field_offsets = Vec::with_capacity(n + 1);
        field_offsets.push(0);
        for &k in &q {
            field_offsets.push(field_offsets[field_offsets.len() - 1] + k);
        }
        let mut flat_fields = vec![0.0; field_offsets[n]];
        if let Some(h) = fields {
            if h.len() != n {
                return Err(CoreError::Shape {
                    field: "fields".into(),
                    expected: format!("{n} rows"),
                    got: h.len().to_string(),
                });
            }
            for (i, row) in h.iter().enumerate() {
                let field = format!("fields[{i}]");
                crate::error::check_len(&field, row.len(), q[i])?;
                crate::error::check_finite(&field, row)?;
                flat_fields[field_offsets[i]..field_offsets[i + 1]].copy_from_slice(row);
            }
        }
        let mut seen = HashMap::with_capacity(edges.len());
        let mut flat_edges = Vec::with_capacity(edges.len());
        let mut degree = vec![0usize; n];
        for (k, (i, j, w)) in edges.iter().enumerate() {
            let (i, j) = (*i, *j);
            let field = format!("edges[{k}]");
            if let Some(bad) = [i, j].into_iter().find(|&s| s >= n) {
                return Err(CoreError::InvalidParameter {
                    field,
                    reason: format!("site {bad} is out of range for {n} sites (sites are 0-based)"),
                });
            }
            if i == j {
                return Err(CoreError::InvalidParameter {
                    field,
                    reason: format!("pairs site {i} with itself"),
                });
            }
            if let Some(before) = seen.insert((i.min(j), i.max(j)), k) {
                return Err(CoreError::InvalidParameter {
                    field,
                    reason: format!("pair ({i}, {j}) is already listed at edges[{before}]"),
                });
            }
            let flat = crate::spec::flatten_rows(&format!("{field}.w"), w, q[i], q[j])?;
            crate::error::check_finite(&format!("{field}.w"), &flat)?;
            flat_edges.push((i, j, flat));
            degree[i] += 1;
            degree[j] += 1;
        }
        let mut adj_offsets = Vec::with_capacity(n + 1);
        adj_offsets.push(0);
        for d in &degree {
            adj_offsets.push(adj_offsets[adj_offsets.len() - 1] + d);
        }
        let mut fill = adj_offsets.clone();
        let mut adj = vec![(0u32, 0u32, false); adj_offsets[n]];
        for (e, (i, j, _)) in flat_edges.iter().enumerate() {
            adj[fill[*i]] = (e as u32, *j as u32, true);
            fill[*i] += 1;
            adj[fill[*j]] = (e as u32, *i as u32, false);
            fill[*j] += 1;
        }
        Ok(Self {
            q,
            fields: flat_fields,
            field_offsets,
            edges: flat_edges,
            adj_offsets,
            adj,
            potts: None,
            order: Vec::new(),
        }
        .with_order())
    }

    /// Fill in the sweep order from the graph.
    fn with_order(mut self) -> Self {
        self.order = crate::graph::bipartite_order(self.q.len(), |i| self.neighbors(i).collect::<Vec<_>>())
            .unwrap_or_else(|| (0..self.q.len()).collect());
        self
    }

    /// The Potts model on `n` sites with `q` states each: couplings
    /// (i, j, J) reward agreement, W_ij(a, b) = J [a = b]; fields h_i(a)
    /// optional (`n` rows of `q`).
    pub fn potts(
        n: usize,
        q: usize,
        couplings: &[(usize, usize, f64)],
        fields: Option<&[Vec<f64>]>,
    ) -> Result<Self> {
        crate::energies::check_sites(n)?;
        if !(2..=CATEGORICAL_MAX_Q).contains(&q) {
            return Err(CoreError::InvalidParameter {
                field: "q".into(),
                reason: format!("must be from 2 to {CATEGORICAL_MAX_Q} states, got {q}"),
            });
        }
        for (k, &(_, _, j)) in couplings.iter().enumerate() {
            if !j.is_finite() {
                return Err(CoreError::NonFinite {
                    field: format!("couplings[{k}]"),
                    value: j,
                });
            }
        }
        let edges: Vec<EdgeMatrix> = couplings
            .iter()
            .map(|&(i, j, c)| {
                let w = (0..q)
                    .map(|a| (0..q).map(|b| if a == b { c } else { 0.0 }).collect())
                    .collect();
                (i, j, w)
            })
            .collect();
        let mut m = Self::new(vec![q; n], &edges, fields).map_err(|e| match e {
            CoreError::InvalidParameter { field, reason } => CoreError::InvalidParameter {
                field: field.replace("edges[", "couplings[").replace("q[0]", "q"),
                reason: reason.replace("at edges[", "at couplings["),
            },
            other => other,
        })?;
        m.potts = Some((q, couplings.to_vec()));
        Ok(m)
    }

    /// Number of sites.
    pub fn n(&self) -> usize {
        self.q.len()
    }
    /// States per site.
    pub fn q(&self) -> &[usize] {
        &self.q
    }
    /// The fields of site `i`, h_i(0..q_i).
    pub fn fields_of(&self, i: usize) -> &[f64] {
        &self.fields[self.field_offsets[i]..self.field_offsets[i + 1]]
    }
    /// The edges (i, j, W row-major q_i x q_j).
    pub fn edges(&self) -> &[(usize, usize, Vec<f64>)] {
        &self.edges
    }
    /// The Potts form (q, couplings) when the model was built as one.
    pub fn potts_form(&self) -> Option<(usize, &[Coupling])> {
        self.potts.as_ref().map(|(q, c)| (*q, c.as_slice()))
    }
    /// The sites that share an edge with site `i`.
    pub fn neighbors(&self, i: usize) -> impl Iterator<Item = usize> + '_ {
        self.adj[self.adj_offsets[i]..self.adj_offsets[i + 1]]
            .iter()
            .map(|&(_, o, _)| o as usize)
    }

    /// The local term l_i(a) = h_i(a) + sum over the edges at i of
    /// W(a, x_other) (edges in order), at state `x`.
    #[inline]
    pub fn local_term(&self, x: &[f64], i: usize, a: usize) -> f64 {
        let mut acc = self.fields[self.field_offsets[i] + a];
        for &(e, other, first) in &self.adj[self.adj_offsets[i]..self.adj_offsets[i + 1]] {
            let (_, j, w) = &self.edges[e as usize];
            let b = x[other as usize] as usize;
            acc += if first {
                w[a * self.q[*j] + b]
            } else {
                w[b * self.q[i] + a]
            };
        }
        acc
    }
}

impl CategoricalEnergy for CategoricalPairwise {
    fn dim(&self) -> usize {
        self.q.len()
    }

    fn states(&self, i: usize) -> usize {
        self.q[i]
    }

    /// -(sum_i h_i(x_i) + sum_edges W(x_i, x_j)), sites then edges in order.
    fn energy(&self, x: &[f64]) -> f64 {
        let mut acc = 0.0;
        for i in 0..self.q.len() {
            acc += self.fields[self.field_offsets[i] + x[i] as usize];
        }
        for (i, j, w) in &self.edges {
            acc += w[x[*i] as usize * self.q[*j] + x[*j] as usize];
        }
        -acc
    }

    fn set_delta(&self, x: &[f64], i: usize, a: usize) -> f64 {
        self.local_term(x, i, x[i] as usize) - self.local_term(x, i, a)
    }

    fn site_deltas(&self, x: &[f64], i: usize, out: &mut [f64]) {
        let here = self.local_term(x, i, x[i] as usize);
        for (a, o) in out.iter_mut().enumerate() {
            *o = here - self.local_term(x, i, a);
        }
    }

    /// Exact log Z by enumeration for at most
    /// [`CATEGORICAL_MAX_EXACT_STATES`] states.
    fn log_partition(&self) -> Option<f64> {
        match state_count(self) {
            Some(n) if n <= CATEGORICAL_MAX_EXACT_STATES => enumerate_categorical_log_partition(self).ok(),
            _ => None,
        }
    }

    /// The checkerboard when the graph is bipartite
    /// ([`crate::graph::bipartite_order`]), the sites in order otherwise.
    fn sweep_order(&self, order: &mut Vec<usize>) {
        order.clear();
        order.extend_from_slice(&self.order);
    }

    fn categorical_pairwise(&self) -> Option<&CategoricalPairwise> {
        Some(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Three sites with 2, 3 and 4 states, a triangle of random matrices.
    fn mixed() -> CategoricalPairwise {
        let m = |r: usize, c: usize, s: f64| -> Vec<Vec<f64>> {
            (0..r)
                .map(|a| (0..c).map(|b| ((a * 7 + b * 3) as f64 * s).sin()).collect())
                .collect()
        };
        let fields = vec![vec![0.1, -0.2], vec![0.0, 0.3, -0.1], vec![0.2, 0.0, -0.4, 0.1]];
        CategoricalPairwise::new(
            vec![2, 3, 4],
            &[(0, 1, m(2, 3, 0.7)), (2, 1, m(4, 3, 1.3)), (0, 2, m(2, 4, 0.4))],
            Some(&fields),
        )
        .unwrap()
    }

    fn brute_log_z(m: &CategoricalPairwise) -> f64 {
        let q = m.q().to_vec();
        let total: usize = q.iter().product();
        let mut terms = Vec::new();
        for k in 0..total {
            let mut rest = k;
            let x: Vec<usize> = q
                .iter()
                .map(|&qi| {
                    let v = rest % qi;
                    rest /= qi;
                    v
                })
                .collect();
            // the definition: fields plus each edge's matrix entry
            let mut s = 0.0;
            for (i, &xi) in x.iter().enumerate() {
                s += m.fields_of(i)[xi];
            }
            for (i, j, w) in m.edges() {
                s += w[x[*i] * q[*j] + x[*j]];
            }
            terms.push(s);
        }
        let top = terms.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
        top + terms.iter().map(|t| (t - top).exp()).sum::<f64>().ln()
    }

    #[test]
    fn enumeration_matches_brute_force() {
        let m = mixed();
        assert!((m.log_partition().unwrap() - brute_log_z(&m)).abs() < 1e-12);
        let p =
            CategoricalPairwise::potts(5, 3, &[(0, 1, 0.8), (1, 2, -0.5), (3, 4, 1.1), (4, 0, 0.3)], None)
                .unwrap();
        assert!((p.log_partition().unwrap() - brute_log_z(&p)).abs() < 1e-12);
    }

    #[test]
    fn deltas_are_energy_changes() {
        let m = mixed();
        let x = [1.0, 2.0, 3.0];
        for i in 0..3 {
            let mut out = vec![0.0; m.states(i)];
            m.site_deltas(&x, i, &mut out);
            for (a, &d) in out.iter().enumerate() {
                let mut y = x;
                y[i] = a as f64;
                assert!((d - (m.energy(&y) - m.energy(&x))).abs() < 1e-12);
                assert_eq!(d, m.set_delta(&x, i, a));
            }
        }
    }

    #[test]
    fn bipartite_graphs_sweep_by_colour() {
        // a path 0-1-2-3 plus the isolated site 4: {0, 2, 4} then {1, 3}
        let p = CategoricalPairwise::potts(5, 3, &[(0, 1, 1.0), (1, 2, 1.0), (2, 3, 1.0)], None).unwrap();
        let mut order = Vec::new();
        p.sweep_order(&mut order);
        assert_eq!(order, vec![0, 2, 4, 1, 3]);
        // the mixed model's triangle is not bipartite
        mixed().sweep_order(&mut order);
        assert_eq!(order, vec![0, 1, 2]);
    }

    #[test]
    fn bad_input_names_the_field() {
        let err =
            |q: Vec<usize>, e: &[EdgeMatrix]| CategoricalPairwise::new(q, e, None).unwrap_err().to_string();
        assert_eq!(err(vec![2, 1], &[]), "q[1]: must be from 2 to 4096 states, got 1");
        assert_eq!(
            err(vec![2, 2], &[(0, 2, vec![])]),
            "edges[0]: site 2 is out of range for 2 sites (sites are 0-based)"
        );
        assert_eq!(
            err(vec![2, 3], &[(0, 1, vec![vec![0.0; 3], vec![0.0; 2]])]),
            "edges[0].w[1]: expected 3 entries, got 2"
        );
        let potts =
            |c: &[(usize, usize, f64)]| CategoricalPairwise::potts(3, 3, c, None).unwrap_err().to_string();
        assert_eq!(
            potts(&[(0, 1, 1.0), (1, 0, 1.0)]),
            "couplings[1]: pair (1, 0) is already listed at couplings[0]"
        );
        assert_eq!(potts(&[(0, 0, 1.0)]), "couplings[0]: pairs site 0 with itself");
        assert!(CategoricalPairwise::potts(3, 1, &[], None).is_err());
    }
}
