//! Autograd entry points: backward, grad, hooks, grad mode and Python-defined Functions.
use super::tensor::PyTensor;
use crate::autograd::{self, CustomBackward, Edge, GradTarget, Hook};
use crate::error::{Error, Result};
use crate::tensor::Tensor;
use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;
use pyo3::types::PyTuple;
use std::sync::{Arc, Mutex};

/// The exception a Python hook or Function.backward raised during the last backward pass.
/// The engine only carries core errors, so the original is parked here and re-raised by
/// `backward`/`grad` (a user's ValueError stays a ValueError, as in PyTorch).
static PENDING: Mutex<Option<PyErr>> = Mutex::new(None);

fn park(e: PyErr, what: &str) -> Error {
    let msg = format!("{what} raised: {e}");
    *PENDING.lock().unwrap() = Some(e);
    Error::Runtime(msg)
}

fn engine_error(e: Error) -> PyErr {
    PENDING.lock().unwrap().take().unwrap_or_else(|| e.into())
}

fn roots(outputs: &[PyRef<'_, PyTensor>], grads: &[Option<PyRef<'_, PyTensor>>]) -> PyResult<Vec<(Edge, Tensor)>> {
    let mut r = Vec::new();
    for (i, o) in outputs.iter().enumerate() {
        let t = &o.t;
        let g = match grads.get(i).and_then(|g| g.as_ref()) {
            Some(g) => {
                if g.t.shape() != t.shape() {
                    return Err(Error::Runtime(format!(
                        "Mismatch in shape: grad_output[{i}] has a shape of {:?} and output[{i}] has a shape of {:?}",
                        g.t.shape(),
                        t.shape()
                    )).into());
                }
                g.t.clone()
            }
            None => {
                if t.dtype().is_complex() {
                    return Err(PyRuntimeError::new_err(format!(
                        "grad can be implicitly created only for real scalar outputs (output {i} is {})",
                        t.dtype().name()
                    )));
                }
                if t.numel() != 1 {
                    return Err(PyRuntimeError::new_err(format!(
                        "grad can be implicitly created only for scalar outputs (output {i} has shape {:?})",
                        t.shape()
                    )));
                }
                let one = Tensor::empty_on(t.shape(), t.dtype(), t.device())?;
                crate::ops::fill_raw(&one, 1.0)?;
                one
            }
        };
        let Some(e) = autograd::gradient_edge(t) else {
            return Err(PyRuntimeError::new_err(format!(
                "element {i} of tensors does not require grad and does not have a grad_fn"
            )));
        };
        r.push((e, g));
    }
    Ok(r)
}

#[pyfunction]
#[pyo3(signature = (outputs, grads, retain_graph, create_graph))]
fn backward(py: Python<'_>, outputs: Vec<PyRef<'_, PyTensor>>, grads: Vec<Option<PyRef<'_, PyTensor>>>, retain_graph: bool, create_graph: bool) -> PyResult<()> {
    super::guard("backward", || {
        let r = roots(&outputs, &grads)?;
        PENDING.lock().unwrap().take();
        py.detach(|| autograd::run_backward(r, retain_graph, create_graph, None)).map_err(engine_error)?;
        Ok(())
    })
}

#[pyfunction]
#[pyo3(signature = (outputs, grads, inputs, retain_graph, create_graph, allow_unused))]
fn grad(
    py: Python<'_>,
    outputs: Vec<PyRef<'_, PyTensor>>,
    grads: Vec<Option<PyRef<'_, PyTensor>>>,
    inputs: Vec<PyRef<'_, PyTensor>>,
    retain_graph: bool,
    create_graph: bool,
    allow_unused: bool,
) -> PyResult<Vec<Option<Py<PyTensor>>>> {
    super::guard("grad", || {
        let r = roots(&outputs, &grads)?;
        let mut targets = Vec::new();
        for (i, t) in inputs.iter().enumerate() {
            match autograd::gradient_edge(&t.t) {
                Some(e) => targets.push(GradTarget { node: e.node, input_nr: e.input_nr }),
                None => {
                    return Err(PyRuntimeError::new_err(format!("One of the differentiated Tensors (input {i}) does not require grad")));
                }
            }
        }
        PENDING.lock().unwrap().take();
        let got = py.detach(|| autograd::run_backward(r, retain_graph, create_graph, Some(targets))).map_err(engine_error)?;
        let mut out = Vec::new();
        for (i, g) in got.into_iter().enumerate() {
            match g {
                Some(g) => out.push(Some(PyTensor::wrap(py, g)?)),
                None => {
                    if !allow_unused {
                        return Err(PyRuntimeError::new_err(format!(
                            "One of the differentiated Tensors (input {i}) appears to not have been used in the graph. Set allow_unused=True if this is the desired behavior."
                        )));
                    }
                    out.push(None)
                }
            }
        }
        Ok(out)
    })
}

