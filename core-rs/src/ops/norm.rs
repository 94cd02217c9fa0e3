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

fn dims(x: &Tensor) -> Result<(usize, usize, usize)> {
    if x.ndim() < 2 {
        return Err(Error::Runtime(format!("batch_norm: expected an input with at least 2 dims [N, C, ...], got shape {:?}", x.shape())));
    }
    let (n, c) = (x.shape()[0], x.shape()[1]);
    let s: usize = x.shape()[2..].iter().product();
    Ok((n, c, s))
}


/// A float the fused kernels run in (f32, or f64 for f64 inputs).
trait Lane: Copy + Default + PartialOrd + std::ops::Add<Output = Self> + std::ops::Sub<Output = Self> + std::ops::Mul<Output = Self> + std::ops::AddAssign + Send + Sync {
    fn f64(self) -> f64;
    fn of(v: f64) -> Self;
}
impl Lane for f32 {
    fn f64(self) -> f64 {
        self as f64
    }
    fn of(v: f64) -> Self {
        v as f32
    }
}
impl Lane for f64 {
    fn f64(self) -> f64 {
        self
    }
    fn of(v: f64) -> Self {
        v
    }
}

const LANES: usize = 16;
/// Elements summed in the kernel's own precision before the partial sums go to f64.
const BLOCK: usize = 1024;

/// (sum of x - shift, sum of (x - shift)^2): LANES independent accumulators per block of
/// BLOCK elements (vectorisable), blocks added in f64.
#[inline(always)]
fn moments<T: Lane>(row: &[T], shift: T) -> (f64, f64) {
    let (mut s1, mut s2) = (0f64, 0f64);
    for blk in row.chunks(BLOCK) {
        let (mut a, mut b) = ([T::default(); LANES], [T::default(); LANES]);
        let mut it = blk.chunks_exact(LANES);
        for c in &mut it {
            for i in 0..LANES {
                let d = c[i] - shift;
                a[i] += d;
                b[i] += d * d;
            }
        }
        for (i, &v) in it.remainder().iter().enumerate() {
            let d = v - shift;
            a[i] += d;
            b[i] += d * d;
        }
        s1 += a.iter().map(|v| v.f64()).sum::<f64>();
        s2 += b.iter().map(|v| v.f64()).sum::<f64>();
    }
    (s1, s2)
}

/// (sum of g, sum of g * (x - mu)) in the same blocked way.
#[inline(always)]
fn grad_moments<T: Lane>(g: &[T], x: &[T], mu: T) -> (f64, f64) {
    let (mut s1, mut s2) = (0f64, 0f64);
    for (gb, xb) in g.chunks(BLOCK).zip(x.chunks(BLOCK)) {
        let (mut a, mut b) = ([T::default(); LANES], [T::default(); LANES]);
        let (mut gi, mut xi) = (gb.chunks_exact(LANES), xb.chunks_exact(LANES));
        for (gc, xc) in (&mut gi).zip(&mut xi) {
            for i in 0..LANES {
                a[i] += gc[i];
                b[i] += gc[i] * (xc[i] - mu);
            }
        }
        for (i, (&gv, &xv)) in gi.remainder().iter().zip(xi.remainder()).enumerate() {
            a[i] += gv;
            b[i] += gv * (xv - mu);
        }
        s1 += a.iter().map(|v| v.f64()).sum::<f64>();
        s2 += b.iter().map(|v| v.f64()).sum::<f64>();
    }
    (s1, s2)
}

/// dst = x * a + b
#[inline(always)]
fn affine<T: Lane>(dst: &mut [T], x: &[T], a: T, b: T) {
    for (d, &v) in dst.iter_mut().zip(x) {
        *d = v * a + b;
    }
}

/// dst = g * a + x * b + c
#[inline(always)]
fn affine2<T: Lane>(dst: &mut [T], g: &[T], x: &[T], a: T, b: T, c: T) {
    for ((d, &gv), &xv) in dst.iter_mut().zip(g).zip(x) {
        *d = gv * a + xv * b + c;
    }
}

