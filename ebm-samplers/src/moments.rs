//! Sample mean and covariance of draws.

use faer::{Accum, MatMut, MatRef, Par};

/// Mean and covariance (row-major, denominator n - 1) of the rows of the
/// row-major buffer `xs`, in two passes: the mean, then the centred cross
/// products, one faer product per block of rows (no copy of the whole
/// buffer). NaN covariance for fewer than two rows.
pub fn moments_of(xs: &[f64], d: usize) -> (Vec<f64>, Vec<f64>) {
    const BLOCK: usize = 4096;
    let n = xs.len() / d;
    let mut mean = vec![0.0; d];
    for r in xs.chunks_exact(d) {
        for (m, v) in mean.iter_mut().zip(r) {
            *m += v;
        }
    }
    mean.iter_mut().for_each(|m| *m /= n as f64);
    if n < 2 {
        return (mean, vec![f64::NAN; d * d]);
    }
    let mut out = faer::Mat::<f64>::zeros(d, d);
    let mut centred = vec![0.0; BLOCK.min(n) * d];
    for block in xs.chunks(BLOCK * d) {
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
    let mut cov = vec![0.0; d * d];
    for i in 0..d {
        for j in 0..d {
            cov[i * d + j] = 0.5 * (out[(i, j)] + out[(j, i)]);
        }
    }
    (mean, cov)
}

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
}
