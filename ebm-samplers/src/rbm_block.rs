//! The RBM block-Gibbs kernel: sixteen chains ([`crate::lanes::LANES`]) at a time in SIMD lanes, at
//! any inverse temperature. [`crate::gibbs::Gibbs`] samples an RBM with
//! it (beta = 1) and RBM AIS ([`crate::ais::ais_rbm`]) anneals with it;
//! the conditionals' maths is [`ebm_core::energies::rbm_gibbs`].
//!
//! At inverse temperature beta with visible biases a and hidden biases d
//! (p_beta(v, h) ∝ exp(a.v + d.h + beta v^T W h)), one sweep draws
//! h_j ~ sigmoid(d_j + beta (v^T W)_j), then
//! v_i ~ sigmoid(a_i + beta (W h)_i). At beta = 1 with the model's biases
//! it leaves p(v) ∝ exp(-F(v)) invariant.
//!
//! Every chain draws from its own stream in the order a chain run alone
//! would (per sweep its hidden units' words, then its visible units', one
//! 32-bit word per unit), so the result is the same for any grouping of
//! chains and any number of threads. A group may hold fewer than sixteen
//! chains: the empty lanes compute on zero words and are never read.

pub use crate::lanes::Lane;
use crate::lanes::LANES;
use crate::lanes::{bernoulli_lanes, load_lanes, store_lanes, LaneWords};
use ebm_core::bernoulli::weight_of;
use ebm_core::energies::Rbm;
use ebm_core::ChainRng;

/// The state and work buffers of one group of up to [`LANES`] chains of
/// an RBM, unit-major (`v[i][l]` is visible unit i of lane l). Call its
/// methods inside [`ebm_core::simd::dispatch`] (they are
/// `#[inline(always)]`), where the lanes' loops become vector
/// instructions.
#[derive(Clone, Debug)]
pub struct RbmLanes {
    v: Vec<Lane>,
    h: Vec<Lane>,
    /// v^T W per hidden unit, W h per visible unit.
    ah: Vec<Lane>,
    av: Vec<Lane>,
    /// The hidden inputs at the sweep's beta and their e^-|x|.
    xh: Vec<Lane>,
    eh: Vec<Lane>,
    /// Random words of a sweep.
    words: LaneWords,
}

impl RbmLanes {
    /// Buffers for an RBM of `nv` visible and `nh` hidden units.
    pub fn new(nv: usize, nh: usize) -> Self {
        Self {
            v: vec![[0.0; LANES]; nv],
            h: vec![[0.0; LANES]; nh],
            ah: vec![[0.0; LANES]; nh],
            av: vec![[0.0; LANES]; nv],
            xh: vec![[0.0; LANES]; nh],
            eh: vec![[0.0; LANES]; nh],
            words: LaneWords::new(nv + nh),
        }
    }

    /// The visible units, unit-major.
    #[inline(always)]
    pub fn visible(&self) -> &[Lane] {
        &self.v
    }

    /// Load the visible states of `x.len() / nv` chains (row-major, at
    /// most [`LANES`]) into the lanes and compute v^T W.
    #[inline(always)]
    pub fn load(&mut self, rbm: &Rbm, x: &[f64]) {
        load_lanes(&mut self.v, rbm.n_visible(), x);
        self.hidden_act(rbm);
    }

    /// Write the lanes' visible states back to the chains of `x` (as in
    /// [`RbmLanes::load`]).
    #[inline(always)]
    pub fn store(&self, nv: usize, x: &mut [f64]) {
        store_lanes(&self.v, nv, x);
    }

    /// Visible units drawn independently, p(v_i = 1) = sigmoid(a_i), from
    /// one word per unit of each chain's stream; then v^T W.
    #[inline(always)]
    pub fn draw_independent(&mut self, rbm: &Rbm, a: &[f64], rngs: &mut [ChainRng]) {
        let nv = rbm.n_visible();
        let wt = self.words.draw(rngs, nv);
        for ((v, &x), u) in self.v.iter_mut().zip(&a[..nv]).zip(wt) {
            *v = bernoulli_lanes(&[x; LANES], &[weight_of(x); LANES], u);
        }
        self.hidden_act(rbm);
    }

