//! Fused softmax and log_softmax over the last dim, and attention's softmax with the score
//! scale, an additive or boolean mask and the causal mask folded in (so attention saves only
//! its probabilities for backward). Each row is read once from memory and written once: the
//! max, the exponentials (stored into the output) and the normalisation are three sweeps over
//! a row that stays in cache, cheaper than the second exponential per element an online
//! (max, sum) recurrence costs. Backward is one dot product and one write per row.
use super::copy::{staged, staging_out, unstage};
use super::rows::{as_f32, as_f32_mut, par_rows, row_dot, row_max, row_mut, row_sum, simd, simd_fn, Fl};
use super::{binary, reduce, sum_to, unary, UnaryOp};
use crate::dtype::DType;
use crate::error::{Error, Result};
use crate::kernels::SendPtr;
use crate::op::fused_nn::{MaskedSoftmaxAttrs, NnOp};
use crate::op::FusedOp;
use crate::tensor::graph::{self as autograd, record, Save};
use crate::tensor::Tensor;

simd_fn! {
    /// y = softmax(y) in place; a row whose max is -inf becomes zeros when `safe`, else NaN
    /// (as exp(-inf - -inf) is).
    fn softmax_in_place<T: Fl>(y: &mut [T], safe: bool) {
        let m = row_max(y);
        if safe && m == T::neg_infinity() {
            y.iter_mut().for_each(|v| *v = T::zero());
            return;
        }
        let sum = match as_f32_mut(y).and_then(|f| simd::exp_shifted_sum(f, None, m.f64() as f32)) {
            Some(s) => s,
            None => {
                for v in y.iter_mut() {
                    *v = (*v - m).exp_();
                }
                row_sum(y)
            }
        };
        let inv = T::of(1.0 / sum);
        for v in y.iter_mut() {
            *v *= inv;
        }
    }
}

simd_fn! {
    /// y = x - max - log(sum(exp(x - max)))
    fn log_softmax_row<T: Fl>(y: &mut [T], x: &[T]) {
        let m = row_max(x);
        let fast = match (as_f32_mut(y), as_f32(x)) {
            (Some(d), Some(xf)) => simd::exp_shifted_sum(d, Some(xf), m.f64() as f32),
            _ => None,
        };
        let sum = fast.unwrap_or_else(|| {
            for (d, &v) in y.iter_mut().zip(x) {
                *d = (v - m).exp_();
            }
            row_sum(y)
        });
        let shift = m + T::of(sum.ln());
        for (d, &v) in y.iter_mut().zip(x) {
            *d = v - shift;
        }
    }
}

simd_fn! {
    /// y = x * scale (+ add) where kept, -inf elsewhere: the masked scores of one row.
    fn masked_scores<T: Fl>(y: &mut [T], x: &[T], scale: T, add: Option<&[T]>, keep: Option<&[bool]>, causal_end: usize) {
        match (add, keep) {
            (Some(a), _) => {
                for ((d, &v), &m) in y.iter_mut().zip(x).zip(a) {
                    *d = v * scale + m;
                }
            }
            (None, Some(k)) => {
                for ((d, &v), &m) in y.iter_mut().zip(x).zip(k) {
                    *d = if m { v * scale } else { T::neg_infinity() };
                }
            }
            (None, None) => {
                for (d, &v) in y.iter_mut().zip(x) {
                    *d = v * scale;
                }
            }
        }
        for d in y.iter_mut().skip(causal_end) {
            *d = T::neg_infinity();
        }
    }
}

simd_fn! {
    /// gx = scale * y * (g - Σ g·y), or for log-probabilities y: scale * (g - exp(y) Σ g.
    fn backward_row<T: Fl>(gx: &mut [T], g: &[T], y: &[T], log: bool, scale: T, masked: bool) {
        if masked && y.first().is_some_and(|v| v.is_nan()) {
            gx.iter_mut().for_each(|v| *v = T::zero());
            return;
        }
        if log {
            let s = T::of(row_sum(g));
            if let (Some(d), Some(gf), Some(yf)) = (as_f32_mut(gx), as_f32(g), as_f32(y)) {
                if simd::log_softmax_grad(d, gf, yf, s.f64() as f32, scale.f64() as f32) {
                    return;
                }
            }
            for ((d, &gv), &yv) in gx.iter_mut().zip(g).zip(y) {
                *d = scale * (gv - yv.exp_() * s);
            }
        } else {
            let s = T::of(row_dot(g, y));
            for ((d, &gv), &yv) in gx.iter_mut().zip(g).zip(y) {
                *d = scale * yv * (gv - s);
            }
        }
    }
}

