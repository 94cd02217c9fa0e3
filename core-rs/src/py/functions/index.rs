//! Indexing: `gather`, `scatter`, `index_select`, `index_add`, advanced `index` and `index_put`,
//! `nonzero`, `sort` and `topk`.
use super::{operand_arg, tensors, wrap, PT};
use crate::error::Error;
use crate::layout::wrap_dim;
use crate::ops::{self, binary::Operand};
use crate::py::PyTensor;
use pyo3::prelude::*;

#[pyfunction]
fn gather(py: Python<'_>, x: PyRef<'_, PyTensor>, dim: i64, index: PyRef<'_, PyTensor>) -> PyResult<PT> {
    super::guard("gather", || {
        let d = wrap_dim("gather", dim, x.t.ndim())?;
        wrap(py, ops::index::gather(&x.t, d, &index.t)?)
    })
}

#[pyfunction]
fn scatter(py: Python<'_>, x: PyRef<'_, PyTensor>, dim: i64, index: PyRef<'_, PyTensor>, src: &Bound<'_, PyAny>, add: bool) -> PyResult<PT> {
    super::guard("scatter", || {
        let d = wrap_dim("scatter", dim, x.t.ndim())?;
        let s = match operand_arg("scatter", src)? {
            Operand::T(t) => t,
            Operand::C(..) => return Err(pyo3::exceptions::PyRuntimeError::new_err("scatter: complex values are not supported")),
            Operand::S(s) => {
                let v = s.to_tensor(x.t.dtype())?;
                v.alias(v.layout().broadcast_to("scatter", index.t.shape())?)
            }
        };
        wrap(py, ops::index::scatter(&x.t, d, &index.t, &s, add)?)
    })
}

#[pyfunction]
fn index_select(py: Python<'_>, x: PyRef<'_, PyTensor>, dim: i64, index: PyRef<'_, PyTensor>) -> PyResult<PT> {
    super::guard("index_select", || {
        let d = wrap_dim("index_select", dim, x.t.ndim())?;
        wrap(py, ops::index::index_select(&x.t, d, &index.t)?)
    })
}

#[pyfunction]
fn index_add(py: Python<'_>, x: PyRef<'_, PyTensor>, dim: i64, index: PyRef<'_, PyTensor>, src: PyRef<'_, PyTensor>) -> PyResult<PT> {
    super::guard("index_add", || {
        let d = wrap_dim("index_add", dim, x.t.ndim())?;
        wrap(py, ops::index::index_add(&x.t, d, &index.t, &src.t)?)
    })
}

#[pyfunction]
fn index(py: Python<'_>, x: PyRef<'_, PyTensor>, indices: Vec<PyRef<'_, PyTensor>>) -> PyResult<PT> {
    super::guard("index", || {
        wrap(py, ops::index::index_leading(&x.t, &tensors(&indices))?)
    })
}

#[pyfunction]
fn index_put(py: Python<'_>, x: PyRef<'_, PyTensor>, indices: Vec<PyRef<'_, PyTensor>>, values: PyRef<'_, PyTensor>, accumulate: bool) -> PyResult<PT> {
    super::guard("index_put", || {
        wrap(py, ops::index::index_put_leading(&x.t, &tensors(&indices), &values.t, accumulate)?)
    })
}

#[pyfunction]
fn nonzero(py: Python<'_>, x: PyRef<'_, PyTensor>) -> PyResult<PT> {
    super::guard("nonzero", || {
        wrap(py, ops::index::nonzero(&x.t)?)
    })
}

#[pyfunction]
fn sort(py: Python<'_>, x: PyRef<'_, PyTensor>, dim: i64, descending: bool) -> PyResult<(PT, PT)> {
    super::guard("sort", || {
        let d = wrap_dim("sort", dim, x.t.ndim())?;
        let (v, i) = ops::sort::sort(&x.t, d, descending)?;
        Ok((wrap(py, v)?, wrap(py, i)?))
    })
}

#[pyfunction]
fn topk(py: Python<'_>, x: PyRef<'_, PyTensor>, k: i64, dim: i64, largest: bool) -> PyResult<(PT, PT)> {
    super::guard("topk", || {
        let d = wrap_dim("topk", dim, x.t.ndim())?;
        if k < 0 {
            return Err(Error::Runtime(format!("topk: k ({k}) must be non-negative")).into());
        }
        let (v, i) = ops::sort::topk(&x.t, k as usize, d, largest)?;
        Ok((wrap(py, v)?, wrap(py, i)?))
    })
}

pub(super) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    add_functions!(m, gather, scatter, index_select, index_add, index, index_put, nonzero, sort, topk);
    Ok(())
}
