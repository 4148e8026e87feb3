//! Standard normals for a chunk of chains, each chain's from its own
//! stream: buffers a kernel keeps in its [`crate::Scratch`].

use ebm_core::normal::{box_muller, words_for};
use ebm_core::ChainRng;
use rand::{Rng, RngCore};

/// D standard normals per chain per step (Box-Muller on
/// [`words_for`]`(D)` words of the chain's stream, [`ebm_core::normal`]).
#[derive(Clone, Debug, Default)]
pub struct Normals {
    words: Vec<u64>,
    noise: Vec<f64>,
}

impl Normals {
    /// Draw D normals for every chain of `rngs`; returns them and the
    /// stride: chain k's are `normals[k * stride..][..D]`.
    pub fn draw(&mut self, rngs: &mut [ChainRng], d: usize) -> (&[f64], usize) {
        let dw = words_for(d);
        let n = rngs.len() * dw;
        self.words.resize(n, 0);
        self.noise.resize(n, 0.0);
        for (w, rng) in self.words.chunks_exact_mut(dw).zip(rngs.iter_mut()) {
            for v in w {
                *v = rng.next_u64();
            }
        }
        normals_of(&self.words[..n], &mut self.noise[..n]);
        (&self.noise[..n], dw)
    }
}

/// Words a chain may draw ahead: 32, so a chain's draws for many steps
/// come from one bulk copy out of its stream's buffer instead of a call
/// per word.
const AHEAD_WORDS: usize = 32;

/// Steps whose normals [`NormalsAhead::next`] draws at once in dimension
/// `d` (at least 1).
fn ahead_steps(d: usize) -> usize {
    (AHEAD_WORDS / words_for(d)).max(1)
}

/// For kernels that draw nothing but normals from the chains' streams
/// (ULA): the same D standard normals per chain and step as
/// [`Normals::draw`], to the bit, but drawn for up to 32 / `words_for(D)`
/// steps at a time, each chain's words by one bulk `fill`. Never past the
/// run's last step (`steps_left`), so the streams end where step-by-step
/// drawing leaves them and nothing is carried from one run of steps to
/// the next.
#[derive(Clone, Debug, Default)]
pub struct NormalsAhead {
    words: Vec<u64>,
    noise: Vec<f64>,
    /// Steps drawn last time, and how many of them were used.
    ahead: usize,
    used: usize,
}

impl NormalsAhead {
    /// This step's normals: returns (normals, offset, stride), chain k's
    /// being `normals[offset + k * stride..][..D]`. `steps_left` counts
    /// the steps of this run still to take, this one included.
    pub fn next(&mut self, rngs: &mut [ChainRng], d: usize, steps_left: usize) -> (&[f64], usize, usize) {
        let dw = words_for(d);
        if self.used == self.ahead {
            let m = ahead_steps(d).min(steps_left.max(1));
            let n = rngs.len();
            self.words.resize(n * m * dw, 0);
            self.noise.resize(n * m * dw, 0.0);
            for (w, rng) in self.words.chunks_exact_mut(m * dw).zip(rngs.iter_mut()) {
                // the same words either way; a call per word is faster
                // for a step's few
                if m == 1 {
                    w.iter_mut().for_each(|v| *v = rng.next_u64());
                } else {
                    rng.fill(w);
                }
            }
            normals_of(&self.words, &mut self.noise);
            self.ahead = m;
            self.used = 0;
        }
        let offset = self.used * dw;
        self.used += 1;
        (&self.noise, offset, self.ahead * dw)
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

/// Standard normals from random words, pair by pair (Box-Muller,
/// vectorised).
fn normals_of(words: &[u64], noise: &mut [f64]) {
    ebm_core::simd::dispatch(
        #[inline(always)]
        || box_muller(words, noise),
    );
}
