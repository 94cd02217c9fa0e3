//! Batch norm followed by an optional residual add and ReLU, `y = relu(bn(x) + residual)`, as
//! one pass over the data each way: the block ending of every ResNet-style network. Eval mode
//! computes each channel's scale and shift once from the running statistics and writes y in
//! one pass; training mode reuses the training kernel's statistics pass (`super::norm`). The
//! backward recovers the ReLU's mask from the output's sign (y > 0), so beyond batch norm's
//! own saves (x and two [C] vectors) it keeps only y, which the next layer holds anyway.
use super::cast;
use super::copy::{staged, staging_out, unstage};
use super::norm::{backward_staged, compute_dtype, dims, train_forward_staged, Kern, Lane, Stats};
use crate::dtype::DType;
use crate::error::{Error, Result};
use crate::kernels::{parallel_for, SendPtr};
use crate::op::fused_nn::{BatchNormActAttrs, BatchNormActBackwardAttrs, NnOp};
use crate::op::FusedOp;
use crate::tensor::graph::{needs_grad, record, Save};
use crate::tensor::Tensor;

/// y = act(x * scale[c] + shift[c] [+ res]) plane by plane, scale and shift from the running
/// statistics (computed once per channel in f64).
#[allow(clippy::too_many_arguments)]
fn eval_forward_typed<T: Lane + crate::dtype::Element>(y: &Tensor, x: &Tensor, mean: &Tensor, var: &Tensor, w: Option<&Tensor>, b: Option<&Tensor>, res: Option<&Tensor>, relu: bool, eps: f64) {
    let (n, c, s) = dims(x).unwrap();
    let (ms, vs) = (mean.as_slice::<T>(), var.as_slice::<T>());
    let (ws, bs) = (w.map(|t| t.as_slice::<T>()), b.map(|t| t.as_slice::<T>()));
    let (scale, shift): (Vec<T>, Vec<T>) = (0..c)
        .map(|ch| {
            let sc = ws.map(|w| w[ch].f64()).unwrap_or(1.0) / (vs[ch].f64() + eps).sqrt();
            (T::of(sc), T::of(bs.map(|b| b[ch].f64()).unwrap_or(0.0) - ms[ch].f64() * sc))
        })
        .unzip();
    let (xs, rs) = (x.as_slice::<T>(), res.map(|r| r.as_slice::<T>()));
    let py = SendPtr(y.data_ptr());
    let kern = Kern::new();
    parallel_for(n * c, s.max(1), |p0, p1| {
        for plane in p0..p1 {
            let (off, ch) = (plane * s, plane % c);
            let dst = unsafe { std::slice::from_raw_parts_mut((py.get() as *mut T).add(off), s) };
            kern.act_affine(dst, &xs[off..off + s], rs.map(|r| &r[off..off + s]), scale[ch], shift[ch], relu);
        }
    });
}

fn eval_forward_staged(y: &Tensor, ins: &[&Tensor], a: &BatchNormActAttrs) -> Result<()> {
    let cd = compute_dtype(ins[0].dtype());
    let mut it = ins.iter();
    let mut next = |present: bool| -> Result<Option<Tensor>> { if present { Some(staged(it.next().unwrap(), cd)).transpose() } else { Ok(None) } };
    let (x, mean, var) = (next(true)?.unwrap(), next(true)?.unwrap(), next(true)?.unwrap());
    let (w, b, r) = (next(a.has_weight)?, next(a.has_bias)?, next(a.has_residual)?);
    let dst = staging_out(y, cd)?;
    if cd == DType::F64 {
        eval_forward_typed::<f64>(&dst, &x, &mean, &var, w.as_ref(), b.as_ref(), r.as_ref(), a.relu, a.eps)
    } else {
        eval_forward_typed::<f32>(&dst, &x, &mean, &var, w.as_ref(), b.as_ref(), r.as_ref(), a.relu, a.eps)
    }
    unstage(y, &dst)
}

