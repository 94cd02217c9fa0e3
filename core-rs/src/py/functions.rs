//! Module-level functions of `deepseek._core`: creation, random, and every primitive op.
use super::tensor::{operand, PyTensor};
use super::{maybe_detach, parse_dtype};
use crate::device::Device;
use crate::error::Error;
use crate::layout::wrap_dim;
use crate::ops::{self, binary::Operand, reduce::ReduceOp, BinaryOp, UnaryOp};
use crate::tensor::Tensor;
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use std::sync::Arc;

type PT = Py<PyTensor>;

fn wrap(py: Python<'_>, t: Tensor) -> PyResult<PT> {
    PyTensor::wrap(py, t)
}

fn tensors(v: &[PyRef<'_, PyTensor>]) -> Vec<Tensor> {
    v.iter().map(|t| t.t.clone()).collect()
}

fn shape_usize(op: &str, shape: &[i64]) -> PyResult<Vec<usize>> {
    shape
        .iter()
        .map(|&s| {
            if s < 0 {
                Err(Error::Runtime(format!("{op}: trying to create tensor with negative dimension {s}: {shape:?}")).into())
            } else {
                Ok(s as usize)
            }
        })
        .collect()
}

/// An empty Vec with room for `n` values, or a MemoryError (never an abort on a huge `n`).
fn try_vec<T>(op: &str, n: usize) -> PyResult<Vec<T>> {
    let mut v = Vec::new();
    v.try_reserve_exact(n).map_err(|_| Error::Memory(format!("{op}: cannot allocate {n} elements")))?;
    Ok(v)
}

// ---------------- creation ----------------

/// A device argument: None or "cpu" for the CPU, "opencl:0"... for a registered backend.
pub fn device_arg(d: Option<&str>) -> PyResult<Device> {
    match d {
        None => Ok(Device::Cpu),
        Some(s) => Ok(Device::parse(s)?),
    }
}

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

// ---------------- random ----------------

/// A random number generator: a seed and a counter (Philox), so streams are reproducible.
#[pyclass(name = "Generator", module = "deepseek")]
pub struct PyGenerator {
    pub g: Arc<ops::random::Generator>,
}

#[pymethods]
impl PyGenerator {
    #[new]
    #[pyo3(signature = (device=None))]
    fn new(device: Option<&Bound<'_, PyAny>>) -> Self {
        let _ = device;
        PyGenerator { g: Arc::new(ops::random::Generator::new(67280421310721)) }
    }
    fn manual_seed(slf: Bound<'_, Self>, seed: i64) -> Bound<'_, Self> {
        slf.borrow().g.manual_seed(seed as u64);
        slf
    }
    fn initial_seed(&self) -> u64 {
        self.g.get_state().seed
    }
    fn get_state(&self) -> (u64, u64) {
        let s = self.g.get_state();
        (s.seed, s.offset)
    }
    fn set_state(&self, st: (u64, u64)) {
        self.g.set_state(ops::random::GenState { seed: st.0, offset: st.1 });
    }
}

fn gen_of<'a>(g: &'a Option<PyRef<'a, PyGenerator>>) -> &'a ops::random::Generator {
    match g {
        Some(g) => &g.g,
        None => &ops::random::DEFAULT,
    }
}

#[pyfunction]
fn manual_seed(seed: i64) {
    ops::random::DEFAULT.manual_seed(seed as u64);
}

#[pyfunction]
fn default_generator_state() -> (u64, u64) {
    let s = ops::random::DEFAULT.get_state();
    (s.seed, s.offset)
}

#[pyfunction]
fn set_default_generator_state(st: (u64, u64)) {
    ops::random::DEFAULT.set_state(ops::random::GenState { seed: st.0, offset: st.1 });
}

#[pyfunction]
#[pyo3(signature = (shape, dtype, generator=None, device=None))]
fn rand(py: Python<'_>, shape: Vec<i64>, dtype: &str, generator: Option<PyRef<'_, PyGenerator>>, device: Option<&str>) -> PyResult<PT> {
    super::guard("rand", || {
        let dt = parse_dtype(dtype)?;
        if !dt.is_float() {
            return Err(Error::Runtime(format!("rand: \"check_uniform_bounds\" not implemented for '{}'", dt.name())).into());
        }
        wrap(py, ops::random::rand_on(gen_of(&generator), &shape_usize("rand", &shape)?, dt, device_arg(device)?)?)
    })
}

#[pyfunction]
#[pyo3(signature = (shape, dtype, generator=None, device=None))]
fn randn(py: Python<'_>, shape: Vec<i64>, dtype: &str, generator: Option<PyRef<'_, PyGenerator>>, device: Option<&str>) -> PyResult<PT> {
    super::guard("randn", || {
        let dt = parse_dtype(dtype)?;
        if !dt.is_float() {
            return Err(Error::Runtime(format!("randn: \"normal_kernel_cpu\" not implemented for '{}'", dt.name())).into());
        }
        wrap(py, ops::random::randn_on(gen_of(&generator), &shape_usize("randn", &shape)?, dt, device_arg(device)?)?)
    })
}

#[pyfunction]
#[pyo3(signature = (low, high, shape, dtype, generator=None, device=None))]
fn randint(py: Python<'_>, low: i64, high: i64, shape: Vec<i64>, dtype: &str, generator: Option<PyRef<'_, PyGenerator>>, device: Option<&str>) -> PyResult<PT> {
    super::guard("randint", || {
        wrap(py, ops::random::randint_on(gen_of(&generator), low, high, &shape_usize("randint", &shape)?, parse_dtype(dtype)?, device_arg(device)?)?)
    })
}

#[pyfunction]
#[pyo3(signature = (n, dtype, generator=None, device=None))]
fn randperm(py: Python<'_>, n: i64, dtype: &str, generator: Option<PyRef<'_, PyGenerator>>, device: Option<&str>) -> PyResult<PT> {
    super::guard("randperm", || {
        if n < 0 {
            return Err(Error::Runtime(format!("randperm: n must be non-negative, got {n}")).into());
        }
        wrap(py, ops::random::randperm_on(gen_of(&generator), n as usize, parse_dtype(dtype)?, device_arg(device)?)?)
    })
}

#[pyfunction]
#[pyo3(signature = (p, generator=None))]
fn bernoulli(py: Python<'_>, p: PyRef<'_, PyTensor>, generator: Option<PyRef<'_, PyGenerator>>) -> PyResult<PT> {
    super::guard("bernoulli", || {
        wrap(py, ops::random::bernoulli(gen_of(&generator), &p.t)?)
    })
}

// ---------------- elementwise ----------------

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

fn operand_arg(op: &str, o: &Bound<'_, PyAny>) -> PyResult<Operand> {
    operand(o).ok_or_else(|| {
        PyTypeError::new_err(format!(
            "{op}(): expected a Tensor or a number, got {}",
            o.get_type().name().map(|n| n.to_string()).unwrap_or_default()
        ))
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

// ---------------- reductions ----------------

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

// ---------------- linear algebra ----------------

#[pyfunction]
fn matmul(py: Python<'_>, a: PyRef<'_, PyTensor>, b: PyRef<'_, PyTensor>) -> PyResult<PT> {
    super::guard("matmul", || {
        let (a, b) = (a.t.clone(), b.t.clone());
        let r = py.detach(|| ops::matmul::matmul(&a, &b))?;
        wrap(py, r)
    })
}

#[pyfunction]
fn bmm(py: Python<'_>, a: PyRef<'_, PyTensor>, b: PyRef<'_, PyTensor>) -> PyResult<PT> {
    super::guard("bmm", || {
        let (a, b) = (a.t.clone(), b.t.clone());
        let r = py.detach(|| ops::matmul::bmm(&a, &b))?;
        wrap(py, r)
    })
}

// ---------------- copies and casts ----------------

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

/// A fill value must convert to the tensor's dtype without overflow (PyTorch's checked
/// Scalar conversion): an int8 `fill_(1000)` raises instead of wrapping to -24.
fn check_fill_value(op: &str, s: ops::Scalar, dt: crate::dtype::DType) -> PyResult<()> {
    if s.fits(dt) {
        return Ok(());
    }
    let v = match s {
        ops::Scalar::Int(i) => i.to_string(),
        ops::Scalar::Float(f) => format!("{f:?}"),
        ops::Scalar::Bool(b) => b.to_string(),
    };
    Err(Error::Runtime(format!("{op}(): value cannot be converted to type {} without overflow (value {v})", ops::Scalar::c10_type_name(dt))).into())
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

// ---------------- views and assembly ----------------

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

// ---------------- indexing ----------------

#[pyfunction]
fn gather(py: Python<'_>, x: PyRef<'_, PyTensor>, dim: i64, index: PyRef<'_, PyTensor>) -> PyResult<PT> {
    super::guard("gather", || {
        let d = wrap_dim("gather", dim, x.t.ndim())?;
        wrap(py, ops::index::gather(&x.t, d, &index.t)?)
    })
}

#[pyfunction]
fn scatter(py: Python<'_>, x: PyRef<'_, PyTensor>, dim: i64, index: PyRef<'_, PyTensor>, src: &Bound<'_, PyAny>, add: bool) -> PyResult<PT> {
    super::guard("scatter", || {
        let d = wrap_dim("scatter", dim, x.t.ndim())?;
        let s = match operand_arg("scatter", src)? {
            Operand::T(t) => t,
            Operand::C(..) => return Err(pyo3::exceptions::PyRuntimeError::new_err("scatter: complex values are not supported")),
            Operand::S(s) => {
                let v = s.to_tensor(x.t.dtype())?;
                v.alias(v.layout().broadcast_to("scatter", index.t.shape())?)
            }
        };
        wrap(py, ops::index::scatter(&x.t, d, &index.t, &s, add)?)
    })
}

#[pyfunction]
fn index_select(py: Python<'_>, x: PyRef<'_, PyTensor>, dim: i64, index: PyRef<'_, PyTensor>) -> PyResult<PT> {
    super::guard("index_select", || {
        let d = wrap_dim("index_select", dim, x.t.ndim())?;
        wrap(py, ops::index::index_select(&x.t, d, &index.t)?)
    })
}

#[pyfunction]
fn index_add(py: Python<'_>, x: PyRef<'_, PyTensor>, dim: i64, index: PyRef<'_, PyTensor>, src: PyRef<'_, PyTensor>) -> PyResult<PT> {
    super::guard("index_add", || {
        let d = wrap_dim("index_add", dim, x.t.ndim())?;
        wrap(py, ops::index::index_add(&x.t, d, &index.t, &src.t)?)
    })
}

#[pyfunction]
fn index(py: Python<'_>, x: PyRef<'_, PyTensor>, indices: Vec<PyRef<'_, PyTensor>>) -> PyResult<PT> {
    super::guard("index", || {
        wrap(py, ops::index::index_leading(&x.t, &tensors(&indices))?)
    })
}

#[pyfunction]
fn index_put(py: Python<'_>, x: PyRef<'_, PyTensor>, indices: Vec<PyRef<'_, PyTensor>>, values: PyRef<'_, PyTensor>, accumulate: bool) -> PyResult<PT> {
    super::guard("index_put", || {
        wrap(py, ops::index::index_put_leading(&x.t, &tensors(&indices), &values.t, accumulate)?)
    })
}

#[pyfunction]
fn nonzero(py: Python<'_>, x: PyRef<'_, PyTensor>) -> PyResult<PT> {
    super::guard("nonzero", || {
        wrap(py, ops::index::nonzero(&x.t)?)
    })
}

#[pyfunction]
fn sort(py: Python<'_>, x: PyRef<'_, PyTensor>, dim: i64, descending: bool) -> PyResult<(PT, PT)> {
    super::guard("sort", || {
        let d = wrap_dim("sort", dim, x.t.ndim())?;
        let (v, i) = ops::sort::sort(&x.t, d, descending)?;
        Ok((wrap(py, v)?, wrap(py, i)?))
    })
}

#[pyfunction]
fn topk(py: Python<'_>, x: PyRef<'_, PyTensor>, k: i64, dim: i64, largest: bool) -> PyResult<(PT, PT)> {
    super::guard("topk", || {
        let d = wrap_dim("topk", dim, x.t.ndim())?;
        if k < 0 {
            return Err(Error::Runtime(format!("topk: k ({k}) must be non-negative")).into());
        }
        let (v, i) = ops::sort::topk(&x.t, k as usize, d, largest)?;
        Ok((wrap(py, v)?, wrap(py, i)?))
    })
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyGenerator>()?;
    macro_rules! add {
        ($($f:ident),*) => { $( m.add_function(wrap_pyfunction!($f, m)?)?; )* };
    }
    add!(empty, zeros, full, arange, linspace, eye, manual_seed, default_generator_state, set_default_generator_state,
        rand, randn, randint, randperm, bernoulli, unary, polygamma, binary, result_type, where_, reduce, max_min_dim, argmax, cumulative,
        matmul, bmm, cast, clone, contiguous, copy_, fill_, inplace_, reshape, view, permute, transpose, expand,
        squeeze, unsqueeze, slice, select, flip, cat, pad, gather, scatter, index_select, index_add, index,
        index_put, nonzero, sort, topk);
    Ok(())
}
