//! The discrete Fourier transform along one dim, unnormalised, with its derivatives:
//! complex-to-complex (`fft_c2c`), real-to-half-spectrum (`fft_r2c`) and
//! half-spectrum-to-real (`fft_c2r`). The kernel sees complex numbers as their real views (a
//! trailing dim of 2) and runs `rustfft`/`realfft` over the lines of the transformed dim, in
//! parallel, with any strides. `deepseek.fft` composes the PyTorch API (n, norm, several
//! dims, hfft, stft ...) from these three.
//!
//! The transforms are core ops outside the primitive table, so no backend is required to
//! implement them: on a plugin device they run on host copies, with the dispatcher's
//! one-time warning (an error in strict device mode), exactly as an undeclared primitive would.
use super::complex::raw_real;
use crate::dtype::DType;
use crate::error::{Error, Result};
use crate::tensor::graph::record;
use crate::tensor::Tensor;
use num_complex::Complex;
use rustfft::{FftNum, FftPlanner};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// The three transforms.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FftOp {
    C2c,
    R2c,
    C2r,
}

impl FftOp {
    fn name(self) -> &'static str {
        match self {
            FftOp::C2c => "fft_c2c",
            FftOp::R2c => "fft_r2c",
            FftOp::C2r => "fft_c2r",
        }
    }
}

/// `x` (complex) transformed along `dim`: `Σ_t x[t]·exp(∓2πi·kt/n)`, unnormalised.
pub fn fft_c2c(x: &Tensor, dim: usize, inverse: bool) -> Result<Tensor> {
    if !x.dtype().is_complex() {
        return Err(Error::Runtime(format!("fft_c2c: expected a complex input, got {} (shape {:?})", x.dtype().name(), x.shape())));
    }
    check_dim("fft_c2c", x, dim)?;
    let out = Tensor::empty_on(x.shape(), x.dtype(), x.device())?;
    launch(FftOp::C2c, dim, inverse, &out, &x.detach())?;
    // the adjoint of the unnormalised DFT is the unnormalised DFT of the other sign
    record("FftC2CBackward0", &[x], &[&out], vec![], move |g, _| {
        Ok(vec![match &g[0] {
            Some(g) => Some(fft_c2c(g, dim, !inverse)?),
            None => None,
        }])
    });
    Ok(out)
}

/// The n/2+1 non-redundant outputs of the forward DFT of real `x` along `dim`.
pub fn fft_r2c(x: &Tensor, dim: usize) -> Result<Tensor> {
    if !matches!(x.dtype(), DType::F32 | DType::F64) {
        return Err(Error::Runtime(format!("fft_r2c: expected a float32 or float64 input, got {} (shape {:?})", x.dtype().name(), x.shape())));
    }
    check_dim("fft_r2c", x, dim)?;
    let n = x.shape()[dim];
    let mut shape = x.shape().to_vec();
    shape[dim] = n / 2 + 1;
    let out = Tensor::empty_on(&shape, x.dtype().to_complex(), x.device())?;
    launch(FftOp::R2c, dim, false, &out, &x.detach())?;
    // the adjoint: the half-spectrum's gradient zero-padded to n, inverse c2c, real part
    record("FftR2CBackward0", &[x], &[&out], vec![], move |g, _| {
        let Some(g) = &g[0] else { return Ok(vec![None]) };
        let full = pad_dim(g, dim, n)?;
        Ok(vec![Some(super::complex::real(&fft_c2c(&full, dim, true)?)?)])
    });
    Ok(out)
}

/// The real inverse DFT of length `n` of the Hermitian half-spectrum `x` (its first n/2+1
/// entries along `dim` are used; the imaginary parts of entry 0 and, n even, n/2 ignored).
pub fn fft_c2r(x: &Tensor, dim: usize, n: usize) -> Result<Tensor> {
    if !x.dtype().is_complex() {
        return Err(Error::Runtime(format!("fft_c2r: expected a complex input, got {} (shape {:?})", x.dtype().name(), x.shape())));
    }
    check_dim("fft_c2r", x, dim)?;
    let half = n / 2 + 1;
    if n == 0 || x.shape()[dim] < half {
        return Err(Error::Runtime(format!(
            "fft_c2r: an output of length {n} needs at least {half} input entries along dim {dim}, got shape {:?}",
            x.shape()
        )));
    }
    let xs = super::shape::slice(x, dim, 0, half, 1)?;
    let mut shape = x.shape().to_vec();
    shape[dim] = n;
    let out = Tensor::empty_on(&shape, x.dtype().to_real(), x.device())?;
    launch(FftOp::C2r, dim, true, &out, &xs.detach())?;
    // the adjoint: r2c of the gradient, doubling the entries whose mirror image the forward
    // transform also read (1 ..= n - half)
    record("FftC2RBackward0", &[&xs], &[&out], vec![], move |g, _| {
        let Some(g) = &g[0] else { return Ok(vec![None]) };
        let r = fft_r2c(g, dim)?;
        let double = n - half;
        if double == 0 {
            return Ok(vec![Some(r)]);
        }
        let mut w = vec![1.0f64; half];
        for v in w.iter_mut().skip(1).take(double) {
            *v = 2.0;
        }
        let mut wshape = vec![1usize; r.ndim()];
        wshape[dim] = half;
        let w = super::cast(&Tensor::from_vec(w, &wshape)?, r.dtype().to_real())?;
        let w = crate::dispatch::to_device(&w, r.device())?;
        Ok(vec![Some(super::mul(&r, &w)?)])
    });
    Ok(out)
}

