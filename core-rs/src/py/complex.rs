//! Bindings of the complex ops (`ops::complex`) and the Fourier transform primitives
//! (`ops::fft`): one core entry point per function.
use super::tensor::PyTensor;
use crate::layout::wrap_dim;
use crate::ops::{complex, fft};
use crate::tensor::Tensor;
use pyo3::prelude::*;

type PT = Py<PyTensor>;

fn wrap(py: Python<'_>, t: Tensor) -> PyResult<PT> {
    PyTensor::wrap(py, t)
}

macro_rules! unary_binding {
    ($($name:ident => $f:path),* $(,)?) => {$(
        #[pyfunction]
        fn $name(py: Python<'_>, x: PyRef<'_, PyTensor>) -> PyResult<PT> {
            super::guard(stringify!($name), || wrap(py, $f(&x.t)?))
        }
    )*};
}

unary_binding!(
    view_as_real => complex::view_as_real,
    view_as_complex => complex::view_as_complex,
    real => complex::real,
    imag => complex::imag,
    conj => complex::conj,
    complex_abs => complex::abs,
    complex_angle => complex::angle,
);

/// `complex(real, imag)`.
#[pyfunction]
#[pyo3(name = "complex")]
fn complex_(py: Python<'_>, re: PyRef<'_, PyTensor>, im: PyRef<'_, PyTensor>) -> PyResult<PT> {
    super::guard("complex", || wrap(py, complex::complex(&re.t, &im.t)?))
}

#[pyfunction]
fn polar(py: Python<'_>, abs: PyRef<'_, PyTensor>, angle: PyRef<'_, PyTensor>) -> PyResult<PT> {
    super::guard("polar", || wrap(py, complex::polar(&abs.t, &angle.t)?))
}

/// Fills a complex tensor with `re + i·im` in place (no autograd; bumps the version).
#[pyfunction]
fn fill_complex_(x: PyRef<'_, PyTensor>, re: f64, im: f64) -> PyResult<()> {
    super::guard("fill_", || {
        if !x.t.dtype().is_complex() {
            return Err(crate::error::Error::Runtime(format!("fill_: a complex value cannot be written into a {} tensor", x.t.dtype().name())).into());
        }
        crate::dispatch::check_write("fill_", &x.t)?;
        complex::fill_raw(&x.t, re, im)?;
        x.t.storage().bump_version();
        Ok(())
    })
}

#[pyfunction]
fn fft_c2c(py: Python<'_>, x: PyRef<'_, PyTensor>, dim: i64, inverse: bool) -> PyResult<PT> {
    super::guard("fft_c2c", || {
        let d = wrap_dim("fft_c2c", dim, x.t.ndim())?;
        let t = x.t.clone();
        wrap(py, super::maybe_detach(py, t.numel(), || fft::fft_c2c(&t, d, inverse))?)
    })
}

#[pyfunction]
fn fft_r2c(py: Python<'_>, x: PyRef<'_, PyTensor>, dim: i64) -> PyResult<PT> {
    super::guard("fft_r2c", || {
        let d = wrap_dim("fft_r2c", dim, x.t.ndim())?;
        let t = x.t.clone();
        wrap(py, super::maybe_detach(py, t.numel(), || fft::fft_r2c(&t, d))?)
    })
}

#[pyfunction]
fn fft_c2r(py: Python<'_>, x: PyRef<'_, PyTensor>, dim: i64, n: usize) -> PyResult<PT> {
    super::guard("fft_c2r", || {
        let d = wrap_dim("fft_c2r", dim, x.t.ndim())?;
        let t = x.t.clone();
        wrap(py, super::maybe_detach(py, t.numel(), || fft::fft_c2r(&t, d, n))?)
    })
}

/// `x[..., L]` -> `[..., n, size]` windows `step` apart (a view).
#[pyfunction]
fn frames(py: Python<'_>, x: PyRef<'_, PyTensor>, size: usize, step: usize) -> PyResult<PT> {
    super::guard("frames", || wrap(py, fft::frames(&x.t, size, step)?))
}

/// `y[..., n, size]` -> `[..., total]`, window m added at m·step.
#[pyfunction]
fn overlap_add(py: Python<'_>, y: PyRef<'_, PyTensor>, step: usize, total: usize) -> PyResult<PT> {
    super::guard("overlap_add", || {
        let t = y.t.clone();
        wrap(py, super::maybe_detach(py, t.numel(), || fft::overlap_add(&t, step, total))?)
    })
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    macro_rules! add {
        ($($f:ident),*) => { $( m.add_function(wrap_pyfunction!($f, m)?)?; )* };
    }
    add!(view_as_real, view_as_complex, real, imag, conj, complex_abs, complex_angle, complex_, polar, fill_complex_, fft_c2c, fft_r2c, fft_c2r, frames, overlap_add);
    Ok(())
}
