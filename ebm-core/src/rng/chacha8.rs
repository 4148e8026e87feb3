//! ChaCha8 streams, four blocks at a time: word for word the stream of
//! `rand_chacha::ChaCha8Rng`, computed faster where AVX-512 is available.
//!
//! ChaCha (Bernstein 2008) with 8 rounds maps a 16-word state
//!
//! ```text
//! [ "expa" "nd 3" "2-by" "te k" | key0..key7 | counter_lo counter_hi stream_lo stream_hi ]
//! ```
//!
//! to a block of 16 words: four double rounds (quarter rounds on the
//! columns, then on the diagonals; a quarter round is
//! `a += b; d ^= a; d <<<= 16; c += d; b ^= c; b <<<= 12;
//!  a += b; d ^= a; d <<<= 8;  c += d; b ^= c; b <<<= 7`), then the input
//! added word by word. Block `n` of stream `s` has counter `n` (64 bits)
//! and stream id `s` (64 bits); the stream is the blocks' words in order,
//! read one at a time (a `u64` is two words, the first the low half; a
//! byte fill uses whole words, little-endian, and drops a last word's
//! unused bytes). That is the layout and the reading of rand_chacha 0.9,
//! so a [`ChaCha8Stream`] and a `ChaCha8Rng` with the same seed, stream
//! and position give the same numbers (tested against it below).
//!
//! Why our own: every sampler draws its noise from these streams, and
//! rand_chacha's block function (AVX2, rotations by shuffles and shifts)
//! ran at about 1.1 G words/s on one core of the project's machines, 16%
//! of W1 and 19% of W3. With AVX-512 the four blocks sit in four
//! registers (row r of each block in one 128-bit lane), every rotation is
//! one instruction (`vprold`), and the diagonal step is three in-lane
//! shuffles: about 2.3x the words per second. With AVX2 alone the four
//! blocks run as two sets of four registers (two blocks each), the
//! rotations by byte shuffles and shifts (`word_vectors`); rebuilding a
//! rand_chacha generator for every refill, as machines without AVX-512
//! did before, gave 0.40 G words/s a core on an AMD Zen 3 guest. Without
//! AVX2 the blocks come from rand_chacha itself.

#[cfg(target_arch = "x86_64")]
use super::word_vectors;
use rand::{RngCore, SeedableRng};

/// Words in a block.
pub(super) const BLOCK_WORDS: usize = 16;
/// Blocks computed at a time.
const BUF_BLOCKS: u64 = 4;
/// Words in the buffer (four blocks, as rand_chacha keeps).
const BUF_WORDS: usize = 64;
/// "expand 32-byte k", the constant row.
pub(super) const SIGMA: [u32; 4] = [0x6170_7865, 0x3320_646e, 0x7962_2d32, 0x6b20_6574];

/// A ChaCha8 stream: a 256-bit key, a 64-bit stream id and a position in
/// 32-bit words (68 bits: a 64-bit block counter and a word in the
/// block). The same numbers as `rand_chacha::ChaCha8Rng` (module docs).
///
/// ```
/// use rand::{Rng, SeedableRng};
/// use ebm_core::rng::ChaCha8Stream;
/// let mut ours = ChaCha8Stream::seed_from_u64(7);
/// let mut theirs = rand_chacha::ChaCha8Rng::seed_from_u64(7);
/// ours.set_stream(3);
/// theirs.set_stream(3);
/// assert_eq!(ours.random::<u64>(), theirs.random::<u64>());
/// assert_eq!(ours.get_word_pos(), 2); // a u64 is two words
/// ours.set_word_pos(1);
/// theirs.set_word_pos(1);
/// assert_eq!(ours.random::<[u32; 5]>(), theirs.random::<[u32; 5]>());
/// ```
#[derive(Clone)]
pub struct ChaCha8Stream {
    key: [u32; 8],
    stream: u64,
    /// The counter of the block after the buffer's last.
    next_block: u64,
    /// The next unread word of `buf`; `BUF_WORDS` when all are read.
    index: usize,
    /// With `index == BUF_WORDS`: the word of block `next_block` that
    /// the next refill starts at (0 unless [`ChaCha8Stream::seek_lazily`]
    /// set it).
    pending: usize,
    buf: [u32; BUF_WORDS],
}

