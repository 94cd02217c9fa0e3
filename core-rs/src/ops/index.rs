//! Indexing primitives: gather, scatter, index_select, index_add, advanced indexing on
//! leading dims (read and write), nonzero.
use super::copy::clone_contiguous;
use super::index_cpu::{check_index, unravel};
use super::{cast, contiguous, sum_to};
use crate::tensor::graph::{record, Save};
use crate::dtype::DType;
use crate::error::{Error, Result};
use crate::layout::{broadcast_shapes, Layout};
use crate::device::Device;
use crate::tensor::Tensor;

fn as_i64(op: &str, idx: &Tensor) -> Result<Tensor> {
    if idx.dtype().is_float() || idx.dtype() == DType::Bool {
        return Err(Error::Runtime(format!("{op}(): expected an integer index tensor, got {}", idx.dtype().name())));
    }
    crate::tensor::graph::with_grad_mode(false, || contiguous(&cast(idx, DType::I64)?))
}

/// Index values checked (negative ones wrapped where the op allows) on the host, as a
/// contiguous int64 tensor of `shape` on `dev`: what a device kernel receives.
fn device_index(op: &str, index: &Tensor, shape: &[usize], size: usize, dim: usize, xshape: &[usize], dev: Device) -> Result<Tensor> {
    let ti = as_i64(op, index)?;
    let b = ti.alias(ti.layout().broadcast_to(op, shape)?);
    let host = crate::dispatch::to_device(&b, Device::Cpu)?;
    let host = contiguous(&host)?;
    let v: Vec<i64> =
        host.as_slice::<i64>().iter().map(|&i| check_index(op, i, size, dim, xshape).map(|j| j as i64)).collect::<Result<_>>()?;
    crate::dispatch::to_device(&Tensor::from_vec(v, shape)?, dev)
}

/// Runs a CPU index op on host copies and brings the result back (0-dim corner cases only).
fn via_host(dev: Device, ts: &[&Tensor], f: impl FnOnce(&[Tensor]) -> Result<Tensor>) -> Result<Tensor> {
    let h: Vec<Tensor> = ts.iter().map(|t| crate::dispatch::to_device(t, Device::Cpu)).collect::<Result<_>>()?;
    let r = crate::tensor::graph::with_grad_mode(false, || f(&h))?;
    crate::dispatch::to_device(&r, dev)
}

fn check_gather_shapes(op: &str, x: &Tensor, dim: usize, index: &Tensor) -> Result<()> {
    if index.ndim() != x.ndim().max(1) && !(x.ndim() == 0 && index.ndim() <= 1) {
        return Err(Error::Runtime(format!(
            "{op}(): index tensor must have the same number of dimensions as input tensor (input {:?}, index {:?})",
            x.shape(),
            index.shape()
        )));
    }
    for d in 0..x.ndim() {
        if d != dim && index.shape()[d] > x.shape()[d] {
            return Err(Error::Runtime(format!(
                "{op}(): size of index {:?} must not exceed input size {:?} in dimension {d} other than {dim}",
                index.shape(),
                x.shape()
            )));
        }
    }
    Ok(())
}

/// out[p] = x[p with p[dim] = index[p]].
pub fn gather(x: &Tensor, dim: usize, index: &Tensor) -> Result<Tensor> {
    check_gather_shapes("gather", x, dim, index)?;
    // index tensors may live on the CPU for a device tensor (as in PyTorch): moved over
    let index = &crate::dispatch::to_device(index, x.device())?;
    let dev = crate::dispatch::common("gather", &[x, index])?;
    let (out, idx) = if !dev.is_cpu() && x.ndim() == 0 {
        let idx = as_i64("gather", index)?;
        (via_host(dev, &[x, index], |h| gather(&h[0], dim, &h[1]))?, idx)
    } else {
        // the CPU kernel checks the indices as it reads them; a device's are checked here
        let idx = if dev.is_cpu() { as_i64("gather", index)? } else { device_index("gather", index, index.shape(), x.shape()[dim], dim, x.shape(), dev)? };
        let out = Tensor::empty_on(idx.shape(), x.dtype(), dev)?;
        crate::dispatch::launch(&crate::op::Op::Gather(crate::op::GatherAttrs { dim: dim as i64 }), &[&out], &[x, &idx])?;
        (out, idx)
    };
    if x.dtype().is_float() && crate::tensor::graph::needs_grad(&[x]) {
        let xs = x.shape().to_vec();
        record("GatherBackward0", &[x], &[&out], vec![Save::Input(idx.clone())], move |g, s| {
            let Some(g) = &g[0] else { return Ok(vec![None]) };
            let z = Tensor::zeros_on(&xs, g.dtype(), g.device())?;
            Ok(vec![Some(scatter(&z, dim, &s[0], g, true)?)])
        });
    }
    Ok(out)
}

