//! Matrix products: `matmul` (NumPy's broadcasting rules) and `bmm`, run with the GIL released.
use super::{wrap, PT};
use crate::error::Result;
use crate::ops;
use crate::py::PyTensor;
use crate::tensor::Tensor;
use pyo3::prelude::*;

/// `product(a, b)` computed with the GIL released.
fn released(py: Python<'_>, name: &str, a: PyRef<'_, PyTensor>, b: PyRef<'_, PyTensor>, product: fn(&Tensor, &Tensor) -> Result<Tensor>) -> PyResult<PT> {
    super::guard(name, || {
        let (a, b) = (a.t.clone(), b.t.clone());
        let r = py.detach(|| product(&a, &b))?;
        wrap(py, r)
    })
}

#[pyfunction]
fn matmul(py: Python<'_>, a: PyRef<'_, PyTensor>, b: PyRef<'_, PyTensor>) -> PyResult<PT> {
    released(py, "matmul", a, b, ops::matmul::matmul)
}

#[pyfunction]
fn bmm(py: Python<'_>, a: PyRef<'_, PyTensor>, b: PyRef<'_, PyTensor>) -> PyResult<PT> {
    released(py, "bmm", a, b, ops::matmul::bmm)
}

pub(super) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    add_functions!(m, matmul, bmm);
    Ok(())
}
