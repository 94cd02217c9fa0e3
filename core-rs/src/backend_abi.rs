//! The Rust mirror of `python/deepseek/backends/include/deepseek_backend.h`, the C ABI a
//! hardware backend plugin fills. Field order, types and sizes must match the header exactly;
//! the layout test below and `tests/test_backends.py` (cffi's view of the header) both check
//! the same numbers. Only std, so it can be compiled on its own to print the layout.
#![allow(dead_code)]

use std::ffi::{c_char, c_void, CStr};

pub const ABI_MAJOR: i32 = 2;
pub const ABI_MINOR: i32 = 1;
/// The oldest minor accepted (`DS_BACKEND_ABI_MINOR_MIN`); fields a later minor appended are
/// read only where the table's `struct_size` covers them.
pub const ABI_MINOR_MIN: i32 = 0;
/// Bytes of the ABI 2.0 table (up to `last_error`), the least a plugin may fill.
pub const TABLE_SIZE_MIN: u64 = 128;

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
    // ABI 2.1: generated elementwise programs (optional; see `programs`)
    pub compile_program: Option<unsafe extern "C" fn(device: i32, body: *const c_char, name: *const c_char, program: *mut *mut c_void) -> Status>,
    pub launch_program: Option<
        unsafe extern "C" fn(device: i32, program: *mut c_void, tensors: *const TensorDesc, n_tensors: i32, stream: *mut c_void) -> Status,
    >,
    pub release_program: Option<unsafe extern "C" fn(device: i32, program: *mut c_void) -> Status>,
}

/// The program entries of a table (ABI 2.1), when the plugin filled them.
pub struct ProgramEntries {
    pub compile: unsafe extern "C" fn(i32, *const c_char, *const c_char, *mut *mut c_void) -> Status,
    pub launch: unsafe extern "C" fn(i32, *mut c_void, *const TensorDesc, i32, *mut c_void) -> Status,
    pub release: unsafe extern "C" fn(i32, *mut c_void) -> Status,
}

impl BackendTable {
    /// The ABI 2.1 program entries, or None for a 2.0 plugin (its `struct_size` ends before
    /// them: the fields are never read) or one that compiles no kernels.
    pub fn programs(&self) -> Option<ProgramEntries> {
        if self.struct_size < std::mem::size_of::<BackendTable>() as u64 {
            return None;
        }
        Some(ProgramEntries { compile: self.compile_program?, launch: self.launch_program?, release: self.release_program? })
    }
}

/// Checks a plugin's table before the core uses it: same major, a minor no older than ours,
/// a struct at least as large as ours, and every entry filled. The message names both versions.
///
/// # Safety
/// `table` must be null or point to a readable table of at least `struct_size` bytes.
pub unsafe fn check_table(table: *const BackendTable) -> Result<&'static BackendTable, String> {
    let t = table.as_ref().ok_or_else(|| "backend table is NULL".to_string())?;
    let name = if t.name.is_null() { "<unnamed>".into() } else { CStr::from_ptr(t.name).to_string_lossy().into_owned() };
    if t.abi_major != ABI_MAJOR || t.abi_minor < ABI_MINOR_MIN {
        return Err(format!(
            "backend '{name}' was built for backend ABI {}.{}, but this deepseek needs {ABI_MAJOR}.x with x >= {ABI_MINOR_MIN} (core ABI {ABI_MAJOR}.{ABI_MINOR})",
            t.abi_major, t.abi_minor
        ));
    }
    if t.struct_size < TABLE_SIZE_MIN {
        return Err(format!("backend '{name}' table is {} bytes, smaller than ABI {ABI_MAJOR}.{ABI_MINOR_MIN}'s {TABLE_SIZE_MIN}", t.struct_size));
    }
    if t.struct_size >= std::mem::size_of::<BackendTable>() as u64 {
        let set = [t.compile_program.is_some(), t.launch_program.is_some(), t.release_program.is_some()];
        if set.iter().any(|&s| s) && !set.iter().all(|&s| s) {
            return Err(format!("backend '{name}' table sets some of compile_program, launch_program, release_program but not all"));
        }
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
                memcpy_h2d, memcpy_d2h, memcpy_d2d, synchronize, stream_create, stream_destroy, launch, last_error,
                compile_program, launch_program, release_program),
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
        assert_eq!(l[3].1, 152);
        let offs: Vec<usize> = l[3].2.iter().map(|f| f.1).collect();
        assert_eq!(offs, vec![0, 8, 12, 16, 24, 32, 40, 48, 56, 64, 72, 80, 88, 96, 104, 112, 120, 128, 136, 144]);
        assert_eq!(TABLE_SIZE_MIN as usize, std::mem::offset_of!(BackendTable, compile_program));
    }

    #[test]
    fn check_table_names_both_versions() {
        let mut t: BackendTable = unsafe { std::mem::zeroed() };
        t.struct_size = std::mem::size_of::<BackendTable>() as u64;
        t.abi_major = 1;
        t.name = c"fake".as_ptr();
        let err = unsafe { check_table(&t) }.err().unwrap();
        assert!(err.contains("2.x with x >= 0") && err.contains("2.1") && err.contains("1.0"), "{err}");
        t.abi_major = ABI_MAJOR;
        let err = unsafe { check_table(&t) }.err().unwrap();
        assert!(err.contains("leaves NULL: device_count"), "{err}");
    }

    /// A 2.0 plugin's smaller table is accepted and reads as having no program entries;
    /// a 2.1 table with only some of them set is refused.
    #[test]
    fn older_minor_tables_have_no_programs() {
        unsafe extern "C" fn count(n: *mut i32) -> Status {
            unsafe { *n = 0 };
            DS_OK
        }
        unsafe extern "C" fn release(_d: i32, _p: *mut c_void) -> Status {
            DS_OK
        }
        let mut t: BackendTable = unsafe { std::mem::zeroed() };
        t.abi_major = ABI_MAJOR;
        t.name = c"old".as_ptr();
        t.device_count = Some(count);
        t.struct_size = TABLE_SIZE_MIN - 8;
        assert!(unsafe { check_table(&t) }.err().unwrap().contains("smaller than ABI 2.0"));
        t.struct_size = TABLE_SIZE_MIN;
        t.release_program = Some(release); // beyond struct_size: never read
        assert!(t.programs().is_none());
        t.struct_size = std::mem::size_of::<BackendTable>() as u64;
        assert!(t.programs().is_none(), "only release_program set");
        let err = unsafe { check_table(&t) }.err().unwrap();
        assert!(err.contains("leaves NULL") || err.contains("but not all"), "{err}");
    }
}