fn check_dim(op: &str, x: &Tensor, dim: usize) -> Result<()> {
    if dim >= x.ndim() {
        return Err(Error::Index(format!("{op}: dim {dim} out of range for a tensor of shape {:?}", x.shape())));
    }
    Ok(())
}

/// `g` zero-padded at the end of `dim` to length `n` (differentiable).
fn pad_dim(g: &Tensor, dim: usize, n: usize) -> Result<Tensor> {
    let have = g.shape()[dim];
    if have >= n {
        return super::shape::slice(g, dim, 0, n, 1);
    }
    let mut zshape = g.shape().to_vec();
    zshape[dim] = n - have;
    let z = Tensor::zeros_on(&zshape, g.dtype(), g.device())?;
    super::shape::cat(&[g.clone(), z], dim as i64)
}

static WARNED: AtomicBool = AtomicBool::new(false);

/// For a plugin device: the error of strict mode, else the one-time warning that these ops
/// run on host copies.
fn host_fallback(name: &str, dev: crate::device::Device) -> Result<()> {
    if crate::dispatch::is_strict() {
        return Err(Error::Runtime(format!(
            "{name}: no backend has a kernel for the FFT ops (the {} device's included), and strict device mode forbids running it on the CPU (deepseek.backends.set_strict(False) allows it)",
            dev.name()
        )));
    }
    if !WARNED.swap(true, Ordering::Relaxed) {
        let msg = format!("{name}: FFTs and overlap-add run on the CPU with copies to and from {} (no backend has kernels for them). This warning is shown once.", dev.name());
        crate::diag::warn(&msg).map_err(Error::Runtime)?;
    }
    Ok(())
}

/// Runs the kernel on real views: on the CPU directly; for a plugin device on host copies,
/// as the dispatcher runs an op a backend lacks.
fn launch(kind: FftOp, dim: usize, inverse: bool, out: &Tensor, x: &Tensor) -> Result<()> {
    let view = |t: &Tensor| if t.dtype().is_complex() { raw_real(t) } else { t.clone() };
    let dev = out.device();
    if dev.is_cpu() {
        let x = crate::dispatch::to_device(x, dev)?;
        return crate::tensor::graph::with_grad_mode(false, || cpu_kernel(kind, dim, inverse, &view(out), &view(&x)));
    }
    host_fallback(kind.name(), dev)?;
    let hx = crate::dispatch::to_device(x, crate::device::Device::Cpu)?;
    let hout = Tensor::empty(out.shape(), out.dtype())?;
    crate::tensor::graph::with_grad_mode(false, || cpu_kernel(kind, dim, inverse, &view(&hout), &view(&hx)))?;
    super::copy_raw(out, &hout)
}

/// `x[..., L]` -> `x[..., n, size]`: the `n = (L - size) / step + 1` windows of `size` samples,
/// `step` apart, along the last dim, as a view (no copy). Its gradient is the overlap-add of the
/// windows' gradients (PyTorch's unfold_backward).
pub fn frames(x: &Tensor, size: usize, step: usize) -> Result<Tensor> {
    let nd = x.ndim();
    if nd == 0 || size == 0 || step == 0 || size > x.shape()[nd - 1] {
        return Err(Error::Runtime(format!("frames: cannot take windows of {size} samples {step} apart from the last dim of a tensor of shape {:?}", x.shape())));
    }
    let total = x.shape()[nd - 1];
    let n = (total - size) / step + 1;
    let l = x.layout();
    let s = l.strides[nd - 1];
    let mut shape = l.shape[..nd - 1].to_vec();
    shape.extend([n, size]);
    let mut strides = l.strides[..nd - 1].to_vec();
    strides.extend([s * step as isize, s]);
    let out = x.view_of(crate::layout::Layout { shape, strides, offset: l.offset });
    record("UnfoldBackward0", &[x], &[&out], vec![], move |g, _| {
        Ok(vec![match &g[0] {
            Some(g) => Some(overlap_add(g, step, total)?),
            None => None,
        }])
    });
    Ok(out)
}

