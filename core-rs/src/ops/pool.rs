//! 2-D max pooling on the CPU: one pass per (image, channel) plane that keeps the value and
//! the flat index (into the unpadded plane, as PyTorch reports it) of each window's maximum;
//! the backward scatters the output gradient to those indices. Plugin devices compose the
//! op from primitives in Python instead.
use super::copy::{staged, staging_out, unstage};
use crate::op::fused::MaxPool2dAttrs;
use crate::op::FusedOp;
use crate::tensor::graph::{record, Save};
use crate::dtype::{DType, Element};
use crate::error::{Error, Result};
use crate::kernels::{parallel_for, SendPtr};
use crate::tensor::Tensor;

mod k3s2;

/// Geometry of one pooling window sweep over an [N, C, H, W] input.
#[derive(Clone, Copy, Debug)]
pub struct Pool2dParams {
    pub kernel: (usize, usize),
    pub stride: (usize, usize),
    pub padding: (usize, usize),
    pub dilation: (usize, usize),
    pub ceil_mode: bool,
}

fn out_len(len: usize, k: usize, s: usize, p: usize, d: usize, ceil: bool) -> Option<usize> {
    let span = d * (k - 1) + 1;
    if len + 2 * p < span {
        return None;
    }
    let room = len + 2 * p - span;
    let mut o = if ceil { room.div_ceil(s) } else { room / s } + 1;
    // the last window must start inside the input or the left padding
    if ceil && (o - 1) * s >= len + p {
        o -= 1;
    }
    Some(o)
}

/// Output height and width, or a clear error naming the shapes.
pub fn pool_out_shape(x: &[usize], p: &Pool2dParams) -> Result<(usize, usize)> {
    let bad = |why: String| Err(Error::Runtime(format!("max_pool2d: {why} (input shape {x:?}, kernel {:?}, stride {:?}, padding {:?}, dilation {:?})", p.kernel, p.stride, p.padding, p.dilation)));
    if x.len() != 4 {
        return bad("expected a 4-D input [N, C, H, W]".into());
    }
    let (k, s, d) = (p.kernel, p.stride, p.dilation);
    if k.0 == 0 || k.1 == 0 || s.0 == 0 || s.1 == 0 || d.0 == 0 || d.1 == 0 {
        return bad("kernel, stride and dilation must be positive".into());
    }
    if 2 * p.padding.0 > k.0 || 2 * p.padding.1 > k.1 {
        return bad("pad should be at most half of effective kernel size".into());
    }
    match (out_len(x[2], k.0, s.0, p.padding.0, d.0, p.ceil_mode), out_len(x[3], k.1, s.1, p.padding.1, d.1, p.ceil_mode)) {
        (Some(oh), Some(ow)) if oh > 0 && ow > 0 => Ok((oh, ow)),
        _ => bad("the window is larger than the padded input".into()),
    }
}

trait PoolElem: Element + PartialOrd {
    fn is_nan(self) -> bool;
    fn neg_inf() -> Self;
}
impl PoolElem for f32 {
    fn is_nan(self) -> bool {
        f32::is_nan(self)
    }
    fn neg_inf() -> Self {
        f32::NEG_INFINITY
    }
}
impl PoolElem for f64 {
    fn is_nan(self) -> bool {
        f64::is_nan(self)
    }
    fn neg_inf() -> Self {
        f64::NEG_INFINITY
    }
}

/// The kernel offsets 0..k whose tap `start + i * d` falls inside 0..len: (first, end).
fn valid_taps(start: isize, k: usize, d: usize, len: usize) -> (usize, usize) {
    let d = d as isize;
    let lo = if start < 0 { (-start + d - 1) / d } else { 0 };
    let last = len as isize - 1 - start; // taps with i * d <= last
    let hi = if last < 0 { 0 } else { (last / d + 1).min(k as isize) };
    (lo.min(k as isize) as usize, hi.max(lo) as usize)
}

