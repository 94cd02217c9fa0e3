//! Reductions (sum, prod, amax, amin over dims), arg-reductions and cumulative ops.
use super::shape::{expand, movedim, reshape};
use super::{cast, contiguous, mul};
use crate::tensor::graph::{record, Save};
use crate::dtype::DType;
use crate::error::{Error, Result};
use crate::kernels::float::FloatElem;
use crate::kernels::{parallel_for, SendPtr};
use crate::layout::wrap_dim;
use crate::tensor::Tensor;
use crate::dispatch_float;
use super::rows::simd;
use num_traits::{Float, One, Zero};

pub use crate::op::ReduceOp;

/// Normalises a dim list: empty means all dims; negative dims wrap; duplicates are errors.
pub fn norm_dims(op: &str, dims: &[i64], ndim: usize) -> Result<Vec<usize>> {
    if dims.is_empty() {
        return Ok((0..ndim).collect());
    }
    let mut out = Vec::new();
    for &d in dims {
        let w = wrap_dim(op, d, ndim)?;
        if out.contains(&w) {
            return Err(Error::Runtime(format!("{op}: dim {w} appears multiple times in the list of dims")));
        }
        out.push(w);
    }
    if ndim == 0 {
        return Ok(vec![]);
    }
    out.sort();
    Ok(out)
}

fn out_shape(shape: &[usize], dims: &[usize], keepdim: bool) -> Vec<usize> {
    let mut s = Vec::new();
    for (i, &d) in shape.iter().enumerate() {
        if dims.contains(&i) {
            if keepdim {
                s.push(1);
            }
        } else {
            s.push(d);
        }
    }
    s
}

#[inline]
fn combine_f<C: Float>(op: ReduceOp, a: C, b: C) -> C {
    match op {
        ReduceOp::Sum => a + b,
        ReduceOp::Prod => a * b,
        ReduceOp::Amax => if a.is_nan() || b.is_nan() { C::nan() } else if b > a { b } else { a },
        ReduceOp::Amin => if a.is_nan() || b.is_nan() { C::nan() } else if b < a { b } else { a },
    }
}

fn init_f<C: Float>(op: ReduceOp) -> C {
    match op {
        ReduceOp::Sum => C::zero(),
        ReduceOp::Prod => C::one(),
        ReduceOp::Amax => C::neg_infinity(),
        ReduceOp::Amin => C::infinity(),
    }
}

/// Reduces a contiguous slice: f32 sums, maxima and minima by the AVX-512 row kernels (blocks
/// of f32 lanes added in f64 for sums); other sums in eight lanes so LLVM can vectorise them.
fn reduce_slice_f<T: FloatElem>(op: ReduceOp, xs: &[T]) -> T::C {
    if T::DTYPE == DType::F32 && op != ReduceOp::Prod {
        let f: &[f32] = unsafe { std::slice::from_raw_parts(xs.as_ptr() as *const f32, xs.len()) };
        let v = match op {
            ReduceOp::Sum => simd::sum(f),
            _ => simd::extreme(f, op == ReduceOp::Amax) as f64,
        };
        return <T::C as num_traits::NumCast>::from(v).unwrap();
    }
    if op == ReduceOp::Sum {
        let mut acc = [<T::C as Zero>::zero(); 8];
        let chunks = xs.chunks_exact(8);
        let rem = chunks.remainder();
        for c in chunks {
            for i in 0..8 {
                acc[i] = acc[i] + c[i].up();
            }
        }
        let mut s = ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7]));
        for &v in rem {
            s = s + v.up();
        }
        return s;
    }
    xs.iter().fold(init_f::<T::C>(op), |a, &v| combine_f(op, a, v.up()))
}

fn reduce_slice_i(op: ReduceOp, xs: &[i64]) -> i64 {
    match op {
        ReduceOp::Sum => xs.iter().fold(0i64, |a, &v| a.wrapping_add(v)),
        ReduceOp::Prod => xs.iter().fold(1i64, |a, &v| a.wrapping_mul(v)),
        ReduceOp::Amax => xs.iter().copied().max().unwrap_or(i64::MIN),
        ReduceOp::Amin => xs.iter().copied().min().unwrap_or(i64::MAX),
    }
}

