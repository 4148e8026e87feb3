//! Sample mean and covariance of draws.

use faer::{Accum, MatRef, Par};

/// Mean and covariance (row-major, denominator n - 1) of the rows of the
/// row-major buffer `xs`, in two passes; the centred cross-product is one
/// faer matrix product. NaN covariance for fewer than two rows.
pub fn moments_of(xs: &[f64], d: usize) -> (Vec<f64>, Vec<f64>) {
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
    let centred: Vec<f64> = xs
        .chunks_exact(d)
        .flat_map(|r| r.iter().zip(&mean).map(|(v, m)| v - m))
        .collect();
    let c = MatRef::from_row_major_slice(&centred, n, d);
    let mut out = faer::Mat::<f64>::zeros(d, d);
    faer::linalg::matmul::matmul(
        out.as_mut(),
        Accum::Replace,
        c.transpose(),
        c,
        1.0 / (n as f64 - 1.0),
        Par::Seq,
    );
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
/// final subtraction well conditioned.
#[derive(Clone, Debug)]
pub struct Moments {
    d: usize,
    n: f64,
    reference: Option<Vec<f64>>,
    sum: Vec<f64>,
    cross: Vec<f64>,
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
        }
    }

    /// Add every row of a row-major buffer.
    pub fn add_rows(&mut self, xs: &[f64]) {
        let d = self.d;
        for x in xs.chunks_exact(d) {
            let r = self.reference.get_or_insert_with(|| x.to_vec());
            self.n += 1.0;
            for i in 0..d {
                let a = x[i] - r[i];
                self.sum[i] += a;
                for j in 0..=i {
                    self.cross[i * d + j] += a * (x[j] - r[j]);
                }
            }
        }
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
                    let c = (self.cross[i * d + j] - self.sum[i] * self.sum[j] / n) / (n - 1.0);
                    cov[i * d + j] = c;
                    cov[j * d + i] = c;
                }
            }
        }
        (mean, cov)
    }
}
