//! Tensor = shared storage + layout + dtype + autograd metadata.
pub mod graph;

use graph::{Hook, Node};
use crate::device::Device;
use crate::dtype::{DType, Element};
use crate::error::{Error, Result};
use crate::layout::{numel, Layout};
use crate::storage::Storage;
use std::sync::{Arc, Mutex, MutexGuard, Weak};

#[derive(Default)]
pub struct AutogradMeta {
    pub requires_grad: bool,
    pub grad: Option<Tensor>,
    pub grad_fn: Option<Arc<Node>>,
    pub output_nr: usize,
    pub retains_grad: bool,
    /// The leaf's AccumulateGrad node, shared by every graph that uses the leaf.
    pub accumulator: Weak<Node>,
    /// Hooks on a leaf run before its gradient is accumulated.
    pub leaf_hooks: Vec<Arc<Hook>>,
    /// Hooks on a leaf run after its gradient has been accumulated into `.grad`, called with
    /// the leaf (`register_post_accumulate_grad_hook`); what they return is ignored.
    pub post_accumulate_hooks: Vec<Arc<Hook>>,
}

pub struct TensorImpl {
    pub storage: Arc<Storage>,
    pub layout: Layout,
    pub dtype: DType,
    pub meta: Mutex<AutogradMeta>,
    /// For views: the tensor that owns the storage (used to rebase history after in-place ops).
    pub view_base: Option<Tensor>,
}

#[derive(Clone)]
pub struct Tensor(pub Arc<TensorImpl>);

