//! NumPy exchange through `__array_interface__` (shared memory both ways).
use super::parse_dtype;
use super::tensor::PyTensor;
use crate::dtype::DType;
use crate::layout::Layout;
use crate::storage::Storage;
use crate::tensor::Tensor;
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::PyDict;
use std::sync::Arc;

fn dtype_from_typestr(s: &str) -> PyResult<DType> {
    let t = &s[1..];
    Ok(match t {
        "b1" => DType::Bool,
        "u1" => DType::U8,
        "i1" => DType::I8,
        "i2" => DType::I16,
        "i4" => DType::I32,
        "i8" => DType::I64,
        "f2" => DType::F16,
        "f4" => DType::F32,
        "f8" => DType::F64,
        "c8" => DType::C64,
        "c16" => DType::C128,
        _ => {
            return Err(PyTypeError::new_err(format!(
                "can't convert np.ndarray of type {s}. The only supported types are: complex128, complex64, float64, float32, float16, int64, int32, int16, int8, uint8, and bool."
            )))
        }
    })
}

/// Wraps an object exposing `__array_interface__` (a NumPy array) without copying; the
/// tensor keeps the object alive.
#[pyfunction]
fn from_array_interface(py: Python<'_>, obj: Py<PyAny>) -> PyResult<Py<PyTensor>> {
    super::guard("from_array_interface", || {
        let b = obj.bind(py);
        let ai = b.getattr("__array_interface__")?;
        let ai = ai.cast::<PyDict>()?;
        let typestr: String = ai.get_item("typestr")?.ok_or_else(|| PyValueError::new_err("no typestr"))?.extract()?;
        if typestr.starts_with('>') && !typestr.ends_with('1') {
            return Err(PyValueError::new_err("big-endian arrays are not supported; convert with arr.astype(arr.dtype.newbyteorder('='))"));
        }
        let dt = dtype_from_typestr(&typestr)?;
        let shape: Vec<usize> = ai.get_item("shape")?.ok_or_else(|| PyValueError::new_err("no shape"))?.extract()?;
        let (ptr, _ro): (usize, bool) = ai.get_item("data")?.ok_or_else(|| PyValueError::new_err("no data"))?.extract()?;
        let sz = dt.size() as isize;
        let strides: Vec<isize> = match ai.get_item("strides")? {
            Some(s) if !s.is_none() => {
                let bs: Vec<isize> = s.extract()?;
                if bs.iter().any(|b| b % sz != 0) {
                    return Err(PyValueError::new_err(format!(
                        "given numpy array strides {bs:?} are not a multiple of the element byte size {sz}. Copy the numpy array to reallocate the memory."
                    )));
                }
                bs.iter().map(|b| b / sz).collect()
            }
            _ => crate::layout::contiguous_strides(&shape),
        };
        // The storage starts at the lowest address the array touches.
        let l = Layout { shape: shape.clone(), strides: strides.clone(), offset: 0 };
        let (lo, hi) = l.storage_span();
        let base = (ptr as isize + lo * sz) as *mut u8;
        let nbytes = ((hi - lo).max(0) * sz) as usize;
        let storage = unsafe { Storage::external(base, nbytes, Box::new(obj.clone_ref(py))) };
        let layout = Layout { shape, strides, offset: (-lo) as usize };
        PyTensor::wrap(py, Tensor::from_parts(Arc::new(storage), layout, dt))
    })
}

/// Copies raw little-endian bytes into a new contiguous tensor.
#[pyfunction]
fn from_bytes(py: Python<'_>, data: &[u8], shape: Vec<usize>, dtype: &str) -> PyResult<Py<PyTensor>> {
    super::guard("from_bytes", || {
        let dt = parse_dtype(dtype)?;
        let n: usize = shape.iter().product();
        if data.len() != n * dt.size() {
            return Err(PyValueError::new_err(format!(
                "from_bytes: {} bytes cannot fill shape {shape:?} of {}",
                data.len(),
                dt.name()
            )));
        }
        let t = Tensor::empty(&shape, dt)?;
        unsafe { std::ptr::copy_nonoverlapping(data.as_ptr(), t.data_ptr(), data.len()) };
        PyTensor::wrap(py, t)
    })
}

/// The tensor's bytes (contiguous, little-endian).
#[pyfunction]
fn to_bytes<'py>(py: Python<'py>, t: PyRef<'_, PyTensor>) -> PyResult<Bound<'py, pyo3::types::PyBytes>> {
    super::guard("to_bytes", || {
        let c = crate::dispatch::to_device(&t.t, crate::device::Device::Cpu)?;
        let c = crate::autograd::with_grad_mode(false, || crate::ops::contiguous(&c))?;
        let n = c.numel() * c.dtype().size();
        let s = unsafe { std::slice::from_raw_parts(c.data_ptr() as *const u8, n) };
        Ok(pyo3::types::PyBytes::new(py, s))
    })
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(from_array_interface, m)?)?;
    m.add_function(wrap_pyfunction!(from_bytes, m)?)?;
    m.add_function(wrap_pyfunction!(to_bytes, m)?)?;
    Ok(())
}
