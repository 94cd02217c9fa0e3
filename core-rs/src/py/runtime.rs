//! The runtime surface of `deepseek._core`: allocator statistics and caches (host and
//! devices), CPU threads, and plugin devices (registration, transfers, synchronisation, strict
//! mode, the kernel contract's CPU reference).
use super::functions::device_arg;
use super::tensor::PyTensor;
use crate::error::Error;
use crate::tensor::Tensor;
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use std::sync::Arc;

type PT = Py<PyTensor>;

fn wrap(py: Python<'_>, t: Tensor) -> PyResult<PT> {
    PyTensor::wrap(py, t)
}

// ---------------- memory and threads ----------------

/// The operations `deepseek.memory` needs, over the host's or a device's allocator.
enum Pool {
    Host,
    Dev(Arc<crate::device_alloc::DeviceAllocator>),
}

impl Pool {
    fn stats(&self) -> crate::alloc::Stats {
        match self {
            Pool::Host => crate::alloc::HOST.stats(),
            Pool::Dev(a) => a.stats(),
        }
    }
    fn empty_cache(&self) {
        match self {
            Pool::Host => {
                crate::alloc::HOST.empty_cache();
                crate::large_blocks::HEAP.release_cached();
            }
            Pool::Dev(a) => a.empty_cache(),
        }
    }
    fn reset_peak(&self) {
        match self {
            Pool::Host => {
                crate::alloc::HOST.reset_peak();
                crate::large_blocks::HEAP.reset_peak();
            }
            Pool::Dev(a) => a.reset_peak(),
        }
    }
    fn set_caching(&self, on: bool) {
        match self {
            Pool::Host => crate::alloc::HOST.set_caching(on),
            Pool::Dev(a) => a.set_caching(on),
        }
    }
}

fn with_allocator<T>(device: Option<&str>, f: impl FnOnce(&Pool) -> T) -> PyResult<T> {
    match crate::device::allocator_of(device_arg(device)?) {
        None => Ok(f(&Pool::Host)),
        Some(a) => Ok(f(&Pool::Dev(a))),
    }
}

#[pyfunction]
#[pyo3(signature = (device=None))]
fn memory_stats(py: Python<'_>, device: Option<&str>) -> PyResult<Py<pyo3::types::PyDict>> {
    super::guard("memory_stats", || {
        let s = with_allocator(device, |a| a.stats())?;
        let d = pyo3::types::PyDict::new(py);
        for (name, st) in [
            ("allocated_bytes", &s.allocated_bytes),
            ("reserved_bytes", &s.reserved_bytes),
            ("active_bytes", &s.active_bytes),
            ("requested_bytes", &s.requested_bytes),
            ("allocation", &s.allocation),
            ("segment", &s.segment),
        ] {
            for (k, v) in [("current", st.current), ("peak", st.peak), ("allocated", st.allocated), ("freed", st.freed)] {
                d.set_item(format!("{name}.all.{k}"), v)?;
            }
        }
        d.set_item("num_alloc_retries", s.num_alloc_retries)?;
        d.set_item("num_ooms", s.num_ooms)?;
        d.set_item("cache_hits", s.cache_hits)?;
        if with_allocator(device, |a| matches!(a, Pool::Host))? {
            // deepseek's own: the kernels' scratch (large blocks of the core's Rust heap)
            let h = crate::large_blocks::HEAP.stats();
            d.set_item("scratch_bytes.all.current", h.in_use)?;
            d.set_item("scratch_bytes.all.peak", h.peak_in_use)?;
            d.set_item("scratch_reserved_bytes.all.current", h.reserved)?;
            d.set_item("scratch_reserved_bytes.all.peak", h.peak_reserved)?;
        }
        Ok(d.unbind())
    })
}

#[pyfunction]
#[pyo3(signature = (device=None))]
fn empty_cache(device: Option<&str>) -> PyResult<()> {
    super::guard("empty_cache", || {
        with_allocator(device, |a| a.empty_cache())
    })
}

#[pyfunction]
#[pyo3(signature = (device=None))]
fn reset_peak_memory_stats(device: Option<&str>) -> PyResult<()> {
    super::guard("reset_peak_memory_stats", || {
        with_allocator(device, |a| a.reset_peak())
    })
}

#[pyfunction]
#[pyo3(signature = (on, device=None))]
fn set_caching_allocator_enabled(on: bool, device: Option<&str>) -> PyResult<()> {
    super::guard("set_caching_allocator_enabled", || {
        with_allocator(device, |a| a.set_caching(on))
    })
}

// ---------------- devices ----------------

/// Registers a loaded backend's C table (its address) with the core; returns its number.
#[pyfunction]
fn register_backend(name: &str, table_addr: usize) -> PyResult<u16> {
    super::guard("register_backend", || {
        Ok(crate::backend::plugin::register_table(name, table_addr)?)
    })
}

/// A copy of `x` on `device`, recorded for autograd.
#[pyfunction]
fn to_device(py: Python<'_>, x: PyRef<'_, PyTensor>, device: &str) -> PyResult<PT> {
    super::guard("to_device", || {
        let d = device_arg(Some(device))?;
        let t = x.t.clone();
        wrap(py, py.detach(|| crate::ops::copy::to_device_grad(&t, d))?)
    })
}