/// A copy of `x` with `src` values written (or added) at x[p with p[dim] = index[p]].
pub fn scatter(x: &Tensor, dim: usize, index: &Tensor, src: &Tensor, add: bool) -> Result<Tensor> {
    check_gather_shapes("scatter", x, dim, index)?;
    for d in 0..index.ndim() {
        if index.shape()[d] > src.shape().get(d).copied().unwrap_or(1) && src.ndim() > 0 {
            return Err(Error::Runtime(format!(
                "scatter(): expected index {:?} to be no larger than src {:?} in dimension {d}",
                index.shape(),
                src.shape()
            )));
        }
    }
    let index = &crate::dispatch::to_device(index, x.device())?;
    let dev = crate::dispatch::common("scatter", &[x, index, src])?;
    let (out, idx) = if !dev.is_cpu() && x.ndim() == 0 {
        let idx = as_i64("scatter", index)?;
        (via_host(dev, &[x, index, src], |h| scatter(&h[0], dim, &h[1], &h[2], add))?, idx)
    } else {
        let idx = if dev.is_cpu() { as_i64("scatter", index)? } else { device_index("scatter", index, index.shape(), x.shape()[dim], dim, x.shape(), dev)? };
        let srcc = crate::tensor::graph::with_grad_mode(false, || cast(src, x.dtype()))?;
        let srcc = crate::dispatch::to_device(&srcc, dev)?;
        // src read at index's positions: a view of index's shape (a 0-dim src everywhere)
        let srcc = if srcc.ndim() == 0 {
            srcc.alias(srcc.layout().broadcast_to("scatter", idx.shape())?)
        } else if srcc.ndim() == idx.ndim() {
            let mut l = srcc.layout().clone();
            l.shape = idx.shape().to_vec();
            srcc.alias(l)
        } else {
            // (a 0-dim x: the one position reads src's first element)
            srcc.alias(Layout { shape: idx.shape().to_vec(), strides: vec![0; idx.ndim()], offset: srcc.layout().offset })
        };
        let out = Tensor::empty_on(x.shape(), x.dtype(), dev)?;
        let k = if add { crate::op::ScatterOp::ScatterAdd } else { crate::op::ScatterOp::Scatter };
        crate::dispatch::launch(&crate::op::Op::Scatter(k, crate::op::ScatterAttrs { dim: dim as i64 }), &[&out], &[x, &idx, &srcc])?;
        (out, idx)
    };
    scatter_grad(x, dim, src, add, &out, &idx);
    Ok(out)
}

fn scatter_grad(x: &Tensor, dim: usize, src: &Tensor, add: bool, out: &Tensor, idx: &Tensor) {
    let ins: Vec<&Tensor> = vec![x, src];
    if x.dtype().is_float() && crate::tensor::graph::needs_grad(&ins) {
        let ss = src.shape().to_vec();
        let sdt = src.dtype();
        record(if add { "ScatterAddBackward0" } else { "ScatterBackward0" }, &ins, &[out], vec![Save::Input(idx.clone())], move |g, s| {
            let Some(g) = &g[0] else { return Ok(vec![None, None]) };
            let gx = if add {
                g.clone()
            } else {
                let z = Tensor::zeros_on(s[0].shape(), g.dtype(), g.device())?;
                scatter(g, dim, &s[0], &z, false)?
            };
            let gs = if ss.is_empty() { None } else { Some(cast(&gather(g, dim, &s[0])?, sdt)?) };
            Ok(vec![Some(gx), gs])
        });
    }
}

