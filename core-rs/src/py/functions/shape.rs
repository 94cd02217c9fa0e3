//! Views and assembly: `reshape`, `view`, `permute`, `transpose`, `expand`, `squeeze`, `unsqueeze`,
//! `slice`, `select`, `flip` (metadata only), and `cat` and `pad` (which copy).
use super::{tensors, wrap, PT};
use crate::error::Error;
use crate::layout::wrap_dim;
use crate::ops;
use crate::py::PyTensor;
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;

#[pyfunction]
fn reshape(py: Python<'_>, x: PyRef<'_, PyTensor>, shape: Vec<i64>) -> PyResult<PT> {
    super::guard("reshape", || {
        let s = ops::shape::infer_shape("reshape", &shape, x.t.numel(), x.t.shape())?;
        wrap(py, ops::shape::reshape(&x.t, &s)?)
    })
}

#[pyfunction]
fn view(py: Python<'_>, x: PyRef<'_, PyTensor>, shape: Vec<i64>) -> PyResult<PT> {
    super::guard("view", || {
        let s = ops::shape::infer_shape("view", &shape, x.t.numel(), x.t.shape())?;
        wrap(py, ops::shape::view(&x.t, &s)?)
    })
}

#[pyfunction]
fn permute(py: Python<'_>, x: PyRef<'_, PyTensor>, dims: Vec<i64>) -> PyResult<PT> {
    super::guard("permute", || {
        let n = x.t.ndim();
        let d: Vec<usize> = dims.iter().map(|&d| wrap_dim("permute", d, n)).collect::<crate::error::Result<_>>()?;
        wrap(py, ops::shape::permute(&x.t, &d)?)
    })
}

#[pyfunction]
fn transpose(py: Python<'_>, x: PyRef<'_, PyTensor>, d0: i64, d1: i64) -> PyResult<PT> {
    super::guard("transpose", || {
        let n = x.t.ndim();
        if n == 0 {
            return wrap(py, x.t.clone());
        }
        let (a, b) = (wrap_dim("transpose", d0, n)?, wrap_dim("transpose", d1, n)?);
        wrap(py, ops::shape::transpose(&x.t, a, b)?)
    })
}

#[pyfunction]
fn expand(py: Python<'_>, x: PyRef<'_, PyTensor>, shape: Vec<i64>) -> PyResult<PT> {
    super::guard("expand", || {
        let nd = x.t.ndim();
        if shape.len() < nd {
            return Err(Error::Runtime(format!(
                "expand: the number of sizes provided ({}) must be greater or equal to the number of dimensions in the tensor ({nd})",
                shape.len()
            )).into());
        }
        let lead = shape.len() - nd;
        let mut s = Vec::with_capacity(shape.len());
        for (i, &v) in shape.iter().enumerate() {
            if v == -1 {
                if i < lead {
                    return Err(Error::Runtime(format!("expand: -1 is not allowed in a leading, non-existing dimension ({shape:?})")).into());
                }
                s.push(x.t.shape()[i - lead]);
            } else if v < 0 {
                return Err(Error::Runtime(format!("expand: invalid size {v} in {shape:?}")).into());
            } else {
                s.push(v as usize);
            }
        }
        wrap(py, ops::shape::expand(&x.t, &s)?)
    })
}

#[pyfunction]
#[pyo3(signature = (x, dims=None))]
fn squeeze(py: Python<'_>, x: PyRef<'_, PyTensor>, dims: Option<Vec<i64>>) -> PyResult<PT> {
    super::guard("squeeze", || {
        match dims {
            None => wrap(py, ops::shape::squeeze_all(&x.t)?),
            Some(ds) => {
                let n = x.t.ndim();
                let mut d: Vec<usize> = ds.iter().map(|&d| wrap_dim("squeeze", d, n)).collect::<crate::error::Result<_>>()?;
                d.sort();
                d.dedup();
                let mut t = x.t.clone();
                for &k in d.iter().rev() {
                    if n > 0 {
                        t = ops::shape::squeeze_dim(&t, k)?;
                    }
                }
                wrap(py, t)
            }
        }
    })
}