/// `acc[j] = combine(acc[j], row[j])` over a stretch of columns, written branch-free (a NaN
/// sticks: once `a` is NaN neither comparison picks `b`) so the loop vectorises.
#[inline(always)]
fn combine_cols<T: FloatElem>(op: ReduceOp, acc: &mut [T::C], row: &[T]) {
    match op {
        ReduceOp::Sum => acc.iter_mut().zip(row).for_each(|(a, &b)| *a = *a + b.up()),
        ReduceOp::Prod => acc.iter_mut().zip(row).for_each(|(a, &b)| *a = *a * b.up()),
        ReduceOp::Amax => acc.iter_mut().zip(row).for_each(|(a, &b)| {
            let b = b.up();
            *a = if b > *a || b != b { b } else { *a }
        }),
        ReduceOp::Amin => acc.iter_mut().zip(row).for_each(|(a, &b)| {
            let b = b.up();
            *a = if b < *a || b != b { b } else { *a }
        }),
    }
}

/// Most columns one task accumulates at a time (16 KB of f32 partial results: they stay in L1
/// while the rows stream past).
const COLS: usize = 4096;

/// Reduction kernel on a contiguous tensor viewed as [outer, r, inner], reducing r into `out`
/// ([outer, inner], contiguous): rows (inner = 1) by the slice kernels, split across threads
/// when they are few and long; otherwise stretches of columns accumulated row by row, so no
/// reduced dim is ever moved to the end by a copy.
fn reduce_3d_f<T: FloatElem>(op: ReduceOp, x: &Tensor, (outer, r, inner): (usize, usize, usize), out: &Tensor) {
    let xs = x.as_slice::<T>();
    let po = SendPtr(out.data_ptr());
    let threads = crate::kernels::num_threads();
    if inner == 1 {
        if outer < threads && r >= 1 << 16 {
            // few long reductions: each split across the threads, the partial results combined
            let parts = threads * 4;
            let per = r.div_ceil(parts);
            for o in 0..outer {
                let row = &xs[o * r..(o + 1) * r];
                let partial: Vec<T::C> = crate::kernels::pool().install(|| {
                    use rayon::prelude::*;
                    row.par_chunks(per).map(|c| reduce_slice_f::<T>(op, c)).collect()
                });
                let v = partial.into_iter().fold(init_f::<T::C>(op), |a, b| combine_f(op, a, b));
                unsafe { *(po.get() as *mut T).add(o) = T::down(v) };
            }
            return;
        }
        parallel_for(outer, r, |s, e| {
            let o = po.get() as *mut T;
            for i in s..e {
                let v = reduce_slice_f::<T>(op, &xs[i * r..(i + 1) * r]);
                unsafe { *o.add(i) = T::down(v) };
            }
        });
        return;
    }
    // few outer slices: narrower stretches, so that every thread gets some
    let cols = if outer >= threads { COLS } else { inner.div_ceil(threads).div_ceil(16).saturating_mul(16).clamp(16, COLS) };
    let chunks = inner.div_ceil(cols);
    parallel_for(outer * chunks, r * cols.min(inner), |s, e| {
        let o = po.get() as *mut T;
        let mut acc: Vec<T::C> = Vec::with_capacity(cols);
        for task in s..e {
            let (b, c) = (task / chunks, task % chunks);
            let (j0, j1) = (c * cols, ((c + 1) * cols).min(inner));
            acc.clear();
            acc.resize(j1 - j0, init_f::<T::C>(op));
            for k in 0..r {
                let base = (b * r + k) * inner;
                combine_cols::<T>(op, &mut acc, &xs[base + j0..base + j1]);
            }
            for (j, &a) in acc.iter().enumerate() {
                unsafe { *o.add(b * inner + j0 + j) = T::down(a) };
            }
        }
    });
}

