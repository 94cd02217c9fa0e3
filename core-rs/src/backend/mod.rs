//! Backends behind one interface. A `Backend` allocates, copies, synchronises and runs
//! primitive ops (`launch(&Op, outs, ins)`); `plugin` is the implementation over a plugin's C
//! table, `cpu` where the CPU kernels (in `ops`) register in the same launch form. The registry maps the
//! backend numbers of `Device::Ext` to loaded backends.
pub mod cpu;
pub mod plugin;

use crate::device::{self, Device};
use crate::error::{Error, Result};
use crate::op::{Op, OpId};
use crate::tensor::Tensor;
use std::sync::{Arc, RwLock};

/// What a launch did.
pub enum Launched {
    Done,
    /// The backend has no kernel for this call (why); the dispatcher falls back.
    NotImplemented(String),
}

/// One kind of hardware. Every method may be called from any thread.
pub trait Backend: Send + Sync {
    /// The device type: "opencl", "cuda" ...
    fn name(&self) -> &str;
    fn device_count(&self) -> Result<i32>;
    /// Whether the backend declares a native kernel for `op`.
    fn declares(&self, op: OpId) -> bool;
    /// Copies `nbytes` from host memory to `dst` (a handle) at `dst_offset` bytes.
    fn copy_h2d(&self, index: u16, dst: usize, dst_offset: usize, src: *const u8, nbytes: usize) -> Result<()>;
    /// Copies `nbytes` from `src` (a handle) at `src_offset` bytes to host memory.
    fn copy_d2h(&self, index: u16, dst: *mut u8, src: usize, src_offset: usize, nbytes: usize) -> Result<()>;
    /// Copies `nbytes` between two buffers of one device.
    fn copy_d2d(&self, index: u16, dst: usize, dst_offset: usize, src: usize, src_offset: usize, nbytes: usize) -> Result<()>;
    fn synchronize(&self, index: u16) -> Result<()>;
    /// Runs `op` on device `index`: outputs already allocated there, inputs on the same device.
    fn launch(&self, index: u16, op: &Op, outs: &[&Tensor], ins: &[&Tensor]) -> Result<Launched>;
    /// Whether the backend has program entries (ABI 2.1's `compile_program`): graph passes
    /// then fuse elementwise groups on its devices, each group one generated kernel.
    fn compiles_programs(&self) -> bool {
        false
    }
    /// Compiles a generated elementwise program (`body`, portable kernel source; kernel
    /// `name`) for device `index`: its handle, or None when the backend compiles no kernels
    /// or cannot build this one (the caller then runs the steps one launch each).
    fn compile_program(&self, _index: u16, _body: &str, _name: &str) -> Result<Option<usize>> {
        Ok(None)
    }
    /// Enqueues a compiled program over `outs[0]`'s shape (every operand of that shape).
    fn launch_program(&self, _index: u16, _program: usize, _outs: &[&Tensor], _ins: &[&Tensor]) -> Result<Launched> {
        Ok(Launched::NotImplemented("the backend compiles no programs".into()))
    }
    /// Frees a compiled program.
    fn release_program(&self, _index: u16, _program: usize) {}
}

static BACKENDS: RwLock<Vec<Arc<dyn Backend>>> = RwLock::new(Vec::new());

/// Registers a backend; returns the number its devices carry (`Device::Ext { backend, .. }`).
pub fn register(b: Arc<dyn Backend>, memory: device::RawMemoryFactory) -> u16 {
    let mut reg = BACKENDS.write().unwrap();
    let id = device::register_kind(b.name(), memory);
    debug_assert_eq!(id as usize, reg.len());
    reg.push(b);
    id
}

pub fn backend_of(id: u16) -> Arc<dyn Backend> {
    BACKENDS.read().unwrap()[id as usize].clone()
}

/// The latest backend registered under `name`.
pub fn find(name: &str) -> Option<(u16, Arc<dyn Backend>)> {
    let reg = BACKENDS.read().unwrap();
    reg.iter().rposition(|b| b.name() == name).map(|i| (i as u16, reg[i].clone()))
}

impl Device {
    /// Parses "cpu", "opencl" (device 0) or "opencl:1"; the backend must be registered.
    pub fn parse(s: &str) -> Result<Device> {
        let (kind, index) = match s.split_once(':') {
            Some((k, i)) => (k, i.parse::<u16>().map_err(|_| Error::Runtime(format!("invalid device string: '{s}'")))?),
            None => (s, 0),
        };
        if kind == "cpu" {
            return Ok(Device::Cpu);
        }
        let (id, b) = find(kind).ok_or_else(|| Error::Runtime(format!("device type '{kind}' has no loaded backend (device '{s}')")))?;
        let count = b.device_count()?;
        if index as i32 >= count {
            return Err(Error::Runtime(format!("device '{s}' does not exist: the {kind} backend sees {count} device(s)")));
        }
        Ok(Device::Ext { backend: id, index })
    }
}
