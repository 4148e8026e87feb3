//! Sample mean and covariance of draws.

use faer::{Accum, MatMut, MatRef, Par};
use rayon::prelude::*;

/// Mean and covariance (row-major, denominator n - 1) of the rows of the
/// row-major buffer `xs`, in two passes: the mean, then the centred cross
/// products, one faer product per block of rows (no copy of the whole
/// buffer). NaN covariance for fewer than two rows.
///
/// Both passes run in parallel over at most `MAX_GROUPS` (8) runs of
/// consecutive rows whose bounds depend only on the shape, each with its
/// own partial sums, added in group order: the same bits whatever the
/// number of threads.
pub fn moments_of(xs: &[f64], d: usize) -> (Vec<f64>, Vec<f64>) {
    let n = xs.len() / d;
    let parts = groups_of(xs, d);
    let mean = mean_of_groups(&parts, d, n);
    if n < 2 {
        return (mean, vec![f64::NAN; d * d]);
    }
    let partials: Vec<faer::Mat<f64>> = parts
        .par_iter()
        .map(|part| {
            let mut out = faer::Mat::<f64>::zeros(d, d);
            let mut centred = vec![0.0; GROUP_BLOCK.min(part.len() / d) * d];
            for block in part.chunks(GROUP_BLOCK * d) {
                let k = block.len() / d;
                let c = &mut centred[..k * d];
                for (crow, x) in c.chunks_exact_mut(d).zip(block.chunks_exact(d)) {
                    for j in 0..d {
                        crow[j] = x[j] - mean[j];
                    }
                }
                let cm = MatRef::from_row_major_slice(c, k, d);
                faer::linalg::matmul::matmul(
                    out.as_mut(),
                    Accum::Add,
                    cm.transpose(),
                    cm,
                    1.0 / (n as f64 - 1.0),
                    Par::Seq,
                );
            }
            out
        })
        .collect();
    let mut out = faer::Mat::<f64>::zeros(d, d);
    for p in &partials {
        out += p;
    }
    let mut cov = vec![0.0; d * d];
    for i in 0..d {
        for j in 0..d {
            cov[i * d + j] = 0.5 * (out[(i, j)] + out[(j, i)]);
        }
    }
    (mean, cov)
}

/// The mean of the rows of the row-major buffer `xs`: the first pass of
/// [`moments_of`], the same values to the bit, without the covariance.
pub fn mean_of(xs: &[f64], d: usize) -> Vec<f64> {
    mean_of_groups(&groups_of(xs, d), d, xs.len() / d)
}

/// Rows per block of [`moments_of`]'s products; groups hold whole blocks.
const GROUP_BLOCK: usize = 4096;

/// The runs of consecutive rows [`moments_of`] works on in parallel: at
/// most [`MAX_GROUPS`] of whole blocks, fewer when the d x d partials
/// would be large; the bounds depend only on the shape.
fn groups_of(xs: &[f64], d: usize) -> Vec<&[f64]> {
    let n = xs.len() / d;
    let max_groups = (PARTIALS_BYTES / (8 * d * d).max(1)).clamp(1, MAX_GROUPS);
    let groups = n.div_ceil(GROUP_BLOCK).clamp(1, max_groups);
    let rows_per_group = n.div_ceil(GROUP_BLOCK).div_ceil(groups).max(1) * GROUP_BLOCK;
    xs.chunks(rows_per_group * d).collect()
}

/// The mean of `n` rows from the groups' sums (in parallel), added in
/// group order.
fn mean_of_groups(parts: &[&[f64]], d: usize, n: usize) -> Vec<f64> {
    let sums: Vec<Vec<f64>> = parts
        .par_iter()
        .map(|part| {
            let mut s = vec![0.0; d];
            for r in part.chunks_exact(d) {
                for (m, v) in s.iter_mut().zip(r) {
                    *m += v;
                }
            }
            s
        })
        .collect();
    let mut mean = vec![0.0; d];
    for s in &sums {
        for (m, v) in mean.iter_mut().zip(s) {
            *m += v;
        }
    }
    mean.iter_mut().for_each(|m| *m /= n as f64);
    mean
}

/// Most groups [`moments_of`] splits its rows into.
const MAX_GROUPS: usize = 8;

/// The memory [`moments_of`] may give to the groups' d x d partial sums.
const PARTIALS_BYTES: usize = 64 << 20;

/// Running mean and covariance, accumulated as sums of (x - x_ref) and
/// (x - x_ref)(x - x_ref)^T around the first point seen, which keeps the
/// final subtraction well conditioned. Each call adds its rows as one
/// block: the centred block C, its column sums, and C^T C by one faer
/// product (a rank-k update of the cross products).
#[derive(Clone, Debug)]
pub struct Moments {
    d: usize,
    n: f64,
    reference: Option<Vec<f64>>,
    sum: Vec<f64>,
    /// Full d x d cross products (symmetric), row-major.
    cross: Vec<f64>,
    centred: Vec<f64>,
}

