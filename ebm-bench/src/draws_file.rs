//! Writing draws as CSV or .npy, streamed and atomic (temp file, then
//! rename), and reading `.npy` draws back a pass at a time (a run's own
//! file, or the shards that `ebm merge` puts together).

use crate::error::{CliError, CliResult};
use ebm_samplers::diagnostics::ChainSeries;
use ebm_samplers::driver::Diagnostics;
use std::fs::{File, OpenOptions};
use std::io::{BufReader, BufWriter, Read, Seek, SeekFrom, Write};
use std::ops::Range;
use std::path::{Path, PathBuf};

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
            parts: vec![DrawsPart {
                file,
                path: self.path.clone(),
                header: self.header as u64,
                n_chains: self.width / self.dim.max(1),
            }],
            n_draws: self.n_draws,
            dim: self.dim,
        }))
    }
}

/// One file's share of a [`DrawsReader`]'s chains: `n_chains` chains a
/// draw, float64 little-endian from byte `header` on.
struct DrawsPart {
    file: File,
    path: String,
    header: u64,
    n_chains: usize,
}

/// Draws laid out `(draws, chains, dim)` read back from `.npy` files, a
/// pass over the files at a time: the file [`DrawWriter`] wrote (still
/// open, so the same bytes whatever happens to its name since), or the
/// shards of a run (`ebm merge`), each holding the next chains of every
/// draw. Nothing but the draws being read is held in memory.
pub struct DrawsReader {
    parts: Vec<DrawsPart>,
    n_draws: usize,
    dim: usize,
}

/// Bytes of read buffer that a pass shares among the files it reads.
const READ_BUFFER_BYTES: usize = 8 << 20;

impl DrawsReader {
    /// The shards' `.npy` files `files` (path, chains), in chain order,
    /// each checked to hold float64 draws of shape (`n_draws`, chains,
    /// `dim`) and nothing else.
    pub fn open_shards(files: &[(&str, usize)], n_draws: usize, dim: usize) -> CliResult<Self> {
        let parts = files
            .iter()
            .map(|&(path, n_chains)| open_part(path, n_draws, n_chains, dim))
            .collect::<CliResult<Vec<_>>>()?;
        Ok(Self { parts, n_draws, dim })
    }

    /// Chains in all the files.
    pub fn n_chains(&self) -> usize {
        self.parts.iter().map(|p| p.n_chains).sum()
    }

    /// One pass over the files: `each(t, states)` for every draw t in
    /// order, with `states` the first `keep` chains' values (`[chain][coord]`,
    /// chains in order across the files); the other chains are skipped.
    pub fn for_each_draw(
        &mut self,
        keep: usize,
        mut each: impl FnMut(usize, &[f64]) -> CliResult<()>,
    ) -> CliResult<()> {
        let d = self.dim;
        let keep = keep.min(self.n_chains());
        let buffer = (READ_BUFFER_BYTES / self.parts.len().max(1)).max(64 << 10);
        // (reader, chains read, bytes skipped) per file that holds kept chains
        let mut readers = Vec::new();
        let mut left = keep;
        for part in &mut self.parts {
            if left == 0 {
                break;
            }
            let take = left.min(part.n_chains);
            left -= take;
            let path = part.path.clone();
            part.file
                .seek(SeekFrom::Start(part.header))
                .map_err(|source| CliError::Io {
                    path: path.clone(),
                    source,
                })?;
            let skip = ((part.n_chains - take) * d * 8) as i64;
            readers.push((BufReader::with_capacity(buffer, &mut part.file), path, take, skip));
        }
        let mut bytes = vec![0u8; keep * d * 8];
        let mut states = vec![0.0; keep * d];
        for t in 0..self.n_draws {
            let mut at = 0;
            for (reader, path, take, skip) in &mut readers {
                let io_err = |source| CliError::Io {
                    path: path.clone(),
                    source,
                };
                let n = *take * d * 8;
                reader.read_exact(&mut bytes[at..at + n]).map_err(io_err)?;
                if *skip > 0 {
                    reader.seek_relative(*skip).map_err(io_err)?;
                }
                at += n;
            }
            for (v, b) in states.iter_mut().zip(bytes.chunks_exact(8)) {
                *v = f64::from_le_bytes(b.try_into().expect("eight bytes"));
            }
            each(t, &states)?;
        }
        Ok(())
    }

