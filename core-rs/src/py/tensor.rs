//! The `Tensor` class: properties, operators and the hot methods. Everything else is added
//! in Python (python/deepseek/_tensor.py) on top of the module functions.
use super::{as_scalar, maybe_detach};
use crate::ops::binary::{binary_, Operand};
use crate::ops::{self, BinaryOp, UnaryOp};
use crate::tensor::Tensor;
use pyo3::exceptions::{PyRuntimeError, PyTypeError};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyTuple};

#[pyclass(name = "Tensor", module = "deepseek", subclass, weakref, dict)]
pub struct PyTensor {
    pub t: Tensor,
}

impl PyTensor {
    pub fn wrap(py: Python<'_>, t: Tensor) -> PyResult<Py<PyTensor>> {
        Py::new(py, PyTensor { t })
    }
}

/// A Python operand (tensor or number); None when it is neither.
pub fn operand(obj: &Bound<'_, PyAny>) -> Option<Operand> {
    if let Ok(t) = obj.cast::<PyTensor>() {
        return Some(Operand::T(t.borrow().t.clone()));
    }
    if let Ok(c) = obj.cast::<pyo3::types::PyComplex>() {
        return Some(Operand::C(c.real(), c.imag()));
    }
    as_scalar(obj).map(Operand::S)
}

fn operand_or_err(op: &str, obj: &Bound<'_, PyAny>) -> PyResult<Operand> {
    operand(obj).ok_or_else(|| {
        PyTypeError::new_err(format!(
            "{op}(): argument 'other' must be Tensor or Number, not {}",
            obj.get_type().name().map(|n| n.to_string()).unwrap_or_default()
        ))
    })
}

fn work_of(a: &Tensor, b: &Operand) -> usize {
    let n = a.numel();
    match b {
        Operand::T(t) => n.max(t.numel()),
        _ => n,
    }
}

/// Binary dunder: returns NotImplemented for foreign operands so Python tries the other side.
fn dunder(slf: &Bound<'_, PyTensor>, other: &Bound<'_, PyAny>, op: BinaryOp, reflected: bool) -> PyResult<Py<PyAny>> {
    let py = slf.py();
    let Some(o) = operand(other) else {
        return Ok(py.NotImplemented());
    };
    let a = slf.borrow().t.clone();
    let work = work_of(&a, &o);
    let r = maybe_detach(py, work, || {
        let a: Operand = a.into();
        if reflected {
            ops::binary(op, &o, &a)
        } else {
            ops::binary(op, &a, &o)
        }
    })?;
    Ok(PyTensor::wrap(py, r)?.into_any())
}

fn idunder<'py>(slf: &Bound<'py, PyTensor>, other: &Bound<'py, PyAny>, op: BinaryOp) -> PyResult<Bound<'py, PyTensor>> {
    let o = operand_or_err(op.name(), other)?;
    let a = slf.borrow().t.clone();
    let work = work_of(&a, &o);
    maybe_detach(slf.py(), work, || binary_(op, &a, &o))?;
    Ok(slf.clone())
}

#[pymethods]
impl PyTensor {
    /// `Tensor(t)` aliases another tensor's data (used by subclasses such as Parameter);
    /// `Tensor()` is an empty float tensor. Build tensors from data with `deepseek.tensor`.
    #[new]
    #[pyo3(signature = (data=None))]
    fn py_new(data: Option<PyRef<'_, PyTensor>>) -> PyResult<PyTensor> {
        super::guard("py_new", || {
            match data {
                Some(d) => Ok(PyTensor { t: d.t.detach() }),
                None => Ok(PyTensor { t: Tensor::empty(&[0], crate::dtype::DType::F32)? }),
            }
        })
    }

