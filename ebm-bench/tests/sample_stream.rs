//! `ebm sample --out` streams draws to disk: 100,000 chains x 100 draws
//! x 2-D is a 160 MB .npy file, written while the process's peak memory
//! stays far below the size of the draws. The peak is the child's VmHWM
//! (high-water mark of resident memory) from /proc, read until it exits.
#![cfg(target_os = "linux")]

use std::process::{Command, Stdio};
use std::time::Duration;

/// VmHWM of process `pid` in KiB, if it is still running.
fn peak_rss_kib(pid: u32) -> Option<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

#[test]
fn draws_stream_to_disk_with_bounded_memory() {
    let dir = std::env::temp_dir().join(format!("ebm-stream-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let model = dir.join("gmm.json");
    std::fs::write(
        &model,
        r#"{"type":"gmm","weights":[0.5,0.5],"means":[[-2,0],[2,0]],"stds":[0.5,0.5]}"#,
    )
    .unwrap();
    let out = dir.join("draws.npy");
    let (chains, draws, dim) = (100_000usize, 100usize, 2usize);
    let mut child = Command::new(env!("CARGO_BIN_EXE_ebm"))
        .args(["sample", "--model", model.to_str().unwrap(), "--sampler", "ula"])
        .args(["--chains", &chains.to_string(), "--steps", &draws.to_string()])
        .args(["--burn-in", "20", "--step-size", "0.05", "--seed", "1"])
        .args(["--out", out.to_str().unwrap(), "--json"])
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    // the high-water mark only grows: the last reading before exit is the
    // peak up to a few milliseconds before the end (the final flush and
    // rename allocate nothing large)
    let mut peak_kib = 0.0f64;
    let status = loop {
        if let Some(kib) = peak_rss_kib(child.id()) {
            peak_kib = peak_kib.max(kib);
        }
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    assert!(status.success());
    assert!(peak_kib > 0.0, "no reading of the child's memory");
    let bytes = std::fs::metadata(&out).unwrap().len();
    let payload = (chains * draws * dim * 8) as u64;
    assert_eq!(bytes, payload + 128, "header (128 bytes) and every draw");
    let peak_mib = peak_kib / 1024.0;
    let payload_mib = payload as f64 / (1024.0 * 1024.0);
    // holding the draws would need at least their 153 MiB; streaming keeps
    // the chains (1.6 MB), the diagnostic chains' draws (1024 x 100 x 2 x 8
    // = 1.6 MB) and a 1 MiB write buffer, so a bound of half the payload
    // leaves ample room for the allocator and the binary itself
    assert!(
        peak_mib < payload_mib / 2.0,
        "peak {peak_mib:.0} MiB for {payload_mib:.0} MiB of draws"
    );

    // the file is a valid .npy of that shape, ending in finite draws
    let data = std::fs::read(&out).unwrap();
    let header = String::from_utf8_lossy(&data[10..128]);
    assert!(header.contains("'shape': (100, 100000, 2)"), "{header}");
    let last = f64::from_le_bytes(data[data.len() - 8..].try_into().unwrap());
    assert!(last.is_finite() && last.abs() < 10.0);
    let _ = std::fs::remove_dir_all(&dir);
}
