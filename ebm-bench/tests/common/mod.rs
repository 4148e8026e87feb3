//! Shared by the command-line tests: a scratch directory removed on drop,
//! running `ebm`, and writing .npy files.
#![allow(dead_code)]

use std::path::PathBuf;
use std::process::Command;

/// A fresh directory under the system temp dir, unique to this test
/// process and `name`, removed when dropped.
pub struct Scratch(pub PathBuf);

impl Scratch {
    pub fn new(name: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("ebm-test-{name}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        Scratch(dir)
    }

    /// The path of `name` inside the directory (not created).
    pub fn path(&self, name: &str) -> String {
        self.0.join(name).to_string_lossy().into_owned()
    }

    /// Write `bytes` to `name` inside the directory; returns its path.
    pub fn file(&self, name: &str, bytes: impl AsRef<[u8]>) -> String {
        let p = self.path(name);
        std::fs::write(&p, bytes).unwrap();
        p
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Run `ebm` with `args`: (exit status, stdout, stderr).
pub fn ebm(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_ebm"))
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Run `ebm` with `args` and require what bad input must give: exit
/// status 2 and one line on stderr that contains `want`.
#[allow(dead_code)]
pub fn refused(args: &[&str], want: &str) {
    let (code, _, err) = ebm(args);
    assert_eq!(code, 2, "{args:?}: {err}");
    assert!(
        err.contains(want) && err.trim().lines().count() == 1,
        "{args:?}: {err}"
    );
}

/// A version-1.0 float64 .npy file holding `values` (C order) under the
/// header shape `shape`, e.g. "(3, 2)"; the shape is not checked against
/// the values, so tests can write inconsistent files on purpose.
pub fn npy(shape: &str, values: &[f64]) -> Vec<u8> {
    let mut header = format!("{{'descr': '<f8', 'fortran_order': False, 'shape': {shape}, }}");
    while (10 + header.len() + 1) % 64 != 0 {
        header.push(' ');
    }
    header.push('\n');
    let mut out = b"\x93NUMPY\x01\x00".to_vec();
    out.extend_from_slice(&(header.len() as u16).to_le_bytes());
    out.extend_from_slice(header.as_bytes());
    values
        .iter()
        .for_each(|v| out.extend_from_slice(&v.to_le_bytes()));
    out
}
