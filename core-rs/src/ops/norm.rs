//! Fused batch normalisation (training mode): statistics, normalisation and the closed-form
//! backward in single passes per channel. Saves only the input and two [C] vectors, where
//! the composite would keep several full-size intermediates for backward.
use super::cast;
use super::copy::{staged, staging_out, unstage};
use crate::op::fused::{BatchNormAttrs, BatchNormBackwardAttrs};
use crate::op::FusedOp;
use crate::tensor::graph::{record, Save};
use crate::dtype::DType;
use crate::error::{Error, Result};
use crate::kernels::{parallel_for, SendPtr};
use crate::tensor::Tensor;
use super::rows::{as_f32, as_f32_mut};

mod bn512;

pub(super) fn dims(x: &Tensor) -> Result<(usize, usize, usize)> {
    if x.ndim() < 2 {
        return Err(Error::Runtime(format!("batch_norm: expected an input with at least 2 dims [N, C, ...], got shape {:?}", x.shape())));
    }
    let (n, c) = (x.shape()[0], x.shape()[1]);
    let s: usize = x.shape()[2..].iter().product();
    Ok((n, c, s))
}


/// A float the fused kernels run in (f32, or f64 for f64 inputs): the row kernels' float, so
/// the statistics below are layer norm's implementation (`rows`), AVX-512 for f32.
pub(super) use super::rows::Fl as Lane;

/// (sum of x - shift, sum of (x - shift)^2), in f64.
#[inline(always)]
fn moments<T: Lane>(row: &[T], shift: T) -> (f64, f64) {
    T::dev_moments(row, shift)
}

/// (sum of g, sum of g * (x - mu)), in f64.
#[inline(always)]
fn grad_moments<T: Lane>(g: &[T], x: &[T], mu: T) -> (f64, f64) {
    T::grad_moments(g, None, x, mu)
}

/// dst = x * a + b (+ r when `res`), then ReLU when `relu` (0 where <= 0; a NaN stays NaN).
#[inline(always)]
fn act_affine<T: Lane, const RELU: bool>(dst: &mut [T], x: &[T], res: Option<&[T]>, a: T, b: T) {
    match res {
        Some(r) => {
            for ((d, &v), &rv) in dst.iter_mut().zip(x).zip(r) {
                let z = v * a + b + rv;
                *d = if RELU && z <= T::default() { T::default() } else { z };
            }
        }
        None => {
            for (d, &v) in dst.iter_mut().zip(x) {
                let z = v * a + b;
                *d = if RELU && z <= T::default() { T::default() } else { z };
            }
        }
    }
}

/// dst = g where y > 0 else 0 (the ReLU's mask recovered from its output).
#[inline(always)]
fn relu_mask<T: Lane>(dst: &mut [T], g: &[T], y: &[T]) {
    for ((d, &gv), &yv) in dst.iter_mut().zip(g).zip(y) {
        *d = if yv > T::default() { gv } else { T::default() };
    }
}

/// dst = g * a + x * b + c
#[inline(always)]
fn affine2<T: Lane>(dst: &mut [T], g: &[T], x: &[T], a: T, b: T, c: T) {
    for ((d, &gv), &xv) in dst.iter_mut().zip(g).zip(x) {
        *d = gv * a + xv * b + c;
    }
}

/// The loops above compiled for AVX2+FMA as well, chosen once per call.
#[derive(Clone, Copy)]
pub(super) struct Kern {
    avx2: bool,
    /// the f32 planes go to `bn512`
    avx512: bool,
}

#[cfg(target_arch = "x86_64")]
mod avx2 {
    use super::Lane;
    #[target_feature(enable = "avx2,fma")]
    pub unsafe fn moments<T: Lane>(row: &[T], shift: T) -> (f64, f64) {
        super::moments(row, shift)
    }
    #[target_feature(enable = "avx2,fma")]
    pub unsafe fn grad_moments<T: Lane>(g: &[T], x: &[T], mu: T) -> (f64, f64) {
        super::grad_moments(g, x, mu)
    }
    #[target_feature(enable = "avx2,fma")]
    pub unsafe fn act_affine<T: Lane, const RELU: bool>(dst: &mut [T], x: &[T], res: Option<&[T]>, a: T, b: T) {
        super::act_affine::<T, RELU>(dst, x, res, a, b)
    }
    #[target_feature(enable = "avx2,fma")]
    pub unsafe fn relu_mask<T: Lane>(dst: &mut [T], g: &[T], y: &[T]) {
        super::relu_mask(dst, g, y)
    }
    #[target_feature(enable = "avx2,fma")]
    pub unsafe fn affine2<T: Lane>(dst: &mut [T], g: &[T], x: &[T], a: T, b: T, c: T) {
        super::affine2(dst, g, x, a, b, c)
    }
}

