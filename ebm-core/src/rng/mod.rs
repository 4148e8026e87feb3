//! Random-number streams: one seed, one independent ChaCha8 stream per chain.
//!
//! Chain `i` draws from `ChainRng::seed_from_u64(seed)` with
//! `set_stream(i + 1)`; stream 0 is reserved for set-up (initial points,
//! initial parameters, data), and the last stream, [`TRAINING_STREAM`],
//! for a training run's own draws (batch order, objective noise). Because
//! each chain owns its stream, a run's numbers are bit-identical whatever
//! the number of threads, and chains can be split across processes by
//! stream id. Never `seed + i`.
//!
//! Keeping training off stream 0 matters: a model initialised from
//! `setup_rng(seed)` and trained with the same seed would otherwise see
//! batches chosen by the very words that drew its initial weights. For
//! PCD on the W4 digits that correlation cost 0.8 nats of average
//! log-likelihood over 16 seeds (-21.09, sd 2.1, against -20.29, sd 1.1,
//! with the streams apart).

mod chacha8;
mod chacha8_lanes;
mod word_vectors;

pub use chacha8::ChaCha8Stream;
pub use chacha8_lanes::{read_lanes, WordLanes, STREAM_LANES};
use rand::SeedableRng;
use serde::{Deserialize, Serialize};

/// The generator behind every random draw in ebm-rs: ChaCha8, the same
/// stream as `rand_chacha::ChaCha8Rng` ([`ChaCha8Stream`]).
pub type ChainRng = ChaCha8Stream;

/// The set-up stream (stream 0) of `seed`.
///
/// ```
/// use rand::Rng;
/// let mut a = ebm_core::rng::setup_rng(7);
/// let mut b = ebm_core::rng::setup_rng(7);
/// assert_eq!(a.random::<u64>(), b.random::<u64>());
/// ```
pub fn setup_rng(seed: u64) -> ChainRng {
    stream_rng(seed, 0)
}

/// The stream of a training run's own draws (batch order, minibatch
/// indices, objective noise): the last stream id, apart from set-up
/// (stream 0) and from every chain.
pub const TRAINING_STREAM: u64 = u64::MAX;

/// The training stream ([`TRAINING_STREAM`]) of `seed`.
///
/// ```
/// use rand::Rng;
/// let (mut setup, mut train) = (ebm_core::rng::setup_rng(7), ebm_core::rng::training_rng(7));
/// assert_ne!(setup.random::<u64>(), train.random::<u64>());
/// ```
pub fn training_rng(seed: u64) -> ChainRng {
    stream_rng(seed, TRAINING_STREAM)
}

/// The stream of chain `chain` (stream `chain + 1`) of `seed`.
pub fn chain_rng(seed: u64, chain: usize) -> ChainRng {
    stream_rng(seed, chain as u64 + 1)
}

/// Streams for chains `0..n`.
pub fn chain_rngs(seed: u64, n: usize) -> Vec<ChainRng> {
    (0..n).map(|c| chain_rng(seed, c)).collect()
}

/// A run's seed and the first chain this process runs: chains
/// `first_chain..` of a run cut into shards, each on its own stream as in
/// the whole run. A plain `u64` seed is the whole run (`first_chain` 0),
/// so functions taking `impl Into<Shard>` accept either.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shard {
    /// The run's seed.
    pub seed: u64,
    /// The first chain of this shard.
    pub first_chain: usize,
}

impl From<u64> for Shard {
    fn from(seed: u64) -> Self {
        Self { seed, first_chain: 0 }
    }
}

impl Shard {
    /// The streams of this shard's `n` chains: chain `first_chain + i`'s
    /// stream for the i-th.
    ///
    /// ```
    /// use ebm_core::rng::{chain_rngs, Shard};
    /// let whole = chain_rngs(3, 10);
    /// let shard = Shard { seed: 3, first_chain: 4 }.chain_rngs(6);
    /// assert_eq!(shard, whole[4..].to_vec());
    /// ```
    pub fn chain_rngs(&self, n: usize) -> Vec<ChainRng> {
        (self.first_chain..self.first_chain + n)
            .map(|c| chain_rng(self.seed, c))
            .collect()
    }
}

fn stream_rng(seed: u64, stream: u64) -> ChainRng {
    let mut r = ChainRng::seed_from_u64(seed);
    r.set_stream(stream);
    r
}

/// Where a stream stands, for checkpoints: rebuilding from
/// (seed, stream, word position) continues the exact same sequence.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RngPosition {
    /// The 32-byte ChaCha key.
    pub key: [u8; 32],
    /// The stream id.
    pub stream: u64,
    /// The position in 32-bit words.
    pub word_pos: u128,
}

impl RngPosition {
    /// Record where `rng` stands.
    pub fn of(rng: &ChainRng) -> Self {
        Self {
            key: rng.get_seed(),
            stream: rng.get_stream(),
            word_pos: rng.get_word_pos(),
        }
    }

    /// Rebuild a generator that continues from this position.
    pub fn restore(&self) -> ChainRng {
        let mut r = ChainRng::from_seed(self.key);
        r.set_stream(self.stream);
        r.set_word_pos(self.word_pos);
        r
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::Rng;

    #[test]
    fn streams_differ_and_restore_continues() {
        let mut a = chain_rng(1, 0);
        let mut b = chain_rng(1, 1);
        assert_ne!(a.random::<u64>(), b.random::<u64>());
        let pos = RngPosition::of(&a);
        let mut c = pos.restore();
        assert_eq!(a.random::<u64>(), c.random::<u64>());
    }

    #[test]
    fn first_draw_is_pinned() {
        // Golden value: catches accidental changes to how streams are built
        // (seeding, stream numbering, or the generator itself).
        let mut r = chain_rng(42, 0);
        let v: u64 = r.random();
        assert_eq!(v, 13_222_472_167_927_179_408);
    }
}
