//! A plugin backend: the C table (`backend_abi::BackendTable`) a plugin filled, behind the
//! `Backend` interface. Everything here is a direct call through the table: no Python.
use super::{Backend, Launched};
use crate::backend_abi::{self as abi, BackendTable, OpDesc, TensorDesc};
use crate::device_alloc::RawDevice;
use crate::dtype::DType;
use crate::error::{Error, Result};
use crate::op::{Op, OpId, N_OPS};
use crate::tensor::Tensor;
use std::ffi::{c_void, CStr, CString};
use std::sync::{Arc, Mutex};

pub struct PluginBackend {
    name: String,
    table: &'static BackendTable,
    /// declared[op id]: the plugin has a native kernel.
    declared: Vec<bool>,
}

// The table is immutable after registration and its functions are callable from any thread
// (the ABI requires it), so sharing the pointers is sound.
unsafe impl Send for PluginBackend {}
unsafe impl Sync for PluginBackend {}

/// Tables already registered: (name, address, backend number).
static TABLES: Mutex<Vec<(String, usize, u16)>> = Mutex::new(Vec::new());

/// Registers a plugin's table (its address, from the Python loader); returns its backend
/// number. The same table again returns its first registration; a new table under a known
/// name (a plugin loaded again) gets a new number and takes the name over, while tensors
/// already on the old one keep using the table they were made with (tables are never freed).
pub fn register_table(name: &str, table_addr: usize) -> Result<u16> {
    let t = unsafe { abi::check_table(table_addr as *const BackendTable) }.map_err(Error::Runtime)?;
    let mut tables = TABLES.lock().unwrap();
    if let Some(&(_, _, id)) = tables.iter().find(|(n, a, _)| n == name && *a == table_addr) {
        return Ok(id);
    }
    let mut declared = vec![false; N_OPS];
    for i in 0..t.n_ops.max(0) as usize {
        // ids this core does not know (a newer plugin's) are ignored
        if let Some(id) = OpId::from_raw(unsafe { *t.ops.add(i) }) {
            declared[id.0 as usize] = true;
        }
    }
    let b = Arc::new(PluginBackend { name: name.to_string(), table: t, declared });
    let mem = b.clone();
    let id = super::register(b, Box::new(move |index| Box::new(PluginMemory { backend: mem.clone(), index }) as Box<dyn RawDevice>));
    tables.push((name.to_string(), table_addr, id));
    Ok(id)
}

impl PluginBackend {
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
    /// Raw allocation; `Ok(None)` means the device is out of memory.
    fn raw_alloc(&self, dev: u16, nbytes: usize) -> Result<Option<usize>> {
        let mut p: *mut c_void = std::ptr::null_mut();
        let st = unsafe { (self.table.alloc.unwrap())(dev as i32, nbytes as u64, &mut p) };
        if st == abi::DS_ERROR_OUT_OF_MEMORY {
            return Ok(None);
        }
        self.check(st, || format!("alloc({nbytes} bytes) on device {dev}"))?;
        Ok(Some(p as usize))
    }
}

/// The `ds_dtype` code of a dtype (the header's enum order).
pub fn dtype_code(d: DType) -> i32 {
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
        // never launched: the dispatcher refuses complex operands, which reach kernels only
        // as their real views
        DType::C64 | DType::C128 => unreachable!("a complex tensor reached a plugin kernel"),
    }
}

