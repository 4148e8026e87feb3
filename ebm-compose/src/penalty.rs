//! Soft constraints as penalty energies.

use ebm_core::error::{check_finite, check_len, check_positive_scalar, CoreError, Result};
use ebm_core::Energy;
use std::sync::Arc;

/// A constraint g(x) <= 0 turned into a penalty energy with strength
/// lambda:
///
/// E(x) = lambda/2 * sum_k max(0, g_k(x))^2,  grad E = lambda sum_k max(0, g_k) grad g_k.
///
/// The penalty is zero where the constraint holds and grows quadratically
/// with the violation, so as an expert in a [`Product`](crate::Product) it
/// is a soft constraint that becomes hard as lambda grows. A penalty alone
/// is not normalisable (it is flat where the constraint holds): combine it
/// with a proper energy.
///
/// ```
/// use ebm_compose::SoftConstraint;
/// use ebm_core::Energy;
/// let half = SoftConstraint::half_space(vec![1.0, 0.0], 0.0, 10.0).unwrap(); // x_0 <= 0
/// assert_eq!(half.energy(&[-1.0, 5.0]), 0.0);
/// assert_eq!(half.energy(&[0.5, 0.0]), 10.0 / 2.0 * 0.25);
/// assert!(half.satisfied(&[-0.1, 3.0]));
/// ```
#[derive(Clone)]
pub struct SoftConstraint {
    dim: usize,
    strength: f64,
    kind: Kind,
}

type ConstraintFn = Arc<dyn Fn(&[f64], &mut [f64]) -> f64 + Send + Sync>;

#[derive(Clone)]
enum Kind {
    HalfSpace {
        normal: Vec<f64>,
        offset: f64,
    },
    Ball {
        center: Vec<f64>,
        radius: f64,
    },
    Ring {
        center: Vec<f64>,
        radius: f64,
        width: f64,
    },
    Box {
        lo: Vec<f64>,
        hi: Vec<f64>,
    },
    Custom(ConstraintFn),
}

impl std::fmt::Debug for SoftConstraint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kind = match &self.kind {
            Kind::HalfSpace { .. } => "half_space",
            Kind::Ball { .. } => "ball",
            Kind::Ring { .. } => "ring",
            Kind::Box { .. } => "box",
            Kind::Custom(_) => "custom",
        };
        write!(
            f,
            "SoftConstraint({kind}, dim {}, strength {})",
            self.dim, self.strength
        )
    }
}

fn nonempty(field: &str, v: &[f64]) -> Result<()> {
    if v.is_empty() {
        return Err(CoreError::Shape {
            field: field.into(),
            expected: "at least 1 entry".into(),
            got: "0".into(),
        });
    }
    check_finite(field, v)
}

impl SoftConstraint {
    /// Half-space a.x <= b: g(x) = a.x - b.
    pub fn half_space(normal: Vec<f64>, offset: f64, strength: f64) -> Result<Self> {
        nonempty("normal", &normal)?;
        check_finite("offset", &[offset])?;
        check_positive_scalar("strength", strength)?;
        Ok(Self {
            dim: normal.len(),
            strength,
            kind: Kind::HalfSpace { normal, offset },
        })
    }

    /// Ball |x - c| <= r: g(x) = |x - c| - r.
    pub fn ball(center: Vec<f64>, radius: f64, strength: f64) -> Result<Self> {
        nonempty("center", &center)?;
        check_positive_scalar("radius", radius)?;
        check_positive_scalar("strength", strength)?;
        Ok(Self {
            dim: center.len(),
            strength,
            kind: Kind::Ball { center, radius },
        })
    }

    /// Ring (annulus) | |x - c| - r | <= w: g(x) = | |x - c| - r | - w; with
    /// w = 0 the penalty pulls x onto the sphere of radius r.
    pub fn ring(center: Vec<f64>, radius: f64, width: f64, strength: f64) -> Result<Self> {
        nonempty("center", &center)?;
        check_positive_scalar("radius", radius)?;
        check_finite("width", &[width])?;
        if width < 0.0 {
            return Err(CoreError::InvalidParameter {
                field: "width".into(),
                reason: format!("must be non-negative, got {width}"),
            });
        }
        check_positive_scalar("strength", strength)?;
        Ok(Self {
            dim: center.len(),
            strength,
            kind: Kind::Ring {
                center,
                radius,
                width,
            },
        })
    }