/// The four loops above compiled for AVX2+FMA as well, chosen once per call.
#[derive(Clone, Copy)]
struct Kern {
    avx2: bool,
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
    pub unsafe fn affine<T: Lane>(dst: &mut [T], x: &[T], a: T, b: T) {
        super::affine(dst, x, a, b)
    }
    #[target_feature(enable = "avx2,fma")]
    pub unsafe fn affine2<T: Lane>(dst: &mut [T], g: &[T], x: &[T], a: T, b: T, c: T) {
        super::affine2(dst, g, x, a, b, c)
    }
}

impl Kern {
    fn new() -> Kern {
        #[cfg(target_arch = "x86_64")]
        let avx2 = crate::kernels::elementwise::has_avx2() && std::arch::is_x86_feature_detected!("fma");
        #[cfg(not(target_arch = "x86_64"))]
        let avx2 = false;
        Kern { avx2 }
    }
    fn moments<T: Lane>(self, row: &[T], shift: T) -> (f64, f64) {
        #[cfg(target_arch = "x86_64")]
        if self.avx2 {
            return unsafe { avx2::moments(row, shift) };
        }
        moments(row, shift)
    }
    fn grad_moments<T: Lane>(self, g: &[T], x: &[T], mu: T) -> (f64, f64) {
        #[cfg(target_arch = "x86_64")]
        if self.avx2 {
            return unsafe { avx2::grad_moments(g, x, mu) };
        }
        grad_moments(g, x, mu)
    }
    fn affine<T: Lane>(self, dst: &mut [T], x: &[T], a: T, b: T) {
        #[cfg(target_arch = "x86_64")]
        if self.avx2 {
            return unsafe { avx2::affine(dst, x, a, b) };
        }
        affine(dst, x, a, b)
    }
    fn affine2<T: Lane>(self, dst: &mut [T], g: &[T], x: &[T], a: T, b: T, c: T) {
        #[cfg(target_arch = "x86_64")]
        if self.avx2 {
            return unsafe { avx2::affine2(dst, g, x, a, b, c) };
        }
        affine2(dst, g, x, a, b, c)
    }
}

/// Statistics and normalisation of one training-mode batch norm: one pass for the moments
/// (shifted by the channel's first value, so a large mean costs no precision), one to write y.
#[allow(clippy::too_many_arguments)]
fn forward_typed<T: Lane + crate::dtype::Element>((y, mean, invstd): (&Tensor, &Tensor, &Tensor), x: &Tensor, w: Option<&Tensor>, b: Option<&Tensor>, eps: f64, n: usize, c: usize, s: usize) {
    let xs = x.as_slice::<T>();
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
                    kern.affine(dst, &xs[off..off + s], T::of(scale), T::of(shift_out));
                }
            }
        }
    });
}

