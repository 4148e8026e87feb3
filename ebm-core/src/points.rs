//! `Points`: a batch of N points of dimension D in one row-major buffer.

use crate::error::{CoreError, Result};
use faer::{MatMut, MatRef};
use serde::{Deserialize, Serialize};

/// A batch of `n` points (chains, data rows, gradients) of dimension `dim`,
/// stored row-major in one `Vec<f64>`: point `i` is
/// `data[i * dim .. (i + 1) * dim]`.
///
/// ```
/// use ebm_core::Points;
/// let p = Points::from_rows(&[vec![1.0, 2.0], vec![3.0, 4.0]]).unwrap();
/// assert_eq!(p.len(), 2);
/// assert_eq!(p.row(1), &[3.0, 4.0]);
/// assert_eq!(p.as_mat()[(1, 0)], 3.0);
/// assert_eq!(p.mean(), vec![2.0, 3.0]);
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Points {
    data: Vec<f64>,
    n: usize,
    dim: usize,
}

impl Points {
    /// `n` points of dimension `dim`, all zero.
    ///
    /// # Panics
    /// If `dim == 0` (a point must have at least one coordinate).
    pub fn zeros(n: usize, dim: usize) -> Self {
        assert!(dim > 0, "Points::zeros: dim must be positive");
        Self {
            data: vec![0.0; n * dim],
            n,
            dim,
        }
    }

    /// Wrap a row-major buffer; its length must be a multiple of `dim > 0`.
    pub fn from_vec(data: Vec<f64>, dim: usize) -> Result<Self> {
        if dim == 0 {
            return Err(CoreError::InvalidParameter {
                field: "dim".into(),
                reason: "must be positive".into(),
            });
        }
        if data.len() % dim != 0 {
            return Err(CoreError::Shape {
                field: "points".into(),
                expected: format!("a multiple of {dim} values"),
                got: format!("{} values", data.len()),
            });
        }
        Ok(Self {
            n: data.len() / dim,
            data,
            dim,
        })
    }

    /// Build from rows that must all have the same positive length.
    pub fn from_rows(rows: &[Vec<f64>]) -> Result<Self> {
        let dim = rows.first().map_or(0, Vec::len);
        let mut data = Vec::with_capacity(rows.len() * dim);
        for (i, r) in rows.iter().enumerate() {
            if r.len() != dim {
                return Err(CoreError::Shape {
                    field: format!("rows[{i}]"),
                    expected: format!("{dim} values"),
                    got: format!("{}", r.len()),
                });
            }
            data.extend_from_slice(r);
        }
        Self::from_vec(data, dim)
    }

    /// Number of points.
    pub fn len(&self) -> usize {
        self.n
    }

    /// True when the batch holds no points.
    pub fn is_empty(&self) -> bool {
        self.n == 0
    }

    /// Dimension of each point.
    pub fn dim(&self) -> usize {
        self.dim
    }

    /// Point `i` as a slice.
    pub fn row(&self, i: usize) -> &[f64] {
        &self.data[i * self.dim..(i + 1) * self.dim]
    }

    /// Point `i` as a mutable slice.
    pub fn row_mut(&mut self, i: usize) -> &mut [f64] {
        &mut self.data[i * self.dim..(i + 1) * self.dim]
    }

    /// Iterate over the points.
    pub fn rows(&self) -> std::slice::ChunksExact<'_, f64> {
        self.data.chunks_exact(self.dim)
    }

    /// Iterate mutably over the points.
    pub fn rows_mut(&mut self) -> std::slice::ChunksExactMut<'_, f64> {
        self.data.chunks_exact_mut(self.dim)
    }

    /// The whole row-major buffer.
    pub fn as_slice(&self) -> &[f64] {
        &self.data
    }

    /// The whole row-major buffer, mutably.
    pub fn as_mut_slice(&mut self) -> &mut [f64] {
        &mut self.data
    }

    /// Give up the buffer.
    pub fn into_vec(self) -> Vec<f64> {
        self.data
    }

    /// An `n x dim` faer view (row stride `dim`, column stride 1).
    pub fn as_mat(&self) -> MatRef<'_, f64> {
        MatRef::from_row_major_slice(&self.data, self.n, self.dim)
    }

    /// An `n x dim` mutable faer view.
    pub fn as_mat_mut(&mut self) -> MatMut<'_, f64> {
        MatMut::from_row_major_slice_mut(&mut self.data, self.n, self.dim)
    }

    /// Sample mean of the points, (1/n) sum_i x_i (NaN entries when empty).
    pub fn mean(&self) -> Vec<f64> {
        let mut m = vec![0.0; self.dim];
        for r in self.rows() {
            for (a, b) in m.iter_mut().zip(r) {
                *a += b;
            }
        }
        let n = self.n as f64;
        m.iter_mut().for_each(|a| *a /= n);
        m
    }

    /// Sample covariance, 1/(n-1) sum_i (x_i - m)(x_i - m)^T, row-major
    /// `dim x dim`.
    pub fn covariance(&self) -> Vec<f64> {
        let d = self.dim;
        let m = self.mean();
        let mut c = vec![0.0; d * d];
        for r in self.rows() {
            for i in 0..d {
                let di = r[i] - m[i];
                for j in 0..=i {
                    c[i * d + j] += di * (r[j] - m[j]);
                }
            }
        }
        let denom = self.n as f64 - 1.0;
        for i in 0..d {
            for j in 0..=i {
                let v = c[i * d + j] / denom;
                c[i * d + j] = v;
                c[j * d + i] = v;
            }
        }
        c
    }
}
