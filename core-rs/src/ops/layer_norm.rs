//! Fused layer norm: per row, the moments in one sweep (`rows::row_stats`) and the output in
//! another while the row is still in cache, saving the row's mean and 1/std; the closed-form backward likewise, with
//! the weight and bias gradients summed per chunk of rows and the chunks added in f64. The
//! composite (mean, subtract, square, mean, rsqrt, scale, shift) would write and keep five
//! full-size intermediates.
use super::copy::{staged, staging_out, unstage};
use super::rows::{par_rows, row_mut, row_stats, simd_fn, Fl};
use super::{binary, reduce, unary, BinaryOp, Scalar, UnaryOp};
use crate::dtype::DType;
use crate::error::{Error, Result};
use crate::kernels::SendPtr;
use crate::op::fused_nn::{LayerNormAttrs, LayerNormBackwardAttrs, NnOp};
use crate::op::FusedOp;
use crate::tensor::graph::{self as autograd, record, Save};
use crate::tensor::Tensor;

simd_fn! {
    /// y = (x - mean) * rstd [* w] [+ b]
    fn normalize<T: Fl>(y: &mut [T], x: &[T], mean: T, rstd: T, w: Option<&[T]>, b: Option<&[T]>) {
        let c = T::zero() - mean * rstd;
        match (w, b) {
            (Some(w), Some(b)) => {
                for (((d, &v), &wv), &bv) in y.iter_mut().zip(x).zip(w).zip(b) {
                    *d = (v * rstd + c) * wv + bv;
                }
            }
            (Some(w), None) => {
                for ((d, &v), &wv) in y.iter_mut().zip(x).zip(w) {
                    *d = (v * rstd + c) * wv;
                }
            }
            (None, Some(b)) => {
                for ((d, &v), &bv) in y.iter_mut().zip(x).zip(b) {
                    *d = v * rstd + c + bv;
                }
            }
            (None, None) => {
                for (d, &v) in y.iter_mut().zip(x) {
                    *d = v * rstd + c;
                }
            }
        }
    }
}

simd_fn! {
    /// One row of the backward. With g = gy * w and xhat = (x - mean) * rstd:
    /// gx = rstd * (g - mean(g) - xhat * mean(g * xhat)); and gw += gy * xhat, gb += gy.
    fn backward_row<T: Fl>(gx: Option<&mut [T]>, gy: &[T], x: &[T], mean: T, rstd: T, w: Option<&[T]>, acc: Option<(&mut [T], &mut [T])>) {
        let n = x.len();
        if let Some((gw, gb)) = acc {
            for (((a, b), &g), &v) in gw.iter_mut().zip(gb.iter_mut()).zip(gy).zip(x) {
                *a += g * ((v - mean) * rstd);
                *b += g;
            }
        }
        let Some(gx) = gx else { return };
        // Σ g·w and Σ g·w·(x - mean) (the second times rstd is Σ g·w·xhat)
        let (s1, s2) = T::grad_moments(gy, w, x, mean);
        let inv_n = 1.0 / n as f64;
        let m1 = T::of(s1 * inv_n);
        let m2 = T::of(s2 * inv_n * rstd.f64());
        // gx = rstd * g - rstd * m1 - (x - mean) * rstd^2 * m2 = a * g + b * x + c
        let (a, b) = (rstd, T::zero() - rstd * rstd * m2);
        let c = T::zero() - rstd * m1 - b * mean;
        match w {
            Some(w) => {
                for (((d, &g), &v), &wv) in gx.iter_mut().zip(gy).zip(x).zip(w) {
                    *d = a * (g * wv) + b * v + c;
                }
            }
            None => {
                for ((d, &g), &v) in gx.iter_mut().zip(gy).zip(x) {
                    *d = a * g + b * v + c;
                }
            }
        }
    }
}

fn split(shape: &[usize], axis: usize) -> (usize, usize) {
    (shape[..axis].iter().product(), shape[axis..].iter().product())
}

fn forward_typed<T: Fl>(a: &LayerNormAttrs, outs: &[Tensor], x: &Tensor, w: Option<&Tensor>, b: Option<&Tensor>) {
    let (rows, n) = split(x.shape(), a.axis);
    let xs = x.as_slice::<T>();
    let (w, b) = (w.map(|t| t.as_slice::<T>()), b.map(|t| t.as_slice::<T>()));
    let (py, pm, pr) = (SendPtr(outs[0].data_ptr()), SendPtr(outs[1].data_ptr()), SendPtr(outs[2].data_ptr()));
    par_rows(rows, n * 2, |r0, r1| {
        for r in r0..r1 {
            let xr = &xs[r * n..(r + 1) * n];
            let (mean, rstd) = row_stats::<T>(xr, a.eps);
            unsafe {
                *(pm.get() as *mut T).add(r) = mean;
                *(pr.get() as *mut T).add(r) = rstd;
                normalize::<T>(row_mut(py.get(), r, n), xr, mean, rstd, w, b);
            }
        }
    });
}

