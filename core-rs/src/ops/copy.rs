//! The one movement op (strided copy with dtype conversion), casts, clones and fills.
use crate::tensor::graph as autograd;
use crate::dtype::{DType, Element};
use crate::error::{Error, Result};
use crate::kernels::elementwise::map1;
use crate::tensor::Tensor;
use super::Scalar;
use crate::{dispatch, dispatch_float};

/// Copies `src` (broadcast to `dst`'s shape) into `dst`, converting dtype. No autograd.
/// The copy runs on `dst`'s device (a source elsewhere is brought over first), through the
/// backend's device-to-device copy when both are contiguous, the copy or cast kernel otherwise.
pub fn copy_raw(dst: &Tensor, src: &Tensor) -> Result<()> {
    crate::dispatch::check_write("copy_", dst)?;
    let src_l = src.layout().broadcast_to("copy_", dst.shape())?;
    let dd = dst.device();
    if src.device() != dd {
        let m = crate::dispatch::to_device(src, dd)?;
        return copy_raw(dst, &m);
    }
    if dst.numel() == 0 {
        return Ok(());
    }
    if dst.dtype().is_complex() || src.dtype().is_complex() {
        return super::complex::copy_raw(dst, src);
    }
    let b = crate::dispatch::unaliased_source(dst, &src.alias(src_l))?;
    if crate::dispatch::copy_contiguous_d2d(dst, &b)? {
        return Ok(());
    }
    let op = if src.dtype() == dst.dtype() { crate::op::Op::Copy } else { crate::op::Op::Cast };
    crate::dispatch::launch(&op, &[dst], &[&b])
}

/// The CPU kernel of copy and cast: `src` (broadcast to `dst`'s shape, not overlapping it
/// except element for element) converted into `dst`.
pub(crate) fn copy_cpu_kernel(dst: &Tensor, src: &Tensor) -> Result<()> {
    let src_l = src.layout().broadcast_to("copy_", dst.shape())?;
    let shape = dst.shape().to_vec();
    let (sd, dd) = (src.dtype(), dst.dtype());
    if sd == dd && src.is_contiguous() && dst.is_contiguous() && src_l.shape == src.shape() {
        let n = dst.numel() * dd.size();
        if n > 0 && src.data_ptr() != dst.data_ptr() {
            unsafe { std::ptr::copy(src.data_ptr(), dst.data_ptr(), n) };
        }
        return Ok(());
    }
    let sp = src.data_ptr();
    let dp = dst.data_ptr();
    let dstr = dst.strides().to_vec();
    unsafe {
        if sd == dd {
            dispatch!(sd, T => map1::<T, T>(&shape, (dp as *mut T, &dstr), (sp as *const T, &src_l.strides), |x| x));
        } else if sd.is_float() && dd.is_float() {
            dispatch_float!(sd, S => dispatch_float!(dd, D => map1::<S, D>(&shape, (dp as *mut D, &dstr), (sp as *const S, &src_l.strides), |x| D::from_f64(x.to_f64()))));
        } else if !sd.is_float() && !dd.is_float() {
            dispatch!(sd, S => dispatch!(dd, D => map1::<S, D>(&shape, (dp as *mut D, &dstr), (sp as *const S, &src_l.strides), |x| D::from_i64(x.to_i64()))));
        } else {
            dispatch!(sd, S => dispatch!(dd, D => map1::<S, D>(&shape, (dp as *mut D, &dstr), (sp as *const S, &src_l.strides), |x| D::from_f64(x.to_f64()))));
        }
    }
    Ok(())
}

/// `t` as a contiguous tensor of `dt` for a kernel to read: `t` itself when it is one, else
/// a kernel-local copy (made by the copy kernel, not an op: nothing is launched) in scratch
/// memory (`scratch`: not a tensor block, so a graph run allocates none outside its plan).
pub(crate) fn staged(t: &Tensor, dt: DType) -> Result<Tensor> {
    if t.dtype() == dt && t.is_contiguous() {
        return Ok(t.clone());
    }
    let c = super::scratch::empty(t.shape(), dt)?;
    copy_cpu_kernel(&c, t)?;
    Ok(c)
}