    /// The coordinates `coords` of the first `keep` chains of every draw,
    /// as series (one pass over the files).
    pub fn series(&mut self, keep: usize, coords: Range<usize>) -> CliResult<ChainSeries> {
        let d = self.dim;
        if coords.end > d {
            return Err(CliError::Unsupported(format!(
                "{}: coordinates {coords:?} of {d}",
                self.parts.first().map_or("draws", |p| p.path.as_str())
            )));
        }
        let keep = keep.min(self.n_chains());
        let g = coords.len();
        let mut chosen = vec![0.0; keep * g];
        let mut series = ChainSeries::new(self.n_draws, keep, g);
        self.for_each_draw(keep, |_, states| {
            for (to, chain) in chosen.chunks_exact_mut(g.max(1)).zip(states.chunks_exact(d)) {
                to.copy_from_slice(&chain[coords.clone()]);
            }
            series.push_draw(&chosen);
            Ok(())
        })?;
        series.finish();
        Ok(series)
    }

    /// The diagnostics of the first `keep` chains, read `budget` bytes of
    /// draws (or one coordinate's) at a time, a pass over the files per
    /// group of coordinates: the same values as from the draws kept in
    /// memory.
    pub fn diagnostics(&mut self, keep: usize, budget: usize) -> CliResult<Diagnostics> {
        let (n, d) = (self.n_draws, self.dim);
        let keep = keep.min(self.n_chains());
        let per_coordinate = (n * keep * 8).max(1);
        let group = (budget / per_coordinate).clamp(1, d.max(1));
        let mut diag = Diagnostics::default();
        for first in (0..d).step_by(group) {
            let mut series = self.series(keep, first..(first + group).min(d))?;
            diag.append(Diagnostics::of_series(&mut series));
        }
        Ok(diag)
    }
}