fn py_hook(f: Py<PyAny>) -> Hook {
    Box::new(move |g: &Tensor| -> Result<Option<Tensor>> {
        Python::attach(|py| {
            let arg = PyTensor::wrap(py, g.clone()).map_err(|e| Error::Runtime(e.to_string()))?;
            let r = f.call1(py, (arg,)).map_err(|e| park(e, "hook"))?;
            if r.is_none(py) {
                return Ok(None);
            }
            let t = r.bind(py).cast::<PyTensor>().map_err(|_| Error::Runtime("hook must return a Tensor or None".into()))?;
            let t = t.borrow().t.clone();
            if t.shape() != g.shape() {
                return Err(Error::Runtime(format!("hook returned a gradient of shape {:?}, expected {:?}", t.shape(), g.shape())));
            }
            Ok(Some(t))
        })
    })
}

/// Registers a gradient hook; returns a handle for `remove_hook`.
#[pyfunction]
fn register_hook(t: PyRef<'_, PyTensor>, f: Py<PyAny>) -> PyResult<usize> {
    super::guard("register_hook", || {
        autograd::register_hook(&t.t, py_hook(f))?;
        // the handle is the position-independent identity of the newest hook
        let m = t.t.meta();
        if let Some(gf) = &m.grad_fn {
            let hooks = gf.pre_hooks.lock().unwrap();
            return Ok(Arc::as_ptr(&hooks.last().unwrap().1) as *const () as usize);
        }
        Ok(Arc::as_ptr(m.leaf_hooks.last().unwrap()) as *const () as usize)
    })
}

/// Registers `f(tensor)` to run after a backward pass accumulated the leaf's gradient;
/// returns a handle for `remove_hook`.
#[pyfunction]
fn register_post_accumulate_grad_hook(t: PyRef<'_, PyTensor>, f: Py<PyAny>) -> PyResult<usize> {
    super::guard("register_post_accumulate_grad_hook", || {
        let hook: Hook = Box::new(move |leaf: &Tensor| -> Result<Option<Tensor>> {
            Python::attach(|py| {
                let arg = PyTensor::wrap(py, leaf.clone()).map_err(|e| Error::Runtime(e.to_string()))?;
                f.call1(py, (arg,)).map_err(|e| park(e, "hook"))?;
                Ok(None)
            })
        });
        autograd::register_post_accumulate_grad_hook(&t.t, hook)?;
        Ok(Arc::as_ptr(t.t.meta().post_accumulate_hooks.last().unwrap()) as *const () as usize)
    })
}

/// For each of `leaves`, whether a backward pass from `roots` would reach it.
#[pyfunction]
fn leaves_reached(roots: Vec<PyRef<'_, PyTensor>>, leaves: Vec<PyRef<'_, PyTensor>>) -> Vec<bool> {
    let roots: Vec<Tensor> = roots.iter().map(|t| t.t.clone()).collect();
    let leaves: Vec<Tensor> = leaves.iter().map(|t| t.t.clone()).collect();
    autograd::leaves_reached(&roots, &leaves)
}

#[pyfunction]
fn remove_hook(t: PyRef<'_, PyTensor>, handle: usize) {
    let mut m = t.t.meta();
    m.leaf_hooks.retain(|h| Arc::as_ptr(h) as *const () as usize != handle);
    m.post_accumulate_hooks.retain(|h| Arc::as_ptr(h) as *const () as usize != handle);
    if let Some(gf) = &m.grad_fn {
        gf.pre_hooks.lock().unwrap().retain(|(_, h)| Arc::as_ptr(h) as *const () as usize != handle);
    }
}