/// Forward of a reduction, no autograd.
pub fn reduce_raw(op: ReduceOp, x: &Tensor, dims: &[usize], keepdim: bool) -> Result<Tensor> {
    if x.dtype().is_complex() {
        return crate::tensor::graph::with_grad_mode(false, || super::complex::reduce(op, x, dims, keepdim));
    }
    let shape = x.shape().to_vec();
    let oshape = out_shape(&shape, dims, keepdim);
    let r: usize = dims.iter().map(|&d| shape[d]).product();
    if r == 0 && matches!(op, ReduceOp::Amax | ReduceOp::Amin) && x.numel() == 0 {
        return Err(Error::Runtime(format!(
            "{}(): expected reduction dim to be specified for input.numel() == 0 (input shape {:?}); there is no identity for max/min",
            op.name(),
            shape
        )));
    }
    let in_dt = x.dtype();
    let acc_dt = if in_dt.is_float() { in_dt } else { DType::I64 };
    // the kernel reduces into the accumulator dtype for sum/prod (int64 for integers) and
    // into the input's for amax/amin, in the shape with the reduced dims kept as 1
    let kdt = if matches!(op, ReduceOp::Sum | ReduceOp::Prod) { acc_dt } else { in_dt };
    let xk = crate::tensor::graph::with_grad_mode(false, || cast(x, kdt))?;
    let ks = out_shape(&shape, dims, true);
    let out = Tensor::empty_on(&ks, kdt, x.device())?;
    crate::dispatch::launch(&crate::op::Op::Reduce(op), &[&out], &[&xk])?;
    crate::ops::shape::reshape(&out, &oshape)
}

/// The CPU kernel of the reductions: `out` keeps the reduced dims as 1; the sum runs in the
/// accumulator dtype (the input's for floats, int64 for integers), straight into `out` when
/// it has that dtype and is contiguous.
pub(crate) fn reduce_cpu_kernel(op: ReduceOp, out: &Tensor, x: &Tensor) -> Result<()> {
    let dims: Vec<usize> = (0..out.ndim()).filter(|&d| out.shape()[d] == 1 && x.shape()[d] != 1).collect();
    let acc_dt = if x.dtype().is_float() { x.dtype() } else { DType::I64 };
    if out.dtype() == acc_dt && out.is_contiguous() {
        return reduce_cpu_into(op, x, &dims, out);
    }
    let acc = Tensor::empty(out.shape(), acc_dt)?;
    reduce_cpu_into(op, x, &dims, &acc)?;
    super::copy_raw(out, &acc)
}

fn reduce_cpu_into(op: ReduceOp, x: &Tensor, dims: &[usize], out: &Tensor) -> Result<()> {
    let shape = x.shape().to_vec();
    let acc_dt = if x.dtype().is_float() { x.dtype() } else { DType::I64 };
    let xa = crate::tensor::graph::with_grad_mode(false, || cast(x, acc_dt))?;
    // A contiguous input whose reduced dims are adjacent is read in place as [outer, r, inner];
    // anything else is copied with the reduced dims moved to the end ([K, R], inner = 1).
    let adjacent = dims.windows(2).all(|w| w[1] == w[0] + 1);
    let (xc, split) = if xa.is_contiguous() && adjacent && !dims.is_empty() {
        let (d0, d1) = (dims[0], dims[dims.len() - 1] + 1);
        let p = |r: std::ops::Range<usize>| shape[r].iter().product::<usize>();
        (xa, (p(0..d0), p(d0..d1), p(d1..shape.len())))
    } else {
        let kept: Vec<usize> = (0..shape.len()).filter(|d| !dims.contains(d)).collect();
        let k: usize = kept.iter().map(|&d| shape[d]).product();
        let perm: Vec<usize> = kept.into_iter().chain(dims.iter().copied()).collect();
        let p = xa.alias(xa.layout().permute(&perm));
        let r: usize = dims.iter().map(|&d| shape[d]).product();
        (crate::tensor::graph::with_grad_mode(false, || contiguous(&p))?, (k, r, 1))
    };
    if acc_dt.is_float() {
        dispatch_float!(acc_dt, T => reduce_3d_f::<T>(op, &xc, split, out));
    } else {
        let (outer, r, inner) = split;
        let xs = xc.as_slice::<i64>();
        let os = out.as_slice_mut::<i64>();
        for b in 0..outer {
            for j in 0..inner {
                let col: Vec<i64> = (0..r).map(|k| xs[(b * r + k) * inner + j]).collect();
                os[b * inner + j] = reduce_slice_i(op, &col);
            }
        }
    }
    Ok(())
}

/// Shape of the output with the reduced dims kept as size 1.
fn keep_shape(shape: &[usize], dims: &[usize]) -> Vec<usize> {
    out_shape(shape, dims, true)
}