    #[getter]
    fn _shape<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyTuple>> {
        super::guard("_shape", || {
            PyTuple::new(py, self.t.shape())
        })
    }
    #[getter]
    fn _dtype(&self) -> &'static str {
        self.t.dtype().name()
    }
    #[getter]
    fn ndim(&self) -> usize {
        self.t.ndim()
    }
    fn dim(&self) -> usize {
        self.t.ndim()
    }
    fn numel(&self) -> usize {
        self.t.numel()
    }
    fn element_size(&self) -> usize {
        self.t.dtype().size()
    }
    fn _strides<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyTuple>> {
        super::guard("_strides", || {
            PyTuple::new(py, self.t.strides())
        })
    }
    fn storage_offset(&self) -> usize {
        self.t.layout().offset
    }
    fn data_ptr(&self) -> usize {
        if self.t.is_device() {
            // the plugin's buffer handle plus the byte offset, as an opaque number
            let st = self.t.storage();
            return st.ptr() as usize + st.byte_offset() + self.t.layout().offset * self.t.dtype().size();
        }
        self.t.data_ptr() as usize
    }
    /// Where the tensor lives: "cpu", "opencl:0"...
    #[getter]
    fn _device(&self) -> String {
        self.t.device().name()
    }
    fn _storage_ptr(&self) -> usize {
        self.t.storage().ptr() as usize
    }
    fn _storage_nbytes(&self) -> usize {
        self.t.storage().nbytes()
    }
    fn is_contiguous(&self) -> bool {
        self.t.is_contiguous()
    }
    #[getter]
    fn _version(&self) -> u64 {
        self.t.version()
    }
    #[getter]
    fn get_requires_grad(&self) -> bool {
        self.t.requires_grad()
    }
    #[setter]
    fn set_requires_grad(&self, v: bool) -> PyResult<()> {
        super::guard("set_requires_grad", || {
            Ok(self.t.set_requires_grad(v)?)
        })
    }
    #[pyo3(signature = (requires_grad=true))]
    fn requires_grad_(slf: Bound<'_, Self>, requires_grad: bool) -> PyResult<Bound<'_, Self>> {
        super::guard("requires_grad_", || {
            slf.borrow().t.set_requires_grad(requires_grad)?;
            Ok(slf)
        })
    }
    #[getter]
    fn get_grad(&self, py: Python<'_>) -> PyResult<Option<Py<PyTensor>>> {
        super::guard("get_grad", || {
            match self.t.grad() {
                Some(g) => Ok(Some(PyTensor::wrap(py, g)?)),
                None => Ok(None),
            }
        })
    }
    #[setter]
    fn set_grad(&self, g: Option<PyRef<'_, PyTensor>>) -> PyResult<()> {
        super::guard("set_grad", || {
            Ok(self.t.set_grad(g.map(|g| g.t.clone()))?)
        })
    }
    #[getter]
    fn is_leaf(&self) -> bool {
        self.t.is_leaf()
    }
    #[getter]
    fn _grad_fn_name(&self) -> Option<String> {
        self.t.grad_fn().map(|n| n.name.clone())
    }
    #[getter]
    fn _grad_fn_id(&self) -> Option<usize> {
        self.t.grad_fn().map(|n| std::sync::Arc::as_ptr(&n) as usize)
    }
    #[getter]
    fn _output_nr(&self) -> usize {
        self.t.meta().output_nr
    }
    #[getter]
    fn _is_view(&self) -> bool {
        self.t.view_base().is_some()
    }
    fn _base(&self, py: Python<'_>) -> PyResult<Option<Py<PyTensor>>> {
        super::guard("_base", || {
            match self.t.view_base() {
                Some(b) => Ok(Some(PyTensor::wrap(py, b.clone())?)),
                None => Ok(None),
            }
        })
    }
    #[getter]
    fn retains_grad(&self) -> bool {
        self.t.meta().retains_grad
    }
    fn detach(&self, py: Python<'_>) -> PyResult<Py<PyTensor>> {
        super::guard("detach", || {
            PyTensor::wrap(py, self.t.detach())
        })
    }
    fn detach_(slf: Bound<'_, Self>) -> PyResult<Bound<'_, Self>> {
        super::guard("detach_", || {
            {
                let b = slf.borrow();
                let mut m = b.t.meta();
                m.grad_fn = None;
                m.requires_grad = false;
            }
            Ok(slf)
        })
    }
    fn _same(&self, other: PyRef<'_, PyTensor>) -> bool {
        self.t.same(&other.t)
    }
    /// Makes this object stand for `src`'s tensor (storage, layout, dtype and autograd
    /// history) while keeping its Python identity: the in-place metadata ops (`t_`,
    /// `squeeze_`, `resize_`, `set_` ...) and `UninitializedParameter.materialize` need it,
    /// since a `Tensor`'s layout never changes.
    fn _rebind_(&mut self, src: PyRef<'_, PyTensor>) {
        self.t = src.t.clone();
    }
    fn __hash__(slf: &Bound<'_, Self>) -> isize {
        slf.as_ptr() as isize
    }
    fn __len__(&self) -> PyResult<usize> {
        super::guard("__len__", || {
            if self.t.ndim() == 0 {
                return Err(PyTypeError::new_err("len() of a 0-d tensor"));
            }
            Ok(self.t.shape()[0])
        })
    }
    fn __bool__(&self, py: Python<'_>) -> PyResult<bool> {
        super::graph::host_read(py, "bool()")?;
        super::guard("__bool__", || {
            if self.t.numel() != 1 {
                return Err(PyRuntimeError::new_err(format!(
                    "Boolean value of Tensor with more than one value is ambiguous (shape {:?})",
                    self.t.shape()
                )));
            }
            if self.t.dtype().is_complex() {
                return Ok(crate::ops::complex::raw_real(&self.t).to_vec_f64().iter().any(|&v| v != 0.0));
            }
            Ok(self.t.to_vec_f64()[0] != 0.0)
        })
    }
    /// The single value as a Python number.
    fn item(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        super::graph::host_read(py, "item()")?;
        super::guard("item", || {
            if self.t.numel() != 1 {
                return Err(PyRuntimeError::new_err(format!(
                    "a Tensor with {} elements cannot be converted to Scalar (shape {:?})",
                    self.t.numel(),
                    self.t.shape()
                )));
            }
            let d = self.t.dtype();
            if d.is_complex() {
                let v = crate::ops::complex::raw_real(&self.t).to_vec_f64();
                Ok(pyo3::types::PyComplex::from_doubles(py, v[0], v[1]).into_any().unbind())
            } else if d.is_float() {
                Ok(self.t.to_vec_f64()[0].into_pyobject(py)?.into_any().unbind())
            } else if d == crate::dtype::DType::Bool {
                Ok(pyo3::types::PyBool::new(py, self.t.to_vec_f64()[0] != 0.0).to_owned().into_any().unbind())
            } else {
                let c = crate::ops::cast(&self.t.detach(), crate::dtype::DType::I64)?;
                let c = crate::dispatch::to_device(&c, crate::device::Device::Cpu)?;
                let c = crate::ops::contiguous(&c)?;
                Ok(c.as_slice::<i64>()[0].into_pyobject(py)?.into_any().unbind())
            }
        })
    }
    fn __float__(&self, py: Python<'_>) -> PyResult<f64> {
        super::guard("__float__", || {
            self.item(py)?.extract::<f64>(py)
        })
    }
    fn __int__(&self, py: Python<'_>) -> PyResult<i64> {
        super::guard("__int__", || {
            let v = self.item(py)?;
            if let Ok(i) = v.extract::<i64>(py) {
                return Ok(i);
            }
            Ok(v.extract::<f64>(py)?.trunc() as i64)
        })
    }
    fn __index__(&self, py: Python<'_>) -> PyResult<i64> {
        super::guard("__index__", || {
            if self.t.dtype().is_float() || self.t.dtype().is_complex() || self.t.numel() != 1 {
                return Err(PyTypeError::new_err("only integer tensors of a single element can be converted to an index"));
            }
            self.item(py)?.extract::<i64>(py)
        })
    }

    // ---- arithmetic ----
    fn __add__(slf: &Bound<'_, Self>, o: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        super::guard("__add__", || {
            dunder(slf, o, BinaryOp::Add, false)
        })
    }
    fn __radd__(slf: &Bound<'_, Self>, o: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        super::guard("__radd__", || {
            dunder(slf, o, BinaryOp::Add, true)
        })
    }
    fn __sub__(slf: &Bound<'_, Self>, o: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        super::guard("__sub__", || {
            dunder(slf, o, BinaryOp::Sub, false)
        })
    }
    fn __rsub__(slf: &Bound<'_, Self>, o: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        super::guard("__rsub__", || {
            dunder(slf, o, BinaryOp::Sub, true)
        })
    }
    fn __mul__(slf: &Bound<'_, Self>, o: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        super::guard("__mul__", || {
            dunder(slf, o, BinaryOp::Mul, false)
        })
    }
    fn __rmul__(slf: &Bound<'_, Self>, o: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        super::guard("__rmul__", || {
            dunder(slf, o, BinaryOp::Mul, true)
        })
    }
    fn __truediv__(slf: &Bound<'_, Self>, o: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        super::guard("__truediv__", || {
            dunder(slf, o, BinaryOp::Div, false)
        })
    }
    fn __rtruediv__(slf: &Bound<'_, Self>, o: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        super::guard("__rtruediv__", || {
            dunder(slf, o, BinaryOp::Div, true)
        })
    }
    fn __floordiv__(slf: &Bound<'_, Self>, o: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        super::guard("__floordiv__", || {
            dunder(slf, o, BinaryOp::FloorDivide, false)
        })
    }
    fn __rfloordiv__(slf: &Bound<'_, Self>, o: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        super::guard("__rfloordiv__", || {
            dunder(slf, o, BinaryOp::FloorDivide, true)
        })
    }
    fn __mod__(slf: &Bound<'_, Self>, o: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        super::guard("__mod__", || {
            dunder(slf, o, BinaryOp::Remainder, false)
        })
    }
    fn __rmod__(slf: &Bound<'_, Self>, o: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        super::guard("__rmod__", || {
            dunder(slf, o, BinaryOp::Remainder, true)
        })
    }
    fn __pow__(slf: &Bound<'_, Self>, o: &Bound<'_, PyAny>, _modulo: Option<&Bound<'_, PyAny>>) -> PyResult<Py<PyAny>> {
        super::guard("__pow__", || {
            dunder(slf, o, BinaryOp::Pow, false)
        })
    }
    fn __rpow__(slf: &Bound<'_, Self>, o: &Bound<'_, PyAny>, _modulo: Option<&Bound<'_, PyAny>>) -> PyResult<Py<PyAny>> {
        super::guard("__rpow__", || {
            dunder(slf, o, BinaryOp::Pow, true)
        })
    }
    fn __and__(slf: &Bound<'_, Self>, o: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        super::guard("__and__", || {
            dunder(slf, o, BinaryOp::BitwiseAnd, false)
        })
    }
    fn __rand__(slf: &Bound<'_, Self>, o: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        super::guard("__rand__", || {
            dunder(slf, o, BinaryOp::BitwiseAnd, true)
        })
    }
    fn __or__(slf: &Bound<'_, Self>, o: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        super::guard("__or__", || {
            dunder(slf, o, BinaryOp::BitwiseOr, false)
        })
    }
    fn __ror__(slf: &Bound<'_, Self>, o: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        super::guard("__ror__", || {
            dunder(slf, o, BinaryOp::BitwiseOr, true)
        })
    }
    fn __xor__(slf: &Bound<'_, Self>, o: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        super::guard("__xor__", || {
            dunder(slf, o, BinaryOp::BitwiseXor, false)
        })
    }
    fn __rxor__(slf: &Bound<'_, Self>, o: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        super::guard("__rxor__", || {
            dunder(slf, o, BinaryOp::BitwiseXor, true)
        })
    }
    fn __matmul__(&self, py: Python<'_>, o: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        super::guard("__matmul__", || {
            let Ok(b) = o.cast::<PyTensor>() else { return Ok(py.NotImplemented()) };
            let (a, b) = (self.t.clone(), b.borrow().t.clone());
            let work = a.numel().max(b.numel()) * 8;
            let r = maybe_detach(py, work, || ops::matmul::matmul(&a, &b))?;
            Ok(PyTensor::wrap(py, r)?.into_any())
        })
    }
    fn __rmatmul__(&self, py: Python<'_>, o: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        super::guard("__rmatmul__", || {
            let Ok(b) = o.cast::<PyTensor>() else { return Ok(py.NotImplemented()) };
            let r = ops::matmul::matmul(&b.borrow().t, &self.t)?;
            Ok(PyTensor::wrap(py, r)?.into_any())
        })
    }
    fn __neg__(&self, py: Python<'_>) -> PyResult<Py<PyTensor>> {
        super::guard("__neg__", || {
            PyTensor::wrap(py, ops::unary(UnaryOp::Neg, &self.t)?)
        })
    }
    fn __pos__(slf: Bound<'_, Self>) -> Bound<'_, Self> {
        slf
    }
    fn __abs__(&self, py: Python<'_>) -> PyResult<Py<PyTensor>> {
        super::guard("__abs__", || {
            PyTensor::wrap(py, ops::unary(UnaryOp::Abs, &self.t)?)
        })
    }
    fn __invert__(&self, py: Python<'_>) -> PyResult<Py<PyTensor>> {
        super::guard("__invert__", || {
            PyTensor::wrap(py, ops::unary(UnaryOp::BitwiseNot, &self.t)?)
        })
    }
    fn __richcmp__(slf: &Bound<'_, Self>, o: &Bound<'_, PyAny>, op: pyo3::basic::CompareOp) -> PyResult<Py<PyAny>> {
        super::guard("__richcmp__", || {
            use pyo3::basic::CompareOp::*;
            let b = match op {
                Eq => BinaryOp::Eq,
                Ne => BinaryOp::Ne,
                Lt => BinaryOp::Lt,
                Le => BinaryOp::Le,
                Gt => BinaryOp::Gt,
                Ge => BinaryOp::Ge,
            };
            dunder(slf, o, b, false)
        })
    }
    fn __iadd__<'py>(slf: &Bound<'py, Self>, o: &Bound<'py, PyAny>) -> PyResult<()> {
        super::guard("__iadd__", || {
            idunder(slf, o, BinaryOp::Add).map(|_| ())
        })
    }
    fn __isub__<'py>(slf: &Bound<'py, Self>, o: &Bound<'py, PyAny>) -> PyResult<()> {
        super::guard("__isub__", || {
            idunder(slf, o, BinaryOp::Sub).map(|_| ())
        })
    }
    fn __imul__<'py>(slf: &Bound<'py, Self>, o: &Bound<'py, PyAny>) -> PyResult<()> {
        super::guard("__imul__", || {
            idunder(slf, o, BinaryOp::Mul).map(|_| ())
        })
    }
    fn __itruediv__<'py>(slf: &Bound<'py, Self>, o: &Bound<'py, PyAny>) -> PyResult<()> {
        super::guard("__itruediv__", || {
            idunder(slf, o, BinaryOp::Div).map(|_| ())
        })
    }
    fn __ifloordiv__<'py>(slf: &Bound<'py, Self>, o: &Bound<'py, PyAny>) -> PyResult<()> {
        super::guard("__ifloordiv__", || {
            idunder(slf, o, BinaryOp::FloorDivide).map(|_| ())
        })
    }
    fn __imod__<'py>(slf: &Bound<'py, Self>, o: &Bound<'py, PyAny>) -> PyResult<()> {
        super::guard("__imod__", || {
            idunder(slf, o, BinaryOp::Remainder).map(|_| ())
        })
    }
    fn __ipow__<'py>(slf: &Bound<'py, Self>, o: &Bound<'py, PyAny>, _m: Option<&Bound<'py, PyAny>>) -> PyResult<()> {
        super::guard("__ipow__", || {
            idunder(slf, o, BinaryOp::Pow).map(|_| ())
        })
    }
    fn __iand__<'py>(slf: &Bound<'py, Self>, o: &Bound<'py, PyAny>) -> PyResult<()> {
        super::guard("__iand__", || {
            idunder(slf, o, BinaryOp::BitwiseAnd).map(|_| ())
        })
    }
    fn __ior__<'py>(slf: &Bound<'py, Self>, o: &Bound<'py, PyAny>) -> PyResult<()> {
        super::guard("__ior__", || {
            idunder(slf, o, BinaryOp::BitwiseOr).map(|_| ())
        })
    }
    fn __ixor__<'py>(slf: &Bound<'py, Self>, o: &Bound<'py, PyAny>) -> PyResult<()> {
        super::guard("__ixor__", || {
            idunder(slf, o, BinaryOp::BitwiseXor).map(|_| ())
        })
    }

    /// In-place binary op by name (`add_`, `mul_` ...), used by the Python methods.
    fn _binary_<'py>(slf: &Bound<'py, Self>, name: &str, o: &Bound<'py, PyAny>) -> PyResult<Bound<'py, Self>> {
        super::guard("_binary_", || {
            let op = BinaryOp::from_name(name).ok_or_else(|| PyTypeError::new_err(format!("unknown op {name}")))?;
            idunder(slf, o, op)
        })
    }

    /// The `__array_interface__` NumPy reads to share this tensor's memory.
    #[getter]
    fn __array_interface__<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        super::guard("__array_interface__", || {
            let d = PyDict::new(py);
            let dt = self.t.dtype();
            let typestr = match dt {
                crate::dtype::DType::Bool => "|b1",
                crate::dtype::DType::U8 => "|u1",
                crate::dtype::DType::I8 => "|i1",
                crate::dtype::DType::I16 => "<i2",
                crate::dtype::DType::I32 => "<i4",
                crate::dtype::DType::I64 => "<i8",
                crate::dtype::DType::F16 => "<f2",
                crate::dtype::DType::F32 => "<f4",
                crate::dtype::DType::F64 => "<f8",
                crate::dtype::DType::C64 => "<c8",
                crate::dtype::DType::C128 => "<c16",
                crate::dtype::DType::BF16 => {
                    // AttributeError, so NumPy falls back to __array__ (which converts to float32)
                    return Err(pyo3::exceptions::PyAttributeError::new_err("Got unsupported ScalarType BFloat16: NumPy has no bfloat16; call .float() first"))
                }
            };
            if self.t.is_device() {
                return Err(PyTypeError::new_err(format!(
                    "can't convert {} device type tensor to numpy. Use Tensor.cpu() to copy the tensor to host memory first.",
                    self.t.device().name()
                )));
            }
            let sz = dt.size() as isize;
            let strides: Vec<isize> = self.t.strides().iter().map(|s| s * sz).collect();
            d.set_item("shape", PyTuple::new(py, self.t.shape())?)?;
            d.set_item("typestr", typestr)?;
            d.set_item("data", (self.t.data_ptr() as usize, false))?;
            d.set_item("strides", PyTuple::new(py, strides)?)?;
            d.set_item("version", 3)?;
            Ok(d)
        })
    }

    fn __getstate__(&self) -> PyResult<()> {
        Err(PyTypeError::new_err(
            "deepseek tensors are not pickled; save them with deepseek.save (safetensors)",
        ))
    }
}

pub fn register(_m: &Bound<'_, PyModule>) -> PyResult<()> {
    Ok(())
}
