//! The Rust mirror of `python/deepseek/backends/include/deepseek_backend.h`, the C ABI a
//! hardware backend plugin fills. Field order, types and sizes must match the header exactly;
//! the layout test below and `tests/test_backends.py` (cffi's view of the header) both check
//! the same numbers. Only std, so it can be compiled on its own to print the layout.
#![allow(dead_code)]

use std::ffi::{c_char, c_void, CStr};

pub const ABI_MAJOR: i32 = 2;
pub const ABI_MINOR: i32 = 0;

pub type Status = i32;
pub const DS_OK: Status = 0;
pub const DS_ERROR: Status = 1;
pub const DS_ERROR_OUT_OF_MEMORY: Status = 2;
pub const DS_ERROR_NOT_IMPLEMENTED: Status = 3;
pub const DS_ERROR_INVALID_ARGUMENT: Status = 4;

pub const DS_SCALAR_BOOL: i32 = 0;
pub const DS_SCALAR_INT: i32 = 1;
pub const DS_SCALAR_FLOAT: i32 = 2;

/// `ds_tensor_desc`: one tensor argument of a kernel (strides and offset count elements).
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct TensorDesc {
    pub ptr: *mut c_void,
    pub dtype: i32,
    pub ndim: i32,
    pub shape: *const i64,
    pub strides: *const i64,
    pub offset: i64,
}

/// The anonymous union inside `ds_scalar`.
#[repr(C)]
#[derive(Clone, Copy)]
pub union ScalarValue {
    pub i: i64,
    pub f: f64,
}

/// `ds_scalar`: one non-tensor argument of a kernel.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct ScalarArg {
    pub kind: i32,
    pub reserved: i32,
    pub value: ScalarValue,
}

/// `ds_op`: the op a kernel runs, by id, with its attribute struct (`ds_<family>_attrs`,
/// NULL for ops without attributes).
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct OpDesc {
    pub id: i32,
    pub reserved: i32,
    pub attrs: *const c_void,
}

/// `ds_backend_table`. Function pointers are `Option` so a NULL entry is representable.
#[repr(C)]
pub struct BackendTable {
    pub struct_size: u64,
    pub abi_major: i32,
    pub abi_minor: i32,
    pub name: *const c_char,
    pub n_ops: i64,
    pub ops: *const i32,
    pub device_count: Option<unsafe extern "C" fn(count: *mut i32) -> Status>,
    pub alloc: Option<unsafe extern "C" fn(device: i32, nbytes: u64, ptr: *mut *mut c_void) -> Status>,
    pub free: Option<unsafe extern "C" fn(device: i32, ptr: *mut c_void) -> Status>,
    pub memcpy_h2d: Option<
        unsafe extern "C" fn(device: i32, dst: *mut c_void, dst_offset: u64, src: *const c_void, nbytes: u64, stream: *mut c_void) -> Status,
    >,
    pub memcpy_d2h: Option<
        unsafe extern "C" fn(device: i32, dst: *mut c_void, src: *const c_void, src_offset: u64, nbytes: u64, stream: *mut c_void) -> Status,
    >,
    pub memcpy_d2d: Option<
        unsafe extern "C" fn(
            device: i32,
            dst: *mut c_void,
            dst_offset: u64,
            src: *const c_void,
            src_offset: u64,
            nbytes: u64,
            stream: *mut c_void,
        ) -> Status,
    >,
    pub synchronize: Option<unsafe extern "C" fn(device: i32) -> Status>,
    pub stream_create: Option<unsafe extern "C" fn(device: i32, stream: *mut *mut c_void) -> Status>,
    pub stream_destroy: Option<unsafe extern "C" fn(device: i32, stream: *mut c_void) -> Status>,
    pub launch: Option<
        unsafe extern "C" fn(
            device: i32,
            op: *const OpDesc,
            tensors: *const TensorDesc,
            n_tensors: i32,
            stream: *mut c_void,
        ) -> Status,
    >,
    pub last_error: Option<unsafe extern "C" fn() -> *const c_char>,
}

