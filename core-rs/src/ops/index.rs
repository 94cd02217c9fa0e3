//! Indexing primitives: gather, scatter, index_select, index_add, advanced indexing on
//! leading dims (read and write), nonzero.
use super::copy::{clone_contiguous, copy_raw};
use super::{cast, contiguous, sum_to};
use crate::tensor::graph::{record, Save};
use crate::dtype::DType;
use crate::error::{Error, Result};
use crate::layout::{broadcast_shapes, numel, Layout};
use crate::device::Device;
use crate::tensor::Tensor;

fn as_i64(op: &str, idx: &Tensor) -> Result<Tensor> {
    if idx.dtype().is_float() || idx.dtype() == DType::Bool {
        return Err(Error::Runtime(format!("{op}(): expected an integer index tensor, got {}", idx.dtype().name())));
    }
    crate::tensor::graph::with_grad_mode(false, || contiguous(&cast(idx, DType::I64)?))
}

fn check_index(op: &str, i: i64, n: usize, dim: usize, shape: &[usize]) -> Result<usize> {
    // gather/scatter/index_select/index_add take indices in [0, n) as PyTorch does; only
    // advanced indexing (`index`, `index_put`) wraps negative indices Python-style.
    let wraps = op == "index" || op == "index_put";
    if i < 0 && !wraps {
        return Err(Error::Index(format!(
            "{op}(): index {i} is out of bounds for dimension {dim} with size {n} (tensor shape {shape:?})"
        )));
    }
    let j = if i < 0 { i + n as i64 } else { i };
    if j < 0 || j >= n as i64 {
        return Err(Error::Index(format!(
            "{op}(): index {i} is out of bounds for dimension {dim} with size {n} (tensor shape {shape:?})"
        )));
    }
    Ok(j as usize)
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

fn unravel(mut lin: usize, shape: &[usize], out: &mut [usize]) {
    for d in (0..shape.len()).rev() {
        out[d] = lin % shape[d];
        lin /= shape[d];
    }
}

/// Element (byte) copy between two typed positions; both tensors have the same dtype.
#[inline]
unsafe fn copy_elem(dst: *mut u8, src: *const u8, size: usize) {
    std::ptr::copy_nonoverlapping(src, dst, size);
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
    let (out, idx) = if dev.is_cpu() { gather_cpu(x, dim, index)? } else if x.ndim() == 0 {
        let idx = as_i64("gather", index)?;
        (via_host(dev, &[x, index], |h| gather(&h[0], dim, &h[1]))?, idx)
    } else {
        let idx = device_index("gather", index, index.shape(), x.shape()[dim], dim, x.shape(), dev)?;
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

fn gather_cpu(x: &Tensor, dim: usize, index: &Tensor) -> Result<(Tensor, Tensor)> {
    let idx = as_i64("gather", index)?;
    let out = Tensor::empty(idx.shape(), x.dtype())?;
    let sz = x.dtype().size();
    let is = idx.as_slice::<i64>();
    let mut coord = vec![0usize; idx.ndim()];
    let xst = x.strides();
    let n_dim = if x.ndim() == 0 { 1 } else { x.shape()[dim] };
    for (p, &i) in is.iter().enumerate() {
        unravel(p, idx.shape(), &mut coord);
        let j = check_index("gather", i, n_dim, dim, x.shape())?;
        let mut off: isize = 0;
        for d in 0..x.ndim() {
            let c = if d == dim { j } else { coord[d] };
            off += c as isize * xst[d];
        }
        unsafe { copy_elem(out.data_ptr().add(p * sz), x.data_ptr().offset(off * sz as isize), sz) };
    }
    Ok((out, idx))
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
    let (out, idx) = if dev.is_cpu() { scatter_cpu(x, dim, index, src, add)? } else if x.ndim() == 0 {
        let idx = as_i64("scatter", index)?;
        (via_host(dev, &[x, index, src], |h| scatter(&h[0], dim, &h[1], &h[2], add))?, idx)
    } else {
        let idx = device_index("scatter", index, index.shape(), x.shape()[dim], dim, x.shape(), dev)?;
        let srcc = crate::tensor::graph::with_grad_mode(false, || cast(src, x.dtype()))?;
        let srcc = if srcc.ndim() == 0 {
            let s = crate::dispatch::to_device(&srcc, dev)?;
            s.alias(s.layout().broadcast_to("scatter", idx.shape())?)
        } else {
            let mut l = srcc.layout().clone();
            l.shape = idx.shape().to_vec();
            srcc.alias(l)
        };
        let out = Tensor::empty_on(x.shape(), x.dtype(), dev)?;
        let k = if add { crate::op::ScatterOp::ScatterAdd } else { crate::op::ScatterOp::Scatter };
        crate::dispatch::launch(&crate::op::Op::Scatter(k, crate::op::ScatterAttrs { dim: dim as i64 }), &[&out], &[x, &idx, &srcc])?;
        (out, idx)
    };
    scatter_grad(x, dim, src, add, &out, &idx);
    Ok(out)
}

fn scatter_cpu(x: &Tensor, dim: usize, index: &Tensor, src: &Tensor, add: bool) -> Result<(Tensor, Tensor)> {
    let idx = as_i64("scatter", index)?;
    let out = clone_contiguous(x)?;
    let srcc = crate::tensor::graph::with_grad_mode(false, || cast(src, x.dtype()))?;
    let is = idx.as_slice::<i64>();
    let mut coord = vec![0usize; idx.ndim()];
    let ost = out.strides().to_vec();
    let sst = srcc.strides().to_vec();
    let n_dim = if x.ndim() == 0 { 1 } else { x.shape()[dim] };
    crate::dispatch!(x.dtype(), T => {
        for (p, &i) in is.iter().enumerate() {
            unravel(p, idx.shape(), &mut coord);
            let j = check_index("scatter", i, n_dim, dim, x.shape())?;
            let mut oo: isize = 0;
            let mut so: isize = 0;
            for d in 0..x.ndim() {
                oo += (if d == dim { j } else { coord[d] }) as isize * ost[d];
                if srcc.ndim() > 0 {
                    so += coord[d] as isize * sst[d];
                }
            }
            unsafe {
                let po = (out.data_ptr() as *mut T).offset(oo);
                let v = *(srcc.data_ptr() as *const T).offset(so);
                *po = if add { add_elem(*po, v) } else { v };
            }
        }
    });
    Ok((out, idx))
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

#[inline]
fn add_elem<T: crate::dtype::Element>(a: T, b: T) -> T {
    if T::DTYPE.is_float() {
        T::from_f64(a.to_f64() + b.to_f64())
    } else if T::DTYPE == DType::Bool {
        T::from_i64(a.to_i64() | b.to_i64())
    } else {
        T::from_i64(a.to_i64().wrapping_add(b.to_i64()))
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
    let (out, idx) = if dev.is_cpu() { index_select_cpu(x, dim, index)? } else if x.ndim() == 0 {
        (via_host(dev, &[x, index], |h| index_select(&h[0], dim, &h[1]))?, as_i64("index_select", index)?)
    } else {
        let n = index.numel();
        let idx = device_index("index_select", &super::shape::reshape(index, &[n])?, &[n], x.shape()[dim], dim, x.shape(), dev)?;
        let mut shape = x.shape().to_vec();
        shape[dim] = n;
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

fn index_select_cpu(x: &Tensor, dim: usize, index: &Tensor) -> Result<(Tensor, Tensor)> {
    let idx = as_i64("index_select", index)?;
    let is = idx.as_slice::<i64>().to_vec();
    let mut shape = x.shape().to_vec();
    let scalar = x.ndim() == 0;
    if !scalar {
        shape[dim] = is.len();
    }
    let out = Tensor::empty(&shape, x.dtype())?;
    let n = if scalar { 1 } else { x.shape()[dim] };
    let src_slab = |j: usize| -> Layout {
        let mut l = x.layout().clone();
        if !scalar {
            l.offset = (l.offset as isize + j as isize * l.strides[dim]) as usize;
            l.shape[dim] = 1;
        }
        l
    };
    for (k, &i) in is.iter().enumerate() {
        let j = check_index("index_select", i, n, dim, x.shape())?;
        let mut lo = out.layout().clone();
        if !scalar {
            lo.offset += k * lo.strides[dim] as usize;
            lo.shape[dim] = 1;
        }
        copy_raw(&out.alias(lo), &x.alias(src_slab(j)))?;
    }
    Ok((out, idx))
}

/// A copy of `x` with `src` slabs added at the positions `index` names along `dim`.
pub fn index_add(x: &Tensor, dim: usize, index: &Tensor, src: &Tensor) -> Result<Tensor> {
    let index = &crate::dispatch::to_device(index, x.device())?;
    let dev = crate::dispatch::common("index_add", &[x, index, src])?;
    if dev.is_cpu() {
        return index_add_cpu(x, dim, index, src);
    }
    if x.ndim() == 0 {
        return via_host(dev, &[x, index, src], |h| index_add(&h[0], dim, &h[1], &h[2]));
    }
    let n = index.numel();
    let mut want = x.shape().to_vec();
    want[dim] = n;
    if src.shape() != want.as_slice() {
        return Err(Error::Runtime(format!(
            "index_add(): source of shape {:?} does not match the expected shape {want:?} (input {:?}, index of length {n})",
            src.shape(), x.shape()
        )));
    }
    let idx = device_index("index_add", &super::shape::reshape(index, &[n])?, &[n], x.shape()[dim], dim, x.shape(), dev)?;
    let srcc = crate::tensor::graph::with_grad_mode(false, || cast(src, x.dtype()))?;
    let out = Tensor::empty_on(x.shape(), x.dtype(), dev)?;
    crate::dispatch::launch(&crate::op::Op::IndexAdd(crate::op::IndexAddAttrs { dim: dim as i64 }), &[&out], &[x, &idx, &srcc])?;
    index_add_grad(x, dim, src, &out, &idx);
    Ok(out)
}

fn index_add_cpu(x: &Tensor, dim: usize, index: &Tensor, src: &Tensor) -> Result<Tensor> {
    let idx = as_i64("index_add", index)?;
    let is = idx.as_slice::<i64>().to_vec();
    if x.ndim() > 0 {
        let mut want = x.shape().to_vec();
        want[dim] = is.len();
        if src.shape() != want.as_slice() {
            return Err(Error::Runtime(format!(
                "index_add(): source of shape {:?} does not match the expected shape {want:?} (input {:?}, index of length {})",
                src.shape(), x.shape(), is.len()
            )));
        }
    }
    let out = clone_contiguous(x)?;
    let srcc = crate::tensor::graph::with_grad_mode(false, || cast(src, x.dtype()))?;
    let n = if x.ndim() == 0 { 1 } else { x.shape()[dim] };
    for (k, &i) in is.iter().enumerate() {
        let j = check_index("index_add", i, n, dim, x.shape())?;
        if x.ndim() == 0 {
            let r = crate::tensor::graph::with_grad_mode(false, || super::add(&out, &srcc))?;
            copy_raw(&out, &r)?;
            continue;
        }
        let mut lo = out.layout().clone();
        lo.offset += j * lo.strides[dim] as usize;
        lo.shape[dim] = 1;
        let mut ls = srcc.layout().clone();
        ls.offset = (ls.offset as isize + k as isize * ls.strides[dim]) as usize;
        ls.shape[dim] = 1;
        let dst = out.alias(lo);
        let r = crate::tensor::graph::with_grad_mode(false, || super::add(&dst, &srcc.alias(ls)))?;
        copy_raw(&dst, &r)?;
    }
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

/// Broadcasts the index tensors and resolves them to storage offsets of the leading dims.
fn resolve_leading(op: &str, x: &Tensor, indices: &[Tensor]) -> Result<(Vec<usize>, Vec<usize>, Vec<usize>)> {
    let k = indices.len();
    if k > x.ndim() {
        return Err(Error::Index(format!(
            "{op}: too many indices for tensor of dimension {} (got {k})",
            x.ndim()
        )));
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
    let n = numel(&bshape);
    let mut coords = vec![0usize; n * k];
    for (d, t) in indices.iter().enumerate() {
        let ti = as_i64(op, t)?;
        let l = ti.layout().broadcast_to(op, &bshape)?;
        let bt = contiguous(&ti.alias(l))?;
        let vals = bt.as_slice::<i64>();
        let size = x.shape()[d];
        for (p, &v) in vals.iter().enumerate() {
            coords[p * k + d] = check_index(op, v, size, d, x.shape())?;
        }
    }
    let rest = x.shape()[k..].to_vec();
    Ok((bshape, coords, rest))
}

fn offset_of(coords: &[usize], strides: &[isize]) -> isize {
    coords.iter().zip(strides).map(|(&c, &s)| c as isize * s).sum()
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
    let out = if dev.is_cpu() { index_leading_cpu(x, indices)? } else { index_leading_dev(x, indices, dev)? };
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
        .map(|(d, t)| device_index(op, t, &bshape, x.shape()[d], d, x.shape(), dev))
        .collect::<Result<Vec<_>>>()?;
    Ok((bshape, ts))
}

fn index_leading_dev(x: &Tensor, indices: &[Tensor], dev: Device) -> Result<Tensor> {
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

fn index_leading_cpu(x: &Tensor, indices: &[Tensor]) -> Result<Tensor> {
    let (bshape, coords, rest) = resolve_leading("index", x, indices)?;
    let k = indices.len();
    let offs: Vec<isize> = if k == 0 { vec![0] } else { coords.chunks(k).map(|c| offset_of(c, x.strides())).collect() };
    let mut shape = bshape.clone();
    shape.extend_from_slice(&rest);
    let out = Tensor::empty(&shape, x.dtype())?;
    let rn = numel(&rest);
    let sz = x.dtype().size();
    let rest_layout = Layout { shape: rest.clone(), strides: x.strides()[k..].to_vec(), offset: 0 };
    let rest_contig = rest_layout.is_contiguous();
    for (p, &o) in offs.iter().enumerate() {
        let src_off = x.layout().offset as isize + o;
        if rest_contig {
            unsafe {
                std::ptr::copy_nonoverlapping(
                    x.storage().ptr().offset(src_off * sz as isize),
                    out.data_ptr().add(p * rn * sz),
                    rn * sz,
                )
            };
        } else {
            let src = x.alias(Layout { shape: rest.clone(), strides: rest_layout.strides.clone(), offset: src_off as usize });
            let dst = out.alias(Layout { shape: rest.clone(), strides: crate::layout::contiguous_strides(&rest), offset: p * rn });
            copy_raw(&dst, &src)?;
        }
    }
    Ok(out)
}

/// A copy of `x` with `values` written (or accumulated) at x[i1, ..., ik].
pub fn index_put_leading(x: &Tensor, indices: &[Tensor], values: &Tensor, accumulate: bool) -> Result<Tensor> {
    let moved: Vec<Tensor> = indices.iter().map(|t| crate::dispatch::to_device(t, x.device())).collect::<Result<_>>()?;
    let indices = &moved[..];
    let mut all = vec![x, values];
    all.extend(indices.iter());
    let dev = crate::dispatch::common("index_put", &all)?;
    let out = if dev.is_cpu() {
        index_put_cpu(x, indices, values, accumulate)?
    } else if indices.is_empty() {
        via_host(dev, &all, |h| index_put_leading(&h[0], &h[2..], &h[1], accumulate))?
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

fn index_put_cpu(x: &Tensor, indices: &[Tensor], values: &Tensor, accumulate: bool) -> Result<Tensor> {
    let (bshape, coords, rest) = resolve_leading("index_put", x, indices)?;
    let k = indices.len();
    let mut full = bshape.clone();
    full.extend_from_slice(&rest);
    let vals = crate::tensor::graph::with_grad_mode(false, || -> Result<Tensor> {
        let v = cast(values, x.dtype())?;
        let l = v.layout().broadcast_to("index_put", &full).map_err(|_| {
            Error::Runtime(format!(
                "index_put: shape mismatch: value tensor of shape {:?} cannot be broadcast to indexing result of shape {full:?}",
                values.shape()
            ))
        })?;
        contiguous(&v.alias(l))
    })?;
    let out = clone_contiguous(x)?;
    let rn = numel(&rest);
    crate::dispatch!(x.dtype(), T => {
        let vs = vals.as_slice::<T>();
        let base = out.data_ptr() as *mut T;
        // out is contiguous, so the rest dims are a contiguous run of rn elements
        let nidx = if k == 0 { 1 } else { coords.len() / k };
        for p in 0..nidx {
            let o_out = if k == 0 { 0 } else { offset_of(&coords[p * k..(p + 1) * k], out.strides()) };
            for r in 0..rn {
                unsafe {
                    let d = base.offset(o_out + r as isize);
                    let v = vs[p * rn + r];
                    *d = if accumulate { add_elem(*d, v) } else { v };
                }
            }
        }
    });
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