pub fn reduce(op: ReduceOp, x: &Tensor, dims: &[usize], keepdim: bool) -> Result<Tensor> {
    if x.dtype().is_complex() {
        return super::complex::reduce(op, x, dims, keepdim);
    }
    let out = reduce_raw(op, x, dims, keepdim)?;
    if !out.dtype().is_float() || !crate::tensor::graph::needs_grad(&[x]) {
        return Ok(out);
    }
    let in_shape = x.shape().to_vec();
    let ks = keep_shape(&in_shape, dims);
    let name = match op {
        ReduceOp::Sum => "SumBackward1",
        ReduceOp::Prod => "ProdBackward1",
        ReduceOp::Amax => "AmaxBackward0",
        ReduceOp::Amin => "AminBackward0",
    };
    let saves = match op {
        ReduceOp::Sum => vec![],
        _ => vec![Save::Input(x.clone()), Save::Output(0)],
    };
    let dims_v = dims.to_vec();
    record(name, &[x], &[&out], saves, move |g, s| {
        let Some(g) = &g[0] else { return Ok(vec![None]) };
        let ge = expand(&reshape(g, &ks)?, &in_shape)?;
        Ok(vec![Some(match op {
            ReduceOp::Sum => ge,
            ReduceOp::Prod => {
                // d prod / d x_i = prod / x_i (inputs with zeros: product of the others)
                let oe = expand(&reshape(&s[1], &ks)?, &in_shape)?;
                prod_grad(&s[0], &oe, &ge, &dims_v, &ks, &in_shape)?
            }
            ReduceOp::Amax | ReduceOp::Amin => {
                let oe = expand(&reshape(&s[1], &ks)?, &in_shape)?;
                let mask = cast(&super::binary(super::BinaryOp::Eq, &s[0].clone().into(), &oe.into())?, g.dtype())?;
                let count = reduce(ReduceOp::Sum, &mask, &dims_v, true)?;
                super::div(&mul(&ge, &mask)?, &count)?
            }
        })])
    });
    Ok(out)
}

fn prod_grad(x: &Tensor, out_e: &Tensor, g_e: &Tensor, dims: &[usize], ks: &[usize], in_shape: &[usize]) -> Result<Tensor> {
    use super::BinaryOp::*;
    let zero_mask = super::binary(Eq, &x.clone().into(), &super::Scalar::Float(0.0).into())?;
    let zeros_per = reduce(ReduceOp::Sum, &cast(&zero_mask, x.dtype())?, dims, true)?;
    // Where the slice has no zero: out / x. Where it has exactly one zero: product of the
    // non-zero entries at the zero's position. Two or more zeros: gradient 0.
    let safe_x = super::where_(&zero_mask, &super::scalar(1.0, x.dtype())?, x)?;
    let nz_prod = reduce(ReduceOp::Prod, &safe_x, dims, true)?;
    let nz_prod_e = expand(&nz_prod, in_shape)?;
    let zp_e = expand(&zeros_per, in_shape)?;
    let no_zero = super::binary(Eq, &zp_e.clone().into(), &super::Scalar::Float(0.0).into())?;
    let one_zero = super::binary(Eq, &zp_e.into(), &super::Scalar::Float(1.0).into())?;
    let a = super::div(out_e, &safe_x)?;
    let at_zero = super::binary(LogicalAnd, &one_zero.into(), &zero_mask.into())?;
    let zeros = super::zeros_like(g_e)?;
    let d = super::where_(&no_zero, &a, &super::where_(&at_zero, &nz_prod_e, &zeros)?)?;
    let _ = ks;
    mul(g_e, &d)
}

pub fn sum(x: &Tensor, dims: &[usize], keepdim: bool) -> Result<Tensor> {
    reduce(ReduceOp::Sum, x, dims, keepdim)
}

