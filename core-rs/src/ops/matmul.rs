//! Batched matrix multiply through the `gemm` crate (f16/bf16 computed in f32 panels where
//! the crate has no kernel), and `matmul` with all of PyTorch's broadcasting cases.
use super::shape::{expand, reshape, squeeze_dim, transpose, unsqueeze};
use super::copy::{copy_cpu_kernel, fill_cpu_kernel};
use crate::tensor::graph::{record, Save};
use crate::dtype::{DType, Element};
use crate::error::{Error, Result};
use crate::kernels::{num_threads, pool, SendPtr};
use crate::layout::broadcast_shapes;
use crate::tensor::Tensor;
use gemm::Parallelism;
use rayon::prelude::*;

/// [B, m, k] @ [B, k, n] -> [B, m, n] for one float type the gemm crate handles.
unsafe fn bmm_gemm<T: Element>(a: &Tensor, b: &Tensor, out: &Tensor) {
    let (bs, m, k) = (a.shape()[0], a.shape()[1], a.shape()[2]);
    let n = b.shape()[2];
    let (sa, sb, so) = (a.strides().to_vec(), b.strides().to_vec(), out.strides().to_vec());
    let (pa, pb, po) = (SendPtr(a.data_ptr()), SendPtr(b.data_ptr()), SendPtr(out.data_ptr()));
    let flops = bs * m * n * k.max(1);
    let threads = num_threads();
    let one_gemm = move |i: usize, par: Parallelism| {
        let a = (pa.get() as *const T).offset(i as isize * sa[0]);
        let b = (pb.get() as *const T).offset(i as isize * sb[0]);
        let o = (po.get() as *mut T).offset(i as isize * so[0]);
        gemm::gemm(
            m, n, k, o, so[2], so[1], false, a, sa[2], sa[1], b, sb[2], sb[1],
            T::zero_val(), T::one_val(), false, false, false, par,
        );
    };
    // Below ~2 MFLOP, threads cost more than they save.
    let big = threads > 1 && flops >= 1 << 21;
    if big && bs >= threads {
        pool().install(|| (0..bs).into_par_iter().for_each(|i| one_gemm(i, Parallelism::None)));
    } else if big {
        pool().install(|| {
            for i in 0..bs {
                one_gemm(i, Parallelism::Rayon(threads));
            }
        });
    } else {
        for i in 0..bs {
            one_gemm(i, Parallelism::None);
        }
    }
}

/// Integer product, accumulated in i64 with wrapping (as PyTorch) and written back converted.
fn bmm_int(a: &Tensor, b: &Tensor, out: &Tensor) -> Result<()> {
    let (bs, m, k) = (a.shape()[0], a.shape()[1], a.shape()[2]);
    let n = b.shape()[2];
    // kernels call kernels only: a launch from inside a kernel would be seen twice
    let widen = |t: &Tensor| -> Result<Tensor> {
        let w = Tensor::empty(t.shape(), DType::I64)?;
        copy_cpu_kernel(&w, t)?;
        Ok(w)
    };
    let (a64, b64) = (widen(a)?, widen(b)?);
    let (av, bv) = (a64.as_slice::<i64>(), b64.as_slice::<i64>());
    let mut r = vec![0i64; bs * m * n];
    for p in 0..bs {
        for i in 0..m {
            for l in 0..k {
                let x = av[p * m * k + i * k + l];
                for j in 0..n {
                    r[p * m * n + i * n + j] = r[p * m * n + i * n + j].wrapping_add(x.wrapping_mul(bv[p * k * n + l * n + j]));
                }
            }
        }
    }
    copy_cpu_kernel(out, &Tensor::from_vec(r, &[bs, m, n])?)
}

/// The CPU kernel of matmul in the contract's form: `out` [B, m, n] (allocated) from `a`
/// [B, m, k] and `b` [B, k, n] of `out`'s dtype, any strides.
pub(crate) fn matmul_cpu_kernel(out: &Tensor, a: &Tensor, b: &Tensor) -> Result<()> {
    if out.numel() == 0 {
        return Ok(());
    }
    if a.shape()[2] == 0 {
        return fill_cpu_kernel(out, crate::scalar::Scalar::Int(0));
    }
    match out.dtype() {
        DType::F32 => unsafe { bmm_gemm::<f32>(a, b, out) },
        DType::F64 => unsafe { bmm_gemm::<f64>(a, b, out) },
        DType::F16 => unsafe { bmm_gemm::<half::f16>(a, b, out) },
        DType::BF16 => {
            // the gemm crate has no bf16 kernel: f32 panels, rounded once at the end
            let widen = |t: &Tensor| -> Result<Tensor> {
                let w = Tensor::empty(t.shape(), DType::F32)?;
                copy_cpu_kernel(&w, t)?;
                Ok(w)
            };
            let (a32, b32) = (widen(a)?, widen(b)?);
            let r = Tensor::empty(out.shape(), DType::F32)?;
            unsafe { bmm_gemm::<f32>(&a32, &b32, &r) };
            copy_cpu_kernel(out, &r)?;
        }
        DType::Bool => return Err(Error::Runtime("bmm: not implemented for 'bool' tensors".into())),
        _ => bmm_int(a, b, out)?,
    }
    Ok(())
}

