//! Static graphs: tracing eager code into an IR of the op table's primitives (`trace`), the IR
//! itself (`ir`), passes over it (`passes`; freezing and conv-affine folding in `fold`; elementwise fusion in `fuse`, its loop in
//! `fused_run`, its generated kernels on devices that compile them in `device_fused`; convolution
//! epilogues in `conv_epilogue`), the arena planner (`memplan`), the planner of recomputation under a memory
//! budget (`recompute`, applied to graphs by `remat`), the schedule reordering that lowers the
//! memory peak (`reorder`), the early optimizer updates
//! (`schedule`) and the executor (`exec`). The layer
//! sits above autograd and below the bindings; the dispatcher reaches the recorder only
//! through the hook `install` registers, as it reaches the CPU kernels.
pub mod conv_epilogue;
pub mod device_fused;
pub mod exec;
pub mod fold;
pub mod fuse;
pub mod fused_run;
mod fused_simd;
pub mod ir;
pub mod memplan;
pub mod passes;
pub mod recompute;
pub mod remat;
pub mod reorder;
pub mod schedule;
pub mod trace;

/// Installs the recorder into the dispatcher (idempotent; `crate::init` calls it).
pub fn install() {
    crate::dispatch::install_recorder(trace::record);
}
