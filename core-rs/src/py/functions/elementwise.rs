//! Elementwise primitives: `unary` and `binary` by op name, `polygamma`, `where` and
//! `result_type` (PyTorch's promotion of tensors and Python numbers).
use super::{maybe_detach, operand_arg, wrap, PT};
use crate::ops::{self, binary::Operand, BinaryOp, UnaryOp};
use crate::py::PyTensor;
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;

#[pyfunction]
fn unary(py: Python<'_>, name: &str, x: PyRef<'_, PyTensor>) -> PyResult<PT> {
    super::guard("unary", || {
        let op = UnaryOp::from_name(name).ok_or_else(|| PyValueError::new_err(format!("unknown unary op {name}")))?;
        let t = x.t.clone();
        let r = maybe_detach(py, t.numel(), || ops::unary(op, &t))?;
        wrap(py, r)
    })
}

#[pyfunction]
fn polygamma(py: Python<'_>, n: i64, x: PyRef<'_, PyTensor>) -> PyResult<PT> {
    super::guard("polygamma", || {
        let t = x.t.clone();
        let r = maybe_detach(py, t.numel(), || ops::unary::polygamma(n, &t))?;
        wrap(py, r)
    })
}

#[pyfunction]
fn binary(py: Python<'_>, name: &str, a: &Bound<'_, PyAny>, b: &Bound<'_, PyAny>) -> PyResult<PT> {
    super::guard("binary", || {
        let op = BinaryOp::from_name(name).ok_or_else(|| PyValueError::new_err(format!("unknown binary op {name}")))?;
        let (a, b) = (operand_arg(name, a)?, operand_arg(name, b)?);
        if let (Operand::S(_), Operand::S(_)) = (&a, &b) {
            return Err(PyTypeError::new_err(format!("{name}(): at least one argument must be a Tensor")));
        }
        let r = py.detach(|| ops::binary(op, &a, &b))?;
        wrap(py, r)
    })
}

/// The dtype name `torch.result_type` gives for tensors and Python numbers (any number of them).
#[pyfunction]
#[pyo3(signature = (*operands))]
fn result_type(operands: &Bound<'_, pyo3::types::PyTuple>) -> PyResult<&'static str> {
    super::guard("result_type", || {
        let ops: Vec<Operand> = operands.iter().map(|o| operand_arg("result_type", &o)).collect::<PyResult<_>>()?;
        if ops.is_empty() {
            return Err(PyTypeError::new_err("result_type(): expected at least one operand"));
        }
        Ok(ops::binary::result_type_of(&ops.iter().collect::<Vec<_>>()).name())
    })
}

#[pyfunction]
#[pyo3(name = "where")]
fn where_(py: Python<'_>, cond: PyRef<'_, PyTensor>, a: &Bound<'_, PyAny>, b: &Bound<'_, PyAny>) -> PyResult<PT> {
    super::guard("where_", || {
        let (a, b) = (operand_arg("where", a)?, operand_arg("where", b)?);
        wrap(py, ops::binary::where_op(&cond.t, &a, &b)?)
    })
}

pub(super) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    add_functions!(m, unary, polygamma, binary, result_type, where_);
    Ok(())
}
