//! Reading batches of points from CSV files.

use crate::error::{CliError, CliResult};
use ebm_core::Points;

/// Read a CSV file of points, one per row, comma-separated. A first row
/// that is not all numbers is taken as a header and skipped; blank lines
/// and lines starting with `#` are ignored. Errors (naming row and column,
/// counted from 1 as in a spreadsheet) for an empty file, rows of unequal
/// length, text that is not a number, and NaN or infinite values.
pub fn read_points_csv(path: &str) -> CliResult<Points> {
    let file = std::fs::File::open(path).map_err(|source| CliError::Io {
        path: path.into(),
        source,
    })?;
    parse_points_csv(path, file)
}

/// Parse CSV points from `input` as [`read_points_csv`] does; `path`
/// names the source in errors.
pub fn parse_points_csv(path: &str, input: impl std::io::Read) -> CliResult<Points> {
    let data_err = |message: String| CliError::Data {
        path: path.into(),
        message,
    };
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .comment(Some(b'#'))
        .trim(csv::Trim::All)
        .from_reader(input);
    let mut data = Vec::new();
    let mut dim = 0usize;
    let mut rows = 0usize;
    for (k, record) in reader.records().enumerate() {
        let line = k + 1;
        let record = record.map_err(|e| data_err(format!("line {line}: {e}")))?;
        if record.iter().all(str::is_empty) {
            continue;
        }
        let parsed: Vec<Result<f64, _>> = record.iter().map(str::parse::<f64>).collect();
        if rows == 0 && dim == 0 && parsed.iter().any(Result::is_err) {
            // A header row: its width fixes the dimension.
            dim = record.len();
            continue;
        }
        if dim == 0 {
            dim = record.len();
        }
        if record.len() != dim {
            return Err(data_err(format!(
                "line {line} has {} columns, expected {dim}",
                record.len()
            )));
        }
        for (j, (v, text)) in parsed.into_iter().zip(record.iter()).enumerate() {
            let v =
                v.map_err(|_| data_err(format!("line {line}, column {}: `{text}` is not a number", j + 1)))?;
            if !v.is_finite() {
                return Err(data_err(format!(
                    "line {line}, column {}: value {v} is not finite",
                    j + 1
                )));
            }
            data.push(v);
        }
        rows += 1;
    }
    if rows == 0 {
        return Err(data_err("no data rows".into()));
    }
    Points::from_vec(data, dim).map_err(|e| data_err(e.to_string()))
}

/// Read points from `.npy` (a C-order array of shape (n, d), (n,) for
/// d = 1, or (draws, chains, d) as `ebm sample --out` writes, of float64,
/// float32 or integers) or, for any other extension,
/// CSV as [`read_points_csv`]. NaN or infinite values, an empty array and
/// other shapes are errors naming the file.
pub fn read_points(path: &str) -> CliResult<Points> {
    if !path.ends_with(".npy") {
        return read_points_csv(path);
    }
    let bytes = std::fs::read(path).map_err(|source| CliError::Io {
        path: path.into(),
        source,
    })?;
    parse_points_npy(path, &bytes)
}

