//! The statistics of a PCD step, summed row by row as the phases produce
//! them (the scatter form of the products V^T H):
//!
//! G = sum_r v_r h_r^T - sum_q v-_q h-_q^T  (V x H),
//! db = sum_r v_r - sum_q v-_q,  dc = sum_r h_r - sum_q h-_q,
//!
//! with the data rows r first, in order, then the chains q. Each row adds
//! its mean hiddens to the rows of G of the visible units that are on, so
//! no per-unit lists are built and the work follows the units that are
//! on; every entry is summed in the same order as the gather form
//! sum over the rows where unit i is on, so the bits are those of that
//! form.

use crate::trainable::Real;

/// The statistics of a step (see the module documentation).
#[derive(Clone, Debug)]
pub(super) struct Stats<F> {
    /// G, V x H row-major.
    pub(super) g: Vec<F>,
    /// sum_r v_r, per visible unit.
    pub(super) db_pos: Vec<F>,
    /// How many chains have each visible unit on (db = db_pos - db_neg).
    pub(super) db_neg: Vec<F>,
    /// dc, per hidden unit.
    pub(super) dc: Vec<F>,
}

impl<F: Real> Stats<F> {
    /// Zeroed statistics of an RBM with `nv` visible and `nh` hidden units.
    pub(super) fn new(nv: usize, nh: usize) -> Self {
        let z = F::zero();
        Self {
            g: vec![z; nv * nh],
            db_pos: vec![z; nv],
            db_neg: vec![z; nv],
            dc: vec![z; nh],
        }
    }

    /// Zero every statistic.
    #[inline(always)]
    pub(super) fn clear(&mut self) {
        for v in [&mut self.g, &mut self.db_pos, &mut self.db_neg, &mut self.dc] {
            v.fill(F::zero());
        }
    }

    /// Add (`positive`: a data row) or subtract (a chain's row) the outer
    /// product of a visible row, given by the units that are on and their
    /// values (`None`: all 1; a chain's row is always binary), with its
    /// mean hiddens `h`: G[i, ..] += v_i h for each unit i
    /// that is on, and the row's share of the bias statistics. The data
    /// rows come first, in order, then the chains, so each entry of G is
    /// summed in a fixed order.
    #[inline(always)]
    pub(super) fn add_row(&mut self, on: &[usize], vals: Option<&[F]>, h: &[F], positive: bool) {
        let nh = h.len();
        for (k, &i) in on.iter().enumerate() {
            let row = &mut self.g[i * nh..(i + 1) * nh];
            match (positive, vals) {
                (true, None) => {
                    add_to(row, h);
                    self.db_pos[i] += F::one();
                }
                (true, Some(vals)) => {
                    let val = vals[k];
                    for (g, &x) in row.iter_mut().zip(h) {
                        *g = val.mul_add(x, *g);
                    }
                    self.db_pos[i] += val;
                }
                (false, _) => {
                    sub_from(row, h);
                    self.db_neg[i] += F::one();
                }
            }
        }
        if positive {
            add_to(&mut self.dc, h);
        } else {
            sub_from(&mut self.dc, h);
        }
    }
}

/// `acc += x`, element by element.
#[inline(always)]
fn add_to<F: Real>(acc: &mut [F], x: &[F]) {
    for (a, &v) in acc.iter_mut().zip(x) {
        *a += v;
    }
}

/// `acc -= x`, element by element.
#[inline(always)]
fn sub_from<F: Real>(acc: &mut [F], x: &[F]) {
    for (a, &v) in acc.iter_mut().zip(x) {
        *a -= v;
    }
}