/// Whether `v` replaces the running maximum `best` in scan order: greater, or the first NaN
/// (which wins and then stays, as in PyTorch).
#[inline(always)]
fn beats<T: PoolElem>(v: T, best: T) -> bool {
    v > best || (v.is_nan() && !best.is_nan())
}

/// The horizontal pass over one input row: for each output column, the maximum of its taps
/// inside the row and (with `IDX`) the column it came from. `cols` holds each window's start
/// and valid taps; `s`, `d` are the stride and dilation, passed as constants for the common
/// windows so the loop vectorises.
#[inline(always)]
fn row_max<T: PoolElem, const IDX: bool>(row: &[T], cols: &[(isize, usize, usize)], d: usize, hv: &mut [T], hc: &mut [u32]) {
    for (oj, &(x0, la, lb)) in cols.iter().enumerate() {
        let (mut best, mut at) = (T::neg_inf(), 0u32);
        if la < lb {
            let first = (x0 + (la * d) as isize) as usize;
            best = row[first];
            at = first as u32;
            for kj in la + 1..lb {
                let xx = first + (kj - la) * d;
                let v = row[xx];
                if beats(v, best) {
                    best = v;
                    if IDX {
                        at = xx as u32;
                    }
                }
            }
        }
        hv[oj] = best;
        if IDX {
            hc[oj] = at;
        }
    }
}

/// 3-wide windows at stride 2 (ResNet's stem): the interior columns without bounds checks.
#[inline(always)]
fn row_max_k3s2<T: PoolElem, const IDX: bool>(row: &[T], cols: &[(isize, usize, usize)], hv: &mut [T], hc: &mut [u32]) {
    // interior: output columns whose three taps are all inside the row
    let lo = cols.iter().position(|&(x0, la, lb)| x0 >= 0 && la == 0 && lb == 3).unwrap_or(cols.len());
    let hi = lo + cols[lo..].iter().take_while(|&&(_, la, lb)| la == 0 && lb == 3).count();
    row_max::<T, IDX>(row, &cols[..lo], 1, &mut hv[..lo], if IDX { &mut hc[..lo] } else { &mut [] });
    if lo < hi {
        let base = cols[lo].0 as usize;
        let src = &row[base..base + 2 * (hi - lo) + 1];
        for (k, o) in (lo..hi).enumerate() {
            let (a, b, c) = (src[2 * k], src[2 * k + 1], src[2 * k + 2]);
            // selects rather than branches: the data decides them at random
            let bb = beats(b, a);
            let (best, at) = (if bb { b } else { a }, bb as u32);
            let cb = beats(c, best);
            let (best, at) = (if cb { c } else { best }, if cb { 2 } else { at });
            hv[o] = best;
            if IDX {
                hc[o] = (base + 2 * k) as u32 + at;
            }
        }
    }
    row_max::<T, IDX>(row, &cols[hi..], 1, &mut hv[hi..], if IDX { &mut hc[hi..] } else { &mut [] });
}

