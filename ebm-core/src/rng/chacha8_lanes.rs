//! Words from a group of ChaCha8 streams at once, laid out in lanes:
//! `out[k][l]` is the k-th word read from stream `l`, which is how the
//! kernels that run one chain per SIMD lane consume them (one word per
//! unit per chain).
//!
//! Where AVX-512 or AVX2 is present and four or more streams share a key and
//! stand at the same word position (the chains of one run that have drawn
//! alike, the usual case), one block of every stream is computed at once
//! ([`LaneBlocks`]). With AVX-512 the blocks are computed "vertically":
//! word i of the ChaCha state of every stream sits in lane l of register
//! i (sixteen streams a register), so a quarter-round step is one vector
//! operation on all the streams, no shuffle is needed for the diagonal
//! rounds, and register i of the result is word i of every stream's
//! block, already in lanes (no transpose): about 1.6 instructions a word
//! against 2.6 for a stream's own four-block refill. With AVX2, whose
//! sixteen registers cannot hold that state, eight streams' blocks go
//! through the rounds by rows, as a stream's refill does, and are
//! transposed into lanes after. The blocks are the ones [`ChaCha8Stream`]
//! computes (the state layout of the module docs of `chacha8`), so the
//! words are the same. Otherwise each stream is read word by word.
//!
//! Either way the streams end where reading word by word would leave
//! them; after a read in step they have skipped ahead without touching
//! their own buffers ([`ChaCha8Stream::seek_lazily`]).

use super::chacha8::{ChaCha8Stream, BLOCK_WORDS, SIGMA};
#[cfg(target_arch = "x86_64")]
use super::word_vectors::{quarter, WordVector};
use rand::RngCore;

/// Streams read at once by [`read_lanes`]: sixteen, one AVX-512 register
/// of 32-bit words (two AVX2 registers).
pub const STREAM_LANES: usize = 16;

/// Words of `STREAM_LANES` streams, one per lane.
pub type WordLanes = [u32; STREAM_LANES];

/// Read `out.len()` words from each of `rngs` (at most [`STREAM_LANES`]
/// streams) into lanes: `out[k][l]` is the k-th word read from
/// `rngs[l]`, the same word reading `rngs[l]` word by word would give.
/// Lanes without a stream get zeros.
///
/// ```
/// use rand::RngCore;
/// use ebm_core::rng::{chain_rngs, read_lanes};
/// let mut group = chain_rngs(7, 3);
/// let mut alone = group.clone();
/// let mut out = [[0u32; 16]; 20];
/// read_lanes(&mut group, &mut out);
/// for (l, r) in alone.iter_mut().enumerate() {
///     for k in 0..20 {
///         assert_eq!(out[k][l], r.next_u32());
///     }
/// }
/// assert_eq!(out[5][3], 0); // no fourth stream
/// assert_eq!(group, alone); // and the streams moved alike
/// ```
///
/// # Panics
///
/// If `rngs` has more than [`STREAM_LANES`] streams.
pub fn read_lanes(rngs: &mut [ChaCha8Stream], out: &mut [WordLanes]) {
    assert!(
        rngs.len() <= STREAM_LANES,
        "{} streams for {STREAM_LANES} lanes",
        rngs.len()
    );
    #[cfg(target_arch = "x86_64")]
    if in_step(rngs) {
        if let Some(simd) = crate::simd::avx512() {
            return simd.vectorize(
                #[inline(always)]
                || read_in_step(simd, rngs, out),
            );
        }
        if let Some(simd) = crate::simd::avx2() {
            return simd.vectorize(
                #[inline(always)]
                || read_in_step(simd, rngs, out),
            );
        }
    }
    read_one_by_one(rngs, out);
}

/// Streams below which a read in step, which computes all sixteen lanes
/// whatever their number, would cost more than reading each stream from
/// its own buffer (about 1.6 instructions a word for every lane against
/// some 8 a word for each stream read word by word).
const VERTICAL_FROM: usize = 4;

/// Whether a read in step pays and gives the streams' words: at least
/// [`VERTICAL_FROM`] streams, sharing one key and one word position.
fn in_step(rngs: &[ChaCha8Stream]) -> bool {
    if rngs.len() < VERTICAL_FROM {
        return false;
    }
    let first = &rngs[0];
    let pos = first.get_word_pos();
    rngs.iter()
        .all(|r| r.key() == first.key() && r.get_word_pos() == pos)
}

/// Each stream read on its own, its words written down its lane.
fn read_one_by_one(rngs: &mut [ChaCha8Stream], out: &mut [WordLanes]) {
    for row in out.iter_mut() {
        *row = [0; STREAM_LANES];
    }
    for (l, r) in rngs.iter_mut().enumerate() {
        for row in out.iter_mut() {
            row[l] = r.next_u32();
        }
    }
}