#[pyfunction]
fn unsqueeze(py: Python<'_>, x: PyRef<'_, PyTensor>, dim: i64) -> PyResult<PT> {
    super::guard("unsqueeze", || {
        let d = wrap_dim("unsqueeze", dim, x.t.ndim() + 1)?;
        wrap(py, ops::shape::unsqueeze(&x.t, d)?)
    })
}

/// Python slice semantics along one dim (negative and out-of-range bounds clamp).
#[pyfunction]
#[pyo3(signature = (x, dim, start, stop, step))]
fn slice(py: Python<'_>, x: PyRef<'_, PyTensor>, dim: i64, start: Option<i64>, stop: Option<i64>, step: Option<i64>) -> PyResult<PT> {
    super::guard("slice", || {
        let d = wrap_dim("slice", dim, x.t.ndim())?;
        let n = x.t.shape()[d] as i64;
        let step = step.unwrap_or(1);
        if step <= 0 {
            return Err(PyValueError::new_err("step must be greater than zero (use .flip() to reverse)"));
        }
        let norm = |v: i64| -> i64 {
            let v = if v < 0 { v + n } else { v };
            v.clamp(0, n)
        };
        let s = start.map(norm).unwrap_or(0);
        let e = stop.map(norm).unwrap_or(n).max(s);
        wrap(py, ops::shape::slice(&x.t, d, s as usize, e as usize, step as usize)?)
    })
}

#[pyfunction]
fn select(py: Python<'_>, x: PyRef<'_, PyTensor>, dim: i64, index: i64) -> PyResult<PT> {
    super::guard("select", || {
        if x.t.ndim() == 0 {
            return Err(Error::Index("invalid index of a 0-dim tensor. Use `tensor.item()` to convert a 0-dim tensor to a number".into()).into());
        }
        let d = wrap_dim("select", dim, x.t.ndim())?;
        wrap(py, ops::shape::select(&x.t, d, index)?)
    })
}

#[pyfunction]
fn flip(py: Python<'_>, x: PyRef<'_, PyTensor>, dims: Vec<i64>) -> PyResult<PT> {
    super::guard("flip", || {
        let n = x.t.ndim();
        let d: Vec<usize> = dims.iter().map(|&d| wrap_dim("flip", d, n)).collect::<crate::error::Result<_>>()?;
        if n == 0 {
            return wrap(py, x.t.clone());
        }
        wrap(py, ops::shape::flip(&x.t, &d)?)
    })
}

#[pyfunction]
fn cat(py: Python<'_>, ts: Vec<PyRef<'_, PyTensor>>, dim: i64) -> PyResult<PT> {
    super::guard("cat", || {
        let v = tensors(&ts);
        let r = py.detach(|| ops::shape::cat(&v, dim))?;
        wrap(py, r)
    })
}

#[pyfunction]
fn pad(py: Python<'_>, x: PyRef<'_, PyTensor>, pads: Vec<i64>, value: f64) -> PyResult<PT> {
    super::guard("pad", || {
        wrap(py, ops::shape::pad(&x.t, &pads, value)?)
    })
}

/// `Tensor.as_strided` on a contiguous `x`: a view at `shape`/`strides` whose first element
/// lies `offset` elements past `x`'s (the Python side turns PyTorch's absolute storage offset
/// into this and checks the arguments); its gradient scatters back into `x`'s shape.
#[pyfunction]
fn as_strided(py: Python<'_>, x: PyRef<'_, PyTensor>, shape: Vec<usize>, strides: Vec<isize>, offset: usize) -> PyResult<PT> {
    super::guard("as_strided", || {
        if shape.len() != strides.len() {
            return Err(Error::Runtime(format!("as_strided: mismatch in length of strides and shape ({} and {})", strides.len(), shape.len())).into());
        }
        if !x.t.is_contiguous() {
            return Err(Error::Runtime("as_strided: the input must be contiguous".into()).into());
        }
        let geo = crate::layout::Layout { shape, strides, offset };
        wrap(py, ops::shape::as_strided(&x.t, &geo)?)
    })
}

pub(super) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    add_functions!(m, reshape, view, permute, transpose, expand, squeeze, unsqueeze, slice, select, flip, cat, pad, as_strided);
    Ok(())
}
