//! Devices: the CPU, and the devices of plugin backends reached through their C table
//! (`backend_abi.rs`). The core owns every device allocation (a caching allocator per device
//! over the plugin's raw `alloc`/`free`), moves data with the plugin's copies, and runs each
//! primitive op through the plugin's `launch` when the plugin declares it; otherwise the op
//! runs on the CPU on host copies of its operands (a one-time warning per op, or an error in
//! strict mode). `reference` is the CPU side of the kernel contract of docs/backends.md, the
//! same contract a plugin implements.
use crate::device_alloc::{DeviceAllocator, RawDevice};
use crate::backend_abi::{self as abi, BackendTable, ScalarArg, ScalarValue, TensorDesc};
use crate::dtype::DType;
use crate::error::{Error, Result};
use crate::ops::Scalar;
use crate::storage::Storage;
use crate::tensor::Tensor;
use std::collections::{HashMap, HashSet};
use std::ffi::{c_void, CStr, CString};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock};

/// Where a tensor's storage lives.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum Device {
    Cpu,
    /// Device `index` of the registered backend number `backend`.
    Ext { backend: u16, index: u16 },
}

impl Device {
    pub fn is_cpu(self) -> bool {
        self == Device::Cpu
    }
    /// "cpu", "opencl:0", ...
    pub fn name(self) -> String {
        match self {
            Device::Cpu => "cpu".into(),
            Device::Ext { backend: b, index } => format!("{}:{index}", backend_of(b).name),
        }
    }
    /// Parses "cpu", "opencl" (device 0) or "opencl:1"; the backend must be registered.
    pub fn parse(s: &str) -> Result<Device> {
        let (kind, index) = match s.split_once(':') {
            Some((k, i)) => (k, i.parse::<u16>().map_err(|_| Error::Runtime(format!("invalid device string: '{s}'")))?),
            None => (s, 0),
        };
        if kind == "cpu" {
            return Ok(Device::Cpu);
        }
        let reg = BACKENDS.read().unwrap();
        let id = reg
            .iter()
            .rposition(|b| b.name == kind)
            .ok_or_else(|| Error::Runtime(format!("device type '{kind}' has no loaded backend (device '{s}')")))?;
        let count = reg[id].device_count()?;
        if index as i32 >= count {
            return Err(Error::Runtime(format!("device '{s}' does not exist: the {kind} backend sees {count} device(s)")));
        }
        Ok(Device::Ext { backend: id as u16, index })
    }
}

/// A loaded backend: its checked table, the ops it declares, an allocator per device.
pub struct Backend {
    pub name: String,
    table: &'static BackendTable,
    ops: HashSet<String>,
    allocators: Mutex<HashMap<u16, Arc<DeviceAllocator>>>,
    warned: Mutex<HashSet<String>>,
}

// The table is immutable after `register` and its functions are callable from any thread
// (the ABI requires it), so sharing the pointers is sound.
unsafe impl Send for Backend {}
unsafe impl Sync for Backend {}

static BACKENDS: RwLock<Vec<Arc<Backend>>> = RwLock::new(Vec::new());
static STRICT: AtomicBool = AtomicBool::new(false);

/// Registers a backend's table (its address, from the Python loader); returns its number.
/// The same table again returns its first registration; a new table under a known name (a
/// plugin loaded again) gets a new number and takes the name over, while tensors already on
/// the old one keep using the table they were made with (tables are never freed).
pub fn register(name: &str, table_addr: usize) -> Result<u16> {
    let t = unsafe { abi::check_table(table_addr as *const BackendTable) }.map_err(Error::Runtime)?;
    let mut reg = BACKENDS.write().unwrap();
    if let Some(i) = reg.iter().position(|b| b.name == name && std::ptr::eq(b.table, t)) {
        return Ok(i as u16);
    }
    let ops = (0..t.n_ops.max(0) as usize)
        .map(|i| unsafe { CStr::from_ptr(*t.ops.add(i)) }.to_string_lossy().into_owned())
        .collect();
    reg.push(Arc::new(Backend {
        name: name.to_string(),
        table: t,
        ops,
        allocators: Mutex::new(HashMap::new()),
        warned: Mutex::new(HashSet::new()),
    }));
    Ok((reg.len() - 1) as u16)
}

