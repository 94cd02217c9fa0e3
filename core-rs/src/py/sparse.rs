//! Bindings for the sparse kernels (`deepseek.sparse` builds sparse tensors and their
//! autograd on top of these). Each call releases the GIL around its kernel.
use super::tensor::PyTensor;
use crate::ops::sparse;
use pyo3::prelude::*;

type T2 = (Py<PyTensor>, Py<PyTensor>);

/// sparse_csr_mm(crow, col, values, dense, nrows): CSR (nrows × K) @ dense (K × N).
#[pyfunction]
fn sparse_csr_mm(py: Python<'_>, crow: PyRef<'_, PyTensor>, col: PyRef<'_, PyTensor>, values: PyRef<'_, PyTensor>, dense: PyRef<'_, PyTensor>, nrows: usize) -> PyResult<Py<PyTensor>> {
    super::guard("sparse_csr_mm", || {
        let (c, k, v, d) = (crow.t.clone(), col.t.clone(), values.t.clone(), dense.t.clone());
        let r = py.detach(|| sparse::spmm(&c, &k, &v, &d, nrows))?;
        PyTensor::wrap(py, r)
    })
}

/// sparse_dense_csr_mm(dense, crow, col, values, ncols): dense (M × K) @ CSR (K × ncols).
#[pyfunction]
fn sparse_dense_csr_mm(py: Python<'_>, dense: PyRef<'_, PyTensor>, crow: PyRef<'_, PyTensor>, col: PyRef<'_, PyTensor>, values: PyRef<'_, PyTensor>, ncols: usize) -> PyResult<Py<PyTensor>> {
    super::guard("sparse_dense_csr_mm", || {
        let (d, c, k, v) = (dense.t.clone(), crow.t.clone(), col.t.clone(), values.t.clone());
        let r = py.detach(|| sparse::dense_spmm(&d, &c, &k, &v, ncols))?;
        PyTensor::wrap(py, r)
    })
}

/// sparse_sddmm(crow, col, a, b): out[p] = dot(a[row(p)], b[col(p)]) over a CSR pattern.
#[pyfunction]
fn sparse_sddmm(py: Python<'_>, crow: PyRef<'_, PyTensor>, col: PyRef<'_, PyTensor>, a: PyRef<'_, PyTensor>, b: PyRef<'_, PyTensor>) -> PyResult<Py<PyTensor>> {
    super::guard("sparse_sddmm", || {
        let (c, k, a, b) = (crow.t.clone(), col.t.clone(), a.t.clone(), b.t.clone());
        let r = py.detach(|| sparse::sddmm(&c, &k, &a, &b))?;
        PyTensor::wrap(py, r)
    })
}

/// sparse_coalesce_keys(keys) -> (segment, unique): sorted distinct keys and where each went.
#[pyfunction]
fn sparse_coalesce_keys(py: Python<'_>, keys: PyRef<'_, PyTensor>) -> PyResult<T2> {
    super::guard("sparse_coalesce_keys", || {
        let k = keys.t.clone();
        let (s, u) = py.detach(|| sparse::coalesce_keys(&k))?;
        Ok((PyTensor::wrap(py, s)?, PyTensor::wrap(py, u)?))
    })
}

/// sparse_intersect(a, b) -> (ia, ib): positions of the keys two sorted key lists share.
#[pyfunction]
fn sparse_intersect(py: Python<'_>, a: PyRef<'_, PyTensor>, b: PyRef<'_, PyTensor>) -> PyResult<T2> {
    super::guard("sparse_intersect", || {
        let (a, b) = (a.t.clone(), b.t.clone());
        let (x, y) = py.detach(|| sparse::intersect_sorted(&a, &b))?;
        Ok((PyTensor::wrap(py, x)?, PyTensor::wrap(py, y)?))
    })
}

/// sparse_validate_csr(crow, col, nrows, ncols): raises unless the CSR index is valid.
#[pyfunction]
fn sparse_validate_csr(crow: PyRef<'_, PyTensor>, col: PyRef<'_, PyTensor>, nrows: usize, ncols: usize) -> PyResult<()> {
    super::guard("sparse_validate_csr", || Ok(sparse::validate_csr(&crow.t, &col.t, nrows, ncols)?))
}

/// sparse_csr_rows(crow, col, nrows, ncols): the row of every stored element.
#[pyfunction]
fn sparse_csr_rows(py: Python<'_>, crow: PyRef<'_, PyTensor>, col: PyRef<'_, PyTensor>, nrows: usize, ncols: usize) -> PyResult<Py<PyTensor>> {
    super::guard("sparse_csr_rows", || PyTensor::wrap(py, sparse::csr_rows(&crow.t, &col.t, nrows, ncols)?))
}

/// sparse_rows_to_crow(rows, nrows): row pointers of sorted row indices.
#[pyfunction]
fn sparse_rows_to_crow(py: Python<'_>, rows: PyRef<'_, PyTensor>, nrows: usize) -> PyResult<Py<PyTensor>> {
    super::guard("sparse_rows_to_crow", || PyTensor::wrap(py, sparse::rows_to_crow(&rows.t, nrows)?))
}

/// sparse_csr_transpose(crow, col, nrows, ncols) -> (crow_t, col_t, perm).
#[pyfunction]
fn sparse_csr_transpose(py: Python<'_>, crow: PyRef<'_, PyTensor>, col: PyRef<'_, PyTensor>, nrows: usize, ncols: usize) -> PyResult<(Py<PyTensor>, Py<PyTensor>, Py<PyTensor>)> {
    super::guard("sparse_csr_transpose", || {
        let (c, k) = (crow.t.clone(), col.t.clone());
        let (a, b, p) = py.detach(|| sparse::csr_transpose(&c, &k, nrows, ncols))?;
        Ok((PyTensor::wrap(py, a)?, PyTensor::wrap(py, b)?, PyTensor::wrap(py, p)?))
    })
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(sparse_csr_mm, m)?)?;
    m.add_function(wrap_pyfunction!(sparse_dense_csr_mm, m)?)?;
    m.add_function(wrap_pyfunction!(sparse_sddmm, m)?)?;
    m.add_function(wrap_pyfunction!(sparse_coalesce_keys, m)?)?;
    m.add_function(wrap_pyfunction!(sparse_intersect, m)?)?;
    m.add_function(wrap_pyfunction!(sparse_validate_csr, m)?)?;
    m.add_function(wrap_pyfunction!(sparse_csr_rows, m)?)?;
    m.add_function(wrap_pyfunction!(sparse_rows_to_crow, m)?)?;
    m.add_function(wrap_pyfunction!(sparse_csr_transpose, m)?)?;
    Ok(())
}