/// Open the `.npy` file at `path` as a shard's draws: a valid preamble,
/// float64 little-endian in C order, shape (`n_draws`, `n_chains`,
/// `dim`), and exactly that many bytes after the header.
fn open_part(path: &str, n_draws: usize, n_chains: usize, dim: usize) -> CliResult<DrawsPart> {
    let data_err = |message: String| CliError::Data {
        path: path.into(),
        message,
    };
    let io_err = |source| CliError::Io {
        path: path.into(),
        source,
    };
    let mut file = File::open(path).map_err(io_err)?;
    let len = file.metadata().map_err(io_err)?.len();
    // the preamble and header (ours take 128 bytes; 1 MiB is plenty)
    let mut head = Vec::new();
    (&mut file).take(1 << 20).read_to_end(&mut head).map_err(io_err)?;
    let offset = crate::points_file::npy_data_offset(&head, len).map_err(data_err)?;
    let header = npyz::NpyHeader::from_reader(&head[..])
        .map_err(|e| data_err(format!("not a valid .npy file: {e}")))?;
    let shape = header.shape().to_vec();
    let want = [n_draws as u64, n_chains as u64, dim as u64];
    let descr = header.dtype().descr();
    if shape != want || descr.trim_matches('\'') != "<f8" || header.order() != npyz::Order::C {
        return Err(data_err(format!(
            "expected the shard's draws, float64 of shape ({n_draws}, {n_chains}, {dim}) in C order; got {descr} of shape {shape:?}{}",
            if header.order() == npyz::Order::C { "" } else { " in Fortran order" }
        )));
    }
    let data = (n_draws as u64)
        .checked_mul(n_chains as u64)
        .and_then(|v| v.checked_mul(dim as u64))
        .and_then(|v| v.checked_mul(8));
    if data.and_then(|b| b.checked_add(offset as u64)) != Some(len) {
        return Err(data_err(format!(
            "the file has {} bytes of data where shape ({n_draws}, {n_chains}, {dim}) needs {}",
            len - offset as u64,
            data.map_or("more than can be counted".into(), |b| b.to_string())
        )));
    }
    Ok(DrawsPart {
        file,
        path: path.into(),
        header: offset as u64,
        n_chains,
    })
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

#[cfg(test)]
mod tests {
    use super::*;

    /// A scratch path in the temp directory, tagged with the process.
    fn scratch(name: &str) -> String {
        let p = std::env::temp_dir().join(format!("ebm-draws-{}-{name}", std::process::id()));
        p.to_string_lossy().into_owned()
    }

    /// The value of chain `c`, coordinate `j` at draw `t`.
    fn value(t: usize, c: usize, j: usize) -> f64 {
        ((t * 31 + c * 7 + j * 3) % 23) as f64 / 4.0 - 2.5 + c as f64
    }

    /// Shards of 3, 1 and 4 chains read as one file of the 8: every draw
    /// of the first `keep` chains in order (cutting a shard, ending at
    /// one's end, all of them), the series of a group of coordinates, and
    /// the diagnostics in groups, against the values written.
    #[test]
    fn shards_read_as_one_file() {
        let (n, d, sizes) = (37, 3, [3usize, 1, 4]);
        let mut files = Vec::new();
        let mut first = 0;
        for (k, &chains) in sizes.iter().enumerate() {
            let path = scratch(&format!("shard{k}.npy"));
            let mut w = DrawWriter::create(&path, n, chains, d).unwrap();
            for t in 0..n {
                let states: Vec<f64> = (first..first + chains)
                    .flat_map(|c| (0..d).map(move |j| value(t, c, j)))
                    .collect();
                w.write_draw(t, &states).unwrap();
            }
            w.finish().unwrap();
            files.push((path, chains));
            first += chains;
        }
        let list: Vec<(&str, usize)> = files.iter().map(|(p, c)| (p.as_str(), *c)).collect();
        let mut reader = DrawsReader::open_shards(&list, n, d).unwrap();
        assert_eq!(reader.n_chains(), 8);
        for keep in [2, 4, 5, 8, 20] {
            let mut seen = 0;
            reader
                .for_each_draw(keep, |t, states| {
                    let want: Vec<f64> = (0..keep.min(8))
                        .flat_map(|c| (0..d).map(move |j| value(t, c, j)))
                        .collect();
                    assert_eq!(states, &want[..], "keep {keep}, draw {t}");
                    seen += 1;
                    Ok(())
                })
                .unwrap();
            assert_eq!(seen, n);
        }
        let keep = 5;
        let mut all = Vec::new();
        for t in 0..n {
            all.extend((0..keep).flat_map(|c| (0..d).map(move |j| value(t, c, j))));
        }
        let want = Diagnostics::of_draws(&all, n, keep, d);
        for budget in [n * keep * 8, usize::MAX] {
            let got = reader.diagnostics(keep, budget).unwrap();
            assert_eq!(format!("{got:?}"), format!("{want:?}"), "budget {budget}");
        }
        let series = reader.series(keep, 1..3).unwrap();
        let mut again = ChainSeries::new(n, keep, 2);
        for t in 0..n {
            let states: Vec<f64> = (0..keep).flat_map(|c| [value(t, c, 1), value(t, c, 2)]).collect();
            again.push_draw(&states);
        }
        again.finish();
        assert_eq!(format!("{series:?}"), format!("{again:?}"));
        for (p, _) in &files {
            std::fs::remove_file(p).ok();
        }
    }

    /// A shard's file of another shape, a cut-off or padded file, float32
    /// values or no .npy at all is refused with a line naming the file.
    #[test]
    fn wrong_shard_files_are_refused() {
        let (n, chains, d) = (5, 2, 3);
        let path = scratch("good.npy");
        let mut w = DrawWriter::create(&path, n, chains, d).unwrap();
        for t in 0..n {
            w.write_draw(t, &[t as f64; 6]).unwrap();
        }
        w.finish().unwrap();
        let bytes = std::fs::read(&path).unwrap();
        let open = |p: &str, n: usize, chains: usize| match DrawsReader::open_shards(&[(p, chains)], n, d) {
            Ok(_) => String::new(),
            Err(e) => e.to_string(),
        };
        assert_eq!(open(&path, n, chains), "");
        let shape = open(&path, n + 1, chains);
        assert!(
            shape.contains("shape (6, 2, 3)") && shape.contains("good.npy"),
            "{shape}"
        );
        let cut = scratch("cut.npy");
        std::fs::write(&cut, &bytes[..bytes.len() - 8]).unwrap();
        assert!(
            open(&cut, n, chains).contains("bytes of data"),
            "{}",
            open(&cut, n, chains)
        );
        let padded = scratch("padded.npy");
        std::fs::write(&padded, [&bytes[..], &[0u8; 8]].concat()).unwrap();
        assert!(open(&padded, n, chains).contains("bytes of data"));
        let f4 = scratch("f4.npy");
        let mut b = npy_header("(5, 2, 3)");
        let at = b.windows(3).position(|w| w == b"<f8").unwrap();
        b[at..at + 3].copy_from_slice(b"<f4");
        b.extend(std::iter::repeat_n(0u8, 4 * 30));
        std::fs::write(&f4, b).unwrap();
        assert!(
            open(&f4, n, chains).contains("float64"),
            "{}",
            open(&f4, n, chains)
        );
        let text = scratch("text.npy");
        std::fs::write(&text, "chain,draw,x0\n").unwrap();
        assert!(open(&text, n, chains).contains("not a valid .npy"));
        for p in [path, cut, padded, f4, text] {
            std::fs::remove_file(p).ok();
        }
    }
}
