//! The process's peak memory, for reports.

/// The peak resident set size of this process so far, in MiB: `VmHWM` of
/// `/proc/self/status` on Linux; None where that is not available.
pub fn peak_rss_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

#[cfg(test)]
mod tests {
    #[test]
    fn peak_grows_with_a_large_allocation() {
        let Some(before) = super::peak_rss_mib() else {
            return; // not Linux
        };
        // 64 MiB touched page by page
        let v = vec![1u8; 64 << 20];
        let after = super::peak_rss_mib().expect("still readable");
        assert!(v.iter().step_by(4096).all(|&b| b == 1));
        assert!(after >= before && after >= 64.0, "{before} -> {after}");
    }
}
