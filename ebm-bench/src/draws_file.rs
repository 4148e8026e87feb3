//! Writing draws as CSV or .npy, streamed and atomic (temp file, then
//! rename).

use crate::error::{CliError, CliResult};
use ebm_samplers::diagnostics::ChainSeries;
use std::fs::{File, OpenOptions};
use std::io::{BufReader, BufWriter, Read, Seek, SeekFrom, Write};
use std::ops::Range;
use std::path::{Path, PathBuf};

/// Write draws laid out `[draw][chain][coord]` to `path` in one go (see
/// [`DrawWriter`] for the formats). The file appears complete or not at
/// all.
pub fn write_draws(path: &str, draws: &[f64], n_draws: usize, n_chains: usize, dim: usize) -> CliResult<()> {
    let mut w = DrawWriter::create(path, n_draws, n_chains, dim)?;
    for (t, states) in draws.chunks_exact(n_chains * dim).enumerate() {
        w.write_draw(t, states)?;
    }
    w.finish()
}

/// Streams draws to disk one draw (all chains) at a time, so a run never
/// holds them all: `.npy` gives a float64 array of shape (draws, chains,
/// dim); `.csv` a header `chain,draw,x0,..` and one row per draw and
/// chain, draw by draw. The rows go to a temporary file beside `path`
/// that [`DrawWriter::finish`] renames over it, so the file appears
/// complete or not at all; dropped unfinished, the temporary file is
/// removed.
pub struct DrawWriter {
    path: String,
    tmp: PathBuf,
    out: Option<BufWriter<File>>,
    csv: bool,
    n_draws: usize,
    width: usize,
    dim: usize,
    written: usize,
    /// Bytes before the first draw.
    header: usize,
}

impl DrawWriter {
    /// Start the file for `n_draws` draws of `n_chains` chains in `dim`
    /// dimensions (the .npy header states the shape up front).
    pub fn create(path: &str, n_draws: usize, n_chains: usize, dim: usize) -> CliResult<Self> {
        let csv = if path.ends_with(".npy") {
            false
        } else if path.ends_with(".csv") {
            true
        } else {
            return Err(CliError::Unsupported(format!(
                "--out {path}: the file name must end in .csv or .npy"
            )));
        };
        let tmp = temp_beside(path)?;
        // open for reading too: a run's diagnostics may read the draws
        // back from the finished file
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(&tmp)
            .map_err(|source| CliError::Io {
                path: path.into(),
                source,
            })?;
        let mut w = Self {
            path: path.into(),
            tmp,
            out: Some(BufWriter::with_capacity(1 << 20, file)),
            csv,
            n_draws,
            width: n_chains * dim,
            dim,
            written: 0,
            header: 0,
        };
        let mut head = Vec::new();
        if csv {
            head.extend_from_slice(b"chain,draw");
            for j in 0..dim {
                head.extend_from_slice(format!(",x{j}").as_bytes());
            }
            head.push(b'\n');
        } else {
            head = npy_header(&format!("({n_draws}, {n_chains}, {dim})"));
        }
        w.put(&head)?;
        w.header = head.len();
        Ok(w)
    }

    fn put(&mut self, bytes: &[u8]) -> CliResult<()> {
        let out = self.out.as_mut().expect("open until finish");
        out.write_all(bytes).map_err(|source| CliError::Io {
            path: self.path.clone(),
            source,
        })
    }

    /// Append draw `t`: the states of every chain, `[chain][coord]`.
    pub fn write_draw(&mut self, t: usize, states: &[f64]) -> CliResult<()> {
        debug_assert_eq!(states.len(), self.width);
        let mut row = Vec::with_capacity(if self.csv { 24 * self.width } else { 8 * self.width });
        if self.csv {
            for (c, x) in states.chunks_exact(self.dim).enumerate() {
                let _ = write!(row, "{c},{t}");
                for v in x {
                    let _ = write!(row, ",{v}");
                }
                row.push(b'\n');
            }
        } else {
            for v in states {
                row.extend_from_slice(&v.to_le_bytes());
            }
        }
        self.put(&row)?;
        self.written += 1;
        Ok(())
    }

    /// Whether [`DrawWriter::finish_for_reading`] gives the draws back
    /// (a `.npy` file; CSV does not).
    pub fn reads_back(&self) -> bool {
        !self.csv
    }

    /// Flush and move the file into place; fails if fewer draws were
    /// written than the header promised.
    pub fn finish(self) -> CliResult<()> {
        self.finish_for_reading().map(drop)
    }

    /// [`DrawWriter::finish`], keeping the file open to read the draws
    /// back: a `.npy` file gives a [`DrawsReader`] (None for CSV).
    pub fn finish_for_reading(mut self) -> CliResult<Option<DrawsReader>> {
        if self.written != self.n_draws {
            return Err(CliError::Unsupported(format!(
                "{}: {} of {} draws were written",
                self.path, self.written, self.n_draws
            )));
        }
        let out = self.out.take().expect("open until finish");
        let io_err = |source| CliError::Io {
            path: self.path.clone(),
            source,
        };
        let file = out.into_inner().map_err(|e| io_err(e.into_error()))?;
        file.sync_all().map_err(io_err)?;
        std::fs::rename(&self.tmp, &self.path).map_err(io_err)?;
        Ok(self.reads_back().then(|| DrawsReader {
            file,
            path: self.path.clone(),
            header: self.header,
            n_draws: self.n_draws,
            n_chains: self.width / self.dim.max(1),
            dim: self.dim,
        }))
    }
}