impl ChaCha8Stream {
    /// Move to stream `stream` of the same key, at the same word
    /// position.
    pub fn set_stream(&mut self, stream: u64) {
        self.stream = stream;
        if self.index != BUF_WORDS {
            let pos = self.get_word_pos();
            self.set_word_pos(pos);
        }
    }

    /// The stream id.
    pub fn get_stream(&self) -> u64 {
        self.stream
    }

    /// The key, as the 32 seed bytes it was made from.
    pub fn get_seed(&self) -> [u8; 32] {
        let mut seed = [0; 32];
        for (s, k) in seed.chunks_exact_mut(4).zip(&self.key) {
            s.copy_from_slice(&k.to_le_bytes());
        }
        seed
    }

    /// The position of the next word: 16 x its block's counter + its
    /// place in the block (a 68-bit number).
    pub fn get_word_pos(&self) -> u128 {
        if self.index >= BUF_WORDS {
            return u128::from(self.next_block) * BLOCK_WORDS as u128 + self.pending as u128;
        }
        let first = self.next_block.wrapping_sub(BUF_BLOCKS);
        let block = first.wrapping_add((self.index / BLOCK_WORDS) as u64);
        u128::from(block) * BLOCK_WORDS as u128 + (self.index % BLOCK_WORDS) as u128
    }

    /// Move to word `pos` of the stream (bits above the 68th ignored).
    pub fn set_word_pos(&mut self, pos: u128) {
        self.next_block = (pos / BLOCK_WORDS as u128) as u64;
        self.pending = 0;
        self.refill();
        self.index = (pos % BLOCK_WORDS as u128) as usize;
    }

    /// Move to word `pos` (as [`ChaCha8Stream::set_word_pos`]) without
    /// computing anything now: the buffer counts as read, and the next
    /// read refills it from `pos`'s block. For a reader that computed the
    /// words itself ([`super::read_lanes`]).
    pub(super) fn seek_lazily(&mut self, pos: u128) {
        self.next_block = (pos / BLOCK_WORDS as u128) as u64;
        self.pending = (pos % BLOCK_WORDS as u128) as usize;
        self.index = BUF_WORDS;
    }

    /// The key's words.
    pub(super) fn key(&self) -> &[u32; 8] {
        &self.key
    }

    /// The next four blocks into the buffer, read from the pending word.
    #[inline]
    fn refill(&mut self) {
        four_blocks(&self.key, self.stream, self.next_block, &mut self.buf);
        self.next_block = self.next_block.wrapping_add(BUF_BLOCKS);
        self.index = std::mem::take(&mut self.pending);
    }
}

impl SeedableRng for ChaCha8Stream {
    type Seed = [u8; 32];

    /// Stream 0 of the key `seed` (little-endian words), at word 0.
    fn from_seed(seed: [u8; 32]) -> Self {
        let mut key = [0; 8];
        for (k, s) in key.iter_mut().zip(seed.chunks_exact(4)) {
            *k = u32::from_le_bytes([s[0], s[1], s[2], s[3]]);
        }
        Self {
            key,
            stream: 0,
            next_block: 0,
            index: BUF_WORDS,
            pending: 0,
            buf: [0; BUF_WORDS],
        }
    }
}

impl RngCore for ChaCha8Stream {
    #[inline]
    fn next_u32(&mut self) -> u32 {
        if self.index >= BUF_WORDS {
            self.refill();
        }
        let w = self.buf[self.index];
        self.index += 1;
        w
    }

    #[inline]
    fn next_u64(&mut self) -> u64 {
        if self.index + 1 < BUF_WORDS {
            let (lo, hi) = (self.buf[self.index], self.buf[self.index + 1]);
            self.index += 2;
            return u64::from(lo) | u64::from(hi) << 32;
        }
        let lo = self.next_u32();
        u64::from(lo) | u64::from(self.next_u32()) << 32
    }

    #[inline]
    fn fill_bytes(&mut self, dest: &mut [u8]) {
        let mut rest = dest;
        while !rest.is_empty() {
            if self.index >= BUF_WORDS {
                self.refill();
            }
            let words = &self.buf[self.index..];
            let len = rest.len().min(4 * words.len());
            let (now, later) = std::mem::take(&mut rest).split_at_mut(len);
            if cfg!(target_endian = "little") {
                // the words' bytes in memory are their little-endian bytes
                now.copy_from_slice(&pulp::bytemuck::cast_slice(words)[..len]);
            } else {
                let mut whole = now.chunks_exact_mut(4);
                for (out, w) in (&mut whole).zip(words) {
                    out.copy_from_slice(&w.to_le_bytes());
                }
                let part = whole.into_remainder();
                if !part.is_empty() {
                    part.copy_from_slice(&words[len / 4].to_le_bytes()[..part.len()]);
                }
            }
            self.index += len.div_ceil(4);
            rest = later;
        }
    }
}