    /// The hidden inputs x_j = d_j + beta (v^T W)_j of every lane and
    /// their e^-|x|, for the next sweep. A caller that already has them
    /// (AIS, from its weight increment) writes them through
    /// [`RbmLanes::hidden_inputs_mut`] instead.
    #[inline(always)]
    pub fn set_hidden_inputs(&mut self, beta: f64, d: &[f64]) {
        for j in 0..d.len() {
            for l in 0..LANES {
                let x = beta.mul_add(self.ah[j][l], d[j]);
                self.xh[j][l] = x;
                self.eh[j][l] = weight_of(x);
            }
        }
    }

    /// The products v^T W, and the hidden inputs and their e^-|x| to fill
    /// in (as [`RbmLanes::set_hidden_inputs`] would) before a sweep.
    #[inline(always)]
    pub fn hidden_inputs_mut(&mut self) -> (&[Lane], &mut [Lane], &mut [Lane]) {
        (&self.ah, &mut self.xh, &mut self.eh)
    }

    /// One sweep at inverse temperature `beta` with visible biases `a`:
    /// h ~ p(h | v) from the hidden inputs already set, then
    /// v ~ p(v | h) with inputs a_i + beta (W h)_i; ends with v^T W of the
    /// new visibles. `rngs` are the group's chains (at most [`LANES`]).
    #[inline(always)]
    pub fn sweep(&mut self, rbm: &Rbm, beta: f64, a: &[f64], rngs: &mut [ChainRng]) {
        let (nv, nh) = (rbm.n_visible(), rbm.n_hidden());
        let w = rbm.weights();
        let wt = self.words.draw(rngs, nh + nv);
        for j in 0..nh {
            self.h[j] = bernoulli_lanes(&self.xh[j], &self.eh[j], &wt[j]);
        }
        matvec_lanes(&self.h, w, nh, &mut self.av);
        for i in 0..nv {
            let mut z = [0.0f64; LANES];
            let mut e = [0.0f64; LANES];
            for l in 0..LANES {
                z[l] = beta.mul_add(self.av[i][l], a[i]);
                e[l] = weight_of(z[l]);
            }
            self.v[i] = bernoulli_lanes(&z, &e, &self.words.get()[nh + i]);
        }
        self.hidden_act(rbm);
    }

    /// v^T W for every lane, into `ah` (sums over the visible units in
    /// order; v is 0 or 1, so each product is exact).
    #[inline(always)]
    fn hidden_act(&mut self, rbm: &Rbm) {
        matvec_lanes(&self.v, rbm.weights_t(), rbm.n_visible(), &mut self.ah);
    }
}

/// `out[r] = sum_k m[r * cols + k] x[k]` for every row r of the row-major
/// matrix m and every lane, the sum over k in order. `R` rows at a time,
/// so R independent chains of multiply-adds are in flight.
#[inline(always)]
fn matvec_lanes_by<const R: usize>(x: &[Lane], m: &[f64], cols: usize, out: &mut [Lane]) {
    let rows = out.len();
    let x = &x[..cols];
    let mut r = 0;
    while r + R <= rows {
        let mr: [&[f64]; R] = std::array::from_fn(|q| &m[(r + q) * cols..][..cols]);
        let mut a = [[0.0f64; LANES]; R];
        for k in 0..cols {
            for q in 0..R {
                for l in 0..LANES {
                    a[q][l] = x[k][l].mul_add(mr[q][k], a[q][l]);
                }
            }
        }
        out[r..r + R].copy_from_slice(&a);
        r += R;
    }
    for (rr, o) in out.iter_mut().enumerate().skip(r) {
        let mr = &m[rr * cols..][..cols];
        let mut a = [0.0f64; LANES];
        for k in 0..cols {
            for l in 0..LANES {
                a[l] = x[k][l].mul_add(mr[k], a[l]);
            }
        }
        *o = a;
    }
}

