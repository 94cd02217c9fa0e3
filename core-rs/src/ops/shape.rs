//! View ops (metadata only, never a copy) and the ops that assemble tensors: cat, pad.
use super::copy::{copy_raw, fill_raw};
use crate::tensor::graph::record;
use crate::dtype::{promote_types, DType};
use crate::error::{Error, Result};
use crate::layout::{contiguous_strides, numel, wrap_dim, Layout};
use crate::tensor::Tensor;
use super::Scalar;

/// Makes a view of `x` and records `back` (grad of view -> grad of x).
fn make_view(x: &Tensor, layout: Layout, name: &'static str, back: impl Fn(&Tensor) -> Result<Tensor> + Send + Sync + 'static) -> Tensor {
    let out = x.view_of(layout);
    record(name, &[x], &[&out], vec![], move |g, _| Ok(vec![match &g[0] {
        Some(g) => Some(back(g)?),
        None => None,
    }]));
    out
}

/// Resolves one -1 in a requested shape against `n` elements.
pub fn infer_shape(op: &str, shape: &[i64], n: usize, from: &[usize]) -> Result<Vec<usize>> {
    let mut out = Vec::with_capacity(shape.len());
    let mut infer = None;
    let mut known = 1usize;
    for (i, &s) in shape.iter().enumerate() {
        if s == -1 {
            if infer.is_some() {
                return Err(Error::Runtime(format!("{op}: only one dimension can be inferred")));
            }
            infer = Some(i);
            out.push(0);
        } else if s < 0 {
            return Err(Error::Runtime(format!("{op}: invalid shape dimension {s}")));
        } else {
            known *= s as usize;
            out.push(s as usize);
        }
    }
    if let Some(i) = infer {
        if known == 0 || n % known != 0 {
            // PyTorch: -1 is ambiguous when another dim is 0
            return Err(Error::Runtime(format!("{op}: shape '{shape:?}' is invalid for input of size {n} (input shape {from:?})")));
        }
        out[i] = n / known;
    } else if known != n {
        return Err(Error::Runtime(format!("{op}: shape '{shape:?}' is invalid for input of size {n} (input shape {from:?})")));
    }
    // the running product above may wrap for huge sizes; a wrapped match must not pass
    crate::layout::checked_numel(op, &out)
        .map_err(|_| Error::Runtime(format!("{op}: shape '{shape:?}' is invalid for input of size {n} (input shape {from:?})")))?;
    Ok(out)
}

/// `view`: must not copy; an error when the strides do not allow it.
pub fn view(x: &Tensor, shape: &[usize]) -> Result<Tensor> {
    if crate::layout::checked_numel("view", shape).ok() != Some(x.numel()) {
        return Err(Error::Runtime(format!("view: shape {shape:?} is invalid for input of shape {:?}", x.shape())));
    }
    let Some(l) = x.layout().view(shape) else {
        return Err(Error::Runtime(format!(
            "view size is not compatible with input tensor's size and stride (input shape {:?}, strides {:?}, requested {shape:?}); use .reshape(...) instead",
            x.shape(),
            x.strides()
        )));
    };
    let in_shape = x.shape().to_vec();
    Ok(make_view(x, l, "ViewBackward0", move |g| reshape(g, &in_shape)))
}

/// `reshape`: a view when possible, otherwise a contiguous copy.
pub fn reshape(x: &Tensor, shape: &[usize]) -> Result<Tensor> {
    if crate::layout::checked_numel("reshape", shape).ok() != Some(x.numel()) {
        return Err(Error::Runtime(format!("reshape: shape {shape:?} is invalid for input of shape {:?}", x.shape())));
    }
    if x.shape() == shape {
        return Ok(x.clone());
    }
    if numel(shape) != x.numel() {
        return Err(Error::Runtime(format!("reshape: shape {shape:?} is invalid for input of shape {:?}", x.shape())));
    }
    if x.layout().view(shape).is_some() {
        return view(x, shape);
    }
    let c = super::contiguous(x)?;
    view(&c, shape)
}

