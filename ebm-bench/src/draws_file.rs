//! Writing draws as CSV or .npy, atomically (temp file, then rename).

use crate::error::{CliError, CliResult};
use std::io::Write;

/// Write draws laid out `[draw][chain][coord]` to `path`: `.npy` gives a
/// float64 array of shape (draws, chains, dim); anything ending in `.csv`
/// gives a header `chain,draw,x0,..` and one row per draw and chain. The
/// file appears complete or not at all.
pub fn write_draws(path: &str, draws: &[f64], n_draws: usize, n_chains: usize, dim: usize) -> CliResult<()> {
    let io_err = |source| CliError::Io {
        path: path.into(),
        source,
    };
    let mut bytes = Vec::new();
    if path.ends_with(".npy") {
        let header =
            format!("{{'descr': '<f8', 'fortran_order': False, 'shape': ({n_draws}, {n_chains}, {dim}), }}");
        // magic (6) + version (2) + header length (2) + header, padded with
        // spaces and a newline to a multiple of 64 bytes.
        let unpadded = 10 + header.len() + 1;
        let pad = (64 - unpadded % 64) % 64;
        let hlen = header.len() + pad + 1;
        bytes.extend_from_slice(b"\x93NUMPY\x01\x00");
        bytes.extend_from_slice(&(hlen as u16).to_le_bytes());
        bytes.extend_from_slice(header.as_bytes());
        bytes.extend(std::iter::repeat_n(b' ', pad));
        bytes.push(b'\n');
        for v in draws {
            bytes.extend_from_slice(&v.to_le_bytes());
        }
    } else if path.ends_with(".csv") {
        let mut head = String::from("chain,draw");
        for j in 0..dim {
            head.push_str(&format!(",x{j}"));
        }
        writeln!(bytes, "{head}").map_err(io_err)?;
        for c in 0..n_chains {
            for t in 0..n_draws {
                write!(bytes, "{c},{t}").map_err(io_err)?;
                for v in &draws[(t * n_chains + c) * dim..(t * n_chains + c + 1) * dim] {
                    write!(bytes, ",{v}").map_err(io_err)?;
                }
                bytes.push(b'\n');
            }
        }
    } else {
        return Err(CliError::Unsupported(format!(
            "--out {path}: the file name must end in .csv or .npy"
        )));
    }
    write_atomically(path, &bytes)
}

/// Write `bytes` to a temporary file beside `path`, then rename it over
/// `path`, so readers never see a partial file.
pub fn write_atomically(path: &str, bytes: &[u8]) -> CliResult<()> {
    let io_err = |source| CliError::Io {
        path: path.into(),
        source,
    };
    let target = std::path::Path::new(path);
    let name = target
        .file_name()
        .ok_or_else(|| CliError::Unsupported(format!("{path}: not a file name")))?;
    let tmp = target.with_file_name(format!(".{}.tmp{}", name.to_string_lossy(), std::process::id()));
    std::fs::write(&tmp, bytes).map_err(io_err)?;
    std::fs::rename(&tmp, target).map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        io_err(e)
    })
}
