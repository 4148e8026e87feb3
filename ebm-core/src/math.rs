//! Numerically stable scalar helpers used by every energy.

/// log(2 pi).
pub const LN_2PI: f64 = 1.837_877_066_409_345_3;

/// softplus(a) = log(1 + e^a), accurate for all finite a (no overflow for
/// large a, no loss of precision for very negative a).
#[inline]
pub fn softplus(a: f64) -> f64 {
    if a > 0.0 {
        a + (-a).exp().ln_1p()
    } else {
        a.exp().ln_1p()
    }
}

/// The logistic function sigma(a) = 1 / (1 + e^-a), the derivative of
/// [`softplus`]; stable for large |a|.
#[inline]
pub fn sigmoid(a: f64) -> f64 {
    if a >= 0.0 {
        1.0 / (1.0 + (-a).exp())
    } else {
        let e = a.exp();
        e / (1.0 + e)
    }
}

/// log sum_i exp(a_i), computed stably by factoring out the maximum.
/// Returns `-inf` for an empty slice or when every term is `-inf`.
pub fn log_sum_exp(values: &[f64]) -> f64 {
    let mut acc = LogSumExp::new();
    for &v in values {
        acc.add(v);
    }
    acc.value()
}

/// A streaming log-sum-exp: `add` terms one at a time, read
/// log sum_i exp(a_i) with [`LogSumExp::value`]. Keeps the running
/// maximum m and s = sum_i exp(a_i - m), rescaling s when m grows.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LogSumExp {
    max: f64,
    sum: f64,
}

impl Default for LogSumExp {
    fn default() -> Self {
        Self::new()
    }
}

impl LogSumExp {
    /// An empty sum (value `-inf`).
    pub fn new() -> Self {
        Self {
            max: f64::NEG_INFINITY,
            sum: 0.0,
        }
    }

    /// Add the term exp(`a`).
    #[inline]
    pub fn add(&mut self, a: f64) {
        if a == f64::NEG_INFINITY {
            return;
        }
        if a <= self.max {
            self.sum += (a - self.max).exp();
        } else {
            self.sum = self.sum * (self.max - a).exp() + 1.0;
            self.max = a;
        }
    }

    /// Merge another partial sum into this one (log-sum-exp is associative,
    /// so chunks summed separately combine exactly).
    pub fn merge(&mut self, other: LogSumExp) {
        if other.max == f64::NEG_INFINITY {
            return;
        }
        if self.max == f64::NEG_INFINITY {
            *self = other;
        } else if other.max <= self.max {
            self.sum += other.sum * (other.max - self.max).exp();
        } else {
            self.sum = self.sum * (self.max - other.max).exp() + other.sum;
            self.max = other.max;
        }
    }

    /// log sum_i exp(a_i) over the terms added so far.
    pub fn value(&self) -> f64 {
        if self.max == f64::NEG_INFINITY {
            f64::NEG_INFINITY
        } else {
            self.max + self.sum.ln()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn softplus_is_stable_at_extremes() {
        assert_eq!(softplus(1000.0), 1000.0);
        assert!((softplus(-800.0) - (-800.0f64).exp()).abs() < 1e-300);
        assert!((softplus(0.0) - 2f64.ln()).abs() < 1e-15);
    }

    #[test]
    fn sigmoid_matches_definition_and_symmetry() {
        for &a in &[-30.0, -2.0, 0.0, 0.5, 40.0] {
            assert!((sigmoid(a) + sigmoid(-a) - 1.0).abs() < 1e-15);
            assert!((sigmoid(a) - 1.0 / (1.0 + (-a).exp())).abs() < 1e-15);
        }
    }

    #[test]
    fn log_sum_exp_handles_huge_and_empty() {
        assert_eq!(log_sum_exp(&[]), f64::NEG_INFINITY);
        let v = log_sum_exp(&[1000.0, 1000.0]);
        assert!((v - (1000.0 + 2f64.ln())).abs() < 1e-12);
        let mut a = LogSumExp::new();
        a.add(1.0);
        a.add(-3.0);
        let mut b = LogSumExp::new();
        b.add(7.0);
        a.merge(b);
        assert!((a.value() - log_sum_exp(&[1.0, -3.0, 7.0])).abs() < 1e-14);
    }
}