/// Where a kernel writes `out` as a contiguous tensor of `dt`: `out` itself when it is one,
/// else scratch that `unstage` then copies into `out`.
pub(crate) fn staging_out(out: &Tensor, dt: DType) -> Result<Tensor> {
    if out.dtype() == dt && out.is_contiguous() {
        return Ok(out.clone());
    }
    super::scratch::empty(out.shape(), dt)
}

/// Copies scratch from `staging_out` into `out` (nothing when the kernel wrote `out` itself).
pub(crate) fn unstage(out: &Tensor, dst: &Tensor) -> Result<()> {
    if std::sync::Arc::ptr_eq(out.storage(), dst.storage()) {
        return Ok(());
    }
    copy_cpu_kernel(out, dst)
}

/// Fills every element of `dst` with `v`. No autograd.
pub fn fill_raw(dst: &Tensor, v: f64) -> Result<()> {
    let s = if dst.dtype().is_float() { Scalar::Float(v) } else if dst.dtype() == DType::Bool { Scalar::Bool(v != 0.0) } else { Scalar::Int(v as i64) };
    fill_scalar_raw(dst, s)
}

/// Writes `s` (converted to `dst`'s dtype, integers exactly) into every element of `dst`. No
/// autograd. Filling is idempotent, so an expanded `dst` is allowed, as in PyTorch: every
/// write of a shared location writes the same value.
pub fn fill_scalar_raw(dst: &Tensor, s: Scalar) -> Result<()> {
    if dst.dtype().is_complex() {
        return super::complex::fill_raw(dst, s.as_f64(), 0.0);
    }
    crate::dispatch::launch(&crate::op::Op::Fill(crate::op::FillAttrs { value: s }), &[dst], &[])
}

/// The CPU kernel of fill: `s` converted to `dst`'s dtype (an integer into an integer dtype
/// exactly; the caller has checked that the value fits).
pub(crate) fn fill_cpu_kernel(dst: &Tensor, s: Scalar) -> Result<()> {
    let v = s.to_tensor(dst.dtype())?;
    let shape = dst.shape().to_vec();
    let st = dst.strides().to_vec();
    let zero = vec![0isize; shape.len()];
    dispatch!(dst.dtype(), T => {
        unsafe { map1::<T, T>(&shape, (dst.data_ptr() as *mut T, &st), (v.data_ptr() as *const T, &zero), |x| x) };
    });
    Ok(())
}

/// A contiguous copy with no autograd link.
pub fn clone_contiguous(t: &Tensor) -> Result<Tensor> {
    let out = Tensor::empty_on(t.shape(), t.dtype(), t.device())?;
    copy_raw(&out, t)?;
    Ok(out)
}

/// `clone()`: a contiguous copy that stays in the graph.
pub fn clone(t: &Tensor) -> Result<Tensor> {
    let out = clone_contiguous(t)?;
    autograd::record("CloneBackward0", &[t], &[&out], vec![], |g, _| Ok(vec![g[0].clone()]));
    Ok(out)
}

pub fn contiguous(t: &Tensor) -> Result<Tensor> {
    if t.is_contiguous() {
        return Ok(t.clone());
    }
    clone(t)
}

/// Converts to `dtype`; differentiable between float types.
pub fn cast(t: &Tensor, dtype: DType) -> Result<Tensor> {
    if t.dtype() == dtype {
        return Ok(t.clone());
    }
    if t.dtype().is_complex() && !dtype.is_complex() && dtype != DType::Bool {
        // inside an op, this would run a real kernel on the real parts only: refused (the
        // user's own `.to(float)` goes through `cast_discarding_imag`)
        return Err(Error::Runtime(format!(
            "{} tensor of shape {:?} reached a real-only path (cast to {}): the op has no complex version; take .real, .imag or .abs() first",
            t.dtype().name(),
            t.shape(),
            dtype.name()
        )));
    }
    let out = Tensor::empty_on(t.shape(), dtype, t.device())?;
    copy_raw(&out, t)?;
    if dtype.is_differentiable() {
        let src = t.dtype();
        autograd::record("ToCopyBackward0", &[t], &[&out], vec![], move |g, _| {
            Ok(vec![match &g[0] {
                // real -> complex: the gradient of the real input is the real part
                Some(g) if g.dtype().is_complex() && !src.is_complex() => Some(cast(&super::complex::real(g)?, src)?),
                Some(g) => Some(cast(g, src)?),
                None => None,
            }])
        });
    }
    Ok(out)
}