/// One plane. With indices: the horizontal maxima of every input row once (rows are shared by
/// overlapping windows), then per output row the vertical maximum over its rows' results,
/// keeping the first maximum in row-major scan order (the earliest row wins ties, and each
/// row's result is already its earliest column), so values and indices equal a
/// window-by-window scan. Values only: vertical first, then horizontal.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn plane_max<T: PoolElem, const IDX: bool>(src: &[T], w: usize, rows: &[(isize, usize, usize)], cols: &[(isize, usize, usize)], p: &Pool2dParams, hv: &mut [T], hc: &mut [u32], ys: &mut [T], is: &mut [i64]) {
    let ow = cols.len();
    let h = src.len() / w.max(1);
    let k3s2 = p.kernel.1 == 3 && p.stride.1 == 2 && p.dilation.1 == 1;
    let d0 = p.dilation.0;
    if !IDX {
        // values only: the rows' column-wise maximum first (contiguous, vectorises), then one
        // horizontal pass per output row over it (only the values must match a scan's)
        let t = &mut hv[..w];
        for (oi, &(y0, ka, kb)) in rows.iter().enumerate() {
            let yo = &mut ys[oi * ow..(oi + 1) * ow];
            if ka >= kb || ow == 0 {
                yo.fill(T::neg_inf());
                continue;
            }
            let r0 = (y0 + (ka * d0) as isize) as usize;
            t.copy_from_slice(&src[r0 * w..(r0 + 1) * w]);
            for ki in ka + 1..kb {
                let r = r0 + (ki - ka) * d0;
                for (a, &v) in t.iter_mut().zip(&src[r * w..(r + 1) * w]) {
                    // a select, not a conditional store, so the loop vectorises
                    *a = if beats(v, *a) { v } else { *a };
                }
            }
            if k3s2 {
                row_max_k3s2::<T, false>(t, cols, yo, &mut []);
            } else {
                row_max::<T, false>(t, cols, p.dilation.1, yo, &mut []);
            }
        }
        return;
    }
    for r in 0..h {
        let (rv, rc) = (&mut hv[r * ow..(r + 1) * ow], if IDX { &mut hc[r * ow..(r + 1) * ow] } else { &mut [][..] });
        let row = &src[r * w..(r + 1) * w];
        if k3s2 {
            row_max_k3s2::<T, IDX>(row, cols, rv, rc);
        } else {
            row_max::<T, IDX>(row, cols, p.dilation.1, rv, rc);
        }
    }
    for (oi, &(y0, ka, kb)) in rows.iter().enumerate() {
        let (yo, io) = (&mut ys[oi * ow..(oi + 1) * ow], &mut is[if IDX { oi * ow..(oi + 1) * ow } else { 0..0 }]);
        if ka >= kb || ow == 0 {
            yo.fill(T::neg_inf());
            io.fill(0);
            continue;
        }
        let r0 = (y0 + (ka * d0) as isize) as usize;
        yo.copy_from_slice(&hv[r0 * ow..(r0 + 1) * ow]);
        let mut rsel = vec![r0 as u32; if IDX { ow } else { 0 }];
        for ki in ka + 1..kb {
            let r = r0 + (ki - ka) * d0;
            let hrow = &hv[r * ow..(r + 1) * ow];
            for oj in 0..ow {
                let b = beats(hrow[oj], yo[oj]);
                yo[oj] = if b { hrow[oj] } else { yo[oj] };
                rsel[oj] = if b { r as u32 } else { rsel[oj] };
            }
        }
        if IDX {
            for oj in 0..ow {
                let r = rsel[oj] as usize;
                io[oj] = (r * w + hc[r * ow + oj] as usize) as i64;
            }
        }
    }
}

/// `plane_max` compiled for AVX2 as well (its selects become vector blends), chosen per call.
#[allow(clippy::too_many_arguments)]
fn dispatch_plane<T: PoolElem, const IDX: bool>(avx2: bool, (src, w): (&[T], usize), rows: &[(isize, usize, usize)], cols: &[(isize, usize, usize)], p: &Pool2dParams, (hv, hc): (&mut [T], &mut [u32]), ys: &mut [T], is: &mut [i64]) {
    #[cfg(target_arch = "x86_64")]
    if avx2 {
        #[target_feature(enable = "avx2,fma")]
        #[allow(clippy::too_many_arguments)]
        unsafe fn go<T: PoolElem, const IDX: bool>(src: &[T], w: usize, rows: &[(isize, usize, usize)], cols: &[(isize, usize, usize)], p: &Pool2dParams, hv: &mut [T], hc: &mut [u32], ys: &mut [T], is: &mut [i64]) {
            plane_max::<T, IDX>(src, w, rows, cols, p, hv, hc, ys, is)
        }
        return unsafe { go::<T, IDX>(src, w, rows, cols, p, hv, hc, ys, is) };
    }
    let _ = avx2;
    plane_max::<T, IDX>(src, w, rows, cols, p, hv, hc, ys, is)
}

