//! Guards against requests that would exhaust memory: checked before
//! anything is allocated, so an absurd size is a one-line error (exit
//! status 2) instead of an allocation failure that aborts the process.

use crate::error::{CliError, CliResult};

/// The most f64 values one buffer of a run may hold: 1e8 (800 MB). A
/// sampler keeps about five such buffers (positions, gradients, proposals,
/// momenta), so this bounds a run at a few GB.
pub const MAX_VALUES: u64 = 100_000_000;

/// Fail unless `count` rows of `width` values fit under [`MAX_VALUES`];
/// `what` names the request in the message ("--chains 1e9 x dimension 2").
pub fn check_size(what: &str, count: usize, width: usize) -> CliResult<()> {
    let total = (count as u64).checked_mul(width as u64);
    match total {
        Some(t) if t <= MAX_VALUES => Ok(()),
        _ => Err(CliError::Unsupported(format!(
            "{what} is too large: {count} x {width} values exceed the limit of {MAX_VALUES}"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limit_is_inclusive_and_overflow_safe() {
        assert!(check_size("x", 10_000, 10_000).is_ok());
        assert!(check_size("x", 10_001, 10_000).is_err());
        assert!(check_size("x", usize::MAX, usize::MAX).is_err());
        let m = check_size("--chains", 1 << 40, 2).unwrap_err().to_string();
        assert!(m.contains("--chains") && m.contains("too large"), "{m}");
    }
}