/// Selects entries along `dim` by a 1-D index.
pub fn index_select(x: &Tensor, dim: usize, index: &Tensor) -> Result<Tensor> {
    if x.dtype().is_complex() && x.ndim() > 0 {
        return super::complex::index_select(x, dim, index);
    }
    if index.ndim() > 1 {
        return Err(Error::Index(format!("index_select(): index must be 0- or 1-dimensional, got shape {:?}", index.shape())));
    }
    if x.ndim() == 0 && index.numel() != 1 {
        return Err(Error::Index(format!("index_select(): Index to scalar can have only 1 value, got {} value(s)", index.numel())));
    }
    let index = &crate::dispatch::to_device(index, x.device())?;
    let dev = crate::dispatch::common("index_select", &[x, index])?;
    let (out, idx) = if !dev.is_cpu() && x.ndim() == 0 {
        (via_host(dev, &[x, index], |h| index_select(&h[0], dim, &h[1]))?, as_i64("index_select", index)?)
    } else {
        let n = index.numel();
        let flat = super::shape::reshape(index, &[n])?;
        let idx = if dev.is_cpu() { as_i64("index_select", &flat)? } else { device_index("index_select", &flat, &[n], x.shape()[dim], dim, x.shape(), dev)? };
        let mut shape = x.shape().to_vec();
        if x.ndim() > 0 {
            shape[dim] = n;
        }
        let out = Tensor::empty_on(&shape, x.dtype(), dev)?;
        crate::dispatch::launch(&crate::op::Op::IndexSelect(crate::op::IndexSelectAttrs { dim: dim as i64 }), &[&out], &[x, &idx])?;
        (out, idx)
    };
    if x.dtype().is_float() && crate::tensor::graph::needs_grad(&[x]) {
        let xs = x.shape().to_vec();
        record("IndexSelectBackward0", &[x], &[&out], vec![Save::Input(idx.clone())], move |g, s| {
            let Some(g) = &g[0] else { return Ok(vec![None]) };
            let z = Tensor::zeros_on(&xs, g.dtype(), g.device())?;
            Ok(vec![Some(index_add(&z, dim, &s[0], g)?)])
        });
    }
    Ok(out)
}

/// A copy of `x` with `src` slabs added at the positions `index` names along `dim`.
pub fn index_add(x: &Tensor, dim: usize, index: &Tensor, src: &Tensor) -> Result<Tensor> {
    let index = &crate::dispatch::to_device(index, x.device())?;
    let dev = crate::dispatch::common("index_add", &[x, index, src])?;
    if !dev.is_cpu() && x.ndim() == 0 {
        return via_host(dev, &[x, index, src], |h| index_add(&h[0], dim, &h[1], &h[2]));
    }
    let n = index.numel();
    if x.ndim() > 0 {
        let mut want = x.shape().to_vec();
        want[dim] = n;
        if src.shape() != want.as_slice() {
            return Err(Error::Runtime(format!(
                "index_add(): source of shape {:?} does not match the expected shape {want:?} (input {:?}, index of length {n})",
                src.shape(), x.shape()
            )));
        }
    }
    let flat = super::shape::reshape(index, &[n])?;
    let idx = if dev.is_cpu() { as_i64("index_add", &flat)? } else { device_index("index_add", &flat, &[n], x.shape()[dim], dim, x.shape(), dev)? };
    let srcc = crate::tensor::graph::with_grad_mode(false, || cast(src, x.dtype()))?;
    let out = Tensor::empty_on(x.shape(), x.dtype(), dev)?;
    crate::dispatch::launch(&crate::op::Op::IndexAdd(crate::op::IndexAddAttrs { dim: dim as i64 }), &[&out], &[x, &idx, &srcc])?;
    index_add_grad(x, dim, src, &out, &idx);
    Ok(out)
}