impl Moments {
    /// Empty accumulator in `d` dimensions.
    pub fn new(d: usize) -> Self {
        Self {
            d,
            n: 0.0,
            reference: None,
            sum: vec![0.0; d],
            cross: vec![0.0; d * d],
            centred: Vec::new(),
        }
    }

    /// Add every row of a row-major buffer.
    pub fn add_rows(&mut self, xs: &[f64]) {
        let d = self.d;
        let k = xs.len() / d;
        if k == 0 {
            return;
        }
        let r = self.reference.get_or_insert_with(|| xs[..d].to_vec());
        self.centred.resize(k * d, 0.0);
        let (c, sum) = (&mut self.centred, &mut self.sum);
        ebm_core::simd::dispatch(
            #[inline(always)]
            || {
                for (crow, x) in c.chunks_exact_mut(d).zip(xs.chunks_exact(d)) {
                    for j in 0..d {
                        crow[j] = x[j] - r[j];
                        sum[j] += crow[j];
                    }
                }
            },
        );
        let cm = MatRef::from_row_major_slice(&self.centred, k, d);
        faer::linalg::matmul::matmul(
            MatMut::from_row_major_slice_mut(&mut self.cross, d, d),
            Accum::Add,
            cm.transpose(),
            cm,
            1.0,
            Par::Seq,
        );
        self.n += k as f64;
    }

    /// (mean, covariance).
    pub fn finish(&self) -> (Vec<f64>, Vec<f64>) {
        let d = self.d;
        let n = self.n;
        let r = self.reference.clone().unwrap_or_else(|| vec![f64::NAN; d]);
        let mean: Vec<f64> = (0..d).map(|i| r[i] + self.sum[i] / n).collect();
        let mut cov = vec![f64::NAN; d * d];
        if n > 1.0 {
            for i in 0..d {
                for j in 0..=i {
                    let cross = 0.5 * (self.cross[i * d + j] + self.cross[j * d + i]);
                    let c = (cross - self.sum[i] * self.sum[j] / n) / (n - 1.0);
                    cov[i * d + j] = c;
                    cov[j * d + i] = c;
                }
            }
        }
        (mean, cov)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn running_moments_match_the_two_pass_ones() {
        let d = 5;
        let mut r = ebm_core::setup_rng(3);
        let xs: Vec<f64> = (0..200 * d)
            .map(|_| 1e3 + rand::Rng::random::<f64>(&mut r))
            .collect();
        let (m2, c2) = moments_of(&xs, d);
        let mut acc = Moments::new(d);
        for block in xs.chunks(7 * d) {
            acc.add_rows(block);
        }
        let (m1, c1) = acc.finish();
        for (a, b) in m1.iter().zip(&m2).chain(c1.iter().zip(&c2)) {
            assert!((a - b).abs() < 1e-10 * (1.0 + b.abs()), "{a} vs {b}");
        }
        assert!(Moments::new(2).finish().1.iter().all(|v| v.is_nan()));
    }

    /// Many rows (several groups, a ragged last block): the same bits on
    /// one thread and on three, and the naive two-pass sums within
    /// rounding (1e-12 relative; the sums run over 30,000 rows of
    /// values of order 1, whose rounding is ~1e-16 each).
    #[test]
    fn groups_of_rows_agree_with_the_naive_sums_on_any_thread_count() {
        let (n, d) = (30_001, 3);
        let mut r = ebm_core::setup_rng(4);
        let xs: Vec<f64> = (0..n * d).map(|_| rand::Rng::random::<f64>(&mut r)).collect();
        let pool = |t| rayon::ThreadPoolBuilder::new().num_threads(t).build().unwrap();
        let (m1, c1) = pool(1).install(|| moments_of(&xs, d));
        let (m3, c3) = pool(3).install(|| moments_of(&xs, d));
        assert!(m1 == m3 && c1 == c3);
        // the mean alone is moments_of's mean, to the bit
        assert_eq!(pool(3).install(|| mean_of(&xs, d)), m1);
        let mean: Vec<f64> = (0..d)
            .map(|j| xs.iter().skip(j).step_by(d).sum::<f64>() / n as f64)
            .collect();
        for i in 0..d {
            assert!((m1[i] - mean[i]).abs() < 1e-12, "mean[{i}]");
            for j in 0..d {
                let c: f64 = xs
                    .chunks_exact(d)
                    .map(|x| (x[i] - mean[i]) * (x[j] - mean[j]))
                    .sum::<f64>()
                    / (n as f64 - 1.0);
                assert!(
                    (c1[i * d + j] - c).abs() < 1e-12 * c.abs().max(1e-3),
                    "cov[{i}][{j}]"
                );
            }
        }
        // no rows: NaN, not a panic
        let (m0, c0) = moments_of(&[], d);
        assert!(m0.iter().chain(&c0).all(|v| v.is_nan()));
    }
}
