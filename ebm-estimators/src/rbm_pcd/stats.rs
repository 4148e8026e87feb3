//! The statistics of a PCD step:
//!
//! G = sum_r v_r h_r^T - sum_q v-_q h-_q^T  (V x H),
//! db = sum_r v_r - sum_q v-_q,  dc = sum_r h_r - sum_q h-_q,
//!
//! over the data rows r, in order, then the chains q. The phases store
//! each row's mean hiddens and, per visible unit, a bit set of the rows
//! where it is on; G is never stored. The update gathers each row of G in
//! registers (G[i, ..] = sum of the mean hiddens of the rows where unit i
//! is on, times its value, data rows first, then minus the chains') and
//! writes W + scale G at once. The mean hiddens (a few KB) stay in the L1
//! cache, where a stored G, written row by row as the phases went, had
//! been read, added to and written back through L2 in float64 (W, W^T and
//! G are 32 KB each on the 64 x 64 digits RBM). Each entry of G is summed
//! in the same order as before, so the bits are the same.

use crate::trainable::Real;
use ebm_core::aligned::AlignedVec;
use ebm_core::energies::rbm_gibbs::for_each_set_bit;

/// The statistics of a step (see the module documentation).
#[derive(Clone, Debug)]
pub(super) struct Stats<F: Real> {
    nv: usize,
    nh: usize,
    rows: usize,
    /// The mean hiddens: the data rows, then the chains ((rows + chains) x
    /// H), from a cache line.
    hid: AlignedVec<F>,
    /// The data rows' values (rows x V), in `F`.
    data: Vec<F>,
    /// Per visible unit, the bit set of the data rows where it is on
    /// (`words_data` words each), and of the chains (`words_chains`).
    on_data: Vec<u64>,
    on_chains: Vec<u64>,
    words_data: usize,
    words_chains: usize,
    /// sum_r v_r, per visible unit.
    pub(super) db_pos: Vec<F>,
    /// How many chains have each visible unit on (db = db_pos - db_neg).
    pub(super) db_neg: Vec<F>,
    /// dc, per hidden unit.
    pub(super) dc: Vec<F>,
}

impl<F: Real> Stats<F> {
    /// Empty statistics of an RBM with `nv` visible and `nh` hidden units.
    pub(super) fn new(nv: usize, nh: usize) -> Self {
        let z = F::zero();
        Self {
            nv,
            nh,
            rows: 0,
            hid: AlignedVec::zeroed(0),
            data: Vec::new(),
            on_data: Vec::new(),
            on_chains: Vec::new(),
            words_data: 0,
            words_chains: 0,
            db_pos: vec![z; nv],
            db_neg: vec![z; nv],
            dc: vec![z; nh],
        }
    }

    /// Start a step of `rows` data rows and `chains` chains: zero every
    /// statistic (the buffers grow when a step is larger than any before,
    /// and are not allocated again otherwise).
    #[inline(always)]
    pub(super) fn begin(&mut self, rows: usize, chains: usize) {
        let (nv, nh, z) = (self.nv, self.nh, F::zero());
        self.rows = rows;
        self.words_data = rows.div_ceil(64);
        self.words_chains = chains.div_ceil(64);
        self.hid.resize((rows + chains) * nh, z);
        self.data.resize(rows * nv, z);
        self.on_data.clear();
        self.on_data.resize(nv * self.words_data, 0);
        self.on_chains.clear();
        self.on_chains.resize(nv * self.words_chains, 0);
        for v in [&mut self.db_pos, &mut self.db_neg, &mut self.dc] {
            v.fill(z);
        }
    }

    /// Where data row `r` (`r < rows`) or chain `q` (`r = rows + q`)
    /// keeps its mean hiddens.
    #[inline(always)]
    pub(super) fn hidden_row(&mut self, r: usize) -> &mut [F] {
        &mut self.hid[r * self.nh..(r + 1) * self.nh]
    }

    /// Data row `r`'s values, in `F`.
    #[inline(always)]
    pub(super) fn data_row(&mut self, r: usize) -> &mut [F] {
        &mut self.data[r * self.nv..(r + 1) * self.nv]
    }

    /// Record data row `r`, whose units `on` are on (its values and mean
    /// hiddens already stored): its bits, and its share of db and dc.
    #[inline(always)]
    pub(super) fn add_data_row(&mut self, r: usize, on: &[usize]) {
        let (w, bit) = (r / 64, 1u64 << (r % 64));
        let vals = &self.data[r * self.nv..(r + 1) * self.nv];
        for &i in on {
            self.on_data[i * self.words_data + w] |= bit;
            self.db_pos[i] += vals[i];
        }
        let h = &self.hid[r * self.nh..(r + 1) * self.nh];
        for (a, &x) in self.dc.iter_mut().zip(h) {
            *a += x;
        }
    }

    /// Record chain `q`, whose visible units `on` are on (its mean hiddens
    /// already stored at row `rows + q`).
    #[inline(always)]
    pub(super) fn sub_chain(&mut self, q: usize, on: &[usize]) {
        let (w, bit) = (q / 64, 1u64 << (q % 64));
        for &i in on {
            self.on_chains[i * self.words_chains + w] |= bit;
            self.db_neg[i] += F::one();
        }
        let r = self.rows + q;
        let h = &self.hid[r * self.nh..(r + 1) * self.nh];
        for (a, &x) in self.dc.iter_mut().zip(h) {
            *a -= x;
        }
    }

    /// Columns `j0..j0 + B` of row `i` of G: starting from 0, the data
    /// rows where unit i is on add value x mean hiddens (a fused
    /// multiply-add; for a value of 1 the same bits as a plain sum), in
    /// order, then the chains where it is on subtract their mean hiddens.
    #[inline(always)]
    pub(super) fn g_block<const B: usize>(&self, i: usize, j0: usize) -> [F; B] {
        let (nv, nh) = (self.nv, self.nh);
        let mut acc = [F::zero(); B];
        let words = &self.on_data[i * self.words_data..][..self.words_data];
        for_each_set_bit(words, |r| {
            let val = self.data[r * nv + i];
            let h: &[F; B] = self.hid[r * nh + j0..][..B].try_into().expect("block");
            for t in 0..B {
                acc[t] = val.mul_add(h[t], acc[t]);
            }
        });
        let words = &self.on_chains[i * self.words_chains..][..self.words_chains];
        for_each_set_bit(words, |q| {
            let r = self.rows + q;
            let h: &[F; B] = self.hid[r * nh + j0..][..B].try_into().expect("block");
            for t in 0..B {
                acc[t] -= h[t];
            }
        });
        acc
    }
}
