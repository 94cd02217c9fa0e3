//! Creation: `empty`, `zeros`, `full`, `arange`, `linspace`, `eye` on any device.
use super::{check_fill_value, device_arg, parse_dtype, shape_usize, try_vec, wrap, PT};
use crate::error::Error;
use crate::ops;
use crate::tensor::Tensor;
use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;

#[pyfunction]
#[pyo3(signature = (shape, dtype, device=None))]
fn empty(py: Python<'_>, shape: Vec<i64>, dtype: &str, device: Option<&str>) -> PyResult<PT> {
    super::guard("empty", || {
        wrap(py, Tensor::empty_on(&shape_usize("empty", &shape)?, parse_dtype(dtype)?, device_arg(device)?)?)
    })
}

#[pyfunction]
#[pyo3(signature = (shape, dtype, device=None))]
fn zeros(py: Python<'_>, shape: Vec<i64>, dtype: &str, device: Option<&str>) -> PyResult<PT> {
    super::guard("zeros", || {
        wrap(py, Tensor::zeros_on(&shape_usize("zeros", &shape)?, parse_dtype(dtype)?, device_arg(device)?)?)
    })
}

#[pyfunction]
#[pyo3(signature = (shape, value, dtype, device=None))]
fn full(py: Python<'_>, shape: Vec<i64>, value: &Bound<'_, PyAny>, dtype: &str, device: Option<&str>) -> PyResult<PT> {
    super::guard("full", || {
        let dt = parse_dtype(dtype)?;
        if let Some(s) = super::as_scalar(value) {
            check_fill_value("full", s, dt)?;
        }
        let t = Tensor::empty_on(&shape_usize("full", &shape)?, dt, device_arg(device)?)?;
        match super::as_scalar(value) {
            Some(ops::Scalar::Int(i)) if !dt.is_float() => {
                let s = ops::Scalar::Int(i).to_tensor(dt)?;
                ops::copy_raw(&t, &s)?;
            }
            Some(s) => ops::fill_raw(&t, s.as_f64())?,
            None => return Err(PyTypeError::new_err("full(): fill_value must be a number")),
        }
        wrap(py, t)
    })
}

#[pyfunction]
#[pyo3(signature = (start, end, step, dtype, device=None))]
fn arange(py: Python<'_>, start: f64, end: f64, step: f64, dtype: &str, device: Option<&str>) -> PyResult<PT> {
    super::guard("arange", || {
        let dt = parse_dtype(dtype)?;
        let dev = device_arg(device)?;
        if step == 0.0 {
            return Err(Error::Runtime("arange: step must be nonzero".into()).into());
        }
        if !(start.is_finite() && end.is_finite()) {
            return Err(Error::Runtime(format!("arange: unsupported range: {start} -> {end}")).into());
        }
        if (step > 0.0 && end < start) || (step < 0.0 && end > start) {
            return Err(Error::Runtime(format!("arange: upper bound and larger bound inconsistent with step sign (start={start}, end={end}, step={step})")).into());
        }
        let nf = ((end - start) / step).ceil().max(0.0);
        if !nf.is_finite() || nf > (isize::MAX / 8) as f64 {
            return Err(Error::Memory(format!("arange: {nf} elements (start={start}, end={end}, step={step}) is too many")).into());
        }
        let n = nf as usize;
        let t = Tensor::empty_on(&[n], dt, dev)?;
        if n > 0 {
            let (start, step) = if dt.is_float() {
                (ops::Scalar::Float(start), ops::Scalar::Float(step))
            } else {
                (ops::Scalar::Int(start as i64), ops::Scalar::Int(step as i64))
            };
            crate::dispatch::launch(&crate::op::Op::Arange(crate::op::ArangeAttrs { start, step }), &[&t], &[])?;
        }
        wrap(py, t)
    })
}

#[pyfunction]
#[pyo3(signature = (start, end, steps, dtype, device=None))]
fn linspace(py: Python<'_>, start: f64, end: f64, steps: i64, dtype: &str, device: Option<&str>) -> PyResult<PT> {
    super::guard("linspace", || {
        let dev = device_arg(device)?;
        if steps < 0 {
            return Err(Error::Runtime("linspace: number of steps must be non-negative".into()).into());
        }
        let n = steps as usize;
        let mut v: Vec<f64> = try_vec("linspace", n)?;
        v.extend((0..n).map(|i| if n == 1 { start } else { start + (end - start) * i as f64 / (n - 1) as f64 }));
        wrap(py, crate::dispatch::to_device(&ops::cast(&Tensor::from_vec(v, &[n])?, parse_dtype(dtype)?)?, dev)?)
    })
}

#[pyfunction]
#[pyo3(signature = (n, m, dtype, device=None))]
fn eye(py: Python<'_>, n: i64, m: i64, dtype: &str, device: Option<&str>) -> PyResult<PT> {
    super::guard("eye", || {
        let dev = device_arg(device)?;
        let s = shape_usize("eye", &[n, m])?;
        let total = crate::layout::checked_numel("eye", &s)?;
        let mut v: Vec<f64> = try_vec("eye", total)?;
        v.resize(total, 0.0);
        for i in 0..s[0].min(s[1]) {
            v[i * s[1] + i] = 1.0;
        }
        wrap(py, crate::dispatch::to_device(&ops::cast(&Tensor::from_vec(v, &s)?, parse_dtype(dtype)?)?, dev)?)
    })
}

pub(super) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    add_functions!(m, empty, zeros, full, arange, linspace, eye);
    Ok(())
}