/// Forward of the batched product, no autograd. Inputs are 3-D with equal batch; the
/// kernel runs on their device through the dispatcher.
pub fn bmm_raw(a: &Tensor, b: &Tensor) -> Result<Tensor> {
    let dt = a.dtype();
    let (bs, m, n) = (a.shape()[0], a.shape()[1], b.shape()[2]);
    let dev = crate::dispatch::common("matmul", &[a, b])?;
    let out = Tensor::empty_on(&[bs, m, n], dt, dev)?;
    if bs * m * n == 0 {
        return Ok(out);
    }
    if dt == DType::Bool {
        return Err(Error::Runtime(format!("bmm: not implemented for 'bool' tensors (shapes {:?} and {:?})", a.shape(), b.shape())));
    }
    if a.shape()[2] == 0 {
        crate::ops::fill_raw(&out, 0.0)?;
    } else {
        crate::dispatch::launch(&crate::op::Op::Matmul, &[&out], &[a, b])?;
    }
    Ok(out)
}

/// `bmm` with its derivative.
pub fn bmm(a: &Tensor, b: &Tensor) -> Result<Tensor> {
    if a.ndim() != 3 || b.ndim() != 3 || a.shape()[0] != b.shape()[0] || a.shape()[2] != b.shape()[1] {
        return Err(Error::Runtime(format!(
            "bmm: expected [B, m, k] @ [B, k, n], got shapes {:?} and {:?}",
            a.shape(),
            b.shape()
        )));
    }
    if a.dtype() != b.dtype() {
        return Err(Error::Runtime(format!(
            "bmm: expected both operands to have the same dtype, got {} and {}",
            a.dtype().name(),
            b.dtype().name()
        )));
    }
    if a.dtype().is_complex() {
        return super::complex::bmm(a, b);
    }
    let out = bmm_raw(a, b)?;
    if out.dtype().is_float() && crate::tensor::graph::needs_grad(&[a, b]) {
        let (ra, rb) = (a.requires_grad(), b.requires_grad());
        record("BmmBackward0", &[a, b], &[&out], vec![Save::Input(a.clone()), Save::Input(b.clone())], move |g, s| {
            let Some(g) = &g[0] else { return Ok(vec![None, None]) };
            let ga = if ra { Some(bmm(g, &transpose(&s[1], 1, 2)?)?) } else { None };
            let gb = if rb { Some(bmm(&transpose(&s[0], 1, 2)?, g)?) } else { None };
            Ok(vec![ga, gb])
        });
    }
    Ok(out)
}

/// `matmul` with NumPy/PyTorch semantics: 1-D operands are promoted and the added dim
/// removed; batch dims broadcast.
pub fn matmul(a: &Tensor, b: &Tensor) -> Result<Tensor> {
    if a.ndim() == 0 || b.ndim() == 0 {
        return Err(Error::Runtime(format!(
            "matmul: both arguments need at least 1 dimension, got shapes {:?} and {:?}",
            a.shape(),
            b.shape()
        )));
    }
    if a.dtype() != b.dtype() {
        return Err(Error::Runtime(format!(
            "matmul: expected m1 and m2 to have the same dtype, but got: {} != {} (shapes {:?} and {:?})",
            a.dtype().name(),
            b.dtype().name(),
            a.shape(),
            b.shape()
        )));
    }
    let a1 = if a.ndim() == 1 { unsqueeze(a, 0)? } else { a.clone() };
    let b1 = if b.ndim() == 1 { unsqueeze(b, 1)? } else { b.clone() };
    let (m, k) = (a1.shape()[a1.ndim() - 2], a1.shape()[a1.ndim() - 1]);
    let (k2, n) = (b1.shape()[b1.ndim() - 2], b1.shape()[b1.ndim() - 1]);
    if k != k2 {
        return Err(Error::Runtime(format!(
            "matmul: mat1 and mat2 shapes cannot be multiplied ({}x{} and {}x{}); operand shapes {:?} and {:?}",
            m, k, k2, n, a.shape(), b.shape()
        )));
    }
    let ba = &a1.shape()[..a1.ndim() - 2];
    let bb = &b1.shape()[..b1.ndim() - 2];
    let batch = broadcast_shapes("matmul", ba, bb).map_err(|e| {
        Error::Runtime(format!("{e} (batch dims of operand shapes {:?} and {:?})", a.shape(), b.shape()))
    })?;
    let bsz: usize = batch.iter().product();
    let out3 = if bb.is_empty() && !ba.is_empty() {
        // Fold the batch of a into its rows: one large GEMM (a non-contiguous `a` is copied
        // first, far cheaper than one GEMM per batch entry against an expanded `b`, whose
        // gradient would then be a full-size product per entry summed afterwards).
        let a2 = reshape(&a1, &[1, bsz * m, k])?;
        let b2 = unsqueeze(&b1, 0)?;
        bmm(&a2, &b2)?
    } else {
        let mut sa = batch.clone();
        sa.extend([m, k]);
        let mut sb = batch.clone();
        sb.extend([k, n]);
        let a3 = reshape(&expand(&a1, &sa)?, &[bsz, m, k])?;
        let b3 = reshape(&expand(&b1, &sb)?, &[bsz, k, n])?;
        bmm(&a3, &b3)?
    };
    let mut shape = batch.clone();
    shape.extend([m, n]);
    let mut out = reshape(&out3, &shape)?;
    if b.ndim() == 1 {
        out = squeeze_dim(&out, out.ndim() - 1)?;
    }
    if a.ndim() == 1 {
        let d = out.ndim() - if b.ndim() == 1 { 1 } else { 2 };
        out = squeeze_dim(&out, d)?;
    }
    Ok(out)
}