/// The blocks covering the words wanted, computed for every lane at
/// once (streams in step: one key, one position) by
/// [`blocks_into`], then the streams moved past them.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
fn read_in_step<S: LaneBlocks>(simd: S, rngs: &mut [ChaCha8Stream], out: &mut [WordLanes]) {
    let key = *rngs[0].key();
    let start = rngs[0].get_word_pos();
    let (mut stream_lo, mut stream_hi) = ([0u32; STREAM_LANES], [0u32; STREAM_LANES]);
    for (l, r) in rngs.iter().enumerate() {
        let s = r.get_stream();
        (stream_lo[l], stream_hi[l]) = (s as u32, (s >> 32) as u32);
    }
    let groups = rngs.len().div_ceil(S::LANES);
    let streams = (&stream_lo, &stream_hi, groups);
    let mut block = (start / BLOCK_WORDS as u128) as u64;
    let mut skip = (start % BLOCK_WORDS as u128) as usize;
    let mut words = [[0u32; STREAM_LANES]; BLOCK_WORDS];
    let mut k = 0;
    while k < out.len() {
        if skip == 0 && out.len() - k >= BLOCK_WORDS {
            blocks_into(simd, &key, streams, block, &mut out[k..k + BLOCK_WORDS]);
            k += BLOCK_WORDS;
        } else {
            blocks_into(simd, &key, streams, block, &mut words);
            for w in &words[skip..] {
                if k == out.len() {
                    break;
                }
                out[k] = *w;
                k += 1;
            }
        }
        skip = 0;
        block = block.wrapping_add(1);
    }
    if rngs.len() < STREAM_LANES {
        for row in out.iter_mut() {
            row[rngs.len()..].fill(0);
        }
    }
    let end = start.wrapping_add(out.len() as u128);
    for r in rngs.iter_mut() {
        r.seek_lazily(end);
    }
}

/// The streams' ids in lanes, low and high halves, and the number of
/// registers of [`WordVector::LANES`] streams they fill.
#[cfg(target_arch = "x86_64")]
type StreamIds<'a> = (&'a WordLanes, &'a WordLanes, usize);

/// The streams' ids, as in [`StreamIds`], and the first lane of one
/// register's worth of them.
#[cfg(target_arch = "x86_64")]
type Group<'a> = (&'a WordLanes, &'a WordLanes, usize);

/// Block `block` of every stream into `rows` (row i: word i of each
/// lane), for the streams with ids `(hi << 32) | lo` in their lanes,
/// `groups` registers of them.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
fn blocks_into<S: LaneBlocks>(
    simd: S,
    key: &[u32; 8],
    (lo, hi, groups): StreamIds<'_>,
    block: u64,
    rows: &mut [WordLanes],
) {
    for g in 0..groups {
        simd.group_into(key, (lo, hi, g * S::LANES), block, rows);
    }
}

