//! 2-D convolution: forward, input-gradient and weight-gradient primitives, each an im2col
//! into a per-thread buffer that is reused across the batch, followed by one GEMM per group
//! (1x1 stride-1 unpadded convolutions skip im2col and multiply the input directly).
use super::{cast, contiguous};
use crate::autograd::{record, Save};
use crate::dtype::DType;
use crate::error::{Error, Result};
use crate::kernels::{num_threads, pool, SendPtr};
use crate::tensor::Tensor;
use gemm::Parallelism;
use rayon::prelude::*;

/// Geometry of one convolution.
#[derive(Clone, Copy, Debug)]
pub struct Conv2dParams {
    pub stride: (usize, usize),
    pub padding: (usize, usize),
    pub dilation: (usize, usize),
    pub groups: usize,
}

#[derive(Clone, Copy, Debug)]
struct Geo {
    n: usize,
    c: usize,
    h: usize,
    w: usize,
    o: usize,
    kh: usize,
    kw: usize,
    oh: usize,
    ow: usize,
    p: Conv2dParams,
}

impl Geo {
    fn new(x: &[usize], w: &[usize], p: Conv2dParams) -> Result<Geo> {
        if x.len() != 4 || w.len() != 4 {
            return Err(Error::Runtime(format!("conv2d: expected 4-D input and weight, got shapes {x:?} and {w:?}")));
        }
        let (n, c, h, wd) = (x[0], x[1], x[2], x[3]);
        let (o, cg, kh, kw) = (w[0], w[1], w[2], w[3]);
        if p.groups == 0 || c != cg * p.groups || o % p.groups != 0 {
            return Err(Error::Runtime(format!(
                "conv2d: input {x:?} has {c} channels but weight {w:?} with groups={} expects {}",
                p.groups,
                cg * p.groups
            )));
        }
        let span_h = p.dilation.0 * (kh.max(1) - 1) + 1;
        let span_w = p.dilation.1 * (kw.max(1) - 1) + 1;
        let (ph, pw) = (h + 2 * p.padding.0, wd + 2 * p.padding.1);
        if ph < span_h || pw < span_w || p.stride.0 == 0 || p.stride.1 == 0 {
            return Err(Error::Runtime(format!(
                "conv2d: kernel {kh}x{kw} (dilation {:?}) is larger than the padded input {ph}x{pw} (input {x:?}, padding {:?})",
                p.dilation, p.padding
            )));
        }
        let oh = (ph - span_h) / p.stride.0 + 1;
        let ow = (pw - span_w) / p.stride.1 + 1;
        Ok(Geo { n, c, h, w: wd, o, kh, kw, oh, ow, p })
    }
    fn cg(&self) -> usize {
        self.c / self.p.groups
    }
    fn og(&self) -> usize {
        self.o / self.p.groups
    }
    fn k(&self) -> usize {
        self.cg() * self.kh * self.kw
    }
    fn l(&self) -> usize {
        self.oh * self.ow
    }
    fn direct(&self) -> bool {
        self.kh == 1 && self.kw == 1 && self.p.stride == (1, 1) && self.p.padding == (0, 0)
    }
}

/// Fills `col` [C*KH*KW, OH*OW] from one image [C, H, W].
fn im2col<T: Copy + Default>(img: &[T], g: &Geo, col: &mut [T]) {
    let (l, ow) = (g.l(), g.ow);
    let mut row = 0;
    for ci in 0..g.c {
        let plane = &img[ci * g.h * g.w..(ci + 1) * g.h * g.w];
        for ki in 0..g.kh {
            for kj in 0..g.kw {
                let dst = &mut col[row * l..(row + 1) * l];
                for oi in 0..g.oh {
                    let y = (oi * g.p.stride.0 + ki * g.p.dilation.0) as isize - g.p.padding.0 as isize;
                    let d = &mut dst[oi * ow..(oi + 1) * ow];
                    if y < 0 || y >= g.h as isize {
                        d.fill(T::default());
                        continue;
                    }
                    let src = &plane[y as usize * g.w..(y as usize + 1) * g.w];
                    for (oj, v) in d.iter_mut().enumerate() {
                        let x = (oj * g.p.stride.1 + kj * g.p.dilation.1) as isize - g.p.padding.1 as isize;
                        *v = if x < 0 || x >= g.w as isize { T::default() } else { src[x as usize] };
                    }
                }
                row += 1;
            }
        }
    }
}