pub fn backend_of(id: u16) -> Arc<Backend> {
    BACKENDS.read().unwrap()[id as usize].clone()
}

/// Strict mode: an op a backend lacks raises instead of running on the CPU.
pub fn set_strict(on: bool) {
    STRICT.store(on, Ordering::Relaxed);
}
pub fn is_strict() -> bool {
    STRICT.load(Ordering::Relaxed)
}

impl Backend {
    fn message(&self) -> String {
        let f = self.table.last_error.expect("checked table");
        let p = unsafe { f() };
        if p.is_null() {
            return "no message".into();
        }
        let s = unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned();
        if s.is_empty() { "no message".into() } else { s }
    }
    fn check(&self, st: abi::Status, what: impl FnOnce() -> String) -> Result<()> {
        match st {
            abi::DS_OK => Ok(()),
            abi::DS_ERROR_OUT_OF_MEMORY => Err(Error::Memory(format!("{} backend: {} failed: {}", self.name, what(), self.message()))),
            _ => Err(Error::Runtime(format!("{} backend: {} failed: {}", self.name, what(), self.message()))),
        }
    }
    pub fn device_count(&self) -> Result<i32> {
        let mut n = 0i32;
        let st = unsafe { (self.table.device_count.unwrap())(&mut n) };
        self.check(st, || "device_count()".into())?;
        Ok(n)
    }
    /// Raw allocation; `Ok(None)` means the device is out of memory.
    pub fn raw_alloc(&self, dev: u16, nbytes: usize) -> Result<Option<usize>> {
        let mut p: *mut c_void = std::ptr::null_mut();
        let st = unsafe { (self.table.alloc.unwrap())(dev as i32, nbytes as u64, &mut p) };
        if st == abi::DS_ERROR_OUT_OF_MEMORY {
            return Ok(None);
        }
        self.check(st, || format!("alloc({nbytes} bytes) on device {dev}"))?;
        Ok(Some(p as usize))
    }
    pub fn raw_free(&self, dev: u16, ptr: usize) {
        // A failing free leaks the block; nothing a caller could do about it.
        let _ = unsafe { (self.table.free.unwrap())(dev as i32, ptr as *mut c_void) };
    }
    pub fn h2d(&self, dev: u16, dst: usize, dst_offset: usize, src: *const u8, nbytes: usize) -> Result<()> {
        if nbytes == 0 {
            return Ok(());
        }
        let st = unsafe {
            (self.table.memcpy_h2d.unwrap())(dev as i32, dst as *mut c_void, dst_offset as u64, src as *const c_void, nbytes as u64, std::ptr::null_mut())
        };
        self.check(st, || format!("memcpy_h2d({nbytes} bytes) on device {dev}"))
    }
    pub fn d2h(&self, dev: u16, dst: *mut u8, src: usize, src_offset: usize, nbytes: usize) -> Result<()> {
        if nbytes == 0 {
            return Ok(());
        }
        let st = unsafe {
            (self.table.memcpy_d2h.unwrap())(dev as i32, dst as *mut c_void, src as *const c_void, src_offset as u64, nbytes as u64, std::ptr::null_mut())
        };
        self.check(st, || format!("memcpy_d2h({nbytes} bytes) on device {dev}"))
    }
    pub fn synchronize(&self, dev: u16) -> Result<()> {
        let st = unsafe { (self.table.synchronize.unwrap())(dev as i32) };
        self.check(st, || format!("synchronize(device {dev})"))
    }
    pub fn declares(&self, op: &str) -> bool {
        self.ops.contains(op)
    }
    /// The caching allocator of device `index`.
    pub fn allocator(self: &Arc<Self>, index: u16) -> Arc<DeviceAllocator> {
        self.allocators
            .lock()
            .unwrap()
            .entry(index)
            .or_insert_with(|| {
                let raw = PluginMemory { backend: self.clone(), index };
                Arc::new(DeviceAllocator::new(Box::new(raw), format!("{}:{index}", self.name)))
            })
            .clone()
    }
}