/// [`matvec_lanes_by`] with as many rows at a time as the registers
/// hold: four with AVX-512 (eight of its 32 registers of sums), two
/// otherwise (eight of AVX2's sixteen registers; four rows' sums of
/// sixteen lanes took all sixteen and spilled, and W3 ran 1.5 times
/// slower on an AVX2 machine). The rows' grouping changes no sum.
#[inline(always)]
fn matvec_lanes(x: &[Lane], m: &[f64], cols: usize, out: &mut [Lane]) {
    if ebm_core::simd::has_avx512() {
        matvec_lanes_by::<4>(x, m, cols, out)
    } else {
        matvec_lanes_by::<2>(x, m, cols, out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ebm_core::bernoulli::bernoulli;
    use ebm_core::{chain_rngs, setup_rng};
    use proptest::prelude::*;
    use rand::{Rng, RngCore};

    fn random_rbm(nv: usize, nh: usize, seed: u64) -> Rbm {
        let mut r = setup_rng(seed);
        let mut u = |s: f64| s * (r.random::<f64>() - 0.5);
        let w = (0..nv * nh).map(|_| u(1.6)).collect();
        let b = (0..nv).map(|_| u(1.0)).collect();
        let c = (0..nh).map(|_| u(1.0)).collect();
        Rbm::new(nv, nh, w, b, c).unwrap()
    }

    /// One chain's sweep at `beta`, written out unit by unit: the words of
    /// its stream in order (hiddens, then visibles), each layer's input as
    /// the sum of the other layer's weights in unit order, then
    /// d + beta x (as one multiply-add), and the one Bernoulli rule.
    fn reference_sweep(rbm: &Rbm, beta: f64, a: &[f64], d: &[f64], v: &mut [f64], rng: &mut ChainRng) {
        let (nv, nh) = (rbm.n_visible(), rbm.n_hidden());
        let w = rbm.weights();
        let words: Vec<u32> = (0..nh + nv).map(|_| rng.next_u32()).collect();
        let mut h = vec![0.0; nh];
        for j in 0..nh {
            let s = (0..nv).fold(0.0, |s, i| v[i].mul_add(w[i * nh + j], s));
            let x = beta.mul_add(s, d[j]);
            h[j] = bernoulli(x, weight_of(x), words[j]);
        }
        for i in 0..nv {
            let s = (0..nh).fold(0.0, |s, j| h[j].mul_add(w[i * nh + j], s));
            let x = beta.mul_add(s, a[i]);
            v[i] = bernoulli(x, weight_of(x), words[nh + i]);
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(32))]

        /// Groups of up to sixteen chains in lanes give every chain the bits
        /// it gets alone (partial groups included), sweep after sweep.
        #[test]
        fn lanes_are_chains_run_alone(nv in 1usize..40, nh in 1usize..30, chains in 1usize..20, beta in 0.0f64..1.5, seed in 0u64..1000) {
            let rbm = random_rbm(nv, nh, seed);
            let (a, d): (Vec<f64>, Vec<f64>) = (rbm.visible_bias().iter().map(|x| x * 0.5).collect(), rbm.hidden_bias().to_vec());
            let mut start = setup_rng(seed + 1);
            let x0: Vec<f64> = (0..chains * nv).map(|_| (start.next_u32() & 1) as f64).collect();
            let mut x = x0.clone();
            let mut rngs = chain_rngs(seed, chains);
            let mut lanes = RbmLanes::new(nv, nh);
            for _ in 0..3 {
                for (xg, rg) in x.chunks_mut(LANES * nv).zip(rngs.chunks_mut(LANES)) {
                    lanes.load(&rbm, xg);
                    lanes.set_hidden_inputs(beta, &d);
                    lanes.sweep(&rbm, beta, &a, rg);
                    lanes.store(nv, xg);
                }
            }
            let mut want = x0;
            let mut solo = chain_rngs(seed, chains);
            for (v, rng) in want.chunks_mut(nv).zip(solo.iter_mut()) {
                for _ in 0..3 {
                    reference_sweep(&rbm, beta, &a, &d, v, rng);
                }
            }
            prop_assert_eq!(x, want);
            // and the streams moved by the same number of words
            for (r, s) in rngs.iter_mut().zip(solo.iter_mut()) {
                prop_assert_eq!(r.next_u32(), s.next_u32());
            }
        }
    }

    /// The product by two and by four rows at a time (AVX2's and
    /// AVX-512's blocking, both run on any machine) gives the bits of
    /// the plain sum over k in order, row by row, on every lane.
    #[test]
    fn every_row_blocking_gives_the_plain_sums() {
        let mut r = setup_rng(11);
        let (rows, cols) = (7, 13);
        let m: Vec<f64> = (0..rows * cols).map(|_| r.random::<f64>() - 0.5).collect();
        let x: Vec<Lane> = (0..cols)
            .map(|_| std::array::from_fn(|_| r.random::<f64>()))
            .collect();
        let mut want = vec![[0.0; LANES]; rows];
        for (row, w) in want.iter_mut().enumerate() {
            for l in 0..LANES {
                w[l] = (0..cols).fold(0.0, |a, k| x[k][l].mul_add(m[row * cols + k], a));
            }
        }
        for got in [
            {
                let mut o = vec![[0.0; LANES]; rows];
                matvec_lanes_by::<2>(&x, &m, cols, &mut o);
                o
            },
            {
                let mut o = vec![[0.0; LANES]; rows];
                matvec_lanes_by::<4>(&x, &m, cols, &mut o);
                o
            },
            {
                let mut o = vec![[0.0; LANES]; rows];
                matvec_lanes(&x, &m, cols, &mut o);
                o
            },
        ] {
            assert_eq!(got, want);
        }
    }

    /// At beta = 1 the sweep leaves the RBM's p(v) invariant: 4,000 chains
    /// started from exact draws of p(v) (by enumeration) keep p(v)'s
    /// marginals after 5 sweeps. Each marginal's standard error is at most
    /// 0.5 / sqrt(4000) = 0.0079; the tolerance is 5 of them.
    #[test]
    fn sweeps_keep_the_rbm_distribution() {
        let rbm = random_rbm(6, 4, 7);
        let nv = 6;
        // p(v) by enumeration of the 64 visible states
        let f: Vec<f64> = (0..1u32 << nv)
            .map(|s| {
                let v: Vec<f64> = (0..nv).map(|i| ((s >> i) & 1) as f64).collect();
                (-ebm_core::BinaryEnergy::energy(&rbm, &v)).exp()
            })
            .collect();
        let z: f64 = f.iter().sum();
        let exact: Vec<f64> = (0..nv)
            .map(|i| {
                (0..1u32 << nv)
                    .filter(|s| (s >> i) & 1 == 1)
                    .map(|s| f[s as usize])
                    .sum::<f64>()
                    / z
            })
            .collect();
        // exact draws by inversion of the 64 probabilities
        let chains = 4000;
        let mut r = setup_rng(11);
        let mut x = Vec::with_capacity(chains * nv);
        for _ in 0..chains {
            let mut u = r.random::<f64>() * z;
            let mut s = 0;
            while s + 1 < f.len() && u >= f[s] {
                u -= f[s];
                s += 1;
            }
            x.extend((0..nv).map(|i| ((s >> i) & 1) as f64));
        }
        let mut rngs = chain_rngs(3, chains);
        let mut lanes = RbmLanes::new(nv, 4);
        for _ in 0..5 {
            for (xg, rg) in x.chunks_mut(LANES * nv).zip(rngs.chunks_mut(LANES)) {
                lanes.load(&rbm, xg);
                lanes.set_hidden_inputs(1.0, rbm.hidden_bias());
                lanes.sweep(&rbm, 1.0, rbm.visible_bias(), rg);
                lanes.store(nv, xg);
            }
        }
        for i in 0..nv {
            let m = x.chunks(nv).map(|v| v[i]).sum::<f64>() / chains as f64;
            assert!(
                (m - exact[i]).abs() < 5.0 * 0.0079,
                "unit {i}: {m} vs {}",
                exact[i]
            );
        }
    }
}
