//! Contour lines of a function sampled on a square grid (marching squares),
//! and the levels that enclose given shares of a density's mass.

/// A line segment between two points (x, y).
pub type Segment = [(f64, f64); 2];

/// The segments of the level set `f = level` of `vals`, an `n` x `n` grid of
/// values at the cell centres of `[lo, hi]^2` (row i at y = lo + (i + 1/2) h,
/// column j at x = lo + (j + 1/2) h).
///
/// Marching squares over the squares between four neighbouring centres:
/// each edge whose ends lie on both sides of the level is cut where the
/// straight line between the two values meets it; a square with two
/// diagonally opposite corners above (a saddle) is joined according to
/// the mean of its corners. Non-finite values count as below every level.
pub fn level_segments(vals: &[f64], n: usize, lo: f64, hi: f64, level: f64) -> Vec<Segment> {
    let h = (hi - lo) / n as f64;
    let at = |i: usize, j: usize| {
        let v = vals[i * n + j];
        if v.is_finite() {
            v
        } else {
            f64::NEG_INFINITY
        }
    };
    let centre = |k: usize| lo + (k as f64 + 0.5) * h;
    // where the level cuts the edge from value a at t = 0 to b at t = 1
    let cut = |a: f64, b: f64| {
        let t = (level - a) / (b - a);
        if t.is_finite() {
            t.clamp(0.0, 1.0)
        } else {
            0.5
        }
    };
    let mut out = Vec::new();
    for i in 0..n.saturating_sub(1) {
        for j in 0..n - 1 {
            // corners counter-clockwise from bottom left
            let v = [at(i, j), at(i, j + 1), at(i + 1, j + 1), at(i + 1, j)];
            let above = v.map(|x| x >= level);
            let case = above
                .iter()
                .enumerate()
                .fold(0, |c, (k, &a)| c | (usize::from(a) << k));
            if case == 0 || case == 15 {
                continue;
            }
            let (x0, x1, y0, y1) = (centre(j), centre(j + 1), centre(i), centre(i + 1));
            // the cut point on edge e: 0 bottom, 1 right, 2 top, 3 left
            let point = |e: usize| match e {
                0 => (x0 + cut(v[0], v[1]) * (x1 - x0), y0),
                1 => (x1, y0 + cut(v[1], v[2]) * (y1 - y0)),
                2 => (x1 + cut(v[2], v[3]) * (x0 - x1), y1),
                _ => (x0, y1 + cut(v[3], v[0]) * (y0 - y1)),
            };
            // edges whose ends differ, in order round the square
            let crossed: Vec<usize> = (0..4).filter(|&e| above[e] != above[(e + 1) % 4]).collect();
            match crossed.as_slice() {
                [a, b] => out.push([point(*a), point(*b)]),
                [_, _, _, _] => {
                    // a saddle: corners 0 and 2 above (case 5) or 1 and 3
                    // (case 10); if the centre is above too, the above
                    // corners join through it, so the cuts pair up round
                    // the below corners
                    let mean = v.iter().sum::<f64>() / 4.0;
                    let centre_above = mean >= level;
                    let pairs = if (case == 5) == centre_above {
                        [(0, 1), (2, 3)]
                    } else {
                        [(3, 0), (1, 2)]
                    };
                    for (a, b) in pairs {
                        out.push([point(a), point(b)]);
                    }
                }
                _ => {}
            }
        }
    }
    out
}

/// The density levels whose superlevel sets hold the shares `masses` of
/// the total of `density` (non-negative grid values): for 0.5, the
/// smallest t such that the cells with density >= t hold half the mass.
/// The contours of these levels bound the highest-density regions.
pub fn mass_levels(density: &[f64], masses: &[f64]) -> Vec<f64> {
    let mut sorted: Vec<f64> = density
        .iter()
        .copied()
        .filter(|v| v.is_finite() && *v > 0.0)
        .collect();
    sorted.sort_by(|a, b| b.total_cmp(a));
    let total: f64 = sorted.iter().sum();
    masses
        .iter()
        .map(|&m| {
            let mut acc = 0.0;
            for &v in &sorted {
                acc += v;
                if acc >= m * total {
                    return v;
                }
            }
            sorted.last().copied().unwrap_or(0.0)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The level set of a radial function is a circle: every segment's
    /// ends lie on it up to the interpolation error of a grid step.
    #[test]
    fn contours_of_a_cone_are_circles() {
        let (n, lo, hi) = (101, -2.0, 2.0);
        let h = (hi - lo) / n as f64;
        let c = |k: usize| lo + (k as f64 + 0.5) * h;
        let vals: Vec<f64> = (0..n * n)
            .map(|k| (c(k / n).powi(2) + c(k % n).powi(2)).sqrt())
            .collect();
        let segs = level_segments(&vals, n, lo, hi, 1.0);
        // a circle of radius 1 crosses about 4 * 2 / h cells
        assert!(segs.len() > 150, "{}", segs.len());
        for s in &segs {
            for (x, y) in s {
                let r = (x * x + y * y).sqrt();
                assert!((r - 1.0).abs() < 0.1 * h, "point ({x}, {y}) at radius {r}");
            }
        }
        // the segments close up: the summed lengths are the circumference
        let length: f64 = segs
            .iter()
            .map(|[a, b]| ((a.0 - b.0).powi(2) + (a.1 - b.1).powi(2)).sqrt())
            .sum();
        assert!((length - 2.0 * std::f64::consts::PI).abs() < 0.01, "{length}");
    }

    #[test]
    fn saddles_join_by_the_centre_value() {
        // corners 0 and 2 at 1, 1 and 3 at 0: the centre 0.5 is above 0.4,
        // so corner 0 and corner 2 connect and the cuts round corners 1
        // and 3 pair up
        let vals = [1.0, 0.0, 0.0, 1.0];
        let segs = level_segments(&vals, 2, 0.0, 2.0, 0.4);
        assert_eq!(segs.len(), 2);
        for [a, b] in segs {
            // each segment cuts off a below corner: (1.5, 0.5) or (0.5, 1.5)
            let mid = ((a.0 + b.0) / 2.0, (a.1 + b.1) / 2.0);
            assert!((mid.0 - mid.1).abs() > 0.3, "{a:?} {b:?}");
        }
        assert!(level_segments(&vals, 2, 0.0, 2.0, 2.0).is_empty());
        assert!(level_segments(&[f64::NAN; 4], 2, 0.0, 2.0, 0.5).is_empty());
    }

    #[test]
    fn mass_levels_split_the_mass() {
        let d = [4.0, 3.0, 2.0, 1.0, 0.0];
        // 4 holds 40% of 10, 4 + 3 70%, 4 + 3 + 2 90%
        assert_eq!(mass_levels(&d, &[0.4, 0.5, 0.9, 1.0]), vec![4.0, 3.0, 2.0, 1.0]);
        assert_eq!(mass_levels(&[], &[0.5]), vec![0.0]);
    }
}