/// A device's raw memory: the plugin's `alloc`/`free`.
struct PluginMemory {
    backend: Arc<Backend>,
    index: u16,
}

impl RawDevice for PluginMemory {
    fn alloc(&self, nbytes: usize) -> Result<Option<usize>> {
        // a NULL handle for a non-empty request counts as out of memory
        Ok(self.backend.raw_alloc(self.index, nbytes)?.filter(|&h| h != 0))
    }
    fn free(&self, handle: usize) {
        self.backend.raw_free(self.index, handle)
    }
}

/// The allocator of a device, or None for the CPU (whose allocator is `alloc::HOST`).
pub fn allocator_of(dev: Device) -> Option<Arc<DeviceAllocator>> {
    match dev {
        Device::Cpu => None,
        Device::Ext { backend, index } => Some(backend_of(backend).allocator(index)),
    }
}

pub fn synchronize(dev: Device) -> Result<()> {
    match dev {
        Device::Cpu => Ok(()),
        Device::Ext { backend, index } => backend_of(backend).synchronize(index),
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

/// A copy of `t` on `dev` (no autograd; `t` itself when it already lives there).
pub fn to_device(t: &Tensor, dev: Device) -> Result<Tensor> {
    let src = t.device();
    if src == dev {
        return Ok(t.clone());
    }
    let nbytes = t.numel() * t.dtype().size();
    match (src, dev) {
        (Device::Cpu, Device::Ext { backend, index }) => {
            let c = if t.is_contiguous() { t.clone() } else { crate::ops::clone_contiguous(t)? };
            let out = Tensor::empty_on(t.shape(), t.dtype(), dev)?;
            let st = out.storage();
            backend_of(backend).h2d(index, st.ptr() as usize, st.byte_offset(), c.data_ptr(), nbytes)?;
            Ok(out)
        }
        (Device::Ext { backend, index }, Device::Cpu) => {
            let c = if t.is_contiguous() { t.clone() } else { crate::ops::clone_contiguous(t)? };
            let out = Tensor::empty(t.shape(), t.dtype())?;
            let off = c.storage().byte_offset() + c.layout().offset * c.dtype().size();
            backend_of(backend).d2h(index, out.data_ptr(), c.storage().ptr() as usize, off, nbytes)?;
            Ok(out)
        }
        _ => to_device(&to_device(t, Device::Cpu)?, dev),
    }
}

/// `to_device` that stays in the autograd graph.
pub fn to_device_grad(t: &Tensor, dev: Device) -> Result<Tensor> {
    let src = t.device();
    if src == dev {
        return Ok(t.clone());
    }
    let out = to_device(t, dev)?;
    if t.dtype().is_float() && crate::autograd::needs_grad(&[t]) {
        crate::autograd::record("ToCopyBackward0", &[t], &[&out], vec![], move |g, _| {
            Ok(vec![match &g[0] {
                Some(g) => Some(to_device_grad(g, src)?),
                None => None,
            }])
        });
    }
    Ok(out)
}

fn scalar_arg(s: &Scalar) -> ScalarArg {
    match *s {
        Scalar::Bool(b) => ScalarArg { kind: abi::DS_SCALAR_BOOL, reserved: 0, value: ScalarValue { i: b as i64 } },
        Scalar::Int(i) => ScalarArg { kind: abi::DS_SCALAR_INT, reserved: 0, value: ScalarValue { i } },
        Scalar::Float(f) => ScalarArg { kind: abi::DS_SCALAR_FLOAT, reserved: 0, value: ScalarValue { f } },
    }
}

fn dtype_code(d: DType) -> i32 {
    match d {
        DType::Bool => 0,
        DType::U8 => 1,
        DType::I8 => 2,
        DType::I16 => 3,
        DType::I32 => 4,
        DType::I64 => 5,
        DType::F16 => 6,
        DType::BF16 => 7,
        DType::F32 => 8,
        DType::F64 => 9,
    }
}

/// Runs primitive `op` on the device of `outs[0]` (outputs already allocated there), as the
/// kernel contract describes. 0-dim CPU inputs are copied over first.
pub fn launch(op: &str, outs: &[&Tensor], ins: &[&Tensor], scalars: &[Scalar]) -> Result<()> {
    let dev = outs[0].device();
    let Device::Ext { backend: id, index } = dev else {
        return Err(Error::Runtime(format!("internal error: {op} launched for a CPU tensor")));
    };
    let moved: Vec<Tensor> = ins.iter().map(|t| to_device(t, dev)).collect::<Result<_>>()?;
    for t in outs.iter().copied().chain(moved.iter()) {
        if t.device() != dev {
            return Err(Error::Runtime(format!("{op}: operands on {} and {}", dev.name(), t.device().name())));
        }
    }
    let all: Vec<&Tensor> = outs.iter().copied().chain(moved.iter()).collect();
    if outs.iter().all(|t| t.numel() == 0) {
        return Ok(()); // nothing to write (an empty input with a non-empty output still launches)
    }
    let b = backend_of(id);
    if !b.declares(op) {
        return fallback(&b, op, outs, &moved, scalars, "not declared by the backend");
    }
    let shapes: Vec<Vec<i64>> = all.iter().map(|t| t.shape().iter().map(|&s| s as i64).collect()).collect();
    let strides: Vec<Vec<i64>> = all.iter().map(|t| t.strides().iter().map(|&s| s as i64).collect()).collect();
    let descs: Vec<TensorDesc> = all
        .iter()
        .enumerate()
        .map(|(i, t)| TensorDesc {
            ptr: t.storage().ptr() as *mut c_void,
            dtype: dtype_code(t.dtype()),
            ndim: t.ndim() as i32,
            shape: shapes[i].as_ptr(),
            strides: strides[i].as_ptr(),
            offset: (t.layout().offset + t.storage().byte_offset() / t.dtype().size()) as i64,
        })
        .collect();
    let sc: Vec<ScalarArg> = scalars.iter().map(scalar_arg).collect();
    let cop = CString::new(op).unwrap();
    let st = unsafe {
        (b.table.launch.unwrap())(index as i32, cop.as_ptr(), descs.as_ptr(), descs.len() as i32, sc.as_ptr(), sc.len() as i32, std::ptr::null_mut())
    };
    if st == abi::DS_ERROR_NOT_IMPLEMENTED {
        let why = format!("the kernel answered not implemented: {}", b.message());
        return fallback(&b, op, outs, &moved, scalars, &why);
    }
    let desc = |ts: &[&Tensor]| ts.iter().map(|t| format!("{}{:?}", t.dtype().name(), t.shape())).collect::<Vec<_>>().join(", ");
    b.check(st, || format!("kernel '{op}' on {} (outputs {}; inputs {})", dev.name(), desc(outs), desc(&moved.iter().collect::<Vec<_>>())))
}

fn warn_once(b: &Backend, op: &str, why: &str) -> Result<()> {
    if !b.warned.lock().unwrap().insert(op.to_string()) {
        return Ok(());
    }
    let msg = format!(
        "{op}: the {} backend has no kernel for it ({why}); running it on the CPU with copies to and from the device. This warning is shown once per op; deepseek.backends.set_strict(True) or DEEPSEEK_STRICT_DEVICE=1 makes it an error.",
        b.name
    );
    crate::py::warn(&msg).map_err(Error::Runtime)
}

/// Runs `op` on the CPU: host copies of every operand's storage (so views and aliasing are
/// kept), the CPU reference kernel, then the outputs' storages copied back.
fn fallback(b: &Backend, op: &str, outs: &[&Tensor], ins: &[Tensor], scalars: &[Scalar], why: &str) -> Result<()> {
    if is_strict() {
        return Err(Error::Runtime(format!(
            "{op}: the {} backend has no kernel for it ({why}), and strict device mode forbids running it on the CPU (deepseek.backends.set_strict(False) allows it)",
            b.name
        )));
    }
    warn_once(b, op, why)?;
    let mut mirrors: HashMap<usize, Arc<Storage>> = HashMap::new();
    let mut mirror = |t: &Tensor| -> Result<Tensor> {
        let key = Arc::as_ptr(t.storage()) as usize;
        if !mirrors.contains_key(&key) {
            let st = t.storage();
            let host = Arc::new(Storage::new(st.nbytes(), false)?);
            let Device::Ext { backend, index } = t.device() else { unreachable!() };
            backend_of(backend).d2h(index, host.ptr(), st.ptr() as usize, st.byte_offset(), st.nbytes())?;
            mirrors.insert(key, host);
        }
        Ok(Tensor::from_parts(mirrors[&key].clone(), t.layout().clone(), t.dtype()))
    };
    let co: Vec<Tensor> = outs.iter().map(|t| mirror(t)).collect::<Result<_>>()?;
    let ci: Vec<Tensor> = ins.iter().map(&mut mirror).collect::<Result<_>>()?;
    crate::autograd::with_grad_mode(false, || reference(op, &co, &ci, scalars))?;
    let mut done = HashSet::new();
    for t in outs {
        let key = Arc::as_ptr(t.storage()) as usize;
        if done.insert(key) {
            let st = t.storage();
            let Device::Ext { backend, index } = t.device() else { unreachable!() };
            backend_of(backend).h2d(index, st.ptr() as usize, st.byte_offset(), mirrors[&key].ptr(), st.nbytes())?;
        }
    }
    Ok(())
}

fn int_arg(op: &str, s: &[Scalar], i: usize) -> Result<i64> {
    match s.get(i) {
        Some(Scalar::Int(v)) => Ok(*v),
        Some(Scalar::Bool(v)) => Ok(*v as i64),
        _ => Err(Error::Runtime(format!("{op}: scalar argument {i} must be an int"))),
    }
}
fn bool_arg(op: &str, s: &[Scalar], i: usize) -> Result<bool> {
    Ok(int_arg(op, s, i)? != 0)
}
fn float_arg(op: &str, s: &[Scalar], i: usize) -> Result<f64> {
    s.get(i).map(|v| v.as_f64()).ok_or_else(|| Error::Runtime(format!("{op}: missing scalar argument {i}")))
}

/// The kernel contract on the CPU: `outs` and `ins` are CPU tensors laid out as a backend
/// would receive them. Used for the CPU fallback and as the conformance kit's reference.
pub fn reference(op: &str, outs: &[Tensor], ins: &[Tensor], s: &[Scalar]) -> Result<()> {
    use crate::ops::{self, binary::BinaryOp, reduce::ReduceOp, unary::UnaryOp};
    let out = &outs[0];
    let put = |r: &Tensor| ops::copy_raw(out, r);
    if let Some(u) = UnaryOp::from_name(op) {
        return put(&ops::unary::unary_raw(u, &ins[0])?);
    }
    if let Some(bop) = BinaryOp::from_name(op) {
        let compute = ins[0].dtype();
        return ops::binary::kernel_into(bop, compute, out, &ins[0], &ins[1]);
    }
    if let Some(r) = ReduceOp::from_name(op) {
        let dims: Vec<usize> = (0..out.ndim()).filter(|&d| out.shape()[d] == 1 && ins[0].shape()[d] != 1).collect();
        return put(&ops::reduce::reduce_raw(r, &ins[0], &dims, true)?);
    }
    let dim = |i: usize| -> Result<usize> { Ok(int_arg(op, s, i)? as usize) };
    match op {
        "where" => put(&ops::binary::where_(&ins[0], &ins[1], &ins[2])?),
        "cast" | "copy" => ops::copy_raw(out, &ins[0]),
        "fill" => match s.first() {
            Some(Scalar::Int(v)) if !out.dtype().is_float() => {
                let t = Scalar::Int(*v).to_tensor(out.dtype())?;
                ops::copy_raw(out, &t)
            }
            _ => ops::fill_raw(out, float_arg(op, s, 0)?),
        },
        "arange" => {
            let n = out.numel();
            let r = if out.dtype().is_float() {
                let (a, st) = (float_arg(op, s, 0)?, float_arg(op, s, 1)?);
                Tensor::from_vec((0..n).map(|i| a + i as f64 * st).collect::<Vec<f64>>(), &[n])?
            } else {
                let (a, st) = (int_arg(op, s, 0)?, int_arg(op, s, 1)?);
                Tensor::from_vec((0..n as i64).map(|i| a + i * st).collect::<Vec<i64>>(), &[n])?
            };
            put(&r)
        }
        "cat" => put(&ops::shape::cat(ins, dim(0)? as i64)?),
        "pad" => {
            let nd = ins[0].ndim();
            let mut pads = Vec::new();
            for d in (0..nd).rev() {
                pads.push(int_arg(op, s, 1 + 2 * d)?);
                pads.push(int_arg(op, s, 2 + 2 * d)?);
            }
            put(&ops::shape::pad(&ins[0], &pads, float_arg(op, s, 0)?)?)
        }
        "argmax" | "argmin" => {
            let d = dim(0)?;
            let r = ops::reduce::arg_raw(&ins[0], d, op == "argmax")?;
            put(&ops::shape::reshape(&r, out.shape())?)
        }
        "cumsum" | "cumprod" => put(&ops::reduce::cumulative(&ins[0], dim(0)?, op == "cumprod")?),
        "matmul" => put(&ops::matmul::bmm_raw(&ins[0], &ins[1])?),
        "conv2d" | "conv2d_input_grad" | "conv2d_weight_grad" => {
            let p = ops::conv::Conv2dParams {
                stride: (dim(0)?, dim(1)?),
                padding: (dim(2)?, dim(3)?),
                dilation: (dim(4)?, dim(5)?),
                groups: dim(6)?,
            };
            let r = match op {
                "conv2d" => ops::conv::conv2d_raw(&ins[0], &ins[1], p)?,
                "conv2d_input_grad" => ops::conv::conv2d_input_grad(&ins[0], &ins[1], out.shape(), p)?,
                _ => ops::conv::conv2d_weight_grad(&ins[0], &ins[1], out.shape(), p)?,
            };
            put(&r)
        }
        "gather" => put(&ops::index::gather(&ins[0], dim(0)?, &ins[1])?),
        "scatter" | "scatter_add" => put(&ops::index::scatter(&ins[0], dim(0)?, &ins[1], &ins[2], op == "scatter_add")?),
        "index_select" => put(&ops::index::index_select(&ins[0], dim(0)?, &ins[1])?),
        "index_add" => put(&ops::index::index_add(&ins[0], dim(0)?, &ins[1], &ins[2])?),
        "index" => put(&ops::index::index_leading(&ins[0], &ins[1..])?),
        "index_put" => put(&ops::index::index_put_leading(&ins[0], &ins[2..], &ins[1], bool_arg(op, s, 0)?)?),
        "sort" => {
            let (v, i) = ops::sort::sort(&ins[0], dim(0)?, bool_arg(op, s, 1)?)?;
            ops::copy_raw(&outs[0], &v)?;
            ops::copy_raw(&outs[1], &i)
        }
        "topk" => {
            let (v, i) = ops::sort::topk(&ins[0], dim(0)?, dim(1)?, bool_arg(op, s, 2)?)?;
            ops::copy_raw(&outs[0], &v)?;
            ops::copy_raw(&outs[1], &i)
        }
        "rand" | "randn" | "randint" | "randperm" | "bernoulli" => {
            let g = ops::random::Generator::new(0);
            g.set_state(ops::random::GenState { seed: int_arg(op, s, 0)? as u64, offset: int_arg(op, s, 1)? as u64 });
            let r = match op {
                "rand" => ops::random::rand(&g, out.shape(), out.dtype())?,
                "randn" => ops::random::randn(&g, out.shape(), out.dtype())?,
                "randint" => ops::random::randint(&g, int_arg(op, s, 2)?, int_arg(op, s, 3)?, out.shape(), out.dtype())?,
                "randperm" => ops::random::randperm(&g, out.numel(), out.dtype())?,
                _ => {
                    let b = ops::random::bernoulli(&g, &ins[0])?;
                    ops::cast(&b, out.dtype())?
                }
            };
            put(&r)
        }
        _ => Err(Error::Runtime(format!("{op}: not a primitive op of the kernel contract"))),
    }
}

/// Whether `dev`'s backend has a native kernel for `op` (false on the CPU, whose ops are
/// not launched through the contract).
pub fn declares(dev: Device, op: &str) -> bool {
    match dev {
        Device::Cpu => false,
        Device::Ext { backend, .. } => backend_of(backend).declares(op),
    }
}