impl Backend for PluginBackend {
    fn name(&self) -> &str {
        &self.name
    }
    fn device_count(&self) -> Result<i32> {
        let mut n = 0i32;
        let st = unsafe { (self.table.device_count.unwrap())(&mut n) };
        self.check(st, || "device_count()".into())?;
        Ok(n)
    }
    fn declares(&self, op: OpId) -> bool {
        self.declared[op.0 as usize]
    }
    fn copy_h2d(&self, dev: u16, dst: usize, dst_offset: usize, src: *const u8, nbytes: usize) -> Result<()> {
        if nbytes == 0 {
            return Ok(());
        }
        let st = unsafe {
            (self.table.memcpy_h2d.unwrap())(dev as i32, dst as *mut c_void, dst_offset as u64, src as *const c_void, nbytes as u64, std::ptr::null_mut())
        };
        self.check(st, || format!("memcpy_h2d({nbytes} bytes) on device {dev}"))
    }
    fn copy_d2h(&self, dev: u16, dst: *mut u8, src: usize, src_offset: usize, nbytes: usize) -> Result<()> {
        if nbytes == 0 {
            return Ok(());
        }
        let st = unsafe {
            (self.table.memcpy_d2h.unwrap())(dev as i32, dst as *mut c_void, src as *const c_void, src_offset as u64, nbytes as u64, std::ptr::null_mut())
        };
        self.check(st, || format!("memcpy_d2h({nbytes} bytes) on device {dev}"))
    }
    fn copy_d2d(&self, dev: u16, dst: usize, dst_offset: usize, src: usize, src_offset: usize, nbytes: usize) -> Result<()> {
        if nbytes == 0 {
            return Ok(());
        }
        let st = unsafe {
            (self.table.memcpy_d2d.unwrap())(
                dev as i32,
                dst as *mut c_void,
                dst_offset as u64,
                src as *const c_void,
                src_offset as u64,
                nbytes as u64,
                std::ptr::null_mut(),
            )
        };
        self.check(st, || format!("memcpy_d2d({nbytes} bytes) on device {dev}"))
    }
    fn synchronize(&self, dev: u16) -> Result<()> {
        let st = unsafe { (self.table.synchronize.unwrap())(dev as i32) };
        self.check(st, || format!("synchronize(device {dev})"))
    }
    fn launch(&self, index: u16, op: &Op, outs: &[&Tensor], ins: &[&Tensor]) -> Result<Launched> {
        let (descs, _dims) = descriptors(outs, ins);
        let attrs = op.encode();
        let desc = OpDesc { id: op.id().0, reserved: 0, attrs: attrs.as_ptr() };
        let st = unsafe { (self.table.launch.unwrap())(index as i32, &desc, descs.as_ptr(), descs.len() as i32, std::ptr::null_mut()) };
        if st == abi::DS_ERROR_NOT_IMPLEMENTED {
            return Ok(Launched::NotImplemented(format!("the kernel answered not implemented: {}", self.message())));
        }
        let show = |ts: &[&Tensor]| ts.iter().map(|t| format!("{}{:?}", t.dtype().name(), t.shape())).collect::<Vec<_>>().join(", ");
        self.check(st, || format!("kernel '{}' on {}:{index} (outputs {}; inputs {})", op.name(), self.name, show(outs), show(ins)))?;
        Ok(Launched::Done)
    }
    fn compiles_programs(&self) -> bool {
        self.table.programs().is_some()
    }
    fn compile_program(&self, index: u16, body: &str, name: &str) -> Result<Option<usize>> {
        let Some(p) = self.table.programs() else { return Ok(None) };
        let (body, name) = (CString::new(body), CString::new(name));
        let (Ok(body), Ok(name)) = (body, name) else { return Err(Error::Runtime("program text holds a NUL byte".into())) };
        let mut handle: *mut c_void = std::ptr::null_mut();
        let st = unsafe { (p.compile)(index as i32, body.as_ptr(), name.as_ptr(), &mut handle) };
        if st == abi::DS_ERROR_NOT_IMPLEMENTED {
            return Ok(None);
        }
        self.check(st, || format!("compile_program on {}:{index}", self.name))?;
        Ok(Some(handle as usize))
    }
    fn launch_program(&self, index: u16, program: usize, outs: &[&Tensor], ins: &[&Tensor]) -> Result<Launched> {
        let Some(p) = self.table.programs() else { return Ok(Launched::NotImplemented("no program entries".into())) };
        let (descs, _dims) = descriptors(outs, ins);
        let st = unsafe { (p.launch)(index as i32, program as *mut c_void, descs.as_ptr(), descs.len() as i32, std::ptr::null_mut()) };
        if st == abi::DS_ERROR_NOT_IMPLEMENTED {
            return Ok(Launched::NotImplemented(self.message()));
        }
        self.check(st, || format!("launch_program on {}:{index}", self.name))?;
        Ok(Launched::Done)
    }
    fn release_program(&self, index: u16, program: usize) {
        if let Some(p) = self.table.programs() {
            // a failing release leaks the program; nothing a caller could do about it
            let _ = unsafe { (p.release)(index as i32, program as *mut c_void) };
        }
    }
}

/// The `ds_tensor_desc`s of a launch (outputs first), and the buffer of shapes and strides
/// they point into (keep it alive while the descriptors are used).
fn descriptors(outs: &[&Tensor], ins: &[&Tensor]) -> (Vec<TensorDesc>, Vec<i64>) {
    let all: Vec<&Tensor> = outs.iter().chain(ins.iter()).copied().collect();
    let mut dims: Vec<i64> = Vec::with_capacity(all.iter().map(|t| 2 * t.ndim()).sum());
    for t in &all {
        dims.extend(t.shape().iter().map(|&s| s as i64));
        dims.extend(t.strides().iter().map(|&s| s as i64));
    }
    let mut at = 0usize;
    let descs = all
        .iter()
        .map(|t| {
            let n = t.ndim();
            let d = TensorDesc {
                ptr: t.storage().ptr() as *mut c_void,
                dtype: dtype_code(t.dtype()),
                ndim: n as i32,
                // a Vec's heap buffer does not move when the Vec is moved out below
                shape: dims[at..].as_ptr(),
                strides: dims[at + n..].as_ptr(),
                offset: (t.layout().offset + t.storage().byte_offset() / t.dtype().size()) as i64,
            };
            at += 2 * n;
            d
        })
        .collect();
    (descs, dims)
}

/// A device's raw memory: the plugin's `alloc`/`free`.
struct PluginMemory {
    backend: Arc<PluginBackend>,
    index: u16,
}

impl RawDevice for PluginMemory {
    fn alloc(&self, nbytes: usize) -> Result<Option<usize>> {
        // a NULL handle for a non-empty request counts as out of memory
        Ok(self.backend.raw_alloc(self.index, nbytes)?.filter(|&h| h != 0))
    }
    fn free(&self, handle: usize) {
        // A failing free leaks the block; nothing a caller could do about it.
        let _ = unsafe { (self.backend.table.free.unwrap())(self.index as i32, handle as *mut c_void) };
    }
}
