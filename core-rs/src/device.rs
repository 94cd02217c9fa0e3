//! Devices: the CPU and the devices of plugin backends, and the memory of each device.
//!
//! A plugin backend registers its device type here (`register_kind`) with the raw memory of
//! its devices; this module keeps one caching allocator per device over that memory. It
//! knows nothing of kernels: those are the backend's (`backend`) and the dispatcher's.
use crate::device_alloc::{DeviceAllocator, RawDevice};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};

/// Where a tensor's storage lives.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum Device {
    Cpu,
    /// Device `index` of the registered backend number `backend`.
    Ext { backend: u16, index: u16 },
}

/// Makes the raw memory of device `index` of one device type.
pub type RawMemoryFactory = Box<dyn Fn(u16) -> Box<dyn RawDevice> + Send + Sync>;

struct Kind {
    name: String,
    memory: RawMemoryFactory,
    allocators: Mutex<HashMap<u16, Arc<DeviceAllocator>>>,
}

static KINDS: RwLock<Vec<Arc<Kind>>> = RwLock::new(Vec::new());

/// Registers a device type (a loaded backend) and its raw memory; returns its number.
pub fn register_kind(name: &str, memory: RawMemoryFactory) -> u16 {
    let mut k = KINDS.write().unwrap();
    k.push(Arc::new(Kind { name: name.to_string(), memory, allocators: Mutex::new(HashMap::new()) }));
    (k.len() - 1) as u16
}

fn kind(backend: u16) -> Arc<Kind> {
    KINDS.read().unwrap()[backend as usize].clone()
}

impl Device {
    pub fn is_cpu(self) -> bool {
        self == Device::Cpu
    }
    /// "cpu", "opencl:0", ...
    pub fn name(self) -> String {
        match self {
            Device::Cpu => "cpu".into(),
            Device::Ext { backend, index } => format!("{}:{index}", kind(backend).name),
        }
    }
    /// The device type: "cpu", "opencl", ...
    pub fn type_name(self) -> String {
        match self {
            Device::Cpu => "cpu".into(),
            Device::Ext { backend, .. } => kind(backend).name.clone(),
        }
    }
}

/// The caching allocator of a device, or None for the CPU (whose allocator is `alloc::HOST`).
pub fn allocator_of(dev: Device) -> Option<Arc<DeviceAllocator>> {
    let Device::Ext { backend, index } = dev else { return None };
    let k = kind(backend);
    let mut a = k.allocators.lock().unwrap();
    Some(a.entry(index).or_insert_with(|| Arc::new(DeviceAllocator::new((k.memory)(index), dev_label(&k.name, index)))).clone())
}

fn dev_label(name: &str, index: u16) -> String {
    format!("{name}:{index}")
}
