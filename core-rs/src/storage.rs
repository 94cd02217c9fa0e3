//! Storage: one allocation shared by every view of it, with the version counter that
//! autograd reads to detect in-place writes.
use crate::alloc::HOST;
use crate::device_alloc::{Block, DeviceAllocator};
use crate::device::Device;
use crate::error::Result;
use std::any::Any;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

enum Owner {
    /// Block from the host caching allocator: (class size, requested bytes).
    Host(usize, usize),
    /// Memory owned by someone else (a NumPy array, a DLPack producer), kept alive here.
    External(#[allow(dead_code)] Box<dyn Any + Send + Sync>),
    /// Block of a plugin device's caching allocator.
    Device(Arc<DeviceAllocator>, Block),
}

pub struct Storage {
    ptr: *mut u8,
    nbytes: usize,
    owner: Owner,
    version: AtomicU64,
    device: Device,
    /// Byte offset of this storage inside the device buffer `ptr` (blocks are carved from
    /// shared segments); 0 on the CPU, where `ptr` is the address itself.
    byte_offset: usize,
    /// Creation order, unique in the process: a graph trace tells buffers made before it
    /// (bound by reference) from those made inside it.
    id: u64,
}

static NEXT_ID: AtomicU64 = AtomicU64::new(0);

fn next_id() -> u64 {
    NEXT_ID.fetch_add(1, Ordering::Relaxed)
}

/// The id the next storage will get: every storage with a smaller id already exists.
pub fn next_storage_id() -> u64 {
    NEXT_ID.load(Ordering::Relaxed)
}

unsafe impl Send for Storage {}
unsafe impl Sync for Storage {}

impl Storage {
    pub fn new(nbytes: usize, zeroed: bool) -> Result<Storage> {
        let (ptr, class) = HOST.allocate(nbytes, zeroed)?;
        Ok(Storage { ptr, nbytes, owner: Owner::Host(class, nbytes), version: AtomicU64::new(0), device: Device::Cpu, byte_offset: 0, id: next_id() })
    }
    /// Uninitialised storage on `device`. On a plugin device `ptr` is the plugin's opaque
    /// buffer handle: never dereferenced, only passed back to the plugin.
    pub fn new_on(nbytes: usize, device: Device) -> Result<Storage> {
        match crate::device::allocator_of(device) {
            None => Storage::new(nbytes, false),
            Some(a) => {
                let b = a.allocate(nbytes)?;
                Ok(Storage {
                    ptr: b.handle as *mut u8,
                    nbytes,
                    owner: Owner::Device(a, b),
                    version: AtomicU64::new(0),
                    device,
                    byte_offset: b.offset,
                    id: next_id(),
                })
            }
        }
    }
    pub fn device(&self) -> Device {
        self.device
    }
    /// Where this storage starts inside the device buffer `ptr()`, in bytes (0 on the CPU).
    pub fn byte_offset(&self) -> usize {
        self.byte_offset
    }
    /// Wraps foreign memory; `keep_alive` is dropped when the storage is.
    ///
    /// # Safety
    /// `ptr` must stay valid for `nbytes` while `keep_alive` lives.
    pub unsafe fn external(ptr: *mut u8, nbytes: usize, keep_alive: Box<dyn Any + Send + Sync>) -> Storage {
        Storage { ptr, nbytes, owner: Owner::External(keep_alive), version: AtomicU64::new(0), device: Device::Cpu, byte_offset: 0, id: next_id() }
    }
    /// The storage's creation number (see `next_storage_id`).
    pub fn id(&self) -> u64 {
        self.id
    }
    pub fn ptr(&self) -> *mut u8 {
        self.ptr
    }
    pub fn nbytes(&self) -> usize {
        self.nbytes
    }
    pub fn version(&self) -> u64 {
        self.version.load(Ordering::Relaxed)
    }
    pub fn bump_version(&self) {
        self.version.fetch_add(1, Ordering::Relaxed);
    }
}

impl Drop for Storage {
    fn drop(&mut self) {
        match &self.owner {
            Owner::Host(class, requested) => HOST.release(self.ptr, *class, *requested),
            Owner::Device(a, b) => a.release(*b),
            Owner::External(_) => {}
        }
    }
}