/// Fills `col` [C*KH*KW, l1-l0] with the im2col columns of output positions l0..l1 only, so a
/// tile of the column matrix stays in cache between its construction and the GEMM that reads it.
fn im2col_range<T: Copy + Default>(img: &[T], g: &Geo, l0: usize, l1: usize, col: &mut [T]) {
    let lt = l1 - l0;
    let mut row = 0;
    for ci in 0..g.c {
        let plane = &img[ci * g.h * g.w..(ci + 1) * g.h * g.w];
        for ki in 0..g.kh {
            for kj in 0..g.kw {
                let dst = &mut col[row * lt..(row + 1) * lt];
                // walk the tile one output row at a time: no division per element
                let (mut oi, mut oj) = (l0 / g.ow, l0 % g.ow);
                let mut t = 0;
                while t < lt {
                    let run = (g.ow - oj).min(lt - t);
                    let y = (oi * g.p.stride.0 + ki * g.p.dilation.0) as isize - g.p.padding.0 as isize;
                    let d = &mut dst[t..t + run];
                    if y < 0 || y >= g.h as isize {
                        d.fill(T::default());
                    } else {
                        let src = &plane[y as usize * g.w..(y as usize + 1) * g.w];
                        for (q, v) in d.iter_mut().enumerate() {
                            let x = ((oj + q) * g.p.stride.1 + kj * g.p.dilation.1) as isize - g.p.padding.1 as isize;
                            *v = if x < 0 || x >= g.w as isize { T::default() } else { src[x as usize] };
                        }
                    }
                    t += run;
                    oi += 1;
                    oj = 0;
                }
                row += 1;
            }
        }
    }
}

/// Output positions per im2col tile: a [K, tile] block of about 1 MiB (wide enough for the
/// GEMM to run near full speed, small enough to stay in the last-level cache).
fn tile_len<T>(g: &Geo) -> usize {
    let k = g.c * g.kh * g.kw;
    let per = (1024 * 1024 / std::mem::size_of::<T>()) / k.max(1);
    per.clamp(256, g.l().max(256)).min(g.l())
}

/// Accumulates `col` [C*KH*KW, OH*OW] back into one image gradient [C, H, W].
fn col2im<T: Copy + std::ops::AddAssign>(col: &[T], g: &Geo, img: &mut [T]) {
    let (l, ow) = (g.l(), g.ow);
    let mut row = 0;
    for ci in 0..g.c {
        let plane = &mut img[ci * g.h * g.w..(ci + 1) * g.h * g.w];
        for ki in 0..g.kh {
            for kj in 0..g.kw {
                let src = &col[row * l..(row + 1) * l];
                for oi in 0..g.oh {
                    let y = (oi * g.p.stride.0 + ki * g.p.dilation.0) as isize - g.p.padding.0 as isize;
                    if y < 0 || y >= g.h as isize {
                        continue;
                    }
                    let dst = &mut plane[y as usize * g.w..(y as usize + 1) * g.w];
                    for oj in 0..ow {
                        let x = (oj * g.p.stride.1 + kj * g.p.dilation.1) as isize - g.p.padding.1 as isize;
                        if x >= 0 && (x as usize) < g.w {
                            dst[x as usize] += src[oi * ow + oj];
                        }
                    }
                }
                row += 1;
            }
        }
    }
}

/// C[m, n] (row stride ldc) (+)= A[m, k] (rs_a, cs_a) * B[k, n] (rs_b, cs_b)
#[allow(clippy::too_many_arguments)]
unsafe fn gemm_into<T: 'static + crate::dtype::Element>(
    m: usize, n: usize, k: usize,
    c: *mut T, ldc: isize, accumulate: bool,
    a: *const T, rs_a: isize, cs_a: isize,
    b: *const T, rs_b: isize, cs_b: isize,
    par: Parallelism,
) {
    if m == 0 || n == 0 {
        return;
    }
    if k == 0 {
        if !accumulate {
            for i in 0..m {
                for j in 0..n {
                    *c.offset(i as isize * ldc + j as isize) = T::zero_val();
                }
            }
        }
        return;
    }
    gemm::gemm(m, n, k, c, 1, ldc, accumulate, a, cs_a, rs_a, b, cs_b, rs_b, T::one_val(), T::one_val(), false, false, false, par);
}

