//! The CPU's side of the kernel contract: `launch(&Op, outs, ins)` on CPU tensors laid out as
//! a backend would receive them (outputs allocated, inputs cast and broadcast). The kernels
//! themselves are the ops' CPU implementations, which sit above the dispatcher; they
//! register here at start-up (`crate::init`), as a plugin registers its table, so that the
//! dispatcher (for the fallback) and the conformance kit (as the reference) reach them
//! without this layer depending on the ops.
use crate::error::{Error, Result};
use crate::op::{FusedOp, Op};
use crate::tensor::Tensor;
use std::sync::OnceLock;

/// Runs one primitive on CPU tensors: outputs first, allocated by the caller.
pub type Kernels = fn(&Op, &[&Tensor], &[&Tensor]) -> Result<()>;

/// Runs one fused op (`crate::op::fused`) on CPU tensors: outputs first, allocated by the
/// caller (or updated in place, as the op declares).
pub type FusedKernels = fn(&FusedOp, &[&Tensor], &[&Tensor]) -> Result<()>;

static KERNELS: OnceLock<Kernels> = OnceLock::new();
static FUSED: OnceLock<FusedKernels> = OnceLock::new();

/// Installs the CPU kernels (once; later calls keep the first).
pub fn install(k: Kernels, fused: FusedKernels) {
    let _ = KERNELS.set(k);
    let _ = FUSED.set(fused);
}

pub fn launch_fused(op: &FusedOp, outs: &[&Tensor], ins: &[&Tensor]) -> Result<()> {
    let k = FUSED.get().ok_or_else(|| Error::Runtime(format!("{}: the CPU kernels are not installed (deepseek_core::init was not called)", op.name())))?;
    k(op, outs, ins)
}

pub fn launch(op: &Op, outs: &[&Tensor], ins: &[&Tensor]) -> Result<()> {
    let k = KERNELS.get().ok_or_else(|| Error::Runtime(format!("{}: the CPU kernels are not installed (deepseek_core::init was not called)", op.name())))?;
    k(op, outs, ins)
}
