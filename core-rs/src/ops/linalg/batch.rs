//! Stacks of matrices for the faer kernels: argument checks with PyTorch's messages, the copy
//! of any strided input into contiguous rows of the compute dtype, output buffers written one
//! matrix per task, and the loop that runs a batch across the thread pool.
use crate::dtype::{DType, Element};
use crate::error::{Error, Result};
use crate::kernels::{num_threads, pool, SendPtr};
use crate::ops::{cast, contiguous};
use crate::tensor::Tensor;
use faer::{Mat, MatMut, MatRef, Par};
use rayon::prelude::*;

/// A float faer computes in (f32 for f32 and the half types, f64 for f64).
pub trait Real: faer::traits::RealField + Element + Copy {}
impl Real for f32 {}
impl Real for f64 {}

/// PyTorch's short dtype names, as its linalg errors spell them.
fn torch_name(d: DType) -> &'static str {
    match d {
        DType::Bool => "Bool",
        DType::U8 => "Byte",
        DType::I8 => "Char",
        DType::I16 => "Short",
        DType::I32 => "Int",
        DType::I64 => "Long",
        DType::F16 => "Half",
        DType::BF16 => "BFloat16",
        DType::F32 => "Float",
        DType::F64 => "Double",
        DType::C64 => "ComplexFloat",
        DType::C128 => "ComplexDouble",
    }
}

/// The dtype the kernels run in for an input of dtype `d`, or PyTorch's error.
pub fn compute_dtype(op: &str, d: DType, arg: &str) -> Result<DType> {
    match d {
        DType::F64 => Ok(DType::F64),
        DType::F32 | DType::F16 | DType::BF16 => Ok(DType::F32),
        _ => Err(Error::Runtime(format!(
            "{op}: Expected a floating point or complex tensor as {arg}. Got {}",
            torch_name(d)
        ))),
    }
}

/// `x` as a stack of matrices: batch dims, rows, columns, and the contiguous data in the
/// compute dtype (a copy only when the layout or dtype asks for one).
pub struct Stack {
    pub data: Tensor,
    pub batch: Vec<usize>,
    pub m: usize,
    pub n: usize,
}

impl Stack {
    pub fn new(op: &str, x: &Tensor, arg: &str) -> Result<Stack> {
        if x.is_device() {
            return Err(Error::Runtime(format!(
                "{op}: the linear-algebra kernels run on the CPU; got {arg} on {} (move it with .cpu())",
                x.device().name()
            )));
        }
        if x.ndim() < 2 {
            return Err(Error::Runtime(format!(
                "{op}: The input tensor {arg} must have at least 2 dimensions (got shape {:?}).",
                x.shape()
            )));
        }
        let dt = compute_dtype(op, x.dtype(), arg)?;
        let data = crate::tensor::graph::with_grad_mode(false, || contiguous(&cast(&x.detach(), dt)?))?;
        let nd = x.ndim();
        Ok(Stack { batch: x.shape()[..nd - 2].to_vec(), m: x.shape()[nd - 2], n: x.shape()[nd - 1], data })
    }

    /// Refuses a stack of non-square matrices with PyTorch's message.
    pub fn square(self, op: &str, arg: &str) -> Result<Stack> {
        if self.m != self.n {
            return Err(Error::Runtime(format!(
                "{op}: {arg} must be batches of square matrices, but they are {} by {} matrices",
                self.m, self.n
            )));
        }
        Ok(self)
    }

    pub fn count(&self) -> usize {
        self.batch.iter().product()
    }

    pub fn dtype(&self) -> DType {
        self.data.dtype()
    }

    /// Matrix `i` of the stack as a faer view (row-major).
    pub fn mat<T: Real>(&self, i: usize) -> MatRef<'_, T> {
        let sz = self.m * self.n;
        MatRef::from_row_major_slice(&self.data.as_slice::<T>()[i * sz..(i + 1) * sz], self.m, self.n)
    }

    /// Matrix `i` copied into faer's own (column-major) layout, which its factorizations
    /// work in place on.
    pub fn owned<T: Real>(&self, i: usize) -> Mat<T> {
        self.mat::<T>(i).to_owned()
    }
}

/// A new contiguous output of shape `batch + tail`, filled one matrix per task.
pub struct Out {
    pub t: Tensor,
    ptr: SendPtr,
    per: usize,
}

impl Out {
    pub fn new(batch: &[usize], tail: &[usize], dtype: DType) -> Result<Out> {
        let mut shape = batch.to_vec();
        shape.extend_from_slice(tail);
        let t = Tensor::zeros(&shape, dtype)?;
        let per = tail.iter().product();
        let ptr = SendPtr(if t.numel() == 0 { std::ptr::null_mut() } else { t.data_ptr() });
        Ok(Out { t, ptr, per })
    }

    /// The elements of batch item `i`.
    ///
    /// Safety: each `i` is written by one task only.
    #[allow(clippy::mut_from_ref)]
    pub unsafe fn item<T: Element>(&self, i: usize) -> &mut [T] {
        if self.per == 0 {
            return &mut [];
        }
        std::slice::from_raw_parts_mut((self.ptr.get() as *mut T).add(i * self.per), self.per)
    }

    /// Batch item `i` as a row-major `r x c` faer matrix.
    ///
    /// Safety: as for `item`.
    pub unsafe fn mat<T: Real>(&self, i: usize, r: usize, c: usize) -> MatMut<'_, T> {
        MatMut::from_row_major_slice_mut(self.item::<T>(i), r, c)
    }

    /// The output cast back to `dtype` (the caller's half type after an f32 computation).
    pub fn finish(self, dtype: DType) -> Result<Tensor> {
        if self.t.dtype() == dtype {
            return Ok(self.t);
        }
        cast(&self.t, dtype)
    }
}

/// Runs `f(i, par)` for each of `count` matrices of about `flops` work each: several small
/// ones in parallel across the pool (each factorised sequentially), a single large one with
/// faer's own parallelism inside.
pub fn for_each(count: usize, flops: usize, f: impl Fn(usize, Par) + Sync + Send) {
    let threads = num_threads();
    if count == 0 {
        return;
    }
    let total = count.saturating_mul(flops);
    if threads <= 1 || total < crate::kernels::PAR_GRAIN {
        (0..count).for_each(|i| f(i, Par::Seq));
    } else if count >= threads || flops < (1 << 22) {
        pool().install(|| (0..count).into_par_iter().for_each(|i| f(i, Par::Seq)));
    } else {
        pool().install(|| (0..count).for_each(|i| f(i, Par::rayon(threads))));
    }
}

/// Which batch items failed (`info[i] != 0`), as an int32 tensor of the batch's shape; the
/// Python layer turns it into PyTorch's error message (or returns it from the `_ex` forms).
pub fn info_tensor(batch: &[usize], info: Vec<i32>) -> Result<Tensor> {
    Tensor::from_vec(info, batch)
}

/// Per-matrix failure codes collected from parallel tasks.
pub struct Infos(Vec<std::sync::atomic::AtomicI32>);

impl Infos {
    pub fn new(n: usize) -> Infos {
        Infos((0..n).map(|_| std::sync::atomic::AtomicI32::new(0)).collect())
    }
    pub fn set(&self, i: usize, v: i32) {
        self.0[i].store(v, std::sync::atomic::Ordering::Relaxed);
    }
    pub fn into_vec(self) -> Vec<i32> {
        self.0.into_iter().map(|a| a.into_inner()).collect()
    }
}