impl Kern {
    pub(super) fn new() -> Kern {
        #[cfg(target_arch = "x86_64")]
        let avx2 = crate::kernels::elementwise::has_avx2() && std::arch::is_x86_feature_detected!("fma");
        #[cfg(not(target_arch = "x86_64"))]
        let avx2 = false;
        Kern { avx2, avx512: bn512::available() }
    }
    pub(super) fn moments<T: Lane>(self, row: &[T], shift: T) -> (f64, f64) {
        #[cfg(target_arch = "x86_64")]
        if self.avx2 {
            return unsafe { avx2::moments(row, shift) };
        }
        moments(row, shift)
    }
    pub(super) fn grad_moments<T: Lane>(self, g: &[T], x: &[T], mu: T) -> (f64, f64) {
        #[cfg(target_arch = "x86_64")]
        if self.avx2 {
            return unsafe { avx2::grad_moments(g, x, mu) };
        }
        grad_moments(g, x, mu)
    }
    /// dst = act(x * a + b [+ res]), act being ReLU when `relu` else the identity.
    pub(super) fn act_affine<T: Lane>(self, dst: &mut [T], x: &[T], res: Option<&[T]>, a: T, b: T, relu: bool) {
        if self.avx512 {
            if let (Some(d), Some(xf)) = (as_f32_mut(dst), as_f32(x)) {
                return bn512::act_affine(d, xf, res.and_then(as_f32), a.f64() as f32, b.f64() as f32, relu);
            }
        }
        #[cfg(target_arch = "x86_64")]
        if self.avx2 {
            return unsafe {
                if relu { avx2::act_affine::<T, true>(dst, x, res, a, b) } else { avx2::act_affine::<T, false>(dst, x, res, a, b) }
            };
        }
        if relu { act_affine::<T, true>(dst, x, res, a, b) } else { act_affine::<T, false>(dst, x, res, a, b) }
    }
    pub(super) fn relu_mask<T: Lane>(self, dst: &mut [T], g: &[T], y: &[T]) {
        #[cfg(target_arch = "x86_64")]
        if self.avx2 {
            return unsafe { avx2::relu_mask(dst, g, y) };
        }
        relu_mask(dst, g, y)
    }
    pub(super) fn affine2<T: Lane>(self, dst: &mut [T], g: &[T], x: &[T], a: T, b: T, c: T) {
        #[cfg(target_arch = "x86_64")]
        if self.avx2 {
            return unsafe { avx2::affine2(dst, g, x, a, b, c) };
        }
        affine2(dst, g, x, a, b, c)
    }
}

/// Statistics and normalisation of one training-mode batch norm: one pass for the moments
/// (shifted by the channel's first value, so a large mean costs no precision), one to write
/// y = act(x * scale + shift [+ res]), act being ReLU when `relu`.
#[allow(clippy::too_many_arguments)]
pub(super) fn forward_typed<T: Lane + crate::dtype::Element>((y, mean, invstd): (&Tensor, &Tensor, &Tensor), x: &Tensor, w: Option<&Tensor>, b: Option<&Tensor>, res: Option<&Tensor>, relu: bool, eps: f64, (n, c, s): (usize, usize, usize)) {
    let xs = x.as_slice::<T>();
    let rs = res.map(|r| r.as_slice::<T>());
    let (py, pm, pi) = (SendPtr(y.data_ptr()), SendPtr(mean.data_ptr()), SendPtr(invstd.data_ptr()));
    let w: Option<Vec<T>> = w.map(|t| t.as_slice::<T>().to_vec());
    let b: Option<Vec<T>> = b.map(|t| t.as_slice::<T>().to_vec());
    let cnt = (n * s) as f64;
    let kern = Kern::new();
    parallel_for(c, n * s * 4, |c0, c1| {
        for ch in c0..c1 {
            let shift = xs[ch * s];
            let (mut s1, mut s2) = (0f64, 0f64);
            for ni in 0..n {
                let (a, q) = kern.moments(&xs[(ni * c + ch) * s..(ni * c + ch + 1) * s], shift);
                s1 += a;
                s2 += q;
            }
            let d = s1 / cnt;
            let mu = shift.f64() + d;
            let var = (s2 / cnt - d * d).max(0.0);
            let inv = 1.0 / (var + eps).sqrt();
            let scale = inv * w.as_ref().map(|w| w[ch].f64()).unwrap_or(1.0);
            let shift_out = b.as_ref().map(|b| b[ch].f64()).unwrap_or(0.0) - mu * scale;
            unsafe {
                *(pm.get() as *mut T).add(ch) = T::of(mu);
                *(pi.get() as *mut T).add(ch) = T::of(inv);
                for ni in 0..n {
                    let off = (ni * c + ch) * s;
                    let dst = std::slice::from_raw_parts_mut((py.get() as *mut T).add(off), s);
                    kern.act_affine(dst, &xs[off..off + s], rs.map(|r| &r[off..off + s]), T::of(scale), T::of(shift_out), relu);
                }
            }
        }
    });
}

