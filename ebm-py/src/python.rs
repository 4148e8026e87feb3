//! The extension module `ebm_rs._ebm_rs` (PyO3): [`crate::command`] and
//! [`crate::LoadedModel`] on numpy arrays, refusals as Python exceptions.

use crate::LoadedModel;
use numpy::{PyArray1, PyArray2, PyReadonlyArray2, PyUntypedArrayMethods};
use pyo3::exceptions::{PyKeyboardInterrupt, PyRuntimeError, PyValueError};
use pyo3::prelude::*;

/// Run an `ebm` command line (without the program name) in this process,
/// the GIL released: the JSON report as a string. Bad input raises
/// ValueError with the command's one-line message; an interrupted run
/// KeyboardInterrupt.
#[pyfunction]
fn run(py: Python<'_>, args: Vec<String>) -> PyResult<String> {
    let result = py.detach(|| crate::command(&args));
    match result {
        Ok(report) => Ok(report.to_string()),
        Err(r) if r.status == 2 => Err(PyValueError::new_err(r.message)),
        Err(r) if r.status == 130 => Err(PyKeyboardInterrupt::new_err(r.message)),
        Err(r) => Err(PyRuntimeError::new_err(r.message)),
    }
}

/// Energies (n,) and gradients (n, dim) as numpy arrays.
type EnergiesAndGradients<'py> = (Bound<'py, PyArray1<f64>>, Bound<'py, PyArray2<f64>>);

/// A model file, validated and built once.
#[pyclass(frozen)]
struct Energy {
    model: LoadedModel,
}

/// The rows of `x` as one row-major slice: numpy's buffer itself when it
/// is C-contiguous (no copy), else a copy in row order (a Fortran-ordered
/// array is contiguous too, but column by column).
fn with_rows<R>(x: &PyReadonlyArray2<'_, f64>, f: impl FnOnce(&[f64]) -> R) -> R {
    match x.as_slice() {
        Ok(s) if x.is_c_contiguous() => f(s),
        _ => f(x.as_array().iter().copied().collect::<Vec<_>>().as_slice()),
    }
}

#[pymethods]
impl Energy {
    /// Build the model file `json` (a string); ValueError names the bad
    /// field.
    #[new]
    fn new(json: &str) -> PyResult<Self> {
        LoadedModel::from_json(json)
            .map(|model| Self { model })
            .map_err(PyValueError::new_err)
    }

    /// Dimension of a state.
    #[getter]
    fn dim(&self) -> usize {
        self.model.dim()
    }

    /// "continuous", "binary" or "categorical".
    #[getter]
    fn kind(&self) -> &'static str {
        self.model.kind()
    }

    /// E(x_i) for the rows of the (n, dim) float64 array `x`.
    fn energy<'py>(
        &self,
        py: Python<'py>,
        x: PyReadonlyArray2<'py, f64>,
    ) -> PyResult<Bound<'py, PyArray1<f64>>> {
        self.check(&x)?;
        let e = with_rows(&x, |rows| py.detach(|| self.model.energies(rows, None)))
            .map_err(PyValueError::new_err)?;
        Ok(PyArray1::from_vec(py, e))
    }

    /// (E(x_i), grad_x E(x_i)) for the rows of `x`: arrays (n,) and (n, dim).
    fn energy_grad<'py>(
        &self,
        py: Python<'py>,
        x: PyReadonlyArray2<'py, f64>,
    ) -> PyResult<EnergiesAndGradients<'py>> {
        self.check(&x)?;
        let (n, d) = (x.shape()[0], x.shape()[1]);
        let mut g = vec![0.0; n * d];
        let e = with_rows(&x, |rows| py.detach(|| self.model.energies(rows, Some(&mut g))))
            .map_err(PyValueError::new_err)?;
        let g = numpy::ndarray::Array2::from_shape_vec((n, d), g)
            .map_err(|e| PyRuntimeError::new_err(e.to_string()))?;
        Ok((PyArray1::from_vec(py, e), PyArray2::from_owned_array(py, g)))
    }
}

impl Energy {
    fn check(&self, x: &PyReadonlyArray2<'_, f64>) -> PyResult<()> {
        if x.shape()[1] != self.model.dim() {
            return Err(PyValueError::new_err(format!(
                "points: rows have {} columns, the model has dimension {}",
                x.shape()[1],
                self.model.dim()
            )));
        }
        Ok(())
    }
}

/// The compiled core of `ebm_rs`.
#[pymodule]
fn _ebm_rs(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(run, m)?)?;
    m.add_class::<Energy>()?;
    Ok(())
}
