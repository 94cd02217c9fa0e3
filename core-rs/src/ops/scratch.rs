//! Kernel scratch that has to be a tensor (an operand copied contiguous, a reordered weight):
//! its memory comes from the core's Rust heap, whose large blocks all threads share
//! (`large_blocks`), like every other buffer a kernel makes for itself, instead of from the
//! caching allocator of tensors. So a kernel's temporaries are counted as scratch
//! (`memory_stats()["scratch_bytes.all.peak"]`), not as tensor memory, and a graph run
//! allocates no tensor outside its planned arena.
use crate::dtype::DType;
use crate::error::Result;
use crate::layout::Layout;
use crate::storage::Storage;
use crate::tensor::Tensor;
use std::mem::MaybeUninit;
use std::sync::Arc;

/// The unit of a scratch tensor's buffer: 64 bytes, 64-byte aligned, as the tensor allocator
/// aligns its blocks (vector kernels may count on it).
#[repr(C, align(64))]
struct Line([u8; 64]);

/// Uninitialised CPU storage of `nbytes` for a kernel's own use.
pub(crate) fn storage(nbytes: usize) -> Storage {
    let mut v: Vec<MaybeUninit<Line>> = Vec::with_capacity(nbytes.div_ceil(64));
    // SAFETY: MaybeUninit needs no initialisation; the kernel writes before it reads
    unsafe { v.set_len(nbytes.div_ceil(64)) };
    let ptr = v.as_mut_ptr() as *mut u8;
    // the vector moves into the storage's keep-alive box: its heap buffer does not move
    unsafe { Storage::external(ptr, nbytes, Box::new(v)) }
}

/// An uninitialised contiguous CPU tensor of `shape` and `dtype` for a kernel's own use.
pub(crate) fn empty(shape: &[usize], dtype: DType) -> Result<Tensor> {
    let nbytes = shape.iter().product::<usize>() * dtype.size();
    Ok(Tensor::from_parts(Arc::new(storage(nbytes)), Layout::contiguous(shape), dtype))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_scratch_tensor_is_contiguous_aligned_and_writable() {
        for (shape, dt) in [(vec![64, 32, 3, 3], DType::F32), (vec![5, 7], DType::F64), (vec![300_000], DType::U8), (vec![0, 3], DType::F32)] {
            let t = empty(&shape, dt).unwrap();
            assert_eq!((t.shape(), t.dtype()), (shape.as_slice(), dt));
            assert!(t.is_contiguous() && t.data_ptr() as usize % 64 == 0);
            if dt == DType::F32 && t.numel() > 0 {
                let s = t.as_slice_mut::<f32>();
                s.fill(1.5);
                s[7] = 2.5;
                assert_eq!((t.as_slice::<f32>()[7], t.as_slice::<f32>()[t.numel() - 1]), (2.5, 1.5));
            }
        }
    }
}