/// What a batch norm backward gets besides gy and x: per channel the mean and 1/std it
/// normalised with (batch statistics when `training`, else the running ones, which are
/// constants), the weight, and the forward's output y when a ReLU followed (its mask is
/// y > 0, so nothing else was saved).
pub(super) struct BackwardArgs<'a, T> {
    pub mean: Vec<T>,
    pub inv: Vec<f64>,
    pub weight: Option<Vec<T>>,
    pub y: Option<&'a Tensor>,
    pub training: bool,
    pub need_x: bool,
}

/// The closed-form backward, per channel: the ReLU's mask applied to gy (into `gm`, which is
/// the residual's gradient, or per-thread scratch that stays in cache), then sum(g) and
/// sum(g * (x - mean)) in one pass, then gx in another: training mode
/// gx = a*g + b*x + c, eval mode gx = g * weight / std. Writes gweight, gbias [C] when
/// they have C elements and gm when it has x's.
pub(super) fn backward_typed<T: Lane + crate::dtype::Element>((gx, gw, gb, gm): (&Tensor, &Tensor, &Tensor, &Tensor), gy: &Tensor, x: &Tensor, a: &BackwardArgs<'_, T>, (n, c, s): (usize, usize, usize)) {
    let (gys, xs) = (gy.as_slice::<T>(), x.as_slice::<T>());
    let ys = a.y.map(|y| y.as_slice::<T>());
    let (px, pw, pb, pg) = (SendPtr(gx.data_ptr()), SendPtr(gw.data_ptr()), SendPtr(gb.data_ptr()), SendPtr(gm.data_ptr()));
    let (want_params, want_gm) = (gw.numel() == c, ys.is_some() && gm.numel() == x.numel());
    let cnt = (n * s) as f64;
    let kern = Kern::new();
    let fast = kern.avx512 && T::DT == DType::F32;
    parallel_for(c, n * s * 4, |c0, c1| {
        if fast {
            for ch in c0..c1 {
                backward_channel_f32(ch, (px, pw, pb, pg), (gys, xs, ys), a, (want_params, want_gm), (n, c, s));
            }
            return;
        }
        let mut scratch: Vec<T> = if ys.is_some() && !want_gm { vec![T::default(); n * s] } else { Vec::new() };
        for ch in c0..c1 {
            // the gradient reaching the normalisation, plane by plane: (base pointer, stride)
            let (gbase, gstride): (*const T, usize) = match ys {
                Some(ys) => {
                    let (base, stride) = if want_gm { (pg.get() as *mut T, c * s) } else { (scratch.as_mut_ptr(), s) };
                    let first = if want_gm { ch * s } else { 0 };
                    for ni in 0..n {
                        let off = (ni * c + ch) * s;
                        let dst = unsafe { std::slice::from_raw_parts_mut(base.add(first + ni * stride), s) };
                        kern.relu_mask(dst, &gys[off..off + s], &ys[off..off + s]);
                    }
                    (unsafe { base.add(first) } as *const T, stride)
                }
                None => (unsafe { gys.as_ptr().add(ch * s) }, c * s),
            };
            let g_of = |ni: usize| unsafe { std::slice::from_raw_parts(gbase.add(ni * gstride), s) };
            let (mu, inv) = (a.mean[ch].f64(), a.inv[ch]);
            let (mut sg, mut sgd) = (0f64, 0f64);
            if a.training || want_params {
                for ni in 0..n {
                    let off = (ni * c + ch) * s;
                    let (p, q) = kern.grad_moments(g_of(ni), &xs[off..off + s], a.mean[ch]);
                    sg += p;
                    sgd += q;
                }
            }
            let sgx = sgd * inv;
            if want_params {
                unsafe {
                    *(pb.get() as *mut T).add(ch) = T::of(sg);
                    *(pw.get() as *mut T).add(ch) = T::of(sgx);
                }
            }
            if !a.need_x {
                continue;
            }
            let wv = a.weight.as_ref().map(|w| w[ch].f64()).unwrap_or(1.0);
            for ni in 0..n {
                let off = (ni * c + ch) * s;
                let dst = unsafe { std::slice::from_raw_parts_mut((px.get() as *mut T).add(off), s) };
                if a.training {
                    // gx = k * (cnt * g - sg - xhat * sgx), xhat = (x - mu) * inv, k = w * inv / cnt
                    let k = wv * inv / cnt;
                    let (p, q, r) = (k * cnt, -k * sgx * inv, -k * sg + k * sgx * inv * mu);
                    kern.affine2(dst, g_of(ni), &xs[off..off + s], T::of(p), T::of(q), T::of(r));
                } else {
                    kern.act_affine(dst, g_of(ni), None, T::of(wv * inv), T::default(), false);
                }
            }
        }
    });
}

