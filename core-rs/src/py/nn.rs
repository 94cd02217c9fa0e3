//! Bindings for the fused kernels that back nn and optim: convolution and AdamW.
use super::tensor::PyTensor;
use crate::ops::conv::{self, Conv2dParams};
use crate::ops::optim::{adamw_step as adamw, AdamW};
use crate::tensor::Tensor;
use pyo3::prelude::*;

fn params(stride: (usize, usize), padding: (usize, usize), dilation: (usize, usize), groups: usize) -> Conv2dParams {
    Conv2dParams { stride, padding, dilation, groups }
}

/// conv2d(x, w, stride, padding, dilation, groups) with autograd (bias is added by the caller).
#[pyfunction]
fn conv2d(py: Python<'_>, x: PyRef<'_, PyTensor>, w: PyRef<'_, PyTensor>, stride: (usize, usize), padding: (usize, usize), dilation: (usize, usize), groups: usize) -> PyResult<Py<PyTensor>> {
    super::guard("conv2d", || {
        let (x, w) = (x.t.clone(), w.t.clone());
        let p = params(stride, padding, dilation, groups);
        let r = py.detach(|| conv::conv2d(&x, &w, p))?;
        PyTensor::wrap(py, r)
    })
}

/// The input gradient of conv2d (used for transposed convolution).
#[pyfunction]
fn conv2d_input_grad(py: Python<'_>, gy: PyRef<'_, PyTensor>, w: PyRef<'_, PyTensor>, x_shape: Vec<usize>, stride: (usize, usize), padding: (usize, usize), dilation: (usize, usize), groups: usize) -> PyResult<Py<PyTensor>> {
    super::guard("conv2d_input_grad", || {
        let (gy, w) = (gy.t.clone(), w.t.clone());
        let p = params(stride, padding, dilation, groups);
        let r = py.detach(|| conv::conv2d_input_grad(&gy, &w, &x_shape, p))?;
        PyTensor::wrap(py, r)
    })
}