fn last(t: &Tensor) -> usize {
    t.shape().last().copied().unwrap_or(1)
}

fn float_dtype(op: &str, t: &Tensor) -> Result<DType> {
    match t.dtype() {
        DType::F32 | DType::F64 => Ok(t.dtype()),
        d => Err(Error::Runtime(format!("{op}: the fused kernel takes float32 or float64, got {} of shape {:?}", d.name(), t.shape()))),
    }
}

fn with_out<T: Fl>(out: &Tensor, f: impl FnOnce(&Tensor)) -> Result<()> {
    let dst = staging_out(out, T::DT)?;
    f(&dst);
    unstage(out, &dst)
}

/// The fused kernel of (log_)softmax over the last dim (`NnOp::Softmax`).
pub(crate) fn softmax_cpu_kernel(log: bool, out: &Tensor, x: &Tensor) -> Result<()> {
    fn go<T: Fl>(log: bool, out: &Tensor, x: &Tensor) -> Result<()> {
        let x = staged(x, T::DT)?;
        let n = last(&x);
        let rows = if n == 0 { 0 } else { x.numel() / n };
        let xs = x.as_slice::<T>();
        with_out::<T>(out, |dst| {
            let p = SendPtr(dst.data_ptr());
            par_rows(rows, n * 4, |r0, r1| {
                for r in r0..r1 {
                    let (y, xr) = (unsafe { row_mut::<T>(p.get(), r, n) }, &xs[r * n..(r + 1) * n]);
                    if log {
                        log_softmax_row::<T>(y, xr);
                    } else {
                        y.copy_from_slice(xr);
                        softmax_in_place::<T>(y, false);
                    }
                }
            });
        })
    }
    if float_dtype("softmax", x)? == DType::F64 { go::<f64>(log, out, x) } else { go::<f32>(log, out, x) }
}

/// The fused kernel of softmax's backward (`NnOp::SoftmaxBackward`).
pub(crate) fn softmax_backward_cpu_kernel(log: bool, scale: f64, masked: bool, out: &Tensor, g: &Tensor, y: &Tensor) -> Result<()> {
    fn go<T: Fl>(log: bool, scale: f64, masked: bool, out: &Tensor, g: &Tensor, y: &Tensor) -> Result<()> {
        let (g, y) = (staged(g, T::DT)?, staged(y, T::DT)?);
        let n = last(&y);
        let rows = if n == 0 { 0 } else { y.numel() / n };
        let (gs, ys) = (g.as_slice::<T>(), y.as_slice::<T>());
        with_out::<T>(out, |dst| {
            let p = SendPtr(dst.data_ptr());
            par_rows(rows, n * 3, |r0, r1| {
                for r in r0..r1 {
                    let gx = unsafe { row_mut::<T>(p.get(), r, n) };
                    backward_row::<T>(gx, &gs[r * n..(r + 1) * n], &ys[r * n..(r + 1) * n], log, T::of(scale), masked);
                }
            });
        })
    }
    if float_dtype("softmax_backward", y)? == DType::F64 { go::<f64>(log, scale, masked, out, g, y) } else { go::<f32>(log, scale, masked, out, g, y) }
}