/// One channel of `backward_typed` for f32 with `bn512`: pass 1 takes both sums from gy
/// masked by y > 0 as it reads it (writing the masked gradient only into gm when wanted),
/// pass 2 writes gx from gy and y again (or from gm): no scratch copy.
#[allow(clippy::type_complexity)]
fn backward_channel_f32<T: Lane + crate::dtype::Element>(ch: usize, (px, pw, pb, pg): (SendPtr, SendPtr, SendPtr, SendPtr), (gys, xs, ys): (&[T], &[T], Option<&[T]>), a: &BackwardArgs<'_, T>, (want_params, want_gm): (bool, bool), (n, c, s): (usize, usize, usize)) {
    fn f<T: Lane>(t: &[T]) -> &[f32] {
        as_f32(t).expect("f32 planes")
    }
    let plane = |p: &SendPtr, off: usize| unsafe { std::slice::from_raw_parts_mut((p.get() as *mut f32).add(off), s) };
    let (mu, inv) = (a.mean[ch].f64(), a.inv[ch]);
    let (mut sg, mut sgd) = (0f64, 0f64);
    if a.training || want_params || want_gm {
        for ni in 0..n {
            let off = (ni * c + ch) * s;
            let gm = if want_gm { Some(plane(&pg, off)) } else { None };
            let (p, q) = bn512::grad_moments(f(&gys[off..off + s]), ys.map(|y| f(&y[off..off + s])), f(&xs[off..off + s]), mu as f32, gm);
            sg += p;
            sgd += q;
        }
    }
    let sgx = sgd * inv;
    if want_params {
        unsafe {
            *(pb.get() as *mut f32).add(ch) = sg as f32;
            *(pw.get() as *mut f32).add(ch) = sgx as f32;
        }
    }
    if !a.need_x {
        return;
    }
    let wv = a.weight.as_ref().map(|w| w[ch].f64()).unwrap_or(1.0);
    let cnt = (n * s) as f64;
    for ni in 0..n {
        let off = (ni * c + ch) * s;
        // the masked gradient: gm as written above, or gy and its mask again
        let (g, y) = if want_gm { (&*plane(&pg, off), None) } else { (f(&gys[off..off + s]), ys.map(|y| f(&y[off..off + s]))) };
        let dst = plane(&px, off);
        if a.training {
            // gx = k (cnt h - sg - xhat sgx), xhat = (x - mu) inv, k = w inv / cnt
            let k = wv * inv / cnt;
            let coef = ((k * cnt) as f32, (-k * sgx * inv) as f32, (-k * sg + k * sgx * inv * mu) as f32);
            bn512::affine2(dst, g, y, Some(f(&xs[off..off + s])), coef);
        } else {
            bn512::affine2(dst, g, y, None, ((wv * inv) as f32, 0.0, 0.0));
        }
    }
}

/// The fused kernel of training-mode batch norm (`FusedOp::BatchNormTrain`).
pub(crate) fn batch_norm_cpu_kernel(a: &BatchNormAttrs, outs: &[&Tensor], ins: &[&Tensor]) -> Result<()> {
    let w = if a.has_weight { Some(ins[1]) } else { None };
    let b = if a.has_bias { Some(ins[1 + a.has_weight as usize]) } else { None };
    train_forward_staged([outs[0], outs[1], outs[2]], ins[0], w, b, None, false, a.eps)
}

