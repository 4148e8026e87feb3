//! Warm-up adaptation: dual-averaging step size and windowed diagonal
//! mass matrix, as in Stan (Hoffman and Gelman 2014).

/// Nesterov dual averaging of log eps towards a target acceptance delta:
///
/// H_t = (1 - 1/(t + t0)) H_{t-1} + (delta - alpha_t) / (t + t0),
/// log eps_t = mu - sqrt(t) / gamma H_t,
/// log eps_bar_t = t^-kappa log eps_t + (1 - t^-kappa) log eps_bar_{t-1},
///
/// with mu = log(10 eps_0), gamma = 0.05, t0 = 10, kappa = 0.75. During
/// warm-up the kernel uses eps_t; afterwards eps_bar.
#[derive(Clone, Debug, PartialEq)]
pub struct DualAveraging {
    target: f64,
    mu: f64,
    h_bar: f64,
    log_eps_bar: f64,
    t: f64,
}

impl DualAveraging {
    /// Start from step size `eps0`, aiming at acceptance `target`.
    pub fn new(eps0: f64, target: f64) -> Self {
        Self {
            target,
            mu: (10.0 * eps0).ln(),
            h_bar: 0.0,
            log_eps_bar: eps0.ln(),
            t: 0.0,
        }
    }

    /// Feed one iteration's mean acceptance; returns the step size to use next.
    pub fn update(&mut self, accept: f64) -> f64 {
        const GAMMA: f64 = 0.05;
        const T0: f64 = 10.0;
        const KAPPA: f64 = 0.75;
        self.t += 1.0;
        let a = if accept.is_finite() { accept } else { 0.0 };
        let w = 1.0 / (self.t + T0);
        self.h_bar = (1.0 - w) * self.h_bar + w * (self.target - a);
        let log_eps = self.mu - self.t.sqrt() / GAMMA * self.h_bar;
        let eta = self.t.powf(-KAPPA);
        self.log_eps_bar = eta * log_eps + (1.0 - eta) * self.log_eps_bar;
        log_eps.exp()
    }

    /// The averaged step size eps_bar, used after warm-up.
    pub fn final_step_size(&self) -> f64 {
        self.log_eps_bar.exp()
    }
}

/// Running per-coordinate mean and variance (Welford), pooled over chains.
#[derive(Clone, Debug, PartialEq)]
pub struct Welford {
    n: f64,
    mean: Vec<f64>,
    m2: Vec<f64>,
}

impl Welford {
    /// Empty accumulator in `dim` dimensions.
    pub fn new(dim: usize) -> Self {
        Self {
            n: 0.0,
            mean: vec![0.0; dim],
            m2: vec![0.0; dim],
        }
    }

    /// Add one point.
    pub fn add(&mut self, x: &[f64]) {
        self.n += 1.0;
        for j in 0..x.len() {
            let delta = x[j] - self.mean[j];
            self.mean[j] += delta / self.n;
            self.m2[j] += delta * (x[j] - self.mean[j]);
        }
    }

    /// Stan's regularised variance estimate,
    /// n/(n + 5) var + 1e-3 * 5/(n + 5), which shrinks towards 1e-3 when few
    /// points were seen.
    pub fn regularized_variance(&self) -> Vec<f64> {
        let n = self.n;
        self.m2
            .iter()
            .map(|m2| {
                let var = if n > 1.0 { m2 / (n - 1.0) } else { 1.0 };
                (n / (n + 5.0)) * var + 1e-3 * (5.0 / (n + 5.0))
            })
            .collect()
    }
}

/// Running mean and covariance (Welford), pooled over chains, for a dense
/// mass matrix.
#[derive(Clone, Debug, PartialEq)]
pub struct WelfordCov {
    n: f64,
    mean: Vec<f64>,
    m2: Vec<f64>,
    delta: Vec<f64>,
}

impl WelfordCov {
    /// Empty accumulator in `dim` dimensions.
    pub fn new(dim: usize) -> Self {
        Self {
            n: 0.0,
            mean: vec![0.0; dim],
            m2: vec![0.0; dim * dim],
            delta: vec![0.0; dim],
        }
    }