/// The fused kernel of `NnOp::BatchNormAct`.
pub(crate) fn batch_norm_act_cpu_kernel(a: &BatchNormActAttrs, outs: &[&Tensor], ins: &[&Tensor]) -> Result<()> {
    if !a.training {
        return eval_forward_staged(outs[0], ins, a);
    }
    let mut k = 1;
    let mut next = |present: bool| {
        let t = if present { Some(ins[k]) } else { None };
        k += present as usize;
        t
    };
    let (w, b, r) = (next(a.has_weight), next(a.has_bias), next(a.has_residual));
    train_forward_staged([outs[0], outs[1], outs[2]], ins[0], w, b, r, a.relu, a.eps)
}

/// The fused kernel of `NnOp::BatchNormActBackward`.
pub(crate) fn batch_norm_act_backward_cpu_kernel(a: &BatchNormActBackwardAttrs, outs: &[&Tensor], ins: &[&Tensor]) -> Result<()> {
    let (gy, x) = (ins[0], ins[1]);
    let y = if a.relu { Some(ins[2]) } else { None };
    let k = 2 + a.relu as usize;
    let stats = Stats { mean: ins[k], spread: ins[k + 1], running_eps: if a.training { None } else { Some(a.eps) } };
    let w = if a.has_weight { Some(ins[k + 2]) } else { None };
    backward_staged([outs[0], outs[1], outs[2], outs[3]], gy, x, y, stats, w, a.input_grad)
}

