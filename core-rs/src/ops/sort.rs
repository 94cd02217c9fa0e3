//! sort / argsort / topk: the indices come from a stable sort; values are gathered with them,
//! so their gradient is gather's.
use super::shape::movedim_raw;
use super::copy::{copy_cpu_kernel, fill_cpu_kernel};
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

/// The CPU kernel of sort and topk in the contract's form: the first `k` of each row of `x`
/// along `dim` in sorted order (stable) into `values` and `indices` (x's shape with `k` at
/// `dim`). Integers of 64 bits compare exactly; everything else as f64.
pub(crate) fn sort_cpu_kernel(values: &Tensor, indices: &Tensor, x: &Tensor, dim: usize, descending: bool, k: usize) -> Result<()> {
    let nd = x.ndim();
    if nd == 0 {
        copy_cpu_kernel(values, x)?;
        return fill_cpu_kernel(indices, crate::scalar::Scalar::Int(0));
    }
    let n = x.shape()[dim];
    if k > n {
        return Err(Error::Runtime(format!("topk: k ({k}) is larger than the size {n} of dimension {dim} (shape {:?})", x.shape())));
    }
    // rows along the last dim, contiguous, as the kernel-local copies the sort reads
    let moved = movedim_raw(x, dim, nd - 1);
    let staged = |dt: DType| -> Result<Tensor> {
        let t = Tensor::empty(moved.shape(), dt)?;
        copy_cpu_kernel(&t, &moved)?;
        Ok(t)
    };
    let exact_int = x.dtype() == DType::I64;
    let xm = if exact_int { staged(DType::I64)? } else { staged(DType::F64)? };
    let rows = if n == 0 { 0 } else { xm.numel() / n };
    let mut out = Vec::with_capacity(rows * k);
    for r in 0..rows {
        let mut idx: Vec<usize> = (0..n).collect();
        if exact_int {
            let ri = &xm.as_slice::<i64>()[r * n..(r + 1) * n];
            idx.sort_by(|&a, &b| if descending { ri[b].cmp(&ri[a]) } else { ri[a].cmp(&ri[b]) });
        } else {
            let row = &xm.as_slice::<f64>()[r * n..(r + 1) * n];
            idx.sort_by(|&a, &b| key_cmp(row[a], row[b], descending));
        }
        out.extend(idx[..k].iter().map(|&i| i as i64));
    }
    let mut shape: Vec<usize> = moved.shape().to_vec();
    shape[nd - 1] = k;
    copy_cpu_kernel(&movedim_raw(indices, dim, nd - 1), &Tensor::from_vec(out, &shape)?)?;
    super::index_cpu::gather_cpu_kernel(values, x, dim, indices)
}

/// (values, indices) from the sort or topk primitive on `x`'s device. When `x` needs a
/// gradient the values are gathered by the indices instead, so that autograd sees gather.
fn sort_launch(op: crate::op::Op, x: &Tensor, k: usize, dim: usize) -> Result<(Tensor, Tensor)> {
    if x.ndim() == 0 {
        let i = crate::dispatch::to_device(&Tensor::from_vec(vec![0i64], &[])?, x.device())?;
        return Ok((x.clone(), i));
    }
    let mut shape = x.shape().to_vec();
    shape[dim] = k;
    let v = Tensor::empty_on(&shape, x.dtype(), x.device())?;
    let i = Tensor::empty_on(&shape, DType::I64, x.device())?;
    if v.numel() > 0 {
        crate::dispatch::launch(&op, &[&v, &i], &[x])?;
    }
    if x.dtype().is_float() && crate::tensor::graph::needs_grad(&[x]) {
        return Ok((super::index::gather(x, dim, &i)?, i));
    }
    Ok((v, i))
}

/// (values, indices) of a sort along `dim`.
pub fn sort(x: &Tensor, dim: usize, descending: bool) -> Result<(Tensor, Tensor)> {
    let n = x.shape().get(dim).copied().unwrap_or(1);
    sort_launch(crate::op::Op::Sort(crate::op::SortAttrs { dim: dim as i64, descending }), x, n, dim)
}

pub fn topk(x: &Tensor, k: usize, dim: usize, largest: bool) -> Result<(Tensor, Tensor)> {
    let n = if x.ndim() == 0 { 1 } else { x.shape()[dim] }; // a 0-d tensor has one element to select
    if k > n {
        return Err(Error::Runtime(format!("topk: k ({k}) is larger than the size {n} of dimension {dim} (shape {:?})", x.shape())));
    }
    sort_launch(crate::op::Op::Topk(crate::op::TopkAttrs { k: k as i64, dim: dim as i64, largest }), x, k, dim)
}