pub fn permute(x: &Tensor, dims: &[usize]) -> Result<Tensor> {
    let n = x.ndim();
    let mut seen = vec![false; n];
    if dims.len() != n || dims.iter().any(|&d| d >= n || std::mem::replace(&mut seen[d], true)) {
        return Err(Error::Runtime(format!("permute: dims {dims:?} are not a permutation of the {n} dims of shape {:?}", x.shape())));
    }
    let mut inv = vec![0; n];
    for (i, &d) in dims.iter().enumerate() {
        inv[d] = i;
    }
    Ok(make_view(x, x.layout().permute(dims), "PermuteBackward0", move |g| permute(g, &inv)))
}

pub fn transpose(x: &Tensor, a: usize, b: usize) -> Result<Tensor> {
    let mut dims: Vec<usize> = (0..x.ndim()).collect();
    if x.ndim() == 0 {
        return Ok(x.clone());
    }
    dims.swap(a, b);
    permute(x, &dims)
}

pub fn movedim(x: &Tensor, from: usize, to: usize) -> Result<Tensor> {
    let mut dims: Vec<usize> = (0..x.ndim()).filter(|&d| d != from).collect();
    dims.insert(to, from);
    permute(x, &dims)
}

/// movedim without autograd (for kernels that move a dim back into place).
pub fn movedim_raw(x: &Tensor, from: usize, to: usize) -> Tensor {
    let mut dims: Vec<usize> = (0..x.ndim()).filter(|&d| d != from).collect();
    dims.insert(to, from);
    x.alias(x.layout().permute(&dims))
}

pub fn expand(x: &Tensor, shape: &[usize]) -> Result<Tensor> {
    if x.shape() == shape {
        return Ok(x.clone());
    }
    let l = x.layout().broadcast_to("expand", shape)?;
    let in_shape = x.shape().to_vec();
    Ok(make_view(x, l, "ExpandBackward0", move |g| super::sum_to(g, &in_shape)))
}

pub fn unsqueeze(x: &Tensor, dim: usize) -> Result<Tensor> {
    let mut shape = x.shape().to_vec();
    let mut strides = x.strides().to_vec();
    if dim > shape.len() {
        return Err(Error::Index(format!("unsqueeze: dim {dim} out of range for shape {shape:?}")));
    }
    let st = if dim < shape.len() { strides[dim] * shape[dim] as isize } else { 1 };
    shape.insert(dim, 1);
    strides.insert(dim, st);
    let l = Layout { shape, strides, offset: x.layout().offset };
    Ok(make_view(x, l, "UnsqueezeBackward0", move |g| squeeze_dim(g, dim)))
}

pub fn squeeze_dim(x: &Tensor, dim: usize) -> Result<Tensor> {
    if x.ndim() == 0 || x.shape()[dim] != 1 {
        return Ok(x.clone());
    }
    let mut l = x.layout().clone();
    l.shape.remove(dim);
    l.strides.remove(dim);
    Ok(make_view(x, l, "SqueezeBackward1", move |g| unsqueeze(g, dim)))
}

pub fn squeeze_all(x: &Tensor) -> Result<Tensor> {
    let mut l = x.layout().clone();
    let keep: Vec<usize> = (0..x.ndim()).filter(|&d| x.shape()[d] != 1).collect();
    if keep.len() == x.ndim() {
        return Ok(x.clone());
    }
    l.shape = keep.iter().map(|&d| x.shape()[d]).collect();
    l.strides = keep.iter().map(|&d| x.strides()[d]).collect();
    let in_shape = x.shape().to_vec();
    Ok(make_view(x, l, "SqueezeBackward0", move |g| reshape(g, &in_shape)))
}

/// Basic slicing along one dim: `start..end` by `step` (already clamped, step > 0).
pub fn slice(x: &Tensor, dim: usize, start: usize, end: usize, step: usize) -> Result<Tensor> {
    if step == 0 {
        return Err(Error::Value("slice step cannot be zero".into()));
    }
    let n = x.shape()[dim];
    let start = start.min(n);
    let end = end.clamp(start, n);
    let len = (end - start).div_ceil(step);
    let mut l = x.layout().clone();
    if len > 0 {
        l.offset = (l.offset as isize + start as isize * l.strides[dim]) as usize;
    }
    l.shape[dim] = len;
    l.strides[dim] *= step as isize;
    let geo = relative_geometry(x.shape(), |c| {
        let mut c = c;
        if len > 0 {
            c.offset += start * c.strides[dim] as usize;
        }
        c.shape[dim] = len;
        c.strides[dim] *= step as isize;
        c
    });
    let in_shape = x.shape().to_vec();
    Ok(make_view(x, l, "SliceBackward0", move |g| {
        let z = Tensor::zeros_on(&in_shape, g.dtype(), g.device())?;
        strided_scatter(&z, g, &geo)
    }))
}