#[pyfunction]
#[pyo3(signature = (device=None))]
fn synchronize(py: Python<'_>, device: Option<&str>) -> PyResult<()> {
    super::guard("synchronize", || {
        let d = device_arg(device)?;
        Ok(py.detach(|| crate::dispatch::synchronize(d))?)
    })
}

#[pyfunction]
fn set_strict_device(on: bool) {
    crate::dispatch::set_strict(on);
}

#[pyfunction]
fn is_strict_device() -> bool {
    crate::dispatch::is_strict()
}

/// Runs primitive `op` as the kernel contract describes on CPU tensors (the reference a
/// backend is checked against): `outs` are written in place; `attrs` maps the op's attribute
/// names to values (ints, floats, bools; lists of ints for list attributes).
#[pyfunction]
#[pyo3(signature = (op, outs, ins, attrs=None))]
fn reference_launch(
    op: &str,
    outs: Vec<PyRef<'_, PyTensor>>,
    ins: Vec<PyRef<'_, PyTensor>>,
    attrs: Option<&Bound<'_, pyo3::types::PyDict>>,
) -> PyResult<()> {
    super::guard("reference_launch", || {
        let o: Vec<Tensor> = outs.iter().map(|t| t.t.clone()).collect();
        let i: Vec<Tensor> = ins.iter().map(|t| t.t.clone()).collect();
        if let Some(t) = o.iter().chain(&i).find(|t| t.is_device()) {
            return Err(Error::Runtime(format!("reference_launch: tensors must be on the CPU, got one on {}", t.device().name())).into());
        }
        let op = crate::op::op_from_named(op, |name| {
            let v = attrs?.get_item(name).ok()??;
            if let Some(s) = super::as_scalar(&v) {
                return Some(crate::op::AttrValue::Scalar(s));
            }
            v.extract::<Vec<i64>>().ok().map(crate::op::AttrValue::List)
        })?;
        Ok(crate::backend::cpu::launch(&op, &o.iter().collect::<Vec<_>>(), &i.iter().collect::<Vec<_>>())?)
    })
}

/// The op table, for Python: one dict per primitive op in id order (`id`, `name`, `family`)
/// and one per family (`name`, `enum`, `outputs`, `inputs`, `variadic`, `tensors`,
/// `meaning`, `attrs` as (name, type, doc) tuples, `attrs_struct`).
#[pyfunction]
fn op_table(py: Python<'_>) -> PyResult<(Vec<Py<pyo3::types::PyDict>>, Vec<Py<pyo3::types::PyDict>>)> {
    super::guard("op_table", || {
        use pyo3::types::PyDict;
        let ops = crate::op::OPS
            .iter()
            .map(|o| {
                let d = PyDict::new(py);
                d.set_item("id", o.id.0)?;
                d.set_item("name", o.name)?;
                d.set_item("family", crate::op::FAMILIES[o.family].name)?;
                Ok(d.unbind())
            })
            .collect::<PyResult<_>>()?;
        let fams = crate::op::FAMILIES
            .iter()
            .map(|f| {
                let d = PyDict::new(py);
                d.set_item("name", f.name)?;
                d.set_item("enum", f.enum_name)?;
                d.set_item("outputs", f.outputs)?;
                d.set_item("inputs", f.inputs)?;
                d.set_item("variadic", f.variadic)?;
                d.set_item("tensors", f.tensors)?;
                d.set_item("meaning", f.meaning)?;
                let attrs: Vec<(&str, &str, &str)> = f.attrs.iter().map(|a| (a.name, a.ty.name(), a.doc)).collect();
                d.set_item("attrs", attrs)?;
                d.set_item("attrs_struct", f.attrs_struct)?;
                Ok(d.unbind())
            })
            .collect::<PyResult<_>>()?;
        Ok((ops, fams))
    })
}

/// Panics inside the core on purpose: the test that no panic reaches Python as anything
/// but a RuntimeError.
#[pyfunction]
fn _panic_for_test(msg: &str) -> PyResult<()> {
    super::guard("_panic_for_test", || panic!("{msg}"))
}

#[pyfunction]
fn set_num_threads(n: i64) -> PyResult<()> {
    super::guard("set_num_threads", || {
        if n < 1 {
            return Err(PyValueError::new_err(format!("set_num_threads: expected a positive number of threads, got {n}")));
        }
        crate::kernels::set_num_threads(n as usize);
        Ok(())
    })
}

/// Forces the algorithm of 3x3 stride-1 f32 convolutions ("auto", "winograd", "im2col"), so
/// the tests reach each path on small shapes.
#[pyfunction]
fn _set_conv3x3_algorithm(name: &str) -> PyResult<()> {
    super::guard("_set_conv3x3_algorithm", || Ok(crate::ops::conv::set_conv3x3_algorithm(name)?))
}

#[pyfunction]
fn get_num_threads() -> usize {
    crate::kernels::num_threads()
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    macro_rules! add {
        ($($f:ident),*) => { $( m.add_function(wrap_pyfunction!($f, m)?)?; )* };
    }
    add!(memory_stats, empty_cache, reset_peak_memory_stats, set_caching_allocator_enabled, set_num_threads,
        get_num_threads, register_backend, to_device, synchronize, set_strict_device, is_strict_device, reference_launch, op_table, _panic_for_test, _set_conv3x3_algorithm);
    Ok(())
}