    /// Add one point: with delta = x - mean (before) and the updated mean,
    /// m2 += delta (x - mean)^T.
    pub fn add(&mut self, x: &[f64]) {
        let d = x.len();
        self.n += 1.0;
        for j in 0..d {
            self.delta[j] = x[j] - self.mean[j];
            self.mean[j] += self.delta[j] / self.n;
        }
        for i in 0..d {
            let di = self.delta[i];
            let row = &mut self.m2[i * d..(i + 1) * d];
            for j in 0..d {
                row[j] += di * (x[j] - self.mean[j]);
            }
        }
    }

    /// Stan's regularised covariance estimate,
    /// n/(n + 5) cov + 1e-3 * 5/(n + 5) I (row-major), symmetrised.
    pub fn regularized_covariance(&self) -> Vec<f64> {
        let (n, d) = (self.n, self.mean.len());
        let shrink = n / (n + 5.0);
        let mut out = vec![0.0; d * d];
        for i in 0..d {
            for j in 0..d {
                let c = if n > 1.0 {
                    0.5 * (self.m2[i * d + j] + self.m2[j * d + i]) / (n - 1.0)
                } else {
                    (i == j) as u8 as f64
                };
                out[i * d + j] = shrink * c + if i == j { 1e-3 * (5.0 / (n + 5.0)) } else { 0.0 };
            }
        }
        out
    }
}

/// Stan's warm-up windows: a fast initial buffer (75 iterations), slow
/// windows doubling from 25 in which the mass matrix is estimated, and a
/// terminal fast buffer (50). Returns the iterations (0-based, within
/// warm-up) at which a slow window *ends*. Short warm-ups scale the buffers
/// to 15% / 75% / 10%.
pub fn mass_window_ends(warmup: usize) -> Vec<usize> {
    let (mut init, mut term, mut base) = (75usize, 50usize, 25usize);
    if warmup < init + term + base {
        init = warmup * 15 / 100;
        term = warmup / 10;
        base = warmup - init - term;
    }
    let mut ends = Vec::new();
    if base == 0 {
        return ends;
    }
    let slow_end = warmup - term;
    let mut start = init;
    let mut w = base;
    while start < slow_end {
        let mut end = start + w;
        // The last window absorbs what would be too short a next window.
        if end + 2 * w > slow_end {
            end = slow_end;
        }
        ends.push(end);
        start = end;
        w *= 2;
    }
    ends
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_match_stan_for_1000_iterations() {
        // 75 init, windows 25, 50, 100, 200, 500 (last stretched to 950), 50 term.
        assert_eq!(mass_window_ends(1000), vec![100, 150, 250, 450, 950]);
        assert_eq!(mass_window_ends(500), vec![100, 150, 250, 450]);
        assert!(mass_window_ends(20).iter().all(|&e| e <= 20));
    }

    #[test]
    fn welford_covariance_is_the_sample_covariance() {
        let pts = [[1.0, 2.0], [3.0, 1.0], [0.0, 0.0], [4.0, 5.0]];
        let mut w = WelfordCov::new(2);
        for p in &pts {
            w.add(p);
        }
        let m = [2.0, 2.0];
        let c = |i: usize, j: usize| pts.iter().map(|p| (p[i] - m[i]) * (p[j] - m[j])).sum::<f64>() / 3.0;
        let r = w.regularized_covariance();
        for i in 0..2 {
            for j in 0..2 {
                let want = 4.0 / 9.0 * c(i, j) + if i == j { 1e-3 * 5.0 / 9.0 } else { 0.0 };
                assert!((r[i * 2 + j] - want).abs() < 1e-12);
            }
        }
    }

    #[test]
    fn dual_averaging_moves_towards_target() {
        let mut da = DualAveraging::new(1.0, 0.8);
        // Acceptance always too low: the step size must shrink.
        for _ in 0..50 {
            da.update(0.2);
        }
        assert!(da.final_step_size() < 1.0);
    }
}
