//! Storage: one allocation shared by every view of it, with the version counter that
//! autograd reads to detect in-place writes.
use crate::alloc::{CachingAllocator, HOST};
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
    /// Block of a plugin device's caching allocator: (allocator, class size, requested bytes).
    Device(Arc<CachingAllocator>, usize, usize),
}

pub struct Storage {
    ptr: *mut u8,
    nbytes: usize,
    owner: Owner,
    version: AtomicU64,
    device: Device,
}

unsafe impl Send for Storage {}
unsafe impl Sync for Storage {}

impl Storage {
    pub fn new(nbytes: usize, zeroed: bool) -> Result<Storage> {
        let (ptr, class) = HOST.allocate(nbytes, zeroed)?;
        Ok(Storage { ptr, nbytes, owner: Owner::Host(class, nbytes), version: AtomicU64::new(0), device: Device::Cpu })
    }
    /// Uninitialised storage on `device`. On a plugin device `ptr` is the plugin's opaque
    /// buffer handle: never dereferenced, only passed back to the plugin.
    pub fn new_on(nbytes: usize, device: Device) -> Result<Storage> {
        match crate::device::allocator_of(device) {
            None => Storage::new(nbytes, false),
            Some(a) => {
                let (ptr, class) = a.allocate(nbytes, false)?;
                Ok(Storage { ptr, nbytes, owner: Owner::Device(a, class, nbytes), version: AtomicU64::new(0), device })
            }
        }
    }
    pub fn device(&self) -> Device {
        self.device
    }
    /// Wraps foreign memory; `keep_alive` is dropped when the storage is.
    ///
    /// # Safety
    /// `ptr` must stay valid for `nbytes` while `keep_alive` lives.
    pub unsafe fn external(ptr: *mut u8, nbytes: usize, keep_alive: Box<dyn Any + Send + Sync>) -> Storage {
        Storage { ptr, nbytes, owner: Owner::External(keep_alive), version: AtomicU64::new(0), device: Device::Cpu }
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
            Owner::Device(a, class, requested) => a.release(self.ptr, *class, *requested),
            Owner::External(_) => {}
        }
    }
}