/// Training-mode forward in the compute dtype: outs (y, mean, invstd), any dtype and layout.
pub(super) fn train_forward_staged(outs: [&Tensor; 3], x: &Tensor, w: Option<&Tensor>, b: Option<&Tensor>, res: Option<&Tensor>, relu: bool, eps: f64) -> Result<()> {
    let dm = dims(x)?;
    let cd = compute_dtype(x.dtype());
    let st = |t: Option<&Tensor>| t.map(|t| staged(t, cd)).transpose();
    let (xc, w, b, r) = (staged(x, cd)?, st(w)?, st(b)?, st(res)?);
    let dsts = [staging_out(outs[0], cd)?, staging_out(outs[1], cd)?, staging_out(outs[2], cd)?];
    let d = (&dsts[0], &dsts[1], &dsts[2]);
    if cd == DType::F64 {
        forward_typed::<f64>(d, &xc, w.as_ref(), b.as_ref(), r.as_ref(), relu, eps, dm)
    } else {
        forward_typed::<f32>(d, &xc, w.as_ref(), b.as_ref(), r.as_ref(), relu, eps, dm)
    }
    for (o, t) in outs.iter().zip(&dsts) {
        unstage(o, t)?;
    }
    Ok(())
}

/// The fused kernel of batch norm's backward (`FusedOp::BatchNormTrainBackward`).
pub(crate) fn batch_norm_backward_cpu_kernel(a: &BatchNormBackwardAttrs, outs: &[&Tensor], ins: &[&Tensor]) -> Result<()> {
    let w = if a.has_weight { Some(ins[4]) } else { None };
    let none = super::scratch::empty(&[0], compute_dtype(ins[1].dtype()))?; // (a placeholder: no tensor block)
    let stats = Stats { mean: ins[2], spread: ins[3], running_eps: None };
    backward_staged([outs[0], outs[1], outs[2], &none], ins[0], ins[1], None, stats, w, a.input_grad)
}

/// The per-channel statistics a backward normalises with: the batch's mean and 1/std
/// (`running_eps` None), or the running mean and variance with the eps to add (eval mode).
pub(super) struct Stats<'a> {
    pub mean: &'a Tensor,
    pub spread: &'a Tensor,
    pub running_eps: Option<f64>,
}

/// `backward_typed` in the compute dtype for operands of any dtype and layout: outs (gx,
/// gweight, gbias, gm), each written when it has its full size (see `backward_typed`).
pub(super) fn backward_staged(outs: [&Tensor; 4], gy: &Tensor, x: &Tensor, y: Option<&Tensor>, st: Stats<'_>, w: Option<&Tensor>, need_x: bool) -> Result<()> {
    fn typed<T: Lane + crate::dtype::Element>(d: (&Tensor, &Tensor, &Tensor, &Tensor), gy: &Tensor, x: &Tensor, y: Option<&Tensor>, st: &Stats<'_>, w: Option<&Tensor>, need_x: bool) {
        let spread = st.spread.as_slice::<T>().iter().map(|v| v.f64());
        let inv = match st.running_eps {
            Some(eps) => spread.map(|v| 1.0 / (v + eps).sqrt()).collect(),
            None => spread.collect(),
        };
        let a = BackwardArgs { mean: st.mean.as_slice::<T>().to_vec(), inv, weight: w.map(|w| w.as_slice::<T>().to_vec()), y, training: st.running_eps.is_none(), need_x };
        backward_typed::<T>(d, gy, x, &a, dims(x).unwrap());
    }
    dims(x)?;
    let cd = compute_dtype(x.dtype());
    let sto = |t: Option<&Tensor>| t.map(|t| staged(t, cd)).transpose();
    let (gyc, xc, yc, wc) = (staged(gy, cd)?, staged(x, cd)?, sto(y)?, sto(w)?);
    let (mean, spread) = (staged(st.mean, cd)?, staged(st.spread, cd)?);
    let stc = Stats { mean: &mean, spread: &spread, running_eps: st.running_eps };
    let dsts = [staging_out(outs[0], cd)?, staging_out(outs[1], cd)?, staging_out(outs[2], cd)?, staging_out(outs[3], cd)?];
    let d = (&dsts[0], &dsts[1], &dsts[2], &dsts[3]);
    if cd == DType::F64 {
        typed::<f64>(d, &gyc, &xc, yc.as_ref(), &stc, wc.as_ref(), need_x)
    } else {
        typed::<f32>(d, &gyc, &xc, yc.as_ref(), &stc, wc.as_ref(), need_x)
    }
    for (o, t) in outs.iter().zip(&dsts) {
        unstage(o, t)?;
    }
    Ok(())
}