/// Batch norm over every dim but 1 of `x` [N, C, ...], then `+ residual` (x's shape and dtype)
/// when given, then ReLU when `relu`: one fused kernel each way, with autograd for x, weight,
/// bias and residual. `training` normalises with the batch's statistics and returns them as
/// (mean, 1/sqrt(var + eps)) for the caller's running averages; eval mode uses
/// `running_mean` and `running_var` (required then). CPU tensors of a floating dtype.
#[allow(clippy::too_many_arguments)]
pub fn batch_norm_act(
    x: &Tensor,
    running: Option<(&Tensor, &Tensor)>,
    weight: Option<&Tensor>,
    bias: Option<&Tensor>,
    residual: Option<&Tensor>,
    training: bool,
    relu: bool,
    eps: f64,
) -> Result<(Tensor, Option<(Tensor, Tensor)>)> {
    let (n, c, s) = dims(x)?;
    let bad = |why: String| Err(Error::Runtime(format!("batch_norm_act: {why} (input of shape {:?})", x.shape())));
    let (rm, rv) = running.unzip();
    if crate::dispatch::common_opt("batch_norm_act", &[Some(x), rm, rv, weight, bias, residual])? != crate::device::Device::Cpu {
        return bad("the fused kernel is CPU-only; on other devices compose batch_norm, add and relu".into());
    }
    if !x.dtype().is_float() {
        return bad(format!("expected a floating input, got {}", x.dtype().name()));
    }
    for (name, t) in [("weight", weight), ("bias", bias), ("running_mean", rm), ("running_var", rv)] {
        if let Some(t) = t {
            if t.shape() != [c] || !t.dtype().is_float() {
                return bad(format!("{name} of shape {:?} and dtype {} should be a floating vector of the {c} channels", t.shape(), t.dtype().name()));
            }
        }
    }
    if let Some(r) = residual {
        if r.shape() != x.shape() || r.dtype() != x.dtype() {
            return bad(format!("the residual of shape {:?} and dtype {} should match the input's ({})", r.shape(), r.dtype().name(), x.dtype().name()));
        }
    }
    if training && n * s <= 1 {
        return Err(Error::Value(format!("Expected more than 1 value per channel when training, got input size {:?}", x.shape())));
    }
    if !training && running.is_none() {
        return bad("eval mode needs running_mean and running_var".into());
    }
    let attrs = BatchNormActAttrs { eps, training, relu, has_weight: weight.is_some(), has_bias: bias.is_some(), has_residual: residual.is_some() };
    let cd = compute_dtype(x.dtype());
    let y = Tensor::empty(x.shape(), x.dtype())?;
    let args: Vec<&Tensor> = [Some(x), rm, rv, weight, bias, residual].into_iter().flatten().collect();
    let stats = if training {
        let (mean, inv) = (Tensor::empty(&[c], cd)?, Tensor::empty(&[c], cd)?);
        crate::dispatch::launch_fused(&FusedOp::Nn(NnOp::BatchNormAct(attrs)), &[&y, &mean, &inv], &args)?;
        Some((mean, inv))
    } else {
        crate::dispatch::launch_fused(&FusedOp::Nn(NnOp::BatchNormAct(attrs)), &[&y], &args)?;
        None
    };
    let ins: Vec<&Tensor> = [Some(x), weight, bias, residual].into_iter().flatten().collect();
    if needs_grad(&ins) {
        // saves: x, the statistics (batch mean and 1/std, or the running mean and variance as
        // they are now: later updates would be caught by their version counters), the weight,
        // and y (the ReLU's mask)
        let (m, spread) = match &stats {
            Some((m, i)) => (m.clone(), i.clone()),
            None => (rm.unwrap().clone(), rv.unwrap().clone()),
        };
        let mut saves = vec![Save::Input(x.clone()), Save::Input(m), Save::Input(spread)];
        if let Some(w) = weight {
            saves.push(Save::Input(w.clone()));
        }
        if relu {
            saves.push(Save::Output(0));
        }
        let (has_w, has_b, has_r) = (weight.is_some(), bias.is_some(), residual.is_some());
        let (xdt, wdt, bdt) = (x.dtype(), weight.map(|w| w.dtype()), bias.map(|b| b.dtype()));
        let (rx, rparams, rr) = (x.requires_grad(), weight.is_some_and(|t| t.requires_grad()) || bias.is_some_and(|t| t.requires_grad()), residual.is_some_and(|t| t.requires_grad()));
        record("NativeBatchNormBackward0", &ins, &[&y], saves, move |g, sv| {
            let n_out = 1 + has_w as usize + has_b as usize + has_r as usize;
            let Some(gy) = &g[0] else { return Ok(vec![None; n_out]) };
            if crate::tensor::graph::is_grad_enabled() && (gy.requires_grad() || sv[0].requires_grad()) {
                return Err(Error::Runtime("batch_norm_act: double backward (create_graph=True) is not supported yet".into()));
            }
            let full = |want: bool| Tensor::empty(if want { sv[0].shape() } else { &[0] }, cd);
            let (gx, gm) = (full(rx)?, full(rr && relu)?);
            let cs: &[usize] = if rparams { &[c] } else { &[0] };
            let (gw, gb) = (Tensor::empty(cs, cd)?, Tensor::empty(cs, cd)?);
            let op = BatchNormActBackwardAttrs { eps, training, relu, has_weight: has_w, input_grad: rx };
            let mut args = vec![gy, &sv[0]];
            if relu {
                args.push(&sv[3 + has_w as usize]);
            }
            args.extend([&sv[1], &sv[2]]);
            if has_w {
                args.push(&sv[3]);
            }
            crate::dispatch::launch_fused(&FusedOp::Nn(NnOp::BatchNormActBackward(op)), &[&gx, &gw, &gb, &gm], &args)?;
            let mut out = vec![if rx { Some(cast(&gx, xdt)?) } else { None }];
            if has_w {
                out.push(if rparams { Some(cast(&gw, wdt.unwrap())?) } else { None });
            }
            if has_b {
                out.push(if rparams { Some(cast(&gb, bdt.unwrap())?) } else { None });
            }
            if has_r {
                // without a ReLU the residual's gradient is gy itself
                out.push(if !rr { None } else if relu { Some(cast(&gm, xdt)?) } else { Some(gy.clone()) });
            }
            Ok(out)
        });
    }
    Ok((y, stats))
}