fn index_add_grad(x: &Tensor, dim: usize, src: &Tensor, out: &Tensor, idx: &Tensor) {
    let ins: Vec<&Tensor> = vec![x, src];
    if x.dtype().is_float() && crate::tensor::graph::needs_grad(&ins) {
        let sdt = src.dtype();
        record("IndexAddBackward0", &ins, &[out], vec![Save::Input(idx.clone())], move |g, s| {
            let Some(g) = &g[0] else { return Ok(vec![None, None]) };
            Ok(vec![Some(g.clone()), Some(cast(&index_select(g, dim, &s[0])?, sdt)?)])
        });
    }
}

/// x[i1, ..., ik] for index tensors over the first k dims: shape broadcast(i) + x.shape[k:].
pub fn index_leading(x: &Tensor, indices: &[Tensor]) -> Result<Tensor> {
    if x.dtype().is_complex() && x.ndim() > 0 {
        // the indices pick along leading dims, so the real view's pair dim rides along
        return super::complex::view_as_complex(&super::contiguous(&index_leading(&super::complex::view_as_real(x)?, indices)?)?);
    }
    let moved: Vec<Tensor> = indices.iter().map(|t| crate::dispatch::to_device(t, x.device())).collect::<Result<_>>()?;
    let indices = &moved[..];
    let mut all = vec![x];
    all.extend(indices.iter());
    let dev = crate::dispatch::common("index", &all)?;
    let out = index_leading_launch(x, indices, dev)?;
    if x.dtype().is_float() && crate::tensor::graph::needs_grad(&[x]) {
        let xs = x.shape().to_vec();
        let saves: Vec<Save> = indices.iter().map(|t| Save::Input(t.clone())).collect();
        record("IndexBackward0", &[x], &[&out], saves, move |g, s| {
            let Some(g) = &g[0] else { return Ok(vec![None]) };
            let z = Tensor::zeros_on(&xs, g.dtype(), g.device())?;
            Ok(vec![Some(index_put_leading(&z, s, g, true)?)])
        });
    }
    Ok(out)
}

/// The index tensors broadcast together, checked, wrapped and placed on `dev`.
fn leading_indices(op: &str, x: &Tensor, indices: &[Tensor], dev: Device) -> Result<(Vec<usize>, Vec<Tensor>)> {
    if indices.len() > x.ndim() {
        return Err(Error::Index(format!("{op}: too many indices for tensor of dimension {} (got {})", x.ndim(), indices.len())));
    }
    let mut bshape: Vec<usize> = vec![];
    for t in indices {
        bshape = broadcast_shapes(op, &bshape, t.shape()).map_err(|_| {
            Error::Index(format!(
                "{op}: shape mismatch: indexing tensors could not be broadcast together with shapes {:?}",
                indices.iter().map(|t| t.shape().to_vec()).collect::<Vec<_>>()
            ))
        })?;
    }
    let ts = indices
        .iter()
        .enumerate()
        .map(|(d, t)| {
            if dev.is_cpu() {
                // the CPU kernel checks and wraps them as it reads them
                let ti = as_i64(op, t)?;
                Ok(ti.alias(ti.layout().broadcast_to(op, &bshape)?))
            } else {
                device_index(op, t, &bshape, x.shape()[d], d, x.shape(), dev)
            }
        })
        .collect::<Result<Vec<_>>>()?;
    Ok((bshape, ts))
}

fn index_leading_launch(x: &Tensor, indices: &[Tensor], dev: Device) -> Result<Tensor> {
    if indices.is_empty() {
        return clone_contiguous(x);
    }
    let (mut shape, ts) = leading_indices("index", x, indices, dev)?;
    shape.extend_from_slice(&x.shape()[indices.len()..]);
    let out = Tensor::empty_on(&shape, x.dtype(), dev)?;
    let mut ins = vec![x];
    ins.extend(ts.iter());
    crate::dispatch::launch(&crate::op::Op::Index, &[&out], &ins)?;
    Ok(out)
}

