//! Reductions: `reduce` (sum, prod, amax, amin over dims), max/min with indices, `argmax`/`argmin`
//! and the cumulative sums and products.
use super::{maybe_detach, wrap, PT};
use crate::error::Error;
use crate::layout::wrap_dim;
use crate::ops::{self, reduce::ReduceOp};
use crate::py::PyTensor;
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;

#[pyfunction]
fn reduce(py: Python<'_>, op: &str, x: PyRef<'_, PyTensor>, dims: Vec<i64>, keepdim: bool) -> PyResult<PT> {
    super::guard("reduce", || {
        let rop = match op {
            "sum" => ReduceOp::Sum,
            "prod" => ReduceOp::Prod,
            "amax" => ReduceOp::Amax,
            "amin" => ReduceOp::Amin,
            _ => return Err(PyValueError::new_err(format!("unknown reduction {op}"))),
        };
        let t = x.t.clone();
        let d = ops::reduce::norm_dims(op, &dims, t.ndim())?;
        let r = maybe_detach(py, t.numel(), || ops::reduce::reduce(rop, &t, &d, keepdim))?;
        wrap(py, r)
    })
}

#[pyfunction]
fn max_min_dim(py: Python<'_>, x: PyRef<'_, PyTensor>, dim: i64, keepdim: bool, is_max: bool) -> PyResult<(PT, PT)> {
    super::guard("max_min_dim", || {
        let d = wrap_dim(if is_max { "max" } else { "min" }, dim, x.t.ndim())?;
        let (v, i) = ops::reduce::max_min_dim(&x.t, d, keepdim, is_max)?;
        Ok((wrap(py, v)?, wrap(py, i)?))
    })
}

#[pyfunction]
#[pyo3(signature = (x, dim, keepdim, is_max))]
fn argmax(py: Python<'_>, x: PyRef<'_, PyTensor>, dim: Option<i64>, keepdim: bool, is_max: bool) -> PyResult<PT> {
    super::guard("argmax", || {
        let op = if is_max { "argmax" } else { "argmin" };
        match dim {
            None => {
                if x.t.numel() == 0 {
                    return Err(Error::Runtime(format!("{op}(): expected reduction dim to be specified for input.numel() == 0")).into());
                }
                let flat = ops::shape::reshape(&x.t.detach(), &[x.t.numel()])?;
                let r = ops::reduce::arg_raw(&flat, 0, is_max)?;
                let r = if keepdim { ops::shape::reshape(&r, &vec![1; x.t.ndim()])? } else { r };
                wrap(py, r)
            }
            Some(d) => {
                let d = wrap_dim(op, d, x.t.ndim())?;
                let r = ops::reduce::arg_raw(&x.t, d, is_max)?;
                let r = if keepdim && x.t.ndim() > 0 { ops::shape::unsqueeze(&r, d)? } else { r };
                wrap(py, r)
            }
        }
    })
}

#[pyfunction]
fn cumulative(py: Python<'_>, x: PyRef<'_, PyTensor>, dim: i64, prod: bool) -> PyResult<PT> {
    super::guard("cumulative", || {
        let d = wrap_dim(if prod { "cumprod" } else { "cumsum" }, dim, x.t.ndim())?;
        wrap(py, ops::reduce::cumulative(&x.t, d, prod)?)
    })
}

pub(super) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    add_functions!(m, reduce, max_min_dim, argmax, cumulative);
    Ok(())
}
