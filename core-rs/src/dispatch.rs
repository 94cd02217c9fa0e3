//! The dispatcher: runs a primitive op on the device of its operands, and moves tensors
//! between devices. For a plugin device it launches the backend's kernel when the backend
//! declares one; otherwise the op runs on the CPU on host copies of its operands, with a
//! one-time warning per op and backend (an error in strict mode).
use crate::backend::{self, cpu, Backend, Launched};
use crate::device::Device;
use crate::error::{Error, Result};
use crate::op::{FusedOp, Op, OpId};
use crate::storage::Storage;
use crate::tensor::Tensor;
use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

static STRICT: AtomicBool = AtomicBool::new(false);

/// What a launch runs: a primitive of the table or a fused kernel.
#[derive(Clone, Copy, Debug)]
pub enum Kernel<'a> {
    Op(&'a Op),
    Fused(&'a FusedOp),
}

/// Wraps a launch while a graph is being traced: gets the kernel and its operands, runs the
/// launch through `run`, and records it. Installed by the graph layer (which sits above).
pub type Recorder = fn(k: Kernel<'_>, outs: &[&Tensor], ins: &[&Tensor], run: &mut dyn FnMut() -> Result<()>) -> Result<()>;
static RECORDER: OnceLock<Recorder> = OnceLock::new();
/// How many traces are active in the process: 0 keeps the launch path to one relaxed load.
static TRACES: AtomicUsize = AtomicUsize::new(0);

/// Installs the graph recorder (once; later calls keep the first).
pub fn install_recorder(r: Recorder) {
    let _ = RECORDER.set(r);
}
/// Counts a trace in (`true`) or out; launches consult the recorder only while some trace is on.
pub fn set_tracing(on: bool) {
    if on {
        TRACES.fetch_add(1, Ordering::Relaxed);
    } else {
        TRACES.fetch_sub(1, Ordering::Relaxed);
    }
}

/// `run` through the recorder when a trace is active somewhere, directly otherwise.
fn recorded(k: Kernel<'_>, outs: &[&Tensor], ins: &[&Tensor], run: &mut dyn FnMut() -> Result<()>) -> Result<()> {
    if TRACES.load(Ordering::Relaxed) != 0 {
        if let Some(r) = RECORDER.get() {
            return r(k, outs, ins, run);
        }
    }
    run()
}
/// (backend number, op) pairs already warned about.
static WARNED: Mutex<Option<HashSet<(u16, OpId)>>> = Mutex::new(None);

/// Strict mode: an op a backend lacks raises instead of running on the CPU.
pub fn set_strict(on: bool) {
    STRICT.store(on, Ordering::Relaxed);
}
pub fn is_strict() -> bool {
    STRICT.load(Ordering::Relaxed)
}

pub fn synchronize(dev: Device) -> Result<()> {
    match dev {
        Device::Cpu => Ok(()),
        Device::Ext { backend, index } => backend::backend_of(backend).synchronize(index),
    }
}

/// Whether `dev`'s backend has a native kernel for `op` (the CPU has every primitive's).
pub fn declares(dev: Device, op: OpId) -> bool {
    match dev {
        Device::Cpu => true,
        Device::Ext { backend, .. } => backend::backend_of(backend).declares(op),
    }
}

/// The device an op runs on: the one device of its tensor operands. 0-dim CPU tensors
/// (Python numbers turned into tensors, saved constants) go with any device, as in PyTorch.
pub fn common(op: &str, ts: &[&Tensor]) -> Result<Device> {
    let mut found: Option<&Tensor> = None;
    for &t in ts {
        let d = t.device();
        if d.is_cpu() && t.ndim() == 0 {
            continue;
        }
        match found {
            None => found = Some(t),
            Some(f) if f.device() != d => {
                return Err(Error::Runtime(format!(
                    "{op}: expected all tensors to be on the same device, but found at least two devices, {} and {} (tensors of shape {:?} and {:?})",
                    f.device().name(),
                    d.name(),
                    f.shape(),
                    t.shape()
                )))
            }
            _ => {}
        }
    }
    Ok(found.map(|t| t.device()).unwrap_or(Device::Cpu))
}

/// Same as `common`, for optional tensors.
pub fn common_opt(op: &str, ts: &[Option<&Tensor>]) -> Result<Device> {
    let v: Vec<&Tensor> = ts.iter().flatten().copied().collect();
    common(op, &v)
}

/// The byte offset of `t`'s first element inside its device buffer.
fn byte_offset(t: &Tensor) -> usize {
    t.storage().byte_offset() + t.layout().offset * t.dtype().size()
}

/// A copy of `t` on `dev` (no autograd; `t` itself when it already lives there).
pub fn to_device(t: &Tensor, dev: Device) -> Result<Tensor> {
    let src = t.device();
    if src == dev {
        return Ok(t.clone());
    }
    let nbytes = t.numel() * t.dtype().size();
    match (src, dev) {
        (Device::Cpu, Device::Ext { backend, index }) => {
            let c = if t.is_contiguous() { t.clone() } else { contiguous_copy(t)? };
            let out = Tensor::empty_on(t.shape(), t.dtype(), dev)?;
            let st = out.storage();
            backend::backend_of(backend).copy_h2d(index, st.ptr() as usize, st.byte_offset(), c.data_ptr(), nbytes)?;
            Ok(out)
        }
        (Device::Ext { backend, index }, Device::Cpu) => {
            let c = if t.is_contiguous() { t.clone() } else { contiguous_copy(t)? };
            let out = Tensor::empty(t.shape(), t.dtype())?;
            backend::backend_of(backend).copy_d2h(index, out.data_ptr(), c.storage().ptr() as usize, byte_offset(&c), nbytes)?;
            Ok(out)
        }
        _ => to_device(&to_device(t, Device::Cpu)?, dev),
    }
}

/// A contiguous copy of `t` on its own device, made by the copy primitive (no autograd).
fn contiguous_copy(t: &Tensor) -> Result<Tensor> {
    let out = Tensor::empty_on(t.shape(), t.dtype(), t.device())?;
    if t.dtype().is_complex() {
        launch(&Op::Copy, &[&out.real_pairs()], &[&t.real_pairs()])?;
        return Ok(out);
    }
    launch(&Op::Copy, &[&out], &[t])?;
    Ok(out)
}

/// Copies contiguous `src` into contiguous `dst` of the same device, dtype and size with the
/// backend's device-to-device copy. False when that does not apply (the caller launches
/// the copy kernel instead).
pub fn copy_contiguous_d2d(dst: &Tensor, src: &Tensor) -> Result<bool> {
    let (Device::Ext { backend, index }, true) = (dst.device(), dst.device() == src.device()) else { return Ok(false) };
    if dst.dtype() != src.dtype() || dst.shape() != src.shape() || !dst.is_contiguous() || !src.is_contiguous() {
        return Ok(false);
    }
    let nbytes = dst.numel() * dst.dtype().size();
    recorded(Kernel::Op(&Op::Copy), &[dst], &[src], &mut || {
        backend::backend_of(backend).copy_d2d(index, dst.storage().ptr() as usize, byte_offset(dst), src.storage().ptr() as usize, byte_offset(src), nbytes)
    })?;
    Ok(true)
}

/// Refuses a write into `dst` when two of its elements share one memory location (an
/// expanded view): the result would depend on the order of the writes. Every in-place and
/// `out=` write checks here, on any device, before it writes.
pub fn check_write(op: &str, dst: &Tensor) -> Result<()> {
    if dst.is_contiguous() || !dst.layout().has_internal_overlap() {
        return Ok(());
    }
    Err(Error::Runtime(format!(
        "{op}: unsupported operation: more than one element of the written-to tensor (shape {:?}, strides {:?}) refers to a single memory location. Please clone() the tensor before performing the operation.",
        dst.shape(),
        dst.strides()
    )))
}

/// The byte range of `t`'s elements inside its storage's buffer.
fn byte_span(t: &Tensor) -> Option<(isize, isize)> {
    let (lo, hi) = t.layout().span()?;
    let (item, base) = (t.dtype().size() as isize, t.storage().byte_offset() as isize);
    Some((base + lo * item, base + (hi + 1) * item - 1))
}

/// `src` when a kernel may read it while writing `dst`; otherwise a copy of it. A source
/// that shares memory with the destination only element for element (the same layout:
/// `a.add_(a)`) is read before each write; any other overlap (`a.add_(a.t())`) would read
/// values already overwritten, so the source is copied first.
pub fn unaliased_source(dst: &Tensor, src: &Tensor) -> Result<Tensor> {
    let same_buffer = Arc::ptr_eq(dst.storage(), src.storage())
        || (dst.storage().ptr() == src.storage().ptr() && dst.device() == src.device());
    if !same_buffer || src.numel() == 0 || dst.numel() == 0 {
        return Ok(src.clone());
    }
    if src.dtype() == dst.dtype() && src.layout() == dst.layout() {
        return Ok(src.clone());
    }
    let (Some((a0, a1)), Some((b0, b1))) = (byte_span(dst), byte_span(src)) else { return Ok(src.clone()) };
    if a1 < b0 || b1 < a0 {
        return Ok(src.clone());
    }
    contiguous_copy(src)
}

/// Runs primitive `op` on the device of `outs[0]` (outputs already allocated there), as the
/// kernel contract describes. 0-dim CPU inputs are copied over first. A graph being traced
/// on this thread records the launch.
pub fn launch(op: &Op, outs: &[&Tensor], ins: &[&Tensor]) -> Result<()> {
    #[cfg(test)]
    launch_log::note(op.name());
    recorded(Kernel::Op(op), outs, ins, &mut || launch_now(op, outs, ins))
}

fn launch_now(op: &Op, outs: &[&Tensor], ins: &[&Tensor]) -> Result<()> {
    // complex tensors reach kernels only as real views (`ops::complex`); an op that gets here
    // with one has no complex lowering, and must not run a real kernel on its bytes
    if let Some(t) = outs.iter().chain(ins.iter()).find(|t| t.dtype().is_complex()) {
        return Err(Error::Runtime(crate::dtype::complex_unsupported(op.name(), t.dtype())));
    }
    let dev = outs[0].device();
    let Device::Ext { backend: id, index } = dev else {
        return cpu::launch(op, outs, ins);
    };
    if !matches!(op, Op::Fill(_)) {
        // (a fill is idempotent: a location shared by several elements gets one value)
        for o in outs {
            check_write(op.name(), o)?;
        }
    }
    let moved: Vec<Tensor> = ins.iter().map(|t| to_device(t, dev)).collect::<Result<_>>()?;
    // kernels may run in any order: an input overlapping an output is copied out first
    let moved: Vec<Tensor> = moved.iter().map(|t| outs.iter().try_fold(t.clone(), |t, o| unaliased_source(o, &t))).collect::<Result<_>>()?;
    for t in outs.iter().copied().chain(moved.iter()) {
        if t.device() != dev {
            return Err(Error::Runtime(format!("{}: operands on {} and {}", op.name(), dev.name(), t.device().name())));
        }
    }
    if outs.iter().all(|t| t.numel() == 0) {
        return Ok(()); // nothing to write (an empty input with a non-empty output still launches)
    }
    let b = backend::backend_of(id);
    let ins: Vec<&Tensor> = moved.iter().collect();
    if !b.declares(op.id()) {
        return fallback(id, &*b, op, outs, &moved, "not declared by the backend");
    }
    match b.launch(index, op, outs, &ins)? {
        Launched::Done => Ok(()),
        Launched::NotImplemented(why) => fallback(id, &*b, op, outs, &moved, &why),
    }
}

/// Runs fused op `op` (CPU only; see `crate::op::fused`): the one door through which every
/// fused kernel runs, as `launch` is for the primitives. An op that updates its outputs in
/// place has their version counters bumped here.
pub fn launch_fused(op: &FusedOp, outs: &[&Tensor], ins: &[&Tensor]) -> Result<()> {
    #[cfg(test)]
    launch_log::note(op.name());
    recorded(Kernel::Fused(op), outs, ins, &mut || launch_fused_now(op, outs, ins))
}

fn launch_fused_now(op: &FusedOp, outs: &[&Tensor], ins: &[&Tensor]) -> Result<()> {
    if let Some(t) = outs.iter().chain(ins).find(|t| !t.device().is_cpu()) {
        return Err(Error::Runtime(format!(
            "{}: the fused kernel is CPU-only, got a tensor of shape {:?} on {}; other devices compose the op from primitives",
            op.name(),
            t.shape(),
            t.device().name()
        )));
    }
    op.check_arity(outs.len(), ins.len())?;
    if op.updates_in_place() {
        for o in outs {
            check_write(op.name(), o)?;
        }
    }
    cpu::launch_fused(op, outs, ins)?;
    if op.updates_in_place() {
        for o in outs {
            o.storage().bump_version();
        }
    }
    Ok(())
}

fn warn_once(id: u16, b: &dyn Backend, op: &Op, why: &str) -> Result<()> {
    if !WARNED.lock().unwrap().get_or_insert_with(HashSet::new).insert((id, op.id())) {
        return Ok(());
    }
    let msg = format!(
        "{}: the {} backend has no kernel for it ({why}); running it on the CPU with copies to and from the device. This warning is shown once per op; deepseek.backends.set_strict(True) or DEEPSEEK_STRICT_DEVICE=1 makes it an error.",
        op.name(),
        b.name()
    );
    crate::diag::warn(&msg).map_err(Error::Runtime)
}

/// Runs `op` on the CPU: host copies of every operand's storage (so views and aliasing are
/// kept), the CPU kernel, then the outputs' storages copied back.
fn fallback(id: u16, b: &dyn Backend, op: &Op, outs: &[&Tensor], ins: &[Tensor], why: &str) -> Result<()> {
    if is_strict() {
        return Err(Error::Runtime(format!(
            "{}: the {} backend has no kernel for it ({why}), and strict device mode forbids running it on the CPU (deepseek.backends.set_strict(False) allows it)",
            op.name(),
            b.name()
        )));
    }
    warn_once(id, b, op, why)?;
    let mut mirrors: HashMap<usize, Arc<Storage>> = HashMap::new();
    let mut mirror = |t: &Tensor| -> Result<Tensor> {
        let key = Arc::as_ptr(t.storage()) as usize;
        if !mirrors.contains_key(&key) {
            let st = t.storage();
            let host = Arc::new(Storage::new(st.nbytes(), false)?);
            let Device::Ext { index, .. } = t.device() else { unreachable!() };
            b.copy_d2h(index, host.ptr(), st.ptr() as usize, st.byte_offset(), st.nbytes())?;
            mirrors.insert(key, host);
        }
        Ok(Tensor::from_parts(mirrors[&key].clone(), t.layout().clone(), t.dtype()))
    };
    let co: Vec<Tensor> = outs.iter().map(|t| mirror(t)).collect::<Result<_>>()?;
    let ci: Vec<Tensor> = ins.iter().map(&mut mirror).collect::<Result<_>>()?;
    cpu::launch(op, &co.iter().collect::<Vec<_>>(), &ci.iter().collect::<Vec<_>>())?;
    let mut done = HashSet::new();
    for t in outs {
        let key = Arc::as_ptr(t.storage()) as usize;
        if done.insert(key) {
            let st = t.storage();
            let Device::Ext { index, .. } = t.device() else { unreachable!() };
            b.copy_h2d(index, st.ptr() as usize, st.byte_offset(), mirrors[&key].ptr(), st.nbytes())?;
        }
    }
    Ok(())
}

/// In test builds, the launches of the calling thread, so that a test can check that an op
/// runs exactly its primitive (and that no kernel launches others from inside).
#[cfg(test)]
pub(crate) mod launch_log {
    use std::cell::RefCell;
    thread_local! {
        static LOG: RefCell<Option<Vec<&'static str>>> = const { RefCell::new(None) };
    }
    pub(crate) fn note(name: &'static str) {
        LOG.with(|l| {
            if let Some(v) = l.borrow_mut().as_mut() {
                v.push(name)
            }
        });
    }
    /// Runs `f` and returns what it launched, in order.
    pub(crate) fn launches<R>(f: impl FnOnce() -> R) -> (R, Vec<&'static str>) {
        LOG.with(|l| *l.borrow_mut() = Some(Vec::new()));
        let r = f();
        (r, LOG.with(|l| l.borrow_mut().take().unwrap_or_default()))
    }
}
