//! The site-Gibbs kernel of pairwise binary models
//! ([`ebm_core::energies::Pairwise`], hence Ising lattices): sixteen
//! chains ([`crate::lanes::LANES`]) at a time in SIMD lanes, at any
//! inverse temperature. [`crate::gibbs::Gibbs`] samples with it (beta = 1) and binary AIS ([`crate::ais::ais_binary`])
//! anneals with it, whenever the model is pairwise
//! ([`ebm_core::BinaryEnergy::pairwise`]).
//!
//! At inverse temperature beta one sweep visits the sites in the model's
//! sweep order (the checkerboard of a lattice) and sets site i to its
//! other value with probability sigmoid(-beta Delta_i), where Delta_i =
//! (s_i - s_i') L_i is the energy change of the flip and L_i the local
//! field ([`Pairwise::flip_delta_of`], the model's own maths, here run on
//! a lane of chains).
//!
//! Every chain draws one 32-bit word of its own stream per site visit, in
//! the order a chain run alone would, so a chain's bits are those of the
//! one-chain sweep ([`crate::gibbs`]'s `site_sweep` with the model's
//! `flip_delta`) for any grouping of chains and any number of threads. A
//! group may hold fewer than sixteen chains: the empty lanes compute on
//! zero words and are never read.

use crate::lanes::{bernoulli_lanes, load_lanes, store_lanes, Lane, LaneWords, LANES};
use ebm_core::bernoulli::weight_of;
use ebm_core::energies::Pairwise;
use ebm_core::ChainRng;

/// The state and work buffers of one group of up to [`LANES`] chains of
/// a pairwise model, site-major (`s[i][l]` is site i of lane l). Call
/// its methods inside [`ebm_core::simd::dispatch`] (they are
/// `#[inline(always)]`), where the lanes' loops become vector
/// instructions.
#[derive(Clone, Debug)]
pub struct PairwiseLanes {
    s: Vec<Lane>,
    words: LaneWords,
}

impl PairwiseLanes {
    /// Buffers for a model of `n` sites.
    pub fn new(n: usize) -> Self {
        Self {
            s: vec![[0.0; LANES]; n],
            words: LaneWords::new(n),
        }
    }

    /// The sites, site-major.
    #[inline(always)]
    pub fn sites(&self) -> &[Lane] {
        &self.s
    }

    /// Load the states of `x.len() / n` chains (row-major, at most
    /// [`LANES`]) into the lanes.
    #[inline(always)]
    pub fn load(&mut self, model: &Pairwise, x: &[f64]) {
        load_lanes(&mut self.s, model.n(), x);
    }

    /// Write the lanes back to the chains of `x` (as in
    /// [`PairwiseLanes::load`]).
    #[inline(always)]
    pub fn store(&self, model: &Pairwise, x: &mut [f64]) {
        store_lanes(&self.s, model.n(), x);
    }

    /// Every site drawn uniformly from its two values (the high one when
    /// the word is below 2^31, the Bernoulli rule at input 0), one word
    /// per site of each chain's stream, sites in order.
    #[inline(always)]
    pub fn draw_uniform(&mut self, model: &Pairwise, rngs: &mut [ChainRng]) {
        let (lo, hi) = model.spins().states();
        let wt = self.words.draw(rngs, model.n());
        let (zero, even) = ([0.0; LANES], [weight_of(0.0); LANES]);
        for (s, u) in self.s.iter_mut().zip(wt) {
            let on = bernoulli_lanes(&zero, &even, u);
            for l in 0..LANES {
                s[l] = if on[l] == 1.0 { hi } else { lo };
            }
        }
    }

    /// One sweep at inverse temperature `beta` over the sites of `order`
    /// (each visited site takes the next word of its chain's stream).
    #[inline(always)]
    pub fn sweep(&mut self, model: &Pairwise, beta: f64, order: &[usize], rngs: &mut [ChainRng]) {
        let sum = model.state_sum();
        let wt = self.words.draw(rngs, order.len());
        let s = &mut self.s;
        for (&i, u) in order.iter().zip(wt) {
            let delta = model.flip_delta_of(i, |j| s[j]);
            let mut x = [0.0; LANES];
            let mut e = [0.0; LANES];
            for l in 0..LANES {
                x[l] = -(beta * delta[l]);
                e[l] = weight_of(x[l]);
            }
            let flip = bernoulli_lanes(&x, &e, u);
            let si = &mut s[i];
            for l in 0..LANES {
                si[l] = if flip[l] == 1.0 { sum - si[l] } else { si[l] };
            }
        }
    }

    /// Each lane's energy E(s) ([`Pairwise::energy_of`]).
    #[inline(always)]
    pub fn energies(&self, model: &Pairwise) -> Lane {
        model.energy_of(|j| self.s[j])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gibbs::site_sweep;
    use ebm_core::energies::Spins;
    use ebm_core::simd::dispatch;
    use ebm_core::{chain_rngs, setup_rng, BinaryEnergy};
    use proptest::prelude::*;
    use rand::{Rng, RngCore};

    fn random_model(n: usize, spins: Spins, seed: u64) -> Pairwise {
        let mut r = setup_rng(seed);
        let mut couplings = Vec::new();
        for i in 0..n {
            for j in i + 1..n {
                if r.random::<f64>() < 0.4 {
                    couplings.push((i, j, r.random::<f64>() * 2.0 - 1.0));
                }
            }
        }
        let fields = (0..n).map(|_| r.random::<f64>() - 0.5).collect();
        Pairwise::new(n, spins, couplings, fields).unwrap()
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(32))]

        /// Groups of up to sixteen chains in lanes give every chain the bits
        /// it gets alone from the one-chain sweep with the model's
        /// flip_delta (partial groups included), sweep after sweep, and
        /// the lanes' energies are the model's energy, bit for bit.
        #[test]
        fn lanes_are_chains_run_alone(n in 1usize..30, chains in 1usize..20, beta in 0.0f64..1.5, bits: bool, seed in 0u64..1000) {
            let spins = if bits { Spins::Bits } else { Spins::Pm1 };
            let model = random_model(n, spins, seed);
            let (lo, hi) = model.states();
            let mut start = setup_rng(seed + 1);
            let x0: Vec<f64> = (0..chains * n).map(|_| if start.next_u32() & 1 == 1 { hi } else { lo }).collect();
            let mut order = Vec::new();
            model.sweep_order(&mut order);
            order.reverse();
            let mut x = x0.clone();
            let mut rngs = chain_rngs(seed, chains);
            let mut lanes = PairwiseLanes::new(n);
            let mut energies = Vec::new();
            for (xg, rg) in x.chunks_mut(LANES * n).zip(rngs.chunks_mut(LANES)) {
                dispatch(#[inline(always)] || {
                    lanes.load(&model, xg);
                    for _ in 0..3 {
                        lanes.sweep(&model, beta, &order, rg);
                    }
                    lanes.store(&model, xg);
                    energies.extend_from_slice(&lanes.energies(&model)[..rg.len()]);
                });
            }
            let mut want = x0;
            let mut solo = chain_rngs(seed, chains);
            for (s, rng) in want.chunks_mut(n).zip(solo.iter_mut()) {
                for _ in 0..3 {
                    site_sweep(&model, beta, &order, s, rng);
                }
            }
            prop_assert_eq!(&x, &want);
            let want_e: Vec<f64> = want.chunks(n).map(|s| model.energy(s)).collect();
            prop_assert_eq!(energies, want_e);
            for (r, s) in rngs.iter_mut().zip(solo.iter_mut()) {
                prop_assert_eq!(r.next_u32(), s.next_u32());
            }
        }
    }
}