fn par_for_batch(g: &Geo) -> (bool, Parallelism) {
    let threads = num_threads();
    let flops = g.n * g.o * g.l() * g.k();
    if threads > 1 && g.n >= threads && flops >= 1 << 18 {
        (true, Parallelism::None)
    } else if threads > 1 && flops >= 1 << 18 {
        (false, Parallelism::Rayon(threads))
    } else {
        (false, Parallelism::None)
    }
}

fn forward_typed<T: crate::dtype::Element + Default + std::ops::AddAssign>(x: &Tensor, w: &Tensor, g: &Geo) -> Result<Tensor> {
    let out = Tensor::empty(&[g.n, g.o, g.oh, g.ow], T::DTYPE)?;
    let (xs, ws) = (x.as_slice::<T>(), w.as_slice::<T>());
    let po = SendPtr(out.data_ptr());
    let (k, l, og, cg) = (g.k(), g.l(), g.og(), g.cg());
    let (by_batch, par) = par_for_batch(g);
    let lt_max = tile_len::<T>(g);
    let one = |ni: usize, col: &mut Vec<T>| unsafe {
        let img = &xs[ni * g.c * g.h * g.w..(ni + 1) * g.c * g.h * g.w];
        if g.direct() {
            for gi in 0..g.p.groups {
                let o = (po.get() as *mut T).add(ni * g.o * l + gi * og * l);
                gemm_into(og, l, k, o, l as isize, false, ws.as_ptr().add(gi * og * k), k as isize, 1, img.as_ptr().add(gi * cg * l), l as isize, 1, par);
            }
            return;
        }
        // tiles of output positions: im2col the tile, then one GEMM per group into out[:, tile]
        col.resize(g.c * g.kh * g.kw * lt_max, T::default());
        let mut l0 = 0;
        while l0 < l {
            let l1 = (l0 + lt_max).min(l);
            let lt = l1 - l0;
            im2col_range(img, g, l0, l1, col);
            for gi in 0..g.p.groups {
                let o = (po.get() as *mut T).add(ni * g.o * l + gi * og * l + l0);
                gemm_into(og, lt, k, o, l as isize, false, ws.as_ptr().add(gi * og * k), k as isize, 1, col.as_ptr().add(gi * k * lt), lt as isize, 1, par);
            }
            l0 = l1;
        }
    };
    if by_batch {
        pool().install(|| (0..g.n).into_par_iter().for_each_init(Vec::new, |col, ni| one(ni, col)));
    } else {
        let mut col = Vec::new();
        pool().install(|| (0..g.n).for_each(|ni| one(ni, &mut col)));
    }
    Ok(out)
}

fn input_grad_typed<T: crate::dtype::Element + Default + std::ops::AddAssign>(gy: &Tensor, w: &Tensor, g: &Geo) -> Result<Tensor> {
    let gx = Tensor::zeros(&[g.n, g.c, g.h, g.w], T::DTYPE)?;
    let (gys, ws) = (gy.as_slice::<T>(), w.as_slice::<T>());
    let px = SendPtr(gx.data_ptr());
    let (k, l, og, cg) = (g.k(), g.l(), g.og(), g.cg());
    let (by_batch, par) = par_for_batch(g);
    let one = |ni: usize, col: &mut Vec<T>| unsafe {
        let img = std::slice::from_raw_parts_mut((px.get() as *mut T).add(ni * g.c * g.h * g.w), g.c * g.h * g.w);
        let dst: *mut T = if g.direct() {
            img.as_mut_ptr()
        } else {
            col.resize(g.c * g.kh * g.kw * l, T::default());
            col.as_mut_ptr()
        };
        for gi in 0..g.p.groups {
            // col_g [K, L] = W_g^T [K, Og] @ gy_g [Og, L]
            gemm_into(k, l, og, dst.add(gi * cg * g.kh * g.kw * l), l as isize, false,
                ws.as_ptr().add(gi * og * k), 1, k as isize,
                gys.as_ptr().add(ni * g.o * l + gi * og * l), l as isize, 1, par);
        }
        if !g.direct() {
            col2im(col, g, img);
        }
    };
    if by_batch {
        pool().install(|| (0..g.n).into_par_iter().for_each_init(Vec::new, |col, ni| one(ni, col)));
    } else {
        let mut col = Vec::new();
        pool().install(|| (0..g.n).for_each(|ni| one(ni, &mut col)));
    }
    Ok(gx)
}

