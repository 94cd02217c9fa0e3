//! sort / argsort / topk: the indices come from a stable sort; values are gathered with them,
//! so their gradient is gather's.
use super::shape::movedim_raw;
use super::{cast, contiguous};
use crate::dtype::DType;
use crate::error::{Error, Result};
use crate::tensor::Tensor;
use std::cmp::Ordering;

fn key_cmp(a: f64, b: f64, descending: bool) -> Ordering {
    // NaN sorts as the largest value, as in PyTorch.
    let o = match (a.is_nan(), b.is_nan()) {
        (true, true) => Ordering::Equal,
        (true, false) => Ordering::Greater,
        (false, true) => Ordering::Less,
        _ => a.partial_cmp(&b).unwrap(),
    };
    if descending { o.reverse() } else { o }
}

/// Indices that sort `x` along `dim` (stable), truncated to the first `k` per row.
pub fn sort_indices(x: &Tensor, dim: usize, descending: bool, k: Option<usize>) -> Result<Tensor> {
    let nd = x.ndim();
    if nd == 0 {
        return Tensor::from_vec(vec![0i64], &[]);
    }
    let n = x.shape()[dim];
    let k = k.unwrap_or(n);
    if k > n {
        return Err(Error::Runtime(format!("topk: k ({k}) is larger than the size {n} of dimension {dim} (shape {:?})", x.shape())));
    }
    let xm = crate::tensor::graph::with_grad_mode(false, || -> Result<Tensor> {
        let m = x.alias(x.layout().clone());
        let m = movedim_raw(&m, dim, nd - 1);
        contiguous(&cast(&m, DType::F64)?)
    })?;
    let xs = xm.as_slice::<f64>();
    let rows = if n == 0 { 0 } else { xm.numel() / n };
    let mut out = Vec::with_capacity(rows * k);
    let exact_int = !x.dtype().is_float() && x.dtype() == DType::I64;
    let xi = if exact_int { Some(contiguous(&movedim_raw(x, dim, nd - 1))?) } else { None };
    for r in 0..rows {
        let row = &xs[r * n..(r + 1) * n];
        let mut idx: Vec<usize> = (0..n).collect();
        if let Some(xi) = &xi {
            let ri = &xi.as_slice::<i64>()[r * n..(r + 1) * n];
            idx.sort_by(|&a, &b| if descending { ri[b].cmp(&ri[a]) } else { ri[a].cmp(&ri[b]) });
        } else {
            idx.sort_by(|&a, &b| key_cmp(row[a], row[b], descending));
        }
        out.extend(idx[..k].iter().map(|&i| i as i64));
    }
    let mut shape: Vec<usize> = x.shape().to_vec();
    shape.remove(dim);
    shape.push(k);
    let t = Tensor::from_vec(out, &shape)?;
    contiguous(&movedim_raw(&t, nd - 1, dim))
}

/// On a plugin device: (values, indices) from the device's sort/topk kernel. When `x` needs a
/// gradient the values are gathered by the indices instead, so autograd sees the same graph as
/// on the CPU. None on the CPU.
fn device_sort(op: crate::op::Op, x: &Tensor, k: usize, dim: usize) -> Result<Option<(Tensor, Tensor)>> {
    if !x.is_device() {
        return Ok(None);
    }
    if x.ndim() == 0 {
        let i = crate::dispatch::to_device(&Tensor::from_vec(vec![0i64], &[])?, x.device())?;
        return Ok(Some((x.clone(), i)));
    }
    let mut shape = x.shape().to_vec();
    shape[dim] = k;
    let v = Tensor::empty_on(&shape, x.dtype(), x.device())?;
    let i = Tensor::empty_on(&shape, DType::I64, x.device())?;
    crate::dispatch::launch(&op, &[&v, &i], &[x])?;
    if x.dtype().is_float() && crate::tensor::graph::needs_grad(&[x]) {
        return Ok(Some((super::index::gather(x, dim, &i)?, i)));
    }
    Ok(Some((v, i)))
}

/// (values, indices) of a sort along `dim`.
pub fn sort(x: &Tensor, dim: usize, descending: bool) -> Result<(Tensor, Tensor)> {
    if let Some(r) = device_sort(crate::op::Op::Sort(crate::op::SortAttrs { dim: dim as i64, descending }), x, x.shape().get(dim).copied().unwrap_or(1), dim)? {
        return Ok(r);
    }
    let idx = sort_indices(x, dim, descending, None)?;
    let vals = if x.ndim() == 0 { x.clone() } else { super::index::gather(x, dim, &idx)? };
    Ok((vals, idx))
}

pub fn topk(x: &Tensor, k: usize, dim: usize, largest: bool) -> Result<(Tensor, Tensor)> {
    let n = if x.ndim() == 0 { 1 } else { x.shape()[dim] }; // a 0-d tensor has one element to select
    if k > n {
        return Err(Error::Runtime(format!("topk: k ({k}) is larger than the size {n} of dimension {dim} (shape {:?})", x.shape())));
    }
    let op = crate::op::Op::Topk(crate::op::TopkAttrs { k: k as i64, dim: dim as i64, largest });
    if let Some(r) = device_sort(op, x, k, dim)? {
        return Ok(r);
    }
    let idx = sort_indices(x, dim, largest, Some(k))?;
    let vals = if x.ndim() == 0 { x.clone() } else { super::index::gather(x, dim, &idx)? };
    Ok((vals, idx))
}
