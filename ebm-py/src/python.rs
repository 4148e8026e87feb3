//! The extension module `ebm_rs._ebm_rs` (PyO3): [`crate::command`] and
//! [`crate::LoadedModel`] on numpy arrays, refusals as Python exceptions.

use crate::LoadedModel;
use ebm_bench::host::{hosted, Host, StopFlag};
use numpy::{PyArray1, PyArray2, PyArrayMethods, PyReadonlyArray1, PyReadonlyArray2, PyUntypedArrayMethods};
use pyo3::exceptions::{PyKeyboardInterrupt, PyRuntimeError, PyValueError};
use pyo3::prelude::*;
use std::sync::{Arc, Mutex, PoisonError};

/// The first exception a Python energy raised since it was last taken:
/// the samplers cannot return errors from an energy, so a failing batch
/// gets NaN energies (rejected, or a non-finite chain) and the exception
/// is raised when the call into ebm-rs returns.
static PY_ERROR: Mutex<Option<PyErr>> = Mutex::new(None);

/// Raise the stored exception of a Python energy, if any.
fn take_py_error() -> PyResult<()> {
    match PY_ERROR.lock().unwrap_or_else(PoisonError::into_inner).take() {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

/// An energy written in Python: `f(x)` for an (n, dim) float64 array
/// returns (energies (n,), gradients (n, dim)). Called batch by batch from
/// the samplers' threads, each call holding the GIL.
struct PyEnergy {
    f: Py<PyAny>,
    dim: usize,
}

impl PyEnergy {
    fn call(&self, xs: &[f64], energies: &mut [f64], grads: Option<&mut [f64]>) {
        let (n, d) = (energies.len(), self.dim);
        let result = Python::attach(|py| -> PyResult<()> {
            let x = PyArray1::from_slice(py, xs).reshape([n, d])?;
            let out = self.f.bind(py).call1((x,))?;
            let (e, g): (PyReadonlyArray1<'_, f64>, PyReadonlyArray2<'_, f64>) = out.extract().map_err(|_| {
                PyValueError::new_err(
                    "a Python energy must return (energies, gradients) as float64 arrays of shapes (n,) and (n, dim)",
                )
            })?;
            if e.len() != n || g.shape() != [n, d] {
                return Err(PyValueError::new_err(format!(
                    "a Python energy returned shapes {:?} and {:?} for {n} points of dimension {d}",
                    e.shape(),
                    g.shape()
                )));
            }
            for (o, v) in energies.iter_mut().zip(e.as_array().iter()) {
                *o = *v;
            }
            if let Some(grads) = grads {
                for (o, v) in grads.iter_mut().zip(g.as_array().iter()) {
                    *o = *v;
                }
            }
            Ok(())
        });
        if let Err(e) = result {
            energies.fill(f64::NAN);
            let mut slot = PY_ERROR.lock().unwrap_or_else(PoisonError::into_inner);
            slot.get_or_insert(e);
        }
    }
}

impl ebm_core::Energy for PyEnergy {
    fn dim(&self) -> usize {
        self.dim
    }

    fn energy(&self, x: &[f64]) -> f64 {
        let mut e = [0.0];
        self.call(x, &mut e, None);
        e[0]
    }

    fn energy_grad(&self, x: &[f64], grad: &mut [f64]) -> f64 {
        let mut e = [0.0];
        grad.fill(f64::NAN);
        self.call(x, &mut e, Some(grad));
        e[0]
    }

    fn energy_batch(&self, xs: &[f64], energies: &mut [f64]) {
        self.call(xs, energies, None);
    }

    fn energy_grad_batch(&self, xs: &[f64], grads: &mut [f64], energies: &mut [f64]) {
        grads.fill(f64::NAN);
        self.call(xs, energies, Some(grads));
    }
}

/// Register the Python callable `f` as the energy `name` of dimension
/// `dim` (model file `{"type":"external","name":name}`).
#[pyfunction]
fn register_energy(name: &str, f: Py<PyAny>, dim: usize) -> PyResult<()> {
    if dim == 0 {
        return Err(PyValueError::new_err("dim must be at least 1"));
    }
    ebm_compose::external::register(name, Arc::new(PyEnergy { f, dim }));
    Ok(())
}

/// Forget the energy registered as `name`.
#[pyfunction]
fn unregister_energy(name: &str) {
    ebm_compose::external::unregister(name);
}

/// Run an `ebm` command line (without the program name) in this process,
/// the GIL released: the JSON report as a string.
///
/// As the run goes, `progress(label, done, total)` is called (at most every
/// 50 ms and at the end) and Python's signals are checked: Ctrl-C (or an
/// exception from `progress`) stops sampling and training after their
/// current block of steps, a training run writing its checkpoint first,
/// and raises KeyboardInterrupt with the command's message (or the
/// exception). Bad input raises ValueError with the command's one-line
/// message.
#[pyfunction]
#[pyo3(signature = (args, progress=None))]
fn run(py: Python<'_>, args: Vec<String>, progress: Option<Py<PyAny>>) -> PyResult<String> {
    let stop = StopFlag::new();
    let raised: Arc<Mutex<Option<PyErr>>> = Arc::default();
    let sink = {
        let (stop, raised) = (stop.clone(), raised.clone());
        move |label: &'static str, done: usize, total: usize| {
            let outcome = Python::attach(|py| {
                py.check_signals()?;
                match &progress {
                    Some(f) => f.call1(py, (label, done, total)).map(drop),
                    None => Ok(()),
                }
            });
            if let Err(e) = outcome {
                stop.raise();
                raised
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .get_or_insert(e);
            }
        }
    };
    let host = Host {
        progress: Arc::new(sink),
        stop,
    };
    let result = py.detach(|| hosted(host, || crate::command(&args)));
    take_py_error()?;
    let raised = raised.lock().unwrap_or_else(PoisonError::into_inner).take();
    match (result, raised) {
        (Err(r), Some(e)) if r.status == 130 && e.is_instance_of::<PyKeyboardInterrupt>(py) => {
            Err(PyKeyboardInterrupt::new_err(r.message))
        }
        (_, Some(e)) => Err(e),
        (Ok(report), None) => Ok(report.to_string()),
        (Err(r), None) if r.status == 2 => Err(PyValueError::new_err(r.message)),
        (Err(r), None) if r.status == 130 => Err(PyKeyboardInterrupt::new_err(r.message)),
        (Err(r), None) => Err(PyRuntimeError::new_err(r.message)),
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
        let e = with_rows(&x, |rows| py.detach(|| self.model.energies(rows, None)));
        take_py_error()?;
        Ok(PyArray1::from_vec(py, e.map_err(PyValueError::new_err)?))
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
        let e = with_rows(&x, |rows| py.detach(|| self.model.energies(rows, Some(&mut g))));
        take_py_error()?;
        let e = e.map_err(PyValueError::new_err)?;
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
    m.add_function(wrap_pyfunction!(register_energy, m)?)?;
    m.add_function(wrap_pyfunction!(unregister_energy, m)?)?;
    m.add_class::<Energy>()?;
    Ok(())
}