/// A copy of `x` with `values` written (or accumulated) at x[i1, ..., ik].
pub fn index_put_leading(x: &Tensor, indices: &[Tensor], values: &Tensor, accumulate: bool) -> Result<Tensor> {
    let moved: Vec<Tensor> = indices.iter().map(|t| crate::dispatch::to_device(t, x.device())).collect::<Result<_>>()?;
    let indices = &moved[..];
    let mut all = vec![x, values];
    all.extend(indices.iter());
    let dev = crate::dispatch::common("index_put", &all)?;
    let out = if indices.is_empty() {
        // x[...] = values: values broadcast over all of x (added when accumulating)
        crate::tensor::graph::with_grad_mode(false, || -> Result<Tensor> {
            let v = cast(values, x.dtype())?;
            let v = v.alias(v.layout().broadcast_to("index_put", x.shape())?);
            if accumulate { super::add(x, &v) } else { clone_contiguous(&v) }
        })?
    } else {
        let (bshape, ts) = leading_indices("index_put", x, indices, dev)?;
        let mut full = bshape.clone();
        full.extend_from_slice(&x.shape()[indices.len()..]);
        let v = crate::tensor::graph::with_grad_mode(false, || cast(values, x.dtype()))?;
        let v = crate::dispatch::to_device(&v, dev)?;
        let l = v.layout().broadcast_to("index_put", &full).map_err(|_| {
            Error::Runtime(format!(
                "index_put: shape mismatch: value tensor of shape {:?} cannot be broadcast to indexing result of shape {full:?}",
                values.shape()
            ))
        })?;
        let v = v.alias(l);
        let out = Tensor::empty_on(x.shape(), x.dtype(), dev)?;
        let mut ins = vec![x, &v];
        ins.extend(ts.iter());
        crate::dispatch::launch(&crate::op::Op::IndexPut(crate::op::IndexPutAttrs { accumulate }), &[&out], &ins)?;
        out
    };
    let ins: Vec<&Tensor> = vec![x, values];
    if x.dtype().is_float() && crate::tensor::graph::needs_grad(&ins) {
        let vshape = values.shape().to_vec();
        let vdt = values.dtype();
        let saves: Vec<Save> = indices.iter().map(|t| Save::Input(t.clone())).collect();
        record("IndexPutBackward0", &ins, &[&out], saves, move |g, s| {
            let Some(g) = &g[0] else { return Ok(vec![None, None]) };
            let gx = if accumulate {
                g.clone()
            } else {
                let z = Tensor::zeros(&[], g.dtype())?;
                index_put_leading(g, s, &z, false)?
            };
            let gv = sum_to(&index_leading(g, s)?, &vshape)?;
            Ok(vec![Some(gx), Some(cast(&gv, vdt)?)])
        });
    }
    Ok(out)
}

/// Indices of non-zero elements, shape [n, ndim].
pub fn nonzero(x: &Tensor) -> Result<Tensor> {
    if x.is_device() {
        // the output's shape depends on the data: always decided on the host
        return via_host(x.device(), &[x], |h| nonzero(&h[0]));
    }
    let c = crate::tensor::graph::with_grad_mode(false, || contiguous(x))?;
    let shape = x.shape().to_vec();
    let nd = shape.len();
    let mut coords: Vec<i64> = Vec::new();
    let mut count = 0usize;
    let mut coord = vec![0usize; nd];
    crate::dispatch!(c.dtype(), T => {
        let z = <T as crate::dtype::Element>::zero_val();
        for (p, &v) in c.as_slice::<T>().iter().enumerate() {
            if v != z {
                unravel(p, &shape, &mut coord);
                coords.extend(coord.iter().map(|&v| v as i64));
                count += 1;
            }
        }
    });
    Tensor::from_vec(coords, &[count, nd])
}