fn forward_typed<T: PoolElem>(y: &Tensor, idx: Option<&Tensor>, x: &Tensor, p: &Pool2dParams, oh: usize, ow: usize) {
    let (n, c, h, w) = (x.shape()[0], x.shape()[1], x.shape()[2], x.shape()[3]);
    let xs = x.as_slice::<T>();
    let (py, pi) = (SendPtr(y.data_ptr()), idx.map(|t| SendPtr(t.data_ptr())));
    let (kh, kw) = p.kernel;
    // per output row / column: where its window starts and which taps are inside the input
    let windows = |out: usize, k: usize, s: usize, pad: usize, d: usize, len: usize| -> Vec<(isize, usize, usize)> {
        (0..out)
            .map(|o| {
                let start = (o * s) as isize - pad as isize;
                let (a, b) = valid_taps(start, k, d, len);
                (start, a, b)
            })
            .collect()
    };
    let rows = windows(oh, kh, p.stride.0, p.padding.0, p.dilation.0, h);
    let cols = windows(ow, kw, p.stride.1, p.padding.1, p.dilation.1, w);
    #[cfg(target_arch = "x86_64")]
    let avx2 = crate::kernels::elementwise::has_avx2();
    #[cfg(not(target_arch = "x86_64"))]
    let avx2 = false;
    // ResNet's stem: 3x3 windows at stride 2, padding at most 1, f32, with indices
    let stem = pi.is_some() && T::DTYPE == DType::F32 && p.kernel == (3, 3) && p.stride == (2, 2) && p.dilation == (1, 1) && p.padding.0 <= 1 && p.padding.1 <= 1;
    parallel_for(n * c, h * w + oh * ow * kh, |p0, p1| {
        if stem {
            // the kernel answers false for every plane alike (no AVX-512): then the loop below
            let ok = (p0..p1).all(|plane| unsafe {
                let src = std::slice::from_raw_parts((xs.as_ptr() as *const f32).add(plane * h * w), h * w);
                let ys = std::slice::from_raw_parts_mut((py.get() as *mut f32).add(plane * oh * ow), oh * ow);
                let is = std::slice::from_raw_parts_mut((pi.as_ref().unwrap().get() as *mut i64).add(plane * oh * ow), oh * ow);
                k3s2::plane(src, (h, w), p.padding, (oh, ow), ys, is)
            });
            if ok {
                return;
            }
        }
        let mut hv = vec![T::neg_inf(); (h * ow).max(w)];
        let mut hc = vec![0u32; if pi.is_some() { h * ow } else { 0 }];
        for plane in p0..p1 {
            let src = &xs[plane * h * w..(plane + 1) * h * w];
            let ys = unsafe { std::slice::from_raw_parts_mut((py.get() as *mut T).add(plane * oh * ow), oh * ow) };
            match &pi {
                Some(pi) => {
                    let is = unsafe { std::slice::from_raw_parts_mut((pi.get() as *mut i64).add(plane * oh * ow), oh * ow) };
                    dispatch_plane::<T, true>(avx2, (src, w), &rows, &cols, p, (&mut hv, &mut hc), ys, is)
                }
                None => dispatch_plane::<T, false>(avx2, (src, w), &rows, &cols, p, (&mut hv, &mut hc), ys, &mut []),
            }
        }
    });
}

fn backward_typed<T: PoolElem + std::ops::AddAssign>(gx: &Tensor, gy: &Tensor, idx: &Tensor) {
    let (n, c, h, w) = (gx.shape()[0], gx.shape()[1], gx.shape()[2], gx.shape()[3]);
    let l = gy.shape()[2] * gy.shape()[3];
    let (gs, is) = (gy.as_slice::<T>(), idx.as_slice::<i64>());
    let px = SendPtr(gx.data_ptr());
    parallel_for(n * c, h * w + 2 * l, |p0, p1| {
        for plane in p0..p1 {
            let dst = unsafe { std::slice::from_raw_parts_mut((px.get() as *mut T).add(plane * h * w), h * w) };
            dst.fill(T::zero_val());
            for (&g, &i) in gs[plane * l..(plane + 1) * l].iter().zip(&is[plane * l..(plane + 1) * l]) {
                dst[i as usize] += g;
            }
        }
    });
}