/// Where each row of x finds its mask row: the mask's strides over x's dims (right-aligned,
/// 0 where the mask broadcasts), and whether the mask varies along the last dim.
fn mask_strides(x: &[usize], m: &[usize]) -> Result<(Vec<usize>, bool)> {
    if m.len() > x.len() {
        return Err(Error::Runtime(format!("scaled_masked_softmax: the mask of shape {m:?} has more dims than the scores {x:?}")));
    }
    let off = x.len() - m.len();
    let mut strides = vec![0usize; x.len()];
    let mut acc = 1usize;
    for d in (0..m.len()).rev() {
        let xd = x[off + d];
        if m[d] != 1 && m[d] != xd {
            return Err(Error::Runtime(format!("scaled_masked_softmax: the mask of shape {m:?} does not broadcast to the scores' shape {x:?}")));
        }
        strides[off + d] = if m[d] == 1 { 0 } else { acc };
        acc *= m[d];
    }
    let along = !m.is_empty() && m[m.len() - 1] != 1;
    Ok((strides, along))
}

/// The fused kernel of attention's masked softmax (`NnOp::ScaledMaskedSoftmax`).
pub(crate) fn masked_softmax_cpu_kernel(a: &MaskedSoftmaxAttrs, out: &Tensor, x: &Tensor, mask: Option<&Tensor>) -> Result<()> {
    fn go<T: Fl>(a: &MaskedSoftmaxAttrs, out: &Tensor, x: &Tensor, mask: Option<&Tensor>) -> Result<()> {
        let x = staged(x, T::DT)?;
        let shape = x.shape().to_vec();
        let n = last(&x);
        let rows = if n == 0 { 0 } else { x.numel() / n };
        let l = if shape.len() >= 2 { shape[shape.len() - 2] } else { 1 };
        let xs = x.as_slice::<T>();
        let mask = match mask {
            Some(m) => Some(staged(m, if a.bool_mask { DType::Bool } else { T::DT })?),
            None => None,
        };
        let (strides, along) = match &mask {
            Some(m) => mask_strides(&shape, m.shape())?,
            None => (vec![], false),
        };
        // a mask constant along the row is expanded once per row into this scratch
        let lead = &shape[..shape.len().saturating_sub(1)];
        with_out::<T>(out, |dst| {
            let p = SendPtr(dst.data_ptr());
            par_rows(rows, n * 4, |r0, r1| {
                let (mut add_row, mut keep_row) = (vec![T::zero(); if along { 0 } else { n }], vec![false; if along { 0 } else { n }]);
                for r in r0..r1 {
                    let y = unsafe { row_mut::<T>(p.get(), r, n) };
                    let xr = &xs[r * n..(r + 1) * n];
                    let causal_end = if a.causal { (r % l) + 1 } else { n };
                    let Some(m) = &mask else {
                        masked_scores::<T>(y, xr, T::of(a.scale), None, None, causal_end);
                        softmax_in_place::<T>(y, a.safe);
                        continue;
                    };
                    let (mut rem, mut off) = (r, 0usize);
                    for d in (0..lead.len()).rev() {
                        off += (rem % lead[d]) * strides[d];
                        rem /= lead[d];
                    }
                    if a.bool_mask {
                        let ms = m.as_slice::<bool>();
                        let keep = if along { &ms[off..off + n] } else { keep_row.fill(ms[off]); &keep_row[..] };
                        masked_scores::<T>(y, xr, T::of(a.scale), None, Some(keep), causal_end);
                    } else {
                        let ms = m.as_slice::<T>();
                        let add = if along { &ms[off..off + n] } else { add_row.fill(ms[off]); &add_row[..] };
                        masked_scores::<T>(y, xr, T::of(a.scale), Some(add), None, causal_end);
                    }
                    softmax_in_place::<T>(y, a.safe);
                }
            });
        })
    }
    if float_dtype("scaled_masked_softmax", x)? == DType::F64 { go::<f64>(a, out, x, mask) } else { go::<f32>(a, out, x, mask) }
}

/// softmax (or log_softmax) of `x` over its last dim, on the CPU for float32/float64.
pub fn softmax_last(x: &Tensor, log: bool) -> Result<Tensor> {
    let dt = float_dtype(if log { "log_softmax" } else { "softmax" }, x)?;
    let y = Tensor::empty(x.shape(), dt)?;
    crate::dispatch::launch_fused(&FusedOp::Nn(NnOp::Softmax { log }), &[&y], &[x])?;
    record(if log { "LogSoftmaxBackward0" } else { "SoftmaxBackward0" }, &[x], &[&y], vec![Save::Output(0)], move |g, sv| {
        let Some(g) = &g[0] else { return Ok(vec![None]) };
        Ok(vec![Some(softmax_grad(g, &sv[0], log, 1.0, false)?)])
    });
    Ok(y)
}

