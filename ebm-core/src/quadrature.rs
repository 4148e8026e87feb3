//! Numerical log Z for one- and two-dimensional energies.
//!
//! [`log_integral_1d`] computes log integral exp(-E(t)) dt over the whole real
//! line by adaptive Gauss-Kronrod (7-15) quadrature after the substitution
//! t = c + s u / (1 - u^2), u in (-1, 1), which maps the line onto a finite
//! interval; c and s are found by a coarse scan so that the mass sits
//! near u = 0. The integrand is scaled by exp(E_min) so that nothing
//! overflows, and the shift is added back in log space. Two dimensions nest
//! the same rule (the inner integral for each outer node).
//! [`log_partition_grid`] is the plain midpoint rule on a box, as used by the
//! W5 benchmark.

use crate::energy::Energy;
use crate::error::{CoreError, Result};
use crate::math::LogSumExp;
use std::cmp::Ordering;
use std::collections::BinaryHeap;

/// Options for adaptive quadrature.
#[derive(Clone, Debug, PartialEq)]
pub struct QuadratureOptions {
    /// Target relative error of the integral (not of its log; the error of
    /// log Z is about the same number).
    pub rel_tol: f64,
    /// Most subintervals one adaptive integral may use.
    pub max_intervals: usize,
    /// Subintervals of (-1, 1) to start from.
    pub initial_intervals: usize,
}

impl Default for QuadratureOptions {
    fn default() -> Self {
        Self {
            rel_tol: 1e-11,
            max_intervals: 4000,
            initial_intervals: 32,
        }
    }
}

// Gauss-Kronrod 7-15 nodes on [-1, 1] (Kronrod nodes; every second one,
// starting from index 1, is a Gauss node) and weights.
const XGK: [f64; 8] = [
    0.991_455_371_120_812_6,
    0.949_107_912_342_758_5,
    0.864_864_423_359_769_1,
    0.741_531_185_599_394_4,
    0.586_087_235_467_691_1,
    0.405_845_151_377_397_2,
    0.207_784_955_007_898_5,
    0.0,
];
const WGK: [f64; 8] = [
    0.022_935_322_010_529_22,
    0.063_092_092_629_978_55,
    0.104_790_010_322_250_2,
    0.140_653_259_715_525_9,
    0.169_004_726_639_267_9,
    0.190_350_578_064_785_4,
    0.204_432_940_075_298_9,
    0.209_482_141_084_727_8,
];
const WG: [f64; 4] = [
    0.129_484_966_168_869_7,
    0.279_705_391_489_276_7,
    0.381_830_050_505_118_9,
    0.417_959_183_673_469_4,
];

/// One GK15 panel on [a, b]: (Kronrod estimate, |Kronrod - Gauss|).
fn gk15<F: FnMut(f64) -> Result<f64>>(f: &mut F, a: f64, b: f64) -> Result<(f64, f64)> {
    let c = 0.5 * (a + b);
    let h = 0.5 * (b - a);
    let fc = f(c)?;
    let mut k = fc * WGK[7];
    let mut g = fc * WG[3];
    for i in 0..7 {
        let dx = h * XGK[i];
        let s = f(c - dx)? + f(c + dx)?;
        k += WGK[i] * s;
        if i % 2 == 1 {
            g += WG[i / 2] * s;
        }
    }
    Ok((k * h, ((k - g) * h).abs()))
}

struct Panel {
    a: f64,
    b: f64,
    value: f64,
    err: f64,
}
impl PartialEq for Panel {
    fn eq(&self, o: &Self) -> bool {
        self.err == o.err
    }
}
impl Eq for Panel {}
impl PartialOrd for Panel {
    fn partial_cmp(&self, o: &Self) -> Option<Ordering> {
        Some(self.cmp(o))
    }
}
impl Ord for Panel {
    fn cmp(&self, o: &Self) -> Ordering {
        self.err.total_cmp(&o.err)
    }
}