fn compute_dtype(dt: DType) -> DType {
    if dt == DType::F64 { DType::F64 } else { DType::F32 }
}

impl From<&MaxPool2dAttrs> for Pool2dParams {
    fn from(a: &MaxPool2dAttrs) -> Self {
        let u = |v: [i64; 2]| (v[0] as usize, v[1] as usize);
        Pool2dParams { kernel: u(a.kernel), stride: u(a.stride), padding: u(a.padding), dilation: u(a.dilation), ceil_mode: a.ceil_mode }
    }
}

impl From<&Pool2dParams> for MaxPool2dAttrs {
    fn from(p: &Pool2dParams) -> Self {
        let i = |v: (usize, usize)| [v.0 as i64, v.1 as i64];
        MaxPool2dAttrs { kernel: i(p.kernel), stride: i(p.stride), padding: i(p.padding), dilation: i(p.dilation), ceil_mode: p.ceil_mode }
    }
}

/// The fused kernel of max_pool2d (`FusedOp::MaxPool2d`): outs (values, and int64 indices when
/// given).
pub(crate) fn max_pool2d_cpu_kernel(a: &MaxPool2dAttrs, y: &Tensor, idx: Option<&Tensor>, x: &Tensor) -> Result<()> {
    let p = Pool2dParams::from(a);
    let (oh, ow) = pool_out_shape(x.shape(), &p)?;
    let cd = compute_dtype(x.dtype());
    let xc = staged(x, cd)?;
    let yd = staging_out(y, cd)?;
    let id = idx.map(|t| staging_out(t, DType::I64)).transpose()?;
    if cd == DType::F64 {
        forward_typed::<f64>(&yd, id.as_ref(), &xc, &p, oh, ow)
    } else {
        forward_typed::<f32>(&yd, id.as_ref(), &xc, &p, oh, ow)
    }
    unstage(y, &yd)?;
    match (idx, &id) {
        (Some(i), Some(d)) => unstage(i, d),
        _ => Ok(()),
    }
}

/// The fused kernel of max_pool2d's backward (`FusedOp::MaxPool2dBackward`): the output
/// gradient added into a zeroed `gx` at the saved indices.
pub(crate) fn max_pool2d_backward_cpu_kernel(gx: &Tensor, gy: &Tensor, idx: &Tensor) -> Result<()> {
    let cd = compute_dtype(gx.dtype());
    let (g, i) = (staged(gy, cd)?, staged(idx, DType::I64)?);
    let d = staging_out(gx, cd)?;
    if cd == DType::F64 {
        backward_typed::<f64>(&d, &g, &i)
    } else {
        backward_typed::<f32>(&d, &g, &i)
    }
    unstage(gx, &d)
}

/// Gradient of the input of max_pool2d, given the output gradient and the saved indices.
pub fn max_pool2d_backward(gy: &Tensor, idx: &Tensor, x_shape: &[usize], dtype: DType) -> Result<Tensor> {
    if gy.shape() != idx.shape() {
        return Err(Error::Runtime(format!("max_pool2d backward: gradient of shape {:?} does not match the output shape {:?}", gy.shape(), idx.shape())));
    }
    let gx = Tensor::empty(x_shape, dtype)?;
    crate::dispatch::launch_fused(&FusedOp::MaxPool2dBackward, &[&gx], &[gy, idx])?;
    Ok(gx)
}

