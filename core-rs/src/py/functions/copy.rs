//! Copies and casts: `cast`, `clone`, `contiguous`, and the in-place writes `copy_`, `fill_` and
//! `inplace_` (a Python update function, written back with the history rebased).
use super::{check_fill_value, parse_dtype, wrap, PT};
use crate::error::Error;
use crate::ops;
use crate::py::PyTensor;
use crate::tensor::Tensor;
use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;

#[pyfunction]
fn cast(py: Python<'_>, x: PyRef<'_, PyTensor>, dtype: &str) -> PyResult<PT> {
    super::guard("cast", || {
        wrap(py, ops::copy::cast_discarding_imag(&x.t, parse_dtype(dtype)?)?)
    })
}

#[pyfunction]
fn clone(py: Python<'_>, x: PyRef<'_, PyTensor>) -> PyResult<PT> {
    super::guard("clone", || {
        wrap(py, ops::copy::clone(&x.t)?)
    })
}

#[pyfunction]
fn contiguous(py: Python<'_>, x: PyRef<'_, PyTensor>) -> PyResult<PT> {
    super::guard("contiguous", || {
        wrap(py, ops::contiguous(&x.t)?)
    })
}

#[pyfunction]
fn copy_(dst: PyRef<'_, PyTensor>, src: PyRef<'_, PyTensor>) -> PyResult<()> {
    super::guard("copy_", || {
        Ok(ops::copy::copy_(&dst.t, &src.t)?)
    })
}


/// Fills `x` in place with a number (differentiable: the gradient to the old value is zero).
#[pyfunction]
fn fill_(x: PyRef<'_, PyTensor>, value: &Bound<'_, PyAny>) -> PyResult<()> {
    super::guard("fill_", || {
        let s = super::as_scalar(value).ok_or_else(|| PyTypeError::new_err("fill_(): value must be a number"))?;
        let t = x.t.clone();
        check_fill_value("fill_", s, t.dtype())?;
        let base_needs = t.view_base().is_some_and(|b| crate::autograd::is_grad_enabled() && b.requires_grad());
        if !crate::autograd::needs_grad(&[&t]) && !base_needs {
            ops::copy::fill_scalar_raw(&t, s)?;
            t.storage().bump_version();
            return Ok(());
        }
        // Filling selects the value, never computes with the old one (NaN * 0 is NaN): under
        // autograd through `where`, whose gradient to the old value is zero.
        crate::ops::inplace::apply_inplace("fill_", &t, &[], |old, _| {
            let v = s.to_tensor(old.dtype())?;
            if !crate::autograd::needs_grad(&[old]) {
                return ops::shape::expand(&v, old.shape());
            }
            let all = Tensor::scalar_f64(1.0, crate::dtype::DType::Bool)?;
            ops::binary::where_(&all, &v, old)
        })?;
        Ok(())
    })
}

/// Generic in-place update: `fn(old) -> new`, computed out of place and written back, with
/// the tensor's history rebased (through its base when it is a view).
#[pyfunction]
fn inplace_(name: &str, x: PyRef<'_, PyTensor>, f: Bound<'_, PyAny>) -> PyResult<()> {
    super::guard("inplace_", || {
        let t = x.t.clone();
        let py = f.py();
        let mut err: Option<PyErr> = None;
        let res = crate::ops::inplace::apply_inplace(name, &t, &[], |old, _| {
            let r = (|| -> PyResult<Tensor> {
                let arg = PyTensor::wrap(py, old.clone())?;
                let out = f.call1((arg,))?;
                let out = out.cast::<PyTensor>().map_err(|_| PyTypeError::new_err(format!("{name}: update must return a Tensor")))?;
                let r = out.borrow().t.clone();
                Ok(r)
            })();
            match r {
                Ok(t) => {
                    if !t.dtype().can_cast_to(old.dtype()) {
                        Err(Error::Runtime(format!(
                            "{name}: result type {} can't be cast to the desired output type {}",
                            t.dtype().name(),
                            old.dtype().name()
                        )))
                    } else if t.dtype() != old.dtype() {
                        ops::cast(&t, old.dtype())
                    } else {
                        Ok(t)
                    }
                }
                Err(e) => {
                    err = Some(e);
                    Err(Error::Runtime(String::new()))
                }
            }
        });
        if let Some(e) = err {
            return Err(e);
        }
        res?;
        Ok(())
    })
}

pub(super) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    add_functions!(m, cast, clone, contiguous, copy_, fill_, inplace_);
    Ok(())
}