/// Adaptive GK15 of `f` on (-1, 1): bisect the panel with the largest
/// error estimate until the total error is below
/// max(rel_tol |I|, abs_tol).
fn adaptive<F: FnMut(f64) -> Result<f64>>(mut f: F, opts: &QuadratureOptions, abs_tol: f64) -> Result<f64> {
    let n0 = opts.initial_intervals.max(1);
    let mut heap = BinaryHeap::new();
    let (mut total, mut total_err) = (0.0, 0.0);
    for i in 0..n0 {
        let a = -1.0 + 2.0 * i as f64 / n0 as f64;
        let b = -1.0 + 2.0 * (i + 1) as f64 / n0 as f64;
        let (v, e) = gk15(&mut f, a, b)?;
        total += v;
        total_err += e;
        heap.push(Panel {
            a,
            b,
            value: v,
            err: e,
        });
    }
    while total_err > (opts.rel_tol * total.abs()).max(abs_tol) {
        if heap.len() >= opts.max_intervals {
            return Err(CoreError::NoConvergence(format!(
                "quadrature did not reach relative error {:e} within {} intervals (estimate {:e})",
                opts.rel_tol,
                opts.max_intervals,
                total_err / total.abs()
            )));
        }
        let p = heap.pop().expect("heap is never empty");
        let m = 0.5 * (p.a + p.b);
        let (v1, e1) = gk15(&mut f, p.a, m)?;
        let (v2, e2) = gk15(&mut f, m, p.b)?;
        total += v1 + v2 - p.value;
        total_err += e1 + e2 - p.err;
        heap.push(Panel {
            a: p.a,
            b: m,
            value: v1,
            err: e1,
        });
        heap.push(Panel {
            a: m,
            b: p.b,
            value: v2,
            err: e2,
        });
    }
    // Re-sum to drop the rounding accumulated by the running updates.
    Ok(heap.iter().map(|p| p.value).sum())
}

/// The map u -> (t, dt/du) for t = c + s u / (1 - u^2).
#[inline]
fn to_line(u: f64, c: f64, s: f64) -> (f64, f64) {
    let q = 1.0 - u * u;
    (c + s * u / q, s * (1.0 + u * u) / (q * q))
}

fn check_energy(e: f64, t: f64) -> Result<f64> {
    if e.is_nan() {
        Err(CoreError::NoConvergence(format!("energy is NaN at {t}")))
    } else {
        Ok(e)
    }
}

/// Scan points per axis when locating the mass.
const SCAN_1D: usize = 257;
const SCAN_2D: usize = 129;
/// Relocation rounds: each rescans around the previous estimate, so a
/// narrow peak far from the origin is found in two or three rounds.
const LOCATE_ROUNDS: usize = 5;

/// Where the mass of exp(-E) sits along each axis of a `D`-dim scan (D = 1
/// or 2) on the grid u_k in (-1, 1), t = c + s u / (1 - u^2): returns the
/// weighted mean and spread per axis, the lowest energy seen, and the grid
/// spacing in t at the lowest point (a floor for the next scale).
struct Located {
    center: [f64; 2],
    scale: [f64; 2],
    emin: f64,
}

fn scan<F: FnMut(&[f64]) -> Result<f64>>(
    energy: &mut F,
    dims: usize,
    n: usize,
    c: [f64; 2],
    s: [f64; 2],
) -> Result<Located> {
    let du = 2.0 / n as f64;
    let total = if dims == 1 { n } else { n * n };
    let mut pts = Vec::with_capacity(total);
    let mut emin = f64::INFINITY;
    let mut best_spacing = [0.0; 2];
    let mut x = [0.0; 2];
    for idx in 0..total {
        let mut jac = 1.0;
        let mut sp = [0.0; 2];
        for k in 0..dims {
            let i = if k == 0 { idx % n } else { idx / n };
            let (t, j) = to_line(-1.0 + du * (i as f64 + 0.5), c[k], s[k]);
            x[k] = t;
            jac *= j;
            sp[k] = j * du;
        }
        let e = check_energy(energy(&x[..dims])?, x[0])?;
        if e < emin {
            emin = e;
            best_spacing = sp;
        }
        pts.push((x, jac, e));
    }
    if !emin.is_finite() {
        return Err(CoreError::NoConvergence(
            "energy is infinite everywhere the quadrature looked".into(),
        ));
    }
    let mut w = 0.0;
    let mut m1 = [0.0; 2];
    let mut m2 = [0.0; 2];
    for (x, jac, e) in &pts {
        let p = (emin - e).exp() * jac;
        w += p;
        for k in 0..dims {
            m1[k] += p * x[k];
            m2[k] += p * x[k] * x[k];
        }
    }
    let mut center = [0.0; 2];
    let mut scale = [1.0; 2];
    for k in 0..dims {
        center[k] = m1[k] / w;
        let sd = (m2[k] / w - center[k] * center[k]).max(0.0).sqrt();
        // The next scan must resolve the peak: never narrower than two grid
        // spacings at the lowest point, never wider than needed.
        scale[k] = sd.max(2.0 * best_spacing[k]).clamp(1e-8, 1e8);
    }
    Ok(Located { center, scale, emin })
}