/// max_pool2d with its derivative: returns the maxima and, when `indices` is set or autograd
/// needs them, their flat indices into each input plane (int64, no gradient). Without them
/// the kernel writes only the values. CPU tensors of a floating dtype only.
pub fn max_pool2d(x: &Tensor, p: Pool2dParams, indices: bool) -> Result<(Tensor, Option<Tensor>)> {
    let (oh, ow) = pool_out_shape(x.shape(), &p)?;
    if !x.dtype().is_float() {
        return Err(Error::Runtime(format!("max_pool2d: expected a floating input, got {} of shape {:?}", x.dtype().name(), x.shape())));
    }
    let shape = [x.shape()[0], x.shape()[1], oh, ow];
    let grad = crate::tensor::graph::needs_grad(&[x]);
    let y = Tensor::empty(&shape, x.dtype())?;
    let op = FusedOp::MaxPool2d((&p).into());
    if !(indices || grad) {
        crate::dispatch::launch_fused(&op, &[&y], &[x])?;
        return Ok((y, None));
    }
    let idx = Tensor::empty(&shape, DType::I64)?;
    crate::dispatch::launch_fused(&op, &[&y, &idx], &[x])?;
    if grad {
        let (shape, dt) = (x.shape().to_vec(), x.dtype());
        record("MaxPool2DWithIndicesBackward0", &[x], &[&y], vec![Save::Input(idx.clone())], move |g, s| {
            let Some(gy) = &g[0] else { return Ok(vec![None]) };
            if crate::tensor::graph::is_grad_enabled() && gy.requires_grad() {
                return Err(Error::Runtime("max_pool2d: double backward (create_graph=True) is not supported yet".into()));
            }
            Ok(vec![Some(max_pool2d_backward(gy, &s[0], &shape, dt)?)])
        });
    }
    Ok((y, Some(idx)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(k: usize, s: usize, p: usize, ceil: bool) -> Pool2dParams {
        Pool2dParams { kernel: (k, k), stride: (s, s), padding: (p, p), dilation: (1, 1), ceil_mode: ceil }
    }

    #[test]
    fn output_sizes_follow_floor_and_ceil_rules() {
        assert_eq!(pool_out_shape(&[1, 1, 112, 112], &params(3, 2, 1, false)).unwrap(), (56, 56));
        assert_eq!(pool_out_shape(&[1, 1, 5, 5], &params(2, 2, 0, false)).unwrap(), (2, 2));
        assert_eq!(pool_out_shape(&[1, 1, 5, 5], &params(2, 2, 0, true)).unwrap(), (3, 3));
        // ceil mode never starts a window in the right padding
        // (5 + 2 - 2) / 2 rounds up to a 4th window, which would start in the right padding
        assert_eq!(pool_out_shape(&[1, 1, 5, 5], &params(2, 2, 1, true)).unwrap(), (3, 3));
        assert_eq!(pool_out_shape(&[1, 1, 6, 6], &params(3, 3, 1, true)).unwrap(), (3, 3));
        assert!(pool_out_shape(&[1, 1, 4, 4], &params(2, 2, 2, false)).is_err());
        assert!(pool_out_shape(&[1, 4, 4], &params(2, 2, 0, false)).is_err());
    }

    #[test]
    fn maxima_indices_and_gradient() {
        crate::init();
        let x = Tensor::from_vec((0..16).map(|v| ((v * 7) % 16) as f32).collect::<Vec<_>>(), &[1, 1, 4, 4]).unwrap();
        let (y, i) = max_pool2d(&x, params(2, 2, 0, false), true).unwrap();
        let i = i.unwrap();
        let xs = x.as_slice::<f32>();
        for (o, (&v, &k)) in y.as_slice::<f32>().iter().zip(i.as_slice::<i64>()).enumerate() {
            let (r, c) = (o / 2 * 2, o % 2 * 2);
            let m = [xs[r * 4 + c], xs[r * 4 + c + 1], xs[r * 4 + 4 + c], xs[r * 4 + 5 + c]].into_iter().fold(f32::MIN, f32::max);
            assert_eq!(v, m);
            assert_eq!(xs[k as usize], m);
        }
        let gy = Tensor::from_vec(vec![1f32, 2., 3., 4.], &[1, 1, 2, 2]).unwrap();
        let gx = max_pool2d_backward(&gy, &i, &[1, 1, 4, 4], DType::F32).unwrap();
        assert_eq!(gx.as_slice::<f32>().iter().sum::<f32>(), 10.0);
        for (o, &k) in i.as_slice::<i64>().iter().enumerate() {
            assert_eq!(gx.as_slice::<f32>()[k as usize], (o + 1) as f32);
        }
    }
}
