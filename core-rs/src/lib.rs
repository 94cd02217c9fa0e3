//! deepseek-core: tensors, dtypes, layouts, the primitive ops, autograd and memory.
//! Built by maturin as the Python extension module `deepseek._core`.
pub mod alloc;
pub mod autograd;
pub mod backend_abi;
pub mod op;
pub mod scalar;
pub mod backend;
pub mod device;
pub mod diag;
pub mod dispatch;
pub mod device_alloc;
pub mod dtype;
pub mod error;
pub mod graph;
pub mod kernels;
pub mod large_blocks;
pub mod layout;
pub mod ops;
pub mod storage;
pub mod tensor;

mod py;

pub use error::{Error, Result};
pub use tensor::Tensor;

/// Installs what the layers below the ops reach only through registration (the CPU kernels
/// of the dispatcher). The bindings call it when the module loads; Rust users and tests
/// call it before their first op. Idempotent.
pub fn init() {
    backend::cpu::install(ops::cpu_launch::launch, ops::fused_launch::launch);
    graph::install();
}