/// `.to(real dtype)` of a complex tensor, as PyTorch does it: the real part, with PyTorch's
/// warning that the imaginary part is discarded. Any other pair of dtypes is `cast`.
pub fn cast_discarding_imag(t: &Tensor, dtype: DType) -> Result<Tensor> {
    if !t.dtype().is_complex() || dtype.is_complex() || dtype == DType::Bool {
        return cast(t, dtype);
    }
    crate::diag::warn("Casting complex values to real discards the imaginary part").map_err(Error::Runtime)?;
    cast(&super::complex::real(t)?, dtype)
}

/// `dst += src` without recording (used by gradient accumulation).
pub fn add_inplace_nograd(dst: &Tensor, src: &Tensor) -> Result<()> {
    // one dtype and shape in separate storages: the add kernel straight into dst (it reads
    // each element before writing it), no temporary
    if dst.device() == src.device() && dst.dtype() == src.dtype() && dst.shape() == src.shape() && !std::sync::Arc::ptr_eq(dst.storage(), src.storage()) {
        return super::binary::kernel_into(super::BinaryOp::Add, dst.dtype(), dst, dst, src);
    }
    let r = crate::tensor::graph::with_grad_mode(false, || super::add(dst, src))?;
    copy_raw(dst, &r)?;
    Ok(())
}

/// `dst.copy_(src)`: differentiable in-place copy with broadcasting and dtype conversion.
pub fn copy_(dst: &Tensor, src: &Tensor) -> Result<()> {
    if dst.numel() > 0 && !broadcastable_to(src.shape(), dst.shape()) {
        return Err(Error::Runtime(format!(
            "copy_: source of shape {:?} cannot be broadcast to destination of shape {:?}",
            src.shape(),
            dst.shape()
        )));
    }
    if !autograd::needs_grad(&[dst, src]) {
        copy_raw(dst, src)?;
        dst.storage().bump_version();
        return Ok(());
    }
    let src = src.clone();
    let dshape = dst.shape().to_vec();
    crate::ops::inplace::apply_inplace("CopyBackwards", dst, &[&src], move |_old, ins| {
        // result = src broadcast to dst's shape, in dst's dtype
        let b = super::shape::expand(&ins[0], &dshape)?;
        let r = cast(&b, _old.dtype())?;
        Ok(clone(&r)?)
    })?;
    Ok(())
}

fn broadcastable_to(src: &[usize], dst: &[usize]) -> bool {
    if src.len() > dst.len() {
        return false;
    }
    let lead = dst.len() - src.len();
    src.iter().enumerate().all(|(i, &s)| s == 1 || s == dst[lead + i])
}

impl Tensor {
    /// Zeros on `device` (a fill kernel there; the zeroed host allocator on the CPU).
    pub fn zeros_on(shape: &[usize], dtype: DType, device: crate::device::Device) -> Result<Tensor> {
        if device.is_cpu() {
            return Tensor::zeros(shape, dtype);
        }
        let t = Tensor::empty_on(shape, dtype, device)?;
        fill_raw(&t, 0.0)?;
        Ok(t)
    }
    /// Every element as f64, in row-major order (copied to the CPU first).
    pub fn to_vec_f64(&self) -> Vec<f64> {
        let c = crate::dispatch::to_device(self, crate::device::Device::Cpu).expect("copy to the CPU");
        let c = contiguous(&c).expect("contiguous");
        dispatch!(c.dtype(), T => c.as_slice::<T>().iter().map(|v| v.to_f64()).collect())
    }
}

/// `to_device` that stays in the autograd graph.
pub fn to_device_grad(t: &Tensor, dev: crate::device::Device) -> Result<Tensor> {
    let src = t.device();
    if src == dev {
        return Ok(t.clone());
    }
    let out = crate::dispatch::to_device(t, dev)?;
    if t.dtype().is_differentiable() && autograd::needs_grad(&[t]) {
        autograd::record("ToCopyBackward0", &[t], &[&out], vec![], move |g, _| {
            Ok(vec![match &g[0] {
                Some(g) => Some(to_device_grad(g, src)?),
                None => None,
            }])
        });
    }
    Ok(out)
}