/// max/min along one dim with the index of the first extreme element (NaN counts as extreme).
pub fn max_min_dim(x: &Tensor, dim: usize, keepdim: bool, is_max: bool) -> Result<(Tensor, Tensor)> {
    let shape = x.shape().to_vec();
    let op = if is_max { "max" } else { "min" };
    let n = if shape.is_empty() { 1 } else { shape[dim] };
    if n == 0 {
        return Err(Error::Index(format!("{op}(): cannot compute over dimension {dim} of size 0 (input shape {shape:?})")));
    }
    let idx = arg_raw(x, dim, is_max)?;
    let idx_keep = if shape.is_empty() { idx.clone() } else { super::shape::unsqueeze(&idx, dim)? };
    let vals_keep = super::index::gather(x, dim, &idx_keep)?;
    if keepdim || shape.is_empty() {
        Ok((vals_keep, idx_keep))
    } else {
        Ok((super::shape::squeeze_dim(&vals_keep, dim)?, idx))
    }
}

/// Indices of max (or min) along `dim` (the dim removed).
pub fn arg_raw(x: &Tensor, dim: usize, is_max: bool) -> Result<Tensor> {
    let shape = x.shape().to_vec();
    if shape.is_empty() {
        return crate::dispatch::to_device(&Tensor::from_vec(vec![0i64], &[])?, x.device());
    }
    let n = shape[dim];
    let op = if is_max { "argmax" } else { "argmin" };
    if n == 0 {
        return Err(Error::Index(format!("{op}(): expected reduction dim {dim} to have non-zero size (input shape {shape:?})")));
    }
    let mut ks = shape.clone();
    ks[dim] = 1;
    let out = Tensor::empty_on(&ks, DType::I64, x.device())?;
    let k = if is_max { crate::op::ArgReduceOp::Argmax } else { crate::op::ArgReduceOp::Argmin };
    crate::dispatch::launch(&crate::op::Op::ArgReduce(k, crate::op::ArgReduceAttrs { dim: dim as i64 }), &[&out], &[x])?;
    let mut oshape = shape.clone();
    oshape.remove(dim);
    crate::ops::shape::reshape(&out, &oshape)
}

/// The CPU kernel of argmax/argmin along a non-empty `dim`: int64 indices into `out` (the
/// dim kept as 1), written in place when `out` is contiguous.
pub(crate) fn arg_cpu_kernel(out: &Tensor, x: &Tensor, dim: usize, is_max: bool) -> Result<()> {
    if out.numel() == 0 {
        return Ok(());
    }
    if !(out.is_contiguous() && out.dtype() == DType::I64) {
        let tmp = Tensor::empty(out.shape(), DType::I64)?;
        arg_cpu_kernel(&tmp, x, dim, is_max)?;
        return super::copy_raw(out, &tmp);
    }
    let shape = x.shape().to_vec();
    let n = shape[dim];
    if n == 0 {
        return Err(Error::Index(format!("argmax/argmin: expected reduction dim {dim} to have non-zero size (input shape {shape:?})")));
    }
    let xm = crate::tensor::graph::with_grad_mode(false, || -> Result<Tensor> {
        let m = movedim(x, dim, shape.len() - 1)?;
        let m = if x.dtype().is_float() { cast(&m, DType::F64)? } else { cast(&m, DType::I64)? };
        contiguous(&m)
    })?;
    let mut oshape = shape.clone();
    oshape.remove(dim);
    let k: usize = oshape.iter().product();
    let os = out.as_slice_mut::<i64>();
    if xm.dtype() == DType::F64 {
        let xs = xm.as_slice::<f64>();
        for i in 0..k {
            let row = &xs[i * n..(i + 1) * n];
            let mut best = 0usize;
            for j in 1..n {
                let (b, v) = (row[best], row[j]);
                if b.is_nan() {
                    break;
                }
                if v.is_nan() || (is_max && v > b) || (!is_max && v < b) {
                    best = j;
                }
            }
            os[i] = best as i64;
        }
    } else {
        let xs = xm.as_slice::<i64>();
        for i in 0..k {
            let row = &xs[i * n..(i + 1) * n];
            let mut best = 0usize;
            for j in 1..n {
                if (is_max && row[j] > row[best]) || (!is_max && row[j] < row[best]) {
                    best = j;
                }
            }
            os[i] = best as i64;
        }
    }
    Ok(())
}