/// `y[..., n, size]` -> `[..., total]`: window `m` added at offset `m·step` (the inverse
/// geometry of `frames`; samples no window covers are 0). Differentiable (its gradient is
/// `frames` of the gradient).
pub fn overlap_add(y: &Tensor, step: usize, total: usize) -> Result<Tensor> {
    let nd = y.ndim();
    if nd < 2 || step == 0 {
        return Err(Error::Runtime(format!("overlap_add: expected [..., frames, size] and step > 0, got shape {:?}, step {step}", y.shape())));
    }
    let (n, size) = (y.shape()[nd - 2], y.shape()[nd - 1]);
    if n > 0 && (n - 1) * step + size > total {
        return Err(Error::Runtime(format!("overlap_add: {n} windows of {size} samples {step} apart need {} samples, more than {total}", (n - 1) * step + size)));
    }
    if y.dtype().is_complex() {
        let (re, im) = (super::complex::real(y)?, super::complex::imag(y)?);
        return super::complex::complex(&overlap_add(&re, step, total)?, &overlap_add(&im, step, total)?);
    }
    if !matches!(y.dtype(), DType::F32 | DType::F64) {
        return Err(Error::Runtime(format!("overlap_add: expected a float32, float64 or complex tensor, got {}", y.dtype().name())));
    }
    let dev = y.device();
    if !dev.is_cpu() {
        host_fallback("overlap_add", dev)?;
    }
    let host = crate::tensor::graph::with_grad_mode(false, || super::contiguous(&crate::dispatch::to_device(y, crate::device::Device::Cpu)?))?;
    let mut oshape = y.shape()[..nd - 2].to_vec();
    oshape.push(total);
    let out = Tensor::zeros(&oshape, y.dtype())?;
    let batch = out.numel() / total.max(1);
    fn go<T: Copy + std::ops::AddAssign + Send + Sync + 'static>(y: &Tensor, out: &Tensor, batch: usize, n: usize, size: usize, step: usize, total: usize) {
        let (py, po) = (Ptr(y.data_ptr() as *mut T), Ptr(out.data_ptr() as *mut T));
        crate::kernels::parallel_for(batch, n * size, |s, e| unsafe {
            for b in s..e {
                let src = std::slice::from_raw_parts(py.get().add(b * n * size) as *const T, n * size);
                let dst = std::slice::from_raw_parts_mut(po.get().add(b * total), total);
                for m in 0..n {
                    for (d, v) in dst[m * step..m * step + size].iter_mut().zip(&src[m * size..(m + 1) * size]) {
                        *d += *v;
                    }
                }
            }
        });
    }
    if total > 0 {
        match y.dtype() {
            DType::F32 => go::<f32>(&host, &out, batch, n, size, step, total),
            _ => go::<f64>(&host, &out, batch, n, size, step, total),
        }
    }
    let out = crate::dispatch::to_device(&out, dev)?;
    record("OverlapAddBackward0", &[y], &[&out], vec![], move |g, _| {
        let Some(g) = &g[0] else { return Ok(vec![None]) };
        let f = frames(&super::contiguous(g)?, size, step)?;
        Ok(vec![Some(super::shape::slice(&f, f.ndim() - 2, 0, n, 1)?)])
    });
    Ok(out)
}

/// One line of a strided operand: its offset (in elements of the real dtype).
struct Lines {
    x: Vec<isize>,
    out: Vec<isize>,
}

/// The start offsets of every line along `dim` of the (complex or real) shape `shape`.
fn lines(shape: &[usize], dim: usize, xs: &[isize], os: &[isize]) -> Lines {
    let mut l = Lines { x: vec![0], out: vec![0] };
    for (d, &size) in shape.iter().enumerate() {
        if d == dim {
            continue;
        }
        let (mut nx, mut no) = (Vec::with_capacity(l.x.len() * size), Vec::with_capacity(l.x.len() * size));
        for (&bx, &bo) in l.x.iter().zip(&l.out) {
            for i in 0..size as isize {
                nx.push(bx + i * xs[d]);
                no.push(bo + i * os[d]);
            }
        }
        l = Lines { x: nx, out: no };
    }
    l
}