fn ts(v: &[PyRef<'_, PyTensor>]) -> Vec<Tensor> {
    v.iter().map(|t| t.t.clone()).collect()
}

/// One fused AdamW step for a whole parameter group (in place, no autograd).
#[pyfunction]
#[allow(clippy::too_many_arguments)]
fn adamw_step(
    py: Python<'_>,
    params: Vec<PyRef<'_, PyTensor>>,
    grads: Vec<PyRef<'_, PyTensor>>,
    exp_avgs: Vec<PyRef<'_, PyTensor>>,
    exp_avg_sqs: Vec<PyRef<'_, PyTensor>>,
    step: u64,
    lr: f64,
    beta1: f64,
    beta2: f64,
    eps: f64,
    weight_decay: f64,
    maximize: bool,
) -> PyResult<()> {
    let (p, g, m, v) = (ts(&params), ts(&grads), ts(&exp_avgs), ts(&exp_avg_sqs));
    let h = AdamW { lr, beta1, beta2, eps, weight_decay, step, maximize };
    py.detach(|| adamw(&p, &g, &m, &v, h))?;
    Ok(())
}

/// One fused SGD step for a list of parameters (in place, no autograd).
#[pyfunction]
#[allow(clippy::too_many_arguments)]
fn sgd_step(
    py: Python<'_>,
    params: Vec<PyRef<'_, PyTensor>>,
    grads: Vec<PyRef<'_, PyTensor>>,
    bufs: Vec<PyRef<'_, PyTensor>>,
    fresh: Vec<bool>,
    lr: f64,
    momentum: f64,
    dampening: f64,
    weight_decay: f64,
    nesterov: bool,
    maximize: bool,
) -> PyResult<()> {
    let (p, g, b) = (ts(&params), ts(&grads), ts(&bufs));
    let h = crate::ops::optim::Sgd { lr, momentum, dampening, weight_decay, nesterov, maximize };
    py.detach(|| crate::ops::optim::sgd_step(&p, &g, &b, &fresh, h))?;
    Ok(())
}

/// One fused step of the optimizer rule `rule` (`rmsprop_step`, `adagrad_step`, `adamax_step`,
/// `nadam_step`, `radam_step`, `adadelta_step`) for a parameter group, in place, no autograd:
/// `states[j][i]` is state buffer j of parameter i; `attrs` the rule's hyper-parameters by name.
#[pyfunction]
fn optim_step(
    py: Python<'_>,
    rule: &str,
    params: Vec<PyRef<'_, PyTensor>>,
    grads: Vec<PyRef<'_, PyTensor>>,
    states: Vec<Vec<PyRef<'_, PyTensor>>>,
    attrs: &Bound<'_, pyo3::types::PyDict>,
) -> PyResult<()> {
    let op = crate::op::fused::OptimStep::from_named(rule, &mut |a: &str| {
        let v = attrs.get_item(a).ok().flatten().ok_or_else(|| crate::error::Error::Type(format!("{rule}: missing hyper-parameter '{a}'")))?;
        super::as_scalar(&v)
            .map(crate::op::AttrValue::Scalar)
            .ok_or_else(|| crate::error::Error::Type(format!("{rule}: hyper-parameter '{a}' must be a number or a bool")))
    })?;
    let (p, g) = (ts(&params), ts(&grads));
    let st: Vec<Vec<Tensor>> = states.iter().map(|s| ts(s)).collect();
    py.detach(|| crate::ops::optim_rules::optim_step(op, &p, &g, &st))?;
    Ok(())
}

/// Training-mode batch norm: returns (y, batch mean, inverse std) with autograd.
#[pyfunction]
#[pyo3(signature = (x, weight, bias, eps))]
fn batch_norm_train(py: Python<'_>, x: PyRef<'_, PyTensor>, weight: Option<PyRef<'_, PyTensor>>, bias: Option<PyRef<'_, PyTensor>>, eps: f64) -> PyResult<(Py<PyTensor>, Py<PyTensor>, Py<PyTensor>)> {
    super::guard("batch_norm_train", || {
        let x = x.t.clone();
        let w = weight.map(|w| w.t.clone());
        let b = bias.map(|b| b.t.clone());
        let (y, m, i) = py.detach(|| crate::ops::norm::batch_norm_train(&x, w.as_ref(), b.as_ref(), eps))?;
        Ok((PyTensor::wrap(py, y)?, PyTensor::wrap(py, m)?, PyTensor::wrap(py, i)?))
    })
}

/// Batch norm, then `+ residual`, then ReLU when `relu`, with autograd: returns (y, batch mean,
/// batch 1/std) in training mode, (y, None, None) in eval mode (which needs the running stats).
#[pyfunction]
#[pyo3(signature = (x, running_mean, running_var, weight, bias, residual, training, relu, eps))]
#[allow(clippy::too_many_arguments, clippy::type_complexity)]
fn batch_norm_act(
    py: Python<'_>,
    x: PyRef<'_, PyTensor>,
    running_mean: Option<PyRef<'_, PyTensor>>,
    running_var: Option<PyRef<'_, PyTensor>>,
    weight: Option<PyRef<'_, PyTensor>>,
    bias: Option<PyRef<'_, PyTensor>>,
    residual: Option<PyRef<'_, PyTensor>>,
    training: bool,
    relu: bool,
    eps: f64,
) -> PyResult<(Py<PyTensor>, Option<Py<PyTensor>>, Option<Py<PyTensor>>)> {
    super::guard("batch_norm_act", || {
        let t = |o: Option<PyRef<'_, PyTensor>>| o.map(|t| t.t.clone());
        let (x, rm, rv, w, b, r) = (x.t.clone(), t(running_mean), t(running_var), t(weight), t(bias), t(residual));
        let running = rm.as_ref().zip(rv.as_ref());
        let (y, st) = py.detach(|| crate::ops::bn_act::batch_norm_act(&x, running, w.as_ref(), b.as_ref(), r.as_ref(), training, relu, eps))?;
        let (m, i) = match st {
            Some((m, i)) => (Some(PyTensor::wrap(py, m)?), Some(PyTensor::wrap(py, i)?)),
            None => (None, None),
        };
        Ok((PyTensor::wrap(py, y)?, m, i))
    })
}

/// max_pool2d(x, kernel, stride, padding, dilation, ceil_mode, indices=True) -> (values, int64
/// indices into each input plane, or None when not `indices` and autograd does not need
/// them), with autograd; CPU tensors only.
#[pyfunction]
#[pyo3(signature = (x, kernel, stride, padding, dilation, ceil_mode, indices = true))]
#[allow(clippy::too_many_arguments)]
fn max_pool2d(py: Python<'_>, x: PyRef<'_, PyTensor>, kernel: (usize, usize), stride: (usize, usize), padding: (usize, usize), dilation: (usize, usize), ceil_mode: bool, indices: bool) -> PyResult<(Py<PyTensor>, Option<Py<PyTensor>>)> {
    let x = x.t.clone();
    let p = crate::ops::pool::Pool2dParams { kernel, stride, padding, dilation, ceil_mode };
    let (y, i) = py.detach(|| crate::ops::pool::max_pool2d(&x, p, indices))?;
    Ok((PyTensor::wrap(py, y)?, i.map(|i| PyTensor::wrap(py, i)).transpose()?))
}

/// Fused layer norm over the dims from `axis` on: (y, mean, rstd) with autograd (CPU,
/// float32/float64).
#[pyfunction]
#[pyo3(signature = (x, weight, bias, axis, eps))]
fn layer_norm(py: Python<'_>, x: PyRef<'_, PyTensor>, weight: Option<PyRef<'_, PyTensor>>, bias: Option<PyRef<'_, PyTensor>>, axis: usize, eps: f64) -> PyResult<(Py<PyTensor>, Py<PyTensor>, Py<PyTensor>)> {
    super::guard("layer_norm", || {
        let x = x.t.clone();
        let (w, b) = (weight.map(|w| w.t.clone()), bias.map(|b| b.t.clone()));
        let (y, m, r) = py.detach(|| crate::ops::layer_norm::layer_norm(&x, w.as_ref(), b.as_ref(), axis, eps))?;
        Ok((PyTensor::wrap(py, y)?, PyTensor::wrap(py, m)?, PyTensor::wrap(py, r)?))
    })
}

/// Fused softmax (or log_softmax when `log`) over the last dim, with autograd.
#[pyfunction]
fn softmax_last(py: Python<'_>, x: PyRef<'_, PyTensor>, log: bool) -> PyResult<Py<PyTensor>> {
    super::guard("softmax", || {
        let x = x.t.clone();
        let y = py.detach(|| crate::ops::softmax::softmax_last(&x, log))?;
        PyTensor::wrap(py, y)
    })
}

/// softmax(x * scale + mask) over the last dim (boolean mask: True keeps), `causal` keeping
/// column j <= row i, `safe` giving zeros for rows with nothing kept; with autograd.
#[pyfunction]
#[pyo3(signature = (x, mask, scale, causal, safe))]
fn scaled_masked_softmax(py: Python<'_>, x: PyRef<'_, PyTensor>, mask: Option<PyRef<'_, PyTensor>>, scale: f64, causal: bool, safe: bool) -> PyResult<Py<PyTensor>> {
    super::guard("scaled_masked_softmax", || {
        let (x, m) = (x.t.clone(), mask.map(|m| m.t.clone()));
        let y = py.detach(|| crate::ops::softmax::scaled_masked_softmax(&x, m.as_ref(), scale, causal, safe))?;
        PyTensor::wrap(py, y)
    })
}

/// gelu(x + bias) (bias over the last dim, or None), `tanh` for the tanh approximation.
#[pyfunction]
#[pyo3(signature = (x, bias, tanh))]
fn bias_gelu(py: Python<'_>, x: PyRef<'_, PyTensor>, bias: Option<PyRef<'_, PyTensor>>, tanh: bool) -> PyResult<Py<PyTensor>> {
    super::guard("bias_gelu", || {
        let (x, b) = (x.t.clone(), bias.map(|b| b.t.clone()));
        let y = py.detach(|| crate::ops::gelu::bias_gelu(&x, b.as_ref(), tanh))?;
        PyTensor::wrap(py, y)
    })
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(layer_norm, m)?)?;
    m.add_function(wrap_pyfunction!(softmax_last, m)?)?;
    m.add_function(wrap_pyfunction!(scaled_masked_softmax, m)?)?;
    m.add_function(wrap_pyfunction!(bias_gelu, m)?)?;
    m.add_function(wrap_pyfunction!(max_pool2d, m)?)?;
    m.add_function(wrap_pyfunction!(batch_norm_train, m)?)?;
    m.add_function(wrap_pyfunction!(batch_norm_act, m)?)?;
    m.add_function(wrap_pyfunction!(conv2d, m)?)?;
    m.add_function(wrap_pyfunction!(conv2d_input_grad, m)?)?;
    m.add_function(wrap_pyfunction!(adamw_step, m)?)?;
    m.add_function(wrap_pyfunction!(sgd_step, m)?)?;
    m.add_function(wrap_pyfunction!(optim_step, m)?)?;
    Ok(())
}