/// cumsum / cumprod along `dim`.
pub fn cumulative(x: &Tensor, dim: usize, prod: bool) -> Result<Tensor> {
    let shape = x.shape().to_vec();
    if shape.is_empty() {
        return super::copy::clone(x);
    }
    let dt = if x.dtype().is_float() { x.dtype() } else { DType::I64 };
    let nd = shape.len();
    // the kernel scans the last dim of a contiguous tensor in `dt`
    let xm = crate::tensor::graph::with_grad_mode(false, || -> Result<Tensor> {
        let m = movedim(&cast(x, dt)?, dim, nd - 1)?;
        contiguous(&m)
    })?;
    let res = Tensor::empty_on(xm.shape(), dt, x.device())?;
    if res.numel() > 0 {
        let k = if prod { crate::op::CumulativeOp::Cumprod } else { crate::op::CumulativeOp::Cumsum };
        crate::dispatch::launch(&crate::op::Op::Cumulative(k, crate::op::CumulativeAttrs { dim: nd as i64 - 1 }), &[&res], &[&xm])?;
    }
    let out = super::shape::movedim_raw(&res, nd - 1, dim);
    if dt.is_float() && crate::tensor::graph::needs_grad(&[x]) {
        let name = if prod { "CumprodBackward0" } else { "CumsumBackward0" };
        record(name, &[x], &[&out], vec![Save::Input(x.clone()), Save::Output(0)], move |g, s| {
            let Some(g) = &g[0] else { return Ok(vec![None]) };
            // reverse cumulative sum: flip, cumsum, flip
            let rev_cumsum = |t: &Tensor| -> Result<Tensor> {
                let f = super::shape::flip(t, &[dim])?;
                super::shape::flip(&cumulative(&f, dim, false)?, &[dim])
            };
            if !prod {
                return Ok(vec![Some(rev_cumsum(g)?)]);
            }
            // cumprod: sum_{j>=i} g_j * out_j / x_i (exact for non-zero inputs)
            let t = rev_cumsum(&mul(g, &s[1])?)?;
            Ok(vec![Some(super::div(&t, &s[0])?)])
        });
    }
    Ok(out)
}

/// The CPU kernel of cumsum/cumprod: `out` from `x` along `dim`, scanning in `x`'s dtype (a
/// float, accumulating in its compute type, or int64). The core launches it on a contiguous
/// input scanned along its last dim, written straight into `out`; any other layout goes
/// through a contiguous copy.
pub(crate) fn cumulative_cpu_kernel(out: &Tensor, x: &Tensor, dim: usize, prod: bool) -> Result<()> {
    if out.numel() == 0 {
        return Ok(());
    }
    let nd = x.ndim();
    let dt = x.dtype();
    let direct = nd > 0 && dim == nd - 1 && x.is_contiguous() && out.is_contiguous() && out.dtype() == dt && (dt.is_float() || dt == DType::I64);
    if !direct {
        if nd == 0 {
            return super::copy_raw(out, x);
        }
        let sdt = if dt.is_float() { dt } else { DType::I64 };
        let xm = contiguous(&movedim(&cast(x, sdt)?, dim, nd - 1)?)?;
        let res = Tensor::empty(xm.shape(), sdt)?;
        cumulative_cpu_kernel(&res, &xm, nd - 1, prod)?;
        return super::copy_raw(out, &super::shape::movedim_raw(&res, nd - 1, dim));
    }
    let (xm, res) = (x, out);
    let n = x.shape()[dim];
    let rows = if n == 0 { 0 } else { xm.numel() / n };
    if dt.is_float() {
        dispatch_float!(dt, T => {
            let xs = xm.as_slice::<T>();
            let os = res.as_slice_mut::<T>();
            for i in 0..rows {
                let mut acc = if prod { <<T as FloatElem>::C as One>::one() } else { <<T as FloatElem>::C as Zero>::zero() };
                for j in 0..n {
                    let v = xs[i * n + j].up();
                    acc = if prod { acc * v } else { acc + v };
                    os[i * n + j] = T::down(acc);
                }
            }
        });
    } else {
        let xs = xm.as_slice::<i64>();
        let os = res.as_slice_mut::<i64>();
        for i in 0..rows {
            let mut acc: i64 = if prod { 1 } else { 0 };
            for j in 0..n {
                acc = if prod { acc.wrapping_mul(xs[i * n + j]) } else { acc.wrapping_add(xs[i * n + j]) };
                os[i * n + j] = acc;
            }
        }
    }
    Ok(())
}