/// The gradient of the softmax's input from the output's gradient `g` and its output `y`,
/// times `scale`: one fused pass, or differentiable ops when the graph of the gradient is
/// being recorded (create_graph).
fn softmax_grad(g: &Tensor, y: &Tensor, log: bool, scale: f64, masked: bool) -> Result<Tensor> {
    if autograd::is_grad_enabled() && (g.requires_grad() || y.requires_grad()) {
        let last = vec![y.ndim().saturating_sub(1)];
        let gx = if log {
            binary::sub(g, &binary::mul(&unary::unary(UnaryOp::Exp, y)?, &reduce::sum(g, &last, true)?)?)?
        } else {
            binary::mul(y, &binary::sub(g, &reduce::sum(&binary::mul(g, y)?, &last, true)?)?)?
        };
        let gx = if scale == 1.0 { gx } else { super::mul_scalar(&gx, scale)? };
        if masked {
            let nan = binary::binary(super::BinaryOp::Ne, &y.clone().into(), &y.clone().into())?;
            return binary::where_(&nan, &super::zeros_like(&gx)?, &gx);
        }
        return Ok(gx);
    }
    let gx = Tensor::empty(y.shape(), y.dtype())?;
    crate::dispatch::launch_fused(&FusedOp::Nn(NnOp::SoftmaxBackward { log, scale, masked }), &[&gx], &[g, y])?;
    Ok(gx)
}

/// softmax(x * scale + mask) over the last dim, `mask` broadcasting to x (boolean: True keeps
/// the score); `causal` keeps column j <= row i of each [L, S] matrix; `safe` turns rows with
/// nothing kept into zeros. Saves only the probabilities for backward.
pub fn scaled_masked_softmax(x: &Tensor, mask: Option<&Tensor>, scale: f64, causal: bool, safe: bool) -> Result<Tensor> {
    let dt = float_dtype("scaled_masked_softmax", x)?;
    let bool_mask = mask.is_some_and(|m| m.dtype() == DType::Bool);
    if let Some(m) = mask {
        if !bool_mask && m.dtype() != dt {
            return Err(Error::Runtime(format!(
                "scaled_masked_softmax: an additive mask must have the scores' dtype {}, got {} (or be boolean)",
                dt.name(),
                m.dtype().name()
            )));
        }
        mask_strides(x.shape(), m.shape())?;
    }
    let y = Tensor::empty(x.shape(), dt)?;
    let a = MaskedSoftmaxAttrs { scale, has_mask: mask.is_some(), bool_mask, causal, safe };
    let ins: Vec<&Tensor> = [Some(x), mask].into_iter().flatten().collect();
    crate::dispatch::launch_fused(&FusedOp::Nn(NnOp::ScaledMaskedSoftmax(a)), &[&y], &ins)?;
    let mask_shape = mask.map(|m| m.shape().to_vec());
    let mask_grad = mask.is_some_and(|m| !bool_mask && m.requires_grad());
    let masks = mask.is_some() || causal;
    record("ScaledMaskedSoftmaxBackward0", &ins, &[&y], vec![Save::Output(0)], move |g, sv| {
        let Some(g) = &g[0] else { return Ok(vec![None; 1 + mask_shape.is_some() as usize]) };
        if !mask_grad {
            let mut out = vec![Some(softmax_grad(g, &sv[0], false, scale, masks)?)];
            if mask_shape.is_some() {
                out.push(None);
            }
            return Ok(out);
        }
        let gz = softmax_grad(g, &sv[0], false, 1.0, masks)?;
        let gm = sum_to(&gz, mask_shape.as_ref().unwrap())?;
        Ok(vec![Some(super::mul_scalar(&gz, scale)?), Some(gm)])
    });
    Ok(y)
}