#[derive(Clone, Copy)]
struct Ptr<T>(*mut T);
unsafe impl<T> Send for Ptr<T> {}
unsafe impl<T> Sync for Ptr<T> {}
impl<T> Ptr<T> {
    fn get(&self) -> *mut T {
        self.0
    }
}

/// The CPU kernel on real views (complex operands as (..., 2) float tensors, any strides).
fn cpu_kernel(kind: FftOp, dim: usize, inverse: bool, out: &Tensor, x: &Tensor) -> Result<()> {
    match x.dtype() {
        DType::F32 => kernel::<f32>(kind, dim, inverse, out, x),
        DType::F64 => kernel::<f64>(kind, dim, inverse, out, x),
        d => Err(Error::Runtime(format!("{}: expected float32 or float64 operands, got {}", kind.name(), d.name()))),
    }
}

fn kernel<T: FftNum>(kind: FftOp, dim: usize, inverse: bool, out: &Tensor, x: &Tensor) -> Result<()> {
    let (xc, oc) = (kind != FftOp::R2c, kind != FftOp::C2r);
    // the complex (or real) shapes, without the trailing pair dim
    let xshape = &x.shape()[..x.ndim() - xc as usize];
    let oshape = &out.shape()[..out.ndim() - oc as usize];
    if out.dtype() != x.dtype() || dim >= xshape.len() || xshape.len() != oshape.len() {
        return Err(Error::Runtime(format!("{}: bad operands: out {:?} {}, x {:?} {}, dim {dim}", kind.name(), out.shape(), out.dtype().name(), x.shape(), x.dtype().name())));
    }
    let (nx, no) = (xshape[dim], oshape[dim]);
    let n = if kind == FftOp::C2r { no } else { nx };
    let ls = lines(xshape, dim, x.strides(), out.strides());
    if ls.x.is_empty() || no == 0 {
        return Ok(());
    }
    let (sx, so) = (x.strides()[dim], out.strides()[dim]);
    // the imaginary component's offset within a pair
    let (ix, io) = (if xc { x.strides()[x.ndim() - 1] } else { 0 }, if oc { out.strides()[out.ndim() - 1] } else { 0 });
    let (px, po) = (Ptr(x.data_ptr() as *mut T), Ptr(out.data_ptr() as *mut T));
    let zero = T::zero();
    if n == 0 {
        return Ok(());
    }
    let work = ls.x.len() * n * (usize::BITS - n.leading_zeros()) as usize;
    match kind {
        FftOp::C2c => {
            let plan = {
                let mut p = FftPlanner::<T>::new();
                if inverse { p.plan_fft_inverse(n) } else { p.plan_fft_forward(n) }
            };
            let plan: Arc<dyn rustfft::Fft<T>> = plan;
            for_lines(ls.x.len(), work, plan.get_inplace_scratch_len(), |i, scratch: &mut Vec<Complex<T>>, buf: &mut Vec<Complex<T>>| unsafe {
                let (bx, bo) = (ls.x[i], ls.out[i]);
                buf.clear();
                buf.extend((0..n as isize).map(|k| Complex::new(*px.get().offset(bx + k * sx), *px.get().offset(bx + k * sx + ix))));
                plan.process_with_scratch(buf, scratch);
                for (k, v) in buf.iter().enumerate() {
                    *po.get().offset(bo + k as isize * so) = v.re;
                    *po.get().offset(bo + k as isize * so + io) = v.im;
                }
            });
        }
        FftOp::R2c => {
            let plan = realfft::RealFftPlanner::<T>::new().plan_fft_forward(n);
            for_lines_r(ls.x.len(), work, plan.get_scratch_len(), |i, scratch, rbuf: &mut Vec<T>, cbuf: &mut Vec<Complex<T>>| unsafe {
                let (bx, bo) = (ls.x[i], ls.out[i]);
                rbuf.clear();
                rbuf.extend((0..n as isize).map(|k| *px.get().offset(bx + k * sx)));
                cbuf.clear();
                cbuf.resize(n / 2 + 1, Complex::new(zero, zero));
                let _ = plan.process_with_scratch(rbuf, cbuf, scratch);
                for (k, v) in cbuf.iter().enumerate() {
                    *po.get().offset(bo + k as isize * so) = v.re;
                    *po.get().offset(bo + k as isize * so + io) = v.im;
                }
            });
        }
        FftOp::C2r => {
            let plan = realfft::RealFftPlanner::<T>::new().plan_fft_inverse(n);
            let half = n / 2 + 1;
            for_lines_r(ls.x.len(), work, plan.get_scratch_len(), |i, scratch, rbuf: &mut Vec<T>, cbuf: &mut Vec<Complex<T>>| unsafe {
                let (bx, bo) = (ls.x[i], ls.out[i]);
                cbuf.clear();
                cbuf.extend((0..half as isize).map(|k| Complex::new(*px.get().offset(bx + k * sx), *px.get().offset(bx + k * sx + ix))));
                // PyTorch (and the half-spectrum's meaning) ignore these imaginary parts;
                // realfft would report them, so they are cleared
                cbuf[0].im = zero;
                if n % 2 == 0 {
                    cbuf[half - 1].im = zero;
                }
                rbuf.clear();
                rbuf.resize(n, zero);
                let _ = plan.process_with_scratch(cbuf, rbuf, scratch);
                for (k, v) in rbuf.iter().enumerate() {
                    *po.get().offset(bo + k as isize * so) = *v;
                }
            });
        }
    }
    Ok(())
}