    /// Box lo <= x <= hi, one constraint per coordinate and side:
    /// g = lo_k - x_k and g = x_k - hi_k.
    pub fn boxed(lo: Vec<f64>, hi: Vec<f64>, strength: f64) -> Result<Self> {
        nonempty("lo", &lo)?;
        check_len("hi", hi.len(), lo.len())?;
        check_finite("hi", &hi)?;
        if let Some(k) = (0..lo.len()).find(|&k| lo[k] > hi[k]) {
            return Err(CoreError::InvalidParameter {
                field: format!("lo[{k}]"),
                reason: format!("lower bound {} exceeds upper bound {}", lo[k], hi[k]),
            });
        }
        check_positive_scalar("strength", strength)?;
        Ok(Self {
            dim: lo.len(),
            strength,
            kind: Kind::Box { lo, hi },
        })
    }

    /// Any constraint g(x) <= 0 in `dim` dimensions: `g(x, grad)` returns
    /// g(x) and writes grad_x g into `grad`.
    pub fn custom<G>(dim: usize, strength: f64, g: G) -> Result<Self>
    where
        G: Fn(&[f64], &mut [f64]) -> f64 + Send + Sync + 'static,
    {
        if dim == 0 {
            return Err(CoreError::InvalidParameter {
                field: "dim".into(),
                reason: "must be positive".into(),
            });
        }
        check_positive_scalar("strength", strength)?;
        Ok(Self {
            dim,
            strength,
            kind: Kind::Custom(Arc::new(g)),
        })
    }

    /// The strength lambda.
    pub fn strength(&self) -> f64 {
        self.strength
    }

    /// Whether every g_k(x) <= 0.
    pub fn satisfied(&self, x: &[f64]) -> bool {
        crate::scratch::with_buffer(self.dim, |g| self.energy_grad(x, g) == 0.0)
    }
}

/// |x - c| and, in `dir`, (x - c) / |x - c| (zero at the centre).
fn radial(x: &[f64], c: &[f64], dir: &mut [f64]) -> f64 {
    let r = x
        .iter()
        .zip(c)
        .map(|(a, b)| (a - b) * (a - b))
        .sum::<f64>()
        .sqrt();
    for ((d, a), b) in dir.iter_mut().zip(x).zip(c) {
        *d = if r > 0.0 { (a - b) / r } else { 0.0 };
    }
    r
}

impl Energy for SoftConstraint {
    fn dim(&self) -> usize {
        self.dim
    }

    fn energy(&self, x: &[f64]) -> f64 {
        crate::scratch::with_buffer(self.dim, |g| self.energy_grad(x, g))
    }

    fn energy_grad(&self, x: &[f64], grad: &mut [f64]) -> f64 {
        let lam = self.strength;
        // One violated constraint g > 0 with gradient already in `grad`:
        // E = lam/2 g^2, grad E = lam g grad g.
        let single = |g: f64, grad: &mut [f64]| {
            if g > 0.0 {
                grad.iter_mut().for_each(|v| *v *= lam * g);
                0.5 * lam * g * g
            } else {
                grad.iter_mut().for_each(|v| *v = 0.0);
                0.0
            }
        };
        match &self.kind {
            Kind::HalfSpace { normal, offset } => {
                let g = normal.iter().zip(x).map(|(a, b)| a * b).sum::<f64>() - offset;
                grad.copy_from_slice(normal);
                single(g, grad)
            }
            Kind::Ball { center, radius } => {
                let r = radial(x, center, grad);
                single(r - radius, grad)
            }
            Kind::Ring {
                center,
                radius,
                width,
            } => {
                let r = radial(x, center, grad);
                let s = if r >= *radius { 1.0 } else { -1.0 };
                grad.iter_mut().for_each(|v| *v *= s);
                single((r - radius).abs() - width, grad)
            }
            Kind::Box { lo, hi } => {
                let mut e = 0.0;
                for k in 0..self.dim {
                    let below = lo[k] - x[k];
                    let above = x[k] - hi[k];
                    grad[k] = 0.0;
                    if below > 0.0 {
                        e += 0.5 * lam * below * below;
                        grad[k] = -lam * below;
                    } else if above > 0.0 {
                        e += 0.5 * lam * above * above;
                        grad[k] = lam * above;
                    }
                }
                e
            }
            Kind::Custom(g) => {
                let v = g(x, grad);
                single(v, grad)
            }
        }
    }
}
