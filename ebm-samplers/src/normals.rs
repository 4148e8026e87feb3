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
            box_muller_lanes(words, lanes);
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

/// The 64-bit words a draw took after its normals, [`NormalsAhead::next_with`]'s
/// `uniforms` of them per chain, in lanes.
#[derive(Clone, Copy, Debug)]
pub struct StepWords<'a> {
    /// A group's 32-bit words, draw after draw (as read from its streams).
    rows: &'a [WordLanes],
    /// This draw's first extra row within a group's rows.
    first: usize,
    /// Rows per group of sixteen chains.
    per_group: usize,
}

impl StepWords<'_> {
    /// The `i`-th 64-bit word chain `k` drew after its normals, as
    /// `next_u64` reads it (the first 32-bit word the low half).
    #[inline(always)]
    pub fn word(&self, k: usize, i: usize) -> u64 {
        let (g, l) = (k / STREAM_LANES, k % STREAM_LANES);
        let r = &self.rows[g * self.per_group + self.first + 2 * i..];
        u64::from(r[0][l]) | u64::from(r[1][l]) << 32
    }

    /// The `i`-th word of chain `k` as a uniform on [0, 1) ([`uniform`]).
    #[inline(always)]
    pub fn uniform(&self, k: usize, i: usize) -> f64 {
        uniform(self.word(k, i))
    }

    /// The `i`-th words of group `g`'s chains (chains `16 g..16 g + 16`)
    /// as uniforms ([`uniform`]), lane l chain `16 g + l`'s.
    #[inline(always)]
    pub fn uniforms(&self, g: usize, i: usize) -> [f64; STREAM_LANES] {
        let r = &self.rows[g * self.per_group + self.first + 2 * i..];
        let (lo, hi) = (&r[0], &r[1]);
        let mut u = [0.0; STREAM_LANES];
        for l in 0..STREAM_LANES {
            u[l] = uniform(u64::from(lo[l]) | u64::from(hi[l]) << 32);
        }
        u
    }
}