/// Find centre and scale per axis by repeated scans, starting from the
/// origin at scale 4.
fn locate<F: FnMut(&[f64]) -> Result<f64>>(mut energy: F, dims: usize) -> Result<Located> {
    let n = if dims == 1 { SCAN_1D } else { SCAN_2D };
    let mut loc = scan(&mut energy, dims, n, [0.0; 2], [4.0; 2])?;
    for _ in 1..LOCATE_ROUNDS {
        let next = scan(
            &mut energy,
            dims,
            n,
            loc.center,
            [2.0 * loc.scale[0], 2.0 * loc.scale[1]],
        )?;
        let settled = (0..dims).all(|k| {
            (next.scale[k] / loc.scale[k] - 1.0).abs() < 0.2
                && (next.center[k] - loc.center[k]).abs() < 0.2 * loc.scale[k]
        });
        loc = Located {
            emin: loc.emin.min(next.emin),
            ..next
        };
        if settled {
            break;
        }
    }
    Ok(loc)
}

/// log integral_R exp(-energy(t)) dt, by adaptive quadrature on the whole
/// line.
///
/// ```
/// use ebm_core::quadrature::{log_integral_1d, QuadratureOptions};
/// // integral exp(-t^2/2) = sqrt(2 pi)
/// let v = log_integral_1d(|t| 0.5 * t * t, &QuadratureOptions::default()).unwrap();
/// assert!((v - 0.5 * (2.0 * std::f64::consts::PI).ln()).abs() < 1e-10);
/// ```
pub fn log_integral_1d<F: Fn(f64) -> f64>(energy: F, opts: &QuadratureOptions) -> Result<f64> {
    let loc = locate(|x| Ok(energy(x[0])), 1)?;
    let (c, s, emin) = (loc.center[0], loc.scale[0], loc.emin);
    let integrand = |u: f64| -> Result<f64> {
        let (t, jac) = to_line(u, c, s);
        let e = check_energy(energy(t), t)?;
        Ok((emin - e).exp() * jac)
    };
    let v = adaptive(integrand, opts, 0.0)?;
    finish(v, emin)
}

/// log Z from the shifted integral v = integral exp(emin - E) = e^emin Z.
fn finish(v: f64, emin: f64) -> Result<f64> {
    if v.is_nan() || v <= 0.0 || !v.is_finite() {
        return Err(CoreError::NoConvergence(format!(
            "quadrature gave an integral of {v} after shifting the energy by its minimum; \
             the energy may have a minimum the scan missed"
        )));
    }
    Ok(v.ln() - emin)
}

/// log Z of a 1-D or 2-D energy by adaptive quadrature over all of R^D.
/// Two dimensions integrate the inner coordinate for every outer node (an
/// iterated integral), each to `opts.rel_tol`.
///
/// ```
/// use ebm_core::{Energy, energies::Banana, quadrature::{log_partition_quadrature, QuadratureOptions}};
/// let b = Banana::new(2, 0.5, 1.0).unwrap();
/// let q = log_partition_quadrature(&b, &QuadratureOptions::default()).unwrap();
/// assert!((q - b.log_partition().unwrap()).abs() < 1e-8);
/// ```
pub fn log_partition_quadrature<E: Energy + ?Sized>(energy: &E, opts: &QuadratureOptions) -> Result<f64> {
    match energy.dim() {
        1 => log_integral_1d(|t| energy.energy(&[t]), opts),
        2 => log_integral_2d(energy, opts),
        d => Err(CoreError::InvalidParameter {
            field: "dim".into(),
            reason: format!("quadrature handles 1-D and 2-D energies, this one is {d}-D; use AIS"),
        }),
    }
}

