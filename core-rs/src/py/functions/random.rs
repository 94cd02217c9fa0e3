//! Random numbers: `Generator` (a seed and a Philox counter, so streams are reproducible),
//! the default generator's seed and state, and `rand`, `randn`, `randint`, `randperm`, `bernoulli`.
use super::{device_arg, parse_dtype, shape_usize, wrap, PT};
use crate::device::Device;
use crate::dtype::DType;
use crate::error::Error;
use crate::ops;
use crate::py::PyTensor;
use crate::tensor::Tensor;
use pyo3::prelude::*;
use std::sync::Arc;

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

/// Uniform or normal values of a floating dtype; `kernel` names the kernel PyTorch's error
/// for another dtype names.
#[allow(clippy::too_many_arguments)]
fn float_random(
    py: Python<'_>,
    op: &str,
    kernel: &str,
    shape: &[i64],
    dtype: &str,
    generator: &Option<PyRef<'_, PyGenerator>>,
    device: Option<&str>,
    draw: fn(&ops::random::Generator, &[usize], DType, Device) -> crate::error::Result<Tensor>,
) -> PyResult<PT> {
    super::guard(op, || {
        let dt = parse_dtype(dtype)?;
        if !dt.is_float() {
            return Err(Error::Runtime(format!("{op}: \"{kernel}\" not implemented for '{}'", dt.name())).into());
        }
        wrap(py, draw(gen_of(generator), &shape_usize(op, shape)?, dt, device_arg(device)?)?)
    })
}

#[pyfunction]
#[pyo3(signature = (shape, dtype, generator=None, device=None))]
fn rand(py: Python<'_>, shape: Vec<i64>, dtype: &str, generator: Option<PyRef<'_, PyGenerator>>, device: Option<&str>) -> PyResult<PT> {
    float_random(py, "rand", "check_uniform_bounds", &shape, dtype, &generator, device, ops::random::rand_on)
}

#[pyfunction]
#[pyo3(signature = (shape, dtype, generator=None, device=None))]
fn randn(py: Python<'_>, shape: Vec<i64>, dtype: &str, generator: Option<PyRef<'_, PyGenerator>>, device: Option<&str>) -> PyResult<PT> {
    float_random(py, "randn", "normal_kernel_cpu", &shape, dtype, &generator, device, ops::random::randn_on)
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

pub(super) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyGenerator>()?;
    add_functions!(m, manual_seed, default_generator_state, set_default_generator_state, rand, randn, randint,
        randperm, bernoulli);
    Ok(())
}
