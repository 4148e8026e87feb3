//! Standard normals for a chunk of chains, each chain's from its own
//! stream: buffers a kernel keeps in its [`crate::Scratch`].

use ebm_core::normal::{box_muller_lanes, words_for};
use ebm_core::rng::{read_lanes, WordLanes, STREAM_LANES};
use ebm_core::transpose::transpose;
use ebm_core::ChainRng;

/// D standard normals per chain per step (Box-Muller on
/// [`words_for`]`(D)` words of the chain's stream, [`ebm_core::normal`]).
///
/// The words are read sixteen chains at a time in lanes
/// ([`ebm_core::rng::read_lanes`]) and transformed in lanes
/// ([`ebm_core::normal::box_muller_lanes`]), then each group's normals
/// are transposed to one row per chain: the same values, to the bit, as
/// reading each chain's words one by one and transforming them
/// ([`ebm_core::normal::box_muller`]; the tests compare the two), in
/// about half the time (the words one by one, for W2's 32 chains of 100
/// normals, were a tenth of an HMC iteration).
#[derive(Clone, Debug, Default)]
pub struct Normals {
    words: Vec<WordLanes>,
    lanes: Vec<[f64; STREAM_LANES]>,
    /// A group of fewer than sixteen chains, transposed whole.
    rows: Vec<f64>,
    noise: Vec<f64>,
}

impl Normals {
    /// Draw D normals for every chain of `rngs`; returns them and the
    /// stride: chain k's are `normals[k * stride..][..D]`.
    pub fn draw(&mut self, rngs: &mut [ChainRng], d: usize) -> (&[f64], usize) {
        let dw = words_for(d);
        let n = rngs.len() * dw;
        self.words.resize(2 * dw, [0; STREAM_LANES]);
        self.lanes.resize(dw, [0.0; STREAM_LANES]);
        self.noise.resize(n, 0.0);
        for (group, out) in rngs
            .chunks_mut(STREAM_LANES)
            .zip(self.noise.chunks_mut(STREAM_LANES * dw.max(1)))
        {
            read_lanes(group, &mut self.words);
            let (words, lanes) = (&self.words[..], &mut self.lanes[..]);
            ebm_core::simd::dispatch(
                #[inline(always)]
                || box_muller_lanes(words, lanes),
            );
            // lanes[j][l] is normal j of chain l: one row per chain
            let lanes = self.lanes.as_flattened();
            if group.len() == STREAM_LANES {
                transpose(lanes, dw, STREAM_LANES, out);
            } else {
                self.rows.resize(STREAM_LANES * dw, 0.0);
                transpose(lanes, dw, STREAM_LANES, &mut self.rows);
                out.copy_from_slice(&self.rows[..out.len()]);
            }
        }
        (&self.noise[..n], dw)
    }
}

/// 64-bit words a chain may draw ahead: 32, so the words of many draws
/// come from one read of sixteen chains' streams in lanes.
const AHEAD_WORDS: usize = 32;

/// Draws whose normals [`NormalsAhead::next`] takes at once in dimension
/// `d` (at least 1).
fn ahead_steps(d: usize) -> usize {
    (AHEAD_WORDS / words_for(d)).max(1)
}

/// For kernels that draw nothing but normals from the chains' streams
/// (ULA, kinetic Langevin): the same D standard normals per chain and
/// draw as [`Normals::draw`], to the bit, but drawn for up to
/// 32 / `words_for(D)` draws at a time, sixteen chains' words at once in lanes
/// ([`ebm_core::rng::read_lanes`]: no copy out of each stream's buffer,
/// and no transpose) and transformed in lanes
/// ([`ebm_core::normal::box_muller_lanes`]). Never past the run's last
/// draw (`draws_left`), so the streams end where step-by-step drawing
/// leaves them and nothing is carried from one run of steps to the next.
#[derive(Clone, Debug, Default)]
pub struct NormalsAhead {
    words: Vec<WordLanes>,
    noise: Vec<[f64; STREAM_LANES]>,
    /// Draws taken last time, and how many of them were used.
    ahead: usize,
    used: usize,
}

/// One draw's normals of a chunk's chains, in lanes: coordinate j of
/// chain k is `group(k / 16)[j][k % 16]` ([`StepNormals::group`]).
#[derive(Clone, Copy, Debug)]
pub struct StepNormals<'a> {
    /// Sixteen chains' normals per row; a group's rows are its chains'
    /// normals for every draw taken, draw after draw.
    rows: &'a [[f64; STREAM_LANES]],
    /// This draw's first row within a group's rows.
    first: usize,
    /// Rows per group of sixteen chains.
    per_group: usize,
}