/// Integer indexing along one dim (removes the dim).
pub fn select(x: &Tensor, dim: usize, index: i64) -> Result<Tensor> {
    let n = x.shape()[dim] as i64;
    let i = if index < 0 { index + n } else { index };
    if i < 0 || i >= n {
        return Err(Error::Index(format!(
            "index {index} is out of bounds for dimension {dim} with size {n} (tensor shape {:?})",
            x.shape()
        )));
    }
    let i = i as usize;
    let mut l = x.layout().clone();
    l.offset = (l.offset as isize + i as isize * l.strides[dim]) as usize;
    l.shape.remove(dim);
    l.strides.remove(dim);
    let geo = relative_geometry(x.shape(), |mut c| {
        c.offset += i * c.strides[dim] as usize;
        c.shape.remove(dim);
        c.strides.remove(dim);
        c
    });
    let in_shape = x.shape().to_vec();
    Ok(make_view(x, l, "SelectBackward0", move |g| {
        let z = Tensor::zeros_on(&in_shape, g.dtype(), g.device())?;
        strided_scatter(&z, g, &geo)
    }))
}

fn relative_geometry(shape: &[usize], f: impl FnOnce(Layout) -> Layout) -> Layout {
    f(Layout::contiguous(shape))
}

/// Reverses the order along `dims` (a view with negative strides).
pub fn flip(x: &Tensor, dims: &[usize]) -> Result<Tensor> {
    let mut l = x.layout().clone();
    for &d in dims {
        if l.shape[d] > 0 {
            l.offset = (l.offset as isize + (l.shape[d] as isize - 1) * l.strides[d]) as usize;
        }
        l.strides[d] = -l.strides[d];
    }
    let dv = dims.to_vec();
    Ok(make_view(x, l, "FlipBackward0", move |g| flip(g, &dv)))
}

/// A view of contiguous `x` at a geometry relative to `x`'s first element.
pub fn as_strided(x: &Tensor, geo: &Layout) -> Result<Tensor> {
    let l = Layout { shape: geo.shape.clone(), strides: geo.strides.clone(), offset: x.layout().offset + geo.offset };
    let (lo, hi) = l.storage_span();
    // an empty view touches no memory, wherever its offset points
    if l.numel() > 0 && (lo < 0 || hi as usize * x.dtype().size() > x.storage().nbytes()) {
        return Err(Error::Runtime(format!("as_strided: geometry {geo:?} reaches outside the storage")));
    }
    let in_shape = x.shape().to_vec();
    let g2 = geo.clone();
    Ok(make_view(x, l, "AsStridedBackward0", move |g| {
        let z = Tensor::zeros_on(&in_shape, g.dtype(), g.device())?;
        strided_scatter(&z, g, &g2)
    }))
}

/// A copy of `base` (contiguous) with the region at `geo` replaced by `src`.
pub fn strided_scatter(base: &Tensor, src: &Tensor, geo: &Layout) -> Result<Tensor> {
    let out = super::clone_contiguous(base)?;
    let region = out.alias(Layout { shape: geo.shape.clone(), strides: geo.strides.clone(), offset: geo.offset });
    copy_raw(&region, src)?;
    if crate::tensor::graph::needs_grad(&[base, src]) {
        let g1 = geo.clone();
        let src_shape = src.shape().to_vec();
        record("StridedScatterBackward0", &[base, src], &[&out], vec![], move |g, _| {
            let Some(g) = &g[0] else { return Ok(vec![None, None]) };
            let gc = super::contiguous(g)?;
            let z = Tensor::zeros_on(&src_shape, g.dtype(), g.device())?;
            Ok(vec![Some(strided_scatter(&gc, &z, &g1)?), Some(as_strided(&gc, &g1)?)])
        });
    }
    Ok(out)
}