fn backward_typed<T: Fl>(a: &LayerNormBackwardAttrs, outs: &[Tensor], gy: &Tensor, x: &Tensor, mean: &Tensor, rstd: &Tensor, w: Option<&Tensor>) {
    let (rows, n) = split(x.shape(), a.axis);
    let (gys, xs, ms, rs) = (gy.as_slice::<T>(), x.as_slice::<T>(), mean.as_slice::<T>(), rstd.as_slice::<T>());
    let w = w.map(|t| t.as_slice::<T>());
    let pgx = SendPtr(outs[0].data_ptr());
    let partial = par_rows(rows, n * 3, |r0, r1| {
        let mut acc = a.param_grad.then(|| (vec![T::zero(); n], vec![T::zero(); n]));
        for r in r0..r1 {
            let (g, xr) = (&gys[r * n..(r + 1) * n], &xs[r * n..(r + 1) * n]);
            let gx = a.input_grad.then(|| unsafe { row_mut::<T>(pgx.get(), r, n) });
            let acc = acc.as_mut().map(|(gw, gb)| (&mut gw[..], &mut gb[..]));
            backward_row::<T>(gx, g, xr, ms[r], rs[r], w, acc);
        }
        acc
    });
    if a.param_grad {
        let (gw, gb) = (outs[1].as_slice_mut::<T>(), outs[2].as_slice_mut::<T>());
        for j in 0..n {
            gw[j] = T::of(partial.iter().map(|p| p.as_ref().unwrap().0[j].f64()).sum());
            gb[j] = T::of(partial.iter().map(|p| p.as_ref().unwrap().1[j].f64()).sum());
        }
    }
}

fn run<T: Fl>(outs: &[&Tensor], ins: &[Tensor], f: impl FnOnce(&[Tensor], &[Tensor])) -> Result<()> {
    let dsts: Vec<Tensor> = outs.iter().map(|o| staging_out(o, T::DT)).collect::<Result<_>>()?;
    f(&dsts, ins);
    for (o, t) in outs.iter().zip(&dsts) {
        unstage(o, t)?;
    }
    Ok(())
}

fn float_dtype(op: &str, dt: DType) -> Result<DType> {
    match dt {
        DType::F32 | DType::F64 => Ok(dt),
        d => Err(Error::Runtime(format!("{op}: the fused kernel takes float32 or float64, got {}", d.name()))),
    }
}

/// The fused kernel of layer norm (`NnOp::LayerNorm`).
pub(crate) fn layer_norm_cpu_kernel(a: &LayerNormAttrs, outs: &[&Tensor], ins: &[&Tensor]) -> Result<()> {
    let dt = float_dtype("layer_norm", ins[0].dtype())?;
    let ins: Vec<Tensor> = ins.iter().map(|t| staged(t, dt)).collect::<Result<_>>()?;
    let w = a.has_weight.then(|| &ins[1]);
    let b = a.has_bias.then(|| &ins[1 + a.has_weight as usize]);
    if dt == DType::F64 {
        run::<f64>(outs, &ins, |d, ins| forward_typed::<f64>(a, d, &ins[0], w, b))
    } else {
        run::<f32>(outs, &ins, |d, ins| forward_typed::<f32>(a, d, &ins[0], w, b))
    }
}

/// The fused kernel of layer norm's backward (`NnOp::LayerNormBackward`).
pub(crate) fn layer_norm_backward_cpu_kernel(a: &LayerNormBackwardAttrs, outs: &[&Tensor], ins: &[&Tensor]) -> Result<()> {
    let dt = float_dtype("layer_norm", ins[1].dtype())?;
    let ins: Vec<Tensor> = ins.iter().map(|t| staged(t, dt)).collect::<Result<_>>()?;
    let w = a.has_weight.then(|| &ins[4]);
    if dt == DType::F64 {
        run::<f64>(outs, &ins, |d, i| backward_typed::<f64>(a, d, &i[0], &i[1], &i[2], &i[3], w))
    } else {
        run::<f32>(outs, &ins, |d, i| backward_typed::<f32>(a, d, &i[0], &i[1], &i[2], &i[3], w))
    }
}