/// Same key, stream and position (as rand_chacha compares).
impl PartialEq for ChaCha8Stream {
    fn eq(&self, other: &Self) -> bool {
        self.key == other.key && self.stream == other.stream && self.get_word_pos() == other.get_word_pos()
    }
}

impl Eq for ChaCha8Stream {}

impl std::fmt::Debug for ChaCha8Stream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChaCha8Stream")
            .field("stream", &self.stream)
            .field("word_pos", &self.get_word_pos())
            .finish_non_exhaustive()
    }
}

/// Blocks `block..block + 4` of `stream` under `key`, in order.
#[inline]
fn four_blocks(key: &[u32; 8], stream: u64, block: u64, out: &mut [u32; BUF_WORDS]) {
    #[cfg(target_arch = "x86_64")]
    {
        if let Some(simd) = crate::simd::avx512() {
            return simd.vectorize(|| four_blocks_avx512(simd, key, stream, block, out));
        }
        if let Some(simd) = crate::simd::avx2() {
            return simd.vectorize(|| four_blocks_avx2(simd, key, stream, block, out));
        }
    }
    four_blocks_rand_chacha(key, stream, block, out)
}

/// The four blocks by rand_chacha's own block function (machines
/// without AVX2): a generator set to the first block's first word
/// computes exactly these four blocks into its buffer, which the fill
/// copies out.
fn four_blocks_rand_chacha(key: &[u32; 8], stream: u64, block: u64, out: &mut [u32; BUF_WORDS]) {
    use rand::Rng;
    let mut seed = [0; 32];
    for (s, k) in seed.chunks_exact_mut(4).zip(key) {
        s.copy_from_slice(&k.to_le_bytes());
    }
    let mut r = rand_chacha::ChaCha8Rng::from_seed(seed);
    r.set_stream(stream);
    r.set_word_pos(u128::from(block) * BLOCK_WORDS as u128);
    r.fill(&mut out[..]);
}

/// Row 3 (counter and stream) of blocks `block..block + 4`, one block
/// after the other.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
fn counter_rows(stream: u64, block: u64) -> [u32; 16] {
    std::array::from_fn(|i| {
        let n = block.wrapping_add((i / 4) as u64);
        [n as u32, (n >> 32) as u32, stream as u32, (stream >> 32) as u32][i % 4]
    })
}

/// Row `r` (0, 1 or 2: the constant, the key's first and second half) of
/// the state, repeated for four blocks.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
pub(super) fn shared_row(key: &[u32; 8], r: usize) -> [u32; 16] {
    let row: [u32; 4] = match r {
        0 => SIGMA,
        1 => [key[0], key[1], key[2], key[3]],
        _ => [key[4], key[5], key[6], key[7]],
    };
    std::array::from_fn(|i| row[i % 4])
}

/// The four blocks with AVX-512: register `a` holds row 0 (the constant)
/// of blocks 0..4 in its four 128-bit lanes, `b` row 1, `c` row 2 and `d`
/// row 3 (counter and stream), so one instruction does a step of the
/// quarter round on all four columns of all four blocks
/// ([`word_vectors::double_rounds`]). At the end the 4 x 4 grid of
/// 128-bit lanes is transposed so that each block's rows are contiguous.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
fn four_blocks_avx512(
    simd: pulp::x86::V4,
    key: &[u32; 8],
    stream: u64,
    block: u64,
    out: &mut [u32; BUF_WORDS],
) {
    use word_vectors::WordVector;
    let f = simd.avx512f;
    let input = [0, 1, 2].map(|r| simd.load(&shared_row(key, r)));
    let d0 = simd.load(&counter_rows(stream, block));
    let mut x = [[input[0], input[1], input[2], d0]];
    word_vectors::double_rounds(simd, &mut x);
    let [[a, b, c, d]] = x;
    let (a, b) = (simd.add(a, input[0]), simd.add(b, input[1]));
    let (c, d) = (simd.add(c, input[2]), simd.add(d, d0));
    // lanes (row, block) -> (block, row)
    let ab01 = f._mm512_shuffle_i32x4::<0b01_00_01_00>(a, b);
    let cd01 = f._mm512_shuffle_i32x4::<0b01_00_01_00>(c, d);
    let ab23 = f._mm512_shuffle_i32x4::<0b11_10_11_10>(a, b);
    let cd23 = f._mm512_shuffle_i32x4::<0b11_10_11_10>(c, d);
    let blocks: [core::arch::x86_64::__m512i; 4] = [
        f._mm512_shuffle_i32x4::<0b10_00_10_00>(ab01, cd01),
        f._mm512_shuffle_i32x4::<0b11_01_11_01>(ab01, cd01),
        f._mm512_shuffle_i32x4::<0b10_00_10_00>(ab23, cd23),
        f._mm512_shuffle_i32x4::<0b11_01_11_01>(ab23, cd23),
    ];
    *out = pulp::cast(blocks);
}