/// Concatenates along `dim`, promoting dtypes. 1-D empty tensors are skipped, as in PyTorch.
pub fn cat(ts: &[Tensor], dim: i64) -> Result<Tensor> {
    if ts.is_empty() {
        return Err(Error::Runtime("cat: expected a non-empty list of Tensors".into()));
    }
    let parts: Vec<&Tensor> = ts.iter().filter(|t| !(t.ndim() == 1 && t.numel() == 0)).collect();
    let dt = ts.iter().map(|t| t.dtype()).reduce(promote_types).unwrap();
    if parts.is_empty() {
        return Tensor::empty_on(&[0], dt, crate::dispatch::common("cat", &ts.iter().collect::<Vec<_>>())?);
    }
    let r = parts[0].ndim();
    if r == 0 {
        return Err(Error::Runtime("cat: zero-dimensional tensor cannot be concatenated".into()));
    }
    let d = wrap_dim("cat", dim, r)?;
    if dt.is_complex() {
        let owned: Vec<Tensor> = parts.iter().map(|t| (*t).clone()).collect();
        return super::complex::cat(&owned, d, dt);
    }
    let mut shape = parts[0].shape().to_vec();
    let mut total = 0;
    for (i, t) in parts.iter().enumerate() {
        if t.ndim() != r {
            return Err(Error::Runtime(format!(
                "cat: tensors must have same number of dimensions: got {} and {} (shapes {:?} and {:?})",
                r, t.ndim(), parts[0].shape(), t.shape()
            )));
        }
        for k in 0..r {
            if k != d && t.shape()[k] != shape[k] {
                return Err(Error::Runtime(format!(
                    "cat: sizes of tensors must match except in dimension {d}. Expected size {} but got size {} for tensor number {i} in the list (shapes {:?} and {:?})",
                    shape[k], t.shape()[k], parts[0].shape(), t.shape()
                )));
            }
        }
        total += t.shape()[d];
    }
    shape[d] = total;
    let dev = crate::dispatch::common("cat", &parts)?;
    let out = Tensor::empty_on(&shape, dt, dev)?;
    let sizes: Vec<usize> = parts.iter().map(|t| t.shape()[d]).collect();
    let op = crate::op::Op::Cat(crate::op::CatAttrs { dim: d as i64 });
    if out.numel() == 0 {
        // nothing to write
    } else if crate::dispatch::declares(dev, op.id()) {
        let cast_parts: Vec<Tensor> =
            crate::tensor::graph::with_grad_mode(false, || parts.iter().map(|t| super::cast(t, dt)).collect::<Result<_>>())?;
        let refs: Vec<&Tensor> = cast_parts.iter().collect();
        crate::dispatch::launch(&op, &[&out], &refs)?;
    } else {
        // decomposed: one copy into each slice of the output
        let mut off = 0;
        for t in &parts {
            let n = t.shape()[d];
            let mut l = out.layout().clone();
            l.offset += off * l.strides[d] as usize;
            l.shape[d] = n;
            copy_raw(&out.alias(l), t)?;
            off += n;
        }
    }
    let ins: Vec<&Tensor> = parts.clone();
    if dt.is_float() && crate::tensor::graph::needs_grad(&ins) {
        let dts: Vec<DType> = parts.iter().map(|t| t.dtype()).collect();
        record("CatBackward0", &ins, &[&out], vec![], move |g, _| {
            let Some(g) = &g[0] else { return Ok(vec![None; sizes.len()]) };
            let mut off = 0;
            let mut r = Vec::new();
            for (i, &n) in sizes.iter().enumerate() {
                let piece = slice(g, d, off, off + n, 1)?;
                r.push(Some(super::cast(&piece, dts[i])?));
                off += n;
            }
            Ok(r)
        });
    }
    Ok(out)
}