/// One block of a register's worth of streams, in lanes, the way a
/// register type computes it fastest.
#[cfg(target_arch = "x86_64")]
trait LaneBlocks: WordVector {
    /// Block `block` of the streams of lanes `first..first +`
    /// [`WordVector::LANES`] (ids `(hi << 32) | lo`, `(lo, hi, first)`
    /// the [`Group`]) into those lanes of `rows` (row i: word i of each
    /// lane).
    fn group_into(self, key: &[u32; 8], group: Group<'_>, block: u64, rows: &mut [WordLanes]);
}

/// AVX-512: vertically ([`block_in_lanes`]), sixteen streams a register.
/// With 32 registers the sixteen state registers and the quarter round's
/// temporaries all stay in registers.
#[cfg(target_arch = "x86_64")]
impl LaneBlocks for pulp::x86::V4 {
    #[inline(always)]
    fn group_into(self, key: &[u32; 8], (lo, hi, first): Group<'_>, block: u64, rows: &mut [WordLanes]) {
        let (lo, hi) = (self.load(&lo[first..]), self.load(&hi[first..]));
        for (row, w) in rows.iter_mut().zip(block_in_lanes(self, key, lo, hi, block)) {
            self.store(w, &mut row[first..]);
        }
    }
}

/// AVX2: by rows, then transposed. The vertical layout needs all
/// sixteen AVX2 registers for the state alone and spills: 0.61-0.68 G
/// words/s a core on the AMD EPYC Zen 3 guest. By rows, eight streams'
/// blocks go through the rounds together ([`super::word_vectors::double_rounds`]
/// over four sets of four registers, two blocks a register: row r of one
/// stream's block in the low 128-bit lane, of another's in the high), and
/// each row's four registers are transposed into words in lanes by eight
/// unpacks: 1.34-1.38 G words/s on the same guest. Set j holds streams j
/// and j + 4, so that the unpacks leave the streams in lane order.
#[cfg(target_arch = "x86_64")]
impl LaneBlocks for pulp::x86::V3 {
    #[inline(always)]
    fn group_into(self, key: &[u32; 8], (lo, hi, first): Group<'_>, block: u64, rows: &mut [WordLanes]) {
        let f = self.avx2;
        let input = [
            self.load(&super::chacha8::shared_row(key, 0)),
            self.load(&super::chacha8::shared_row(key, 1)),
            self.load(&super::chacha8::shared_row(key, 2)),
        ];
        let (c0, c1) = (block as u32, (block >> 32) as u32);
        let mut x0 = [[input[0], input[1], input[2], input[0]]; 4];
        for (j, set) in x0.iter_mut().enumerate() {
            let (a, b) = (first + j, first + j + 4);
            set[3] = self.load(&[c0, c1, lo[a], hi[a], c0, c1, lo[b], hi[b]]);
        }
        // one call over the four sets (two calls of two sets each were not
        // inlined into the vectorised function, and ran every intrinsic as a
        // call: 0.019 G words/s)
        let mut x = x0;
        super::word_vectors::double_rounds(self, &mut x);
        for r in 0..4 {
            // words 4r..4r + 4 of streams (j, j + 4) in register j
            let r0 = self.add(x[0][r], x0[0][r]);
            let r1 = self.add(x[1][r], x0[1][r]);
            let r2 = self.add(x[2][r], x0[2][r]);
            let r3 = self.add(x[3][r], x0[3][r]);
            let (t0, t1) = (f._mm256_unpacklo_epi32(r0, r1), f._mm256_unpackhi_epi32(r0, r1));
            let (t2, t3) = (f._mm256_unpacklo_epi32(r2, r3), f._mm256_unpackhi_epi32(r2, r3));
            self.store(f._mm256_unpacklo_epi64(t0, t2), &mut rows[4 * r][first..]);
            self.store(f._mm256_unpackhi_epi64(t0, t2), &mut rows[4 * r + 1][first..]);
            self.store(f._mm256_unpacklo_epi64(t1, t3), &mut rows[4 * r + 2][first..]);
            self.store(f._mm256_unpackhi_epi64(t1, t3), &mut rows[4 * r + 3][first..]);
        }
    }
}

/// Block `block` of the streams `(hi << 32) | lo` of every lane under
/// `key`: register i holds word i of every lane's block. The state's
/// word i of every lane sits in register i, so each step of a quarter
/// round is one instruction on all the register's streams, on the
/// columns and on the diagonals alike.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
fn block_in_lanes<S: WordVector>(
    simd: S,
    key: &[u32; 8],
    lo: S::W,
    hi: S::W,
    block: u64,
) -> [S::W; BLOCK_WORDS] {
    // the constant, the key and the counter, the same in every lane; then
    // each lane's stream id
    let counter = [block as u32, (block >> 32) as u32];
    let shared = SIGMA.iter().chain(key).chain(&counter);
    let mut input = [lo; BLOCK_WORDS];
    for (word, &w) in input.iter_mut().zip(shared) {
        *word = simd.splat(w);
    }
    (input[14], input[15]) = (lo, hi);
    let mut x = input;
    for _ in 0..4 {
        for [a, b, c, d] in DOUBLE_ROUND {
            let (mut xa, mut xb, mut xc, mut xd) = (x[a], x[b], x[c], x[d]);
            quarter(simd, &mut xa, &mut xb, &mut xc, &mut xd);
            (x[a], x[b], x[c], x[d]) = (xa, xb, xc, xd);
        }
    }
    for (xi, ii) in x.iter_mut().zip(input) {
        *xi = simd.add(*xi, ii);
    }
    x
}

/// The state words of a double round's quarter rounds: the four columns,
/// then the four diagonals.
#[cfg(target_arch = "x86_64")]
const DOUBLE_ROUND: [[usize; 4]; 8] = [
    [0, 4, 8, 12],
    [1, 5, 9, 13],
    [2, 6, 10, 14],
    [3, 7, 11, 15],
    [0, 5, 10, 15],
    [1, 6, 11, 12],
    [2, 7, 8, 13],
    [3, 4, 9, 14],
];

#[cfg(test)]
mod tests {
    use super::{in_step, read_lanes, ChaCha8Stream, WordLanes, STREAM_LANES};
    use crate::rng::chain_rngs;
    use proptest::prelude::*;
    use rand::RngCore;

