//! Bindings for the faer linear-algebra kernels behind `deepseek.linalg`. They take and return
//! plain CPU tensors with no autograd history (the Python layer moves device tensors to the
//! CPU and back, checks arguments and records the gradients). The GIL is released around each
//! kernel.
use super::tensor::PyTensor;
use crate::ops::linalg;
use crate::tensor::Tensor;
use pyo3::prelude::*;

type T2 = (Py<PyTensor>, Py<PyTensor>);

fn pair(py: Python<'_>, (a, b): (Tensor, Tensor)) -> PyResult<T2> {
    Ok((PyTensor::wrap(py, a)?, PyTensor::wrap(py, b)?))
}

/// (inverse, info): info[b] is the 1-based index of the first zero pivot of matrix b, else 0.
#[pyfunction]
fn linalg_inv(py: Python<'_>, a: PyRef<'_, PyTensor>) -> PyResult<T2> {
    super::guard("linalg.inv", || {
        let a = a.t.clone();
        pair(py, py.detach(|| linalg::inv(&a))?)
    })
}

/// (X, info) with A X = B; `b` is [..., n, k] with `a`'s batch dims.
#[pyfunction]
fn linalg_solve(py: Python<'_>, a: PyRef<'_, PyTensor>, b: PyRef<'_, PyTensor>) -> PyResult<T2> {
    super::guard("linalg.solve", || {
        let (a, b) = (a.t.clone(), b.t.clone());
        pair(py, py.detach(|| linalg::solve(&a, &b))?)
    })
}

/// The determinant of each matrix.
#[pyfunction]
fn linalg_det(py: Python<'_>, a: PyRef<'_, PyTensor>) -> PyResult<Py<PyTensor>> {
    super::guard("linalg.det", || {
        let a = a.t.clone();
        PyTensor::wrap(py, py.detach(|| linalg::det(&a))?)
    })
}

/// (sign, log|det|) of each matrix.
#[pyfunction]
fn linalg_slogdet(py: Python<'_>, a: PyRef<'_, PyTensor>) -> PyResult<T2> {
    super::guard("linalg.slogdet", || {
        let a = a.t.clone();
        pair(py, py.detach(|| linalg::slogdet(&a))?)
    })
}

/// (L, info): info[b] is the order of the first non-positive-definite leading minor, else 0.
#[pyfunction]
fn linalg_cholesky(py: Python<'_>, a: PyRef<'_, PyTensor>, upper: bool) -> PyResult<T2> {
    super::guard("linalg.cholesky", || {
        let a = a.t.clone();
        pair(py, py.detach(|| linalg::cholesky(&a, upper))?)
    })
}

/// (Q, R) for mode "reduced", "complete" or "r".
#[pyfunction]
fn linalg_qr(py: Python<'_>, a: PyRef<'_, PyTensor>, mode: &str) -> PyResult<T2> {
    super::guard("linalg.qr", || {
        let a = a.t.clone();
        let mode = mode.to_string();
        pair(py, py.detach(|| linalg::qr(&a, &mode))?)
    })
}

/// (U, S, Vh).
#[pyfunction]
fn linalg_svd(py: Python<'_>, a: PyRef<'_, PyTensor>, full_matrices: bool, compute_uv: bool) -> PyResult<(Py<PyTensor>, Py<PyTensor>, Py<PyTensor>)> {
    super::guard("linalg.svd", || {
        let a = a.t.clone();
        let (u, s, vh) = py.detach(|| linalg::svd(&a, full_matrices, compute_uv))?;
        Ok((PyTensor::wrap(py, u)?, PyTensor::wrap(py, s)?, PyTensor::wrap(py, vh)?))
    })
}

/// (eigenvalues ascending, eigenvectors) of symmetric matrices, reading the `upper` or lower
/// triangle.
#[pyfunction]
fn linalg_eigh(py: Python<'_>, a: PyRef<'_, PyTensor>, upper: bool, compute_v: bool) -> PyResult<T2> {
    super::guard("linalg.eigh", || {
        let a = a.t.clone();
        pair(py, py.detach(|| linalg::eigh(&a, upper, compute_v))?)
    })
}

/// (LU, pivots, info) as LAPACK's getrf returns them.
#[pyfunction]
fn linalg_lu_factor(py: Python<'_>, a: PyRef<'_, PyTensor>) -> PyResult<(Py<PyTensor>, Py<PyTensor>, Py<PyTensor>)> {
    super::guard("linalg.lu_factor", || {
        let a = a.t.clone();
        let (lu, piv, info) = py.detach(|| linalg::lu_factor(&a))?;
        Ok((PyTensor::wrap(py, lu)?, PyTensor::wrap(py, piv)?, PyTensor::wrap(py, info)?))
    })
}

/// (flat index, value) of the first nonzero entry of an int32 `info` tensor, or (-1, 0): the
/// check every factorisation makes before raising, without a round trip through Python lists.
#[pyfunction]
fn linalg_first_failure(info: PyRef<'_, PyTensor>) -> PyResult<(i64, i32)> {
    super::guard("linalg", || {
        let t = crate::ops::contiguous(&info.t)?;
        if t.dtype() != crate::dtype::DType::I32 || t.is_device() {
            return Err(pyo3::exceptions::PyTypeError::new_err("linalg: info must be an int32 CPU tensor"));
        }
        Ok(t.as_slice::<i32>().iter().enumerate().find(|(_, &v)| v != 0).map_or((-1, 0), |(k, &v)| (k as i64, v)))
    })
}

/// X with A X = B for triangular A.
#[pyfunction]
fn linalg_solve_triangular(py: Python<'_>, a: PyRef<'_, PyTensor>, b: PyRef<'_, PyTensor>, upper: bool, unitriangular: bool) -> PyResult<Py<PyTensor>> {
    super::guard("linalg.solve_triangular", || {
        let (a, b) = (a.t.clone(), b.t.clone());
        PyTensor::wrap(py, py.detach(|| linalg::solve_triangular(&a, &b, upper, unitriangular))?)
    })
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(linalg_inv, m)?)?;
    m.add_function(wrap_pyfunction!(linalg_solve, m)?)?;
    m.add_function(wrap_pyfunction!(linalg_det, m)?)?;
    m.add_function(wrap_pyfunction!(linalg_slogdet, m)?)?;
    m.add_function(wrap_pyfunction!(linalg_cholesky, m)?)?;
    m.add_function(wrap_pyfunction!(linalg_qr, m)?)?;
    m.add_function(wrap_pyfunction!(linalg_svd, m)?)?;
    m.add_function(wrap_pyfunction!(linalg_eigh, m)?)?;
    m.add_function(wrap_pyfunction!(linalg_solve_triangular, m)?)?;
    m.add_function(wrap_pyfunction!(linalg_lu_factor, m)?)?;
    m.add_function(wrap_pyfunction!(linalg_first_failure, m)?)?;
    Ok(())
}