/// The draws of a finished `.npy` file read back from the file that
/// [`DrawWriter`] wrote (still open, so the same bytes whatever happens to
/// the name since), a group of coordinates at a time.
pub struct DrawsReader {
    file: File,
    path: String,
    header: usize,
    n_draws: usize,
    n_chains: usize,
    dim: usize,
}

impl DrawsReader {
    /// The coordinates `coords` of the first `keep` chains of every draw,
    /// as series (one pass over the file).
    pub fn series(&mut self, keep: usize, coords: Range<usize>) -> CliResult<ChainSeries> {
        let (d, g) = (self.dim, coords.len());
        if coords.end > d {
            return Err(CliError::Unsupported(format!(
                "{}: coordinates {coords:?} of {d}",
                self.path
            )));
        }
        let keep = keep.min(self.n_chains);
        let io_err = |source| CliError::Io {
            path: self.path.clone(),
            source,
        };
        self.file
            .seek(SeekFrom::Start(self.header as u64))
            .map_err(io_err)?;
        let mut reader = BufReader::with_capacity(8 << 20, &mut self.file);
        // the kept chains lead each draw; the rest is skipped
        let mut row = vec![0u8; keep * d * 8];
        let skip = ((self.n_chains - keep) * d * 8) as i64;
        let mut states = vec![0.0; keep * g];
        let mut series = ChainSeries::new(self.n_draws, keep, g);
        for _ in 0..self.n_draws {
            reader.read_exact(&mut row).map_err(io_err)?;
            for (c, chain) in row.chunks_exact(d * 8).enumerate() {
                for (k, j) in coords.clone().enumerate() {
                    let mut bytes = [0u8; 8];
                    bytes.copy_from_slice(&chain[8 * j..8 * j + 8]);
                    states[c * g + k] = f64::from_le_bytes(bytes);
                }
            }
            series.push_draw(&states);
            if skip > 0 {
                reader.seek_relative(skip).map_err(io_err)?;
            }
        }
        series.finish();
        Ok(series)
    }
}

impl Drop for DrawWriter {
    fn drop(&mut self) {
        if self.out.take().is_some() {
            let _ = std::fs::remove_file(&self.tmp);
        }
    }
}

/// The header of a version-1.0 float64, C-order `.npy` file of shape
/// `shape` (e.g. "(3, 2)"): magic (6 bytes), version (2), header length
/// (2) and the header dictionary, padded with spaces and a newline to a
/// multiple of 64 bytes.
pub fn npy_header(shape: &str) -> Vec<u8> {
    let header = format!("{{'descr': '<f8', 'fortran_order': False, 'shape': {shape}, }}");
    let unpadded = 10 + header.len() + 1;
    let pad = (64 - unpadded % 64) % 64;
    let hlen = header.len() + pad + 1;
    let mut head = b"\x93NUMPY\x01\x00".to_vec();
    head.extend_from_slice(&(hlen as u16).to_le_bytes());
    head.extend_from_slice(header.as_bytes());
    head.extend(std::iter::repeat_n(b' ', pad));
    head.push(b'\n');
    head
}

/// Write `points` to `path` atomically: `.npy` as a float64 array of
/// shape (n, d), anything else as CSV with a header `x0,x1,..` and every
/// value in the shortest form that reads back to the same bits.
pub fn write_points(path: &str, points: &ebm_core::Points) -> CliResult<()> {
    let d = points.dim();
    let bytes = if path.ends_with(".npy") {
        let mut b = npy_header(&format!("({}, {d})", points.len()));
        for v in points.as_slice() {
            b.extend_from_slice(&v.to_le_bytes());
        }
        b
    } else {
        let mut text = (0..d).map(|j| format!("x{j}")).collect::<Vec<_>>().join(",");
        text.push('\n');
        for row in points.rows() {
            text.push_str(&row.iter().map(|v| format!("{v}")).collect::<Vec<_>>().join(","));
            text.push('\n');
        }
        text.into_bytes()
    };
    write_atomically(path, &bytes)
}

/// Fail now, before any long run, if `path` could not be written later:
/// creates and removes the temporary file that [`write_atomically`] would
/// use beside it.
pub fn check_writable(path: &str) -> CliResult<()> {
    let tmp = temp_beside(path)?;
    File::create(&tmp).map_err(|source| CliError::Io {
        path: path.into(),
        source,
    })?;
    let _ = std::fs::remove_file(&tmp);
    Ok(())
}

/// A temporary file name beside `path` (hidden, tagged with the process).
fn temp_beside(path: &str) -> CliResult<PathBuf> {
    let target = Path::new(path);
    let name = target
        .file_name()
        .ok_or_else(|| CliError::Unsupported(format!("{path}: not a file name")))?;
    Ok(target.with_file_name(format!(".{}.tmp{}", name.to_string_lossy(), std::process::id())))
}

/// Write `bytes` to a temporary file beside `path`, then rename it over
/// `path`, so readers never see a partial file.
pub fn write_atomically(path: &str, bytes: &[u8]) -> CliResult<()> {
    let io_err = |source| CliError::Io {
        path: path.into(),
        source,
    };
    let tmp = temp_beside(path)?;
    std::fs::write(&tmp, bytes).map_err(io_err)?;
    std::fs::rename(&tmp, path).map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        io_err(e)
    })
}