impl Tensor {
    pub fn from_parts(storage: Arc<Storage>, layout: Layout, dtype: DType) -> Tensor {
        Tensor(Arc::new(TensorImpl { storage, layout, dtype, meta: Mutex::new(AutogradMeta::default()), view_base: None }))
    }
    /// A view of `self` with another layout that remembers its base for autograd.
    pub fn view_of(&self, layout: Layout) -> Tensor {
        let base = self.0.view_base.clone().unwrap_or_else(|| self.clone());
        Tensor(Arc::new(TensorImpl {
            storage: self.0.storage.clone(),
            layout,
            dtype: self.0.dtype,
            meta: Mutex::new(AutogradMeta::default()),
            view_base: Some(base),
        }))
    }
    /// A view of `self`'s storage with another layout and dtype (`view_as_real`,
    /// `view_as_complex`), remembering its base like `view_of`.
    pub fn view_as_dtype(&self, layout: Layout, dtype: DType) -> Tensor {
        let base = self.0.view_base.clone().unwrap_or_else(|| self.clone());
        Tensor(Arc::new(TensorImpl {
            storage: self.0.storage.clone(),
            layout,
            dtype,
            meta: Mutex::new(AutogradMeta::default()),
            view_base: Some(base),
        }))
    }
    pub fn view_base(&self) -> Option<&Tensor> {
        self.0.view_base.as_ref()
    }
    /// A new contiguous tensor with uninitialised contents.
    pub fn empty(shape: &[usize], dtype: DType) -> Result<Tensor> {
        let st = Storage::new(Self::nbytes_for(shape, dtype)?, false)?;
        Ok(Tensor::from_parts(Arc::new(st), Layout::contiguous(shape), dtype))
    }
    /// A new contiguous tensor on `device` with uninitialised contents.
    pub fn empty_on(shape: &[usize], dtype: DType, device: Device) -> Result<Tensor> {
        if device.is_cpu() {
            return Tensor::empty(shape, dtype);
        }
        let st = Storage::new_on(Self::nbytes_for(shape, dtype)?, device)?;
        Ok(Tensor::from_parts(Arc::new(st), Layout::contiguous(shape), dtype))
    }
    pub fn device(&self) -> Device {
        self.0.storage.device()
    }
    pub fn is_device(&self) -> bool {
        !self.0.storage.device().is_cpu()
    }
    /// Bytes for a contiguous `shape`, checked for overflow (a wrapped size would be a tiny
    /// buffer behind a huge shape).
    fn nbytes_for(shape: &[usize], dtype: DType) -> Result<usize> {
        crate::layout::checked_numel("empty", shape)?
            .checked_mul(dtype.size())
            .filter(|&b| b <= isize::MAX as usize)
            .ok_or_else(|| Error::Memory(format!("cannot allocate a tensor of shape {shape:?}: size too large")))
    }
    pub fn zeros(shape: &[usize], dtype: DType) -> Result<Tensor> {
        let st = Storage::new(Self::nbytes_for(shape, dtype)?, true)?;
        Ok(Tensor::from_parts(Arc::new(st), Layout::contiguous(shape), dtype))
    }
    pub fn from_vec<T: Element>(data: Vec<T>, shape: &[usize]) -> Result<Tensor> {
        if data.len() != numel(shape) {
            return Err(Error::Runtime(format!(
                "tensor: {} values cannot fill shape {shape:?}",
                data.len()
            )));
        }
        let t = Tensor::empty(shape, T::DTYPE)?;
        unsafe { std::ptr::copy_nonoverlapping(data.as_ptr(), t.data_ptr() as *mut T, data.len()) };
        Ok(t)
    }
    pub fn scalar_f64(v: f64, dtype: DType) -> Result<Tensor> {
        if dtype.is_complex() {
            return Tensor::scalar_complex(v, 0.0, dtype);
        }
        let t = Tensor::empty(&[], dtype)?;
        crate::dispatch!(dtype, T => unsafe { *(t.data_ptr() as *mut T) = T::from_f64(v) });
        Ok(t)
    }
    /// The interleaved float view of a complex tensor (shape + [2], strides * 2 + [1], the
    /// component dtype) on the same storage, with no autograd link: what kernels see.
    pub fn real_pairs(&self) -> Tensor {
        let l = &self.0.layout;
        let mut shape = l.shape.clone();
        shape.push(2);
        let mut strides: Vec<isize> = l.strides.iter().map(|s| s * 2).collect();
        strides.push(1);
        Tensor::from_parts(self.0.storage.clone(), Layout { shape, strides, offset: l.offset * 2 }, self.0.dtype.to_real())
    }
    /// A zero-dimensional complex tensor `re + im·i` of complex `dtype`.
    pub fn scalar_complex(re: f64, im: f64, dtype: DType) -> Result<Tensor> {
        let t = Tensor::empty(&[], dtype)?;
        unsafe {
            match dtype {
                DType::C64 => *(t.data_ptr() as *mut [f32; 2]) = [re as f32, im as f32],
                DType::C128 => *(t.data_ptr() as *mut [f64; 2]) = [re, im],
                d => return Err(Error::Runtime(format!("scalar_complex: {} is not a complex dtype", d.name()))),
            }
        }
        Ok(t)
    }
    /// A new tensor viewing the same storage with another layout (no autograd link).
    pub fn alias(&self, layout: Layout) -> Tensor {
        Tensor::from_parts(self.0.storage.clone(), layout, self.0.dtype)
    }
    pub fn shape(&self) -> &[usize] {
        &self.0.layout.shape
    }
    pub fn strides(&self) -> &[isize] {
        &self.0.layout.strides
    }
    pub fn layout(&self) -> &Layout {
        &self.0.layout
    }
    pub fn dtype(&self) -> DType {
        self.0.dtype
    }
    pub fn ndim(&self) -> usize {
        self.0.layout.shape.len()
    }
    pub fn numel(&self) -> usize {
        self.0.layout.numel()
    }
    pub fn is_contiguous(&self) -> bool {
        self.0.layout.is_contiguous()
    }
    /// Pointer to element [0, 0, ...] of a CPU tensor. A plugin device's memory is never
    /// addressed from here: reaching this with a device tensor is a dispatch bug, reported
    /// as a panic (a Python exception) rather than a wild memory access.
    pub fn data_ptr(&self) -> *mut u8 {
        assert!(!self.is_device(), "internal error: a CPU kernel was given a tensor on {}", self.device().name());
        unsafe { self.0.storage.ptr().add(self.0.layout.offset * self.0.dtype.size()) }
    }
    pub fn storage(&self) -> &Arc<Storage> {
        &self.0.storage
    }
    pub fn same(&self, other: &Tensor) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
    /// Contiguous elements as a slice. Panics in debug if not contiguous.
    pub fn as_slice<T: Element>(&self) -> &[T] {
        debug_assert!(self.is_contiguous() && T::DTYPE == self.dtype());
        unsafe { std::slice::from_raw_parts(self.data_ptr() as *const T, self.numel()) }
    }
    #[allow(clippy::mut_from_ref)]
    pub fn as_slice_mut<T: Element>(&self) -> &mut [T] {
        debug_assert!(self.is_contiguous() && T::DTYPE == self.dtype());
        unsafe { std::slice::from_raw_parts_mut(self.data_ptr() as *mut T, self.numel()) }
    }
    // ---- autograd metadata ----
    pub fn meta(&self) -> MutexGuard<'_, AutogradMeta> {
        self.0.meta.lock().unwrap()
    }
    pub fn requires_grad(&self) -> bool {
        let m = self.meta();
        m.requires_grad || m.grad_fn.is_some()
    }
    pub fn grad_fn(&self) -> Option<Arc<Node>> {
        self.meta().grad_fn.clone()
    }
    pub fn is_leaf(&self) -> bool {
        self.meta().grad_fn.is_none()
    }
    pub fn set_requires_grad(&self, on: bool) -> Result<()> {
        let mut m = self.meta();
        if m.grad_fn.is_some() {
            if !on {
                return Err(Error::Runtime(
                    "you can only change requires_grad flags of leaf variables. If you want to use a computed variable in a subgraph that doesn't require differentiation use var_no_grad = var.detach().".into(),
                ));
            }
            return Ok(());
        }
        if on && !self.0.dtype.is_differentiable() {
            return Err(Error::Runtime(format!(
                "only Tensors of floating point and complex dtype can require gradients (got {})",
                self.0.dtype.name()
            )));
        }
        m.requires_grad = on;
        Ok(())
    }
    pub fn grad(&self) -> Option<Tensor> {
        self.meta().grad.clone()
    }
    pub fn set_grad(&self, g: Option<Tensor>) -> Result<()> {
        if let Some(g) = &g {
            if g.shape() != self.shape() {
                return Err(Error::Runtime(format!(
                    "assigned grad has data of a different size: expected {:?}, got {:?}",
                    self.shape(),
                    g.shape()
                )));
            }
            if g.dtype() != self.dtype() {
                return Err(Error::Runtime(format!(
                    "attempting to assign a gradient with dtype '{}' to a tensor with dtype '{}'. Please ensure that the gradient and the tensor have the same dtype",
                    g.dtype().name(),
                    self.dtype().name()
                )));
            }
            if g.device() != self.device() {
                return Err(Error::Runtime(format!(
                    "attempting to assign a gradient on device '{}' to a tensor on device '{}'. Please ensure that the gradient and the tensor are on the same device",
                    g.device().name(),
                    self.device().name()
                )));
            }
        }
        self.meta().grad = g;
        Ok(())
    }
    /// A tensor sharing storage with no autograd history.
    pub fn detach(&self) -> Tensor {
        self.alias(self.0.layout.clone())
    }
    pub fn version(&self) -> u64 {
        self.0.storage.version()
    }
}
