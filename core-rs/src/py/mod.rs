//! The PyO3 surface: `deepseek._core`. Every function here converts arguments, calls one
//! core entry point and maps core errors to the exception type PyTorch would raise.
mod autograd;
mod complex;
mod functions;
pub(crate) mod graph;
mod interop;
mod linalg;
mod nn;
mod runtime;
mod sparse;
mod tensor;

use crate::dtype::DType;
use crate::error::Error;
use crate::ops::Scalar;
use pyo3::exceptions::{PyIndexError, PyMemoryError, PyRuntimeError, PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyFloat, PyInt};
pub use tensor::PyTensor;

impl From<Error> for PyErr {
    fn from(e: Error) -> PyErr {
        match e {
            Error::Runtime(s) => PyRuntimeError::new_err(s),
            Error::Index(s) => PyIndexError::new_err(s),
            Error::Type(s) => PyTypeError::new_err(s),
            Error::Value(s) => PyValueError::new_err(s),
            Error::Memory(s) => PyMemoryError::new_err(s),
        }
    }
}

pub fn parse_dtype(s: &str) -> PyResult<DType> {
    DType::from_name(s).ok_or_else(|| PyTypeError::new_err(format!("unknown dtype '{s}'")))
}

/// A Python number as a core scalar, or None when `obj` is not a number.
pub fn as_scalar(obj: &Bound<'_, PyAny>) -> Option<Scalar> {
    if obj.is_instance_of::<PyBool>() {
        return Some(Scalar::Bool(obj.is_truthy().ok()?));
    }
    if obj.is_instance_of::<PyInt>() {
        return obj.extract::<i64>().ok().map(Scalar::Int);
    }
    if obj.is_instance_of::<PyFloat>() {
        return obj.extract::<f64>().ok().map(Scalar::Float);
    }
    // NumPy scalars and other numbers
    if obj.hasattr("__index__").unwrap_or(false) && !obj.hasattr("__array_interface__").unwrap_or(false) {
        if let Ok(v) = obj.extract::<i64>() {
            return Some(Scalar::Int(v));
        }
    }
    if obj.hasattr("__float__").unwrap_or(false) && !obj.hasattr("shape").unwrap_or(false) {
        if let Ok(v) = obj.extract::<f64>() {
            return Some(Scalar::Float(v));
        }
    }
    None
}

/// Issues a Python `UserWarning` (from any thread); an error if warnings are errors.
pub fn warn(msg: &str) -> std::result::Result<(), String> {
    Python::attach(|py| {
        let cat = py.get_type::<pyo3::exceptions::PyUserWarning>();
        let c = std::ffi::CString::new(msg.replace('\0', " ")).unwrap();
        PyErr::warn(py, cat.as_any(), &c, 1).map_err(|e| e.to_string())
    })
}

/// Runs a binding's body so that no Rust panic crosses into Python: a panic becomes a
/// RuntimeError naming the call (an `Exception`, unlike PyO3's PanicException, so `except
/// Exception` sees it). Every `#[pyfunction]` and `#[pymethods]` entry returning a
/// `PyResult` goes through here.
pub fn guard<T>(what: &str, f: impl FnOnce() -> PyResult<T>) -> PyResult<T> {
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)) {
        Ok(r) => r,
        Err(p) => {
            let msg = p
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| p.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".into());
            Err(PyRuntimeError::new_err(format!("{what}: internal error: {msg} (a bug in deepseek; please report it)")))
        }
    }
}

/// Runs `f` without the GIL when the work is large enough to be worth the switch.
pub fn maybe_detach<T: Send>(py: Python<'_>, work: usize, f: impl FnOnce() -> T + Send) -> T {
    if work >= crate::kernels::PAR_GRAIN {
        py.detach(f)
    } else {
        f()
    }
}

#[pymodule]
fn _core(m: &Bound<'_, PyModule>) -> PyResult<()> {
    crate::init();
    crate::diag::set_warning_sink(warn);
    m.add_class::<PyTensor>()?;
    tensor::register(m)?;
    functions::register(m)?;
    autograd::register(m)?;
    interop::register(m)?;
    linalg::register(m)?;
    complex::register(m)?;
    nn::register(m)?;
    runtime::register(m)?;
    graph::register(m)?;
    sparse::register(m)?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