/// Checks a plugin's table before the core uses it: same major, a minor no older than ours,
/// a struct at least as large as ours, and every entry filled. The message names both versions.
///
/// # Safety
/// `table` must be null or point to a readable table of at least `struct_size` bytes.
pub unsafe fn check_table(table: *const BackendTable) -> Result<&'static BackendTable, String> {
    let t = table.as_ref().ok_or_else(|| "backend table is NULL".to_string())?;
    let name = if t.name.is_null() { "<unnamed>".into() } else { CStr::from_ptr(t.name).to_string_lossy().into_owned() };
    if t.abi_major != ABI_MAJOR || t.abi_minor < ABI_MINOR {
        return Err(format!(
            "backend '{name}' was built for backend ABI {}.{}, but this deepseek needs {ABI_MAJOR}.x with x >= {ABI_MINOR} (core ABI {ABI_MAJOR}.{ABI_MINOR})",
            t.abi_major, t.abi_minor
        ));
    }
    let ours = std::mem::size_of::<BackendTable>() as u64;
    if t.struct_size < ours {
        return Err(format!("backend '{name}' table is {} bytes, smaller than ABI {ABI_MAJOR}.{ABI_MINOR}'s {ours}", t.struct_size));
    }
    let missing: Vec<&str> = [
        ("device_count", t.device_count.is_none()),
        ("alloc", t.alloc.is_none()),
        ("free", t.free.is_none()),
        ("memcpy_h2d", t.memcpy_h2d.is_none()),
        ("memcpy_d2h", t.memcpy_d2h.is_none()),
        ("memcpy_d2d", t.memcpy_d2d.is_none()),
        ("synchronize", t.synchronize.is_none()),
        ("stream_create", t.stream_create.is_none()),
        ("stream_destroy", t.stream_destroy.is_none()),
        ("launch", t.launch.is_none()),
        ("last_error", t.last_error.is_none()),
    ]
    .into_iter()
    .filter(|(_, m)| *m)
    .map(|(n, _)| n)
    .collect();
    if !missing.is_empty() {
        return Err(format!("backend '{name}' table leaves NULL: {}", missing.join(", ")));
    }
    Ok(&*table)
}

/// `(struct, size, [(field, offset)])` for every struct in the header, in field order;
/// printed by the standalone layout program and asserted by the test below.
pub fn layout() -> Vec<(&'static str, usize, Vec<(&'static str, usize)>)> {
    use std::mem::{offset_of, size_of};
    macro_rules! fields {
        ($t:ty; $($f:ident),*) => { vec![$((stringify!($f), offset_of!($t, $f))),*] };
    }
    vec![
        ("ds_tensor_desc", size_of::<TensorDesc>(), fields!(TensorDesc; ptr, dtype, ndim, shape, strides, offset)),
        ("ds_scalar", size_of::<ScalarArg>(), fields!(ScalarArg; kind, reserved, value)),
        ("ds_op", size_of::<OpDesc>(), fields!(OpDesc; id, reserved, attrs)),
        (
            "ds_backend_table",
            size_of::<BackendTable>(),
            fields!(BackendTable; struct_size, abi_major, abi_minor, name, n_ops, ops, device_count, alloc, free,
                memcpy_h2d, memcpy_d2h, memcpy_d2d, synchronize, stream_create, stream_destroy, launch, last_error),
        ),
    ]
}

#[cfg(all(test, target_pointer_width = "64"))]
mod tests {
    use super::*;

    /// The same numbers tests/test_backends.py holds for cffi's view of the header.
    #[test]
    fn layout_matches_the_header() {
        let l = layout();
        assert_eq!(l[0].1, 40);
        assert_eq!(l[0].2, vec![("ptr", 0), ("dtype", 8), ("ndim", 12), ("shape", 16), ("strides", 24), ("offset", 32)]);
        assert_eq!(l[1].1, 16);
        assert_eq!(l[1].2, vec![("kind", 0), ("reserved", 4), ("value", 8)]);
        assert_eq!(l[2].1, 16);
        assert_eq!(l[2].2, vec![("id", 0), ("reserved", 4), ("attrs", 8)]);
        assert_eq!(l[3].1, 128);
        let offs: Vec<usize> = l[3].2.iter().map(|f| f.1).collect();
        assert_eq!(offs, vec![0, 8, 12, 16, 24, 32, 40, 48, 56, 64, 72, 80, 88, 96, 104, 112, 120]);
    }

    #[test]
    fn check_table_names_both_versions() {
        let mut t: BackendTable = unsafe { std::mem::zeroed() };
        t.struct_size = std::mem::size_of::<BackendTable>() as u64;
        t.abi_major = 1;
        t.name = c"fake".as_ptr();
        let err = unsafe { check_table(&t) }.err().unwrap();
        assert!(err.contains("2.0") && err.contains("1.0"), "{err}");
        t.abi_major = ABI_MAJOR;
        let err = unsafe { check_table(&t) }.err().unwrap();
        assert!(err.contains("leaves NULL: device_count"), "{err}");
    }
}