fn weight_grad_typed<T: crate::dtype::Element + Default + std::ops::AddAssign>(gy: &Tensor, x: &Tensor, g: &Geo) -> Result<Tensor> {
    let (k, l, og, cg) = (g.k(), g.l(), g.og(), g.cg());
    let (gys, xs) = (gy.as_slice::<T>(), x.as_slice::<T>());
    let wsize = g.o * k;
    let threads = num_threads();
    let flops = g.n * g.o * l * k;
    // Each worker accumulates into its own buffer over a slice of the batch; then they are summed.
    let parts = if threads > 1 && g.n >= 2 && flops >= 1 << 18 { threads.min(g.n) } else { 1 };
    let par = if parts == 1 && threads > 1 && flops >= 1 << 18 { Parallelism::Rayon(threads) } else { Parallelism::None };
    let per = g.n.div_ceil(parts);
    let partial: Vec<Vec<T>> = pool().install(|| {
        (0..parts)
            .into_par_iter()
            .map(|pi| {
                let mut acc = vec![T::zero_val(); wsize];
                let mut col: Vec<T> = Vec::new();
                let mut first = true;
                for ni in pi * per..((pi + 1) * per).min(g.n) {
                    let img = &xs[ni * g.c * g.h * g.w..(ni + 1) * g.c * g.h * g.w];
                    let src: *const T = if g.direct() {
                        img.as_ptr()
                    } else {
                        col.resize(g.c * g.kh * g.kw * l, T::default());
                        im2col(img, g, &mut col);
                        col.as_ptr()
                    };
                    for gi in 0..g.p.groups {
                        // gW_g [Og, K] += gy_g [Og, L] @ col_g^T [L, K]
                        unsafe {
                            gemm_into(og, k, l, acc.as_mut_ptr().add(gi * og * k), k as isize, !first,
                                gys.as_ptr().add(ni * g.o * l + gi * og * l), l as isize, 1,
                                src.add(gi * cg * g.kh * g.kw * l), 1, l as isize, par);
                        }
                    }
                    first = false;
                }
                acc
            })
            .collect()
    });
    let out = Tensor::empty(&[g.o, cg, g.kh, g.kw], T::DTYPE)?;
    let os = out.as_slice_mut::<T>();
    os.copy_from_slice(&partial[0]);
    for p in &partial[1..] {
        for (o, v) in os.iter_mut().zip(p) {
            *o += *v;
        }
    }
    Ok(out)
}

fn compute_dtype(dt: DType) -> DType {
    if dt == DType::F64 { DType::F64 } else { DType::F32 }
}

fn conv_scalars(p: &Conv2dParams) -> Vec<super::Scalar> {
    [p.stride.0, p.stride.1, p.padding.0, p.padding.1, p.dilation.0, p.dilation.1, p.groups]
        .iter()
        .map(|&v| super::Scalar::Int(v as i64))
        .collect()
}

/// One of the three conv kernels on a plugin device; `out_shape` in the operands' dtype.
fn device_conv(op: &str, out_shape: &[usize], a: &Tensor, b: &Tensor, p: &Conv2dParams) -> Result<Option<Tensor>> {
    let dev = crate::device::common(op, &[a, b])?;
    if dev.is_cpu() {
        return Ok(None);
    }
    let dt = if a.dtype().is_float() { a.dtype() } else { b.dtype() };
    let a = crate::autograd::with_grad_mode(false, || cast(a, dt))?;
    let b = crate::autograd::with_grad_mode(false, || cast(b, dt))?;
    let out = Tensor::empty_on(out_shape, dt, dev)?;
    if out.numel() > 0 {
        if a.numel() == 0 || b.numel() == 0 {
            crate::ops::fill_raw(&out, 0.0)?;
        } else {
            crate::device::launch(op, &[&out], &[&a, &b], &conv_scalars(p))?;
        }
    }
    Ok(Some(out))
}