/// Parse the bytes of a `.npy` file as [`read_points`] does; `path` names
/// the source in errors.
pub fn parse_points_npy(path: &str, bytes: &[u8]) -> CliResult<Points> {
    let data_err = |message: String| CliError::Data {
        path: path.into(),
        message,
    };
    npy_data_offset(bytes, bytes.len() as u64).map_err(data_err)?;
    let open = || npyz::NpyFile::new(bytes).map_err(|e| data_err(format!("not a valid .npy file: {e}")));
    let npy = open()?;
    if npy.order() != npyz::Order::C {
        return Err(data_err(
            "Fortran-order arrays are not supported; save with C order".into(),
        ));
    }
    let shape = npy.shape().to_vec();
    let (n, d) = match shape[..] {
        [n] => (n, 1),
        [n, d] => (n, d),
        // draws as `ebm sample --out` writes them: every chain's draw a row
        [t, c, d] => (t.saturating_mul(c), d),
        _ => {
            return Err(data_err(format!(
                "expected a 2-D array (rows, columns) or draws (draws, chains, columns), got shape {shape:?}"
            )))
        }
    };
    if n == 0 || d == 0 {
        return Err(data_err(format!("no data (shape {shape:?})")));
    }
    let dtype = npy.dtype().descr();
    // The header's shape must fit in the bytes that follow it: checked
    // before anything is allocated for n x d values.
    let item = npy.dtype().num_bytes().unwrap_or(1).max(1) as u64;
    let needed = n.checked_mul(d).and_then(|v| v.checked_mul(item));
    if needed.is_none_or(|b| b > bytes.len() as u64) {
        return Err(data_err(format!(
            "shape {shape:?} needs more bytes than the file's {}",
            bytes.len()
        )));
    }
    let values: Vec<f64> = match dtype.trim_matches('\'').trim_start_matches(['<', '>', '|', '=']) {
        "f8" => open()?.into_vec::<f64>(),
        "f4" => open()?
            .into_vec::<f32>()
            .map(|v| v.into_iter().map(f64::from).collect()),
        "i8" => open()?
            .into_vec::<i64>()
            .map(|v| v.into_iter().map(|x| x as f64).collect()),
        "i4" => open()?
            .into_vec::<i32>()
            .map(|v| v.into_iter().map(f64::from).collect()),
        "u1" => open()?
            .into_vec::<u8>()
            .map(|v| v.into_iter().map(f64::from).collect()),
        "b1" => open()?
            .into_vec::<bool>()
            .map(|v| v.into_iter().map(|x| x as u8 as f64).collect()),
        other => {
            return Err(data_err(format!(
                "unsupported dtype `{other}` (use float64, float32 or integers)"
            )))
        }
    }
    .map_err(|e| data_err(format!("reading the array: {e}")))?;
    if let Some((i, v)) = values.iter().enumerate().find(|(_, v)| !v.is_finite()) {
        return Err(data_err(format!(
            "row {}, column {}: value {v} is not finite",
            i / d as usize + 1,
            i % d as usize + 1
        )));
    }
    Points::from_vec(values, d as usize).map_err(|e| data_err(e.to_string()))
}

/// Check the fixed start of a .npy file before npyz reads it: the magic
/// string, a known version, and a header length that fits in the file
/// (npyz allocates the stated length up front, so a corrupt length of
/// gigabytes would exhaust memory instead of being an error). `bytes` is
/// the file or its first bytes, `file_len` the whole file's length; the
/// header must lie within `bytes`. Gives the offset of the data.
pub(crate) fn npy_data_offset(bytes: &[u8], file_len: u64) -> Result<usize, String> {
    let bad = |m: &str| Err(format!("not a valid .npy file: {m}"));
    if bytes.len() < 10 || &bytes[..6] != b"\x93NUMPY" {
        return bad("it does not start with the .npy magic string");
    }
    let (start, len) = match bytes[6] {
        1 => (10, u16::from_le_bytes([bytes[8], bytes[9]]) as usize),
        2 | 3 if bytes.len() >= 12 => (
            12,
            u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]) as usize,
        ),
        2 | 3 => return bad("the file ends inside its preamble"),
        v => return bad(&format!("format version {v} is not supported")),
    };
    if (start + len) as u64 > file_len {
        return bad(&format!(
            "its header length ({len} bytes) runs past the end of the file ({file_len} bytes)"
        ));
    }
    if start + len > bytes.len() {
        return bad(&format!(
            "its header ({len} bytes) is longer than the {} bytes read for it",
            bytes.len()
        ));
    }
    // The header is a flat Python dict with a shape tuple. npyz parses it
    // with a backtracking grammar that takes exponential time on nested
    // brackets, so anything but one dict and at most one tuple is refused
    // here (structured dtypes, which would need more, are unsupported).
    let header = &bytes[start..start + len];
    let count = |c: u8| header.iter().filter(|&&b| b == c).count();
    if !header.is_ascii() || count(b'{') != 1 || count(b'[') != 0 || count(b'(') > 1 {
        return bad("its header is not a plain {'descr', 'fortran_order', 'shape'} dictionary");
    }
    Ok(start + len)
}