#[pyfunction]
fn retain_grad(t: PyRef<'_, PyTensor>) -> PyResult<()> {
    super::guard("retain_grad", || {
        Ok(autograd::retain_grad(&t.t)?)
    })
}

/// Turns per-node timing of backward passes on or off; returns [(node name, seconds, calls)]
/// collected since the last call, and clears it.
#[pyfunction]
fn profile_backward(on: bool) -> Vec<(String, f64, u64)> {
    crate::autograd::profile_backward(on)
}

#[pyfunction]
fn set_grad_enabled(on: bool) -> bool {
    autograd::set_grad_enabled(on)
}

#[pyfunction]
fn is_grad_enabled() -> bool {
    autograd::is_grad_enabled()
}

struct PyFunctionBackward {
    f: Py<PyAny>,
    n_inputs: usize,
}

impl CustomBackward for PyFunctionBackward {
    fn apply(&self, grads: &[Option<Tensor>]) -> Result<Vec<Option<Tensor>>> {
        Python::attach(|py| {
            let args: Vec<Py<PyAny>> = grads
                .iter()
                .map(|g| match g {
                    Some(g) => PyTensor::wrap(py, g.clone()).map(|t| t.into_any()),
                    None => Ok(py.None()),
                })
                .collect::<PyResult<_>>()
                .map_err(|e| Error::Runtime(e.to_string()))?;
            let tup = PyTuple::new(py, args).map_err(|e| Error::Runtime(e.to_string()))?;
            let r = self.f.call1(py, tup).map_err(|e| park(e, "Function backward"))?;
            let items: Vec<Py<PyAny>> = r.extract(py).map_err(|_| Error::Runtime("backward must return a tuple".into()))?;
            if items.len() != self.n_inputs {
                return Err(Error::Runtime(format!(
                    "function backward returned an incorrect number of gradients (expected {}, got {})",
                    self.n_inputs,
                    items.len()
                )));
            }
            items
                .into_iter()
                .map(|it| {
                    if it.is_none(py) {
                        Ok(None)
                    } else {
                        let t = it.bind(py).cast::<PyTensor>().map_err(|_| Error::Runtime("backward must return Tensors or None".into()))?;
                        let t = t.borrow().t.clone();
                        Ok(Some(t))
                    }
                })
                .collect()
        })
    }
}

/// Links `outputs` to `inputs` through a node whose backward is the Python callable `f`.
#[pyfunction]
fn record_function(name: &str, inputs: Vec<PyRef<'_, PyTensor>>, outputs: Vec<PyRef<'_, PyTensor>>, f: Py<PyAny>) -> bool {
    let ins: Vec<Tensor> = inputs.iter().map(|t| t.t.clone()).collect();
    let outs: Vec<Tensor> = outputs.iter().map(|t| t.t.clone()).collect();
    let refs: Vec<&Tensor> = ins.iter().collect();
    if !autograd::needs_grad(&refs) {
        return false;
    }
    let orefs: Vec<&Tensor> = outs.iter().collect();
    autograd::record_custom(name, &refs, &orefs, Box::new(PyFunctionBackward { f, n_inputs: ins.len() }));
    true
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(backward, m)?)?;
    m.add_function(wrap_pyfunction!(grad, m)?)?;
    m.add_function(wrap_pyfunction!(register_hook, m)?)?;
    m.add_function(wrap_pyfunction!(register_post_accumulate_grad_hook, m)?)?;
    m.add_function(wrap_pyfunction!(leaves_reached, m)?)?;
    m.add_function(wrap_pyfunction!(remove_hook, m)?)?;
    m.add_function(wrap_pyfunction!(retain_grad, m)?)?;
    m.add_function(wrap_pyfunction!(set_grad_enabled, m)?)?;
    m.add_function(wrap_pyfunction!(profile_backward, m)?)?;
    m.add_function(wrap_pyfunction!(is_grad_enabled, m)?)?;
    m.add_function(wrap_pyfunction!(record_function, m)?)?;
    Ok(())
}