/// Layer norm of `x` over its dims from `axis` on, on the CPU for float32/float64. Returns
/// (y, mean, rstd), the statistics shaped as x with the normalized dims as 1.
pub fn layer_norm(x: &Tensor, weight: Option<&Tensor>, bias: Option<&Tensor>, axis: usize, eps: f64) -> Result<(Tensor, Tensor, Tensor)> {
    let dt = float_dtype("layer_norm", x.dtype())?;
    if axis > x.ndim() {
        return Err(Error::Runtime(format!("layer_norm: axis {axis} is past the last dim of input {:?}", x.shape())));
    }
    let norm_shape = &x.shape()[axis..];
    for (name, t) in [("weight", weight), ("bias", bias)] {
        if let Some(t) = t {
            if t.shape() != norm_shape || t.dtype() != dt {
                return Err(Error::Runtime(format!(
                    "layer_norm: {name} of shape {:?} and dtype {} does not match the normalized shape {norm_shape:?} and dtype {} of input {:?}",
                    t.shape(),
                    t.dtype().name(),
                    dt.name(),
                    x.shape()
                )));
            }
        }
    }
    let stat_shape: Vec<usize> = x.shape().iter().enumerate().map(|(d, &s)| if d < axis { s } else { 1 }).collect();
    let (y, mean, rstd) = (Tensor::empty(x.shape(), dt)?, Tensor::empty(&stat_shape, dt)?, Tensor::empty(&stat_shape, dt)?);
    let attrs = LayerNormAttrs { axis, eps, has_weight: weight.is_some(), has_bias: bias.is_some() };
    let ins: Vec<&Tensor> = [Some(x), weight, bias].into_iter().flatten().collect();
    crate::dispatch::launch_fused(&FusedOp::Nn(NnOp::LayerNorm(attrs)), &[&y, &mean, &rstd], &ins)?;
    let mut saves = vec![Save::Input(x.clone()), Save::Input(mean.clone()), Save::Input(rstd.clone())];
    if let Some(w) = weight {
        saves.push(Save::Input(w.clone()));
    }
    let (has_w, has_b) = (weight.is_some(), bias.is_some());
    let (rx, rp) = (x.requires_grad(), weight.is_some_and(|t| t.requires_grad()) || bias.is_some_and(|t| t.requires_grad()));
    let n_in = ins.len();
    record("NativeLayerNormBackward0", &ins, &[&y], saves, move |g, sv| {
        let Some(gy) = &g[0] else { return Ok(vec![None; n_in]) };
        let w = has_w.then(|| &sv[3]);
        if autograd::is_grad_enabled() && (gy.requires_grad() || sv[0].requires_grad() || w.is_some_and(|w| w.requires_grad())) {
            // create_graph: the same closed form, written with differentiable ops
            return differentiable_backward(gy, &sv[0], w, axis, eps, rx, has_b);
        }
        let norm: Vec<usize> = sv[0].shape()[axis..].to_vec();
        let gx = Tensor::empty(if rx { sv[0].shape() } else { &[0] }, dt)?;
        let (gw, gb) = if rp { (Tensor::empty(&norm, dt)?, Tensor::empty(&norm, dt)?) } else { (Tensor::empty(&[0], dt)?, Tensor::empty(&[0], dt)?) };
        let a = LayerNormBackwardAttrs { axis, has_weight: has_w, input_grad: rx, param_grad: rp };
        let mut args = vec![gy, &sv[0], &sv[1], &sv[2]];
        if let Some(w) = w {
            args.push(w);
        }
        crate::dispatch::launch_fused(&FusedOp::Nn(NnOp::LayerNormBackward(a)), &[&gx, &gw, &gb], &args)?;
        let mut out = vec![rx.then_some(gx)];
        if has_w {
            out.push(rp.then(|| gw.clone()));
        }
        if has_b {
            out.push(rp.then_some(gb));
        }
        Ok(out)
    });
    Ok((y, mean, rstd))
}

fn scalar_op(op: BinaryOp, t: &Tensor, v: f64) -> Result<Tensor> {
    binary::binary(op, &t.clone().into(), &Scalar::Float(v).into())
}

/// Layer norm's gradients from differentiable primitives, for double backward.
fn differentiable_backward(gy: &Tensor, x: &Tensor, w: Option<&Tensor>, axis: usize, eps: f64, rx: bool, has_b: bool) -> Result<Vec<Option<Tensor>>> {
    let dims: Vec<usize> = (axis..x.ndim()).collect();
    let n = x.shape()[axis..].iter().product::<usize>() as f64;
    let mean_of = |t: &Tensor| scalar_op(BinaryOp::Div, &reduce::sum(t, &dims, true)?, n);
    let d = binary::sub(x, &mean_of(x)?)?;
    let var = mean_of(&binary::mul(&d, &d)?)?;
    let rstd = unary::unary(UnaryOp::Rsqrt, &scalar_op(BinaryOp::Add, &var, eps)?)?;
    let xhat = binary::mul(&d, &rstd)?;
    let gh = match w {
        Some(w) => binary::mul(gy, w)?,
        None => gy.clone(),
    };
    let gx = binary::mul(&rstd, &binary::sub(&binary::sub(&gh, &mean_of(&gh)?)?, &binary::mul(&xhat, &mean_of(&binary::mul(&gh, &xhat)?)?)?)?)?;
    let lead: Vec<usize> = (0..axis).collect();
    let param = |t: &Tensor| -> Result<Tensor> { if lead.is_empty() { Ok(t.clone()) } else { reduce::sum(t, &lead, false) } };
    let mut out = vec![rx.then_some(gx)];
    if w.is_some() {
        out.push(Some(param(&binary::mul(gy, &xhat)?)?));
    }
    if has_b {
        out.push(Some(param(gy)?));
    }
    Ok(out)
}