/// The closed-form backward: per channel, sum(g) and sum(g * (x - mean)) in one pass, then
/// gx = a*g + b*x + c in another.
#[allow(clippy::too_many_arguments)]
fn backward_typed<T: Lane + crate::dtype::Element>((gx, gw, gb): (&Tensor, &Tensor, &Tensor), gy: &Tensor, x: &Tensor, mean: &Tensor, inv: &Tensor, w: Option<&Tensor>, n: usize, c: usize, s: usize, need_x: bool) {
    let (gys, xs) = (gy.as_slice::<T>(), x.as_slice::<T>());
    let ms = mean.as_slice::<T>().to_vec();
    let is = inv.as_slice::<T>().to_vec();
    let w: Option<Vec<T>> = w.map(|t| t.as_slice::<T>().to_vec());
    let (px, pw, pb) = (SendPtr(gx.data_ptr()), SendPtr(gw.data_ptr()), SendPtr(gb.data_ptr()));
    let cnt = (n * s) as f64;
    let kern = Kern::new();
    parallel_for(c, n * s * 4, |c0, c1| {
        for ch in c0..c1 {
            let (mu, inv) = (ms[ch].f64(), is[ch].f64());
            let (mut sg, mut sgd) = (0f64, 0f64);
            for ni in 0..n {
                let off = (ni * c + ch) * s;
                let (a, q) = kern.grad_moments(&gys[off..off + s], &xs[off..off + s], ms[ch]);
                sg += a;
                sgd += q;
            }
            let sgx = sgd * inv;
            unsafe {
                *(pb.get() as *mut T).add(ch) = T::of(sg);
                *(pw.get() as *mut T).add(ch) = T::of(sgx);
            }
            if !need_x {
                continue;
            }
            // gx = k * (cnt * g - sg - xhat * sgx), xhat = (x - mu) * inv, k = w * inv / cnt
            let wv = w.as_ref().map(|w| w[ch].f64()).unwrap_or(1.0);
            let k = wv * inv / cnt;
            let (a, b, cc) = (k * cnt, -k * sgx * inv, -k * sg + k * sgx * inv * mu);
            for ni in 0..n {
                let off = (ni * c + ch) * s;
                let dst = unsafe { std::slice::from_raw_parts_mut((px.get() as *mut T).add(off), s) };
                kern.affine2(dst, &gys[off..off + s], &xs[off..off + s], T::of(a), T::of(b), T::of(cc));
            }
        }
    });
}

/// The fused kernel of training-mode batch norm (`FusedOp::BatchNormTrain`).
pub(crate) fn batch_norm_cpu_kernel(a: &BatchNormAttrs, outs: &[&Tensor], ins: &[&Tensor]) -> Result<()> {
    let x = ins[0];
    let (n, c, s) = dims(x)?;
    let cd = compute_dtype(x.dtype());
    let w = if a.has_weight { Some(staged(ins[1], cd)?) } else { None };
    let b = if a.has_bias { Some(staged(ins[1 + a.has_weight as usize], cd)?) } else { None };
    let xc = staged(x, cd)?;
    let dsts = [staging_out(outs[0], cd)?, staging_out(outs[1], cd)?, staging_out(outs[2], cd)?];
    let d = (&dsts[0], &dsts[1], &dsts[2]);
    if cd == DType::F64 {
        forward_typed::<f64>(d, &xc, w.as_ref(), b.as_ref(), a.eps, n, c, s)
    } else {
        forward_typed::<f32>(d, &xc, w.as_ref(), b.as_ref(), a.eps, n, c, s)
    }
    for (o, t) in outs.iter().zip(&dsts) {
        unstage(o, t)?;
    }
    Ok(())
}

/// The fused kernel of batch norm's backward (`FusedOp::BatchNormTrainBackward`).
pub(crate) fn batch_norm_backward_cpu_kernel(a: &BatchNormBackwardAttrs, outs: &[&Tensor], ins: &[&Tensor]) -> Result<()> {
    let x = ins[1];
    let (n, c, s) = dims(x)?;
    let cd = compute_dtype(x.dtype());
    let (gy, xc, mean, inv) = (staged(ins[0], cd)?, staged(x, cd)?, staged(ins[2], cd)?, staged(ins[3], cd)?);
    let w = if a.has_weight { Some(staged(ins[4], cd)?) } else { None };
    let dsts = [staging_out(outs[0], cd)?, staging_out(outs[1], cd)?, staging_out(outs[2], cd)?];
    let d = (&dsts[0], &dsts[1], &dsts[2]);
    if cd == DType::F64 {
        backward_typed::<f64>(d, &gy, &xc, &mean, &inv, w.as_ref(), n, c, s, a.input_grad)
    } else {
        backward_typed::<f32>(d, &gy, &xc, &mean, &inv, w.as_ref(), n, c, s, a.input_grad)
    }
    for (o, t) in outs.iter().zip(&dsts) {
        unstage(o, t)?;
    }
    Ok(())
}

fn compute_dtype(dt: DType) -> DType {
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
