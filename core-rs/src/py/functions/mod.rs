//! Module-level functions of `deepseek._core`: creation, random, and every primitive op, one
//! file per kind of op they bind; the argument helpers they share are here.
use super::tensor::{operand, PyTensor};
use super::{as_scalar, guard, maybe_detach, parse_dtype};
use crate::device::Device;
use crate::error::Error;
use crate::ops::{self, binary::Operand};
use crate::tensor::Tensor;
use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;

/// Adds each named `#[pyfunction]` of the calling module to the Python module `m`.
macro_rules! add_functions {
    ($m:expr, $($f:ident),* $(,)?) => { $( $m.add_function(wrap_pyfunction!($f, $m)?)?; )* };
}

mod copy;
mod creation;
mod elementwise;
mod index;
mod matmul;
mod random;
mod reduce;
mod shape;

type PT = Py<PyTensor>;

fn wrap(py: Python<'_>, t: Tensor) -> PyResult<PT> {
    PyTensor::wrap(py, t)
}

fn tensors(v: &[PyRef<'_, PyTensor>]) -> Vec<Tensor> {
    v.iter().map(|t| t.t.clone()).collect()
}

fn shape_usize(op: &str, shape: &[i64]) -> PyResult<Vec<usize>> {
    shape
        .iter()
        .map(|&s| {
            if s < 0 {
                Err(Error::Runtime(format!("{op}: trying to create tensor with negative dimension {s}: {shape:?}")).into())
            } else {
                Ok(s as usize)
            }
        })
        .collect()
}

/// An empty Vec with room for `n` values, or a MemoryError (never an abort on a huge `n`).
fn try_vec<T>(op: &str, n: usize) -> PyResult<Vec<T>> {
    let mut v = Vec::new();
    v.try_reserve_exact(n).map_err(|_| Error::Memory(format!("{op}: cannot allocate {n} elements")))?;
    Ok(v)
}

/// A device argument: None or "cpu" for the CPU, "opencl:0"... for a registered backend.
pub fn device_arg(d: Option<&str>) -> PyResult<Device> {
    match d {
        None => Ok(Device::Cpu),
        Some(s) => Ok(Device::parse(s)?),
    }
}

fn operand_arg(op: &str, o: &Bound<'_, PyAny>) -> PyResult<Operand> {
    operand(o).ok_or_else(|| {
        PyTypeError::new_err(format!(
            "{op}(): expected a Tensor or a number, got {}",
            o.get_type().name().map(|n| n.to_string()).unwrap_or_default()
        ))
    })
}

/// A fill value must convert to the tensor's dtype without overflow (PyTorch's checked
/// Scalar conversion): an int8 `fill_(1000)` raises instead of wrapping to -24.
fn check_fill_value(op: &str, s: ops::Scalar, dt: crate::dtype::DType) -> PyResult<()> {
    if s.fits(dt) {
        return Ok(());
    }
    let v = match s {
        ops::Scalar::Int(i) => i.to_string(),
        ops::Scalar::Float(f) => format!("{f:?}"),
        ops::Scalar::Bool(b) => b.to_string(),
    };
    Err(Error::Runtime(format!("{op}(): value cannot be converted to type {} without overflow (value {v})", ops::Scalar::c10_type_name(dt))).into())
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let parts: [fn(&Bound<'_, PyModule>) -> PyResult<()>; 8] = [
        creation::register, random::register, elementwise::register, reduce::register, matmul::register,
        copy::register, shape::register, index::register,
    ];
    parts.iter().try_for_each(|register| register(m))
}