fn prep(t: &Tensor, cd: DType) -> Result<Tensor> {
    crate::autograd::with_grad_mode(false, || contiguous(&cast(t, cd)?))
}

/// Forward convolution without autograd.
pub fn conv2d_raw(x: &Tensor, w: &Tensor, p: Conv2dParams) -> Result<Tensor> {
    let g = Geo::new(x.shape(), w.shape(), p)?;
    if !x.dtype().is_float() || x.dtype() != w.dtype() {
        return Err(Error::Runtime(format!(
            "conv2d: input ({}) and weight ({}) must have the same floating dtype",
            x.dtype().name(),
            w.dtype().name()
        )));
    }
    if let Some(y) = device_conv("conv2d", &[g.n, g.o, g.oh, g.ow], x, w, &p)? {
        return Ok(y);
    }
    let cd = compute_dtype(x.dtype());
    let (xc, wc) = (prep(x, cd)?, prep(w, cd)?);
    let y = if cd == DType::F64 { forward_typed::<f64>(&xc, &wc, &g)? } else { forward_typed::<f32>(&xc, &wc, &g)? };
    crate::autograd::with_grad_mode(false, || cast(&y, x.dtype()))
}

/// Gradient of the input given the output gradient, without autograd.
pub fn conv2d_input_grad(gy: &Tensor, w: &Tensor, x_shape: &[usize], p: Conv2dParams) -> Result<Tensor> {
    let g = Geo::new(x_shape, w.shape(), p)?;
    if let Some(r) = device_conv("conv2d_input_grad", x_shape, gy, w, &p)? {
        return Ok(r);
    }
    let cd = compute_dtype(w.dtype());
    let (gc, wc) = (prep(gy, cd)?, prep(w, cd)?);
    let r = if cd == DType::F64 { input_grad_typed::<f64>(&gc, &wc, &g)? } else { input_grad_typed::<f32>(&gc, &wc, &g)? };
    crate::autograd::with_grad_mode(false, || cast(&r, w.dtype()))
}

/// Gradient of the weight given the output gradient, without autograd.
pub fn conv2d_weight_grad(gy: &Tensor, x: &Tensor, w_shape: &[usize], p: Conv2dParams) -> Result<Tensor> {
    let g = Geo::new(x.shape(), w_shape, p)?;
    if let Some(r) = device_conv("conv2d_weight_grad", w_shape, gy, x, &p)? {
        return Ok(r);
    }
    let cd = compute_dtype(x.dtype());
    let (gc, xc) = (prep(gy, cd)?, prep(x, cd)?);
    let r = if cd == DType::F64 { weight_grad_typed::<f64>(&gc, &xc, &g)? } else { weight_grad_typed::<f32>(&gc, &xc, &g)? };
    crate::autograd::with_grad_mode(false, || cast(&r, x.dtype()))
}

/// conv2d with its derivative. The backward kernels are themselves primitives: a second
/// derivative through them is refused with a clear error rather than computed wrong.
pub fn conv2d(x: &Tensor, w: &Tensor, p: Conv2dParams) -> Result<Tensor> {
    let y = conv2d_raw(x, w, p)?;
    if crate::autograd::needs_grad(&[x, w]) {
        let (xs, ws) = (x.shape().to_vec(), w.shape().to_vec());
        let (rx, rw) = (x.requires_grad(), w.requires_grad());
        record("ConvolutionBackward0", &[x, w], &[&y], vec![Save::Input(x.clone()), Save::Input(w.clone())], move |g, s| {
            let Some(gy) = &g[0] else { return Ok(vec![None, None]) };
            if crate::autograd::is_grad_enabled() && (gy.requires_grad() || s[0].requires_grad() || s[1].requires_grad()) {
                return Err(Error::Runtime(
                    "conv2d: double backward (create_graph=True through a convolution) is not supported yet".into(),
                ));
            }
            let gx = if rx { Some(conv2d_input_grad(gy, &s[1], &xs, p)?) } else { None };
            let gw = if rw { Some(conv2d_weight_grad(gy, &s[0], &ws, p)?) } else { None };
            Ok(vec![gx, gw])
        });
    }
    Ok(y)
}