/// The CPU kernel of cat in the contract's form: each input copied into its slice of `out`
/// along `dim`.
pub(crate) fn cat_cpu_kernel(out: &Tensor, ins: &[&Tensor], dim: usize) -> Result<()> {
    let mut off = 0;
    for t in ins {
        let n = t.shape()[dim];
        let mut l = out.layout().clone();
        l.offset += off * l.strides[dim] as usize;
        l.shape[dim] = n;
        if t.numel() > 0 {
            super::copy::copy_cpu_kernel(&out.alias(l), t)?;
        }
        off += n;
    }
    Ok(())
}

/// The CPU kernel of constant pad in the contract's form: `pads` are (before, after) pairs
/// from dim 0, none negative (crops were taken as views); `out` filled with `value`, then
/// `x` copied into its interior.
pub(crate) fn pad_cpu_kernel(out: &Tensor, x: &Tensor, pads: &[i64], value: f64) -> Result<()> {
    let dt = out.dtype();
    let v = if dt.is_float() { Scalar::Float(value) } else if dt == DType::Bool { Scalar::Bool(value != 0.0) } else { Scalar::Int(value as i64) };
    super::copy::fill_cpu_kernel(out, v)?;
    if x.numel() == 0 {
        return Ok(());
    }
    let mut l = out.layout().clone();
    for d in 0..out.ndim() {
        l.offset += pads[2 * d] as usize * l.strides[d] as usize;
        l.shape[d] = x.shape()[d];
    }
    super::copy::copy_cpu_kernel(&out.alias(l), x)
}

/// Constant padding; `pads` lists (before, after) from the last dim backwards, as F.pad does.
/// Negative amounts crop.
pub fn pad(x: &Tensor, pads: &[i64], value: f64) -> Result<Tensor> {
    if x.dtype().is_complex() {
        return super::complex::pad(x, pads, value);
    }
    if pads.len() % 2 != 0 || pads.len() / 2 > x.ndim() {
        return Err(Error::Runtime(format!(
            "pad: padding length must be even and at most twice the number of dims; got {} for shape {:?}",
            pads.len(),
            x.shape()
        )));
    }
    let nd = x.ndim();
    // First crop negative amounts with slices, then pad positive ones.
    let mut src = x.clone();
    let mut out_shape = x.shape().to_vec();
    let mut before = vec![0usize; nd];
    for i in 0..pads.len() / 2 {
        let d = nd - 1 - i;
        let (b, a) = (pads[2 * i], pads[2 * i + 1]);
        let n = src.shape()[d] as i64;
        let s = if b < 0 { -b } else { 0 };
        let e = if a < 0 { n + a } else { n };
        if e < s {
            return Err(Error::Runtime(format!("pad: cropping {pads:?} leaves a negative size for shape {:?}", x.shape())));
        }
        if s != 0 || e != n {
            src = slice(&src, d, s as usize, e as usize, 1)?;
        }
        before[d] = b.max(0) as usize;
        out_shape[d] = (e - s) as usize + b.max(0) as usize + a.max(0) as usize;
    }
    let out = Tensor::empty_on(&out_shape, x.dtype(), x.device())?;
    let mut l = out.layout().clone();
    for d in 0..nd {
        l.offset += before[d] * l.strides[d] as usize;
        l.shape[d] = src.shape()[d];
    }
    let pads = (0..nd).flat_map(|d| [before[d] as i64, (out_shape[d] - src.shape()[d] - before[d]) as i64]).collect();
    let op = crate::op::Op::Pad(crate::op::PadAttrs { value, pads });
    if out.numel() == 0 {
        // nothing to write
    } else if crate::dispatch::declares(x.device(), op.id()) {
        crate::dispatch::launch(&op, &[&out], &[&src])?;
    } else {
        // decomposed: fill, then copy into the interior
        fill_raw(&out, value)?;
        copy_raw(&out.alias(l.clone()), &src)?;
    }
    if x.dtype().is_float() && crate::tensor::graph::needs_grad(&[&src]) {
        let geo = Layout { shape: l.shape.clone(), strides: contiguous_strides(&out_shape), offset: l.offset };
        record("ConstantPadNdBackward0", &[&src], &[&out], vec![], move |g, _| {
            let Some(g) = &g[0] else { return Ok(vec![None]) };
            Ok(vec![Some(as_strided(&super::contiguous(g)?, &geo)?)])
        });
    }
    Ok(out)
}
