//! Drawing an index from softmax weights, the one rule of categorical
//! Gibbs and of Gibbs-with-gradients' proposals.

use ebm_core::simd::LANES;

/// The weights w_i = exp(-scale d_i - top) of the values `d` into `w`,
/// with top = max_i -scale d_i (so the largest weight is 1; a value of
/// +inf gets weight 0); returns (top, log sum_i w_i), the sum in
/// [`LANES`] lanes (term i in lane i mod 8, the lanes then added in
/// order). The probability of index i is w_i / sum, and its log is
/// -scale d_i - top - log sum. Call it inside
/// [`ebm_core::simd::dispatch`].
#[inline(always)]
pub(crate) fn weights(scale: f64, d: &[f64], w: &mut Vec<f64>) -> (f64, f64) {
    let mut tops = [f64::NEG_INFINITY; LANES];
    let mut chunks = d.chunks_exact(LANES);
    for c in &mut chunks {
        for l in 0..LANES {
            tops[l] = tops[l].max(-scale * c[l]);
        }
    }
    for (l, &v) in chunks.remainder().iter().enumerate() {
        tops[l] = tops[l].max(-scale * v);
    }
    let top = tops.iter().fold(f64::NEG_INFINITY, |m, &t| m.max(t));
    w.resize(d.len(), 0.0);
    for (wi, &v) in w.iter_mut().zip(d) {
        *wi = ebm_core::fast_exp::exp(-scale * v - top);
    }
    let mut sums = [0.0; LANES];
    let mut chunks = w.chunks_exact(LANES);
    for c in &mut chunks {
        for l in 0..LANES {
            sums[l] += c[l];
        }
    }
    for (l, &v) in chunks.remainder().iter().enumerate() {
        sums[l] += v;
    }
    (top, sums.iter().sum::<f64>().ln())
}

/// The index whose cumulative weight (in order) first exceeds `u` (in
/// [0, 1)) times the total exp(`log_sum`) (inverse CDF; the last index
/// with a positive weight if rounding leaves `u` above them all).
#[inline(always)]
pub(crate) fn pick(w: &[f64], log_sum: f64, u: f64) -> usize {
    let target = u * log_sum.exp();
    let mut acc = 0.0;
    let mut last = 0;
    for (i, &wi) in w.iter().enumerate() {
        if wi > 0.0 {
            last = i;
        }
        acc += wi;
        if acc > target {
            return i;
        }
    }
    last
}

/// u = word / 2^32 in [0, 1): one 32-bit word of a chain's stream as the
/// uniform of a categorical draw.
#[inline(always)]
pub(crate) fn unit_of_word(word: u32) -> f64 {
    word as f64 * (1.0 / 4_294_967_296.0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ebm_core::simd::dispatch;

    #[test]
    fn the_pick_follows_the_weights() {
        // weights exp(-d/2 - top) = 1, e^-1, e^-2 for d = 0, 2, 4, and 0 for +inf
        let d = [0.0, 2.0, f64::INFINITY, 4.0];
        let mut w = Vec::new();
        let (top, log_sum) = dispatch(|| weights(0.5, &d, &mut w));
        let total = 1.0 + (-1.0f64).exp() + (-2.0f64).exp();
        assert!((log_sum - total.ln()).abs() < 1e-12 && top == 0.0 && w[2] == 0.0);
        let first = 1.0 / total;
        assert_eq!(pick(&w, log_sum, first * 0.999), 0);
        assert_eq!(pick(&w, log_sum, first * 1.001), 1);
        assert_eq!(pick(&w, log_sum, 0.999_999), 3);
        assert_eq!(pick(&w, log_sum, 1.0), 3);
        assert!(unit_of_word(u32::MAX) < 1.0);
    }
}
