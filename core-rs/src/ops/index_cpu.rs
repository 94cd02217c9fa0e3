//! The CPU kernels of the indexing primitives in the contract's form (outputs allocated,
//! index tensors int64 of any strides). Indices are checked here, as they are read: an index
//! out of range is an `IndexError` naming the op, the index and the shape. Kernels call
//! kernels only, never an op that launches (a launch from inside a kernel would be seen
//! twice by whoever watches the dispatcher).
use super::binary::{self, BinaryOp};
use super::copy::{copy_cpu_kernel, staged};
use crate::dtype::DType;
use crate::error::{Error, Result};
use crate::layout::{numel, Layout};
use crate::tensor::Tensor;

pub(super) fn check_index(op: &str, i: i64, n: usize, dim: usize, shape: &[usize]) -> Result<usize> {
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

pub(super) fn unravel(mut lin: usize, shape: &[usize], out: &mut [usize]) {
    for d in (0..shape.len()).rev() {
        out[d] = lin % shape[d];
        lin /= shape[d];
    }
}

fn offset_of(coords: &[usize], strides: &[isize]) -> isize {
    coords.iter().zip(strides).map(|(&c, &s)| c as isize * s).sum()
}

/// A view of `t` restricted to position `j` along `dim` (the dim kept, of size 1).
fn slab(t: &Tensor, dim: usize, j: usize) -> Tensor {
    let mut l = t.layout().clone();
    l.offset = (l.offset as isize + j as isize * l.strides[dim]) as usize;
    l.shape[dim] = 1;
    t.alias(l)
}

/// gather: out[p] = x[p with p[dim] = index[p]] (out has index's shape).
pub(crate) fn gather_cpu_kernel(out: &Tensor, x: &Tensor, dim: usize, index: &Tensor) -> Result<()> {
    let idx = staged(index, DType::I64)?;
    let sz = x.dtype().size();
    let mut coord = vec![0usize; idx.ndim()];
    let (xst, ost) = (x.strides(), out.strides());
    let n_dim = if x.ndim() == 0 { 1 } else { x.shape()[dim] };
    for (p, &i) in idx.as_slice::<i64>().iter().enumerate() {
        unravel(p, idx.shape(), &mut coord);
        let j = check_index("gather", i, n_dim, dim, x.shape())?;
        let xo: isize = (0..x.ndim()).map(|d| (if d == dim { j } else { coord[d] }) as isize * xst[d]).sum();
        let oo = offset_of(&coord, ost);
        unsafe { std::ptr::copy_nonoverlapping(x.data_ptr().offset(xo * sz as isize), out.data_ptr().offset(oo * sz as isize), sz) };
    }
    Ok(())
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

/// scatter / scatter_add: out = x, then out[p with p[dim] = index[p]] = (or +=) src[p]
/// (`src` of index's shape, x's dtype).
pub(crate) fn scatter_cpu_kernel(out: &Tensor, x: &Tensor, index: &Tensor, src: &Tensor, dim: usize, add: bool) -> Result<()> {
    copy_cpu_kernel(out, x)?;
    let idx = staged(index, DType::I64)?;
    let mut coord = vec![0usize; idx.ndim()];
    let (ost, sst) = (out.strides().to_vec(), src.strides().to_vec());
    let n_dim = if x.ndim() == 0 { 1 } else { x.shape()[dim] };
    crate::dispatch!(out.dtype(), T => {
        for (p, &i) in idx.as_slice::<i64>().iter().enumerate() {
            unravel(p, idx.shape(), &mut coord);
            let j = check_index("scatter", i, n_dim, dim, x.shape())?;
            let oo: isize = (0..x.ndim()).map(|d| (if d == dim { j } else { coord[d] }) as isize * ost[d]).sum();
            let so: isize = (0..src.ndim()).map(|d| coord[d] as isize * sst[d]).sum();
            unsafe {
                let po = (out.data_ptr() as *mut T).offset(oo);
                let v = *(src.data_ptr() as *const T).offset(so);
                *po = if add { add_elem(*po, v) } else { v };
            }
        }
    });
    Ok(())
}

/// index_select: slice `index[k]` of x along dim into slice k of out (a 0-dim x is copied
/// whole for its one index).
pub(crate) fn index_select_cpu_kernel(out: &Tensor, x: &Tensor, dim: usize, index: &Tensor) -> Result<()> {
    let idx = staged(index, DType::I64)?;
    let scalar = x.ndim() == 0;
    let n = if scalar { 1 } else { x.shape()[dim] };
    for (k, &i) in idx.as_slice::<i64>().iter().enumerate() {
        let j = check_index("index_select", i, n, dim, x.shape())?;
        if scalar {
            copy_cpu_kernel(out, x)?;
        } else {
            copy_cpu_kernel(&slab(out, dim, k), &slab(x, dim, j))?;
        }
    }
    Ok(())
}

/// index_add: out = x, then slice `index[k]` of out along dim += slice k of src.
pub(crate) fn index_add_cpu_kernel(out: &Tensor, x: &Tensor, index: &Tensor, src: &Tensor, dim: usize) -> Result<()> {
    copy_cpu_kernel(out, x)?;
    let idx = staged(index, DType::I64)?;
    let scalar = x.ndim() == 0;
    let n = if scalar { 1 } else { x.shape()[dim] };
    for (k, &i) in idx.as_slice::<i64>().iter().enumerate() {
        let j = check_index("index_add", i, n, dim, x.shape())?;
        let (dst, s) = if scalar {
            // a 0-dim x takes the k-th element of a 1-element-per-index src
            let mut l = Layout { shape: vec![], strides: vec![], offset: src.layout().offset };
            if src.ndim() == 1 {
                l.offset = (l.offset as isize + k as isize * src.strides()[0]) as usize;
            }
            (out.clone(), src.alias(l))
        } else {
            (slab(out, dim, j), slab(src, dim, k))
        };
        // (the destination is read and written element for element: no overlap hazard)
        binary::cpu_kernel(BinaryOp::Add, &dst, &dst, &s)?;
    }
    Ok(())
}

/// The positions x[i_1[j], ..., i_k[j]] of the leading dims as element offsets from x's
/// first element, one per j (the index tensors share one shape).
fn leading_offsets(op: &str, x: &Tensor, indices: &[&Tensor]) -> Result<Vec<isize>> {
    let k = indices.len();
    if k > x.ndim() {
        return Err(Error::Index(format!("{op}: too many indices for tensor of dimension {} (got {k})", x.ndim())));
    }
    let n = indices.first().map(|t| t.numel()).unwrap_or(1);
    let mut offs = vec![0isize; n];
    for (d, t) in indices.iter().enumerate() {
        let ti = staged(t, DType::I64)?;
        if ti.numel() != n {
            return Err(Error::Index(format!("{op}: index tensors of different shapes {:?}", indices.iter().map(|t| t.shape().to_vec()).collect::<Vec<_>>())));
        }
        for (p, &v) in ti.as_slice::<i64>().iter().enumerate() {
            offs[p] += check_index(op, v, x.shape()[d], d, x.shape())? as isize * x.strides()[d];
        }
    }
    Ok(offs)
}

/// index: out[j, ...] = x[i_1[j], ..., i_k[j], ...] (out of shape I + x.shape[k:]).
pub(crate) fn index_cpu_kernel(out: &Tensor, x: &Tensor, indices: &[&Tensor]) -> Result<()> {
    let k = indices.len();
    let offs = leading_offsets("index", x, indices)?;
    let rest = x.shape()[k..].to_vec();
    let rn = numel(&rest);
    let sz = x.dtype().size();
    let rest_strides = x.strides()[k..].to_vec();
    let rest_contig = Layout { shape: rest.clone(), strides: rest_strides.clone(), offset: 0 }.is_contiguous();
    let fast = rest_contig && out.is_contiguous();
    for (p, &o) in offs.iter().enumerate() {
        let src_off = (x.layout().offset as isize + o) as usize;
        if fast {
            unsafe { std::ptr::copy_nonoverlapping(x.storage().ptr().add(src_off * sz), out.data_ptr().add(p * rn * sz), rn * sz) };
        } else {
            let src = x.alias(Layout { shape: rest.clone(), strides: rest_strides.clone(), offset: src_off });
            let mut coord = vec![0usize; out.ndim() - rest.len()];
            unravel(p, &out.shape()[..out.ndim() - rest.len()], &mut coord);
            let lead = offset_of(&coord, out.strides());
            let dst = out.alias(Layout {
                shape: rest.clone(),
                strides: out.strides()[out.ndim() - rest.len()..].to_vec(),
                offset: (out.layout().offset as isize + lead) as usize,
            });
            copy_cpu_kernel(&dst, &src)?;
        }
    }
    Ok(())
}

/// index_put: out = x, then out[i_1[j], ..., i_k[j], ...] = (or +=) values[j, ...].
pub(crate) fn index_put_cpu_kernel(out: &Tensor, x: &Tensor, values: &Tensor, indices: &[&Tensor], accumulate: bool) -> Result<()> {
    // a contiguous working copy, so that the trailing dims are one run of elements
    let work = if out.is_contiguous() { out.clone() } else { Tensor::empty(out.shape(), out.dtype())? };
    copy_cpu_kernel(&work, x)?;
    let offs = leading_offsets("index_put", &work, indices)?;
    let vals = staged(values, out.dtype())?;
    let rn = numel(&x.shape()[indices.len()..]);
    crate::dispatch!(out.dtype(), T => {
        let vs = vals.as_slice::<T>();
        let base = work.data_ptr() as *mut T;
        for (p, &o) in offs.iter().enumerate() {
            for r in 0..rn {
                unsafe {
                    let d = base.offset(o + r as isize);
                    let v = vs[p * rn + r];
                    *d = if accumulate { add_elem(*d, v) } else { v };
                }
            }
        }
    });
    if !std::sync::Arc::ptr_eq(work.storage(), out.storage()) {
        copy_cpu_kernel(out, &work)?;
    }
    Ok(())
}