fn log_integral_2d<E: Energy + ?Sized>(energy: &E, opts: &QuadratureOptions) -> Result<f64> {
    let loc = locate(|x| Ok(energy.energy(x)), 2)?;
    let (c, s, emin) = (loc.center, loc.scale, loc.emin);
    let inner_opts = QuadratureOptions {
        rel_tol: opts.rel_tol * 0.1,
        ..opts.clone()
    };
    let outer = |u0: f64| -> Result<f64> {
        let (t0, j0) = to_line(u0, c[0], s[0]);
        let inner = |u1: f64| -> Result<f64> {
            let (t1, j1) = to_line(u1, c[1], s[1]);
            let e = check_energy(energy.energy(&[t0, t1]), t0)?;
            Ok((emin - e).exp() * j1)
        };
        // Inner integrals far out in the tails need no relative accuracy:
        // below rel_tol * 1e-3 of the peak scale they are negligible.
        Ok(adaptive(inner, &inner_opts, opts.rel_tol * 1e-3 * s[1])? * j0)
    };
    let v = adaptive(outer, opts, 0.0)?;
    finish(v, emin)
}

/// log Z by the midpoint rule on the box `lo[k] <= x_k <= hi[k]` with `n`
/// cells per axis (1-D or 2-D): log (cell volume * sum_cells exp(-E(centre))).
/// Mass outside the box is ignored, so choose the box to contain it.
///
/// ```
/// use ebm_core::{Energy, energies::Gmm, quadrature::log_partition_grid};
/// let m = Gmm::eight_gaussians();
/// let v = log_partition_grid(&m, &[-8.0, -8.0], &[8.0, 8.0], 400).unwrap();
/// assert!(v.abs() < 1e-6);
/// ```
pub fn log_partition_grid<E: Energy + ?Sized>(energy: &E, lo: &[f64], hi: &[f64], n: usize) -> Result<f64> {
    let d = energy.dim();
    if !(d == 1 || d == 2) {
        return Err(CoreError::InvalidParameter {
            field: "dim".into(),
            reason: format!("grid quadrature handles 1-D and 2-D energies, this one is {d}-D"),
        });
    }
    if lo.len() != d || hi.len() != d {
        return Err(CoreError::Shape {
            field: "bounds".into(),
            expected: format!("{d} lower and {d} upper bounds"),
            got: format!("{} and {}", lo.len(), hi.len()),
        });
    }
    if n == 0 {
        return Err(CoreError::InvalidParameter {
            field: "grid".into(),
            reason: "needs at least one cell per axis".into(),
        });
    }
    for k in 0..d {
        if !(lo[k].is_finite() && hi[k].is_finite() && lo[k] < hi[k]) {
            return Err(CoreError::InvalidParameter {
                field: "bounds".into(),
                reason: format!("axis {k}: need finite lo < hi, got [{}, {}]", lo[k], hi[k]),
            });
        }
    }
    let h: Vec<f64> = (0..d).map(|k| (hi[k] - lo[k]) / n as f64).collect();
    let mut acc = LogSumExp::new();
    let mut x = vec![0.0; d];
    let total = if d == 1 { n } else { n * n };
    for idx in 0..total {
        x[0] = lo[0] + h[0] * ((idx % n) as f64 + 0.5);
        if d == 2 {
            x[1] = lo[1] + h[1] * ((idx / n) as f64 + 0.5);
        }
        let e = energy.energy(&x);
        if e.is_nan() {
            return Err(CoreError::NoConvergence(format!("energy is NaN at {x:?}")));
        }
        acc.add(-e);
    }
    Ok(acc.value() + h.iter().map(|v| v.ln()).sum::<f64>())
}