pub(super) fn compute_dtype(dt: DType) -> DType {
    if dt == DType::F64 { DType::F64 } else { DType::F32 }
}

/// Training-mode batch norm over every dim but 1. Returns (y, batch mean, 1/sqrt(var + eps)),
/// var being the biased batch variance.
pub fn batch_norm_train(x: &Tensor, weight: Option<&Tensor>, bias: Option<&Tensor>, eps: f64) -> Result<(Tensor, Tensor, Tensor)> {
    let (n, c, s) = dims(x)?;
    if crate::dispatch::common_opt("batch_norm", &[Some(x), weight, bias])? != crate::device::Device::Cpu {
        return Err(Error::Runtime("batch_norm_train: the fused kernel is CPU-only; on other devices batch_norm is composed from primitives".into()));
    }
    if !x.dtype().is_float() {
        return Err(Error::Runtime(format!("batch_norm: expected a floating input, got {}", x.dtype().name())));
    }
    for (name, t) in [("weight", weight), ("bias", bias)] {
        if let Some(t) = t {
            if t.shape() != [c] {
                return Err(Error::Runtime(format!("batch_norm: {name} of shape {:?} does not match {c} channels of input {:?}", t.shape(), x.shape())));
            }
        }
    }
    if n * s <= 1 {
        return Err(Error::Value(format!("Expected more than 1 value per channel when training, got input size {:?}", x.shape())));
    }
    let cd = compute_dtype(x.dtype());
    let (y, mean, inv) = (Tensor::empty(x.shape(), x.dtype())?, Tensor::empty(&[c], cd)?, Tensor::empty(&[c], cd)?);
    let fused = FusedOp::BatchNormTrain(BatchNormAttrs { eps, has_weight: weight.is_some(), has_bias: bias.is_some() });
    let args: Vec<&Tensor> = [Some(x), weight, bias].into_iter().flatten().collect();
    crate::dispatch::launch_fused(&fused, &[&y, &mean, &inv], &args)?;
    let mut ins: Vec<&Tensor> = vec![x];
    let (has_w, has_b) = (weight.is_some(), bias.is_some());
    if let Some(w) = weight {
        ins.push(w);
    }
    if let Some(b) = bias {
        ins.push(b);
    }
    if crate::tensor::graph::needs_grad(&ins) {
        let mut saves = vec![Save::Input(x.clone()), Save::Input(mean.clone()), Save::Input(inv.clone())];
        if let Some(w) = weight {
            saves.push(Save::Input(w.clone()));
        }
        let (xdt, wdt) = (x.dtype(), weight.map(|w| w.dtype()));
        let bdt = bias.map(|b| b.dtype());
        let rx = x.requires_grad();
        record("NativeBatchNormBackward0", &ins, &[&y], saves, move |g, sv| {
            let Some(gy) = &g[0] else { return Ok(vec![None; 1 + has_w as usize + has_b as usize]) };
            if crate::tensor::graph::is_grad_enabled() && (gy.requires_grad() || sv[0].requires_grad()) {
                return Err(Error::Runtime("batch_norm: double backward (create_graph=True) is not supported yet".into()));
            }
            let gx = Tensor::empty(if rx { sv[0].shape() } else { &[0] }, cd)?;
            let (gw, gb) = (Tensor::empty(&[c], cd)?, Tensor::empty(&[c], cd)?);
            let fused = FusedOp::BatchNormTrainBackward(BatchNormBackwardAttrs { has_weight: has_w, input_grad: rx });
            let mut args = vec![gy, &sv[0], &sv[1], &sv[2]];
            if has_w {
                args.push(&sv[3]);
            }
            crate::dispatch::launch_fused(&fused, &[&gx, &gw, &gb], &args)?;
            let mut out = vec![if rx { Some(cast(&gx, xdt)?) } else { None }];
            if has_w {
                out.push(Some(cast(&gw, wdt.unwrap())?));
            }
            if has_b {
                out.push(Some(cast(&gb, bdt.unwrap())?));
            }
            Ok(out)
        });
    }
    Ok((y, mean, inv))
}