/// Runs `f(line, scratch, buffer)` over `count` lines, in parallel when the work is large.
fn for_lines<T: FftNum>(count: usize, work: usize, scratch_len: usize, f: impl Fn(usize, &mut Vec<Complex<T>>, &mut Vec<Complex<T>>) + Sync) {
    let zero = Complex::new(T::zero(), T::zero());
    crate::kernels::parallel_for(count, work / count.max(1), |s, e| {
        let (mut scratch, mut buf) = (vec![zero; scratch_len], Vec::new());
        for i in s..e {
            f(i, &mut scratch, &mut buf);
        }
    });
}

/// `for_lines` for the real transforms (a real and a complex buffer per worker).
fn for_lines_r<T: FftNum>(count: usize, work: usize, scratch_len: usize, f: impl Fn(usize, &mut [Complex<T>], &mut Vec<T>, &mut Vec<Complex<T>>) + Sync) {
    let zero = Complex::new(T::zero(), T::zero());
    crate::kernels::parallel_for(count, work / count.max(1), |s, e| {
        let (mut scratch, mut rbuf, mut cbuf) = (vec![zero; scratch_len], Vec::new(), Vec::new());
        for i in s..e {
            f(i, &mut scratch, &mut rbuf, &mut cbuf);
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `n` complex values as a (n,) complex128 tensor.
    fn c128(v: &[(f64, f64)]) -> Tensor {
        let flat: Vec<f64> = v.iter().flat_map(|&(a, b)| [a, b]).collect();
        let t = Tensor::from_vec(flat, &[v.len(), 2]).unwrap();
        crate::ops::complex::view_as_complex(&t).unwrap()
    }

    fn naive(v: &[(f64, f64)], sign: f64) -> Vec<(f64, f64)> {
        let n = v.len();
        (0..n)
            .map(|k| {
                v.iter().enumerate().fold((0.0, 0.0), |(re, im), (t, &(a, b))| {
                    let th = sign * 2.0 * std::f64::consts::PI * (k * t) as f64 / n as f64;
                    (re + a * th.cos() - b * th.sin(), im + a * th.sin() + b * th.cos())
                })
            })
            .collect()
    }

    fn pairs(t: &Tensor) -> Vec<(f64, f64)> {
        raw_real(t).to_vec_f64().chunks(2).map(|c| (c[0], c[1])).collect()
    }

    #[test]
    fn c2c_matches_the_definition_both_ways() {
        crate::init();
        let v: Vec<(f64, f64)> = (0..7).map(|i| ((i as f64 * 0.7).sin(), (i as f64 * 1.3).cos())).collect();
        for inverse in [false, true] {
            let got = pairs(&fft_c2c(&c128(&v), 0, inverse).unwrap());
            for (g, w) in got.iter().zip(naive(&v, if inverse { 1.0 } else { -1.0 })) {
                assert!((g.0 - w.0).abs() < 1e-12 && (g.1 - w.1).abs() < 1e-12, "{g:?} != {w:?}");
            }
        }
    }

    #[test]
    fn r2c_then_c2r_is_n_times_identity_on_strided_lines() {
        crate::init();
        // a (3, 8) real tensor read along dim 0 (stride 8): every column is a line
        let x = Tensor::from_vec((0..24).map(|i| (i as f64).sqrt()).collect::<Vec<f64>>(), &[3, 8]).unwrap();
        for n in [3usize] {
            let spec = fft_r2c(&x, 0).unwrap();
            assert_eq!(spec.shape(), &[n / 2 + 1, 8]);
            let back = fft_c2r(&spec, 0, n).unwrap();
            let (a, b) = (x.to_vec_f64(), back.to_vec_f64());
            for (u, v) in a.iter().zip(&b) {
                assert!((u * n as f64 - v).abs() < 1e-10, "{u} * {n} != {v}");
            }
        }
    }
}