/// The four blocks with AVX2: two sets of four registers, the first
/// holding blocks 0 and 1 (row r of block k in 128-bit lane k of
/// register r), the second blocks 2 and 3, through the double rounds side
/// by side ([`word_vectors::double_rounds`]); then each block's rows are
/// gathered from the low or the high lanes.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
fn four_blocks_avx2(
    simd: pulp::x86::V3,
    key: &[u32; 8],
    stream: u64,
    block: u64,
    out: &mut [u32; BUF_WORDS],
) {
    use word_vectors::WordVector;
    let f = simd.avx2;
    let input = [0, 1, 2].map(|r| simd.load(&shared_row(key, r)));
    let counters = counter_rows(stream, block);
    let x0 = [&counters[..8], &counters[8..]].map(|d| [input[0], input[1], input[2], simd.load(d)]);
    let mut x = x0;
    word_vectors::double_rounds(simd, &mut x);
    let mut blocks = [simd.splat(0); 8];
    for (k, (rows, rows0)) in x.iter().zip(&x0).enumerate() {
        let [a, b, c, d]: [_; 4] = std::array::from_fn(|r| simd.add(rows[r], rows0[r]));
        // block 2k from the low lanes (rows 0 and 1, then 2 and 3), block
        // 2k + 1 from the high
        blocks[4 * k] = f._mm256_permute2x128_si256::<0x20>(a, b);
        blocks[4 * k + 1] = f._mm256_permute2x128_si256::<0x20>(c, d);
        blocks[4 * k + 2] = f._mm256_permute2x128_si256::<0x31>(a, b);
        blocks[4 * k + 3] = f._mm256_permute2x128_si256::<0x31>(c, d);
    }
    *out = pulp::cast(blocks);
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::{
        any, prop, prop_assert_eq, prop_oneof, proptest, Just, ProptestConfig, Strategy,
    };
    use rand::Rng;
    use rand_chacha::ChaCha8Rng;

    fn pair(seed: u64, stream: u64) -> (ChaCha8Stream, ChaCha8Rng) {
        let mut ours = ChaCha8Stream::seed_from_u64(seed);
        let mut theirs = ChaCha8Rng::seed_from_u64(seed);
        ours.set_stream(stream);
        theirs.set_stream(stream);
        (ours, theirs)
    }

    /// One way of reading the stream.
    #[derive(Clone, Debug)]
    enum Read {
        U32,
        U64,
        Bytes(usize),
        Words(usize),
        Longs(usize),
        Seek(u128),
        SeekLazily(u128),
        Stream(u64),
    }

    fn read() -> impl Strategy<Value = Read> {
        prop_oneof![
            4 => Just(Read::U32),
            4 => Just(Read::U64),
            3 => (0usize..300).prop_map(Read::Bytes),
            3 => (0usize..150).prop_map(Read::Words),
            2 => (0usize..80).prop_map(Read::Longs),
            1 => prop_oneof![0u128..1000, Just((1u128 << 68) - 70), any::<u128>()].prop_map(Read::Seek),
            1 => prop_oneof![0u128..1000, Just((1u128 << 68) - 70), any::<u128>()].prop_map(Read::SeekLazily),
            1 => prop_oneof![0u64..4, Just(u64::MAX), any::<u64>()].prop_map(Read::Stream),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(200))]

        /// Any sequence of reads, seeks (eager or lazy) and stream changes gives what
        /// rand_chacha gives, and both agree on where they stand.
        #[test]
        fn every_read_matches_rand_chacha(seed in any::<u64>(), stream in any::<u64>(), reads in prop::collection::vec(read(), 1..40)) {
            let (mut ours, mut theirs) = pair(seed, stream);
            for r in reads {
                match r {
                    Read::U32 => prop_assert_eq!(ours.next_u32(), theirs.next_u32()),
                    Read::U64 => prop_assert_eq!(ours.next_u64(), theirs.next_u64()),
                    Read::Bytes(n) => {
                        let (mut x, mut y) = (vec![0u8; n], vec![0u8; n]);
                        ours.fill_bytes(&mut x);
                        theirs.fill_bytes(&mut y);
                        prop_assert_eq!(x, y);
                    }
                    Read::Words(n) => {
                        let (mut x, mut y) = (vec![0u32; n], vec![0u32; n]);
                        ours.fill(&mut x[..]);
                        theirs.fill(&mut y[..]);
                        prop_assert_eq!(x, y);
                    }
                    Read::Longs(n) => {
                        let (mut x, mut y) = (vec![0u64; n], vec![0u64; n]);
                        ours.fill(&mut x[..]);
                        theirs.fill(&mut y[..]);
                        prop_assert_eq!(x, y);
                    }
                    Read::Seek(p) => {
                        ours.set_word_pos(p);
                        theirs.set_word_pos(p);
                    }
                    Read::SeekLazily(p) => {
                        ours.seek_lazily(p);
                        theirs.set_word_pos(p);
                    }
                    Read::Stream(s) => {
                        ours.set_stream(s);
                        theirs.set_stream(s);
                    }
                }
                prop_assert_eq!(ours.get_word_pos(), theirs.get_word_pos());
                prop_assert_eq!(ours.get_stream(), theirs.get_stream());
                prop_assert_eq!(ours.get_seed(), theirs.get_seed());
            }
        }

        /// The AVX-512 or AVX2 blocks and rand_chacha's, wherever the counter
        /// stands (its high word carries inside the four blocks near
        /// 2^32, and it wraps at 2^64).
        #[test]
        fn both_block_functions_agree(key in any::<[u32; 8]>(), stream in any::<u64>(),
                                      block in prop_oneof![any::<u64>(), Just(u64::MAX - 1), Just((1u64 << 32) - 2), Just(0)]) {
            let mut want = [0; BUF_WORDS];
            four_blocks_rand_chacha(&key, stream, block, &mut want);
            let mut got = [0; BUF_WORDS];
            four_blocks(&key, stream, block, &mut got);
            prop_assert_eq!(got, want);
            // and the AVX2 blocks, also where AVX-512 takes precedence
            #[cfg(target_arch = "x86_64")]
            if let Some(simd) = crate::simd::avx2() {
                let mut avx2 = [0; BUF_WORDS];
                simd.vectorize(|| four_blocks_avx2(simd, &key, stream, block, &mut avx2));
                prop_assert_eq!(avx2, want);
            }
        }
    }

    #[test]
    fn a_long_run_matches_rand_chacha() {
        // 2^16 words of a chain's stream through the buffer's refills
        let (mut ours, mut theirs) = pair(42, 1);
        for _ in 0..1 << 15 {
            assert_eq!(ours.next_u64(), theirs.next_u64());
        }
    }

    #[test]
    fn equality_is_key_stream_and_position() {
        let (mut a, _) = pair(1, 2);
        let (b, _) = pair(1, 2);
        assert_eq!(a, b);
        a.next_u32();
        assert_ne!(a, b);
        let mut c = b.clone();
        c.set_word_pos(1);
        assert_eq!(a, c);
        c.set_stream(3);
        assert_ne!(a, c);
        assert_eq!(format!("{a:?}"), "ChaCha8Stream { stream: 2, word_pos: 1, .. }");
    }

    #[test]
    fn the_avx512_path_runs_where_it_can() {
        // so that the proptest above compares two block functions, not
        // rand_chacha with itself, on the machines that have AVX-512
        #[cfg(target_arch = "x86_64")]
        if [
            std::arch::is_x86_feature_detected!("avx512f"),
            std::arch::is_x86_feature_detected!("avx512bw"),
            std::arch::is_x86_feature_detected!("avx512cd"),
            std::arch::is_x86_feature_detected!("avx512dq"),
            std::arch::is_x86_feature_detected!("avx512vl"),
        ]
        .iter()
        .all(|&on| on)
        {
            assert!(crate::simd::avx512().is_some());
        }
    }
}