    /// What `read_lanes` must give: each stream read word by word.
    fn word_by_word(rngs: &mut [ChaCha8Stream], words: usize) -> Vec<WordLanes> {
        let mut out = vec![[0u32; STREAM_LANES]; words];
        for (l, r) in rngs.iter_mut().enumerate() {
            for row in out.iter_mut() {
                row[l] = r.next_u32();
            }
        }
        out
    }

    fn check(mut rngs: Vec<ChaCha8Stream>, reads: &[usize]) -> Result<(), TestCaseError> {
        let mut alone = rngs.clone();
        for &words in reads {
            let mut got = vec![[7u32; STREAM_LANES]; words];
            read_lanes(&mut rngs, &mut got);
            prop_assert_eq!(got, word_by_word(&mut alone, words));
            prop_assert_eq!(&rngs, &alone);
        }
        // and every stream reads on as it would have
        for (r, a) in rngs.iter_mut().zip(alone.iter_mut()) {
            for _ in 0..70 {
                prop_assert_eq!(r.next_u32(), a.next_u32());
            }
            prop_assert_eq!(r.next_u64(), a.next_u64());
        }
        Ok(())
    }

    proptest! {
        /// Four to sixteen streams in step (one seed, one position, any
        /// start in the 68-bit range) read in step; the words, the lanes without a
        /// stream and the streams' later reads are those of word-by-word
        /// reading, over several reads of 0-150 words.
        #[test]
        fn in_step_streams_give_their_own_words(
            seed: u64,
            chains in 4usize..=16,
            first_chain in 0usize..1000,
            start in prop_oneof![0u128..200, any::<u128>()],
            reads in prop::collection::vec(0usize..150, 1..4),
        ) {
            let mut rngs = chain_rngs(seed, first_chain + chains).split_off(first_chain);
            for r in rngs.iter_mut() {
                r.set_word_pos(start);
            }
            prop_assert!(in_step(&rngs));
            check(rngs, &reads)?;
        }

        /// The AVX2 read (by rows, then transposed), also on machines
        /// where AVX-512 takes precedence: one to sixteen streams in step
        /// (one or two groups of eight), the words of word-by-word
        /// reading.
        #[test]
        fn avx2_reads_give_their_own_words(
            seed: u64,
            chains in 1usize..=16,
            start in prop_oneof![0u128..200, any::<u128>()],
            reads in prop::collection::vec(0usize..150, 1..4),
        ) {
            #[cfg(target_arch = "x86_64")]
            if let Some(simd) = crate::simd::avx2() {
                let mut rngs = chain_rngs(seed, chains);
                for r in rngs.iter_mut() {
                    r.set_word_pos(start);
                }
                let mut alone = rngs.clone();
                for &words in &reads {
                    let mut got = vec![[7u32; STREAM_LANES]; words];
                    simd.vectorize(|| super::read_in_step(simd, &mut rngs, &mut got));
                    prop_assert_eq!(got, word_by_word(&mut alone, words));
                    prop_assert_eq!(&rngs, &alone);
                }
            }
        }

        /// Streams at different positions, with different keys or with
        /// stream ids past 32 bits read word by word or in step, with
        /// the same words either way.
        #[test]
        fn any_streams_give_their_own_words(
            seeds in prop::collection::vec(0u64..3, 1..=8),
            streams in prop::collection::vec(any::<u64>(), 8),
            skips in prop::collection::vec(0u128..3, 8),
            reads in prop::collection::vec(0usize..70, 1..4),
        ) {
            let rngs: Vec<ChaCha8Stream> = seeds.iter().enumerate().map(|(l, &s)| {
                let mut r = crate::rng::setup_rng(s);
                r.set_stream(streams[l]);
                r.set_word_pos(skips[l]);
                r
            }).collect();
            check(rngs.clone(), &reads)?;
            let mut wide = rngs;
            wide.extend(chain_rngs(5, 8));
            check(wide, &reads)?;
        }
    }

    /// A stream skipped lazily reports its new position, changes stream
    /// there, and reads on from it.
    #[test]
    fn lazily_skipped_streams_read_on_from_their_position() {
        let mut a = chain_rngs(3, 1).remove(0);
        let mut b = a.clone();
        a.seek_lazily(37);
        b.set_word_pos(37);
        assert_eq!(a.get_word_pos(), 37);
        assert_eq!(a, b);
        a.set_stream(9);
        b.set_stream(9);
        assert_eq!(a.next_u32(), b.next_u32());
        assert_eq!(a.get_word_pos(), 38);
    }
}