impl<'a> StepNormals<'a> {
    /// The rows of group `g` (chains `16 g..16 g + 16`) for this draw:
    /// `rows[j][l]` is coordinate j of chain `16 g + l`.
    #[inline(always)]
    pub fn group(&self, g: usize) -> &'a [[f64; STREAM_LANES]] {
        &self.rows[g * self.per_group + self.first..(g + 1) * self.per_group]
    }
}

impl NormalsAhead {
    /// This draw's normals. `draws_left` counts the draws of this run
    /// still to take, this one included: its steps for a kernel that
    /// draws once a step (ULA), more for one that draws twice.
    pub fn next(&mut self, rngs: &mut [ChainRng], d: usize, draws_left: usize) -> StepNormals<'_> {
        let dw = words_for(d);
        if self.used == self.ahead {
            let m = ahead_steps(d).min(draws_left.max(1));
            let per_group = m * dw;
            let groups = rngs.len().div_ceil(STREAM_LANES);
            self.words.resize(groups * 2 * per_group, [0; STREAM_LANES]);
            self.noise.resize(groups * per_group, [0.0; STREAM_LANES]);
            for (w, r) in self
                .words
                .chunks_exact_mut(2 * per_group)
                .zip(rngs.chunks_mut(STREAM_LANES))
            {
                read_lanes(r, w);
            }
            let (words, noise) = (&self.words[..], &mut self.noise[..]);
            ebm_core::simd::dispatch(
                #[inline(always)]
                || box_muller_lanes(words, noise),
            );
            self.ahead = m;
            self.used = 0;
        }
        let first = self.used * dw;
        self.used += 1;
        StepNormals {
            rows: &self.noise,
            first,
            per_group: self.ahead * dw,
        }
    }

    /// Free the buffers once every drawn normal is used (at the end of a
    /// run of steps), so only chunks in flight hold them: for 10^5 chains
    /// they would be some 50 MB if every chunk kept its own.
    pub fn release_if_spent(&mut self) {
        if self.used == self.ahead {
            *self = Self::default();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ebm_core::chain_rngs;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(48))]

        /// Every chain's normals are Box-Muller of its own words read one
        /// by one, whatever the number of chains (groups of sixteen and a
        /// partial one), and every stream ends where that leaves it.
        #[test]
        fn each_chain_has_its_own_streams_normals(chains in 1usize..40, d in 0usize..30, steps in 1usize..4, seed in 0u64..1000) {
            use rand::RngCore;
            let (mut normals, mut rngs) = (Normals::default(), chain_rngs(seed, chains));
            let mut solo = rngs.clone();
            for _ in 0..steps {
                let (z, stride) = normals.draw(&mut rngs, d);
                prop_assert_eq!(stride, words_for(d));
                for (k, r) in solo.iter_mut().enumerate() {
                    let words: Vec<u64> = (0..words_for(d)).map(|_| r.next_u64()).collect();
                    let mut want = vec![0.0; words.len()];
                    ebm_core::normal::box_muller(&words, &mut want);
                    for j in 0..words.len() {
                        prop_assert_eq!(z[k * stride + j].to_bits(), want[j].to_bits(), "chain {}, normal {}", k, j);
                    }
                }
            }
            prop_assert_eq!(rngs, solo);
        }

        /// The normals drawn ahead in lanes are, chain by chain and step
        /// by step, those [`Normals::draw`] gives one step at a time,
        /// and the streams end in the same place.
        #[test]
        fn drawn_ahead_equals_step_by_step(chains in 1usize..40, d in 1usize..7, steps in 1usize..40, seed in 0u64..1000) {
            let (mut ahead, mut rngs) = (NormalsAhead::default(), chain_rngs(seed, chains));
            let (mut one, mut solo) = (Normals::default(), chain_rngs(seed, chains));
            for s in 0..steps {
                let z = ahead.next(&mut rngs, d, steps - s);
                let (want, stride) = one.draw(&mut solo, d);
                for k in 0..chains {
                    let g = z.group(k / STREAM_LANES);
                    for j in 0..d {
                        prop_assert_eq!(g[j][k % STREAM_LANES].to_bits(), want[k * stride + j].to_bits());
                    }
                }
            }
            prop_assert_eq!(rngs, solo);
        }
    }
}