/// A 64-bit word as a uniform on [0, 1): its top 53 bits times 2^-53,
/// the value `rand`'s `random::<f64>()` makes of the same word.
#[inline(always)]
pub fn uniform(word: u64) -> f64 {
    (word >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
}

/// y = f(x, g, z) coordinate by coordinate for every chain (`d`
/// coordinates each, row-major like `x` and `g`; the draw's normals `z`
/// in lanes of sixteen chains): the walk over groups and lanes that the
/// kernels' proposals share, each with its own arithmetic `f`. `D` is
/// `d` when small enough to unroll (0: read at run time); it changes the
/// code, not the arithmetic. Call it inside [`ebm_core::simd::dispatch`].
#[inline(always)]
pub fn map_with_normals<const D: usize>(
    d: usize,
    x: &[f64],
    g: &[f64],
    z: StepNormals<'_>,
    y: &mut [f64],
    f: impl Fn(f64, f64, f64) -> f64,
) {
    let d = if D == 0 { d } else { D };
    let group = STREAM_LANES * d;
    for (gi, ((y, x), g)) in y
        .chunks_mut(group)
        .zip(x.chunks(group))
        .zip(g.chunks(group))
        .enumerate()
    {
        let z = &z.group(gi)[..d];
        for (l, ((y, x), g)) in y
            .chunks_exact_mut(d)
            .zip(x.chunks_exact(d))
            .zip(g.chunks_exact(d))
            .enumerate()
        {
            for j in 0..d {
                y[j] = f(x[j], g[j], z[j][l]);
            }
        }
    }
}

impl NormalsAhead {
    /// This draw's normals. `draws_left` counts the draws of this run
    /// still to take, this one included: its steps for a kernel that
    /// draws once a step (ULA), more for one that draws twice.
    pub fn next(&mut self, rngs: &mut [ChainRng], d: usize, draws_left: usize) -> StepNormals<'_> {
        self.next_with(rngs, d, 0, draws_left).0
    }

    /// [`NormalsAhead::next`] for a kernel whose chains draw `uniforms`
    /// 64-bit words after each draw's normals (MALA's accept test): the
    /// draw's normals, and those words as each stream gives them. Every
    /// draw of a run must ask for the same `d` and `uniforms`.
    pub fn next_with(
        &mut self,
        rngs: &mut [ChainRng],
        d: usize,
        uniforms: usize,
        draws_left: usize,
    ) -> (StepNormals<'_>, StepWords<'_>) {
        let dw = words_for(d);
        // 32-bit rows a draw takes: its normals' words, then the extra
        let rows = 2 * (dw + uniforms);
        if self.used == self.ahead {
            // as many draws as AHEAD_WORDS allow (at least one), never
            // past the run's last
            let m = (AHEAD_WORDS / (dw + uniforms).max(1))
                .max(1)
                .min(draws_left.max(1));
            let groups = rngs.len().div_ceil(STREAM_LANES);
            self.words.resize(groups * m * rows, [0; STREAM_LANES]);
            self.noise.resize(groups * m * dw, [0.0; STREAM_LANES]);
            for (w, r) in self
                .words
                .chunks_exact_mut(m * rows)
                .zip(rngs.chunks_mut(STREAM_LANES))
            {
                read_lanes(r, w);
            }
            let (words, noise) = (&self.words[..], &mut self.noise[..]);
            if uniforms == 0 {
                box_muller_lanes(words, noise);
            } else {
                // each draw's normals from its first 2 dw rows
                for (w, z) in words.chunks_exact(rows).zip(noise.chunks_exact_mut(dw)) {
                    box_muller_lanes(&w[..2 * dw], z);
                }
            }
            self.ahead = m;
            self.used = 0;
        }
        let t = self.used;
        self.used += 1;
        (
            StepNormals {
                rows: &self.noise,
                first: t * dw,
                per_group: self.ahead * dw,
            },
            StepWords {
                rows: &self.words,
                first: t * rows + 2 * dw,
                per_group: self.ahead * rows,
            },
        )
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

        /// With words after each draw's normals (MALA's uniform): the
        /// normals of [`Normals::draw`], then the words `next_u64` reads,
        /// as uniforms the values of `rand`'s `random::<f64>()`, draw by
        /// draw, the streams ending in the same place; refills land at
        /// every draw count up to 40.
        #[test]
        fn drawn_ahead_with_words_equals_step_by_step(chains in 1usize..40, d in 1usize..7, uniforms in 1usize..3, steps in 1usize..40, seed in 0u64..1000) {
            use rand::{Rng, RngCore};
            let (mut ahead, mut rngs) = (NormalsAhead::default(), chain_rngs(seed, chains));
            let (mut one, mut solo) = (Normals::default(), chain_rngs(seed, chains));
            for s in 0..steps {
                let (z, u) = ahead.next_with(&mut rngs, d, uniforms, steps - s);
                let (want, stride) = one.draw(&mut solo, d);
                for k in 0..chains {
                    let g = z.group(k / STREAM_LANES);
                    for j in 0..d {
                        prop_assert_eq!(g[j][k % STREAM_LANES].to_bits(), want[k * stride + j].to_bits());
                    }
                }
                for i in 0..uniforms {
                    let mut words = solo.clone();
                    for (k, r) in solo.iter_mut().enumerate() {
                        prop_assert_eq!(u.word(k, i), r.next_u64());
                    }
                    for (k, r) in words.iter_mut().enumerate() {
                        let want: f64 = r.random();
                        prop_assert_eq!(u.uniform(k, i).to_bits(), want.to_bits());
                        prop_assert_eq!(u.uniforms(k / STREAM_LANES, i)[k % STREAM_LANES].to_bits(), want.to_bits());
                    }
                }
            }
            prop_assert_eq!(rngs, solo);
        }
    }
}
